//! A target whose filter removes a whole object ([`LineFilter::DropAll`]: a rule on the
//! key, such as an excluded namespace): nothing is sent and nothing is called on the
//! customer's side, not even its role; the object is read only to count its lines as
//! filtered, and it is delivered (0 events), never parked or retried for the target.
//!
//! [`LineFilter::DropAll`]: crate::filter::LineFilter::DropAll

use std::io::Read;

use aws_sdk_s3::primitives::ByteStream;
use logspoke_contract::Cause;
use tokio_util::io::SyncIoBridge;

use super::cloudwatch::{Tuning, LONG_LINE_COST};
use super::{read_failed, record_bad_lines, Delivered, TargetError};
use crate::budget::DecodeBudget;
use crate::reader::{EventReader, ReadError, ReadStats};

/// Reads `body` to count its lines: all of them filtered.
pub async fn count(body: ByteStream, tuning: &Tuning, tenant_id: &str) -> Result<Delivered, TargetError> {
    let limits = (tuning.budget.for_tenant(tenant_id), tuning.max_object_bytes);
    let counting =
        tokio::task::spawn_blocking(move || count_events(SyncIoBridge::new(body.into_async_read()), limits));
    let stats = counting
        .await
        .map_err(|e| TargetError::Transient(Cause::AwsUnavailable, format!("counting task failed: {e}")))?
        .map_err(read_failed)?;
    record_bad_lines(&stats);
    Ok(Delivered {
        events_filtered: stats.events,
        ..Delivered::default()
    })
}

/// The counters of `input` read to its end, within the object's limits.
fn count_events<R: Read>(
    input: R,
    (budget, max_object_bytes): (DecodeBudget, u64),
) -> Result<ReadStats, ReadError> {
    let mut events = EventReader::new(input, 0)?
        .with_budget(budget, LONG_LINE_COST)
        .with_max_object_bytes(max_object_bytes);
    while events.next_event()?.is_some() {}
    Ok(events.into_stats())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dropped_object_is_delivered_with_its_events_counted_as_filtered() {
        let lines = "{\"message\":\"a\"}\nnot json\n\n{\"message\":\"b\",\"timestamp\":1}\n";
        let tuning = Tuning::new(logspoke_runtime::backoff::Backoff::default(), 1 << 20);
        let delivered = count(ByteStream::from_static(lines.as_bytes()), &tuning, "acme")
            .await
            .unwrap();
        assert_eq!(
            delivered,
            Delivered {
                events_filtered: 2,
                ..Delivered::default()
            },
            "nothing sent, the two events counted (the bad line is a bad line)"
        );
    }
}
