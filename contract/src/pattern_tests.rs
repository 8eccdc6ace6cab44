//! The `PATTERN` constants the API document publishes must accept exactly what the
//! `parse` constructors accept: generated clients and contract tests trust the document.
//! Each pattern is checked against its parser on hand-picked edge cases and on many
//! strings drawn from an alphabet of the characters that matter to the rule.

use fancy_regex::Regex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{
    ApplicationName, BucketName, BucketPrefix, DesiredLog, LogGroupName, LogStreamTemplate, NamespaceName,
    ParseError, RoleArn, TenantId,
};

/// Draws strings of up to `max_len` characters from `alphabet`, with a bias towards the
/// ends of the length range, where rules tend to differ.
fn samples(alphabet: &[&str], max_len: usize, count: usize, seed: u64) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let len = match rng.gen_range(0..4) {
                0 => rng.gen_range(0..=4.min(max_len)),
                1 => rng.gen_range(max_len.saturating_sub(3)..=max_len + 2),
                _ => rng.gen_range(0..=max_len + 2),
            };
            (0..len)
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                .collect()
        })
        .collect()
}

/// Asserts that `pattern` (with an optional length bound in characters, as the document
/// states it with `maxLength`) matches exactly the inputs `accepts` takes.
fn assert_agrees(
    pattern: &str,
    max_chars: Option<usize>,
    accepts: impl Fn(&str) -> bool,
    inputs: impl IntoIterator<Item = String>,
) {
    let regex = Regex::new(pattern).expect("pattern compiles");
    for input in inputs {
        let by_pattern = regex.is_match(&input).expect("pattern runs")
            && max_chars.is_none_or(|max| input.chars().count() <= max);
        assert_eq!(
            by_pattern,
            accepts(&input),
            "pattern {pattern} and the parser disagree on {input:?}"
        );
    }
}

