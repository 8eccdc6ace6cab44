//! A JWKS that follows the identity provider.
//!
//! The set is fetched at start and again when its TTL ends (see [`schedule`]), by a
//! background task that lives as long as the cache. A token naming a key id the set
//! lacks causes one extra fetch, at most once per cooldown, so a rotation is picked up
//! at once and a flood of bogus key ids stays one fetch a minute. A failed fetch keeps
//! the last good set (logged, and counted in `logspoke_jwks_refreshes_total`). Until a
//! first set loads, tokens are refused and `/readyz` reports the `jwks` check failing;
//! only a file that cannot be read stops start-up.

pub mod schedule;
pub mod source;

use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use anyhow::Context;
use jsonwebtoken::Header;
use tokio::sync::Mutex;
use tokio::time::Instant;

use self::schedule::{RefreshPolicy, Schedule};
use self::source::{FetchJwks, JwksLocation, SourceFetcher};
use super::key_set::KeySet;

/// Why a fetch happened, for logs and metrics.
#[derive(Debug, Clone, Copy)]
enum Trigger {
    Start,
    Schedule,
    UnknownKid,
}

impl Trigger {
    fn label(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Schedule => "schedule",
            Self::UnknownKid => "unknown_kid",
        }
    }
}

/// What readiness reports about the key set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksStatus {
    /// A set is loaded and the latest fetch succeeded.
    Fresh {
        /// Keys in the set.
        keys: usize,
    },
    /// The last good set is serving; the latest fetch failed.
    Stale {
        /// Keys in the set.
        keys: usize,
        /// Why the latest fetch failed.
        error: String,
    },
    /// No set has loaded yet: every token is refused.
    Missing {
        /// Why the latest fetch failed.
        error: String,
    },
}

/// The loaded set and the outcome of the latest fetch.
#[derive(Default)]
struct Current {
    keys: Option<Arc<KeySet>>,
    last_error: Option<String>,
}

/// The key set of a JWKS, kept fresh.
pub(crate) struct JwksCache {
    location: JwksLocation,
    policy: RefreshPolicy,
    fetcher: Box<dyn FetchJwks>,
    current: RwLock<Current>,
    /// Held while fetching, so fetches never overlap.
    schedule: Mutex<Schedule>,
}

impl JwksCache {
    /// Loads the set once and starts the background refresh. A file that cannot be
    /// loaded fails start-up; an unreachable URL does not.
    pub(crate) async fn start(location: JwksLocation, policy: RefreshPolicy) -> anyhow::Result<Arc<Self>> {
        let fetcher = SourceFetcher::new(location.clone(), policy.fetch_timeout)?;
        let cache = Arc::new(Self::new(location, policy, Box::new(fetcher)));
        let loaded = cache.refresh(Trigger::Start).await;
        if let (JwksLocation::File(_), Err(err)) = (&cache.location, loaded) {
            return Err(err.context("LOGSPOKE_JWT_JWKS"));
        }
        if cache.keys().is_none() {
            tracing::warn!(source = %cache.location, "no JWKS loaded at start; tokens are refused until one loads");
        }
        spawn_refresh(Arc::downgrade(&cache));
        Ok(cache)
    }

    fn new(location: JwksLocation, policy: RefreshPolicy, fetcher: Box<dyn FetchJwks>) -> Self {
        Self {
            location,
            policy,
            fetcher,
            current: RwLock::new(Current::default()),
            schedule: Mutex::new(Schedule::new(Instant::now())),
        }
    }

    /// The set tokens are verified with (none until the first fetch succeeds).
    pub(crate) fn keys(&self) -> Option<Arc<KeySet>> {
        self.current.read().ok().and_then(|c| c.keys.clone())
    }

    /// The set again for a token whose key the set in hand lacks (or with no set yet):
    /// fetched anew unless an unknown kid already caused a fetch within the cooldown.
    pub(crate) async fn keys_for_unknown(&self, header: &Header) -> Option<Arc<KeySet>> {
        let mut schedule = self.schedule.lock().await;
        // A fetch that finished while this request waited may already hold the key.
        let current = self.keys();
        let satisfied = current.as_ref().is_some_and(|set| !set.lacks_kid_of(header));
        if satisfied || !schedule.claim_unknown_kid_fetch(Instant::now(), &self.policy) {
            return current;
        }
        let _ = self.fetch_and_store(&mut schedule, Trigger::UnknownKid).await;
        self.keys()
    }

