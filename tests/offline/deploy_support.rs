//! Reading the deployment files for the deploy tests (`deploy_templates.rs`,
//! `deploy_fleet.rs`): CloudFormation as JSON, and a small, targeted reading of the HCL (no
//! HCL parser among our dependencies; scripts/check-deploy.sh parses every .tf file with
//! python-hcl2). Not tests themselves.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;

use serde_json::Value;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A CloudFormation template as JSON. Short-form intrinsics (`!Ref X`, `!Sub ...`, `!If [...]`)
/// are custom YAML tags: serde-saphyr drops the tag and keeps the node, so `!Ref X` reads as
/// the string "X". That is enough here: the patterns are plain data.
pub fn cloudformation(path: &str) -> Value {
    serde_saphyr::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: not YAML: {e}"))
}

pub fn at<'a>(value: &'a Value, path: &str, pointer: &str) -> &'a Value {
    value
        .pointer(pointer)
        .unwrap_or_else(|| panic!("{path}: nothing at {pointer}"))
}

/// The text between the bracket at `open` and its match, skipping string literals.
pub fn balanced(text: &str, open: usize, what: &str) -> String {
    let bytes = text.as_bytes();
    let (opener, closer) = match bytes[open] {
        b'{' => (b'{', b'}'),
        b'[' => (b'[', b']'),
        other => panic!("{what}: expected a bracket, found {:?}", other as char),
    };
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        if b == b'"' {
            in_string = true;
        } else if b == opener {
            depth += 1;
        } else if b == closer {
            depth -= 1;
            if depth == 0 {
                return text[open + 1..i].to_owned();
            }
        }
    }
    panic!("{what}: unbalanced {}", opener as char)
}

/// The body of the first `header ... {` or `header ... [` found after `header`.
pub fn hcl_block(text: &str, header: &str, what: &str) -> String {
    let start = text
        .find(header)
        .unwrap_or_else(|| panic!("{what}: `{header}` not found"));
    let open = text[start..]
        .find(['{', '['])
        .map(|i| start + i)
        .unwrap_or_else(|| panic!("{what}: no block after `{header}`"));
    balanced(text, open, what)
}

/// Whitespace collapsed, so assertions do not depend on `terraform fmt`'s alignment.
pub fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
