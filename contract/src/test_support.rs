//! Table-test helpers shared by the type modules.

use crate::ParseError;
use std::fmt::Debug;

/// Asserts that every input parses and that `as_str` gives back the input unchanged.
pub(crate) fn assert_accepts<T: AsRef<str> + Debug>(
    parse: fn(&str) -> Result<T, ParseError>,
    inputs: &[&str],
) {
    for input in inputs {
        let parsed = parse(input);
        let got = parsed.as_ref().map(AsRef::as_ref);
        assert_eq!(got, Ok(*input), "input {input:?}");
    }
}

/// Asserts that every `(input, normalised)` pair parses to the normalised string.
pub(crate) fn assert_parses_to<T: AsRef<str> + Debug>(
    parse: fn(&str) -> Result<T, ParseError>,
    cases: &[(&str, &str)],
) {
    for (input, expected) in cases {
        let parsed = parse(input);
        let got = parsed.as_ref().map(AsRef::as_ref);
        assert_eq!(got, Ok(*expected), "input {input:?}");
    }
}

/// Asserts that every `(input, message)` pair is rejected with exactly that message.
pub(crate) fn assert_rejects<T: Debug>(parse: fn(&str) -> Result<T, ParseError>, cases: &[(&str, &str)]) {
    for (input, message) in cases {
        let got = parse(input).map_err(|e| e.message);
        assert_eq!(
            got.as_ref().err().map(String::as_str),
            Some(*message),
            "input {input:?} gave {got:?}"
        );
    }
}
