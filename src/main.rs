//! The eks-iam-sync binary: inside AWS Lambda it serves events; anywhere else it is the CLI.

use std::process::ExitCode;

use clap::Parser;
use eks_iam_sync::cli::{self, Cli};
use eks_iam_sync::{lambda, telemetry};

fn main() -> ExitCode {
    // One TLS crypto provider for the whole process (kube, the AWS SDK and rustls must agree).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        telemetry::init(true);
        let runtime = match tokio::runtime::Runtime::new() {
            Ok(runtime) => runtime,
            Err(e) => {
                eprintln!("cannot start the async runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
        return match runtime.block_on(lambda::serve()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    telemetry::init(false);
    cli::run(Cli::parse())
}
