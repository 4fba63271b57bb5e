//! Logs and metrics: structured JSON logs (tracing) and CloudWatch embedded-metric lines.
//!
//! Inside Lambda every log line is one JSON object on stderr, so CloudWatch Logs Insights can
//! query changes by cluster, kind and reason; on a terminal the CLI logs human-readable lines.
//! Metrics use the CloudWatch embedded metric format: one JSON line per run on stdout, which
//! CloudWatch turns into metrics without any API call. Tokens and secrets are never logged.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tracing_subscriber::EnvFilter;

use crate::reconcile::{Outcome, RunSummary};

/// The CloudWatch namespace of our metrics.
pub const METRICS_NAMESPACE: &str = "EksIamSync";

/// Installs the global subscriber: JSON lines (Lambda) or compact text (CLI), level from
/// `RUST_LOG` (default `info`, or `warn` for the CLI).
pub fn init(json: bool) {
    let default = if json { "info" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .without_time()
            .try_init()
    } else {
        builder
            .compact()
            .without_time()
            .with_target(false)
            .try_init()
    };
}

/// One embedded-metric-format line with `counts`, dimensionless.
pub fn metric_line(counts: &BTreeMap<&'static str, u64>, now: SystemTime) -> String {
    let timestamp = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let metrics: Vec<Value> = counts
        .keys()
        .map(|name| json!({"Name": name, "Unit": "Count"}))
        .collect();
    let mut line = json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{"Namespace": METRICS_NAMESPACE, "Dimensions": [[]], "Metrics": metrics}],
        }
    });
    if let Value::Object(object) = &mut line {
        for (name, value) in counts {
            object.insert((*name).to_owned(), json!(value));
        }
    }
    line.to_string()
}

/// Counts for the CloudWatch embedded-metric line of a run.
pub fn metric_counts(summary: &RunSummary) -> BTreeMap<&'static str, u64> {
    let mut counts = BTreeMap::new();
    let changes: usize = summary
        .clusters
        .iter()
        .map(|c| c.added.len() + c.changed.len() + c.removed.len())
        .sum();
    counts.insert("Changes", changes as u64);
    counts.insert(
        "Refusals",
        summary
            .clusters
            .iter()
            .filter(|c| c.outcome == Outcome::Refused)
            .count() as u64,
    );
    counts.insert(
        "Errors",
        summary
            .clusters
            .iter()
            .filter(|c| c.outcome == Outcome::Failed)
            .count() as u64,
    );
    counts.insert(
        "Writes",
        summary
            .clusters
            .iter()
            .map(|c| c.api_calls.kube_put + c.api_calls.kube_post + c.api_calls.eks_write)
            .sum(),
    );
    counts.insert("IamCalls", summary.iam_calls);
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_lines_follow_the_embedded_metric_format() {
        let counts: BTreeMap<_, _> = [("Changes", 3), ("Errors", 0)].into();
        let line: Value = serde_json::from_str(&metric_line(&counts, UNIX_EPOCH)).unwrap();
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            METRICS_NAMESPACE
        );
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "Changes"
        );
        assert_eq!(line["Changes"], 3);
        assert_eq!(line["Errors"], 0);
    }

    #[test]
    fn metric_counts_sum_changes_writes_and_count_failed_and_refused_clusters() {
        use crate::reconcile::{ApiCalls, ClusterReport, EntryReport, RunSummary};
        let entry = EntryReport {
            store: "aws-auth",
            section: "mapUsers".to_owned(),
            key: "k".to_owned(),
            username: None,
            groups: None,
            reason: "r".to_owned(),
        };
        let cluster = |outcome, changes: usize, api_calls| ClusterReport {
            cluster: "c".to_owned(),
            outcome,
            backend: "aws-auth",
            authentication_mode: None,
            mode_changed: None,
            added: vec![entry.clone(); changes],
            changed: Vec::new(),
            removed: vec![entry.clone(); changes],
            skipped: Vec::new(),
            rejected: Vec::new(),
            not_applied: 0,
            partly_tagged: Vec::new(),
            warnings: Vec::new(),
            refusals: Vec::new(),
            shadowed: Vec::new(),
            error: None,
            write_attempts: 1,
            api_calls,
            plan_text: String::new(),
        };
        let writes = ApiCalls {
            kube_put: 1,
            kube_post: 1,
            eks_write: 3,
            ..ApiCalls::default()
        };
        let summary = RunSummary {
            reason: "test".to_owned(),
            dry_run: false,
            clusters: vec![
                cluster(Outcome::Applied, 2, writes),
                cluster(Outcome::Refused, 1, ApiCalls::default()),
                cluster(Outcome::Failed, 0, ApiCalls::default()),
            ],
            iam_calls: 7,
            eks_calls: 2,
        };
        let counts = metric_counts(&summary);
        let expected: BTreeMap<&str, u64> = [
            ("Changes", 6),
            ("Refusals", 1),
            ("Errors", 1),
            ("Writes", 5),
            ("IamCalls", 7),
        ]
        .into();
        assert_eq!(counts, expected);
    }
}
