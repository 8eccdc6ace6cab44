//! Settings through clap: every setting is a flag with an environment variable
//! (`#[arg(long, env = "…")]`), so `--help` is generated from the doc comments and lists
//! each variable with its default.
//!
//! Three rules hold for both binaries:
//! - a bad or missing setting is one line naming its variable ([`ConfigError`]), and
//!   the value itself is left out, since it may be a secret;
//! - a variable set to an empty or blank value counts as unset (what the deployment
//!   manifests and scripts rely on when they clear one);
//! - help, version and usage mistakes stay clap's (printed by clap, exit code 0 or 2).
//!
//! Tests read settings with [`from_vars`], which never looks at the process
//! environment, so they can run in parallel in one process.

use std::ffi::{OsStr, OsString};
use std::fmt;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, Args, Command, Parser};

/// A setting that is missing or bad, displayed as `VARIABLE: what is wrong`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault (also when the value came from its flag).
    pub variable: String,
    /// What is wrong with it, without the value.
    pub message: String,
}

impl ConfigError {
    /// A problem with `variable` found after parsing (say, two settings that exclude
    /// each other).
    pub fn new(variable: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            message: message.into(),
        }
    }
}

/// Why the command line and environment were not accepted.
#[derive(Debug)]
pub enum Rejection {
    /// A setting is missing or bad.
    Setting(ConfigError),
    /// Help or version was asked for, or the command line itself is wrong.
    Usage(clap::Error),
}

/// Parses `args` (the program name first) and the process environment into `P`.
pub fn try_parse<P, I, T>(args: I) -> Result<P, Rejection>
where
    P: Parser,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let command = P::command();
    let matches = blank_env_is_unset(command.clone())
        .try_get_matches_from(args)
        .map_err(|err| reject(&command, err))?;
    P::from_arg_matches(&matches).map_err(Rejection::Usage)
}

/// Parses the process's command line and environment into `P`. Help, version and usage
/// mistakes end the process the way clap does; a bad setting is returned, for the
/// caller to report and exit with a failure.
pub fn parse_or_exit<P: Parser>() -> Result<P, ConfigError> {
    match try_parse(std::env::args_os()) {
        Ok(parsed) => Ok(parsed),
        Err(Rejection::Setting(err)) => Err(err),
        Err(Rejection::Usage(err)) => err.exit(),
    }
}

/// Reads only the settings of `A` from the process environment (no command line), for
/// a library that needs a few settings of its own.
pub fn from_env<A: Args>() -> Result<A, ConfigError> {
    let command = A::augment_args(Command::new("settings"));
    let matches = blank_env_is_unset(command.clone())
        .try_get_matches_from(["settings"])
        .map_err(|err| setting_error(&command, &err))?;
    A::from_arg_matches(&matches).map_err(|err| setting_error(&command, &err))
}

/// Reads the settings of `A` from `vars` (variable name, value) as if they were the
/// environment, ignoring the process environment: what tests use. A blank value counts
/// as unset, as in the environment.
pub fn from_vars<A: Args>(vars: &[(&str, &str)]) -> Result<A, ConfigError> {
    let command = A::augment_args(Command::new("settings"));
    let mut argv = vec!["settings".to_owned()];
    for (variable, value) in vars.iter().filter(|(_, value)| !is_blank(OsStr::new(value))) {
        let long = command
            .get_arguments()
            .find(|arg| arg.get_env() == Some(OsStr::new(variable)))
            .and_then(Arg::get_long)
            .ok_or_else(|| ConfigError::new(*variable, "is not a setting of this command"))?;
        argv.push(format!("--{long}={value}"));
    }
    let matches = without_env(command.clone())
        .try_get_matches_from(argv)
        .map_err(|err| setting_error(&command, &err))?;
    A::from_arg_matches(&matches).map_err(|err| setting_error(&command, &err))
}

/// Every environment variable `command` and its subcommands read, in definition order
/// (for tests that pin the names scripts and manifests depend on).
pub fn variables(command: &Command) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let own = command.get_arguments().filter_map(Arg::get_env);
    let nested = command.get_subcommands().flat_map(variables);
    for name in own.map(|n| n.to_string_lossy().into_owned()).chain(nested) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The environment variables and long flags of `command` (and its subcommands) that the
