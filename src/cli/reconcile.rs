//! `eks-iam-sync plan` and `eks-iam-sync apply`: the Lambda's reconcile, run by an operator.
//!
//! Both read the same configuration as the Lambda (`--config FILE`, else `EKS_IAM_SYNC_CONFIG`)
//! and print, per cluster, the same plan as `render`. `plan` never writes: exit 0 when nothing
//! would change, 2 when something would, 1 on an error or a guard refusal. `apply` writes:
//! exit 0 when every cluster is in step, 1 otherwise (an access entry EKS rejected counts as
//! not in step). Both backends: each cluster's plan is its aws-auth or access-entries plan.

use std::process::ExitCode;

use crate::reconcile::{Outcome, Reconciler, RunSummary};

#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    /// The configuration: a YAML or JSON file, `ssm:/parameter/name` or `s3://bucket/key`;
    /// defaults to $EKS_IAM_SYNC_CONFIG.
    #[arg(long, value_name = "SOURCE")]
    pub config: Option<String>,
    /// Only this cluster (repeatable); all configured clusters by default.
    #[arg(long = "cluster", value_name = "NAME")]
    pub clusters: Vec<String>,
    /// Let this run remove more than the configured maxRemovalFraction of managed entries.
    #[arg(long)]
    pub allow_mass_removal: bool,
    /// Print the JSON summary (as the Lambda returns it) instead of the plan text.
    #[arg(long)]
    pub json: bool,
}

/// `plan` (`apply` false) or `apply`; returns the exit code.
pub async fn run(args: &ReconcileArgs, apply: bool) -> ExitCode {
    let reconciler = match super::reconciler(args.config.as_deref()).await {
        Ok(reconciler) => reconciler.allow_mass_removal(args.allow_mass_removal),
        Err(code) => return code,
    };
    if let Err(code) = check_clusters(&reconciler, &args.clusters) {
        return code;
    }
    let reason = if apply {
        "apply from the command line"
    } else {
        "plan from the command line"
    };
    let cause = super::operator_cause(&reconciler, apply).await;
    let summary = reconciler
        .reconcile(&args.clusters, !apply, reason, &cause)
        .await;
    print_summary(&summary, args.json);
    exit_code(&summary, apply)
}

/// Every `--cluster` name is configured; otherwise one line naming the unknown ones and
/// the configured ones, and exit code 1.
pub(super) fn check_clusters(reconciler: &Reconciler, clusters: &[String]) -> Result<(), ExitCode> {
    let unknown: Vec<&str> = clusters
        .iter()
        .filter(|c| reconciler.settings().cluster(c).is_none())
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    eprintln!(
        "error: --cluster {} is not in the configuration (configured: {})",
        unknown.join(", "),
        reconciler.settings().cluster_names().join(", ")
    );
    Err(ExitCode::FAILURE)
}

fn print_summary(summary: &RunSummary, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(summary).unwrap_or_default()
        );
        return;
    }
    for cluster in &summary.clusters {
        println!(
            "== {} ({}): {:?}",
            cluster.cluster, cluster.backend, cluster.outcome
        );
        print!("{}", cluster.plan_text);
        for rejected in &cluster.rejected {
            println!("rejected {}: {}", rejected.key, rejected.reason);
        }
        if cluster.not_applied > 0 {
            println!("not applied: {} planned change(s)", cluster.not_applied);
        }
        if let Some(error) = &cluster.error {
            println!("error: {error}");
        }
    }
}

/// plan: 0 no change, 2 changes, 1 error/refusal. apply: 0 in step, 1 otherwise.
fn exit_code(summary: &RunSummary, apply: bool) -> ExitCode {
    let bad = summary.clusters.iter().any(|c| {
        matches!(
            c.outcome,
            Outcome::Failed | Outcome::Refused | Outcome::Deferred
        ) || !c.rejected.is_empty()
            || c.not_applied > 0
    });
    if bad {
        return ExitCode::FAILURE;
    }
    if !apply
        && summary
            .clusters
            .iter()
            .any(|c| c.outcome == Outcome::Planned)
    {
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}
