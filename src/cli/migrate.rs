//! `eks-iam-sync migrate --cluster NAME [--apply]`: move the managed aws-auth entries of an
//! `API_AND_CONFIG_MAP` cluster to EKS access entries.
//!
//! Without `--apply` it prints the plan: the access entries it would write, the aws-auth
//! entries that would then go, and what cannot move and why (they stay in aws-auth). With
//! `--apply` it writes the access entries, re-reads them, and removes from aws-auth only the
//! entries whose access entry it has verified. It deliberately leaves unmanaged aws-auth
//! entries, and the cluster's authentication mode, alone: switching to `API` is the
//! operator's decision once aws-auth holds nothing that matters.
//!
//! Exit codes, like `plan`/`apply`: without `--apply`, 0 nothing to move, 2 something would
//! move, 1 an error or a guard refusal; with `--apply`, 0 when everything movable moved, 1
//! otherwise (an error, a refusal, an access entry EKS rejected or that could not be verified).

use std::process::ExitCode;

use crate::reconcile::MigrationReport;

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The configuration: a YAML or JSON file, `ssm:/parameter/name` or `s3://bucket/key`;
    /// defaults to $EKS_IAM_SYNC_CONFIG.
    #[arg(long, value_name = "SOURCE")]
    pub config: Option<String>,
    /// The cluster to migrate (as named in the configuration).
    #[arg(long, value_name = "NAME")]
    pub cluster: String,
    /// Write the access entries, then remove the moved entries from aws-auth.
    #[arg(long)]
    pub apply: bool,
}

/// Plans (or with `--apply` carries out) the migration; returns the exit code.
pub async fn run(args: &MigrateArgs) -> ExitCode {
    let reconciler = match super::reconciler(args.config.as_deref()).await {
        Ok(reconciler) => reconciler,
        Err(code) => return code,
    };
    match reconciler.migrate(&args.cluster, args.apply).await {
        Ok(report) => {
            print_report(&report);
            exit_code(&report, args.apply)
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn print_report(report: &MigrationReport) {
    println!("== {} (migrate aws-auth → access entries)", report.cluster);
    print!("{}", report.plan_text);
    for rejected in &report.rejected {
        println!("rejected: {rejected}");
    }
    for key in &report.not_verified {
        println!("not verified (kept in aws-auth): {key}");
    }
    if report.applied {
        println!(
            "moved: {} access entry change(s) written; {} entr(ies) removed from aws-auth",
            report.access_changes - report.rejected.len().min(report.access_changes),
            report.removed_from_aws_auth.len()
        );
    }
}

fn exit_code(report: &MigrationReport, apply: bool) -> ExitCode {
    if report.refused {
        return ExitCode::FAILURE;
    }
    if apply {
        let complete = report.rejected.is_empty() && report.not_verified.is_empty();
        return if complete {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    if report.movable > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}
