//! The pure heart of eks-iam-sync: everything here is a function of its inputs.
//!
//! Nothing in this module performs I/O, reads the clock or the environment; adapters do
//! that and hand the results in. That is what lets the rules be tested exhaustively.
//!
//! - [`names`]: ARN, partition, region, account and IAM naming rules (one home).
//! - [`settings`]: the validated configuration (produced by `crate::config`).
//! - [`desired`]: who should have access (from IAM, from one user's event, from a file).
//! - [`aws_auth`] and [`access_entries`]: the two backends, each a model and a planner.
//! - [`effective`]: which stores EKS reads per authentication mode, and the plan over both.
//! - [`guards`]: the one guard engine both planners ask before a write.
//! - [`history`]: the change history's records, object keys and queries.
//! - [`review`]: the access review: who gets into a cluster, from which store, and findings.
//! - [`token`]: the EKS bearer token.

pub mod access_entries;
pub mod aws_auth;
pub mod desired;
pub mod effective;
pub mod guards;
pub mod history;
pub mod names;
pub mod review;
pub mod settings;
pub mod token;
