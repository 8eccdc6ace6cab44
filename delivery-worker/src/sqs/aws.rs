//! The real [`Queue`]: the delivery queue in SQS, with the worker's own credentials. Each
//! call is counted in `logspoke_worker_aws_calls_total` like the worker's other AWS calls,
//! so that the SQS requests an object costs can be read off a running worker.

use std::time::Duration;

use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};
use logspoke_aws::AwsError;

use super::{Outgoing, Queue, Received};

/// The delivery queue.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    /// The queue at `url`, with the worker's own credentials.
    pub fn new(sdk: &aws_config::SdkConfig, url: &str) -> Self {
        Self {
            client: aws_sdk_sqs::Client::new(sdk),
            url: url.to_owned(),
        }
    }
}

impl Queue for SqsQueue {
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, AwsError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(i32::try_from(max.clamp(1, 10)).unwrap_or(10))
            .wait_time_seconds(i32::try_from(wait.as_secs().min(20)).unwrap_or(20))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(AwsError::from);
        crate::telemetry::aws_call("ReceiveMessage", &output);
        Ok(output?
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(received)
            .collect())
    }

    async fn set_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), AwsError> {
        let result = self
            .client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(i32::try_from(timeout.as_secs()).unwrap_or(43_200))
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from);
        crate::telemetry::aws_call("ChangeMessageVisibility", &result);
        result
    }

    async fn delete(&self, receipts: &[String]) -> Result<usize, AwsError> {
        let entries = receipts
            .iter()
            .enumerate()
            .filter_map(|(i, receipt)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .build()
                    .ok()
            })
            .collect();
        let output = self
            .client
            .delete_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(AwsError::from);
        crate::telemetry::aws_call("DeleteMessageBatch", &output);
        let output = output?;
        for failed in output.failed() {
            tracing::warn!(
                code = failed.code(),
                message = failed.message(),
                "SQS did not delete a message; it will be delivered again"
            );
        }
        Ok(output.failed().len())
    }

    async fn send(&self, messages: &[Outgoing]) -> Result<Vec<usize>, AwsError> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let sent = self.send_batch(messages).await;
        crate::telemetry::aws_call("SendMessageBatch", &sent);
        sent
    }
}

impl SqsQueue {
    /// Sends `messages` in one `SendMessageBatch`; the indices of those sent.
    async fn send_batch(&self, messages: &[Outgoing]) -> Result<Vec<usize>, AwsError> {
        let entries = messages
            .iter()
            .enumerate()
            .filter_map(|(i, message)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(&message.body)
                    .set_message_group_id((!message.group.is_empty()).then(|| message.group.clone()))
                    .build()
                    .ok()
            })
            .collect();
        let output = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await?;
        for failed in output.failed() {
            tracing::warn!(
                code = failed.code(),
                message = failed.message(),
                "SQS did not take a message"
            );
        }
        Ok(output
            .successful()
            .iter()
            .filter_map(|entry| entry.id().parse().ok())
            .collect())
    }
}

/// What the worker needs of a message. One without a receipt handle (SQS always sends
/// one) could be neither deleted nor retried, so it is left alone.
fn received(message: Message) -> Option<Received> {
    let receive_count = message
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|count| count.parse().ok())
        .unwrap_or(1);
    Some(Received {
        receipt: message.receipt_handle?,
        body: message.body.unwrap_or_default(),
        receive_count,
    })
}
