//! The cache against a scripted fetcher: what is kept, what is fetched, and when.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex as StdMutex;

use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

use super::source::Fetched;
use super::*;

const FIXTURE: &str = include_str!("../../../tests/api/fixtures/jwks.json");

/// A key set of the fixture key under another kid (the material does not matter here).
fn set_with_kid(kid: &str) -> String {
    let mut set: Value = serde_json::from_str(FIXTURE).unwrap();
    set["keys"][0]["kid"] = json!(kid);
    set.to_string()
}

/// A scripted fetch: the document and its max-age, or why the fetch failed.
type Answer = Result<(String, Option<Duration>), String>;

/// What the fake answers next, and how often it was asked.
#[derive(Default)]
struct Script {
    answer: StdMutex<Option<Answer>>,
    calls: AtomicUsize,
}

impl Script {
    fn serve(&self, body: String, max_age: Option<Duration>) {
        *self.answer.lock().unwrap() = Some(Ok((body, max_age)));
    }

    fn fail(&self, why: &str) {
        *self.answer.lock().unwrap() = Some(Err(why.to_owned()));
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

struct Fake(Arc<Script>);

impl FetchJwks for Fake {
    fn fetch(&self) -> futures_util::future::BoxFuture<'_, anyhow::Result<Fetched>> {
        self.0.calls.fetch_add(1, Ordering::SeqCst);
        let answer = self.0.answer.lock().unwrap().clone();
        Box::pin(async move {
            match answer {
                Some(Ok((body, max_age))) => Ok(Fetched { body, max_age }),
                Some(Err(why)) => Err(anyhow::anyhow!(why)),
                None => Err(anyhow::anyhow!("nothing scripted")),
            }
        })
    }
}

fn cache(policy: RefreshPolicy) -> (JwksCache, Arc<Script>) {
    let script = Arc::new(Script::default());
    let location = JwksLocation::parse("https://idp.example/jwks.json").unwrap();
    let cache = JwksCache::new(location, policy, Box::new(Fake(script.clone())));
    (cache, script)
}

fn header(kid: &str) -> Header {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    header
}

fn kids(set: Option<Arc<KeySet>>) -> Vec<String> {
    set.map(|s| s.kids().iter().map(|k| (*k).to_owned()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_last_good_set_and_says_so() {
    let (cache, script) = cache(RefreshPolicy::default());
    script.serve(set_with_kid("k1"), None);
    cache.refresh(Trigger::Start).await.unwrap();
    assert_eq!(cache.status(), JwksStatus::Fresh { keys: 1 });

    script.fail("connection refused");
    assert!(cache.refresh(Trigger::Schedule).await.is_err());
    assert_eq!(kids(cache.keys()), ["k1"]);
    let JwksStatus::Stale { keys: 1, error } = cache.status() else {
        panic!("{:?}", cache.status());
    };
    assert!(error.contains("connection refused"), "{error}");

    script.serve("not json".into(), None);
    assert!(
        cache.refresh(Trigger::Schedule).await.is_err(),
        "a broken document is a failure too"
    );
    assert_eq!(kids(cache.keys()), ["k1"]);

    script.serve(set_with_kid("k1"), None);
    cache.refresh(Trigger::Schedule).await.unwrap();
    assert_eq!(cache.status(), JwksStatus::Fresh { keys: 1 });
}

#[tokio::test]
async fn an_unknown_kid_fetches_the_rotated_set_then_waits_out_the_cooldown() {
    let (cache, script) = cache(RefreshPolicy::default());
    script.serve(set_with_kid("old"), None);
    cache.refresh(Trigger::Start).await.unwrap();
    script.serve(set_with_kid("new"), None);

    assert_eq!(kids(cache.keys_for_unknown(&header("new")).await), ["new"]);
    assert_eq!(script.calls(), 2);
    // The key is there now: no fetch, even though the cooldown is running.
    assert_eq!(kids(cache.keys_for_unknown(&header("new")).await), ["new"]);

    let bogus = (0..200)
        .map(|i| header(&format!("bogus-{i}")))
        .collect::<Vec<_>>();
    let lookups = bogus.iter().map(|h| cache.keys_for_unknown(h));
    let sets = futures_util::future::join_all(lookups).await;
    assert!(sets.into_iter().all(|s| kids(s) == ["new"]));
    assert_eq!(script.calls(), 2, "bogus kids within the cooldown cause no fetch");
}

#[tokio::test]
async fn concurrent_unknown_kids_share_one_fetch() {
    let (cache, script) = cache(RefreshPolicy::default());
    script.serve(set_with_kid("new"), None);
    let headers = (0..50)
        .map(|i| header(&format!("unknown-{i}")))
        .collect::<Vec<_>>();
    let sets = futures_util::future::join_all(headers.iter().map(|h| cache.keys_for_unknown(h))).await;
    assert!(sets.into_iter().all(|s| kids(s) == ["new"]));
    assert_eq!(script.calls(), 1);
}

#[tokio::test]
async fn with_nothing_loaded_tokens_have_no_keys_until_a_retry_succeeds() {
    let policy = RefreshPolicy {
        retry_after: Duration::ZERO,
        ..RefreshPolicy::default()
    };
    let (cache, script) = cache(policy);
    script.fail("connection refused");
    assert!(cache.refresh(Trigger::Start).await.is_err());
    assert!(cache.keys().is_none());
    assert!(matches!(cache.status(), JwksStatus::Missing { error } if error.contains("refused")));
    assert!(cache.keys_for_unknown(&header("k1")).await.is_none());

    script.serve(set_with_kid("k1"), None);
    cache.refresh_if_due().await;
    assert_eq!(kids(cache.keys()), ["k1"]);
    assert_eq!(cache.status(), JwksStatus::Fresh { keys: 1 });
}

#[tokio::test]
async fn the_response_max_age_decides_when_the_next_refresh_is_due() {
    let (cache, script) = cache(RefreshPolicy::default());
    script.serve(set_with_kid("k1"), Some(Duration::from_secs(3600)));
    let before = Instant::now();
    cache.refresh(Trigger::Start).await.unwrap();
    let next = cache.refresh_if_due().await;
    assert_eq!(script.calls(), 1, "not due yet");
    assert!(next >= before + Duration::from_secs(3600) && next <= Instant::now() + Duration::from_secs(3600));

    script.serve(set_with_kid("k1"), Some(Duration::from_secs(7 * 24 * 3600)));
    cache.refresh(Trigger::Schedule).await.unwrap();
    let next = cache.refresh_if_due().await;
    assert!(
        next <= Instant::now() + Duration::from_secs(24 * 3600),
        "clamped to a day"
    );
}

#[tokio::test]
async fn a_file_that_cannot_be_read_stops_start_up_but_an_unreachable_url_does_not() {
    let missing = JwksLocation::parse("/nonexistent/jwks.json").unwrap();
    let err = JwksCache::start(missing, RefreshPolicy::default())
        .await
        .err()
        .unwrap();
    let err = format!("{err:#}");
    assert!(err.starts_with("LOGSPOKE_JWT_JWKS: "), "{err}");

    // Port 1 on loopback refuses connections.
    let down = JwksLocation::parse("http://127.0.0.1:1/jwks.json").unwrap();
    let cache = JwksCache::start(down, RefreshPolicy::default()).await.unwrap();
    assert!(cache.keys().is_none());
    assert!(matches!(cache.status(), JwksStatus::Missing { .. }));
}
