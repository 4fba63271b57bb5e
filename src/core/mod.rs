//! The pure heart of eks-iam-sync: everything here is a function of its inputs.
//!
//! Nothing in this module performs I/O, reads the clock or the environment; adapters do
//! that and hand the results in. That is what lets the rules be tested exhaustively.

pub mod access_entries;
pub mod arn;
pub mod aws_auth;
pub mod desired;
pub mod desired_state;
pub mod guards;
pub mod token;

/// Old path of [`aws_auth::plan`], kept while the shell's imports move.
pub use aws_auth::plan;
