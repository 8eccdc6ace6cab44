//! The outbox relay against Postgres and the emulator: every committed change reaches
//! the DynamoDB read model and the change topic, in version order per config, through a
//! burst, an outage and two relays at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use logspoke_api::aws::error::AwsError;
use logspoke_api::outbox::relay::{self, RelaySettings};
use logspoke_api::outbox::sink::{AwsReadModelSink, ReadModelSink, WriteOutcome};
use logspoke_contract::{Attributes, ConfigChanged, ConfigItem, EffectiveState, Region};
use serde_json::json;
use tokio::sync::watch;

use crate::aws::{self, PROVIDER};
use crate::helpers::{cloudwatch_body, s3_body, Proxy, TestApp};

/// A read-model table, a change topic and a queue subscribed to it, and a delivery
/// ledger for replay jobs, all fresh.
pub struct Publishing {
    pub sdk: SdkConfig,
    table: String,
    topic_arn: String,
    queue_url: String,
    pub ledger_table: String,
}

impl Publishing {
    pub async fn create() -> Self {
        aws::bootstrap_provider().await;
        let sdk = aws::sdk(PROVIDER).await;
        let table = aws::unique("tenant-configs");
        logspoke_test_support::create_read_model_table(&sdk, &table).await;
        let ledger_table = aws::unique("delivery-ledger");
        logspoke_test_support::create_ledger_table(&sdk, &ledger_table).await;
        let sns = aws_sdk_sns::Client::new(&sdk);
        let topic_arn = sns
            .create_topic()
            .name(aws::unique("config-changes"))
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        let queue_url = subscribe_queue(&sdk, &topic_arn).await;
        Self {
            sdk,
            table,
            topic_arn,
            queue_url,
            ledger_table,
        }
    }

    pub fn sink(&self) -> AwsReadModelSink {
        self.sink_in(&[aws::home_region()])
    }

    /// A sink writing replay jobs into the ledger table of each of `regions`.
    pub fn sink_in(&self, regions: &[Region]) -> AwsReadModelSink {
        AwsReadModelSink::new(
            &self.sdk,
            &self.table,
            &self.topic_arn,
            &self.ledger_table,
            regions,
        )
    }

    /// Every item of the table, by (tenant, type).
    pub async fn items(&self) -> BTreeMap<(String, String), ConfigItem> {
        let dynamodb = aws_sdk_dynamodb::Client::new(&self.sdk);
        let scan = dynamodb.scan().table_name(&self.table).send().await.unwrap();
        scan.items()
            .iter()
            .map(|raw| {
                let item = logspoke_aws::read_model::item_from_sdk(raw).unwrap();
                (
                    (item.tenant_id.to_string(), item.delivery_type.as_str().to_owned()),
                    item,
                )
            })
            .collect()
    }

    /// Receives events until `expected` arrived (or 60 s passed), in arrival order.
    async fn events(&self, expected: usize) -> Vec<ConfigChanged> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let mut events = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while events.len() < expected && Instant::now() < deadline {
            for message in logspoke_test_support::receive_messages(&self.sdk, &self.queue_url).await {
                let envelope: serde_json::Value = serde_json::from_str(message.body().unwrap()).unwrap();
                events.push(ConfigChanged::from_json(envelope["Message"].as_str().unwrap()).unwrap());
                sqs.delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
        events
    }
}

async fn subscribe_queue(sdk: &SdkConfig, topic_arn: &str) -> String {
    use aws_sdk_sqs::types::QueueAttributeName;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let queue_url = sqs
        .create_queue()
        .queue_name(aws::unique("config-events"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let queue_arn = attributes.attributes().unwrap()[&QueueAttributeName::QueueArn].clone();
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}
        }]
    });
    sqs.set_queue_attributes()
        .queue_url(&queue_url)
        .attributes(QueueAttributeName::Policy, policy.to_string())
        .send()
        .await
        .unwrap();
    let sns = aws_sdk_sns::Client::new(sdk);
    sns.subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .unwrap();
    queue_url
}

pub fn fast() -> RelaySettings {
    RelaySettings {
        poll_interval: Duration::from_millis(100),
        base_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(500),
        ..RelaySettings::default()
    }
}

/// A running relay, stopped on drop.
struct Relay(watch::Sender<bool>);

impl Relay {
    fn start<S: ReadModelSink + 'static>(app: &TestApp, sink: S) -> Self {
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(relay::run(app.pool(), sink, fast(), stopped));
        Self(stop)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.send(true);
    }
}

