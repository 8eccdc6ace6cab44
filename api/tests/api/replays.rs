//! Replays over HTTP: stored in Postgres, published by the real relay into a ledger table
//! in the emulator as the job item the workers run, with the progress the tests write
//! there as a worker would (`contract::replay`) read back into the replay document.

use chrono::{Duration as TimeDelta, Utc};
use logspoke_api::aws::error::AwsError;
use logspoke_api::outbox::relay;
use logspoke_api::outbox::sink::{ReadModelSink, WriteOutcome};
use logspoke_contract::replay::{ReplayJob, ReplayMode, ReplayProgress, ReplayState};
use logspoke_contract::{Attributes, ConfigChanged, Region};
use serde_json::{json, Value};

use crate::aws;
use crate::delivery_health::{active_config, config_path};
use crate::helpers::{problem, Options, TestApp};
use crate::publishing::{fast, Publishing};

/// An app and the tables its relay publishes to.
struct Replays {
    app: TestApp,
    publishing: Publishing,
}

impl Replays {
    async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    async fn start_with(options: Options) -> Self {
        let publishing = Publishing::create().await;
        let app = TestApp::spawn_with(Options {
            ledger_table: Some(publishing.ledger_table.clone()),
            ..options
        })
        .await;
        Self { app, publishing }
    }

    /// Runs the relay until the outbox is empty.
    async fn publish(&self) {
        relay::drain(&self.app.pool(), &self.publishing.sink(), &fast())
            .await
            .unwrap();
    }

    fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.publishing.sdk)
    }

    /// The job item of `replay_id`, as a worker reads it.
    async fn job(&self, replay_id: &str) -> Option<ReplayJob> {
        self.job_in(&self.dynamodb(), replay_id).await
    }

    /// The job item of `replay_id` in the ledger `dynamodb` reaches.
    async fn job_in(&self, dynamodb: &aws_sdk_dynamodb::Client, replay_id: &str) -> Option<ReplayJob> {
        let item = dynamodb
            .get_item()
            .table_name(&self.publishing.ledger_table)
            .set_key(Some(logspoke_aws::read_model::item_to_sdk(&ReplayJob::key_of(
                replay_id,
            ))))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item?;
        let attributes = logspoke_aws::read_model::attributes_from_sdk(&item).unwrap();
        Some(ReplayJob::from_attributes(&attributes).unwrap())
    }

    /// Writes `progress` into the job item, as the worker running it does.
    async fn report(&self, replay_id: &str, progress: ReplayProgress) {
        self.report_in(&self.dynamodb(), replay_id, progress).await;
    }

    /// Writes `progress` into the job item in the ledger `dynamodb` reaches.
    async fn report_in(
        &self,
        dynamodb: &aws_sdk_dynamodb::Client,
        replay_id: &str,
        progress: ReplayProgress,
    ) {
        let mut job = self
            .job_in(dynamodb, replay_id)
            .await
            .expect("the job was published");
        job.progress = progress;
        dynamodb
            .put_item()
            .table_name(&self.publishing.ledger_table)
            .set_item(Some(logspoke_aws::read_model::item_to_sdk(&job.to_attributes())))
            .send()
            .await
            .unwrap();
    }

    async fn request(&self, tenant: &str, body: &Value, token: &str) -> reqwest::Response {
        self.app
            .post(&replays_path(tenant, "cloudwatch"), token, body)
            .await
    }

    /// Starts a replay of the last hour for `tenant` (asserting the 202): its document.
    async fn start_replay(&self, tenant: &str, token: &str) -> Value {
        let response = self.request(tenant, &last_hour(), token).await;
        assert_eq!(response.status(), 202, "starting a replay for {tenant}");
        response.json().await.unwrap()
    }

    /// Starts a replay of the last hour, cancels it before any worker takes it and
    /// publishes both: the replay as it then reads.
    async fn start_and_cancel(&self, tenant: &str, token: &str) -> Value {
        let replay = self.start_replay(tenant, token).await;
        let location = format!(
            "{}/{}",
            replays_path(tenant, "cloudwatch"),
            replay["replay_id"].as_str().unwrap()
        );
        assert_eq!(self.app.delete(&location, token).await.status(), 202);
        self.publish().await;
        self.get(&location, token).await
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let response = self.app.get(path, token).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }
}

fn replays_path(tenant: &str, kind: &str) -> String {
    format!("{}/replays", config_path(tenant, kind))
}

