//! Integration tests against stand-ins in or beside the test process: AWS clients answered
//! by aws-smithy-mocks, an eks-sim started in process (`reconcile`), and a moto server per
//! test where a real endpoint is needed (`token_support`). One binary (each links the crate
//! and the AWS SDK); a module per topic. `token_logging` stays a binary of its own: it installs
//! the process's tracing subscriber.

#[path = "../token_support/mod.rs"]
mod token_support;

mod aws_access_entries;
mod aws_eks;
mod aws_iam;
mod aws_iam_accounts;
mod reconcile;
mod token_cli;
mod token_source;
