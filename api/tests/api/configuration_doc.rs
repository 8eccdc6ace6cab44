//! `docs/configuration.md` names every setting of `logspoke-api`: each environment
//! variable and flag of every command, so the page cannot fall behind `--help`.

use clap::CommandFactory;
use logspoke_api::cli::Cli;
use logspoke_runtime::config::undocumented;

/// The page, as the test reads it from the checkout.
const PAGE: &str = include_str!("../../../docs/configuration.md");
/// The heading of this binary's section, where each of its settings must be named.
const SECTION: &str = "logspoke-api";

#[test]
fn the_configuration_page_names_every_variable_and_flag_of_the_api() {
    let missing = undocumented(&Cli::command(), PAGE, SECTION);
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not name {missing:?} under `## {SECTION}`"
    );
}
