//! An SQS batch from the work queue: each record is one unit of work, run in place, and the
//! response names exactly the records that failed (`{"batchItemFailures": [{"itemIdentifier":
//! "<messageId>"}]}`, Lambda's partial batch response), so only they are retried and, after
//! the queue's `maxReceiveCount`, dead-lettered.
//!
//! # Expected flow
//! 1. Every record's body is read: a `syncUser` body, else any payload the classifier accepts
//!    (a dispatched full reconcile is `{"action":"reconcile","clusters":["prod"]}`).
//! 2. The full reconciles of the batch run as ONE reconcile of their clusters, so they share
//!    one IAM read, exactly as the in-place path does; each record's verdict is its clusters'.
//! 3. Then the other records (user events, dry runs), grouped by `MessageGroupId` (the
//!    cluster): one group's records one after the other, in order; groups side by side, at
//!    most the reconciler's cluster concurrency at a time.
//!
//! # Guarantees
//! - A record never fans out again: nothing here sends a message.
//! - A record fails (is named) when its body is malformed or names an unknown cluster, or when
//!   one of its clusters failed. A guard refusal is a result, not a failure: retrying cannot
//!   change it.
//! - Retry soon: a failed record's visibility timeout is first shortened to
//!   [`retry_delay`] (15 s, 30 s, then 60 s, plus jitter: at most [`RETRY_BOUND`]) with
//!   `ChangeMessageVisibilityBatch`, so its FIFO group (its cluster) is not frozen for the
//!   queue's visibility timeout. A batch never loses a record: a record whose visibility could
//!   not be changed is still named (it then waits out the queue's visibility timeout).
//! - Reconciles are level-triggered, so running a group's full reconcile before its user
//!   events, or a later record succeeding after an earlier one failed, loses nothing: a
//!   retried record re-reads the truth.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsMessage};
use futures::StreamExt;
use serde_json::Value;

use super::report;
use crate::core::history::{Cause, Trigger as Started};
use crate::events::{Action, ClassifyError, UserSync, classify};
use crate::fleet::message::SYNC_USER_ACTION;
use crate::fleet::retry::{RETRY_BOUND, RETRY_JITTER, retry_delay};
use crate::fleet::{Retry, SyncUserBody, SyncUserBodyError, WorkQueue};
use crate::reconcile::{Reconciler, RunSummary};
use crate::telemetry::MetricDimensions;

/// The record attribute counting how many times SQS has handed the record out.
const RECEIVE_COUNT_ATTRIBUTE: &str = "ApproximateReceiveCount";

