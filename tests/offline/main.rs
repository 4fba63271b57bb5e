//! Integration tests that need nothing running: pure checks of the planner, the token, the
//! configuration and the event classification through the public API, the deployment files
//! as text, and the CLI run as a process on local files. One binary (each links the crate and
//! the AWS SDK); a module per topic.

mod accounts_config;
mod aws_auth_props;
mod cli_usage;
mod config;
mod deploy_fleet;
mod deploy_iam;
mod deploy_support;
mod deploy_templates;
mod deploy_workflows;
mod events;
mod fuzz_corpus;
mod plan;
mod render_cli;
mod token_roundtrip;
mod token_vectors;
