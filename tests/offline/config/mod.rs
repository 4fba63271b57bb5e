//! Configuration loading and validation: schema, defaults, every problem listed with its path,
//! the inline/file rule, and the iam-eks-user-mapper environment mapping.
//!
//! One test binary, split by topic: `check_config` (the `check-config` command and the
//! schema), `documents` (the examples and their defaults),
//! `validation` (every problem with its path), `loader` (file or inline), `mapper_env` (the
//! iam-eks-user-mapper environment) and `robustness` (proptests). The shared helpers are here.

mod access_policies;
mod check_config;
mod documents;
mod loader;
mod mapper_env;
mod robustness;
mod validation;

use std::collections::HashMap;
use std::path::PathBuf;

use eks_iam_sync::config::{ConfigError, from_text};
use eks_iam_sync::core::settings::Settings;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name)
}

fn repo_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("fixture exists")
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn yaml(text: &str) -> Result<Settings, ConfigError> {
    from_text(text, "test", None)
}

/// The problems of an invalid config, one `path: value: why` line each.
fn problems(text: &str) -> Vec<String> {
    match yaml(text) {
        Err(e @ ConfigError::Invalid { .. }) => {
            e.problems().iter().map(ToString::to_string).collect()
        }
        other => panic!("expected validation problems, got {other:?}"),
    }
}

const BASE: &str = "clusters:\n  - name: prod\n    region: eu-west-3\n";
