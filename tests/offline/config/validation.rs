//! Validation: every problem listed with its path, value and reason; syntax errors with their line.

use std::time::Duration;

use eks_iam_sync::config::{ConfigError, from_text};

use super::{BASE, problems, read_fixture, yaml};

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
fn drift_repair_interval_is_a_duration_from_a_minute_to_a_day() {
    let s = yaml(BASE).unwrap();
    assert_eq!(
        s.drift_repair_interval,
        Duration::from_secs(30 * 60),
        "default"
    );
    for (text, secs) in [
        ("1m", 60),
        ("90m", 5400),
        ("2h", 7200),
        ("1h30m", 5400),
        ("24h", 86400),
    ] {
        let s = yaml(&format!("{BASE}driftRepairInterval: {text}\n")).unwrap();
        assert_eq!(s.drift_repair_interval, Duration::from_secs(secs), "{text}");
    }
    for bad in ["30", "59s", "25h", "soon", "-5m"] {
        let got = problems(&format!("{BASE}driftRepairInterval: \"{bad}\"\n"));
        assert_eq!(
            got,
            [format!(
                "driftRepairInterval: \"{bad}\": must be a duration from 1m to 24h, such as 30m or 2h"
            )],
            "{bad}"
        );
    }
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
