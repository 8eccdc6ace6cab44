//! The emulated AWS world the worker runs in, built fresh (unique names) per test, on the
//! emulator helpers it shares with the api tests (`logspoke-test-support`).

use std::io::Write;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use logspoke_contract::ledger::{CounterBucket, Counters, HealthItem, Target, COUNTER_PREFIX};
use logspoke_contract::replay::{ReplayJob, ReplayMode, ReplayProgress};
use logspoke_contract::{
    BucketName, BucketPrefix, ConfigChanged, ConfigItem, DeliveryTarget, DeliveryType, DesiredLogs,
    EffectiveState, ExternalId, LiveConfig, LogGroupName, RoleArn, TenantId,
};
use logspoke_delivery_worker::config::{LedgerSettings, WorkerConfig};
use logspoke_delivery_worker::pipeline::Retention;
use logspoke_delivery_worker::sqs::PollSettings;
use logspoke_test_support::{
    create_bucket, create_ledger_table, create_read_model_table, ensure_provider_role, launch_customer_stack,
    provider_role_arn, require_emulator,
};
pub use logspoke_test_support::{s3, sdk, unique, PROVIDER, REGION};
use tokio::sync::oneshot;

/// The provider side of one test.
pub struct World {
    pub provider: SdkConfig,
    pub staging_bucket: String,
    pub queue_url: String,
    /// The overflow lane's queue (the worker uses it only when a test says so).
    pub overflow_queue_url: String,
    pub table: String,
    pub ledger_table: String,
    pub topic_arn: String,
}

