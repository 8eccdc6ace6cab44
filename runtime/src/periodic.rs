//! The one "every period until stopped" loop of both binaries' background tasks
//! (draining parked targets, replay jobs, health flushes, read-model resyncs).

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

/// Runs `tick` every `period` (the first one `period` after the start) until `stopped`
/// turns true; a tick in progress is finished, never cut off. Returns once stopped.
pub async fn every<F, Fut>(period: Duration, mut stopped: watch::Receiver<bool>, mut tick: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        tick().await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ticks_every_period_until_stopped() {
        let (stop, stopped) = watch::channel(false);
        let ticks = Arc::new(AtomicU32::new(0));
        let counted = ticks.clone();
        let running = tokio::spawn(every(Duration::from_secs(10), stopped, move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        }));
        tokio::time::sleep(Duration::from_secs(35)).await;
        assert_eq!(ticks.load(Ordering::SeqCst), 3);
        stop.send(true).ok();
        running.await.ok();
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(ticks.load(Ordering::SeqCst), 3, "no tick after the stop");
    }

    #[tokio::test]
    async fn a_stop_before_the_first_tick_returns_at_once() {
        let (stop, stopped) = watch::channel(false);
        stop.send(true).ok();
        every(Duration::from_secs(3600), stopped, || async {}).await;
    }
}
