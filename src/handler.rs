//! The Lambda handler: an invocation payload in, a JSON summary out.
//!
//! The payload is classified (pure, [`crate::events`]) into what to do: acknowledge at once
//! with no cluster call, reconcile one user's entries, or reconcile whole clusters. The
//! invocation fails — so EventBridge retries and, in the end, dead-letters it — only when
//! some cluster failed; a guard refusal is reported, not retried, since retrying cannot
//! change the verdict.

use serde_json::{Value, json};

use crate::events::{Action, ClassifyError, classify};
use crate::reconcile::{Reconciler, RunSummary};
use crate::telemetry::{metric_counts, metric_line};

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("{0}")]
    Payload(#[from] ClassifyError),
    #[error("{failed} of {total} clusters failed: {summary}")]
    ClustersFailed {
        failed: usize,
        total: usize,
        summary: Value,
    },
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(error: HandlerError) -> lambda_runtime::Diagnostic {
        let error_type = match &error {
            HandlerError::Payload(_) => "InvalidPayload",
            HandlerError::ClustersFailed { .. } => "ClustersFailed",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// Handles one invocation.
pub async fn handle(reconciler: &Reconciler, payload: &Value) -> Result<Value, HandlerError> {
    let decision = classify(payload, reconciler.settings())?;
    tracing::info!(trigger = ?decision.trigger, reason = %decision.reason, "invocation classified");
    let summary = match &decision.action {
        Action::Acknowledge => {
            return Ok(json!({"acknowledged": true, "reason": decision.reason, "clusters": []}));
        }
        Action::Reconcile { clusters, dry_run } => {
            reconciler
                .reconcile(clusters, *dry_run, &decision.reason)
                .await
        }
        Action::SyncUser(sync) => reconciler.user_event(sync, false, &decision.reason).await,
    };
    report(&summary);
    let failed = summary
        .clusters
        .iter()
        .filter(|c| c.error.is_some())
        .count();
    let value = serde_json::to_value(&summary).unwrap_or_else(|e| json!({"error": e.to_string()}));
    if summary.failed() {
        return Err(HandlerError::ClustersFailed {
            failed,
            total: summary.clusters.len(),
            summary: value,
        });
    }
    Ok(value)
}

/// Logs each cluster's outcome and prints the run's metric line.
fn report(summary: &RunSummary) {
    for cluster in &summary.clusters {
        tracing::info!(
            cluster = %cluster.cluster,
            outcome = ?cluster.outcome,
            added = cluster.added.len(),
            changed = cluster.changed.len(),
            removed = cluster.removed.len(),
            refusals = cluster.refusals.len(),
            error = cluster.error.as_deref().unwrap_or(""),
            dry_run = summary.dry_run,
            "cluster reconciled"
        );
    }
    // Lambda sends stdout and stderr to the same log stream; stderr keeps `invoke`'s stdout pure JSON.
    eprintln!(
        "{}",
        metric_line(&metric_counts(summary), std::time::SystemTime::now())
    );
}
