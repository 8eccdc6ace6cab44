//! `docs/configuration.md` names every setting of `logspoke-api`: each environment
//! variable and flag of every command, so the page cannot fall behind `--help`.

use std::collections::BTreeSet;

use clap::{Arg, Command, CommandFactory};
use logspoke_api::cli::Cli;
use logspoke_runtime::config::variables;

/// The page, as the test reads it from the checkout.
const PAGE: &str = include_str!("../../../docs/configuration.md");
/// The heading of this binary's section, where each of its settings must be named.
const SECTION: &str = "logspoke-api";

/// The long flags of `command` and its subcommands (clap adds its own `--help` and
/// `--version` only when the command is built, so they are not among them).
fn flags(command: &Command) -> BTreeSet<String> {
    let own = command
        .get_arguments()
        .filter_map(Arg::get_long)
        .map(|long| format!("--{long}"));
    let nested = command.get_subcommands().flat_map(flags);
    own.chain(nested).collect()
}

#[test]
fn the_configuration_page_names_every_variable_and_flag_of_the_api() {
    let command = Cli::command();
    let section = PAGE
        .split("\n## ")
        .find(|part| part.starts_with(&format!("{SECTION}\n")));
    let section = section.unwrap_or_default();
    let missing: Vec<String> = variables(&command)
        .into_iter()
        .chain(flags(&command))
        .filter(|name| !section.contains(&format!("`{name}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not name {missing:?} under `## {SECTION}`"
    );
}
