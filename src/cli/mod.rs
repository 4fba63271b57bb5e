//! The command-line interface: argument parsing and one module per subcommand.
//!
//! Each subcommand module owns its flags, its output and its exit code; `main` dispatches
//! to them and provides the async runtime. A usage error (an unknown flag, a missing
//! argument) exits 1 ([`parse`]): clap's own code, 2, is what `plan` and `migrate` say for
//! "changes pending". Commands that reconcile get their reconciler from
//! `reconciler`, built the same way as the Lambda's (see [`crate::app`]).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::core::history::{Cause, Trigger};
use crate::reconcile::Reconciler;
use crate::{app, build_info};

pub mod check_config;
pub mod history;
pub mod invoke;
pub mod migrate;
pub mod reconcile;
pub mod render;
pub mod restore;
pub mod review;
pub mod token;

/// Keep Amazon EKS cluster access (aws-auth, access entries) in step with AWS IAM.
#[derive(Debug, Parser)]
#[command(name = "eks-iam-sync", version = build_info::VERSION_AND_COMMIT, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render a new aws-auth ConfigMap from the current one and a desired managed set, offline.
    Render(render::RenderArgs),
    /// Show what a reconcile would change on each cluster, without writing (exit 0 no change,
    /// 2 changes, 1 error).
    Plan(reconcile::ReconcileArgs),
    /// Reconcile each cluster: write the planned changes (exit 0 in step, 1 error or refusal).
    Apply(reconcile::ReconcileArgs),
    /// Move the managed aws-auth entries of an API_AND_CONFIG_MAP cluster to access entries
    /// (plan by default; --apply writes; exit 0 nothing to move / done, 2 would move, 1 error).
    Migrate(migrate::MigrateArgs),
    /// Report who EKS lets into each cluster, from which store, why, and what is wrong
    /// (read-only; exit 0 report made, 2 findings with --fail-on-findings, 1 error).
    Review(review::ReviewArgs),
    /// List the access changes recorded in the history bucket, newest first.
    History(history::HistoryArgs),
    /// Put aws-auth back as a recorded run left it (plan by default; --apply writes; exit 0
    /// nothing to restore / restored, 2 would change, 1 error or refusal).
    Restore(restore::RestoreArgs),
    /// Run the Lambda handler once on an event payload, locally, and print its response.
    Invoke(invoke::InvokeArgs),
    /// Print an EKS bearer token as a kubectl ExecCredential.
    Token(token::TokenArgs),
    /// Validate a configuration offline, listing every problem (exit 0 valid, 1 invalid), or
    /// print its JSON Schema (--schema).
    CheckConfig(check_config::CheckConfigArgs),
}

/// The command line of this process. A usage error prints clap's message on stderr and is
/// exit code 1; `--help` and `--version` print on stdout and are exit code 0.
pub fn parse() -> Result<Cli, ExitCode> {
    Cli::try_parse().map_err(|error| {
        let _ = error.print();
        if error.use_stderr() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    })
}

/// The reconciler for a command, from the environment with `--config` overriding
/// `EKS_IAM_SYNC_CONFIG` (see [`crate::app`]). An invalid configuration prints one line and
/// gives the command's exit code 1.
pub(crate) async fn reconciler(config: Option<&str>) -> Result<Reconciler, ExitCode> {
    app::reconciler_from_env(&app::environment(config))
        .await
        .map_err(|error| {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        })
}

/// The cause the change history records for an operator's run: the CLI, and the operator's
/// identity (sts:GetCallerIdentity) as its actor when it can be read.
pub(crate) async fn operator_cause(reconciler: &Reconciler, writes: bool) -> Cause {
    let mut cause = Cause::of(Trigger::Cli);
    if writes && reconciler.history().is_some() {
        cause.actor = reconciler.own_identity().await.ok();
    }
    cause
}

/// `error: MESSAGE` on stderr, and exit code 1.
pub(crate) fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}
