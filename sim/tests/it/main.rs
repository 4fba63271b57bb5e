//! eks-sim's integration tests: one test binary (uv's layout), one module per concern.

mod accounts;
mod cli;
mod configmaps;
mod eks_api;
mod faults;
mod kubectl;
mod local_stack;
mod support;
mod tokens;
