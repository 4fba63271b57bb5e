//! The binary's usage errors: they exit 1, never 2 (what `plan` and `migrate` say for
//! "changes pending"), with clap's message on stderr; `--help` and `--version` exit 0, and
//! `--version` names the git commit of the build.

use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;

/// The binary as the CLI (no Lambda runtime in its environment).
fn cli() -> Command {
    let mut cmd = Command::cargo_bin("eks-iam-sync").unwrap();
    cmd.env_clear().timeout(Duration::from_secs(60));
    cmd
}

#[test]
fn an_unknown_flag_exits_1_with_clap_s_message_on_stderr() {
    for command in [
        "plan", "apply", "review", "history", "restore", "migrate", "render", "token", "invoke",
    ] {
        cli()
            .args([command, "--no-such-flag"])
            .assert()
            .code(1)
            .stdout("")
            .stderr(predicate::str::contains(
                "error: unexpected argument '--no-such-flag' found",
            ))
            .stderr(predicate::str::contains("Usage: eks-iam-sync"));
    }
}

#[test]
fn a_missing_subcommand_or_argument_exits_1() {
    cli()
        .assert()
        .code(1)
        .stderr(predicate::str::contains("Usage: eks-iam-sync <COMMAND>"));
    cli()
        .args(["migrate"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the following required arguments were not provided",
        ));
}

#[test]
fn help_and_version_exit_0_on_stdout() {
    cli()
        .arg("--help")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Usage: eks-iam-sync <COMMAND>"))
        .stderr("");
    cli()
        .args(["plan", "--help"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("--cluster"));
}

/// The commit of this checkout as build.rs records it: `git rev-parse --short HEAD`, or
/// "unknown" outside a git checkout.
fn checked_out_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .filter(|commit| !commit.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[test]
fn version_prints_the_version_and_the_git_commit() {
    let commit = checked_out_commit();
    assert!(
        commit == "unknown" || commit.chars().all(|c| c.is_ascii_hexdigit()),
        "{commit}"
    );
    for flag in ["--version", "-V"] {
        cli()
            .arg(flag)
            .assert()
            .code(0)
            .stdout(format!(
                "eks-iam-sync {} ({commit})\n",
                env!("CARGO_PKG_VERSION")
            ))
            .stderr("");
    }
}
