//! The send loop against a scripted fake (fault injection only; the real client is
//! exercised against the emulator in the integration tests).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use super::*;
use crate::reader::LogEvent;

/// Answers each call with the next scripted result and records the calls.
#[derive(Default)]
struct Scripted {
    puts: Mutex<VecDeque<Result<Rejected, AwsError>>>,
    creates: Mutex<VecDeque<Result<(), AwsError>>>,
    log: Mutex<Vec<&'static str>>,
    bodies: Mutex<Vec<bytes::Bytes>>,
}

impl Scripted {
    fn new(puts: Vec<Result<Rejected, AwsError>>, creates: Vec<Result<(), AwsError>>) -> Self {
        Self {
            puts: Mutex::new(puts.into()),
            creates: Mutex::new(creates.into()),
            log: Mutex::default(),
            bodies: Mutex::default(),
        }
    }

    fn calls(&self) -> Vec<&'static str> {
        self.log.lock().unwrap().clone()
    }
}

impl LogsApi for Scripted {
    async fn put(&self, request: &PutRequest<'_>) -> Result<Rejected, AwsError> {
        self.log.lock().unwrap().push("put");
        self.bodies.lock().unwrap().push(request.body().clone());
        self.puts.lock().unwrap().pop_front().expect("an unexpected put")
    }

    async fn create_stream(&self, _: &str, _: &str) -> Result<(), AwsError> {
        self.log.lock().unwrap().push("create");
        self.creates
            .lock()
            .unwrap()
            .pop_front()
            .expect("an unexpected create")
    }
}

fn batch(len: usize) -> Batch {
    let events: Vec<LogEvent> = (0..len)
        .map(|i| LogEvent {
            timestamp_ms: i as i64,
            message: "m".into(),
        })
        .collect();
    Batch::of(&events)
}

fn quick() -> Backoff {
    Backoff {
        base: Duration::from_millis(1),
        max: Duration::from_millis(2),
        attempts: 4,
    }
}

fn error(code: &str, status: u16) -> AwsError {
    AwsError::service(code, status, "scripted")
}

#[tokio::test]
async fn a_missing_stream_is_created_once_then_the_batch_is_sent() {
    let api = Scripted::new(
        vec![
            Err(error("ResourceNotFoundException", 400)),
            Ok(Rejected::default()),
        ],
        vec![Ok(())],
    );
    let sent = send(&api, "g", "s", &batch(3), &quick()).await.unwrap();
    assert_eq!(
        sent,
        Sent {
            accepted: 3,
            rejected: 0
        }
    );
    assert_eq!(api.calls(), ["put", "create", "put"]);
}

#[tokio::test]
async fn every_attempt_sends_the_one_body_encoded_for_the_batch() {
    let api = Scripted::new(
        vec![
            Err(error("ResourceNotFoundException", 400)),
            Err(error("ThrottlingException", 400)),
            Ok(Rejected::default()),
        ],
        vec![Ok(())],
    );
    let batch = batch(3);
    send(&api, "g", "s", &batch, &quick()).await.unwrap();
    let bodies = api.bodies.lock().unwrap();
    assert_eq!(bodies.len(), 3);
    assert!(
        bodies.iter().all(|b| b.as_ptr() == bodies[0].as_ptr()),
        "a retry encoded the batch again"
    );
    assert_eq!(bodies[0], super::super::request::encode("g", "s", &batch));
}

/// Runs `send` under a recorder of its own and returns the rendered metrics.
fn metrics_of_send(api: &Scripted, events: usize) -> String {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        let _ = runtime.block_on(send(api, "g", "s", &batch(events), &quick()));
    });
    handle.render()
}

/// The value of the first rendered series starting with `series`.
fn value(rendered: &str, series: &str) -> f64 {
    rendered
        .lines()
        .find_map(|line| line.strip_prefix(series))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn put_log_events_counters_agree_with_a_stream_creation_and_failed_sends() {
    let created = Scripted::new(
        vec![
            Err(error("ResourceNotFoundException", 400)),
            Ok(Rejected::default()),
        ],
        vec![Ok(())],
    );
    let failed = Scripted::new(
        (0..4).map(|_| Err(error("ThrottlingException", 400))).collect(),
        vec![],
    );
    for (api, puts) in [(created, 2.0), (failed, 4.0)] {
        let rendered = metrics_of_send(&api, 2);
        let by_api: f64 = rendered
            .lines()
            .filter(|line| {
                line.starts_with("logspoke_worker_aws_calls_total{") && line.contains("api=\"PutLogEvents\"")
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert_eq!(by_api, puts, "{rendered}");
        assert_eq!(
            value(&rendered, "logspoke_worker_put_log_events_calls_total"),
            puts,
            "{rendered}"
        );
    }
}

#[tokio::test]
async fn a_missing_log_group_fails_without_looping() {
    let api = Scripted::new(
        vec![Err(error("ResourceNotFoundException", 400))],
        vec![Err(error("ResourceNotFoundException", 400))],
    );
    let err = send(&api, "g", "s", &batch(1), &quick()).await.unwrap_err();
    assert_eq!(err.code(), "ResourceNotFoundException");
    assert_eq!(api.calls(), ["put", "create"]);
}

#[tokio::test]
async fn throttling_is_retried_until_it_succeeds() {
    let api = Scripted::new(
        vec![
            Err(error("ThrottlingException", 400)),
            Err(error("ServiceUnavailableException", 503)),
            Ok(Rejected::default()),
        ],
        vec![],
    );
    let sent = send(&api, "g", "s", &batch(2), &quick()).await.unwrap();
    assert_eq!(sent.accepted, 2);
    assert_eq!(api.calls(), ["put", "put", "put"]);
}

#[tokio::test]
async fn retries_stop_after_the_attempt_limit() {
    let api = Scripted::new(
        (0..4).map(|_| Err(error("ThrottlingException", 400))).collect(),
        vec![],
    );
    let err = send(&api, "g", "s", &batch(2), &quick()).await.unwrap_err();
    assert_eq!(err.code(), "ThrottlingException");
    assert_eq!(api.calls().len(), 4);
}

#[tokio::test]
async fn access_denied_is_not_retried() {
    let api = Scripted::new(vec![Err(error("AccessDeniedException", 400))], vec![]);
    assert!(send(&api, "g", "s", &batch(2), &quick()).await.is_err());
    assert_eq!(api.calls(), ["put"]);
}

#[tokio::test]
async fn refused_events_are_counted_not_retried() {
    let rejected = Rejected {
        too_new_start: Some(8),
        too_old_end: Some(1),
        expired_end: None,
    };
    let api = Scripted::new(vec![Ok(rejected)], vec![]);
    let sent = send(&api, "g", "s", &batch(10), &quick()).await.unwrap();
    assert_eq!(
        sent,
        Sent {
            accepted: 6,
            rejected: 4
        }
    );
}

#[test]
fn rejected_counts_never_exceed_the_batch() {
    let all_old = Rejected {
        too_old_end: Some(4),
        expired_end: Some(9),
        too_new_start: Some(3),
    };
    assert_eq!(all_old.count(10), 10);
    assert_eq!(Rejected::default().count(10), 0);
    let only_new = Rejected {
        too_new_start: Some(0),
        ..Rejected::default()
    };
    assert_eq!(only_new.count(5), 5);
}