fn iso(time: chrono::DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The last hour.
fn last_hour() -> Value {
    let now = Utc::now();
    json!({"since": iso(now - TimeDelta::hours(1)), "until": iso(now)})
}

fn progress(state: ReplayState, total: u64, done: u64, skipped: u64) -> ReplayProgress {
    ReplayProgress {
        state,
        objects_total: total,
        objects_done: done,
        objects_skipped: skipped,
        events: (done - skipped) * 10,
        bytes: (done - skipped) * 1_000,
        pages_listed: 1,
        started_at_ms: Some(Utc::now().timestamp_millis() - 3_000),
        finished_at_ms: state.is_final().then(|| Utc::now().timestamp_millis()),
        error: None,
        cursor: None,
    }
}

#[tokio::test]
async fn a_tenant_replays_a_window_and_follows_the_progress_the_worker_reports() {
    let t = Replays::start().await;
    active_config(&t.app, "acme", "cloudwatch").await;
    let token = TestApp::tenant_token("acme");
    let body = last_hour();

    let response = t.request("acme", &body, &token).await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let replay: Value = response.json().await.unwrap();
    let id = replay["replay_id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("{}/{id}", replays_path("acme", "cloudwatch")));
    assert_eq!(replay["state"], "queued");
    assert_eq!(replay["mode"], "missing", "missing is the default");
    assert_eq!(replay["requested_by"], "acme-admin");
    assert_eq!(
        (replay["objects_done"].as_u64(), replay["events"].as_u64()),
        (Some(0), Some(0))
    );

    // The relay publishes exactly the job the workers run.
    assert!(
        t.job(&id).await.is_none(),
        "nothing reaches the ledger before the relay runs"
    );
    t.publish().await;
    let job = t.job(&id).await.unwrap();
    let since = chrono::DateTime::parse_from_rfc3339(body["since"].as_str().unwrap()).unwrap();
    assert_eq!(job.target.tenant_id.as_str(), "acme");
    assert_eq!(job.target.delivery_type.as_str(), "cloudwatch");
    assert_eq!(job.since_ms, since.timestamp_millis());
    assert_eq!(job.until_ms - job.since_ms, 3_600_000);
    assert_eq!((job.mode, job.cancelled), (ReplayMode::Missing, false));
    assert_eq!(job.progress, ReplayProgress::queued());

    t.report(&id, progress(ReplayState::Delivering, 30, 12, 2)).await;
    let running = t.get(&location, &token).await;
    assert_eq!(running["state"], "delivering");
    assert_eq!(
        [
            &running["objects_total"],
            &running["objects_done"],
            &running["objects_skipped"]
        ],
        [30, 12, 2]
    );
    assert_eq!(
        (running["events"].as_u64(), running["bytes"].as_u64()),
        (Some(100), Some(10_000))
    );
    assert!(running["started_at"].is_string() && running["finished_at"].is_null());

    t.report(&id, progress(ReplayState::Done, 30, 30, 2)).await;
    let done = t.get(&location, &token).await;
    assert_eq!(
        (done["state"].as_str(), done["objects_done"].as_u64()),
        (Some("done"), Some(30))
    );
    assert!(done["finished_at"].is_string());

    // Its end is kept in Postgres: the document outlives the job item.
    t.dynamodb()
        .delete_item()
        .table_name(&t.publishing.ledger_table)
        .set_key(Some(logspoke_aws::read_model::item_to_sdk(&ReplayJob::key_of(
            &id,
        ))))
        .send()
        .await
        .unwrap();
    assert_eq!(t.get(&location, &token).await, done);

    // An ended replay no longer blocks the next; `all` is taken as asked.
    let mut again = last_hour();
    again["mode"] = json!("all");
    let second = t.request("acme", &again, &token).await;
    assert_eq!(second.status(), 202);
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["mode"], "all");

    // Newest first, paginated.
    let page = t
        .get(&format!("{}?limit=1", replays_path("acme", "cloudwatch")), &token)
        .await;
    assert_eq!(page["items"][0]["replay_id"], second["replay_id"]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = t
        .get(
            &format!("{}?limit=1&cursor={cursor}", replays_path("acme", "cloudwatch")),
            &token,
        )
        .await;
    assert_eq!(rest["items"][0], done);
    assert!(rest["next_cursor"].is_null());

    // Audited, with the document.
    let audit = t
        .get("/v1/tenants/acme/audit-events", &TestApp::operator_token())
        .await;
    let requested: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "replay.requested")
        .collect();
    assert_eq!(requested.len(), 2);
    assert_eq!(requested[1]["after"]["replay_id"], json!(id));
    assert_eq!(requested[1]["delivery_type"], "cloudwatch");
}

#[tokio::test]
async fn one_replay_per_target_runs_and_a_cancellation_reaches_the_job() {
    let t = Replays::start().await;
    active_config(&t.app, "acme", "cloudwatch").await;
    let token = TestApp::tenant_token("acme");
    let first = t.start_replay("acme", &token).await;
    let id = first["replay_id"].as_str().unwrap().to_owned();
    let location = format!("{}/{id}", replays_path("acme", "cloudwatch"));

    // Queued (not even published yet) counts as running.
    let conflict = problem(t.request("acme", &last_hour(), &token).await, 409).await;
    assert!(conflict["detail"].as_str().unwrap().contains(&id), "{conflict}");
    t.publish().await;
    t.report(&id, progress(ReplayState::Delivering, 10, 3, 0)).await;
    problem(t.request("acme", &last_hour(), &token).await, 409).await;

    let cancel = t.app.delete(&location, &token).await;
    assert_eq!(cancel.status(), 202);
    let cancelling: Value = cancel.json().await.unwrap();
    assert_eq!(
        cancelling["state"], "delivering",
        "the worker has not stopped yet"
    );
    let asked_at = cancelling["cancel_requested_at"].clone();
    assert!(asked_at.is_string());
    t.publish().await;
    assert!(t.job(&id).await.unwrap().cancelled, "the job item says cancelled");
    // Asking again answers the same; nothing new is published or audited.
    let again: Value = t.app.delete(&location, &token).await.json().await.unwrap();
    assert_eq!(again["cancel_requested_at"], asked_at);
    let conflict = problem(t.request("acme", &last_hour(), &token).await, 409).await;
    assert!(
        conflict["detail"].as_str().unwrap().contains("cancelling"),
        "{conflict}"
    );

    // The worker stops: the replay ended, a new one may start, and it cannot be cancelled.
    t.report(&id, progress(ReplayState::Cancelled, 10, 4, 0)).await;
    assert_eq!(t.get(&location, &token).await["state"], "cancelled");
    let ended = problem(t.app.delete(&location, &token).await, 409).await;
    assert!(
        ended["detail"].as_str().unwrap().contains("already ended"),
        "{ended}"
    );
    assert_eq!(t.request("acme", &last_hour(), &token).await.status(), 202);

    let audit = t
        .get("/v1/tenants/acme/audit-events", &TestApp::operator_token())
        .await;
    let cancellations = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "replay.cancel_requested")
        .count();
    assert_eq!(cancellations, 1);
}