async fn wait_until_drained(app: &TestApp, within: Duration) {
    let pool = app.pool();
    let deadline = Instant::now() + within;
    loop {
        let unsent: i64 = sqlx::query_scalar("select count(*) from config_outbox where sent_at is null")
            .fetch_one(&pool)
            .await
            .unwrap();
        if unsent == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{unsent} outbox rows still unsent");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts events of each config arrive with strictly increasing versions; returns them per key.
fn per_key_versions(events: &[ConfigChanged]) -> HashMap<(String, String), Vec<i64>> {
    let mut versions: HashMap<(String, String), Vec<i64>> = HashMap::new();
    for event in events {
        let key = (
            event.tenant_id.to_string(),
            event.delivery_type.as_str().to_owned(),
        );
        versions.entry(key).or_default().push(event.version);
    }
    for (key, list) in &versions {
        assert!(
            list.windows(2).all(|w| w[0] < w[1]),
            "{key:?} out of order: {list:?}"
        );
    }
    versions
}

/// Current version of every config, read through the API.
async fn api_versions(app: &TestApp, tenants: &[String]) -> BTreeMap<(String, String), i64> {
    let mut versions = BTreeMap::new();
    for tenant in tenants {
        let list: serde_json::Value = app
            .get(
                &format!("/v1/tenants/{tenant}/delivery-configs"),
                &TestApp::operator_token(),
            )
            .await
            .json()
            .await
            .unwrap();
        for config in list["items"].as_array().unwrap() {
            let key = (tenant.clone(), config["type"].as_str().unwrap().to_owned());
            versions.insert(key, config["version"].as_i64().unwrap());
        }
    }
    versions
}

/// `changes` writes: for each tenant one PUT, then PATCHes of its allow-list.
async fn make_changes(app: &TestApp, tenants: &[String], per_tenant: usize) {
    let op = TestApp::operator_token();
    for tenant in tenants {
        app.create_tenant(tenant).await;
    }
    for round in 0..per_tenant {
        for tenant in tenants {
            let path = format!("/v1/tenants/{tenant}/delivery-configs/cloudwatch");
            let status = if round == 0 {
                app.put(&path, &op, &cloudwatch_body()).await.status()
            } else {
                app.patch(&path, &op, &json!({"desired_logs": [format!("app{round}")]}))
                    .await
                    .status()
            };
            assert!(status.is_success());
        }
    }
}

#[tokio::test]
async fn a_burst_of_changes_lands_in_the_read_model_and_events_arrive_in_order() {
    let publishing = Publishing::create().await;
    let app = TestApp::spawn().await;
    let _relay = Relay::start(&app, publishing.sink());
    let tenants: Vec<String> = (0..50).map(|i| format!("burst-{i:02}")).collect();
    make_changes(&app, &tenants, 10).await;
    wait_until_drained(&app, Duration::from_secs(60)).await;

    let expected = api_versions(&app, &tenants).await;
    let items = publishing.items().await;
    assert_eq!(items.len(), 50);
    for (key, version) in &expected {
        let item = &items[key];
        assert_eq!(item.version, *version, "{key:?}");
        assert_eq!(
            item.config.as_ref().unwrap().desired_logs.as_slice()[0].to_string(),
            "app9"
        );
    }
    let events = publishing.events(500).await;
    assert_eq!(events.len(), 500);
    let versions = per_key_versions(&events);
    assert!(versions.values().all(|v| v.len() == 10));
    for (key, version) in &expected {
        assert_eq!(versions[key].last(), Some(version), "{key:?}");
    }
}

#[tokio::test]
async fn changes_made_while_aws_is_unreachable_are_all_published_once_it_is_back() {
    let publishing = Publishing::create().await;
    let endpoint = aws::endpoint();
    let proxy = Proxy::start(endpoint.trim_start_matches("http://").to_owned()).await;
    let proxied_sdk = publishing
        .sdk
        .to_builder()
        .endpoint_url(format!("http://{}", proxy.address))
        .build();
    let sink = Recording::new(AwsReadModelSink::new(
        &proxied_sdk,
        &publishing.table,
        &publishing.topic_arn,
        &publishing.ledger_table,
        &[aws::home_region()],
    ));
    let app = TestApp::spawn().await;
    proxy.set_up(false);
    let _relay = Relay::start(&app, sink.clone());
    let tenants: Vec<String> = (0..10).map(|i| format!("outage-{i}")).collect();
    make_changes(&app, &tenants, 10).await;
    // Wait (bounded) until the relay has tried and failed at least once.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut failing: i64 = 0;
    while failing == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        failing =
            sqlx::query_scalar("select count(*) from config_outbox where attempts > 0 and sent_at is null")
                .fetch_one(&app.pool())
                .await
                .unwrap();
    }
    assert!(
        failing > 0,
        "the relay should have tried and failed while AWS was away"
    );
    // The API kept accepting writes and stays ready.
    assert_eq!(
        app.client.get(app.url("/readyz")).send().await.unwrap().status(),
        200
    );

    proxy.set_up(true);
    wait_until_drained(&app, Duration::from_secs(60)).await;
    let expected = api_versions(&app, &tenants).await;
    let items = publishing.items().await;
    for (key, version) in &expected {
        assert_eq!(items[key].version, *version, "{key:?}");
    }
    let events = publishing.events(100).await;
    assert_eq!(events.len(), 100);
    per_key_versions(&events);
    sink.assert_each_version_written_once();
}

#[tokio::test]
async fn two_relays_write_each_change_to_the_read_model_once() {
    let publishing = Publishing::create().await;
    let app = TestApp::spawn().await;
    let sink = Recording::new(publishing.sink());
    let _first = Relay::start(&app, sink.clone());
    let _second = Relay::start(&app, sink.clone());
    let tenants: Vec<String> = (0..20).map(|i| format!("pair-{i:02}")).collect();
    make_changes(&app, &tenants, 10).await;
    wait_until_drained(&app, Duration::from_secs(60)).await;
    sink.assert_each_version_written_once();
    assert_eq!(sink.writes(), 200);
    let events = publishing.events(200).await;
    assert!(events.len() >= 200);
    per_key_versions(&events);
}

#[tokio::test]
async fn tenant_changes_reach_every_config_and_deletion_leaves_tombstones() {
    let publishing = Publishing::create().await;
    let app = TestApp::spawn().await;
    let _relay = Relay::start(&app, publishing.sink());
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    app.create_cloudwatch_config("acme").await;
    assert_eq!(
        app.put("/v1/tenants/acme/delivery-configs/s3", &op, &s3_body())
            .await
            .status(),
        201
    );
    // A forced verification needs the tenant's ExternalId.
    let onboarded = app
        .post(
            "/v1/tenants/acme/onboarding",
            &op,
            &json!({"region": "eu-west-1"}),
        )
        .await;
    assert_eq!(onboarded.status(), 200);
    let forced = app
        .post(
            "/v1/tenants/acme/delivery-configs/cloudwatch/verify",
            &op,
            &json!({"force": true}),
        )
        .await;
    assert_eq!(forced.status(), 200);
    wait_until_drained(&app, Duration::from_secs(30)).await;
    let key = |ty: &str| ("acme".to_owned(), ty.to_owned());
    let items = publishing.items().await;
    assert_eq!(
        items[&key("cloudwatch")].config.as_ref().unwrap().state,
        EffectiveState::Active
    );
    assert_eq!(
        items[&key("s3")].config.as_ref().unwrap().state,
        EffectiveState::PendingVerification
    );

    app.patch("/v1/tenants/acme", &op, &json!({"enabled": false}))
        .await;
    wait_until_drained(&app, Duration::from_secs(30)).await;
    let items = publishing.items().await;
    for ty in ["cloudwatch", "s3"] {
        assert_eq!(
            items[&key(ty)].config.as_ref().unwrap().state,
            EffectiveState::Disabled,
            "{ty}"
        );
    }

    assert_eq!(app.delete("/v1/tenants/acme", &op).await.status(), 204);
    wait_until_drained(&app, Duration::from_secs(30)).await;
    let items = publishing.items().await;
    for ty in ["cloudwatch", "s3"] {
        assert!(items[&key(ty)].config.is_none(), "{ty} should be a tombstone");
    }
    let events = publishing.events(7).await;
    let deleted: Vec<_> = events
        .iter()
        .filter(|e| e.change == logspoke_contract::ChangeKind::Deleted)
        .collect();
    assert_eq!(deleted.len(), 2, "{events:?}");
}

#[tokio::test]
async fn resync_restores_a_lost_read_model() {
    let publishing = Publishing::create().await;
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    app.create_cloudwatch_config("acme").await;
    let pool = app.pool();
    relay::drain(&pool, &publishing.sink(), &fast()).await.unwrap();
    let before = publishing.items().await;
    assert_eq!(before.len(), 1);

    let dynamodb = aws_sdk_dynamodb::Client::new(&publishing.sdk);
    use aws_sdk_dynamodb::types::AttributeValue;
    dynamodb
        .delete_item()
        .table_name(&publishing.table)
        .key("tenant_id", AttributeValue::S("acme".into()))
        .key("type", AttributeValue::S("cloudwatch".into()))
        .send()
        .await
        .unwrap();
    assert!(publishing.items().await.is_empty());

    assert_eq!(logspoke_api::outbox::enqueue_everything(&pool).await.unwrap(), 1);
    relay::drain(&pool, &publishing.sink(), &fast()).await.unwrap();
    assert_eq!(publishing.items().await, before);
    // A second resync finds the item current and leaves it alone.
    logspoke_api::outbox::enqueue_everything(&pool).await.unwrap();
    relay::drain(&pool, &publishing.sink(), &fast()).await.unwrap();
    assert_eq!(publishing.items().await, before);
}

/// A sink decorator that records every successful read-model write.
#[derive(Clone)]
struct Recording<S> {
    inner: Arc<S>,
    written: Arc<Mutex<Vec<(String, i64)>>>,
}

impl<S> Recording<S> {
    fn new(inner: S) -> Self {
        Self {
            inner: Arc::new(inner),
            written: Arc::default(),
        }
    }

    fn writes(&self) -> usize {
        self.written.lock().unwrap().len()
    }

    fn assert_each_version_written_once(&self) {
        let written = self.written.lock().unwrap();
        let mut seen = std::collections::HashSet::new();
        for entry in written.iter() {
            assert!(seen.insert(entry.clone()), "{entry:?} written twice");
        }
    }
}

impl<S: ReadModelSink> ReadModelSink for Recording<S> {
    async fn write(&self, item: &Attributes, version: i64) -> Result<WriteOutcome, AwsError> {
        let outcome = self.inner.write(item, version).await?;
        if outcome == WriteOutcome::Written {
            let key = format!("{:?}/{:?}", item.get("tenant_id"), item.get("type"));
            self.written.lock().unwrap().push((key, version));
        }
        Ok(outcome)
    }

    async fn publish(&self, event: &ConfigChanged) -> Result<(), AwsError> {
        self.inner.publish(event).await
    }

    async fn create_replay(&self, job: &Attributes) -> Result<(), AwsError> {
        self.inner.create_replay(job).await
    }

    async fn cancel_replay(&self, key: &Attributes) -> Result<(), AwsError> {
        self.inner.cancel_replay(key).await
    }
}

/// A config's filter and message format travel to the read model as the worker reads
/// them; changing them moves the version (the worker applies them to objects delivered
/// after) but not the delivery version.
#[tokio::test]
async fn a_filter_and_message_format_reach_the_read_model() {
    let publishing = Publishing::create().await;
    let app = TestApp::spawn().await;
    let _relay = Relay::start(&app, publishing.sink());
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    let mut body = cloudwatch_body();
    body["filter"] = json!({
        "include": [{"field": "namespace", "equals": "payments"}],
        "exclude": [{"field": "message", "regex": "^DEBUG"}]
    });
    body["message_format"] = json!("json");
    body["message_fields"] = json!(["pod", "namespace"]);
    let path = "/v1/tenants/acme/delivery-configs/cloudwatch";
    assert_eq!(app.put(path, &op, &body).await.status(), 201);
    wait_until_drained(&app, Duration::from_secs(30)).await;
    let items = publishing.items().await;
    let item = &items[&("acme".to_owned(), "cloudwatch".to_owned())];
    let config = item.config.as_ref().unwrap();
    assert_eq!(serde_json::to_value(&config.filter).unwrap(), body["filter"]);
    assert_eq!(
        config.message_format.fields(),
        [
            logspoke_contract::MessageField::Namespace,
            logspoke_contract::MessageField::Pod
        ]
    );

    let patched = app
        .patch(
            path,
            &op,
            &json!({"filter": null, "message_format": "raw", "message_fields": null}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    wait_until_drained(&app, Duration::from_secs(30)).await;
    let items = publishing.items().await;
    let after = &items[&("acme".to_owned(), "cloudwatch".to_owned())];
    let config = after.config.as_ref().unwrap();
    assert!(config.filter.is_empty());
    assert_eq!(config.message_format, logspoke_contract::MessageFormat::Raw);
    assert!(after.version > item.version);
    assert_eq!(
        after.delivery_version, item.delivery_version,
        "not a change that matters for delivery"
    );
}