/// section headed `## {section}` of a configuration page does not name in backticks: what
/// a test holds such a page to, so it cannot fall behind `--help`.
pub fn undocumented(command: &Command, page: &str, section: &str) -> Vec<String> {
    fn flags(command: &Command) -> std::collections::BTreeSet<String> {
        let own = command
            .get_arguments()
            .filter_map(Arg::get_long)
            .map(|long| format!("--{long}"));
        own.chain(command.get_subcommands().flat_map(flags)).collect()
    }
    let heading = format!("{section}\n");
    let text = page
        .split("\n## ")
        .find(|part| part.starts_with(&heading))
        .unwrap_or_default();
    variables(command)
        .into_iter()
        .chain(flags(command))
        .filter(|name| !text.contains(&format!("`{name}`")))
        .collect()
}

/// The argument of `command` (or a subcommand) that reads `variable`.
pub fn find_by_variable<'c>(command: &'c Command, variable: &str) -> Option<&'c Arg> {
    command
        .get_arguments()
        .find(|arg| arg.get_env() == Some(OsStr::new(variable)))
        .or_else(|| {
            command
                .get_subcommands()
                .find_map(|sub| find_by_variable(sub, variable))
        })
}

fn is_blank(value: &OsStr) -> bool {
    value.to_string_lossy().trim().is_empty()
}