    /// For `/readyz`.
    pub(crate) fn status(&self) -> JwksStatus {
        let Ok(current) = self.current.read() else {
            return JwksStatus::Missing {
                error: "the key set lock is poisoned".into(),
            };
        };
        let error = current.last_error.clone();
        match (&current.keys, error) {
            (Some(keys), None) => JwksStatus::Fresh { keys: keys.len() },
            (Some(keys), Some(error)) => JwksStatus::Stale {
                keys: keys.len(),
                error,
            },
            (None, error) => JwksStatus::Missing {
                error: error.unwrap_or_else(|| "not fetched yet".into()),
            },
        }
    }

    /// Where the set comes from, for messages.
    pub(crate) fn location(&self) -> &JwksLocation {
        &self.location
    }

    async fn refresh(&self, trigger: Trigger) -> anyhow::Result<()> {
        let mut schedule = self.schedule.lock().await;
        self.fetch_and_store(&mut schedule, trigger).await
    }

    /// The background task's step: fetch if the schedule says so; returns when to look again.
    async fn refresh_if_due(&self) -> Instant {
        let mut schedule = self.schedule.lock().await;
        if schedule.is_due(Instant::now()) {
            let _ = self.fetch_and_store(&mut schedule, Trigger::Schedule).await;
        }
        schedule.next_refresh()
    }

    /// One fetch: a good set replaces the current one; a failure keeps it.
    async fn fetch_and_store(&self, schedule: &mut Schedule, trigger: Trigger) -> anyhow::Result<()> {
        let fetched = self.fetch_key_set().await;
        let now = Instant::now();
        let outcome = if fetched.is_ok() { "ok" } else { "failed" };
        metrics::counter!("logspoke_jwks_refreshes_total", "trigger" => trigger.label(), "outcome" => outcome)
            .increment(1);
        match fetched {
            Ok((set, max_age)) => {
                let ttl = schedule.succeeded(now, max_age, &self.policy);
                self.store_keys(set, trigger, ttl);
                Ok(())
            }
            Err(err) => {
                schedule.failed(now, &self.policy);
                let message = format!("{err:#}");
                tracing::warn!(source = %self.location, trigger = trigger.label(), error = %message,
                    retry_in_secs = self.policy.retry_after.as_secs_f64(),
                    "fetching the JWKS failed; keeping the last good key set");
                if let Ok(mut current) = self.current.write() {
                    current.last_error = Some(message);
                }
                Err(err)
            }
        }
    }

    async fn fetch_key_set(&self) -> anyhow::Result<(KeySet, Option<Duration>)> {
        let fetched = self.fetcher.fetch().await?;
        let (set, skipped) = KeySet::from_jwks(&fetched.body)
            .with_context(|| format!("reading the JWKS of {}", self.location))?;
        for reason in &skipped {
            tracing::debug!(source = %self.location, reason = %reason, "ignoring a JWKS key");
        }
        Ok((set, fetched.max_age))
    }

    fn store_keys(&self, set: KeySet, trigger: Trigger, ttl: Duration) {
        let Ok(mut current) = self.current.write() else {
            return;
        };
        let changed = current.keys.as_ref().is_none_or(|old| old.kids() != set.kids());
        let kids = set.kids().join(",");
        if changed {
            tracing::info!(source = %self.location, trigger = trigger.label(), kids = %kids,
                ttl_secs = ttl.as_secs(), "loaded the JWKS");
        } else {
            tracing::debug!(source = %self.location, trigger = trigger.label(), kids = %kids,
                ttl_secs = ttl.as_secs(), "the JWKS is unchanged");
        }
        metrics::gauge!("logspoke_jwks_keys").set(set.len() as f64);
        current.keys = Some(Arc::new(set));
        current.last_error = None;
    }
}

/// Refreshes the set on its schedule until the cache is dropped.
fn spawn_refresh(cache: Weak<JwksCache>) {
    tokio::spawn(async move {
        loop {
            let Some(strong) = cache.upgrade() else {
                return;
            };
            let next = strong.refresh_if_due().await;
            drop(strong);
            tokio::time::sleep_until(next).await;
        }
    });
}

#[cfg(test)]
mod tests;
