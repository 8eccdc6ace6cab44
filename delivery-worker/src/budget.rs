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

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A pool of bytes that decoders reserve from before holding a long line. Cheap to clone
/// (clones share the pool).
#[derive(Debug, Clone)]
pub struct DecodeBudget {
    permits: Arc<Semaphore>,
    total: u32,
}

/// Bytes taken from a [`DecodeBudget`]; they return to it when this is dropped.
#[derive(Debug)]
pub struct Reservation {
    _permits: Option<OwnedSemaphorePermit>,
    bytes: usize,
}

impl Reservation {
    /// How many bytes this holds (the request, clamped to the budget).
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl DecodeBudget {
    /// A budget of `bytes` (at least 1, at most `u32::MAX`: a permit is a byte and one
    /// request may take them all).
    pub fn new(bytes: usize) -> Self {
        let total = u32::try_from(bytes).unwrap_or(u32::MAX).max(1);
        Self {
            permits: Arc::new(Semaphore::new(total as usize)),
            total,
        }
    }

    /// The budget's size in bytes.
    pub fn total(&self) -> usize {
        self.total as usize
    }

    /// Bytes not reserved right now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    /// Waits (blocking this thread: call it from a blocking-pool thread) until `bytes`,
    /// clamped to the whole budget so that it can always be granted, are free; requests
    /// are served in order.
    pub fn reserve_blocking(&self, bytes: usize) -> Reservation {
        let wanted = u32::try_from(bytes).unwrap_or(u32::MAX).min(self.total);
        let permits = match self.permits.clone().try_acquire_many_owned(wanted) {
            Ok(permits) => Some(permits),
            Err(_) => {
                metrics::counter!("logspoke_worker_decode_budget_waits_total").increment(1);
                block_on(self.permits.clone().acquire_many_owned(wanted)).ok()
            }
        };
        Reservation {
            _permits: permits,
            bytes: wanted as usize,
        }
    }
}

/// Runs `future` to completion on this (non-async) thread, parking between polls: how a
/// decoder waits for memory to free up (budget bytes, a slot for its next batch).
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
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