/// Drops the environment variable of every argument whose variable is set but blank,
/// so clap treats the setting as unset.
fn blank_env_is_unset(command: Command) -> Command {
    let subcommands: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    let mut command = command.mut_args(|arg| {
        let blank = arg
            .get_env()
            .and_then(std::env::var_os)
            .is_some_and(|value| is_blank(&value));
        if blank {
            arg.env(None::<&'static str>)
        } else {
            arg
        }
    });
    for name in subcommands {
        command = command.mut_subcommand(name, blank_env_is_unset);
    }
    command
}

fn without_env(command: Command) -> Command {
    command.mut_args(|arg| arg.env(None::<&'static str>))
}

fn reject(command: &Command, err: clap::Error) -> Rejection {
    match setting_error_of(command, &err) {
        Some(setting) => Rejection::Setting(setting),
        None => Rejection::Usage(err),
    }
}

/// [`setting_error_of`], or clap's own kind when no variable can be named.
fn setting_error(command: &Command, err: &clap::Error) -> ConfigError {
    setting_error_of(command, err)
        .unwrap_or_else(|| ConfigError::new("settings", err.kind().as_str().unwrap_or("invalid")))
}

/// Names the variable of the argument clap rejected, if it has one. Only the value
/// parser's message is kept: clap's own text quotes the value, which may be a secret.
fn setting_error_of(command: &Command, err: &clap::Error) -> Option<ConfigError> {
    let rendered = match err.get(ContextKind::InvalidArg)? {
        ContextValue::String(arg) => arg.clone(),
        ContextValue::Strings(args) => args.first()?.clone(),
        _ => return None,
    };
    let mut built = command.clone();
    built.build();
    let arg = find_rendered(&built, &rendered)?;
    let variable = arg.get_env()?.to_string_lossy().into_owned();
    let message = match err.kind() {
        ErrorKind::ValueValidation => std::error::Error::source(err)
            .map_or_else(|| "has an invalid value".to_owned(), ToString::to_string),
        ErrorKind::MissingRequiredArgument => match arg.get_help() {
            Some(help) => format!("is not set ({help})"),
            None => "is not set".to_owned(),
        },
        ErrorKind::InvalidUtf8 => "is not valid UTF-8".to_owned(),
        _ => return None,
    };
    Some(ConfigError { variable, message })
}

/// The argument clap rendered as `rendered` (like `--listen <LISTEN>`), in a built
/// command (an argument renders only once built).
fn find_rendered<'c>(command: &'c Command, rendered: &str) -> Option<&'c Arg> {
    command
        .get_arguments()
        .find(|arg| arg.to_string() == rendered)
        .or_else(|| {
            command
                .get_subcommands()
                .find_map(|sub| find_rendered(sub, rendered))
        })
}

/// A secret setting: kept out of `Debug` output. Mark its argument
/// `hide_env_values = true` so `--help` does not print it either.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use clap::CommandFactory;

    use super::*;
    use crate::values;

    #[derive(Debug, clap::Parser)]
    struct Example {
        /// Address to bind.
        #[arg(long, env = "EXAMPLE_LISTEN", default_value = "127.0.0.1:1", value_parser = values::socket_addr)]
        listen: SocketAddr,
        /// The table.
        #[arg(long, env = "EXAMPLE_TABLE")]
        table: values::TableName,
        /// A password.
        #[arg(long, env = "EXAMPLE_PASSWORD", hide_env_values = true, value_parser = password)]
        password: Option<Secret>,
        /// Period.
        #[arg(long, env = "EXAMPLE_PERIOD", default_value = "5", value_parser = values::positive_seconds)]
        period: Duration,
    }

    fn password(raw: &str) -> Result<Secret, String> {
        if raw.len() < 8 {
            return Err("must be at least 8 bytes".into());
        }
        Ok(Secret::new(raw))
    }

    #[test]
    fn settings_come_from_the_given_variables_with_defaults_for_the_rest() {
        let parsed: Example = from_vars(&[("EXAMPLE_TABLE", "t-1"), ("EXAMPLE_PERIOD", " ")]).unwrap();
        assert_eq!(parsed.listen.to_string(), "127.0.0.1:1");
        assert_eq!(parsed.table.as_str(), "t-1");
        assert_eq!(parsed.period, Duration::from_secs(5), "blank counts as unset");
        assert!(parsed.password.is_none());
    }

    #[test]
    fn a_bad_value_names_its_variable_and_not_the_value() {
        let err =
            from_vars::<Example>(&[("EXAMPLE_TABLE", "t-1"), ("EXAMPLE_PASSWORD", "hunter2")]).unwrap_err();
        assert_eq!(err.variable, "EXAMPLE_PASSWORD");
        assert_eq!(err.to_string(), "EXAMPLE_PASSWORD: must be at least 8 bytes");
        let err =
            from_vars::<Example>(&[("EXAMPLE_TABLE", "t-1"), ("EXAMPLE_LISTEN", "nowhere")]).unwrap_err();
        assert_eq!(err.variable, "EXAMPLE_LISTEN");
        assert!(!err.to_string().contains('\n'), "{err}");
    }

    #[test]
    fn a_missing_setting_names_its_variable_and_what_it_is_for() {
        let err = from_vars::<Example>(&[]).unwrap_err();
        assert_eq!(err.to_string(), "EXAMPLE_TABLE: is not set (The table)");
        let err = from_vars::<Example>(&[("EXAMPLE_TABLE", "  ")]).unwrap_err();
        assert_eq!(err.variable, "EXAMPLE_TABLE");
    }

    #[test]
    fn an_unknown_variable_is_a_test_mistake_named_as_such() {
        let err = from_vars::<Example>(&[("EXAMPLE_NOPE", "1")]).unwrap_err();
        assert_eq!(err.variable, "EXAMPLE_NOPE");
    }

    #[test]
    fn command_line_errors_stay_clap_errors() {
        let help = try_parse::<Example, _, _>(["example", "--help"]);
        assert!(matches!(help, Err(Rejection::Usage(e)) if e.kind() == ErrorKind::DisplayHelp));
        let unknown = try_parse::<Example, _, _>(["example", "--table", "t-1", "--frobnicate"]);
        assert!(matches!(unknown, Err(Rejection::Usage(e)) if e.kind() == ErrorKind::UnknownArgument));
    }

    #[test]
    fn a_bad_flag_names_the_variable_too() {
        let rejected = try_parse::<Example, _, _>(["example", "--table", "t/1"]);
        let Err(Rejection::Setting(err)) = rejected else {
            panic!("not a setting error: {rejected:?}");
        };
        assert_eq!(err.variable, "EXAMPLE_TABLE");
    }

    #[test]
    fn variables_lists_every_name_once() {
        let command = Example::command();
        assert_eq!(
            variables(&command),
            [
                "EXAMPLE_LISTEN",
                "EXAMPLE_TABLE",
                "EXAMPLE_PASSWORD",
                "EXAMPLE_PERIOD"
            ]
        );
        let password = find_by_variable(&command, "EXAMPLE_PASSWORD").unwrap();
        assert!(password.is_hide_env_values_set());
    }

    #[test]
    fn undocumented_names_what_the_section_leaves_out() {
        let command = Example::command();
        let page = "# Settings\n\n## other\n\n`EXAMPLE_TABLE`\n\n## example\n\n\
                    `EXAMPLE_LISTEN` `--listen` `EXAMPLE_PASSWORD` `--password` `EXAMPLE_PERIOD` `--period`\n";
        let missing = undocumented(&command, page, "example");
        assert!(missing.contains(&"EXAMPLE_TABLE".to_owned()), "{missing:?}");
        assert!(!missing.contains(&"EXAMPLE_LISTEN".to_owned()), "{missing:?}");
        assert!(undocumented(&command, page, "absent").contains(&"EXAMPLE_LISTEN".to_owned()));
    }

    #[test]
    fn debug_output_hides_a_secret() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(redacted)");
    }
}
