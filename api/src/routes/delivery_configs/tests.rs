//! Validation tables for delivery-config bodies: which inputs are accepted, and which
//! field each rejection names.

use logspoke_contract::{DeliveryType, RoleArn};

use logspoke_contract::DeliveryTarget as Target;

use super::DeliveryConfigInput;
use crate::error::ApiError;

const ROLE: &str = "arn:aws:iam::222222222222:role/logspoke/LogspokeDelivery";

fn provider() -> RoleArn {
    RoleArn::parse("arn:aws:iam::111111111111:role/logspoke-provider").unwrap()
}

fn cloudwatch() -> DeliveryConfigInput {
    DeliveryConfigInput {
        target_region: Some("eu-west-1".into()),
        role_arn: Some(ROLE.into()),
        log_group_name: Some("/logspoke/acme".into()),
        ..Default::default()
    }
}

fn s3() -> DeliveryConfigInput {
    DeliveryConfigInput {
        target_region: Some("us-east-1".into()),
        role_arn: Some(ROLE.into()),
        bucket_name: Some("acme-logs".into()),
        ..Default::default()
    }
}

/// The fields named by the 422, in order.
fn rejected_fields(input: &DeliveryConfigInput, ty: DeliveryType) -> Vec<String> {
    match input.parse(ty, &provider()) {
        Ok(_) => vec![],
        Err(ApiError::Validation(errors)) => errors.into_iter().map(|e| e.field).collect(),
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn complete_bodies_are_accepted_with_defaults() {
    let config = cloudwatch().parse(DeliveryType::Cloudwatch, &provider()).unwrap();
    assert!(config.enabled);
    assert!(config.desired_logs.is_empty());
    let config = s3().parse(DeliveryType::S3, &provider()).unwrap();
    match config.target {
        Target::S3 { bucket_prefix, .. } => assert_eq!(bucket_prefix.as_str(), ""),
        Target::CloudWatch { .. } => panic!("wrong target"),
    }
}

#[test]
fn role_arn_table() {
    let accepted = [
        "arn:aws:iam::222222222222:role/logspoke/LogspokeDelivery",
        "arn:aws:iam::012345678901:role/logspoke/a+b=c,d.e@f_g-h",
    ];
    let rejected = [
        "",
        "arn:aws:iam::222222222222:role/logspoke/team/LogspokeDelivery",
        "arn:aws:iam::22222222222:role/x",
        "arn:aws:iam::2222222222222:role/x",
        "arn:aws:iam::22222222222a:role/x",
        "arn:aws:sts::222222222222:role/x",
        "arn:aws:iam:eu-west-1:222222222222:role/x",
        "arn:aws:iam::222222222222:user/x",
        "arn:aws:iam::222222222222:role/",
        "arn:azure:iam::222222222222:role/x",
        "arn:aws:iam::222222222222:role/has space",
        "arn:aws:iam::222222222222:role/team//x",
        // Outside the onboarding template's path: the provider role may not assume it.
        "arn:aws:iam::222222222222:role/LogspokeDelivery",
        "arn:aws:iam::222222222222:role/team/logspoke/x",
        // The provider's own account: never a delivery target.
        "arn:aws:iam::111111111111:role/logspoke/x",
        "arn:aws:iam::111111111111:role/logspoke-worker",
    ];
    for arn in accepted {
        let input = DeliveryConfigInput {
            role_arn: Some(arn.into()),
            ..cloudwatch()
        };
        assert_eq!(
            rejected_fields(&input, DeliveryType::Cloudwatch),
            Vec::<String>::new(),
            "{arn}"
        );
    }
    for arn in rejected {
        let input = DeliveryConfigInput {
            role_arn: Some(arn.into()),
            ..cloudwatch()
        };
        assert_eq!(
            rejected_fields(&input, DeliveryType::Cloudwatch),
            vec!["role_arn"],
            "{arn}"
        );
    }
}

#[test]
fn region_must_exist_and_share_the_role_partition() {
    let cases = [
        ("eu-west-1", ROLE, true),
        (
            "us-gov-west-1",
            "arn:aws-us-gov:iam::222222222222:role/logspoke/x",
            true,
        ),
        ("cn-north-1", "arn:aws-cn:iam::222222222222:role/logspoke/x", true),
        ("cn-north-1", ROLE, false),
        ("us-east-1", "arn:aws-cn:iam::222222222222:role/logspoke/x", false),
        ("eu-west-9", ROLE, false),
        ("EU-WEST-1", ROLE, false),
        ("euwest1", ROLE, false),
        ("", ROLE, false),
    ];
    for (region, arn, ok) in cases {
        let input = DeliveryConfigInput {
            target_region: Some(region.into()),
            role_arn: Some(arn.into()),
            ..cloudwatch()
        };
        let expected: Vec<String> = if ok { vec![] } else { vec!["target_region".into()] };
        assert_eq!(
            rejected_fields(&input, DeliveryType::Cloudwatch),
            expected,
            "{region} {arn}"
        );
    }
}

#[test]
fn log_group_name_table() {
    let long_ok = "a".repeat(512);
    let too_long = "a".repeat(513);
    for (name, ok) in [
        ("/logspoke/acme", true),
        ("a", true),
        ("A.b-c_d/e#f", true),
        (long_ok.as_str(), true),
        ("", false),
        (too_long.as_str(), false),
        ("has space", false),
        ("colon:bad", false),
        ("star*bad", false),
        ("ünïcode", false),
    ] {
        let input = DeliveryConfigInput {
            log_group_name: Some(name.into()),
            ..cloudwatch()
        };
        let expected: Vec<String> = if ok { vec![] } else { vec!["log_group_name".into()] };
        assert_eq!(
            rejected_fields(&input, DeliveryType::Cloudwatch),
            expected,
            "{name}"
        );
    }
}

#[test]
fn bucket_name_table() {
    for (name, ok) in [
        ("acme-logs", true),
        ("abc", true),
        ("a.b.c", true),
        ("ab", false),
        (&"a".repeat(64) as &str, false),
        ("Acme-Logs", false),
        ("acme_logs", false),
        ("-acme", false),
        ("acme-", false),
        ("acme..logs", false),
        ("192.168.5.4", false),
        ("xn--acme", false),
        ("sthree-acme", false),
        ("amzn-s3-demo-acme", false),
        ("acme-s3alias", false),
        ("acme--ol-s3", false),
        ("acme.mrap", false),
        ("acme--x-s3", false),
    ] {
        let input = DeliveryConfigInput {
            bucket_name: Some(name.into()),
            ..s3()
        };
        let expected: Vec<String> = if ok { vec![] } else { vec!["bucket_name".into()] };
        assert_eq!(rejected_fields(&input, DeliveryType::S3), expected, "{name}");
    }
}

#[test]
fn bucket_prefix_is_normalised() {
    for (raw, normalised) in [("logs", "logs/"), ("/logs//acme/", "logs/acme/"), ("", "")] {
        let input = DeliveryConfigInput {
            bucket_prefix: Some(raw.into()),
            ..s3()
        };
        match input.parse(DeliveryType::S3, &provider()).unwrap().target {
            Target::S3 { bucket_prefix, .. } => assert_eq!(bucket_prefix.as_str(), normalised),
            Target::CloudWatch { .. } => panic!("wrong target"),
        }
    }
    let input = DeliveryConfigInput {
        bucket_prefix: Some("a/../b".into()),
        ..s3()
    };
    assert_eq!(rejected_fields(&input, DeliveryType::S3), vec!["bucket_prefix"]);
}

#[test]
fn desired_logs_table() {
    let hundred: Vec<String> = (0..100).map(|i| format!("app{i}")).collect();
    let too_many: Vec<String> = (0..101).map(|i| format!("app{i}")).collect();
    let cases: Vec<(Vec<String>, bool)> = vec![
        (vec![], true),
        (vec!["api".into(), "web".into()], true),
        (vec!["api".into(), "api".into()], true),
        (hundred, true),
        (too_many, false),
        (vec!["".into()], false),
        (vec!["has space".into()], false),
        (vec!["prod/payments".into(), "payments".into()], true),
        (vec!["Prod/payments".into()], false),
        (vec!["prod/".into()], false),
        (vec!["a/b/c".into()], false),
    ];
    for (logs, ok) in cases {
        let input = DeliveryConfigInput {
            desired_logs: Some(logs.clone()),
            ..cloudwatch()
        };
        let expected: Vec<String> = if ok { vec![] } else { vec!["desired_logs".into()] };
        assert_eq!(
            rejected_fields(&input, DeliveryType::Cloudwatch),
            expected,
            "{logs:?}"
        );
    }
    let input = DeliveryConfigInput {
        desired_logs: Some(vec!["web".into(), "api".into(), "web".into()]),
        ..cloudwatch()
    };
    let config = input.parse(DeliveryType::Cloudwatch, &provider()).unwrap();
    assert_eq!(config.desired_logs.to_strings(), vec!["web", "api"]);
}

#[test]
fn every_missing_field_is_reported_at_once() {
    let empty = DeliveryConfigInput::default();
    assert_eq!(
        rejected_fields(&empty, DeliveryType::Cloudwatch),
        vec!["role_arn", "target_region", "log_group_name"]
    );
    assert_eq!(
        rejected_fields(&empty, DeliveryType::S3),
        vec!["role_arn", "target_region", "bucket_name"]
    );
}

#[test]
fn fields_of_the_other_type_are_refused() {
    let input = DeliveryConfigInput {
        bucket_name: Some("acme-logs".into()),
        ..cloudwatch()
    };
    assert_eq!(
        rejected_fields(&input, DeliveryType::Cloudwatch),
        vec!["bucket_name"]
    );
    let input = DeliveryConfigInput {
        log_group_name: Some("/x".into()),
        ..s3()
    };
    assert_eq!(rejected_fields(&input, DeliveryType::S3), vec!["log_group_name"]);
}

#[test]
fn stream_template_placeholders_are_checked() {
    let input = DeliveryConfigInput {
        log_stream_template: Some("{cluster_id}/{container}".into()),
        ..cloudwatch()
    };
    assert_eq!(
        rejected_fields(&input, DeliveryType::Cloudwatch),
        vec!["log_stream_template"]
    );
    for template in ["{tenant_id}-{application}", "{cluster_id}/{namespace}/{pod_name}"] {
        let input = DeliveryConfigInput {
            log_stream_template: Some(template.into()),
            ..cloudwatch()
        };
        assert!(
            input.parse(DeliveryType::Cloudwatch, &provider()).is_ok(),
            "{template}"
        );
    }
}
