//! Notifications against the emulator: a customer stack that creates the topic (and lets
//! the role publish to it), the tenant's notification target, and the notifier's rounds
//! reading a real ledger table and publishing through the tenant's role. The tests read
//! what reached the topic from an SQS queue the customer subscribes to it (the e-mail
//! subscription the stack makes cannot be read).

use std::collections::BTreeMap;
use std::time::Duration;

use logspoke_api::notifications::notifier::{round, NotifierSettings};
use logspoke_api::notifications::publisher::SnsPublisher;
use logspoke_contract::ledger::{ParkedObject, Target};
use logspoke_contract::{Cause, DeliveryType, TenantId};
use serde_json::{json, Value};

use crate::aws::{self, CUSTOMER, OTHER_CUSTOMER, REGION};
use crate::delivery_health::{active_config, failing, healthy, now_ms, Ledger};
use crate::helpers::{problem, TestApp, ROLE_ARN};

/// The health summary the notifier reads is cached this long per replica.
const SUMMARY_TTL: Duration = Duration::from_millis(5_200);

/// A tenant onboarded for CloudWatch with a stack that made its notification topic, an
/// active config, and a queue of the customer's subscribed to the topic.
struct Notified {
    ledger: Ledger,
    app: TestApp,
    tenant: String,
    role: String,
    topic: String,
    inbox: Inbox,
}

