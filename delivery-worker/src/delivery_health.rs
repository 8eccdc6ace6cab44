//! Delivery health per target: what this replica saw, gathered in memory and merged into
//! the ledger's health item and counter buckets every few seconds (not per object), and
//! the `logspoke_worker_targets{state}` gauge.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use logspoke_contract::ledger::{bucket_start, Counters, HealthState, LastError, Target, IDLE_AFTER_MS};
use tokio::sync::watch;

use crate::clock::now_ms;
use crate::ledger::{HealthReport, LastDelivery, Ledger};

/// What one replica saw of one target since its last flush, and since it started.
#[derive(Debug, Default)]
struct Seen {
    counters: HashMap<i64, Counters>,
    delivered: Option<LastDelivery>,
    failed: Option<LastError>,
    failures_since_delivery: u64,
    /// Since start: the last delivery and whether the last attempt failed (the gauge).
    last_delivered_ms: Option<i64>,
    failing: bool,
}

/// Gathers outcomes per target; [`DeliveryHealth::flush`] writes them.
#[derive(Debug, Default)]
pub struct DeliveryHealth {
    seen: Mutex<HashMap<Target, Seen>>,
}

impl DeliveryHealth {
    fn with<R>(&self, target: &Target, f: impl FnOnce(&mut Seen) -> R) -> R {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        f(seen.entry(target.clone()).or_default())
    }

    /// The target received an object staged at `event_time_ms` (or redelivered it
    /// nothing: `added` holds what it received).
    pub fn delivered(&self, target: &Target, event_time_ms: Option<i64>, added: Counters) {
        let now = now_ms();
        self.with(target, |seen| {
            seen.counters.entry(bucket_start(now)).or_default().add(&added);
            let event = event_time_ms.unwrap_or(now);
            seen.delivered = Some(LastDelivery {
                at_ms: now,
                event_time_ms: event,
                lag_seconds: (now - event).max(0) as f64 / 1000.0,
            });
            seen.failures_since_delivery = 0;
            seen.last_delivered_ms = Some(now);
            seen.failing = false;
        });
    }

    /// Counts without a delivery: a duplicate avoided, an expired parked object.
    pub fn count(&self, target: &Target, added: Counters) {
        self.with(target, |seen| {
            seen.counters
                .entry(bucket_start(now_ms()))
                .or_default()
                .add(&added);
        });
    }

    /// The target failed (`message` is scrubbed of ExternalIds by the caller).
    pub fn failed(&self, target: &Target, cause: logspoke_contract::ledger::Cause, message: &str) {
        let now = now_ms();
        self.with(target, |seen| {
            seen.failed = Some(LastError {
                cause,
                message: message.chars().take(1024).collect(),
                at_ms: now,
            });
            seen.failures_since_delivery += 1;
            seen.failing = true;
        });
    }

    /// Takes what was gathered since the last flush.
    fn take(&self) -> Vec<HealthReport> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter_mut()
            .filter_map(|(target, seen)| {
                let counters: Vec<(i64, Counters)> = seen.counters.drain().collect();
                let delivered = seen.delivered.take();
                let failed = seen
                    .failed
                    .take()
                    .map(|e| (e, std::mem::take(&mut seen.failures_since_delivery)));
                (!counters.is_empty() || delivered.is_some() || failed.is_some()).then(|| HealthReport {
                    target: target.clone(),
                    counters,
                    delivered,
                    failed,
                })
            })
            .collect()
    }

    /// Puts a report that could not be written back, so the next flush carries it.
    fn restore(&self, report: HealthReport) {
        self.with(&report.target, |seen| {
            for (start, counters) in report.counters {
                seen.counters.entry(start).or_default().add(&counters);
            }
            if seen.delivered.is_none() {
                seen.delivered = report.delivered;
            }
            if let Some((error, count)) = report.failed {
                seen.failed.get_or_insert(error);
                seen.failures_since_delivery += count;
            }
        });
    }

    /// Writes everything gathered; what cannot be written is kept for the next flush.
    pub async fn flush<L: Ledger>(&self, ledger: &L) {
        for report in self.take() {
            if let Err(err) = ledger.report(&report).await {
                tracing::warn!(target = %report.target, error = %err, "could not write delivery health; keeping it for the next flush");
                self.restore(report);
            }
        }
        self.publish_gauge();
    }

    /// Sets `logspoke_worker_targets{state}` from what this replica saw since start.
    fn publish_gauge(&self) {
        let now = now_ms();
        let mut counts: HashMap<HealthState, u64> = HashMap::new();
        {
            let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            for seen in seen.values() {
                let state = if seen.failing {
                    HealthState::Failing
                } else if seen.last_delivered_ms.is_some_and(|at| now - at < IDLE_AFTER_MS) {
                    HealthState::Healthy
                } else {
                    HealthState::Idle
                };
                *counts.entry(state).or_default() += 1;
            }
        }
        for state in [HealthState::Healthy, HealthState::Failing, HealthState::Idle] {
            metrics::gauge!("logspoke_worker_targets", "state" => state.as_str())
                .set(counts.get(&state).copied().unwrap_or(0) as f64);
        }
    }

    /// Flushes every `period` until `stopped`, and once more then.
    pub async fn run<L: Ledger>(&self, ledger: &L, period: Duration, stopped: watch::Receiver<bool>) {
        logspoke_runtime::periodic::every(period, stopped, || self.flush(ledger)).await;
        self.flush(ledger).await;
    }
}

#[cfg(test)]
mod tests {
    use logspoke_contract::ledger::Cause;
    use logspoke_contract::{DeliveryType, TenantId};

    use super::*;
    use crate::ledger::in_memory::InMemoryLedger;

    fn target() -> Target {
        Target::new(TenantId::parse("acme").unwrap(), DeliveryType::S3)
    }

    #[tokio::test]
    async fn a_flush_carries_counters_the_last_delivery_and_failures_since_it() {
        let reporter = DeliveryHealth::default();
        let ledger = InMemoryLedger::default();
        let one = Counters {
            objects: 1,
            bytes: 10,
            ..Counters::default()
        };
        reporter.failed(&target(), Cause::BucketMissing, "NoSuchBucket");
        reporter.delivered(&target(), Some(now_ms() - 2_000), one);
        reporter.delivered(&target(), Some(now_ms() - 1_000), one);
        reporter.failed(&target(), Cause::BucketMissing, "NoSuchBucket");
        reporter.flush(&ledger).await;
        let reports = ledger.reports.lock().unwrap().clone();
        assert_eq!(reports.len(), 1);
        let report = &reports[0];
        let total = report
            .counters
            .iter()
            .fold(Counters::default(), |mut sum, (_, c)| {
                sum.add(c);
                sum
            });
        assert_eq!((total.objects, total.bytes), (2, 20));
        let lag = report.delivered.unwrap().lag_seconds;
        assert!((0.5..5.0).contains(&lag), "{lag}");
        let (error, count) = report.failed.clone().unwrap();
        assert_eq!((error.cause, count), (Cause::BucketMissing, 1));
        reporter.flush(&ledger).await;
        assert_eq!(
            ledger.reports.lock().unwrap().len(),
            1,
            "nothing new: nothing written"
        );
    }
}
