//! The iam-eks-user-mapper (Qovery) environment mapped onto the same settings.

use eks_iam_sync::config::{from_iam_eks_user_mapper_env, load};
use eks_iam_sync::core::settings::Backend;

use super::env;

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
