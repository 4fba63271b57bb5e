//! The eks-iam-sync binary, and its table of contents: inside AWS Lambda it serves events;
//! anywhere else it is the CLI, one subcommand per arm below.
//!
//! Process-wide set-up happens here once: the TLS crypto provider, logging, and one async
//! runtime for whichever mode needs it. Each mode returns its own exit code (the CLI's are
//! documented on each subcommand: 0 ok, 2 "would change", 1 error; a usage error is 1 too,
//! see [`cli::parse`]).

use std::process::ExitCode;

use eks_iam_sync::cli::{self, Command};
use eks_iam_sync::log_controls::LogControls;
use eks_iam_sync::{app, lambda, telemetry};

/// What this process is.
enum Mode {
    /// Inside AWS Lambda (the runtime API is set): serve invocations until shut down.
    Lambda,
    /// Anywhere else: one CLI command.
    Cli(Command),
}

fn main() -> ExitCode {
    // One TLS crypto provider for the whole process (kube, the AWS SDK and rustls must agree).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mode = if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        Mode::Lambda
    } else {
        match cli::parse() {
            Ok(cli) => Mode::Cli(cli.command),
            Err(exit) => return exit,
        }
    };
    let in_lambda = matches!(mode, Mode::Lambda);
    telemetry::init(&LogControls::from_env(&app::environment(None), in_lambda));
    match mode {
        Mode::Lambda => serve_lambda(),
        Mode::Cli(Command::Render(args)) => cli::render::run(&args),
        Mode::Cli(Command::Plan(args)) => block_on(cli::reconcile::run(&args, false)),
        Mode::Cli(Command::Apply(args)) => block_on(cli::reconcile::run(&args, true)),
        Mode::Cli(Command::Migrate(args)) => block_on(cli::migrate::run(&args)),
        Mode::Cli(Command::Review(args)) => block_on(cli::review::run(&args)),
        Mode::Cli(Command::History(args)) => block_on(cli::history::run(&args)),
        Mode::Cli(Command::Restore(args)) => block_on(cli::restore::run(&args)),
        Mode::Cli(Command::Invoke(args)) => block_on(cli::invoke::run(&args)),
        Mode::Cli(Command::Token(args)) => block_on(cli::token::run(&args)),
        Mode::Cli(Command::CheckConfig(args)) => cli::check_config::run(&args),
    }
}

/// The Lambda runtime loop; exit 1 when it cannot start or stops with an error.
fn serve_lambda() -> ExitCode {
    block_on(async {
        match lambda::serve().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Runs one async mode to its exit code on the process's one runtime.
fn block_on(command: impl Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(command),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}
