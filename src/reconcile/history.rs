//! The change history in a run (issue 23): a cluster's record written before its grants (the
//! grants wait for it) and after its writes (exactly the changes made), and each applied
//! change put on the configured EventBridge bus.
//!
//! The policy: a grant is made only once its record is in the bucket; a removal is made
//! regardless, its record written after it. A record that cannot be written after the writes
//! fails the cluster (so the invocation is retried and alarmed) and is kept in the structured
//! log instead. An intent whose run made nothing in the end (a conflict's re-read found the
//! grants made by another run) is replaced by a record with no change. The records
//! themselves are the core's ([`crate::core::history`]).

use serde_json::json;

use crate::aws::bucket::{Bucket, BucketError};
use crate::core::aws_auth::ConfigMapData;
use crate::core::effective::Store;
use crate::core::history::keys::{object_key, run_id};
use crate::core::history::{Cause, PlannedChange, RecordContext, RecordState, RunRecord};
use crate::core::settings::HistorySettings;

use super::report::ClusterReport;

/// `source` of the change events.
pub const EVENT_SOURCE: &str = "eks-iam-sync";
/// `detail-type` of the change events.
pub const EVENT_DETAIL_TYPE: &str = "EKS Access Changed";
/// PutEvents takes at most this many entries per call.
const EVENTS_PER_CALL: usize = 10;

/// Why a history write failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HistoryError {
    /// The record of the grants could not be written: they were not made.
    #[error(
        "history bucket {bucket}: the record could not be written, so the grants were not made ({source})",
        bucket = source.bucket
    )]
    GrantsWithheld {
        #[source]
        source: BucketError,
    },
    /// The record of changes already made could not be written (it is in the log).
    #[error(
        "history bucket {bucket}: the record of the changes made could not be written; it is in the function's log ({source})",
        bucket = source.bucket
    )]
    NotRecorded {
        #[source]
        source: BucketError,
    },
}