#[tokio::test]
async fn deleting_a_config_cancels_its_unfinished_replays() {
    let t = Replays::start().await;
    active_config(&t.app, "acme", "cloudwatch").await;
    let operator = TestApp::operator_token();
    let replay = t.start_replay("acme", &operator).await;
    let id = replay["replay_id"].as_str().unwrap();
    let deleted = t.app.delete(&config_path("acme", "cloudwatch"), &operator).await;
    assert_eq!(deleted.status(), 204);
    t.publish().await;
    let job = t
        .job(id)
        .await
        .expect("the job was created before it was cancelled");
    assert!(job.cancelled);
    assert_eq!(
        job.progress.state,
        ReplayState::Cancelled,
        "no worker held it: it ended at once"
    );
}

#[tokio::test]
async fn cancelling_a_replay_no_worker_took_ends_it_at_once() {
    let t = Replays::start().await;
    active_config(&t.app, "acme", "cloudwatch").await;
    let token = TestApp::tenant_token("acme");
    let ended = t.start_and_cancel("acme", &token).await;
    assert_eq!(ended["state"], "cancelled", "{ended}");
    assert!(ended["finished_at"].is_string());
    assert_eq!(t.request("acme", &last_hour(), &token).await.status(), 202);
}

/// A sink whose ledger refuses replay jobs (the api deployed before its permission).
struct RefusingReplays(logspoke_api::outbox::sink::AwsReadModelSink);

impl ReadModelSink for RefusingReplays {
    async fn write(&self, item: &Attributes, version: i64) -> Result<WriteOutcome, AwsError> {
        self.0.write(item, version).await
    }

