use logspoke_contract::{
    DeliveryTarget, DeliveryType, DesiredLogs, EffectiveState, ExternalId, LiveConfig, LogGroupName, Region,
    RoleArn, TenantId,
};

use super::*;

fn item(tenant: &str, version: i64, state: EffectiveState, desired: &[&str]) -> ConfigItem {
    let desired: Vec<String> = desired.iter().map(|s| (*s).to_owned()).collect();
    ConfigItem {
        tenant_id: TenantId::parse(tenant).unwrap(),
        delivery_type: DeliveryType::Cloudwatch,
        version,
        config: Some(LiveConfig {
            state,
            target_region: Region::parse("eu-west-1").unwrap(),
            role_arn: RoleArn::parse("arn:aws:iam::222222222222:role/Delivery").unwrap(),
            external_id: Some(ExternalId::generate()),
            desired_logs: DesiredLogs::parse(&desired).unwrap(),
            target: DeliveryTarget::CloudWatch {
                log_group_name: LogGroupName::parse("/logs").unwrap(),
                log_stream_template: None,
            },
        }),
        updated_at: "2026-11-22T10:00:00.000Z".into(),
    }
}

fn tombstone(tenant: &str, version: i64) -> ConfigItem {
    ConfigItem {
        config: None,
        ..item(tenant, version, EffectiveState::Active, &[])
    }
}

fn acme() -> TenantId {
    TenantId::parse("acme").unwrap()
}

fn delivered(targets: Targets) -> usize {
    match targets {
        Targets::Deliver(list) => list.len(),
        other => panic!("not deliverable: {other:?}"),
    }
}

#[test]
fn an_older_version_never_replaces_a_newer_one() {
    let configs = TenantConfigs::default();
    assert!(configs.apply(item("acme", 5, EffectiveState::Active, &[])));
    assert!(!configs.apply(item("acme", 4, EffectiveState::Disabled, &[])));
    assert!(!configs.apply(item("acme", 5, EffectiveState::Disabled, &[])));
    assert_eq!(delivered(configs.targets(&acme(), "app")), 1);
    assert!(configs.apply(item("acme", 6, EffectiveState::Disabled, &[])));
    assert_eq!(delivered(configs.targets(&acme(), "app")), 0);
    assert_eq!(configs.version(&acme(), DeliveryType::Cloudwatch), Some(6));
}

#[test]
fn only_active_configs_wanting_the_application_are_targets() {
    let configs = TenantConfigs::default();
    configs.apply(item("acme", 1, EffectiveState::Active, &["checkout"]));
    assert_eq!(delivered(configs.targets(&acme(), "checkout")), 1);
    assert_eq!(delivered(configs.targets(&acme(), "billing")), 0);
    let disabled = TenantConfigs::default();
    disabled.apply(item("acme", 1, EffectiveState::Disabled, &[]));
    assert_eq!(delivered(disabled.targets(&acme(), "checkout")), 0);
}

#[test]
fn unverified_configs_hold_objects_back_instead_of_dropping_them() {
    for state in [
        EffectiveState::PendingVerification,
        EffectiveState::VerificationFailed,
    ] {
        let configs = TenantConfigs::default();
        configs.apply(item("acme", 1, state, &["checkout"]));
        assert_eq!(
            configs.targets(&acme(), "checkout"),
            Targets::AwaitingVerification,
            "{state:?}"
        );
        // An application the config does not want is not held back.
        assert_eq!(delivered(configs.targets(&acme(), "billing")), 0);
    }
}

#[test]
fn unknown_tenants_are_told_apart_from_deleted_configs() {
    let configs = TenantConfigs::default();
    assert_eq!(configs.targets(&acme(), "app"), Targets::UnknownTenant);
    configs.apply(item("acme", 1, EffectiveState::Active, &[]));
    configs.apply(tombstone("acme", 2));
    assert_eq!(delivered(configs.targets(&acme(), "app")), 0);
    // A replayed upsert older than the tombstone does not resurrect the config.
    assert!(!configs.apply(item("acme", 1, EffectiveState::Active, &[])));
    assert_eq!(configs.len(), 1);
}
