//! Sending packed batches with `PutLogEvents`: the stream is created only when CloudWatch
//! says it does not exist (never a `DescribeLogStreams` per batch), throttling and 5xx
//! are retried with jittered backoff, and events CloudWatch refuses one by one (too old,
//! too new, expired) are counted as rejected, not retried. Each batch is encoded once
//! ([`super::request`]); every attempt sends those bytes.

use std::future::Future;

use aws_smithy_types::body::SdkBody;
use logspoke_aws::AwsError;

use super::packer::Batch;
use super::request::PutRequest;
use logspoke_runtime::backoff::Backoff;

/// Events of a batch CloudWatch refused one by one (`rejectedLogEventsInfo`): indexes as
/// AWS reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rejected {
    /// Events from this index on were more than 2 h in the future.
    pub too_new_start: Option<usize>,
    /// Events up to and including this index were older than 14 days.
    pub too_old_end: Option<usize>,
    /// Events up to and including this index were older than the retention.
    pub expired_end: Option<usize>,
}

impl Rejected {
    /// How many of `len` events were refused.
    pub fn count(&self, len: usize) -> usize {
        let old = self
            .too_old_end
            .max(self.expired_end)
            .map_or(0, |end| (end + 1).min(len));
        let new = self
            .too_new_start
            .map_or(0, |start| len.saturating_sub(start.max(old)));
        old + new
    }
}

/// What the sink needs of CloudWatch Logs.
pub trait LogsApi: Send + Sync {
    /// One `PutLogEvents` call.
    fn put(&self, request: &PutRequest<'_>) -> impl Future<Output = Result<Rejected, AwsError>> + Send;

    /// `CreateLogStream`; an existing stream is not an error.
    fn create_stream(&self, group: &str, stream: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// How one batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// Events CloudWatch accepted.
    pub accepted: usize,
    /// Events it refused one by one.
    pub rejected: usize,
}

/// Retries of one `PutLogEvents` call that AWS throttled or failed: a few quick ones, at
/// most 0.7 s of waiting in all. A call still throttled after them parks the object (the
/// account's quota is the customer's state, `crate::pipeline::target`), so no attempt
/// sleeps long in an in-flight slot.
pub const RETRIES: Backoff = Backoff {
    base: std::time::Duration::from_millis(100),
    max: std::time::Duration::from_millis(400),
    attempts: 4,
};

/// Sends `batch`, creating the stream once if needed and retrying transient failures.
pub async fn send<L: LogsApi>(
    api: &L,
    group: &str,
    stream: &str,
    batch: &Batch,
    backoff: &Backoff,
) -> Result<Sent, AwsError> {
    let request = PutRequest::new(group, stream, batch);
    let mut created = false;
    let mut retry = 0;
    loop {
        let result = api.put(&request).await;
        crate::telemetry::put_log_events_call(&result);
        let error = match result {
            Ok(rejected) => {
                let rejected = rejected.count(batch.len());
                let accepted = batch.len() - rejected;
                return Ok(Sent { accepted, rejected });
            }
            Err(error) => error,
        };
        if error.code() == "ResourceNotFoundException" && !created {
            let created_stream = api.create_stream(group, stream).await;
            crate::telemetry::aws_call("CreateLogStream", &created_stream);
            created_stream?;
            created = true;
            continue;
        }
        retry += 1;
        if !error.is_transient() || retry >= backoff.attempts {
            return Err(error);
        }
        tokio::time::sleep(backoff.delay(retry)).await;
    }
}

/// The real CloudWatch Logs client (already holding the tenant's credentials and region).
#[derive(Debug, Clone)]
pub struct AwsLogs {
    client: aws_sdk_cloudwatchlogs::Client,
}

impl AwsLogs {
    /// Wraps a client built for one tenant target.
    pub fn new(client: aws_sdk_cloudwatchlogs::Client) -> Self {
        Self { client }
    }
}

impl LogsApi for AwsLogs {
    /// The SDK builds the request for the group and stream alone; the body is then swapped
    /// for the batch's encoded one before signing (so the signature covers it), on every
    /// attempt the SDK makes.
    async fn put(&self, request: &PutRequest<'_>) -> Result<Rejected, AwsError> {
        let body = request.body().clone();
        let output = self
            .client
            .put_log_events()
            .log_group_name(request.group)
            .log_stream_name(request.stream)
            .set_log_events(Some(Vec::new()))
            .customize()
            .mutate_request(move |http| {
                http.headers_mut()
                    .insert("content-length", body.len().to_string());
                *http.body_mut() = SdkBody::from(body.clone());
            })
            .send()
            .await?;
        let index = |i: Option<i32>| i.and_then(|i| usize::try_from(i).ok());
        Ok(output
            .rejected_log_events_info()
            .map_or_else(Rejected::default, |info| Rejected {
                too_new_start: index(info.too_new_log_event_start_index()),
                too_old_end: index(info.too_old_log_event_end_index()),
                expired_end: index(info.expired_log_event_end_index()),
            }))
    }

    async fn create_stream(&self, group: &str, stream: &str) -> Result<(), AwsError> {
        match self
            .client
            .create_log_stream()
            .log_group_name(group)
            .log_stream_name(stream)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => {
                let err = AwsError::from(err);
                if err.code() == "ResourceAlreadyExistsException" {
                    Ok(())
                } else {
                    Err(err)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
