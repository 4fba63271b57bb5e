//! The Lambda handler and the reconciler in process: `handler::handle` on real payloads,
//! IAM and STS from aws-smithy-mocks, EKS and Kubernetes from an eks-sim started in this
//! process. Every step states the calls it must make ([`support::Calls`]); a missing or an
//! extra call fails the test. One binary with a module per topic (each binary links the AWS
//! SDK).

mod access_entries;
mod aws_auth;
mod bounded_time;
mod effective;
mod events;
mod failures;
mod fleet;
mod rotation;
mod support;
mod user_entries;
mod user_entries_both;
