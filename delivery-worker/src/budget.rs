//! The worker's memory bound: a byte budget for what decoding may hold beyond the fixed
//! buffers of each object in flight, so that no file's content can blow up the worker.
//!
//! What an object in flight holds whatever its file, `P` ≈ 5 MiB: the read side (S3 body
//! chunks, the inflate window, the 128 KiB read buffer, a line buffer of at most 128 KiB)
//! and two batches of at most 1 MiB of messages: the one being sent (with its JSON body,
//! encoded once) and the one being packed or waiting for it (`BATCHES_AHEAD` = 1; the
//! decoder packs only while it holds a free slot). `LOGSPOKE_WORKER_MAX_IN_FLIGHT` (`N`)
//! bounds how many objects hold that.
//!
//! What a file's *content* can make large is one line: up to the 8 MiB line limit `L`.
//! The reader holds such a line once (its message is unescaped in place and lent from
//! that buffer), and the packer copies it piece by piece, each piece of at most 1 MiB
//! filling a batch of its own, so the batches are the object's usual two plus the piece
//! being copied. Before a line outgrows the read buffer, the reader reserves
//! `long_line_cost` (`L` + 1 MiB, `crate::sinks::cloudwatch`) from the worker's
//! [`DecodeBudget`] (`LOGSPOKE_WORKER_MAX_DECODE_BYTES`, `B`; one per worker, built with
//! its other parts and handed to the CloudWatch sink), and keeps it until it reads the next line:
//! by then all of the line's batches but the one being sent and the one being packed are
//! gone, and those two are the object's `P`.
//! So, whatever the files:
//!
//! ```text
//! peak RSS ≈ idle + N × P + max(B, L + 1 MiB)
//!          ≈ 16 MiB + 16 × 5 MiB + 18 MiB = 114 MiB at the defaults
//! ```
//!
//! (`scripts/bench-worker --long-lines` queues 20 files of 8 MiB lines at once: 105 MiB.)
//!
//! No deadlock: a reservation asks for at most the whole budget (clamped, so a budget
//! below one long line's cost lets one long line decode at a time rather than none); a
//! reader waiting for the budget holds none of it (it released its last reservation
//! before reading on); and a holder needs nothing more from the budget to finish (it only
//! waits for its own sender). The wait blocks the decoding thread, which is a blocking-
//! pool thread, never an async worker. A holder whose sender is slow (throttling) keeps
//! its share meanwhile, which is why the default lets two long lines decode at a time.
//!
//! **A share per tenant.** While another tenant waits, one tenant may hold at most its
//! share of the budget (`LOGSPOKE_WORKER_TENANT_SHARE` of it, and at least one long
//! line); with nobody else waiting it may take it all. A waiting reader holds nothing, so
//! what a tenant holds belongs to readers that will release it: no circular wait.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// A pool of bytes that decoders reserve from before holding a long line. Cheap to clone
/// (clones share the pool); [`DecodeBudget::for_tenant`] tags a clone with the tenant
/// whose share its reservations count against.
#[derive(Debug, Clone)]
pub struct DecodeBudget {
    pool: Arc<Pool>,
    tenant: Option<Arc<str>>,
}

#[derive(Debug)]
struct Pool {
    total: usize,
    /// What one tenant may hold while another tenant waits (at least one request).
    share: usize,
    state: Mutex<State>,
    freed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    available: usize,
    held: HashMap<Arc<str>, usize>,
    waiting: HashMap<Arc<str>, usize>,
}

impl State {
    /// Whether `tenant` may take `wanted` bytes now: they are free, and the tenant stays
    /// within its share or nobody else waits.
    fn grants(&self, tenant: Option<&Arc<str>>, wanted: usize, share: usize) -> bool {
        if self.available < wanted {
            return false;
        }
        let Some(tenant) = tenant else { return true };
        let held = self.held.get(tenant).copied().unwrap_or(0);
        let others_wait = self.waiting.iter().any(|(t, n)| t != tenant && *n > 0);
        held + wanted <= share.max(wanted) || !others_wait
    }
}

/// Bytes taken from a [`DecodeBudget`]; they return to it when this is dropped.
#[derive(Debug)]
pub struct Reservation {
    pool: Arc<Pool>,
    tenant: Option<Arc<str>>,
    bytes: usize,
}

impl Reservation {
    /// How many bytes this holds (the request, clamped to the budget).
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut state = self.pool.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.available += self.bytes;
        if let Some(tenant) = &self.tenant {
            if let Some(held) = state.held.get_mut(tenant) {
                *held = held.saturating_sub(self.bytes);
                if *held == 0 {
                    state.held.remove(tenant);
                }
            }
        }
        drop(state);
        self.pool.freed.notify_all();
    }
}

impl DecodeBudget {
    /// A budget of `bytes` (at least 1; one request may take them all), with no tenant
    /// holding more than all of it.
    pub fn new(bytes: usize) -> Self {
        Self::with_share(bytes, bytes)
    }

    /// A budget of `bytes` of which one tenant may hold at most `share` while another
    /// tenant waits (and at least one request's worth); with nobody else waiting it may
    /// take it all.
    pub fn with_share(bytes: usize, share: usize) -> Self {
        let total = bytes.max(1);
        let pool = Pool {
            total,
            share,
            state: Mutex::new(State {
                available: total,
                ..State::default()
            }),
            freed: Condvar::new(),
        };
        Self {
            pool: Arc::new(pool),
            tenant: None,
        }
    }

