//! What this binary is: its version and the git commit it was built from (recorded by
//! `build.rs`), for `--version` and the Lambda's start-up log line.

/// The crate's version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The short git commit of the build ("unknown" when built outside a git checkout).
pub const GIT_COMMIT: &str = env!("EKS_IAM_SYNC_GIT_COMMIT");

/// What `--version` prints after the program's name: `0.1.0 (abc1234)`.
pub const VERSION_AND_COMMIT: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("EKS_IAM_SYNC_GIT_COMMIT"),
    ")"
);
