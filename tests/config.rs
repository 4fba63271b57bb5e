//! Configuration loading and validation: schema, defaults, every problem listed with its path,
//! the inline/file rule, and the iam-eks-user-mapper environment mapping.

use std::collections::HashMap;
use std::path::PathBuf;

use eks_iam_sync::config::{
    Backend, ConfigError, DEFAULT_MAX_REMOVAL_FRACTION, Format, PrincipalKind, RawConfig, Settings,
    from_iam_eks_user_mapper_env, from_text, load,
};
use proptest::prelude::*;

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

#[test]
fn example_yaml_resolves_every_default() {
    let s = from_text(&read_fixture("example.yaml"), "example.yaml", None).unwrap();
    assert_eq!(s.cluster_names(), ["prod", "staging"]);
    let prod = s.cluster("prod").unwrap();
    assert_eq!(
        (prod.backend, prod.assume_role_arn.is_none()),
        (Backend::Auto, true)
    );
    let staging = s.cluster("staging").unwrap();
    assert_eq!(staging.backend, Backend::AwsAuth);
    assert_eq!(
        staging.assume_role_arn.as_ref().unwrap().account_id(),
        "222233334444"
    );
    // Omitted `clusters` means every cluster; omitted prefix means "".
    assert_eq!(s.groups[0].clusters, ["prod", "staging"]);
    assert_eq!(s.groups[0].username_prefix, "");
    assert_eq!(s.groups[1].clusters, ["staging"]);
    assert_eq!(s.groups[1].username_prefix, "dev-");
    assert_eq!(s.users[0].arn.path(), "/ops/");
    assert_eq!(s.users[0].arn.kind(), PrincipalKind::User);
    assert_eq!(s.roles[0].username, "system:node:{{EC2PrivateDNSName}}");
    assert_eq!(s.sso_permission_sets[0].clusters, ["prod", "staging"]);
    assert_eq!(s.accounts, ["111122223333"]);
    assert_eq!(s.guards.max_removal_fraction, 0.25);
}

#[test]
fn json_and_yaml_fixtures_give_the_same_settings() {
    let from_yaml = from_text(&read_fixture("example.yaml"), "y", None).unwrap();
    let from_json = from_text(&read_fixture("example.json"), "j", None).unwrap();
    let forced_json = from_text(&read_fixture("example.json"), "j", Some(Format::Json)).unwrap();
    assert_eq!(from_yaml, from_json);
    assert_eq!(from_json, forced_json);
}

#[test]
fn the_readme_example_is_valid() {
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    let section = readme
        .split("\n## Configuration\n")
        .nth(1)
        .expect("README has a Configuration section");
    let example = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a yaml block");
    let s = from_text(example, "README.md", None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.cluster_names(), ["prod"]);
    assert_eq!(
        (
            s.groups.len(),
            s.users.len(),
            s.roles.len(),
            s.sso_permission_sets.len()
        ),
        (1, 1, 1, 1)
    );
}

#[test]
fn builders_give_the_same_settings_as_a_file() {
    let built = RawConfig::default()
        .cluster("prod", "us-east-1")
        .group("eks-admins", &["system:masters"])
        .settings()
        .unwrap();
    assert_eq!(
        built,
        from_text(&read_fixture("minimal.yaml"), "minimal.yaml", None).unwrap()
    );
    let err = RawConfig::default()
        .cluster("prod", "us-east-1")
        .user("arn:aws:iam::111122223333:role/x", "x", &[])
        .account("1")
        .settings()
        .unwrap_err();
    assert_eq!(err.problems().len(), 2, "{err}");
    let full = RawConfig::default()
        .cluster("prod", "eu-west-3")
        .user("arn:aws:iam::111122223333:user/a", "a", &["g"])
        .role("arn:aws:iam::111122223333:role/r", "r", &[])
        .sso_permission_set("Admin", "admin", &["system:masters"])
        .account("111122223333")
        .settings()
        .unwrap();
    assert_eq!(
        (
            full.users.len(),
            full.roles.len(),
            full.sso_permission_sets.len()
        ),
        (1, 1, 1)
    );
}

#[test]
fn guards_default_to_half() {
    let s = from_text(&read_fixture("minimal.yaml"), "minimal.yaml", None).unwrap();
    assert_eq!(s.guards.max_removal_fraction, DEFAULT_MAX_REMOVAL_FRACTION);
    assert_eq!(s.guards.max_removal_fraction, 0.5);
}

