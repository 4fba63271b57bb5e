//! Issue 13's configuration contract: `accessPolicies` on every mapping, `accessEntryType` on
//! roles; every problem listed with its path, value and why.

use eks_iam_sync::core::settings::{AccessPolicy, EntryType};

use super::{BASE, problems, yaml};

const ROLE: &str = "arn:aws:iam::111122223333:role/deploy";

#[test]
fn every_mapping_accepts_access_policies_and_kubernetes_groups_become_optional() {
    let text = format!(
        "{BASE}groups:\n  - iamGroup: team-a\n    accessPolicies:\n      - policy: AmazonEKSEditPolicy\n        namespaces: [team-a, \"team-a-*\"]\n\
         users:\n  - arn: arn:aws:iam::111122223333:user/alice\n    username: alice\n    accessPolicies: [{{policy: AmazonEKSViewPolicy}}]\n\
         roles:\n  - arn: {ROLE}\n    username: deploy\n    accessPolicies:\n      - policy: arn:aws:eks::aws:cluster-access-policy/AmazonEKSSecretReaderPolicy\n        namespaces: [ci]\n\
         ssoPermissionSets:\n  - name: Admins\n    username: admin\n    accessPolicies: [{{policy: AmazonEKSClusterAdminPolicy}}]\n"
    );
    let s = yaml(&text).unwrap();
    assert_eq!(
        s.groups[0].access_policies,
        [AccessPolicy::namespaced(
            "AmazonEKSEditPolicy",
            &["team-a", "team-a-*"]
        )]
    );
    assert!(s.groups[0].kubernetes_groups.is_empty());
    assert_eq!(
        s.users[0].access_policies,
        [AccessPolicy::cluster("AmazonEKSViewPolicy")]
    );
    assert_eq!(
        s.roles[0].access_policies,
        [AccessPolicy::namespaced(
            "AmazonEKSSecretReaderPolicy",
            &["ci"]
        )]
    );
    assert_eq!(
        s.sso_permission_sets[0].access_policies,
        [AccessPolicy::cluster("AmazonEKSClusterAdminPolicy")]
    );
}

#[test]
fn policy_problems_are_all_listed_with_their_path() {
    let text = "clusters:\n  - name: prod\n    region: eu-west-3\n  - name: china\n    region: cn-north-1\n\
         groups:\n  - iamGroup: team-a\n    accessPolicies:\n      - policy: AmazonEKSViewPolicy\n      - policy: AmazonEKSFooPolicy\n      - policy: AmazonEKSViewPolicy\n        namespaces: [a]\n      - policy: AmazonEKSEditPolicy\n        namespaces: []\n      - policy: AmazonEKSAdminPolicy\n        namespaces: [Team_A, ok, ok, \"*\"]\n      - {}\n\
         users:\n  - arn: arn:aws:iam::111122223333:user/alice\n    username: alice\n    accessPolicies:\n      - policy: arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy\n      - policy: AmazonEKSAutoNodePolicy\n";
    assert_eq!(
        problems(text),
        [
            r#"groups[0].accessPolicies[1].policy: "AmazonEKSFooPolicy": not an EKS access policy (one of: AmazonEKSClusterAdminPolicy, AmazonEKSAdminPolicy, AmazonEKSEditPolicy, AmazonEKSViewPolicy, AmazonEKSAdminViewPolicy, AmazonEKSSecretReaderPolicy)"#,
            r#"groups[0].accessPolicies[2].policy: "AmazonEKSViewPolicy": policy listed twice in this mapping (first at groups[0].accessPolicies[0]): give it once, with all its namespaces"#,
            "groups[0].accessPolicies[3].namespaces: empty list: give at least one namespace, or omit `namespaces` for cluster scope",
            r#"groups[0].accessPolicies[4].namespaces[0]: "Team_A": not a namespace name (at most 63 lowercase letters, digits and -, starting and ending with a letter or digit), optionally ending in * to match a prefix"#,
            r#"groups[0].accessPolicies[4].namespaces[2]: "ok": namespace listed twice"#,
            r#"groups[0].accessPolicies[4].namespaces[3]: "*": not a namespace name (at most 63 lowercase letters, digits and -, starting and ending with a letter or digit), optionally ending in * to match a prefix"#,
            "groups[0].accessPolicies[5].policy: required: an EKS access policy (AmazonEKSClusterAdminPolicy, AmazonEKSAdminPolicy, AmazonEKSEditPolicy, AmazonEKSViewPolicy, AmazonEKSAdminViewPolicy, AmazonEKSSecretReaderPolicy)",
            r#"users[0].accessPolicies[0].policy: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy": policy ARN is in partition aws, but cluster china is in partition aws-cn (write the short name to mean every partition)"#,
            r#"users[0].accessPolicies[1].policy: "AmazonEKSAutoNodePolicy": AmazonEKSAutoNodePolicy is for roles with accessEntryType EC2 (Auto Mode node classes) only"#,
        ]
    );
}