fn ok<T>(result: Result<T, ParseError>) -> bool {
    result.is_ok()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn tenant_id_pattern_matches_the_parser() {
    let edge = strings(&[
        "a",
        "ab",
        "a-b",
        "-a",
        "a-",
        "A",
        "a_b",
        "",
        &"a".repeat(63),
        &"a".repeat(64),
    ]);
    let alphabet = ["a", "z", "0", "9", "-", "A", "_", "."];
    let random = samples(&alphabet, 63, 20_000, 1);
    assert_agrees(
        TenantId::PATTERN,
        None,
        |s| ok(TenantId::parse(s)),
        edge.into_iter().chain(random),
    );
}

#[test]
fn application_name_pattern_matches_the_parser() {
    let edge = strings(&[
        "a",
        "a.b",
        "a_b",
        "-a",
        "a.",
        "",
        "é",
        &"a".repeat(63),
        &"a".repeat(64),
    ]);
    let alphabet = ["a", "Z", "0", "-", "_", ".", " ", "é", "/"];
    let random = samples(&alphabet, 63, 20_000, 2);
    let accepts = |s: &str| ok(ApplicationName::parse(s));
    assert_agrees(
        ApplicationName::PATTERN,
        None,
        accepts,
        edge.into_iter().chain(random),
    );
}

#[test]
fn namespace_name_pattern_matches_the_parser() {
    let edge = strings(&[
        "a",
        "a-b",
        "-a",
        "a-",
        "A",
        "a.b",
        "",
        "é",
        &"a".repeat(63),
        &"a".repeat(64),
    ]);
    let alphabet = ["a", "Z", "0", "-", "_", ".", "é", "/"];
    let random = samples(&alphabet, 63, 20_000, 7);
    let accepts = |s: &str| ok(NamespaceName::parse(s));
    assert_agrees(
        NamespaceName::PATTERN,
        None,
        accepts,
        edge.into_iter().chain(random),
    );
}

#[test]
fn desired_log_pattern_matches_the_parser() {
    let edge = strings(&[
        "app",
        "prod/app",
        "prod/App.v2",
        "Prod/app",
        "/app",
        "prod/",
        "a/b/c",
        "-a/b",
        "a/-b",
        "",
        "/",
        &format!("{}/{}", "n".repeat(63), "a".repeat(63)),
        &format!("{}/a", "n".repeat(64)),
        &format!("n/{}", "a".repeat(64)),
    ]);
    let alphabet = ["a", "Z", "0", "-", "_", ".", "/", "/", " ", "é"];
    let random = samples(&alphabet, 20, 20_000, 8);
    let accepts = |s: &str| ok(DesiredLog::parse(s));
    assert_agrees(DesiredLog::PATTERN, None, accepts, edge.into_iter().chain(random));
}

#[test]
fn log_group_name_pattern_matches_the_parser() {
    let edge = strings(&["/a", "#", "", " ", "a:b", "é", &"a".repeat(512), &"a".repeat(513)]);
    let alphabet = ["a", "Z", "9", ".", "-", "_", "/", "#", ":", "*", " ", "é"];
    let random = samples(&alphabet, 512, 5_000, 3);
    let accepts = |s: &str| ok(LogGroupName::parse(s));
    assert_agrees(
        LogGroupName::PATTERN,
        None,
        accepts,
        edge.into_iter().chain(random),
    );
}

#[test]
fn log_stream_template_pattern_matches_the_parser() {
    let edge = strings(&[
        "{cluster_id}/{application}/{pod_name}",
        "{tenant_id}",
        "{pod}",
        "{",
        "}",
        "a{b",
        "a}b",
        "{}",
        "a:b",
        "a*b",
        "",
        "é",
        &"t".repeat(512),
        &"t".repeat(513),
    ]);
    let alphabet = [
        "a",
        "/",
        "{",
        "}",
        "{pod_name}",
        "{namespace}",
        "{cluster_id}",
        "{tenant_id}",
        ":",
        "*",
        " ",
        "é",
    ];
    let random = samples(&alphabet, 40, 20_000, 4);
    let accepts = |s: &str| ok(LogStreamTemplate::parse(s));
    let max = Some(LogStreamTemplate::MAX_CHARS);
    assert_agrees(
        LogStreamTemplate::PATTERN,
        max,
        accepts,
        edge.into_iter().chain(random),
    );
}

#[test]
fn bucket_name_pattern_matches_the_parser() {
    let edge = strings(&[
        "abc",
        "ab",
        "a.b.c",
        "a..b",
        "a.-b",
        "a-.b",
        "192.168.5.4",
        "192.168.5.4a",
        "1.2.3",
        "xn--abc",
        "sthree-x",
        "amzn-s3-demo-x",
        "x-s3alias",
        "x--ol-s3",
        "x.mrap",
        "x--x-s3",
        "x--table-s3",
        "Abc",
        &"b".repeat(63),
        &"b".repeat(64),
    ]);
    let alphabet = [
        "a", "z", "0", "1", ".", "-", "xn--", "-s3alias", ".mrap", "A", "_",
    ];
    let random = samples(&alphabet, 20, 30_000, 5);
    let ipv4_like = samples(&["1", "2", "."], 15, 5_000, 6);
    let accepts = |s: &str| ok(BucketName::parse(s));
    let inputs = edge.into_iter().chain(random).chain(ipv4_like);
    assert_agrees(BucketName::PATTERN, None, accepts, inputs);
}

#[test]
fn bucket_prefix_pattern_matches_the_parser() {
    let edge = strings(&[
        "",
        "/",
        ".",
        "..",
        "...",
        "a/./b",
        "a/../b",
        "/.",
        "./",
        "a/.",
        "a\\b",
        "a*",
        "a?",
        "$",
        "\u{7f}",
        "\u{85}",
        "\u{a0}",
        &"p".repeat(512),
        &"p".repeat(513),
        &"é".repeat(512),
    ]);
    let alphabet = [
        "a", "/", ".", "..", "\\", "*", "?", "$", "\n", "\u{85}", " ", "é", "😀",
    ];
    let random = samples(&alphabet, 20, 30_000, 7);
    let accepts = |s: &str| ok(BucketPrefix::parse(s));
    let max = Some(BucketPrefix::MAX_CHARS);
    assert_agrees(
        BucketPrefix::PATTERN,
        max,
        accepts,
        edge.into_iter().chain(random),
    );
}

#[test]
fn customer_role_pattern_matches_the_parser() {
    let provider = RoleArn::parse("arn:aws:iam::111111111111:role/LogspokeProvider").expect("provider");
    let accepts = |s: &str| RoleArn::parse(s).is_ok_and(|arn| arn.check_customer_role(&provider).is_ok());
    let name = "N".repeat(64);
    let long_path = format!("arn:aws:iam::222222222222:role/logspoke/{}/x", "p".repeat(500));
    let longest_path = format!("arn:aws:iam::222222222222:role/logspoke/{}/x", "p".repeat(501));
    let edge = vec![
        "arn:aws:iam::222222222222:role/logspoke/LogspokeDelivery".to_owned(),
        "arn:aws-cn:iam::222222222222:role/logspoke/a".to_owned(),
        "arn:aws-us-gov:iam::222222222222:role/logspoke/team/a".to_owned(),
        "arn:aws-us-gov:iam::222222222222:role/logspoke/a".to_owned(),
        "arn:aws:iam::222222222222:role/LogspokeDelivery".to_owned(),
        "arn:aws:iam::222222222222:role/logspoke//a".to_owned(),
        "arn:aws:iam::222222222222:role/logspoke/a b".to_owned(),
        "arn:aws:iam:eu-west-1:222222222222:role/logspoke/a".to_owned(),
        "arn:aws:iam::22222222222:role/logspoke/a".to_owned(),
        format!("arn:aws:iam::222222222222:role/logspoke/{name}"),
        format!("arn:aws:iam::222222222222:role/logspoke/{name}N"),
        long_path,
        longest_path,
    ];
    let mut rng = StdRng::seed_from_u64(8);
    let partitions = ["aws", "aws-cn", "aws-us-gov", "aws-x"];
    let paths = samples(&["logspoke/", "a", "/", "é", "~", " ", ".", "+"], 12, 20_000, 9);
    let random = paths.into_iter().map(|path| {
        let partition = partitions[rng.gen_range(0..partitions.len())];
        format!("arn:{partition}:iam::222222222222:role/{path}")
    });
    assert_agrees(
        RoleArn::CUSTOMER_ROLE_PATTERN,
        None,
        accepts,
        edge.into_iter().chain(random),
    );
}