#[test]
fn invalid_fixture_lists_every_problem_with_path_value_and_reason() {
    let got = problems(&read_fixture("invalid.yaml"));
    let want = [
        r#"clusters[0].region: "eu-west-3a": this is an availability zone; use its region (without the trailing letter)"#,
        r#"clusters[1].name: "prod": duplicate cluster name (first at clusters[0])"#,
        r#"clusters[2].assumeRoleArn: "arn:aws:iam::222233334444:role/eks-iam-sync": role is in partition aws, but region us-gov-west-1 is in partition aws-us-gov"#,
        "groups[0].kubernetesGroups: required: at least one Kubernetes group",
        r#"groups[1].iamGroup: "EKS-Admins": duplicate IAM group (first at groups[0].iamGroup)"#,
        r#"groups[1].clusters[1]: "stagin": unknown cluster (configured: prod, gov, entries)"#,
        r#"groups[1].clusters[2]: "prod": cluster listed twice"#,
        r#"groups[2].kubernetesGroups[0]: "system:viewers": cluster entries uses backend access-entries, where EKS rejects groups starting with system: (only system:masters, system:bootstrappers and system:nodes translate)"#,
        r#"groups[2].kubernetesGroups[1]: "read only": a Kubernetes group name is non-empty and has no blanks"#,
        r#"users[0].arn: "arn:aws:iam::111122223333:role/admin": this is a role ARN: it belongs under `roles`"#,
        r#"users[1].arn: "arn:aws:iam::1111:user/bob": account id `1111` is not 12 digits"#,
        r#"users[1].username: "{{Session}}": unknown template {{Session}} (known: {{AccountID}}, {{SessionName}}, {{SessionNameRaw}}, {{EC2PrivateDNSName}}, {{AccessKeyID}})"#,
        r#"roles[0].arn: "arn:aws:sts::111122223333:assumed-role/admin/alice": an STS session ARN is not a principal: use arn:aws:iam::111122223333:role/admin"#,
        r#"roles[2].arn: "arn:aws:iam::111122223333:role/deploy": duplicate role ARN (paths aside) (first at roles[1].arn)"#,
        "roles[2].clusters: empty list: omit `clusters` to mean every cluster",
        r#"ssoPermissionSets[0].name: "AWSReservedSSO_AdministratorAccess_0123456789abcdef": this is a role name; use the permission set name "AdministratorAccess""#,
        r#"accounts[0]: "111122223333": an account id must be a string: quote it ("012345678901"); as a number it loses leading zeros"#,
        r#"accounts[1]: "12345": an account id is exactly 12 digits"#,
        r#"accounts[3]: "111122223333": duplicate account (first at accounts[2])"#,
        r#"guards.maxRemovalFraction: "1.5": must be in (0, 1]: the largest fraction of managed entries one run may remove"#,
    ];
    assert_eq!(got, want);
}

#[test]
fn invalid_error_display_counts_and_lists_problems() {
    let err = from_text(&read_fixture("invalid.yaml"), "invalid.yaml", None).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(
            "invalid.yaml: 20 problem(s) in the configuration:\n  - clusters[0].region: "
        ),
        "{text}"
    );
    assert_eq!(text.lines().count(), 21);
}

#[test]
fn an_empty_document_needs_a_cluster() {
    assert_eq!(problems(""), ["clusters: at least one cluster is required"]);
    assert_eq!(
        problems("{}"),
        ["clusters: at least one cluster is required"]
    );
}

#[test]
fn missing_required_fields_are_all_reported() {
    let got = problems(
        "clusters:\n  - {}\ngroups:\n  - {}\nusers:\n  - {}\nroles:\n  - {}\nssoPermissionSets:\n  - {}\n",
    );
    assert_eq!(
        got,
        [
            "clusters[0].name: required: the EKS cluster name",
            "clusters[0].region: required: the cluster's region, e.g. eu-west-3",
            "groups[0].iamGroup: required: the IAM group whose members get access",
            "groups[0].kubernetesGroups: required: at least one Kubernetes group",
            "users[0].arn: required: the IAM user ARN",
            "users[0].username: required: the Kubernetes username (always written, see aws-iam-authenticator #289)",
            "roles[0].arn: required: the IAM role ARN",
            "roles[0].username: required: the Kubernetes username (always written, see aws-iam-authenticator #289)",
            "ssoPermissionSets[0].name: required: the permission set name",
            "ssoPermissionSets[0].username: required: the Kubernetes username (always written, see aws-iam-authenticator #289)",
            "ssoPermissionSets[0].kubernetesGroups: required: at least one Kubernetes group",
        ]
    );
}

