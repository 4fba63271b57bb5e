//! The eks-iam-sync binary: the operator CLI.

use std::process::ExitCode;

use clap::Parser;
use eks_iam_sync::cli::{self, Cli};

fn main() -> ExitCode {
    cli::run(Cli::parse())
}
