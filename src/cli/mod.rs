//! The command-line interface: argument parsing and one module per subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod invoke;
pub mod migrate;
pub mod reconcile;
pub mod render;
pub mod token;

/// Keep Amazon EKS cluster access (aws-auth, access entries) in step with AWS IAM.
#[derive(Debug, Parser)]
#[command(name = "eks-iam-sync", version, about, long_about = None)]
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
    /// Run the Lambda handler once on an event payload, locally, and print its response.
    Invoke(invoke::InvokeArgs),
    /// Print an EKS bearer token as a kubectl ExecCredential.
    Token(token::TokenArgs),
}

/// Starts an async runtime, builds the reconciler from the environment (with `--config`
/// overriding `EKS_IAM_SYNC_CONFIG`), and runs `body` with it. Errors before `body` print one
/// line and give exit code 1.
pub(crate) fn with_reconciler(
    config: Option<&str>,
    body: impl AsyncFnOnce(crate::reconcile::Reconciler) -> ExitCode,
) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let mut env: std::collections::HashMap<String, String> = std::env::vars().collect();
        if let Some(path) = config {
            env.insert(crate::config::CONFIG_ENV.to_owned(), path.to_owned());
        }
        match crate::lambda::reconciler_from_env(&env).await {
            Ok(reconciler) => body(reconciler).await,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Runs the parsed command and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Render(args) => render::run(&args),
        Command::Plan(args) => reconcile::run(&args, false),
        Command::Apply(args) => reconcile::run(&args, true),
        Command::Migrate(args) => migrate::run(&args),
        Command::Invoke(args) => invoke::run(&args),
        Command::Token(args) => token::run(&args),
    }
}