#[test]
fn users_and_roles_may_have_no_kubernetes_groups() {
    let s = yaml(&format!(
        "{BASE}users:\n  - arn: arn:aws:iam::111122223333:user/a\n    username: a\nroles:\n  - arn: arn:aws:iam::111122223333:role/emr\n    username: emr\n"
    ))
    .unwrap();
    assert!(s.users[0].kubernetes_groups.is_empty() && s.roles[0].kubernetes_groups.is_empty());
}

#[test]
fn cluster_name_and_region_shapes() {
    let got = problems(
        "clusters:\n  - name: -bad\n    region: europe\n  - name: ok_1\n    region: EU-WEST-1\n",
    );
    assert_eq!(
        got,
        [
            r#"clusters[0].name: "-bad": not an EKS cluster name (letter or digit first, then letters, digits, - and _; at most 100)"#,
            r#"clusters[0].region: "europe": not an AWS region (expected e.g. eu-west-3, us-gov-west-1, cn-north-1)"#,
            r#"clusters[1].region: "EU-WEST-1": not an AWS region (expected e.g. eu-west-3, us-gov-west-1, cn-north-1)"#,
        ]
    );
}

#[test]
fn arns_in_every_partition_are_accepted() {
    let text = "clusters:\n  - name: cn\n    region: cn-north-1\n    assumeRoleArn: arn:aws-cn:iam::111122223333:role/sync\n  - name: iso\n    region: us-iso-east-1\n    assumeRoleArn: arn:aws-iso:iam::111122223333:role/sync\nusers:\n  - arn: arn:aws-us-gov:iam::111122223333:user/a\n    username: a\n  - arn: arn:aws-iso-b:iam::111122223333:user/b\n    username: b\n";
    let s = yaml(text).unwrap();
    assert_eq!(s.users.len(), 2);
    assert_eq!(
        problems(&format!(
            "{BASE}users:\n  - arn: arn:aws-eu:iam::111122223333:user/a\n    username: a\n"
        )),
        [
            r#"users[0].arn: "arn:aws-eu:iam::111122223333:user/a": unknown partition `aws-eu` (expected aws, aws-cn, aws-us-gov or aws-iso*)"#
        ]
    );
}

#[test]
fn user_arns_compare_case_insensitively_and_keep_their_path() {
    let got = problems(&format!(
        "{BASE}users:\n  - arn: arn:aws:iam::111122223333:user/ops/Alice\n    username: a\n  - arn: arn:aws:iam::111122223333:user/ops/alice\n    username: b\n  - arn: arn:aws:iam::111122223333:user/alice\n    username: c\n"
    ));
    assert_eq!(
        got,
        [
            r#"users[1].arn: "arn:aws:iam::111122223333:user/ops/alice": duplicate user ARN (first at users[0].arn)"#
        ]
    );
}

