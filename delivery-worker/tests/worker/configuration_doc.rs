//! `docs/configuration.md` names every setting of `logspoke-worker`: each environment
//! variable and flag, its commands' too, so the page cannot fall behind `--help`.

use clap::CommandFactory;
use logspoke_delivery_worker::config::WorkerArgs;
use logspoke_runtime::config::undocumented;

/// The page, as the test reads it from the checkout.
const PAGE: &str = include_str!("../../../docs/configuration.md");
/// The heading of this binary's section, where each of its settings must be named.
const SECTION: &str = "logspoke-worker";

#[test]
fn the_configuration_page_names_every_variable_and_flag_of_the_worker() {
    let missing = undocumented(&WorkerArgs::command(), PAGE, SECTION);
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not name {missing:?} under `## {SECTION}`"
    );
}