    /// This budget, with reservations counted against `tenant`'s share.
    #[must_use]
    pub fn for_tenant(&self, tenant: &str) -> Self {
        Self {
            pool: self.pool.clone(),
            tenant: Some(Arc::from(tenant)),
        }
    }

    /// The budget's size in bytes.
    pub fn total(&self) -> usize {
        self.pool.total
    }

    /// Bytes not reserved right now.
    pub fn available(&self) -> usize {
        let state = self.pool.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.available
    }

    /// Readers waiting now, and what `tenant` holds: what a test waits for instead of
    /// sleeping and hoping a thread got there.
    #[cfg(test)]
    fn waiting_and_held(&self, tenant: &str) -> (usize, usize) {
        let state = self.pool.state.lock().unwrap_or_else(PoisonError::into_inner);
        let waiting = state.waiting.values().sum();
        (waiting, state.held.get(tenant).copied().unwrap_or(0))
    }

    /// Waits (blocking this thread: call it from a blocking-pool thread) until `bytes`,
    /// clamped to the whole budget so that it can always be granted, are free and this
    /// budget's tenant may take them (within its share, or nobody else waits).
    pub fn reserve_blocking(&self, bytes: usize) -> Reservation {
        let pool = &self.pool;
        let wanted = bytes.min(pool.total);
        let tenant = self.tenant.as_ref();
        let mut state = pool.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !state.grants(tenant, wanted, pool.share) {
            metrics::counter!("logspoke_worker_decode_budget_waits_total").increment(1);
            if let Some(tenant) = tenant {
                *state.waiting.entry(tenant.clone()).or_default() += 1;
            }
            while !state.grants(tenant, wanted, pool.share) {
                state = pool.freed.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
            if let Some(tenant) = tenant {
                if let Some(count) = state.waiting.get_mut(tenant) {
                    *count -= 1;
                    if *count == 0 {
                        state.waiting.remove(tenant);
                    }
                }
            }
            // A tenant that held back for this one may go on now.
            pool.freed.notify_all();
        }
        state.available -= wanted;
        if let Some(tenant) = tenant {
            *state.held.entry(tenant.clone()).or_default() += wanted;
        }
        Reservation {
            pool: pool.clone(),
            tenant: tenant.cloned(),
            bytes: wanted,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_reservation_returns_its_bytes_when_dropped() {
        let budget = DecodeBudget::new(100);
        let held = budget.reserve_blocking(60);
        assert_eq!((held.bytes(), budget.available()), (60, 40));
        drop(held);
        assert_eq!(budget.available(), 100);
    }

    #[test]
    fn a_request_larger_than_the_budget_is_clamped_instead_of_waiting_forever() {
        let budget = DecodeBudget::new(10);
        let held = budget.reserve_blocking(usize::MAX);
        assert_eq!((held.bytes(), budget.available()), (10, 0));
    }

    #[test]
    fn a_tenant_past_its_share_waits_while_another_tenant_waits_and_takes_all_when_alone() {
        let budget = DecodeBudget::with_share(100, 40);
        let (noisy, quiet) = (budget.for_tenant("noisy"), budget.for_tenant("quiet"));
        let waiters = |n: usize| {
            while budget.waiting_and_held("quiet").0 != n {
                thread::sleep(Duration::from_millis(1));
            }
        };
        // Alone, the noisy tenant may take everything.
        let first = noisy.reserve_blocking(40);
        let second = noisy.reserve_blocking(40);
        assert_eq!(budget.available(), 20);
        // The quiet tenant waits for bytes; meanwhile the noisy one may take no more.
        let (done, granted) = mpsc::channel();
        let waiter = {
            let (quiet, done) = (quiet.clone(), done.clone());
            thread::spawn(move || {
                let held = quiet.reserve_blocking(40);
                done.send(("quiet", held.bytes(), 0)).ok();
                thread::sleep(Duration::from_millis(200));
            })
        };
        waiters(1);
        let third = {
            let (noisy, budget) = (noisy.clone(), budget.clone());
            thread::spawn(move || {
                let held = noisy.reserve_blocking(20);
                // What the quiet tenant held when the noisy one got its bytes.
                let quiet_held = budget.waiting_and_held("quiet").1;
                done.send(("noisy", held.bytes(), quiet_held)).ok();
            })
        };
        // 20 bytes are free, yet the noisy tenant (past its share) waits too.
        waiters(2);
        drop(first);
        // 60 bytes are free: the noisy tenant yields to the quiet one, then gets its 20.
        let mut grants: Vec<_> = (0..2)
            .filter_map(|_| granted.recv_timeout(Duration::from_secs(5)).ok())
            .collect();
        grants.sort();
        assert_eq!(grants, [("noisy", 20, 40), ("quiet", 40, 0)]);
        waiter.join().ok();
        third.join().ok();
        drop(second);
        assert_eq!(budget.available(), 100);
    }

    #[test]
    fn a_reader_waits_until_another_releases() {
        let budget = DecodeBudget::new(100);
        let first = budget.reserve_blocking(80);
        let (done, granted) = mpsc::channel();
        let waiter = {
            let budget = budget.clone();
            thread::spawn(move || {
                let second = budget.reserve_blocking(80);
                done.send(second.bytes()).ok();
            })
        };
        assert!(
            granted.recv_timeout(Duration::from_millis(100)).is_err(),
            "granted too early"
        );
        drop(first);
        assert_eq!(granted.recv_timeout(Duration::from_secs(5)).ok(), Some(80));
        waiter.join().ok();
        assert_eq!(budget.available(), 100);
    }
}
