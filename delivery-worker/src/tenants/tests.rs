use logspoke_contract::{
    ClusterId, DeliveryTarget, DeliveryType, DesiredLogs, EffectiveState, ExternalId, LiveConfig,
    LogGroupName, ObjectKey, Region, RoleArn, TenantId,
};

use super::source::{apply_loaded, UnreadableItem};
use super::*;

/// The cluster every test item registers.
const CLUSTER: &str = "prod-eu-1";

pub(super) fn item(tenant: &str, version: i64, state: EffectiveState, desired: &[&str]) -> ConfigItem {
    let desired: Vec<String> = desired.iter().map(|s| (*s).to_owned()).collect();
    ConfigItem {
        tenant_id: TenantId::parse(tenant).unwrap(),
        delivery_type: DeliveryType::Cloudwatch,
        version,
        delivery_version: version,
        config: Some(LiveConfig {
            state,
            target_region: Region::parse("eu-west-1").unwrap(),
            role_arn: RoleArn::parse("arn:aws:iam::222222222222:role/logspoke/Delivery").unwrap(),
            external_id: Some(ExternalId::generate()),
            desired_logs: DesiredLogs::parse(&desired).unwrap(),
            target: DeliveryTarget::CloudWatch {
                log_group_name: LogGroupName::parse("/logs").unwrap(),
                log_stream_template: None,
            },
            clusters: [ClusterId::parse(CLUSTER).unwrap()].into_iter().collect(),
            filter: logspoke_contract::Filter::default(),
            message_format: logspoke_contract::MessageFormat::default(),
            key_layout: logspoke_contract::KeyLayout::default(),
            storage_class: None,
            kms_key_arn: None,
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

/// A key of acme's pod in `cluster`, namespace `prod`, labelled `application`.
fn key(cluster: &str, application: &str) -> ObjectKey {
    in_namespace(cluster, Some("prod"), application)
}

/// A key of acme's pod in `cluster` and `namespace` (`None`: a key staged before the
/// namespace joined the layout), labelled `application`.
fn in_namespace(cluster: &str, namespace: Option<&str>, application: &str) -> ObjectKey {
    let text = ObjectKey::format(&acme(), cluster, namespace, application, "pod-1", "1-x.json.gz");
    ObjectKey::parse(&text).unwrap()
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
    assert_eq!(delivered(configs.targets(&key(CLUSTER, "app"))), 1);
    assert!(configs.apply(item("acme", 6, EffectiveState::Disabled, &[])));
    assert_eq!(delivered(configs.targets(&key(CLUSTER, "app"))), 0);
    assert_eq!(configs.version(&acme(), DeliveryType::Cloudwatch), Some(6));
}

#[test]
fn only_active_configs_wanting_the_application_are_targets() {
    let configs = TenantConfigs::default();
    configs.apply(item("acme", 1, EffectiveState::Active, &["checkout"]));
    assert_eq!(delivered(configs.targets(&key(CLUSTER, "checkout"))), 1);
    assert_eq!(delivered(configs.targets(&key(CLUSTER, "billing"))), 0);
    let disabled = TenantConfigs::default();
    disabled.apply(item("acme", 1, EffectiveState::Disabled, &[]));
    assert_eq!(delivered(disabled.targets(&key(CLUSTER, "checkout"))), 0);
}

/// A pod chooses its application label, not its namespace: a `sandbox` pod calling
/// itself `payments` is not what `prod/payments` asks for.
#[test]
fn a_namespaced_entry_does_not_take_another_namespaces_application() {
    let configs = TenantConfigs::default();
    configs.apply(item("acme", 1, EffectiveState::Active, &["prod/payments"]));
    let prod = in_namespace(CLUSTER, Some("prod"), "payments");
    let sandbox = in_namespace(CLUSTER, Some("sandbox"), "payments");
    assert_eq!(delivered(configs.targets(&prod)), 1);
    assert_eq!(delivered(configs.targets(&sandbox)), 0);
}

/// A bare application entry matches the label in every namespace (the label is all it
/// names); objects staged before the namespace joined the key match only such entries.
#[test]
fn an_application_entry_takes_every_namespace_and_keys_without_one() {
    let configs = TenantConfigs::default();
    configs.apply(item("acme", 1, EffectiveState::Active, &["payments"]));
    for namespace in [Some("prod"), Some("sandbox"), None] {
        let key = in_namespace(CLUSTER, namespace, "payments");
        assert_eq!(delivered(configs.targets(&key)), 1, "{namespace:?}");
    }
    let scoped = TenantConfigs::default();
    scoped.apply(item("acme", 1, EffectiveState::Active, &["prod/payments"]));
    let legacy = in_namespace(CLUSTER, None, "payments");
    assert_eq!(delivered(scoped.targets(&legacy)), 0);
}

#[test]
fn unverified_configs_are_targets_so_their_objects_are_parked_not_dropped() {
    for state in [
        EffectiveState::PendingVerification,
        EffectiveState::VerificationFailed,
    ] {
        let configs = TenantConfigs::default();
        configs.apply(item("acme", 1, state, &["checkout"]));
        match configs.targets(&key(CLUSTER, "checkout")) {
            Targets::Deliver(targets) => {
                assert_eq!(targets.len(), 1, "{state:?}");
                assert_eq!(targets[0].1.state, state);
            }
            other => panic!("{state:?}: {other:?}"),
        }
        // An application the config does not want is not parked for it.
        assert_eq!(delivered(configs.targets(&key(CLUSTER, "billing"))), 0);
        assert_eq!(
            configs.config(&acme(), DeliveryType::Cloudwatch).map(|(v, _)| v),
            Some(1)
        );
    }
}

#[test]
fn unknown_tenants_are_told_apart_from_deleted_configs() {
    let configs = TenantConfigs::default();
    assert_eq!(configs.targets(&key(CLUSTER, "app")), Targets::UnknownTenant);
    configs.apply(item("acme", 1, EffectiveState::Active, &[]));
    configs.apply(tombstone("acme", 2));
    assert_eq!(delivered(configs.targets(&key(CLUSTER, "app"))), 0);
    // A replayed upsert older than the tombstone does not resurrect the config.
    assert!(!configs.apply(item("acme", 1, EffectiveState::Active, &[])));
    assert_eq!(configs.len(), 1);
}

#[test]
fn objects_of_an_unregistered_cluster_reach_no_target() {
    let configs = TenantConfigs::default();
    configs.apply(item("acme", 1, EffectiveState::Active, &[]));
    assert_eq!(
        configs.targets(&key("prod-eu-2", "app")),
        Targets::UnregisteredCluster
    );
    // Also when the tenant's config is merely awaiting verification.
    let pending = TenantConfigs::default();
    pending.apply(item("acme", 1, EffectiveState::PendingVerification, &[]));
    assert_eq!(
        pending.targets(&key("prod-eu-2", "app")),
        Targets::UnregisteredCluster
    );
    assert_eq!(delivered(configs.targets(&key(CLUSTER, "app"))), 1);
}

#[test]
fn each_config_is_bound_by_its_own_cluster_list() {
    // While a cluster change propagates, one type may list it and the other not yet.
    let configs = TenantConfigs::default();
    configs.apply(item("acme", 1, EffectiveState::Active, &[]));
    let mut s3 = item("acme", 2, EffectiveState::Active, &[]);
    s3.delivery_type = DeliveryType::S3;
    if let Some(config) = s3.config.as_mut() {
        config.clusters.insert(ClusterId::parse("prod-eu-2").unwrap());
    }
    configs.apply(s3);
    match configs.targets(&key("prod-eu-2", "app")) {
        Targets::Deliver(list) => {
            assert_eq!(
                list.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
                [DeliveryType::S3]
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(delivered(configs.targets(&key(CLUSTER, "app"))), 2);
}

#[test]
fn an_unreadable_item_holds_its_tenant_instead_of_making_it_unknown() {
    let configs = TenantConfigs::default();
    let unreadable = UnreadableItem {
        tenant_id: Some(acme()),
        delivery_type: Some(DeliveryType::Cloudwatch),
    };
    assert!(apply_loaded(&configs, Err(unreadable)));
    assert_eq!(configs.targets(&key(CLUSTER, "app")), Targets::UnreadableConfig);
    // Held while another type's item is fine, too.
    let mut s3 = item("acme", 3, EffectiveState::Active, &[]);
    s3.delivery_type = DeliveryType::S3;
    apply_loaded(&configs, Ok(s3));
    assert_eq!(configs.targets(&key(CLUSTER, "app")), Targets::UnreadableConfig);
    // A stale readable item (older than one held) does not clear it...
    apply_loaded(&configs, Ok(item("acme", 5, EffectiveState::Active, &[])));
    apply_loaded(
        &configs,
        Err(UnreadableItem {
            tenant_id: Some(acme()),
            delivery_type: Some(DeliveryType::Cloudwatch),
        }),
    );
    assert!(!apply_loaded(
        &configs,
        Ok(item("acme", 4, EffectiveState::Active, &[]))
    ));
    assert_eq!(configs.targets(&key(CLUSTER, "app")), Targets::UnreadableConfig);
    // ...a newer readable item of the same (tenant, type) does.
    apply_loaded(&configs, Ok(item("acme", 6, EffectiveState::Active, &[])));
    assert_eq!(delivered(configs.targets(&key(CLUSTER, "app"))), 2);
    // An item whose tenant cannot be read marks nobody.
    let nobody = UnreadableItem {
        tenant_id: None,
        delivery_type: None,
    };
    assert!(!apply_loaded(&configs, Err(nobody)));
}

/// A change event applies its item through `apply_loaded` too, so the gauge follows it
/// (it once moved only on the periodic resync and read 0 while a config delivered).
#[test]
fn every_applied_item_updates_the_config_items_gauge() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let configs = TenantConfigs::default();
    metrics::with_local_recorder(&recorder, || {
        apply_loaded(&configs, Ok(item("acme", 5, EffectiveState::Active, &[])));
        apply_loaded(&configs, Ok(item("other", 6, EffectiveState::Active, &[])));
    });
    let rendered = handle.render();
    assert!(
        rendered
            .lines()
            .any(|line| line == "logspoke_worker_config_items 2"),
        "{rendered}"
    );
}
