//! Proptests: loading arbitrary or config-shaped text, or mapper variables, never panics.

use eks_iam_sync::config::{Format, from_iam_eks_user_mapper_env, from_text};
use proptest::prelude::*;

use super::env;

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