impl World {
    pub async fn create() -> Self {
        require_emulator();
        let provider = sdk(PROVIDER).await;
        ensure_provider_role(&provider).await;
        let staging_bucket = unique("staging");
        create_bucket(&provider, &staging_bucket).await;
        let sqs = aws_sdk_sqs::Client::new(&provider);
        let queue_url = sqs
            .create_queue()
            .queue_name(unique("delivery"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        wire_notifications(&provider, &staging_bucket, &queue_url).await;
        let overflow_queue_url = sqs
            .create_queue()
            .queue_name(unique("overflow"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let table = unique("tenant-configs");
        create_read_model_table(&provider, &table).await;
        let ledger_table = unique("delivery-ledger");
        create_ledger_table(&provider, &ledger_table).await;
        let topic_arn = aws_sdk_sns::Client::new(&provider)
            .create_topic()
            .name(unique("config-changes"))
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        Self {
            provider,
            staging_bucket,
            queue_url,
            overflow_queue_url,
            table,
            ledger_table,
            topic_arn,
        }
    }

    pub fn worker_config(&self) -> WorkerConfig {
        WorkerConfig {
            max_decode_bytes: logspoke_delivery_worker::sinks::cloudwatch::DEFAULT_MAX_DECODE_BYTES,
            bounds: logspoke_delivery_worker::config::ObjectBounds::default(),
            queue_url: self.queue_url.clone(),
            overflow_queue_url: None,
            table: self.table.clone(),
            topic_arn: self.topic_arn.clone(),
            ledger: LedgerSettings {
                table: self.ledger_table.clone(),
                retention: Retention::default(),
                probe: Duration::from_secs(1),
                max_probe: Duration::from_secs(4),
                health_interval: Duration::from_millis(500),
                staging_bucket: Some(self.staging_bucket.clone()),
                replay_tick: Duration::from_millis(500),
            },
            provider_role: provider_role_arn(),
            listen: "127.0.0.1:0".parse().unwrap(),
            config_queue_prefix: unique("logspoke-config") + "-",
            poll: PollSettings {
                pollers: 2,
                max_in_flight: 8,
                visibility: Duration::from_secs(30),
                retry_delay: Duration::from_secs(1),
                wait: Duration::from_secs(1),
                tenant_share: 2,
            },
            resync: Duration::from_secs(300),
        }
    }

    /// Starts the worker in this process; dropping the handle stops it.
    pub async fn start_worker(&self) -> Worker {
        self.start_worker_with(|_| {}).await
    }

    /// Starts the worker with an adjusted configuration.
    pub async fn start_worker_with(&self, adjust: impl FnOnce(&mut WorkerConfig)) -> Worker {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .try_init();
        let mut config = self.worker_config();
        adjust(&mut config);
        // Its own runtime on its own thread, so a kill can end every task at once.
        let (stop, stopped) = oneshot::channel::<()>();
        let (kill, killed) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let result = runtime.block_on(async move {
                let run = logspoke_delivery_worker::replica::run(config, async {
                    let _ = stopped.await;
                });
                tokio::select! {
                    result = run => Some(result),
                    _ = killed => None,
                }
            });
            runtime.shutdown_background();
            result
        });
        // Ready once it subscribed and loaded the read model.
        tokio::time::sleep(Duration::from_millis(500)).await;
        Worker {
            stop: Some(stop),
            kill: Some(kill),
            thread: Some(thread),
        }
    }

    /// The target's health item as workers wrote it (`None` before the first write).
    pub async fn health(&self, tenant: &TenantId, delivery_type: DeliveryType) -> Option<HealthItem> {
        let target = Target::new(tenant.clone(), delivery_type);
        let output = aws_sdk_dynamodb::Client::new(&self.provider)
            .get_item()
            .table_name(&self.ledger_table)
            .set_key(Some(logspoke_aws::read_model::item_to_sdk(&target.health_key())))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        let item = output.item?;
        let attributes = logspoke_aws::read_model::attributes_from_sdk(&item).unwrap();
        Some(HealthItem::from_attributes(&attributes).unwrap())
    }

    /// The target's counters as workers wrote them, summed over their buckets.
    pub async fn counters(&self, tenant: &TenantId, delivery_type: DeliveryType) -> Counters {
        use aws_sdk_dynamodb::types::AttributeValue;
        let target = Target::new(tenant.clone(), delivery_type);
        let output = aws_sdk_dynamodb::Client::new(&self.provider)
            .query()
            .table_name(&self.ledger_table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :counters)")
            .expression_attribute_values(":pk", AttributeValue::S(target.partition()))
            .expression_attribute_values(":counters", AttributeValue::S(COUNTER_PREFIX.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        let mut sum = Counters::default();
        for item in output.items() {
            let attributes = logspoke_aws::read_model::attributes_from_sdk(item).unwrap();
            sum.add(&CounterBucket::from_attributes(&attributes).unwrap().counters);
        }
        sum
    }

    /// Waits until the target's counters satisfy `done` (or `timeout` passes).
    pub async fn wait_for_counters(
        &self,
        tenant: &TenantId,
        delivery_type: DeliveryType,
        timeout: Duration,
        done: impl Fn(&Counters) -> bool,
    ) -> Counters {
        let deadline = Instant::now() + timeout;
        loop {
            let counters = self.counters(tenant, delivery_type).await;
            if done(&counters) || Instant::now() > deadline {
                return counters;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until the target's health satisfies `done` (or `timeout` passes).
    pub async fn wait_for_health(
        &self,
        tenant: &TenantId,
        delivery_type: DeliveryType,
        timeout: Duration,
        done: impl Fn(&HealthItem) -> bool,
    ) -> Option<HealthItem> {
        let deadline = Instant::now() + timeout;
        loop {
            let health = self.health(tenant, delivery_type).await;
            if health.as_ref().is_some_and(&done) || Instant::now() > deadline {
                return health;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Publishes a replay job of the tenant's CloudWatch target (what the api's relay
    /// does) and waits for a worker to finish it; its final progress.
    pub async fn replay(
        &self,
        tenant: &TenantId,
        mode: ReplayMode,
        window: std::ops::Range<i64>,
    ) -> ReplayProgress {
        let job = ReplayJob {
            replay_id: uuid::Uuid::new_v4().to_string(),
            target: Target::new(tenant.clone(), DeliveryType::Cloudwatch),
            since_ms: window.start,
            until_ms: window.end,
            mode,
            cancelled: false,
            requested_at_ms: chrono::Utc::now().timestamp_millis(),
            progress: ReplayProgress::queued(),
        };
        let dynamodb = aws_sdk_dynamodb::Client::new(&self.provider);
        dynamodb
            .put_item()
            .table_name(&self.ledger_table)
            .set_item(Some(logspoke_aws::read_model::item_to_sdk(&job.to_attributes())))
            .send()
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let item = dynamodb
                .get_item()
                .table_name(&self.ledger_table)
                .set_key(Some(logspoke_aws::read_model::item_to_sdk(&ReplayJob::key_of(
                    &job.replay_id,
                ))))
                .consistent_read(true)
                .send()
                .await
                .unwrap()
                .item
                .unwrap();
            let attributes = logspoke_aws::read_model::attributes_from_sdk(&item).unwrap();
            let progress = ReplayJob::from_attributes(&attributes).unwrap().progress;
            if progress.state.is_final() {
                assert!(
                    !item.contains_key(logspoke_contract::replay::OPEN_JOBS_ATTRIBUTE),
                    "an ended job leaves the index of open jobs"
                );
                return progress;
            }
            if Instant::now() > deadline {
                return progress;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Writes an item to the read model (what the api's relay does).
    pub async fn put_item(&self, item: &ConfigItem) {
        self.put_attributes(&item.to_attributes()).await;
    }

    /// Writes raw attributes (also ones no valid item has).
    pub async fn put_attributes(&self, attributes: &logspoke_contract::Attributes) {
        aws_sdk_dynamodb::Client::new(&self.provider)
            .put_item()
            .table_name(&self.table)
            .set_item(Some(logspoke_aws::read_model::item_to_sdk(attributes)))
            .send()
            .await
            .unwrap();
    }

    /// Writes an item and announces it on the change topic.
    pub async fn publish(&self, item: &ConfigItem) {
        self.put_item(item).await;
        let event = ConfigChanged {
            schema_version: logspoke_contract::EVENT_SCHEMA_VERSION,
            tenant_id: item.tenant_id.clone(),
            delivery_type: item.delivery_type,
            version: item.version,
            change: logspoke_contract::ChangeKind::Upserted,
            occurred_at: "2026-11-22T10:00:00.000Z".into(),
        };
        aws_sdk_sns::Client::new(&self.provider)
            .publish()
            .topic_arn(&self.topic_arn)
            .message(event.to_json())
            .send()
            .await
            .unwrap();
    }

    /// Uploads a gzip NDJSON file of `lines` under `key`; the bucket notification queues
    /// its S3 event through SNS.
    pub async fn stage(&self, key: &str, lines: &[String]) {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for line in lines {
            writeln!(gz, "{line}").unwrap();
        }
        self.stage_raw(key, gz.finish().unwrap()).await;
    }

    /// Stages `bytes` as `key` as they are (not gzip NDJSON unless they are).
    pub async fn stage_raw(&self, key: &str, bytes: Vec<u8>) {
        s3(&self.provider)
            .put_object()
            .bucket(&self.staging_bucket)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .unwrap();
    }

    /// The bytes of the staged object `key`.
    pub async fn staged(&self, key: &str) -> Vec<u8> {
        body_of(&self.provider, &self.staging_bucket, key).await
    }

    /// Queues an S3 object-created event for `key` by hand (SNS envelope, key URL-encoded
    /// as S3 does), for keys and objects the bucket would never announce.
    pub async fn notify(&self, key: &str) {
        self.send_raw(&self.event_body(key)).await;
    }

    /// The body of the delivery-queue message announcing `key`: an S3 object-created
    /// event (key URL-encoded as S3 does) in an SNS envelope.
    pub fn event_body(&self, key: &str) -> String {
        let encoded: String = key
            .split('/')
            .map(|segment| {
                percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string()
            })
            .collect::<Vec<_>>()
            .join("/");
        let event = serde_json::json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
            "eventTime": chrono::Utc::now().to_rfc3339(), "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": self.staging_bucket, "arn": format!("arn:aws:s3:::{}", self.staging_bucket)},
                   "object": {"key": encoded, "size": 1}}
        }]});
        let envelope = serde_json::json!({
            "Type": "Notification", "MessageId": uuid::Uuid::new_v4().to_string(),
            "TopicArn": format!("arn:aws:sns:{REGION}:{PROVIDER}:log-payloads"),
            "Message": event.to_string(), "Timestamp": chrono::Utc::now().to_rfc3339(),
        });
        envelope.to_string()
    }

    /// Receives from the delivery queue until the message announcing `key` arrives (within
    /// `timeout`); its receipt handle and body. Other messages are left to time out.
    pub async fn receive_for(&self, key: &str, timeout: Duration) -> Option<(String, String)> {
        let deadline = Instant::now() + timeout;
        let needle = key.rsplit('/').next().unwrap_or(key).to_owned();
        while Instant::now() < deadline {
            for message in logspoke_test_support::receive_messages(&self.provider, &self.queue_url).await {
                if message.body().is_some_and(|b| b.contains(&needle)) {
                    return Some((message.receipt_handle()?.to_owned(), message.body()?.to_owned()));
                }
            }
        }
        None
    }

    pub async fn send_raw(&self, body: &str) {
        aws_sdk_sqs::Client::new(&self.provider)
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    /// Messages still in the delivery queue or the overflow lane (visible or in flight).
    pub async fn queued(&self) -> u64 {
        self.depth(&self.queue_url).await + self.depth(&self.overflow_queue_url).await
    }

    /// Messages in the queue at `url` (visible or in flight).
    pub async fn depth(&self, url: &str) -> u64 {
        let attributes = aws_sdk_sqs::Client::new(&self.provider)
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap();
        let attributes = attributes.attributes().unwrap();
        [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .map(|name| {
            attributes
                .get(name)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
    }

    /// Waits until the queue is empty (every message deleted), up to `timeout`.
    pub async fn wait_drained(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.queued().await == 0 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    }
}

/// A running worker; stopped (gracefully) on drop or by [`Worker::stop`].
pub struct Worker {
    stop: Option<oneshot::Sender<()>>,
    kill: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Option<anyhow::Result<()>>>>,
}

impl Worker {
    /// Ends the worker abruptly, mid-object, as a crash would: every task is dropped.
    pub async fn kill(mut self) {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
        self.join().await;
    }

    /// Stops the worker gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(Some(result)) = self.join().await {
            result.unwrap();
        }
    }

    async fn join(&mut self) -> Option<Option<anyhow::Result<()>>> {
        let thread = self.thread.take()?;
        tokio::task::spawn_blocking(move || thread.join().unwrap())
            .await
            .ok()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The production path: bucket `ObjectCreated` (`.json.gz`) → SNS topic → the delivery
/// queue, each hop allowed by a resource policy naming only its source.
async fn wire_notifications(provider: &SdkConfig, bucket: &str, queue_url: &str) {
    let sns = aws_sdk_sns::Client::new(provider);
    let sqs = aws_sdk_sqs::Client::new(provider);
    let topic_arn = sns
        .create_topic()
        .name(unique("log-payloads"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let topic_policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sns:Publish", "Resource": topic_arn,
        "Condition": {"ArnLike": {"aws:SourceArn": format!("arn:aws:s3:::{bucket}")}}}]});
    sns.set_topic_attributes()
        .topic_arn(&topic_arn)
        .attribute_name("Policy")
        .attribute_value(topic_policy.to_string())
        .send()
        .await
        .unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let queue_policy = logspoke_delivery_worker::tenants::subscription::allow_topic(&queue_arn, &topic_arn);
    sqs.set_queue_attributes()
        .queue_url(queue_url)
        .attributes(QueueAttributeName::Policy, queue_policy)
        .send()
        .await
        .unwrap();
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .send()
        .await
        .unwrap();
    use aws_sdk_s3::types::{
        Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
        S3KeyFilter, TopicConfiguration,
    };
    let suffix = FilterRule::builder()
        .name(FilterRuleName::Suffix)
        .value(".json.gz")
        .build();
    let topic = TopicConfiguration::builder()
        .topic_arn(&topic_arn)
        .events(Event::from("s3:ObjectCreated:*"))
        .filter(
            NotificationConfigurationFilter::builder()
                .key(S3KeyFilter::builder().filter_rules(suffix).build())
                .build(),
        )
        .build()
        .unwrap();
    s3(provider)
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .topic_configurations(topic)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// A customer account with a log group, a bucket and the delivery role launched from the
/// committed template with its own ExternalId.
pub struct Customer {
    pub sdk: SdkConfig,
    pub role_arn: RoleArn,
    pub external_id: ExternalId,
    pub log_group: String,
    pub bucket: String,
}

/// The clusters every test config registers (the keys the tests stage use them).
pub const REGISTERED_CLUSTERS: [&str; 2] = ["c1", "cluster-1"];

impl Customer {
    pub async fn create(account: &str) -> Self {
        let sdk = sdk(account).await;
        let log_group = format!("/logspoke/{}", unique("tenant"));
        aws_sdk_cloudwatchlogs::Client::new(&sdk)
            .create_log_group()
            .log_group_name(&log_group)
            .send()
            .await
            .unwrap();
        let bucket = unique("customer-logs");
        create_bucket(&sdk, &bucket).await;
        let external_id = ExternalId::generate();
        let parameters = [
            ("ExternalId", external_id.as_str().to_owned()),
            ("ProviderRoleArn", provider_role_arn().to_string()),
            ("LogGroupName", log_group.clone()),
            ("BucketName", bucket.clone()),
        ];
        let role_arn = launch_customer_stack(&sdk, parameters).await;
        Self {
            sdk,
            role_arn,
            external_id,
            log_group,
            bucket,
        }
    }

    /// The read-model item of an active config of `tenant` delivering here.
    pub fn item(&self, tenant: &TenantId, delivery_type: DeliveryType, version: i64) -> ConfigItem {
        let target = match delivery_type {
            DeliveryType::Cloudwatch => DeliveryTarget::CloudWatch {
                log_group_name: LogGroupName::parse(&self.log_group).unwrap(),
                log_stream_template: None,
            },
            DeliveryType::S3 => DeliveryTarget::S3 {
                bucket_name: BucketName::parse(&self.bucket).unwrap(),
                bucket_prefix: BucketPrefix::parse("k8s/").unwrap(),
            },
        };
        ConfigItem {
            tenant_id: tenant.clone(),
            delivery_type,
            version,
            delivery_version: version,
            config: Some(LiveConfig {
                state: EffectiveState::Active,
                target_region: logspoke_contract::Region::parse(REGION).unwrap(),
                role_arn: self.role_arn.clone(),
                external_id: Some(self.external_id.clone()),
                desired_logs: DesiredLogs::default(),
                target,
                clusters: REGISTERED_CLUSTERS
                    .iter()
                    .map(|c| logspoke_contract::ClusterId::parse(c).unwrap())
                    .collect(),
                filter: logspoke_contract::Filter::default(),
                message_format: logspoke_contract::MessageFormat::default(),
                key_layout: logspoke_contract::KeyLayout::default(),
                storage_class: None,
                kms_key_arn: None,
            }),
            updated_at: "2026-11-22T10:00:00.000Z".into(),
        }
    }

    /// Every message in `stream`, oldest first, with its timestamp.
    pub async fn events(&self, stream: &str) -> Vec<(i64, String)> {
        let logs = aws_sdk_cloudwatchlogs::Client::new(&self.sdk);
        let mut events = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = logs
                .get_log_events()
                .log_group_name(&self.log_group)
                .log_stream_name(stream)
                .start_from_head(true)
                .set_next_token(token.clone())
                .send()
                .await;
            let Ok(page) = page else { return events };
            let before = events.len();
            events.extend(page.events().iter().map(|e| {
                (
                    e.timestamp().unwrap_or(0),
                    e.message().unwrap_or_default().to_owned(),
                )
            }));
            let next = page.next_forward_token().map(str::to_owned);
            if events.len() == before || next == token {
                return events;
            }
            token = next;
        }
    }

    /// Waits until `stream` holds at least `count` events (or `timeout` passes).
    pub async fn wait_for_events(&self, stream: &str, count: usize, timeout: Duration) -> Vec<(i64, String)> {
        let deadline = Instant::now() + timeout;
        loop {
            let events = self.events(stream).await;
            if events.len() >= count || Instant::now() > deadline {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The bytes of the object `key` in the customer's bucket.
    pub async fn object(&self, key: &str) -> Vec<u8> {
        body_of(&self.sdk, &self.bucket, key).await
    }

    /// Keys in the customer's bucket.
    pub async fn objects(&self) -> Vec<String> {
        let listed = s3(&self.sdk)
            .list_objects_v2()
            .bucket(&self.bucket)
            .send()
            .await
            .unwrap();
        listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect()
    }
}

async fn body_of(sdk: &SdkConfig, bucket: &str, key: &str) -> Vec<u8> {
    let object = s3(sdk).get_object().bucket(bucket).key(key).send().await.unwrap();
    object.body.collect().await.unwrap().to_vec()
}

/// The sum of the samples of this process's worker metric `name_and_labels` (a prefix of
/// the rendered line).
pub fn metric(name_and_labels: &str) -> f64 {
    let text = logspoke_delivery_worker::telemetry::metrics_handle().render();
    text.lines()
        .filter(|l| l.starts_with(name_and_labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A new tenant id, unique to the run.
pub fn tenant() -> TenantId {
    TenantId::parse(&unique("t")).unwrap()
}

/// A fresh world and customer 222… with an active CloudWatch config (version 1) for a
/// new tenant, the set-up most tests start from.
pub async fn acme_with_cloudwatch() -> (World, Customer, TenantId) {
    let world = World::create().await;
    let acme = Customer::create("222222222222").await;
    let tenant = tenant();
    world
        .put_item(&acme.item(&tenant, DeliveryType::Cloudwatch, 1))
        .await;
    (world, acme, tenant)
}

/// Two tenants in one world, each with its own customer account (222… and 333…) and an
/// active CloudWatch config: a noisy one and a quiet one.
pub struct TwoTenants {
    pub world: World,
    pub noisy: (Customer, TenantId),
    pub quiet: (Customer, TenantId),
}

/// A fresh world with [`TwoTenants`].
pub async fn noisy_and_quiet() -> TwoTenants {
    let world = World::create().await;
    let acme = Customer::create("222222222222").await;
    let globex = Customer::create("333333333333").await;
    let (noisy, quiet) = (tenant(), tenant());
    world
        .put_item(&acme.item(&noisy, DeliveryType::Cloudwatch, 1))
        .await;
    world
        .put_item(&globex.item(&quiet, DeliveryType::Cloudwatch, 1))
        .await;
    TwoTenants {
        world,
        noisy: (acme, noisy),
        quiet: (globex, quiet),
    }
}

/// A Vector-like NDJSON line.
pub fn line(timestamp_ms: i64, message: &str) -> String {
    let timestamp = chrono::DateTime::from_timestamp_millis(timestamp_ms).unwrap();
    serde_json::json!({
        "message": message,
        "timestamp": timestamp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "kubernetes": {"pod_namespace": "shop", "container_name": "app"}
    })
    .to_string()
}
