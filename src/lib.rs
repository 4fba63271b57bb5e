//! eks-iam-sync keeps Amazon EKS cluster access in step with AWS IAM.
//!
//! The crate is split the way the data flows:
//! - [`core`] is pure: the aws-auth model, the planner and its guards, and the EKS token
//!   signer. Values in, values out; no network, no clock, no environment.
//! - the adapters around it ([`aws`], [`kubernetes`], [`token_source`]) read facts from AWS
//!   and Kubernetes and carry out a plan.
//! - [`reconcile`] runs gather → plan → write per cluster; [`app`] builds it from the
//!   environment ([`live_config`] keeps a configuration kept in SSM or S3 current).
//! - [`fleet`] fans clusters out on an SQS FIFO queue (fleet mode).
//! - [`handler`] (with [`lambda`]) serves Lambda events; [`cli`] is the operator's front door
//!   (`plan`, `apply`, `review`, `migrate`, `invoke`, `render`, `token`, `check-config`);
//!   [`review_report`] renders `review`'s report (table, JSON, CSV, HTML).

pub mod app;
pub mod aws;
pub mod build_info;
pub mod cli;
pub mod config;
pub mod core;
pub mod events;
#[doc(hidden)]
pub mod fixtures;
pub mod fleet;
pub mod handler;
pub mod kubernetes;
pub mod lambda;
pub mod live_config;
pub mod log_controls;
pub mod reconcile;
pub mod review_report;
pub mod telemetry;
pub mod token_source;
