//! An SQS batch from the work queue: each record is one unit of work, run in place, and the
//! response names exactly the records that failed (`{"batchItemFailures": [{"itemIdentifier":
//! "<messageId>"}]}`, Lambda's partial batch response), so only they are retried and, after
//! the queue's `maxReceiveCount`, dead-lettered.
//!
//! # Expected flow
//! Records are grouped by `MessageGroupId` (the cluster): one group's records run one after
//! the other, in order; groups run side by side, at most the reconciler's cluster concurrency
//! at a time. Per record: parse the body (a `syncUser` body, else any payload the classifier
//! accepts, e.g. `{"action":"reconcile","clusters":["prod"]}`) → reconcile in place → log the
//! summary and the metric line.
//!
//! # Guarantees
//! - A record never fans out again: nothing here sends a message.
//! - A record fails (is named) when its body is malformed or names an unknown cluster, or when
//!   its cluster failed. A guard refusal is a result, not a failure: retrying cannot change it.
//! - Reconciles are level-triggered, so a later record of a group succeeding after an earlier
//!   one failed loses nothing: the retried record re-reads the truth.

use std::collections::HashMap;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsMessage};
use futures::StreamExt;
use serde_json::Value;

use super::report;
use crate::events::{Action, ClassifyError, classify};
use crate::fleet::SyncUserBody;
use crate::fleet::message::SYNC_USER_ACTION;
use crate::reconcile::{Reconciler, RunSummary};

/// `eventSource` of an SQS record.
pub const SQS_EVENT_SOURCE: &str = "aws:sqs";

/// Why one record failed; logged with its message id.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("the record has no body")]
    NoBody,
    #[error("the body is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("the body is not a syncUser message: {0}")]
    SyncUserBody(#[source] serde_json::Error),
    #[error("the body names no cluster, or clusters that are not configured: {0:?}")]
    Clusters(Vec<String>),
    #[error("the body is not a payload this function accepts: {0}")]
    Payload(#[from] ClassifyError),
    #[error("{failed} of {total} clusters failed")]
    ClustersFailed { failed: usize, total: usize },
}

/// Whether `payload` is an SQS event (its first record comes from `aws:sqs`).
pub fn is_sqs_event(payload: &Value) -> bool {
    payload
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|records| records.first())
        .and_then(|record| record.get("eventSource"))
        .and_then(Value::as_str)
        == Some(SQS_EVENT_SOURCE)
}

/// Runs every record of an SQS event and returns the partial batch response.
pub(super) async fn handle_batch(reconciler: &Reconciler, payload: &Value) -> Value {
    let records: Vec<SqsMessage> = payload["Records"]
        .as_array()
        .map(|records| {
            records
                .iter()
                .map(|r| serde_json::from_value(r.clone()).unwrap_or_else(|_| unreadable(r)))
                .collect()
        })
        .unwrap_or_default();
    let mut groups: Vec<(String, Vec<&SqsMessage>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for record in &records {
        let id = record.message_id.clone().unwrap_or_default();
        let group = record
            .attributes
            .get("MessageGroupId")
            .cloned()
            .unwrap_or(id);
        let at = *index.entry(group.clone()).or_insert_with(|| {
            groups.push((group, Vec::new()));
            groups.len() - 1
        });
        groups[at].1.push(record);
    }
    let failed: Vec<String> = futures::stream::iter(groups)
        .map(|(_, group)| run_group(reconciler, group))
        .buffer_unordered(reconciler.cluster_concurrency())
        .collect::<Vec<Vec<String>>>()
        .await
        .concat();
    let mut response = SqsBatchResponse::default();
    // In the batch's order, for the logs' sake.
    for record in &records {
        let id = record.message_id.clone().unwrap_or_default();
        if failed.contains(&id) {
            response.add_failure(id);
        }
    }
    serde_json::to_value(&response).unwrap_or_default()
}

/// A record that does not even parse as an SQS message: keep its id so it can be named.
fn unreadable(record: &Value) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = record
        .get("messageId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    message
}

/// One group's records, in order; the ids of those that failed.
async fn run_group(reconciler: &Reconciler, group: Vec<&SqsMessage>) -> Vec<String> {
    let mut failed = Vec::new();
    for record in group {
        let id = record.message_id.as_deref().unwrap_or_default();
        match run_record(reconciler, record).await {
            Ok(()) => tracing::info!(message_id = id, "record done"),
            Err(error) => {
                tracing::error!(message_id = id, error = %error, "record failed; SQS retries it");
                failed.push(id.to_owned());
            }
        }
    }
    failed
}

/// One record in place.
async fn run_record(reconciler: &Reconciler, record: &SqsMessage) -> Result<(), RecordError> {
    let id = record.message_id.as_deref().unwrap_or("(no messageId)");
    let body = record.body.as_deref().ok_or(RecordError::NoBody)?;
    let work: Value = serde_json::from_str(body).map_err(RecordError::NotJson)?;
    let summary = if work.get("action").and_then(Value::as_str) == Some(SYNC_USER_ACTION) {
        let body: SyncUserBody = serde_json::from_value(work).map_err(RecordError::SyncUserBody)?;
        let configured = reconciler.settings().cluster_names();
        if body.clusters.is_empty() || body.clusters.iter().any(|c| !configured.contains(c)) {
            return Err(RecordError::Clusters(body.clusters));
        }
        let reason = format!("SQS message {id}: {}", body.reason);
        reconciler
            .user_event(&body.into_user_sync(), false, &reason)
            .await
    } else {
        let decision = classify(&work, reconciler.settings())?;
        let reason = format!("SQS message {id}: {}", decision.reason);
        match &decision.action {
            Action::Acknowledge => {
                tracing::info!(message_id = id, reason = %reason, "acknowledged");
                return Ok(());
            }
            Action::Reconcile { clusters, dry_run } => {
                reconciler.reconcile(clusters, *dry_run, &reason).await
            }
            Action::SyncUser(sync) => reconciler.user_event(sync, false, &reason).await,
        }
    };
    outcome(&summary)
}

/// Logs the run and says whether it failed.
fn outcome(summary: &RunSummary) -> Result<(), RecordError> {
    report(summary);
    if !summary.failed() {
        return Ok(());
    }
    Err(RecordError::ClustersFailed {
        failed: summary
            .clusters
            .iter()
            .filter(|c| c.error.is_some())
            .count(),
        total: summary.clusters.len(),
    })
}