impl Notified {
    async fn onboard(account: &str) -> Self {
        aws::bootstrap_provider().await;
        let ledger = Ledger::create().await;
        let app = ledger.app().await;
        let tenant = aws::unique("t");
        app.create_tenant(&tenant).await;
        let op = TestApp::operator_token();
        let link: Value = app
            .post(
                &format!("/v1/tenants/{tenant}/onboarding"),
                &op,
                &json!({"region": REGION, "delivery_types": ["cloudwatch"], "create_log_group": {}}),
            )
            .await
            .json()
            .await
            .unwrap();
        let mut parameters = aws::link_parameters(link["quick_create_url"].as_str().unwrap());
        parameters.insert("NotificationEmail".into(), "ops@example.com".into());
        let outputs = aws::create_customer_stack_outputs(account, &parameters).await;
        let (role, topic) = (
            outputs["RoleArn"].clone(),
            outputs["NotificationTopicArn"].clone(),
        );
        let config = format!("/v1/tenants/{tenant}/delivery-configs/cloudwatch");
        let body =
            json!({"target_region": REGION, "role_arn": role, "log_group_name": parameters["LogGroupName"]});
        assert_eq!(app.put(&config, &op, &body).await.status(), 201);
        let verified: Value = app
            .post(&format!("{config}/verify"), &op, &json!({}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(verified["state"], "active", "{verified:#}");
        let inbox = Inbox::subscribe(account, &topic).await;
        Self {
            ledger,
            app,
            tenant,
            role,
            topic,
            inbox,
        }
    }

    fn path(&self, rest: &str) -> String {
        format!("/v1/tenants/{}/{rest}", self.tenant)
    }

    async fn put_target(&self, topic: &str, role: &str) -> reqwest::Response {
        let token = TestApp::tenant_token(&self.tenant);
        let body = json!({"topic_arn": topic, "role_arn": role});
        self.app
            .put(&self.path("notification-target"), &token, &body)
            .await
    }

    async fn round(&self) {
        let publisher = SnsPublisher::new(self.app.state.aws.chain());
        round(&self.app.state, &publisher, &settings(), chrono::Utc::now())
            .await
            .unwrap();
    }

    async fn target(&self) -> Value {
        let token = TestApp::tenant_token(&self.tenant);
        self.app
            .get(&self.path("notification-target"), &token)
            .await
            .json()
            .await
            .unwrap()
    }

    async fn listed(&self) -> Vec<Value> {
        let token = TestApp::tenant_token(&self.tenant);
        let list: Value = self
            .app
            .get(&self.path("notifications"), &token)
            .await
            .json()
            .await
            .unwrap();
        list["items"].as_array().unwrap().clone()
    }
}

fn settings() -> NotifierSettings {
    NotifierSettings {
        backoff: logspoke_runtime::backoff::Backoff {
            base: Duration::ZERO,
            max: Duration::ZERO,
            attempts: u32::MAX,
        },
        ..NotifierSettings::default()
    }
}

/// An SQS queue of the customer's subscribed to a topic: what was published to it.
struct Inbox {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl Inbox {
    async fn subscribe(account: &str, topic: &str) -> Self {
        let sdk = aws::sdk(account).await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let name = aws::unique("inbox");
        let url = sqs.create_queue().queue_name(&name).send().await.unwrap();
        let url = url.queue_url().unwrap().to_owned();
        let arn = format!("arn:aws:sqs:{REGION}:{account}:{name}");
        let policy = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": arn, "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}]});
        sqs.set_queue_attributes()
            .queue_url(&url)
            .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, policy.to_string())
            .send()
            .await
            .unwrap();
        aws_sdk_sns::Client::new(&sdk)
            .subscribe()
            .topic_arn(topic)
            .protocol("sqs")
            .endpoint(&arn)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .unwrap();
        Self { sqs, url }
    }

    /// The messages that arrived since the last call (waits up to a second for the first).
    async fn take(&self) -> Vec<Value> {
        let mut messages = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .wait_time_seconds(if messages.is_empty() { 1 } else { 0 })
                .send()
                .await
                .unwrap();
            if received.messages().is_empty() {
                return messages;
            }
            for message in received.messages() {
                messages.push(serde_json::from_str(message.body().unwrap()).unwrap());
                self.sqs
                    .delete_message()
                    .queue_url(&self.url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

fn kinds(messages: &[Value]) -> Vec<&str> {
    messages.iter().map(|m| m["kind"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_target_that_starts_failing_notifies_once_and_once_more_on_recovery() {
    let t = Notified::onboard(CUSTOMER).await;
    let registered = t.put_target(&t.topic, &t.role).await;
    assert_eq!(registered.status(), 201);
    let registered: Value = registered.json().await.unwrap();
    assert_eq!(registered["state"], "untested");

    // A test notification first: the subscription works, the target is `ok`.
    let token = TestApp::tenant_token(&t.tenant);
    let queued = t
        .app
        .post(&t.path("notification-target/test"), &token, &json!({}))
        .await;
    assert_eq!(queued.status(), 202);
    let queued: Value = queued.json().await.unwrap();
    t.round().await;
    let test = t.inbox.take().await;
    assert_eq!(kinds(&test), ["test"]);
    assert_eq!(test[0]["notification_id"], queued["notification_id"]);
    assert_eq!(t.target().await["state"], "ok");

    // The workers record the target failing: one notification, however many rounds.
    t.ledger.put_health(&failing(&t.tenant, now_ms())).await;
    tokio::time::sleep(SUMMARY_TTL).await;
    t.round().await;
    t.round().await;
    let failed = t.inbox.take().await;
    assert_eq!(kinds(&failed), ["target_failing"], "{failed:#?}");
    assert_eq!(failed[0]["cause"], "log_group_missing");
    assert_eq!(failed[0]["parked_objects"], 3);
    assert_eq!(failed[0]["delivery_type"], "cloudwatch");
    assert!(failed[0]["what_to_do"].as_str().unwrap().contains("log group"));

    // It works again: one recovery, with what drained.
    t.ledger.put_health(&healthy(&t.tenant, now_ms())).await;
    tokio::time::sleep(SUMMARY_TTL).await;
    t.round().await;
    t.round().await;
    let recovered = t.inbox.take().await;
    assert_eq!(kinds(&recovered), ["target_recovered"], "{recovered:#?}");
    assert_eq!(recovered[0]["drained_objects"], 3);

    let listed = t.listed().await;
    let listed_kinds: Vec<&str> = listed.iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert_eq!(listed_kinds, ["target_recovered", "target_failing", "test"]);
    assert!(listed.iter().all(|n| n["sent_at"].is_string()), "{listed:#?}");
    assert_eq!(listed[1]["notification_id"], failed[0]["notification_id"]);
}

/// A target whose oldest parked object was staged almost the staging bucket's whole
/// retention ago (90 days here; parked while the target was paused, say) is warned about
/// once, a day before that object goes, however recently the target started failing.
#[tokio::test]
async fn parked_objects_about_to_expire_are_warned_about_once() {
    let t = Notified::onboard(CUSTOMER).await;
    assert_eq!(t.put_target(&t.topic, &t.role).await.status(), 201);
    let staged_ms = now_ms() - (89 * 24 + 1) * 3_600_000;
    let target = Target::new(TenantId::parse(&t.tenant).unwrap(), DeliveryType::Cloudwatch);
    let parked = ParkedObject {
        target,
        bucket: "staging".into(),
        object_key: format!("{}/c1/default/app/pod/{}-a.json.gz", t.tenant, staged_ms / 1000),
        staged_ms,
        event_time_ms: Some(staged_ms),
        cause: Cause::LogGroupMissing,
        parked_at_ms: now_ms(),
        expires_at: staged_ms / 1000 + 91 * 24 * 3600,
    };
    t.ledger.put(parked.to_attributes()).await;
    t.ledger.put_health(&failing(&t.tenant, now_ms())).await;
    // The config documents of onboarding cached the target's (empty) health summary.
    tokio::time::sleep(SUMMARY_TTL).await;
    t.round().await;
    assert_eq!(kinds(&t.inbox.take().await), ["target_failing"]);
    t.round().await;
    t.round().await;
    let warned = t.inbox.take().await;
    assert_eq!(kinds(&warned), ["parked_objects_expiring"], "{warned:#?}");
    assert_eq!(warned[0]["parked_objects"], 3);
    let expires = chrono::DateTime::parse_from_rfc3339(warned[0]["expires_at"].as_str().unwrap()).unwrap();
    let left = expires.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(
        left > chrono::TimeDelta::hours(22) && left < chrono::TimeDelta::hours(24),
        "{left}"
    );
}

#[tokio::test]
async fn a_notification_target_that_fails_shows_why_and_keeps_its_notifications() {
    let t = Notified::onboard(CUSTOMER).await;
    // A topic of the account that the role may not publish to.
    let other = format!("arn:aws:sns:{REGION}:{CUSTOMER}:{}", aws::unique("not-granted"));
    assert_eq!(t.put_target(&other, &t.role).await.status(), 201);
    let token = TestApp::tenant_token(&t.tenant);
    let test = t.path("notification-target/test");
    let first: Value = t.app.post(&test, &token, &json!({})).await.json().await.unwrap();
    t.round().await;
    // While it waits, asking again answers with the same test: nothing piles up.
    let again: Value = t.app.post(&test, &token, &json!({})).await.json().await.unwrap();
    assert_eq!(again["notification_id"], first["notification_id"]);
    let target = t.target().await;
    assert_eq!(target["state"], "failing", "{target:#}");
    let cause = target["last_error"]["cause"].as_str().unwrap();
    assert!(
        ["permission_denied", "topic_missing"].contains(&cause),
        "{target:#}"
    );
    assert!(target["last_error"]["what_to_do"].is_string());
    let listed = t.listed().await;
    assert_eq!(listed[0]["sent_at"], Value::Null);
    assert_eq!(listed[0]["attempts"], 1);
    assert_eq!(listed[0]["last_cause"], cause);

    // Pointed at the right topic, the waiting notification is sent on the next round.
    assert_eq!(t.put_target(&t.topic, &t.role).await.status(), 200);
    t.round().await;
    assert_eq!(kinds(&t.inbox.take().await), ["test"]);
    assert_eq!(t.target().await["state"], "ok");
}

/// A tenant that names another customer's role and topic is refused: the role must be
/// one `verify` proved for this tenant (it refuses any other tenant's ExternalId), so the
/// provider never publishes through a role the tenant merely knows the ARN of.
#[tokio::test]
async fn a_tenant_cannot_notify_another_customers_topic() {
    let victim = Notified::onboard(CUSTOMER).await;
    let app = &victim.app;
    let attacker = aws::unique("t");
    app.create_tenant(&attacker).await;
    let op = TestApp::operator_token();
    app.post(
        &format!("/v1/tenants/{attacker}/onboarding"),
        &op,
        &json!({"region": REGION}),
    )
    .await;
    let token = TestApp::tenant_token(&attacker);
    let path = format!("/v1/tenants/{attacker}/notification-target");
    let body = json!({"topic_arn": victim.topic, "role_arn": victim.role});
    let refused = problem(app.put(&path, &token, &body).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "role_arn", "{refused:#}");
    assert_eq!(app.get(&path, &token).await.status(), 404);
    victim.round().await;
    assert_eq!(victim.inbox.take().await, Vec::<Value>::new());
}

#[tokio::test]
async fn notification_targets_are_validated_audited_and_scoped_to_their_tenant() {
    aws::bootstrap_provider().await;
    let app = TestApp::spawn().await;
    active_config(&app, "acme", "cloudwatch").await;
    app.create_tenant("globex").await;
    let token = TestApp::tenant_token("acme");
    let path = "/v1/tenants/acme/notification-target";
    assert_eq!(problem(app.get(path, &token).await, 404).await["status"], 404);

    let role = ROLE_ARN.to_owned();
    let topic = format!("arn:aws:sns:{REGION}:{CUSTOMER}:alerts");
    let cases: BTreeMap<&str, (Value, &str)> = [
        ("other account", (json!({"topic_arn": format!("arn:aws:sns:{REGION}:{OTHER_CUSTOMER}:alerts"), "role_arn": role}), "topic_arn")),
        ("not a topic", (json!({"topic_arn": "arn:aws:sqs:eu-west-1:222222222222:q", "role_arn": role}), "topic_arn")),
        ("provider role", (json!({"topic_arn": topic, "role_arn": aws::provider_role_arn().to_string()}), "role_arn")),
        ("no path", (json!({"topic_arn": topic, "role_arn": format!("arn:aws:iam::{CUSTOMER}:role/Delivery")}), "role_arn")),
        ("not a verified config's", (json!({"topic_arn": topic, "role_arn": format!("arn:aws:iam::{CUSTOMER}:role/logspoke/Other")}), "role_arn")),
    ]
    .into_iter()
    .collect();
    for (case, (body, field)) in cases {
        let refused = problem(app.put(path, &token, &body).await, 422).await;
        assert_eq!(refused["errors"][0]["field"], field, "{case}: {refused:#}");
    }

    let body = json!({"topic_arn": topic, "role_arn": role});
    let test = "/v1/tenants/acme/notification-target/test";
    assert_eq!(
        problem(app.post(test, &token, &json!({})).await, 404).await["status"],
        404
    );
    assert_eq!(app.put(path, &token, &body).await.status(), 201);
    let other = TestApp::tenant_token("globex");
    assert_eq!(app.get(path, &other).await.status(), 403);
    assert_eq!(app.put(path, &other, &body).await.status(), 403);
    assert_eq!(app.delete(path, &token).await.status(), 204);
    assert_eq!(app.get(path, &token).await.status(), 404);
    let trail = app.audit_trail("acme", &TestApp::operator_token()).await;
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .filter(|a| a.starts_with("notification_target."))
        .collect();
    assert_eq!(
        actions,
        ["notification_target.removed", "notification_target.registered"]
    );
    let bad_limit = app.get("/v1/tenants/acme/notifications?limit=0", &token).await;
    assert_eq!(problem(bad_limit, 400).await["status"], 400);
}

/// Records what the notifier would publish (tenant, kind, body) and fails every send of
/// a tenant other than `only` when it is set: a fake for the rounds whose topic side is
/// not the point (the topic itself is exercised above).
#[derive(Clone, Default)]
pub struct FakePublisher {
    pub only: Option<String>,
    pub tried: std::sync::Arc<std::sync::Mutex<Vec<(String, String, String)>>>,
}

impl logspoke_api::notifications::publisher::Publisher for FakePublisher {
    async fn publish(
        &self,
        _role: &logspoke_contract::RoleArn,
        _external_id: &logspoke_contract::ExternalId,
        _topic: &logspoke_api::notifications::NotificationTopic,
        message: logspoke_api::notifications::publisher::Outgoing<'_>,
    ) -> Result<(), logspoke_api::notifications::publisher::PublishError> {
        let tried = (
            message.tenant_id.to_owned(),
            message.kind.to_owned(),
            message.body.to_owned(),
        );
        self.tried.lock().unwrap().push(tried);
        match &self.only {
            Some(only) if only != message.tenant_id => {
                Err(logspoke_api::notifications::publisher::PublishError {
                    step: logspoke_aws::Step::Publish,
                    error: logspoke_aws::AwsError::service("NotFound", 404, "Topic does not exist"),
                })
            }
            _ => Ok(()),
        }
    }
}

/// A tenant whose topic is gone and who has many notifications waiting takes at most two
/// of a batch: another tenant's notification goes out in the same round.
#[tokio::test]
async fn a_tenant_with_a_broken_topic_does_not_hold_up_other_tenants_notifications() {
    aws::bootstrap_provider().await;
    let app = TestApp::spawn().await;
    let topic = json!({"topic_arn": format!("arn:aws:sns:{REGION}:{CUSTOMER}:alerts"), "role_arn": ROLE_ARN});
    for tenant in ["noisy", "quiet"] {
        active_config(&app, tenant, "cloudwatch").await;
        let path = format!("/v1/tenants/{tenant}/notification-target");
        assert_eq!(
            app.put(&path, &TestApp::operator_token(), &topic).await.status(),
            201
        );
    }
    for n in 0..30 {
        let body = json!({"schema_version": 1, "kind": "replay_ended", "summary": format!("backlog {n}"),
                          "tenant_id": "noisy", "occurred_at": "2026-12-07T10:00:00Z"});
        sqlx::query(
            "insert into notifications (notification_id, tenant_id, kind, body, created_at, next_attempt_at)
             values ($1, 'noisy', 'replay_ended', $2, now() - interval '1 hour', now() - interval '1 hour')",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(body)
        .execute(&app.pool())
        .await
        .unwrap();
    }
    let token = TestApp::tenant_token("quiet");
    let test = "/v1/tenants/quiet/notification-target/test";
    assert_eq!(app.post(test, &token, &json!({})).await.status(), 202);

    let publisher = FakePublisher {
        only: Some("quiet".into()),
        ..FakePublisher::default()
    };
    round(
        &app.state,
        &publisher,
        &NotifierSettings::default(),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let tried: Vec<String> = publisher
        .tried
        .lock()
        .unwrap()
        .iter()
        .map(|t| t.0.clone())
        .collect();
    assert_eq!(tried.iter().filter(|t| *t == "noisy").count(), 2, "{tried:?}");
    assert!(tried.contains(&"quiet".to_owned()), "{tried:?}");
    let listed: Value = app
        .get("/v1/tenants/quiet/notifications", &token)
        .await
        .json()
        .await
        .unwrap();
    assert!(listed["items"][0]["sent_at"].is_string(), "{listed:#}");
}
