//! `eks-iam-sync review`: who EKS lets into each configured cluster, from which store, why,
//! and what is wrong (issue 22).
//!
//! Read-only: a dry run of every cluster (concurrently, as `plan`) plus one ListUsers and one
//! ListRoles per account; no write call of any kind. Exit 0 when the report is made (findings
//! or not), 2 with `--fail-on-findings` when there are findings, 1 on an error (a bad flag, a
//! configuration that does not load, a report that cannot be written). A cluster that could
//! not be read is a finding (`unreadable`), not an error: the report is still made.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::review_report::{Format, ReviewReport};

#[derive(Debug, clap::Args)]
pub struct ReviewArgs {
    /// The configuration: a YAML or JSON file, `ssm:/parameter/name` or `s3://bucket/key`;
    /// defaults to $EKS_IAM_SYNC_CONFIG.
    #[arg(long, value_name = "SOURCE")]
    pub config: Option<String>,
    /// Only this cluster (repeatable); all configured clusters by default.
    #[arg(long = "cluster", value_name = "NAME")]
    pub clusters: Vec<String>,
    /// The report's format: `table` on a terminal, else `json`.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the report to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 2 when there is any finding.
    #[arg(long)]
    pub fail_on_findings: bool,
}

pub async fn run(args: &ReviewArgs) -> ExitCode {
    let reconciler = match super::reconciler(args.config.as_deref()).await {
        Ok(reconciler) => reconciler,
        Err(code) => return code,
    };
    if let Err(code) = super::reconcile::check_clusters(&reconciler, &args.clusters) {
        return code;
    }
    let format = args.format.unwrap_or_else(|| {
        if args.output.is_none() && std::io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Json
        }
    });
    let review = reconciler.review(&args.clusters).await;
    tracing::info!(
        clusters = review.clusters.len(),
        iam_calls = review.iam_calls,
        eks_calls = review.eks_calls,
        "review made"
    );
    let report = ReviewReport::new(review.clusters, jiff::Timestamp::now());
    let text = match report.render(format) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = write_out(args.output.as_deref(), &text) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let findings = report.finding_count();
    if args.output.is_some() {
        eprintln!(
            "review: {} cluster(s), {findings} finding(s)",
            report.clusters.len()
        );
    }
    if args.fail_on_findings && findings > 0 {
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

/// Writes the report to `path` (through a temporary file beside it, renamed into place: a
/// failed write leaves no half report) or to standard output.
fn write_out(path: Option<&std::path::Path>, text: &str) -> Result<(), String> {
    let Some(path) = path else {
        let mut stdout = std::io::stdout().lock();
        return stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("the report could not be written to standard output: {e}"));
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    let fail =
        |e: std::io::Error| format!("the report could not be written to {}: {e}", path.display());
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}