/// Why one record failed; logged with its message id.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("the record has no body")]
    NoBody,
    #[error("the body is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("the body is not a syncUser message: {0}")]
    SyncUserBody(#[source] SyncUserBodyError),
    #[error("the body names no cluster, or clusters that are not configured: {0:?}")]
    Clusters(Vec<String>),
    #[error("the body is not a payload this function accepts: {0}")]
    Payload(#[from] ClassifyError),
    #[error("{} of {total} clusters failed: {}", errors.len(), errors.join("; "))]
    ClustersFailed { errors: Vec<String>, total: usize },
    /// `{"action": "review"}` on the work queue: a review is invoked directly (its schedule
    /// rule invokes the function), never queued.
    #[error("a review is not queue work: invoke the function with {{\"action\": \"review\"}}")]
    ReviewQueued,
}

/// What one record asks for.
#[derive(Debug)]
enum Work {
    /// Nothing (an event that cannot matter).
    Acknowledge(String),
    /// A full reconcile of these clusters (merged with the batch's other full reconciles).
    Reconcile(Vec<String>),
    /// A dry run of these clusters (run on its own: it must not write).
    DryRun(Vec<String>, String),
    /// One user's entries, and the event's cause.
    SyncUser(Box<UserSync>, String, Cause),
}

/// Runs every record of an SQS event from the work `queue` (`records`, as
/// [`crate::events::sqs_records`] read them) and returns the partial batch response; the failed
/// records are first made visible again soon.
pub(super) async fn handle_batch(
    reconciler: &Reconciler,
    queue: &WorkQueue,
    dimensions: &MetricDimensions,
    records: Vec<SqsMessage>,
) -> Value {
    let mut verdicts: HashMap<String, Result<(), RecordError>> = HashMap::new();
    let mut full: Vec<(&str, Vec<String>)> = Vec::new();
    let mut groups: Vec<(String, Vec<(&str, Work)>)> = Vec::new();
    for record in &records {
        let id = record.message_id.as_deref().unwrap_or_default();
        match read_work(reconciler, record) {
            Err(error) => {
                verdicts.insert(id.to_owned(), Err(error));
            }
            Ok(Work::Acknowledge(reason)) => {
                tracing::info!(message_id = id, reason = %reason, "acknowledged");
                verdicts.insert(id.to_owned(), Ok(()));
            }
            Ok(Work::Reconcile(clusters)) => full.push((id, clusters)),
            Ok(work) => {
                let group = record
                    .attributes
                    .get("MessageGroupId")
                    .map_or(id, String::as_str);
                match groups.iter_mut().find(|(g, _)| g == group) {
                    Some((_, works)) => works.push((id, work)),
                    None => groups.push((group.to_owned(), vec![(id, work)])),
                }
            }
        }
    }
    verdicts.extend(run_full(reconciler, dimensions, &full).await);
    let grouped: Vec<Vec<(String, Result<(), RecordError>)>> = futures::stream::iter(groups)
        .map(|(_, works)| run_group(reconciler, dimensions, works))
        .buffer_unordered(reconciler.cluster_concurrency())
        .collect()
        .await;
    verdicts.extend(grouped.into_iter().flatten());
    let mut response = SqsBatchResponse::default();
    let mut failed = Vec::new();
    for record in &records {
        let id = record.message_id.clone().unwrap_or_default();
        match verdicts.get(&id) {
            Some(Ok(())) => tracing::info!(message_id = %id, "record done"),
            Some(Err(error)) => {
                tracing::error!(message_id = %id, error = %error, "record failed; SQS retries it");
                failed.push(record);
                response.add_failure(id);
            }
            None => {
                failed.push(record);
                response.add_failure(id);
            }
        }
    }
    retry_soon(queue, &failed).await;
    serde_json::to_value(&response).unwrap_or_default()
}

/// Shortens the failed records' visibility timeouts to [`retry_delay`]; logs the records
/// whose timeout could not be changed (they are named all the same).
async fn retry_soon(queue: &WorkQueue, failed: &[&SqsMessage]) {
    let retries: Vec<Retry> = failed
        .iter()
        .filter_map(|record| {
            let receive_count = record
                .attributes
                .get(RECEIVE_COUNT_ATTRIBUTE)
                .and_then(|count| count.parse::<u64>().ok())
                .unwrap_or(1);
            let jitter =
                Duration::from_millis(rand::random_range(0..=RETRY_JITTER.as_millis() as u64));
            Some(Retry {
                message_id: record.message_id.clone()?,
                receipt_handle: record.receipt_handle.clone()?,
                delay: retry_delay(receive_count, jitter),
            })
        })
        .collect();
    if retries.is_empty() {
        return;
    }
    let unchanged = queue.retry_after(&retries).await;
    for record in &unchanged {
        tracing::warn!(
            message_id = %record.message_id,
            error = %record.error,
            "could not shorten the failed record's visibility timeout; it is retried after the queue's"
        );
    }
    tracing::info!(
        records = retries.len() - unchanged.len(),
        within_seconds = RETRY_BOUND.as_secs(),
        "failed records made visible again soon"
    );
}

/// What a record's body asks for.
fn read_work(reconciler: &Reconciler, record: &SqsMessage) -> Result<Work, RecordError> {
    let id = record.message_id.as_deref().unwrap_or("(no messageId)");
    let body = record.body.as_deref().ok_or(RecordError::NoBody)?;
    let work: Value = serde_json::from_str(body).map_err(RecordError::NotJson)?;
    if work.get("action").and_then(Value::as_str) == Some(SYNC_USER_ACTION) {
        let body = SyncUserBody::read(work).map_err(RecordError::SyncUserBody)?;
        let configured = reconciler.settings().cluster_names();
        if body.clusters.is_empty() || body.clusters.iter().any(|c| !configured.contains(c)) {
            return Err(RecordError::Clusters(body.clusters));
        }
        let reason = format!("SQS message {id}: {}", body.reason);
        let cause = body.cause.clone().unwrap_or(Cause::of(Started::Event));
        return Ok(Work::SyncUser(
            Box::new(body.into_user_sync(reconciler.settings())),
            reason,
            cause,
        ));
    }
    let decision = classify(&work, reconciler.settings())?;
    let reason = format!("SQS message {id}: {}", decision.reason);
    Ok(match decision.action {
        Action::Acknowledge => Work::Acknowledge(reason),
        Action::Reconcile {
            clusters,
            dry_run: false,
        } => Work::Reconcile(clusters),
        Action::Reconcile { clusters, .. } => Work::DryRun(clusters, reason),
        Action::SyncUser(sync) => Work::SyncUser(Box::new(sync), reason, decision.trigger.cause()),
        Action::Review { .. } => return Err(RecordError::ReviewQueued),
    })
}

/// The batch's full reconciles as one run; each record's verdict.
async fn run_full(
    reconciler: &Reconciler,
    dimensions: &MetricDimensions,
    records: &[(&str, Vec<String>)],
) -> Vec<(String, Result<(), RecordError>)> {
    if records.is_empty() {
        return Vec::new();
    }
    let wanted: BTreeSet<&String> = records.iter().flat_map(|(_, c)| c).collect();
    // In configuration order, as every run.
    let clusters: Vec<String> = reconciler
        .settings()
        .cluster_names()
        .into_iter()
        .filter(|c| wanted.contains(c))
        .collect();
    let reason = format!(
        "SQS batch: full reconcile of {} ({} records)",
        clusters.join(", "),
        records.len()
    );
    // A queued full reconcile comes from the schedule or an IAM event that needs every
    // mapping; its body does not say which.
    let cause = Cause::of(Started::Schedule);
    let summary = reconciler
        .reconcile(&clusters, false, &reason, &cause)
        .await;
    report(&summary, dimensions);
    records
        .iter()
        .map(|(id, clusters)| ((*id).to_owned(), verdict(&summary, clusters)))
        .collect()
}

/// One group's other records, in order; each record's verdict.
async fn run_group(
    reconciler: &Reconciler,
    dimensions: &MetricDimensions,
    works: Vec<(&str, Work)>,
) -> Vec<(String, Result<(), RecordError>)> {
    let mut verdicts = Vec::new();
    for (id, work) in works {
        let (summary, clusters) = match &work {
            Work::SyncUser(sync, reason, cause) => (
                reconciler.user_event(sync, false, reason, cause).await,
                &sync.clusters,
            ),
            Work::DryRun(clusters, reason) => (
                reconciler
                    .reconcile(clusters, true, reason, &Cause::of(Started::Invoke))
                    .await,
                clusters,
            ),
            Work::Acknowledge(_) | Work::Reconcile(_) => continue,
        };
        report(&summary, dimensions);
        verdicts.push((id.to_owned(), verdict(&summary, clusters)));
    }
    verdicts
}

/// A record's verdict: failed when one of its clusters failed in `summary`.
fn verdict(summary: &RunSummary, clusters: &[String]) -> Result<(), RecordError> {
    let errors: Vec<String> = summary
        .clusters
        .iter()
        .filter(|c| clusters.contains(&c.cluster))
        .filter_map(|c| Some(format!("{}: {}", c.cluster, c.error.as_ref()?)))
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    Err(RecordError::ClustersFailed {
        errors,
        total: clusters.len(),
    })
}
