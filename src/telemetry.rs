//! Logs and metrics: structured JSON logs (tracing) and CloudWatch embedded-metric lines.
//!
//! Inside Lambda every log line is one JSON object on stderr (unless Lambda's log format says
//! Text, see [`crate::log_controls`]), so CloudWatch Logs Insights can query changes by
//! cluster, kind and reason; on a terminal the CLI logs human-readable lines.
//! Metrics use the CloudWatch embedded metric format: one JSON line per run on stdout, which
//! CloudWatch turns into metrics without any API call, with the function's name as their
//! dimension (`FunctionName`), so two stacks in one account keep their metrics (and alarms)
//! apart. Tokens and secrets are never logged.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tracing_subscriber::EnvFilter;

use crate::log_controls::{LogControls, LogFormat};
use crate::reconcile::{Outcome, RunSummary};

/// The CloudWatch namespace of our metrics.
pub const METRICS_NAMESPACE: &str = "EksIamSync";
/// The dimension naming the function (the stack) every metric line is for.
pub const FUNCTION_NAME_DIMENSION: &str = "FunctionName";
/// Set by Lambda to the function's name; unset (no dimension) outside Lambda.
pub const FUNCTION_NAME_ENV: &str = "AWS_LAMBDA_FUNCTION_NAME";

/// The dimensions of our metric lines: the function's name, when there is one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricDimensions {
    function_name: Option<String>,
}

impl MetricDimensions {
    /// The function's name from [`FUNCTION_NAME_ENV`]; empty counts as unset.
    pub fn from_env(env: &HashMap<String, String>) -> MetricDimensions {
        MetricDimensions {
            function_name: env
                .get(FUNCTION_NAME_ENV)
                .map(|name| name.trim())
                .filter(|name| !name.is_empty())
                .map(str::to_owned),
        }
    }
}

/// Installs the global subscriber on stderr: JSON lines or compact text with the filter of
/// `controls` (see [`crate::log_controls`]); an unparsable filter falls back to `info`. Settings
/// the controls ignored are logged as warnings.
pub fn init(controls: &LogControls) {
    let filter = EnvFilter::try_new(&controls.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match controls.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .without_time()
            .try_init(),
        LogFormat::Text => builder
            .compact()
            .with_ansi(std::io::stderr().is_terminal())
            .without_time()
            .with_target(false)
            .try_init(),
    };
    for ignored in &controls.ignored {
        tracing::warn!(setting = %ignored, "logging setting ignored");
    }
}

/// One embedded-metric-format line with `counts`, under the `FunctionName` dimension when
/// `dimensions` has a function name (else dimensionless).
pub fn metric_line(
    counts: &BTreeMap<&'static str, u64>,
    dimensions: &MetricDimensions,
    now: SystemTime,
) -> String {
    let timestamp = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let metrics: Vec<Value> = counts
        .keys()
        .map(|name| json!({"Name": name, "Unit": "Count"}))
        .collect();
    let dimension_names: Vec<&str> = dimensions
        .function_name
        .iter()
        .map(|_| FUNCTION_NAME_DIMENSION)
        .collect();
    let mut line = json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{"Namespace": METRICS_NAMESPACE, "Dimensions": [dimension_names], "Metrics": metrics}],
        }
    });
    if let Value::Object(object) = &mut line {
        for (name, value) in counts {
            object.insert((*name).to_owned(), json!(value));
        }
        if let Some(function_name) = &dimensions.function_name {
            object.insert(FUNCTION_NAME_DIMENSION.to_owned(), json!(function_name));
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
    counts.insert(
        "NotApplied",
        summary.clusters.iter().map(|c| c.not_applied).sum(),
    );
    counts.insert(
        "PartlyTagged",
        summary
            .clusters
            .iter()
            .map(|c| c.partly_tagged.len() as u64)
            .sum(),
    );
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn metric_lines_follow_the_embedded_metric_format() {
        let counts: BTreeMap<_, _> = [("Changes", 3), ("Errors", 0)].into();
        let line = metric_line(&counts, &MetricDimensions::default(), UNIX_EPOCH);
        let line: Value = serde_json::from_str(&line).unwrap();
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
        // Outside Lambda: no function, no dimension.
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
        assert!(line.get(FUNCTION_NAME_DIMENSION).is_none(), "{line}");
    }

    #[test]
    fn metric_lines_of_two_functions_carry_their_own_function_name_dimension() {
        let counts: BTreeMap<_, _> = [("NotApplied", 2)].into();
        let lines: Vec<Value> = ["stack-a-fn", "stack-b-fn"]
            .iter()
            .map(|name| {
                let dimensions = MetricDimensions::from_env(&env(&[(FUNCTION_NAME_ENV, name)]));
                serde_json::from_str(&metric_line(&counts, &dimensions, UNIX_EPOCH)).unwrap()
            })
            .collect();
        for (line, name) in lines.iter().zip(["stack-a-fn", "stack-b-fn"]) {
            assert_eq!(
                line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
                json!([[FUNCTION_NAME_DIMENSION]])
            );
            assert_eq!(line[FUNCTION_NAME_DIMENSION], name);
            assert_eq!(line["NotApplied"], 2);
        }
    }

    #[test]
    fn an_empty_function_name_is_no_dimension() {
        for value in ["", "  "] {
            let dimensions = MetricDimensions::from_env(&env(&[(FUNCTION_NAME_ENV, value)]));
            assert_eq!(dimensions, MetricDimensions::default());
        }
        assert_eq!(
            MetricDimensions::from_env(&env(&[])),
            MetricDimensions::default()
        );
    }

    #[test]
    fn metric_counts_sum_changes_writes_and_not_applied_and_count_failed_and_refused_clusters() {
        use crate::reconcile::{ApiCalls, ClusterReport, EntryReport, RunSummary};
        let entry = EntryReport {
            store: "aws-auth",
            section: "mapUsers".to_owned(),
            key: "k".to_owned(),
            username: None,
            groups: None,
            reason: "r".to_owned(),
        };
        let cluster = |outcome, changes: usize, not_applied, api_calls| ClusterReport {
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
            partly_tagged: Vec::new(),
            warnings: Vec::new(),
            refusals: Vec::new(),
            shadowed: Vec::new(),
            error: None,
            not_applied,
            write_attempts: 1,
            api_calls,
            entries_read: None,
            entry_reads: None,
            plan_text: String::new(),
            review_read: None,
            history: Vec::new(),
            aws_auth_written: None,
            account: String::new(),
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
                cluster(Outcome::Applied, 2, 1, writes),
                cluster(Outcome::Refused, 1, 4, ApiCalls::default()),
                cluster(Outcome::Failed, 0, 0, ApiCalls::default()),
            ],
            iam_calls: 7,
            eks_calls: 2,
            history_calls: 0,
        };
        let counts = metric_counts(&summary);
        let expected: BTreeMap<&str, u64> = [
            ("Changes", 6),
            ("Refusals", 1),
            ("Errors", 1),
            ("Writes", 5),
            ("IamCalls", 7),
            ("NotApplied", 5),
            ("PartlyTagged", 0),
        ]
        .into();
        assert_eq!(counts, expected);
    }
}
