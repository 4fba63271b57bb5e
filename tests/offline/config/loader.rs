//! The loader: a file named by the variable or inline text, never both, and what to set when neither.

use eks_iam_sync::config::{ConfigError, load};

use super::{BASE, env, fixture};

#[test]
fn load_reads_the_file_named_by_the_variable() {
    let path = fixture("example.yaml");
    let s = load(&env(&[("EKS_IAM_SYNC_CONFIG", path.to_str().unwrap())])).unwrap();
    assert_eq!(s.cluster_names(), ["prod", "staging"]);
    let json = fixture("example.json");
    assert_eq!(
        load(&env(&[("EKS_IAM_SYNC_CONFIG", json.to_str().unwrap())])).unwrap(),
        s
    );
}

#[test]
fn load_takes_inline_json_and_multiline_yaml() {
    let json = r#"{"clusters": [{"name": "prod", "region": "eu-west-3"}]}"#;
    assert_eq!(
        load(&env(&[("EKS_IAM_SYNC_CONFIG", json)]))
            .unwrap()
            .cluster_names(),
        ["prod"]
    );
    assert_eq!(
        load(&env(&[("EKS_IAM_SYNC_CONFIG", BASE)]))
            .unwrap()
            .cluster_names(),
        ["prod"]
    );
}

#[test]
fn load_reports_a_missing_file_with_a_hint_for_one_line_yaml() {
    let err = load(&env(&[("EKS_IAM_SYNC_CONFIG", "/nonexistent/config.yaml")])).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(
        err.to_string()
            .starts_with("EKS_IAM_SYNC_CONFIG: cannot read config file /nonexistent/config.yaml: ")
    );
    let err = load(&env(&[("EKS_IAM_SYNC_CONFIG", "clusters: []")])).unwrap_err();
    assert!(
        err.to_string().contains("this looks like one-line YAML"),
        "{err}"
    );
}

#[test]
fn load_without_any_configuration_says_what_to_set() {
    let err = load(&env(&[("AWS_REGION", "eu-west-3")])).unwrap_err();
    assert!(matches!(err, ConfigError::Missing));
    assert!(
        err.to_string().contains("EKS_IAM_SYNC_CONFIG")
            && err.to_string().contains("IAM_K8S_GROUPS")
    );
}

#[test]
fn a_blank_config_variable_counts_as_unset() {
    let err = load(&env(&[("EKS_IAM_SYNC_CONFIG", "  ")])).unwrap_err();
    assert!(matches!(err, ConfigError::Missing), "{err}");
    let s = load(&env(&[
        ("EKS_IAM_SYNC_CONFIG", ""),
        ("EKS_IAM_SYNC_CLUSTER_NAME", "prod"),
        ("AWS_REGION", "eu-west-3"),
        (
            "KARPENTER_ROLE_ARN",
            "arn:aws:iam::111122223333:role/KarpenterNodeRole-prod",
        ),
    ]))
    .unwrap();
    assert_eq!(s.roles.len(), 1);
}

#[test]
fn load_refuses_both_sources_at_once() {
    let err = load(&env(&[
        ("EKS_IAM_SYNC_CONFIG", BASE),
        ("IAM_K8S_GROUPS", "Admins->system:masters"),
    ]))
    .unwrap_err();
    let ConfigError::Ambiguous { vars } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(vars, &["IAM_K8S_GROUPS"]);
}

#[test]
fn ssm_and_s3_sources_are_resolved_not_read_here() {
    use eks_iam_sync::config::{Remote, Resolved, resolve};
    let resolved = resolve(&env(&[("EKS_IAM_SYNC_CONFIG", "ssm:/eks-iam-sync/config")])).unwrap();
    let Resolved::Remote(remote) = resolved else {
        panic!("{resolved:?}")
    };
    assert_eq!(
        remote,
        Remote::Ssm {
            name: "/eks-iam-sync/config".into()
        }
    );
    // `load` reads no AWS: it says so, naming the source.
    let error = load(&env(&[("EKS_IAM_SYNC_CONFIG", "s3://b/k.yaml")])).unwrap_err();
    assert!(matches!(error, ConfigError::NeedsAws { .. }), "{error:?}");
    assert!(error.to_string().starts_with("s3://b/k.yaml: "), "{error}");
    let error = load(&env(&[("EKS_IAM_SYNC_CONFIG", "s3://bucket-only")])).unwrap_err();
    assert_eq!(
        error.to_string(),
        "EKS_IAM_SYNC_CONFIG: s3://bucket-only: not s3://BUCKET/KEY (both a bucket and a key are needed)"
    );
}
