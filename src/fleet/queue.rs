//! The SQS adapter of fleet mode: sends [`WorkMessage`]s to the FIFO queue, ten per
//! `SendMessageBatch` call (SQS's limit), and says which were sent and which were not; and
//! sets failed records' visibility timeouts (`ChangeMessageVisibilityBatch`, ten per call),
//! saying which could not be changed.
//!
//! It decides nothing: which messages to send is [`super::message`]'s job, how soon a record
//! is retried [`super::retry`]'s, and what to do about a message that was not sent is the
//! handler's (it fails the invocation, so the event is retried; the messages that were sent
//! deduplicate).

use std::time::Duration;

use aws_sdk_sqs::types::{
    BatchResultErrorEntry, ChangeMessageVisibilityBatchRequestEntry, SendMessageBatchRequestEntry,
};
use serde::Serialize;
use serde_json::Value;

use super::message::WorkMessage;

/// `SendMessageBatch` and `ChangeMessageVisibilityBatch` take at most this many entries.
pub const SEND_BATCH_LIMIT: usize = 10;

/// The id of a batch call's `index`th entry.
fn entry_id(index: usize) -> String {
    format!("m{index}")
}

/// The entry of `chunk` an id from [`entry_id`] names.
fn entry_of<'a, T>(chunk: &'a [T], id: &str) -> Option<&'a T> {
    id.strip_prefix('m')
        .and_then(|i| i.parse::<usize>().ok())
        .and_then(|i| chunk.get(i))
}

/// The work queue: its URL and an SQS client.
#[derive(Debug, Clone)]
pub struct WorkQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

/// A message SQS accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SentMessage {
    pub cluster: String,
    pub message_id: String,
    pub deduplication_id: String,
    pub body: Value,
}

/// A message SQS did not accept, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnsentMessage {
    pub cluster: String,
    pub error: String,
}

/// Why SQS refused one entry of a batch call.
fn entry_error(failed: &BatchResultErrorEntry) -> String {
    format!(
        "{}: {}",
        failed.code(),
        failed.message().unwrap_or("no message")
    )
}

/// A failed record to hand out again after `delay`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    pub message_id: String,
    pub receipt_handle: String,
    pub delay: Duration,
}

/// A record whose visibility timeout could not be changed, with why: it waits out the
/// queue's visibility timeout instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibilityUnchanged {
    pub message_id: String,
    pub error: String,
}

/// What one send did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SendReport {
    pub sent: Vec<SentMessage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unsent: Vec<UnsentMessage>,
    /// `SendMessageBatch` calls made.
    pub sqs_calls: u64,
}

impl WorkQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> WorkQueue {
        WorkQueue {
            client,
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends every message, [`SEND_BATCH_LIMIT`] per call. A call that fails as a whole
    /// marks its messages unsent; the other calls still go out.
    pub async fn send(&self, messages: &[WorkMessage]) -> SendReport {
        let mut report = SendReport::default();
        for chunk in messages.chunks(SEND_BATCH_LIMIT) {
            report.sqs_calls += 1;
            self.send_batch(chunk, &mut report).await;
        }
        report
    }

    async fn send_batch(&self, chunk: &[WorkMessage], report: &mut SendReport) {
        let entries: Result<Vec<_>, _> = chunk
            .iter()
            .enumerate()
            .map(|(i, m)| {
                SendMessageBatchRequestEntry::builder()
                    .id(entry_id(i))
                    .message_body(m.body.to_string())
                    .message_group_id(&m.cluster)
                    .message_deduplication_id(&m.deduplication_id)
                    .build()
            })
            .collect();
        let result = match entries {
            Ok(entries) => self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string()),
            Err(e) => Err(e.to_string()),
        };
        let output = match result {
            Ok(output) => output,
            Err(error) => {
                report.unsent.extend(chunk.iter().map(|m| UnsentMessage {
                    cluster: m.cluster.clone(),
                    error: error.clone(),
                }));
                return;
            }
        };
        for ok in output.successful() {
            if let Some(m) = entry_of(chunk, ok.id()) {
                report.sent.push(SentMessage {
                    cluster: m.cluster.clone(),
                    message_id: ok.message_id().to_owned(),
                    deduplication_id: m.deduplication_id.clone(),
                    body: m.body.clone(),
                });
            }
        }
        for failed in output.failed() {
            if let Some(m) = entry_of(chunk, failed.id()) {
                report.unsent.push(UnsentMessage {
                    cluster: m.cluster.clone(),
                    error: entry_error(failed),
                });
            }
        }
    }

    /// Makes each record visible again after its delay, [`SEND_BATCH_LIMIT`] per call; says
    /// which records' visibility did not change (a call that fails as a whole: all of its
    /// records). The other calls still go out.
    pub async fn retry_after(&self, retries: &[Retry]) -> Vec<VisibilityUnchanged> {
        let mut unchanged = Vec::new();
        for chunk in retries.chunks(SEND_BATCH_LIMIT) {
            self.change_visibility(chunk, &mut unchanged).await;
        }
        unchanged
    }

    async fn change_visibility(&self, chunk: &[Retry], unchanged: &mut Vec<VisibilityUnchanged>) {
        let entries: Result<Vec<_>, _> = chunk
            .iter()
            .enumerate()
            .map(|(i, r)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(entry_id(i))
                    .receipt_handle(&r.receipt_handle)
                    .visibility_timeout(i32::try_from(r.delay.as_secs()).unwrap_or(i32::MAX))
                    .build()
            })
            .collect();
        let result = match entries {
            Ok(entries) => self
                .client
                .change_message_visibility_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(output) => unchanged.extend(output.failed().iter().filter_map(|failed| {
                Some(VisibilityUnchanged {
                    message_id: entry_of(chunk, failed.id())?.message_id.clone(),
                    error: entry_error(failed),
                })
            })),
            Err(error) => unchanged.extend(chunk.iter().map(|r| VisibilityUnchanged {
                message_id: r.message_id.clone(),
                error: error.clone(),
            })),
        }
    }
}
