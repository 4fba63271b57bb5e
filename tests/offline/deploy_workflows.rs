//! The GitHub workflows (issue 24): CI runs the one test command on pull requests and main;
//! a `v*` tag builds both Lambda zips and the four CLI archives under the names the README's
//! "deploy a released package" commands download, and only the publishing job may write.
//! scripts/check-deploy.sh lints the same files with actionlint and checks every SHA pin.

use serde_json::{Value, json};

use crate::deploy_support::{at, read};

fn workflow(path: &str) -> Value {
    serde_saphyr::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: not YAML: {e}"))
}

fn run_scripts(job: &Value) -> Vec<&str> {
    job["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|step| step["run"].as_str())
        .collect()
}

#[test]
fn ci_runs_scripts_test_sh_on_pull_requests_and_main_with_read_only_contents() {
    let path = ".github/workflows/ci.yml";
    let ci = workflow(path);
    assert_eq!(ci["on"]["push"]["branches"], json!(["main"]));
    assert!(
        ci["on"].get("pull_request").is_some(),
        "{path}: pull_request"
    );
    assert_eq!(ci["permissions"], json!({"contents": "read"}));
    let job = at(&ci, path, "/jobs/test");
    assert!(job["timeout-minutes"].as_u64().is_some());
    assert_eq!(run_scripts(job).last(), Some(&"./scripts/test.sh"));
}

#[test]
fn release_builds_both_lambda_zips_and_four_cli_targets_and_only_publish_writes() {
    let path = ".github/workflows/release.yml";
    let release = workflow(path);
    assert_eq!(release["on"]["push"]["tags"], json!(["v*"]));
    assert_eq!(release["permissions"], json!({"contents": "read"}));
    let build = at(&release, path, "/jobs/build");
    assert!(
        build.get("permissions").is_none(),
        "{path}: build keeps read-only"
    );
    let artifacts: Vec<&str> = build["strategy"]["matrix"]["include"]
        .as_array()
        .expect("matrix.include")
        .iter()
        .map(|entry| entry["artifact"].as_str().expect("artifact"))
        .collect();
    assert_eq!(
        artifacts,
        [
            "lambda-arm64",
            "lambda-x86_64",
            "x86_64-unknown-linux-gnu",
            "aarch64-unknown-linux-gnu",
            "x86_64-unknown-linux-musl",
            "aarch64-unknown-linux-musl",
        ]
    );
    let scripts = run_scripts(build).join("\n");
    for needle in [
        "cargo lambda build --release \"--$ARCH\" --bin eks-iam-sync --lambda-dir target/lambda --output-format zip",
        "\"dist/eks-iam-sync-${GITHUB_REF_NAME#v}-$ARTIFACT.zip\"",
        // The CLI with SSO profiles (the `sso` feature); the Lambda package without.
        "cargo zigbuild --release --locked --features sso --target \"$TARGET\" --bin eks-iam-sync",
    ] {
        assert!(scripts.contains(needle), "{path}: build lacks `{needle}`");
    }
    let publish = at(&release, path, "/jobs/publish");
    assert_eq!(publish["permissions"], json!({"contents": "write"}));
    let scripts = run_scripts(publish).join("\n");
    assert!(scripts.contains("sha256sum -- * >SHA256SUMS"), "{path}");
    assert!(scripts.contains("gh release upload"), "{path}");
    // What the README downloads is what the arm64 Lambda build names.
    let readme = read("README.md");
    assert!(
        readme.contains(r#"--pattern "eks-iam-sync-$V-lambda-arm64.zip" --pattern SHA256SUMS"#)
    );
}
