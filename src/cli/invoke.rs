//! `eks-iam-sync invoke --event FILE`: runs the Lambda handler once on a payload, locally.
//!
//! The same code path as an invocation inside Lambda (configuration from the environment,
//! classification, reconcile, JSON summary, metric line), without a Lambda runtime: for trying
//! an event against real clusters, and for black-box tests. Exit 0 when the handler succeeded,
//! 1 when it failed (some cluster failed, or the payload was rejected).

use std::io::Read;
use std::process::ExitCode;

use crate::app;
use crate::handler::{Handler, HandlerError};

#[derive(Debug, clap::Args)]
pub struct InvokeArgs {
    /// The invocation payload: an EventBridge event or a direct invoke (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub event: String,
    /// The configuration: a YAML or JSON file, `ssm:/parameter/name` or `s3://bucket/key`;
    /// defaults to $EKS_IAM_SYNC_CONFIG.
    #[arg(long, value_name = "SOURCE")]
    pub config: Option<String>,
}

/// Reads the payload, runs the handler once, prints its response; returns the exit code.
pub async fn run(args: &InvokeArgs) -> ExitCode {
    let text = if args.event == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map(|_| text)
    } else {
        std::fs::read_to_string(&args.event)
    };
    let payload: serde_json::Value = match text
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(payload) => payload,
        Err(e) => {
            eprintln!("error: {}: {e}", args.event);
            return ExitCode::FAILURE;
        }
    };
    let handler = match Handler::from_env(&app::environment(args.config.as_deref())).await {
        Ok(handler) => handler,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    match handler.handle(&payload).await {
        Ok(response) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&response).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            if let HandlerError::ClustersFailed { summary, .. } = &error {
                println!(
                    "{}",
                    serde_json::to_string_pretty(summary).unwrap_or_default()
                );
            }
            let diagnostic = lambda_runtime::Diagnostic::from(error);
            eprintln!(
                "error: {}: {}",
                diagnostic.error_type, diagnostic.error_message
            );
            ExitCode::FAILURE
        }
    }
}