#[test]
fn a_group_needs_kubernetes_groups_or_access_policies() {
    let got = problems(&format!("{BASE}groups:\n  - iamGroup: team-a\n"));
    assert_eq!(
        got,
        ["groups[0].kubernetesGroups: required: at least one Kubernetes group"]
    );
}

#[test]
fn entry_types_follow_eks_rules() {
    let ok = format!(
        "{BASE}roles:\n  - arn: {ROLE}\n    accessEntryType: FARGATE_LINUX\n  - arn: arn:aws:iam::111122223333:role/auto\n    accessEntryType: EC2\n    accessPolicies: [{{policy: AmazonEKSAutoNodePolicy}}]\n"
    );
    let s = yaml(&ok).unwrap();
    assert_eq!(s.roles[0].access_entry_type, Some(EntryType::FargateLinux));
    assert_eq!(s.roles[1].access_entry_type, Some(EntryType::Ec2));
    let bad = format!(
        "{BASE}users:\n  - arn: arn:aws:iam::111122223333:user/u\n    username: u\n    accessEntryType: EC2_LINUX\n\
         roles:\n  - arn: {ROLE}\n    username: deploy\n    kubernetesGroups: [devs]\n    accessEntryType: EC2_WINDOWS\n    accessPolicies: [{{policy: AmazonEKSViewPolicy}}]\n\
         \x20 - arn: arn:aws:iam::111122223333:role/auto\n    accessEntryType: EC2\n    accessPolicies: [{{policy: AmazonEKSEditPolicy}}]\n\
         \x20 - arn: arn:aws:iam::111122223333:role/x\n    accessEntryType: LINUX\n"
    );
    assert_eq!(
        problems(&bad),
        [
            r#"users[0].accessEntryType: "EC2_LINUX": only roles take an access entry type (a user's entry is always STANDARD)"#,
            r#"roles[0].username: "deploy": EKS sets the username of EC2_WINDOWS entries: omit username"#,
            "roles[0].kubernetesGroups: EKS allows no Kubernetes groups on EC2_WINDOWS entries (it gives nodes their own): omit kubernetesGroups",
            r#"roles[0].accessPolicies[0].policy: "AmazonEKSViewPolicy": EKS allows no access policy on EC2_WINDOWS entries"#,
            r#"roles[1].accessPolicies[0].policy: "AmazonEKSEditPolicy": an EC2 (Auto Mode node class) entry takes only AmazonEKSAutoNodePolicy"#,
            r#"roles[2].accessEntryType: "LINUX": not an access entry type (one of: STANDARD, EC2_LINUX, EC2_WINDOWS, FARGATE_LINUX, HYBRID_LINUX, EC2)"#,
            "roles[2].username: required: the Kubernetes username (always written, see aws-iam-authenticator #289)",
        ]
    );
}
