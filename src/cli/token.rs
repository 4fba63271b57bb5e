//! `eks-iam-sync token`: being built.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct TokenArgs {}

pub fn run(_args: &TokenArgs) -> ExitCode {
    eprintln!("token: not built yet");
    ExitCode::FAILURE
}