#[test]
fn kubernetes_groups_listed_twice() {
    let got = problems(&format!(
        "{BASE}groups:\n  - iamGroup: a\n    kubernetesGroups: [x, x]\n"
    ));
    assert_eq!(
        got,
        [r#"groups[0].kubernetesGroups[1]: "x": group listed twice"#]
    );
}

#[test]
fn access_entries_allow_translatable_system_groups() {
    let text = "clusters:\n  - name: prod\n    region: eu-west-3\n    backend: access-entries\ngroups:\n  - iamGroup: admins\n    kubernetesGroups: [system:masters]\nroles:\n  - arn: arn:aws:iam::111122223333:role/node\n    username: \"system:node:{{EC2PrivateDNSName}}\"\n    kubernetesGroups: [system:bootstrappers, system:nodes]\n";
    assert!(yaml(text).is_ok());
    // The same groups on an aws-auth cluster are fine too; only access-entries rejects others.
    assert!(
        yaml(&format!(
            "{BASE}groups:\n  - iamGroup: a\n    kubernetesGroups: [system:anything]\n"
        ))
        .is_ok()
    );
}

#[test]
fn username_rules() {
    let got = problems(&format!(
        "{BASE}roles:\n  - arn: arn:aws:iam::111122223333:role/a\n    username: \"a b\"\n  - arn: arn:aws:iam::111122223333:role/b\n    username: \"x-{{{{SessionName\"\n  - arn: arn:aws:iam::111122223333:role/c\n    username: \"x}}}}\"\ngroups:\n  - iamGroup: g\n    kubernetesGroups: [g]\n    usernamePrefix: \"{{{{AccountID}}}}\"\n"
    ));
    assert_eq!(
        got,
        [
            r#"groups[0].usernamePrefix: "{{AccountID}}": must not contain blanks or template braces"#,
            r#"roles[0].username: "a b": a username has no blanks"#,
            r#"roles[1].username: "x-{{SessionName": unclosed `{{` template"#,
            r#"roles[2].username: "x}}": stray brace: templates are written {{Name}}"#,
        ]
    );
}

#[test]
fn fraction_must_be_in_zero_one() {
    for bad in ["0", "-0.1", "1.01", ".nan"] {
        let got = problems(&format!("{BASE}guards:\n  maxRemovalFraction: {bad}\n"));
        assert_eq!(got.len(), 1, "{bad}: {got:?}");
        assert!(got[0].starts_with("guards.maxRemovalFraction: "), "{got:?}");
    }
    let s = yaml(&format!("{BASE}guards:\n  maxRemovalFraction: 1\n")).unwrap();
    assert_eq!(s.guards.max_removal_fraction, 1.0);
}

#[test]
fn a_leading_zero_account_number_is_called_out() {
    // YAML reads 012345678901 as the number 12345678901: the message says to quote it.
    let got = problems(&format!("{BASE}accounts: [012345678901]\n"));
    assert_eq!(got.len(), 1);
    assert!(
        got[0]
            .starts_with("accounts[0]: \"12345678901\": an account id must be a string: quote it"),
        "{got:?}"
    );
    let s = yaml(&format!("{BASE}accounts: [\"012345678901\"]\n")).unwrap();
    assert_eq!(s.accounts, ["012345678901"]);
    // JSON numbers too.
    let json =
        r#"{"clusters": [{"name": "prod", "region": "eu-west-3"}], "accounts": [111122223333]}"#;
    let err = from_text(json, "inline", None).unwrap_err();
    assert!(err.problems()[0].why.contains("quote it"));
}

#[test]
fn yaml_syntax_errors_name_the_line() {
    let err = yaml("clusters:\n  - name: prod\n    region: [eu-west-3\n").unwrap_err();
    let ConfigError::Parse { line, message, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(line.is_some_and(|l| l >= 3), "{err}");
    assert!(!message.is_empty());
    assert!(err.to_string().starts_with("test (YAML): line "), "{err}");
}

#[test]
fn unknown_keys_are_caught_with_their_line() {
    let err = yaml(&format!(
        "{BASE}groups:\n  - iamGroup: a\n    kubernetesGroup: [x]\n"
    ))
    .unwrap_err();
    let ConfigError::Parse { line, message, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*line, Some(6));
    assert!(
        message.contains("unknown field `kubernetesGroup`"),
        "{message}"
    );
    let err = yaml(&format!("{BASE}guard:\n  maxRemovalFraction: 0.2\n")).unwrap_err();
    assert!(err.to_string().contains("unknown field `guard`"), "{err}");
}

#[test]
fn unknown_backend_is_a_parse_error() {
    let err = yaml("clusters:\n  - name: prod\n    region: eu-west-3\n    backend: configmap\n")
        .unwrap_err();
    assert!(
        matches!(err, ConfigError::Parse { line: Some(4), .. }),
        "{err}"
    );
}

#[test]
fn json_syntax_errors_name_the_line() {
    let err = from_text("{\n  \"clusters\": [\n  }\n", "inline", None).unwrap_err();
    let ConfigError::Parse { origin, line, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((origin.as_str(), *line), ("inline (JSON)", Some(3)));
}

#[test]
fn a_yaml_flow_mapping_starting_with_a_brace_is_accepted() {
    let s = from_text(
        "{clusters: [{name: prod, region: eu-west-3}]}",
        "inline",
        None,
    )
    .unwrap();
    assert_eq!(s.cluster_names(), ["prod"]);
}

// --- the loader -------------------------------------------------------------------------------

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

// --- iam-eks-user-mapper environment ------------------------------------------------------------

#[test]
fn qovery_environment_maps_onto_the_same_settings() {
    let s = load(&env(&[
        ("EKS_IAM_SYNC_CLUSTER_NAME", "prod"),
        ("AWS_DEFAULT_REGION", "eu-west-3"),
        ("ENABLE_GROUP_USER_SYNC", "true"),
        ("IAM_K8S_GROUPS", "Admins->system:masters, Devops->devops,Admins->admins,"),
        ("ADMINS_USERS_ARNS", "arn:aws:iam::111122223333:user/ops/alice,arn:aws:iam::111122223333:user/bob"),
        ("ENABLE_SSO", "TRUE"),
        (
            "IAM_SSO_ROLE_ARN",
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-3/AWSReservedSSO_AdministratorAccess_53b82e109c5e2cac,arn:aws:iam::111122223333:role/break-glass",
        ),
        ("KARPENTER_ROLE_ARN", "arn:aws:iam::111122223333:role/KarpenterNodeRole-prod"),
        ("REFRESH_INTERVAL_SECONDS", "30"),
    ]))
    .unwrap();
    let cluster = &s.clusters[0];
    assert_eq!(
        (
            cluster.name.as_str(),
            cluster.region.as_str(),
            cluster.backend
        ),
        ("prod", "eu-west-3", Backend::Auto)
    );
    let groups: Vec<(&str, Vec<&str>, &str)> = s
        .groups
        .iter()
        .map(|g| {
            (
                g.iam_group.as_str(),
                g.kubernetes_groups.iter().map(String::as_str).collect(),
                g.username_prefix.as_str(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("Admins", vec!["system:masters", "admins"], ""),
            ("Devops", vec!["devops"], "")
        ]
    );
    let users: Vec<(&str, &str)> = s
        .users
        .iter()
        .map(|u| (u.arn.as_str(), u.username.as_str()))
        .collect();
    assert_eq!(
        users,
        [
            ("arn:aws:iam::111122223333:user/ops/alice", "alice"),
            ("arn:aws:iam::111122223333:user/bob", "bob")
        ]
    );
    assert!(
        s.users
            .iter()
            .all(|u| u.kubernetes_groups == ["system:masters"])
    );
    assert_eq!(s.sso_permission_sets.len(), 1);
    let sso = &s.sso_permission_sets[0];
    assert_eq!(
        (sso.name.as_str(), sso.username.as_str()),
        ("AdministratorAccess", "cluster-admin-sso")
    );
    assert_eq!(sso.kubernetes_groups, ["system:masters"]);
    let roles: Vec<(&str, &str, Vec<&str>)> = s
        .roles
        .iter()
        .map(|r| {
            (
                r.arn.name(),
                r.username.as_str(),
                r.kubernetes_groups.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("break-glass", "cluster-admin-sso", vec!["system:masters"]),
            (
                "KarpenterNodeRole-prod",
                "system:node:{{EC2PrivateDNSName}}",
                vec!["system:bootstrappers", "system:nodes"]
            ),
        ]
    );
    assert_eq!(s.guards.max_removal_fraction, 0.5);
}

#[test]
fn qovery_groups_and_sso_are_ignored_unless_enabled() {
    let s = from_iam_eks_user_mapper_env(&env(&[
        ("EKS_IAM_SYNC_CLUSTER_NAME", "prod"),
        ("AWS_REGION", "eu-west-3"),
        ("ENABLE_GROUP_USER_SYNC", "false"),
        ("IAM_K8S_GROUPS", "Admins->system:masters"),
        ("IAM_SSO_ROLE_ARN", "arn:aws:iam::111122223333:role/x"),
        (
            "KARPENTER_ARN",
            "arn:aws:iam::111122223333:role/KarpenterNodeRole-prod",
        ),
    ]))
    .unwrap();
    assert!(s.groups.is_empty() && s.sso_permission_sets.is_empty());
    assert_eq!(
        s.roles.len(),
        1,
        "KARPENTER_ARN (the README's name) is accepted"
    );
}

#[test]
fn qovery_problems_name_the_variable() {
    let err = from_iam_eks_user_mapper_env(&env(&[
        ("AWS_DEFAULT_REGION", "eu-west-3a"),
        ("ENABLE_GROUP_USER_SYNC", "yes"),
        ("ENABLE_SSO", "true"),
        ("ADMINS_USERS_ARNS", "arn:aws:iam::111122223333:role/admin"),
        ("KARPENTER_ROLE_ARN", "arn:aws:iam::111122223333:role/a"),
        ("KARPENTER_ARN", "arn:aws:iam::111122223333:role/b"),
    ]))
    .unwrap_err();
    let got: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "EKS_IAM_SYNC_CLUSTER_NAME: required with the iam-eks-user-mapper variables: the name of the EKS cluster to keep in step",
            r#"ENABLE_GROUP_USER_SYNC: "yes": expected true or false"#,
            "IAM_SSO_ROLE_ARN: required when ENABLE_SSO is true: the SSO role ARN",
            r#"KARPENTER_ARN: "arn:aws:iam::111122223333:role/b": differs from KARPENTER_ROLE_ARN; set only one of the two"#,
            "clusters: at least one cluster is required",
            r#"ADMINS_USERS_ARNS[0] (as users[0].arn): "arn:aws:iam::111122223333:role/admin": this is a role ARN: it belongs under `roles`"#,
        ]
    );
}

#[test]
fn qovery_group_mapping_syntax_errors() {
    let err = from_iam_eks_user_mapper_env(&env(&[
        ("EKS_IAM_SYNC_CLUSTER_NAME", "prod"),
        ("AWS_DEFAULT_REGION", "eu-west-3"),
        ("ENABLE_GROUP_USER_SYNC", "true"),
        ("IAM_K8S_GROUPS", "Admins,->x,a->b->c,Devs->read only"),
    ]))
    .unwrap_err();
    let got: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            r#"IAM_K8S_GROUPS[0]: "Admins": expected IAM_GROUP->KUBERNETES_GROUP"#,
            r#"IAM_K8S_GROUPS[1]: "->x": expected IAM_GROUP->KUBERNETES_GROUP"#,
            r#"IAM_K8S_GROUPS[2]: "a->b->c": expected IAM_GROUP->KUBERNETES_GROUP"#,
            r#"IAM_K8S_GROUPS[3] (as groups[0].kubernetesGroups[0]): "read only": a Kubernetes group name is non-empty and has no blanks"#,
        ]
    );
    let err = from_iam_eks_user_mapper_env(&env(&[
        ("EKS_IAM_SYNC_CLUSTER_NAME", "prod"),
        ("AWS_DEFAULT_REGION", "eu-west-3"),
        ("ENABLE_GROUP_USER_SYNC", "true"),
    ]))
    .unwrap_err();
    assert_eq!(err.problems()[0].path, "IAM_K8S_GROUPS");
}

// --- robustness -------------------------------------------------------------------------------

/// Fragments of config syntax, so random documents reach the validator, not only the parser.
fn config_soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("clusters:\n".to_owned()),
        Just("  - name: prod\n".to_owned()),
        Just("    region: eu-west-3\n".to_owned()),
        Just("groups:\n  - iamGroup: a\n".to_owned()),
        Just("    kubernetesGroups: [system:masters]\n".to_owned()),
        Just("    clusters: [prod, x]\n".to_owned()),
        Just("users:\n  - arn: arn:aws:iam::111122223333:user/a\n    username: \"{{SessionName}}\"\n".to_owned()),
        Just("roles:\n  - arn: arn:aws:sts::1:assumed-role/x/y\n".to_owned()),
        Just("accounts: [012345678901, \"x\"]\n".to_owned()),
        Just("guards: {maxRemovalFraction: .inf}\n".to_owned()),
        "[ -~\n]{0,12}",
    ];
    prop::collection::vec(token, 0..12).prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn loading_arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = from_text(&text, "fuzz", None);
        let _ = from_text(&text, "fuzz", Some(Format::Json));
    }

    #[test]
    fn loading_config_shaped_text_never_panics(text in config_soup()) {
        let _ = from_text(&text, "fuzz", None);
    }

    #[test]
    fn qovery_mapping_never_panics(groups in "[ -~]{0,40}", arns in "[ -~]{0,60}", sso in "[ -~]{0,60}") {
        let _ = from_iam_eks_user_mapper_env(&env(&[
            ("EKS_IAM_SYNC_CLUSTER_NAME", "prod"),
            ("AWS_DEFAULT_REGION", "eu-west-3"),
            ("ENABLE_GROUP_USER_SYNC", "true"),
            ("IAM_K8S_GROUPS", &groups),
            ("ADMINS_USERS_ARNS", &arns),
            ("ENABLE_SSO", "true"),
            ("IAM_SSO_ROLE_ARN", &sso),
        ]));
    }
}
