//! `eks-iam-sync render`: being built.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct RenderArgs {}

pub fn run(_args: &RenderArgs) -> ExitCode {
    eprintln!("render: not built yet");
    ExitCode::FAILURE
}