    async fn publish(&self, event: &ConfigChanged) -> Result<(), AwsError> {
        self.0.publish(event).await
    }

    async fn create_replay(&self, _: &Attributes) -> Result<(), AwsError> {
        Err(AwsError::service(
            "AccessDeniedException",
            400,
            "not authorized to perform dynamodb:PutItem",
        ))
    }

    async fn cancel_replay(&self, key: &Attributes) -> Result<(), AwsError> {
        self.0.cancel_replay(key).await
    }
}

#[tokio::test]
async fn a_replay_the_ledger_refuses_does_not_hold_back_the_configs_changes() {
    let t = Replays::start().await;
    active_config(&t.app, "acme", "cloudwatch").await;
    let token = TestApp::tenant_token("acme");
    let replay = t.start_replay("acme", &token).await;
    let disabled = t
        .app
        .patch(
            &config_path("acme", "cloudwatch"),
            &token,
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(disabled.status(), 200);
    let sink = RefusingReplays(t.publishing.sink());
    relay::drain(&t.app.pool(), &sink, &fast()).await.unwrap();
    let items = t.publishing.items().await;
    let item = &items[&("acme".to_owned(), "cloudwatch".to_owned())];
    assert_eq!(
        item.config.as_ref().unwrap().state,
        logspoke_contract::EffectiveState::Disabled,
        "the disable was published past the stuck replay"
    );
    assert!(t.job(replay["replay_id"].as_str().unwrap()).await.is_none());
    // Once the ledger takes it (and the row's retry delay passed), the replay follows.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    t.publish().await;
    assert!(t.job(replay["replay_id"].as_str().unwrap()).await.is_some());
}

#[tokio::test]
async fn windows_the_staging_bucket_cannot_hold_and_inactive_configs_are_refused() {
    let t = Replays::start().await;
    active_config(&t.app, "acme", "cloudwatch").await;
    let token = TestApp::tenant_token("acme");
    let now = Utc::now();
    let hour_ago = iso(now - TimeDelta::hours(1));
    let cases = [
        (json!({"since": iso(now), "until": hour_ago}), "until", "reversed"),
        (json!({"since": hour_ago, "until": hour_ago}), "until", "empty"),
        (
            json!({"since": iso(now - TimeDelta::days(89)), "until": iso(now + TimeDelta::days(2))}),
            "until",
            "90 days",
        ),
        (
            json!({"since": iso(now - TimeDelta::days(91)), "until": iso(now - TimeDelta::days(90))}),
            "since",
            "90 days",
        ),
        (
            json!({"since": "yesterday", "until": iso(now)}),
            "since",
            "RFC 3339",
        ),
    ];
    for (body, field, words) in cases {
        let refused = problem(t.request("acme", &body, &token).await, 422).await;
        let error = &refused["errors"][0];
        assert_eq!(error["field"], field, "{body}: {refused}");
        assert!(
            error["message"].as_str().unwrap().contains(words),
            "{body}: {refused}"
        );
    }
    for body in [
        json!({"since": hour_ago, "until": iso(now), "mode": "some"}),
        json!({"since": hour_ago, "until": iso(now), "force": true}),
        json!({"since": hour_ago}),
    ] {
        problem(t.request("acme", &body, &token).await, 422).await;
    }

    let disabled = t
        .app
        .patch(
            &config_path("acme", "cloudwatch"),
            &token,
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(disabled.status(), 200);
    let inactive = problem(t.request("acme", &last_hour(), &token).await, 422).await;
    assert!(
        inactive["detail"].as_str().unwrap().contains("disabled"),
        "{inactive}"
    );
    let missing = t
        .app
        .post(&replays_path("acme", "s3"), &token, &last_hour())
        .await;
    problem(missing, 404).await;
    let path = format!("{}/not-a-uuid", replays_path("acme", "cloudwatch"));
    problem(t.app.get(&path, &token).await, 404).await;
}

#[tokio::test]
async fn a_tenant_token_cannot_start_read_or_cancel_another_tenants_replays() {
    let t = Replays::start().await;
    active_config(&t.app, "acme", "cloudwatch").await;
    active_config(&t.app, "globex", "cloudwatch").await;
    let operator = TestApp::operator_token();
    let theirs = t.start_replay("globex", &operator).await;
    let location = format!(
        "{}/{}",
        replays_path("globex", "cloudwatch"),
        theirs["replay_id"].as_str().unwrap()
    );
    let acme = TestApp::tenant_token("acme");

    problem(t.request("globex", &last_hour(), &acme).await, 403).await;
    problem(t.app.get(&replays_path("globex", "cloudwatch"), &acme).await, 403).await;
    problem(t.app.get(&location, &acme).await, 403).await;
    problem(t.app.delete(&location, &acme).await, 403).await;
    // Nor through its own path: the id belongs to another config.
    let own_path = format!(
        "{}/{}",
        replays_path("acme", "cloudwatch"),
        theirs["replay_id"].as_str().unwrap()
    );
    problem(t.app.get(&own_path, &acme).await, 404).await;
    problem(t.app.delete(&own_path, &acme).await, 404).await;
    assert!(t.get(&location, &operator).await["cancel_requested_at"].is_null());
}

#[tokio::test]
async fn a_retried_request_with_an_idempotency_key_starts_one_replay() {
    let t = Replays::start().await;
    active_config(&t.app, "acme", "cloudwatch").await;
    let token = TestApp::tenant_token("acme");
    let body = last_hour();
    let send = || {
        t.app
            .request(reqwest::Method::POST, &replays_path("acme", "cloudwatch"), &token)
            .header("idempotency-key", "replay-1")
            .json(&body)
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let retry = send().await.unwrap();
    assert_eq!(retry.status(), 202);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["replay_id"], first["replay_id"]);
    let page = t.get(&replays_path("acme", "cloudwatch"), &token).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_tenant_starts_at_most_its_daily_quota_of_replays() {
    let t = Replays::start_with(Options {
        replays_per_day: 2,
        ..Options::default()
    })
    .await;
    active_config(&t.app, "acme", "cloudwatch").await;
    let token = TestApp::tenant_token("acme");
    for _ in 0..2 {
        assert_eq!(t.start_and_cancel("acme", &token).await["state"], "cancelled");
    }
    let refused = t.request("acme", &last_hour(), &token).await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((86_000..=86_400).contains(&retry_after), "{retry_after}");
    let problem = problem(refused, 429).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("24 hours"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_replay_runs_in_every_region_and_its_document_adds_up_their_progress() {
    let regions = [aws::home_region(), Region::parse("us-east-1").unwrap()];
    let t = Replays::start_with(Options {
        delivery_regions: regions.to_vec(),
        ..Options::default()
    })
    .await;
    let east_sdk = logspoke_api::aws::in_region(&t.publishing.sdk, regions[1]);
    logspoke_test_support::create_ledger_table(&east_sdk, &t.publishing.ledger_table).await;
    let west = t.dynamodb();
    let east = aws_sdk_dynamodb::Client::new(&east_sdk);
    active_config(&t.app, "acme", "cloudwatch").await;
    let token = TestApp::tenant_token("acme");

    let replay = t.start_replay("acme", &token).await;
    let id = replay["replay_id"].as_str().unwrap().to_owned();
    let location = format!("{}/{id}", replays_path("acme", "cloudwatch"));
    assert_eq!(replay["state"], "queued");
    let queued: Vec<(&Value, &Value)> = replay["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (&r["region"], &r["progress"]["state"]))
        .collect();
    assert_eq!(
        queued,
        [
            (&json!("eu-west-1"), &json!("queued")),
            (&json!("us-east-1"), &json!("queued"))
        ]
    );
    assert_eq!(replay["unreadable_regions"], json!([]));

    // The relay writes the same job into both regions' ledgers.
    relay::drain(&t.app.pool(), &t.publishing.sink_in(&regions), &fast())
        .await
        .unwrap();
    let west_job = t.job_in(&west, &id).await.expect("published in eu-west-1");
    let east_job = t.job_in(&east, &id).await.expect("published in us-east-1");
    assert_eq!(west_job, east_job);

    t.report_in(&west, &id, progress(ReplayState::Delivering, 30, 12, 2))
        .await;
    t.report_in(&east, &id, progress(ReplayState::Done, 10, 10, 0))
        .await;
    let running = t.get(&location, &token).await;
    assert_eq!(running["state"], "delivering", "{running:#}");
    assert_eq!(
        [
            &running["objects_total"],
            &running["objects_done"],
            &running["objects_skipped"]
        ],
        [40, 22, 2]
    );
    assert_eq!(running["events"], 200);
    assert_eq!(running["pages_listed"], 2);
    assert!(
        running["finished_at"].is_null(),
        "us-east-1 ended, eu-west-1 has not"
    );
    assert_eq!(running["regions"][0]["progress"]["objects_done"], 12);
    assert_eq!(running["regions"][1]["progress"]["state"], "done");
    problem(t.request("acme", &last_hour(), &token).await, 409).await;

    t.report_in(&west, &id, progress(ReplayState::Done, 30, 30, 2))
        .await;
    let done = t.get(&location, &token).await;
    assert_eq!(done["state"], "done", "{done:#}");
    assert_eq!(done["objects_done"], 40);
    assert!(done["finished_at"].is_string());
    // Recorded with each region's part: the document outlives both job items.
    for dynamodb in [&west, &east] {
        dynamodb
            .delete_item()
            .table_name(&t.publishing.ledger_table)
            .set_key(Some(logspoke_aws::read_model::item_to_sdk(&ReplayJob::key_of(
                &id,
            ))))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(t.get(&location, &token).await, done);
}

#[tokio::test]
async fn a_replay_whose_region_cannot_be_read_names_it_and_does_not_end() {
    let regions = [aws::home_region(), Region::parse("ap-south-1").unwrap()];
    let t = Replays::start_with(Options {
        delivery_regions: regions.to_vec(),
        ..Options::default()
    })
    .await;
    active_config(&t.app, "acme", "cloudwatch").await;
    let token = TestApp::tenant_token("acme");
    let replay = t.start_replay("acme", &token).await;
    let id = replay["replay_id"].as_str().unwrap().to_owned();
    let location = format!("{}/{id}", replays_path("acme", "cloudwatch"));
    // Published into eu-west-1 only (ap-south-1 has no ledger table).
    t.publish().await;
    t.report(&id, progress(ReplayState::Done, 3, 3, 0)).await;
    let read = t.get(&location, &token).await;
    assert_eq!(read["state"], "queued", "{read:#}");
    assert_eq!(
        read["unreadable_regions"],
        json!([{"region": "ap-south-1", "reason": "the delivery ledger of this region could not be read; retry later"}])
    );
    assert_eq!(read["regions"].as_array().unwrap().len(), 1);
    assert_eq!(read["regions"][0]["progress"]["state"], "done");
    assert_eq!(read["objects_done"], 3);
    problem(t.request("acme", &last_hour(), &token).await, 409).await;
}

/// A replay's end is told to a tenant with a notification target once, whether or not
/// anybody reads the replay: the notifier reads the ledger, and recording the end queues
/// the notification in the same transaction.
#[tokio::test]
async fn a_replay_that_ends_is_notified_once_without_anyone_reading_it() {
    use logspoke_api::notifications::notifier::{round, NotifierSettings};
    let t = Replays::start().await;
    active_config(&t.app, "acme", "cloudwatch").await;
    let token = TestApp::tenant_token("acme");
    let target = json!({"topic_arn": format!("arn:aws:sns:{}:{}:alerts", aws::REGION, aws::CUSTOMER),
                        "role_arn": crate::helpers::ROLE_ARN});
    let response = t
        .app
        .put("/v1/tenants/acme/notification-target", &token, &target)
        .await;
    assert_eq!(response.status(), 201);
    let replay = t.start_replay("acme", &token).await;
    let id = replay["replay_id"].as_str().unwrap().to_owned();
    t.publish().await;
    let publisher = crate::notifications::FakePublisher::default();
    let settings = NotifierSettings::default();
    round(&t.app.state, &publisher, &settings, Utc::now())
        .await
        .unwrap();
    assert!(
        publisher.tried.lock().unwrap().is_empty(),
        "a running replay tells nothing"
    );

    t.report(&id, progress(ReplayState::Done, 30, 28, 2)).await;
    round(&t.app.state, &publisher, &settings, Utc::now())
        .await
        .unwrap();
    let location = format!("{}/{id}", replays_path("acme", "cloudwatch"));
    assert_eq!(t.get(&location, &token).await["state"], "done");
    round(&t.app.state, &publisher, &settings, Utc::now())
        .await
        .unwrap();
    let sent = publisher.tried.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].1, "replay_ended");
    let body: Value = serde_json::from_str(&sent[0].2).unwrap();
    assert_eq!(
        (&body["replay_id"], &body["replay_state"]),
        (&json!(id), &json!("done"))
    );
    assert!(body["notification_id"].is_string());
}