/// Where a reconciler records its changes: the bucket, its prefix, and the bus.
#[derive(Debug, Clone)]
pub struct HistoryWriter {
    bucket: Bucket,
    prefix: String,
    events: Option<(aws_sdk_eventbridge::Client, String)>,
    /// PutEvents calls made so far.
    event_calls: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl HistoryWriter {
    /// The writer of `settings`, through these clients.
    pub fn new(
        settings: &HistorySettings,
        s3: aws_sdk_s3::Client,
        events: aws_sdk_eventbridge::Client,
    ) -> HistoryWriter {
        HistoryWriter {
            bucket: Bucket::new(s3, &settings.bucket),
            prefix: settings.prefix.clone(),
            events: settings.event_bus.clone().map(|bus| (events, bus)),
            event_calls: Default::default(),
        }
    }

    /// The bucket the records are in.
    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    /// The records' key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Writes `record` (at the key of its run, started at `started`, on its cluster) and puts
    /// its changes on the bus; the bus's failures, as messages.
    pub async fn write(
        &self,
        record: &RunRecord,
        started: jiff::Timestamp,
    ) -> Result<Vec<String>, BucketError> {
        self.put(record, started).await?;
        Ok(self.announce(record).await)
    }

    /// The S3 and EventBridge calls made so far.
    pub fn calls(&self) -> u64 {
        self.bucket.calls() + self.event_calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Writes `record` under the day and time of `started` (its run's start: the intent and
    /// the final record of a run share their key).
    async fn put(&self, record: &RunRecord, started: jiff::Timestamp) -> Result<(), BucketError> {
        let key = object_key(&self.prefix, &record.cluster, started, &record.run_id);
        let body = serde_json::to_vec_pretty(record).unwrap_or_default();
        self.bucket.put(&key, body, "application/json").await
    }

    /// Puts each change of `record` on the bus, ten per call; the failures, as messages.
    async fn announce(&self, record: &RunRecord) -> Vec<String> {
        let Some((client, bus)) = &self.events else {
            return Vec::new();
        };
        let mut failures = Vec::new();
        for chunk in record.changes.chunks(EVENTS_PER_CALL) {
            let entries = chunk.iter().map(|change| {
                aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .source(EVENT_SOURCE)
                    .detail_type(EVENT_DETAIL_TYPE)
                    .event_bus_name(bus)
                    .resources(change.principal.clone())
                    .detail(serde_json::to_string(change).unwrap_or_default())
                    .build()
            });
            self.event_calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match client
                .put_events()
                .set_entries(Some(entries.collect()))
                .send()
                .await
            {
                Ok(out) if out.failed_entry_count() > 0 => failures.push(format!(
                    "event bus {bus}: {} of {} change events were not accepted",
                    out.failed_entry_count(),
                    chunk.len()
                )),
                Ok(_) => {}
                Err(e) => failures.push(format!(
                    "event bus {bus}: PutEvents failed: {}",
                    aws_sdk_eventbridge::error::DisplayErrorContext(&e)
                )),
            }
        }
        failures
    }
}

/// One run's history: the writer, the run's id and cause.
#[derive(Debug)]
pub(super) struct RunHistory<'a> {
    pub writer: &'a HistoryWriter,
    pub run_id: String,
    pub cause: &'a Cause,
    started: jiff::Timestamp,
    /// Clusters whose intent record this run wrote (their final record must follow, even
    /// when nothing was made: it replaces the intent).
    intended: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl<'a> RunHistory<'a> {
    /// A new run on `writer`, started now.
    pub fn start(writer: &'a HistoryWriter, cause: &'a Cause) -> RunHistory<'a> {
        let started = jiff::Timestamp::now();
        RunHistory {
            writer,
            run_id: run_id(started, rand::random()),
            cause,
            started,
            intended: Default::default(),
        }
    }

    fn intended(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeSet<String>> {
        self.intended
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn record(
        &self,
        cluster: &str,
        account: &str,
        state: RecordState,
        changes: &[PlannedChange],
        aws_auth: Option<&ConfigMapData>,
    ) -> RunRecord {
        RunRecord::new(
            RecordContext {
                run_id: &self.run_id,
                time: jiff::Timestamp::now(),
                cluster,
                account,
                cause: self.cause,
            },
            state,
            changes,
            aws_auth,
        )
    }

    /// Before the writes: when the plan recorded in `report` grants anything, its record
    /// (every planned change; aws-auth as `aws_auth_write` will leave it). The grants may be
    /// made only when this returns `Ok`.
    pub async fn before_grants(
        &self,
        report: &ClusterReport,
        aws_auth_write: Option<&ConfigMapData>,
    ) -> Result<(), HistoryError> {
        if !report.history.iter().any(|c| c.change.may_grant()) {
            return Ok(());
        }
        let record = self.record(
            &report.cluster,
            &report.account,
            RecordState::Intended,
            &report.history,
            aws_auth_write,
        );
        self.writer
            .put(&record, self.started)
            .await
            .map_err(|source| {
                tracing::error!(cluster = %report.cluster, error = %source, "history record not written: grants withheld");
                HistoryError::GrantsWithheld { source }
            })?;
        self.intended().insert(report.cluster.clone());
        Ok(())
    }

    /// After the writes: the record of the changes `report` says were made, then each on the
    /// bus. A record that cannot be written fails the cluster and goes to the log.
    pub async fn after_writes(&self, report: &mut ClusterReport) {
        let made: Vec<PlannedChange> = report
            .history
            .iter()
            .filter(|c| c.store == Store::AccessEntries || report.aws_auth_written.is_some())
            .cloned()
            .collect();
        // Nothing made: nothing to record, unless an intent is there to be replaced (a
        // conflict's re-read found the grants already made by another run).
        if made.is_empty() && !self.intended().contains(&report.cluster) {
            return;
        }
        let record = self.record(
            &report.cluster,
            &report.account,
            RecordState::Applied,
            &made,
            report.aws_auth_written.as_ref(),
        );
        if let Err(source) = self.writer.put(&record, self.started).await {
            tracing::error!(
                cluster = %report.cluster,
                error = %source,
                record = %json!(record),
                "history record not written: the changes were made, the record is here"
            );
            let error = HistoryError::NotRecorded { source };
            match &report.error {
                Some(first) => {
                    let both = format!("{first}; {error}");
                    report.fail(both);
                }
                None => report.fail(error),
            }
            return;
        }
        for failure in self.writer.announce(&record).await {
            tracing::error!(cluster = %report.cluster, error = %failure, "change events not sent");
            report.warnings.push(failure);
        }
    }
}
