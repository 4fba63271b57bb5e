//! Build script: records the git commit the binary is built from, for `--version` and the
//! Lambda's start-up log line (`src/build_info.rs`).
//!
//! `EKS_IAM_SYNC_GIT_COMMIT` (when set and not empty) wins, for builds from a source archive;
//! else `git rev-parse --short HEAD`; outside a git checkout (or without git) "unknown". The
//! script re-runs when HEAD moves: on the worktree's HEAD file, the ref it points to and
//! packed-refs (worktrees keep the last two in the common git directory).

use std::path::{Path, PathBuf};
use std::process::Command;

const COMMIT_OVERRIDE_ENV: &str = "EKS_IAM_SYNC_GIT_COMMIT";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed={COMMIT_OVERRIDE_ENV}");
    let commit = std::env::var(COMMIT_OVERRIDE_ENV)
        .ok()
        .filter(|commit| !commit.trim().is_empty())
        .or_else(|| {
            watch_git_head();
            git(&["rev-parse", "--short", "HEAD"])
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=EKS_IAM_SYNC_GIT_COMMIT={commit}");
}

/// Asks cargo to re-run this script when the checked-out commit changes. Only existing files
/// are named: a missing one would make cargo re-run the script on every build.
fn watch_git_head() {
    let (Some(git_dir), Some(common_dir)) = (
        git(&["rev-parse", "--git-dir"]).map(PathBuf::from),
        git(&["rev-parse", "--git-common-dir"]).map(PathBuf::from),
    ) else {
        return;
    };
    // refs/heads as a directory too: a checkout whose branch ref is packed (a fresh clone)
    // watches no loose ref, and another checkout sharing the target directory must still see
    // its own commits.
    let mut watched = vec![
        git_dir.join("HEAD"),
        common_dir.join("packed-refs"),
        common_dir.join("refs/heads"),
    ];
    if let Some(head_ref) =
        git(&["rev-parse", "--symbolic-full-name", "HEAD"]).filter(|name| name.starts_with("refs/"))
    {
        watched.push(git_dir.join(&head_ref));
        watched.push(common_dir.join(&head_ref));
    }
    for path in watched.iter().filter(|path| Path::exists(path)) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// One line of git's output, run in the package's directory; None when git fails.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let line = text.trim();
    (output.status.success() && !line.is_empty()).then(|| line.to_owned())
}
