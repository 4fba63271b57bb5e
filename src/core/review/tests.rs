//! The review of one cluster, store by store and mode by mode, from hand-made reads.

use super::*;
use crate::core::access_entries::{PRINCIPAL_ID_TAG, Policy, Scope, policy_arn};
use crate::core::aws_auth::SectionName;
use crate::core::desired::Access;
use crate::core::settings::AccessPolicy;
use crate::fixtures::{
    ACCOUNT, DesiredBuilder, EntryBuilder, admin_policy, aws_auth_data, entry, managed_role,
    role_arn, user_arn, view_policy,
};

/// What one review test reads: owned, so a [`ClusterRead`] can borrow it.
struct Case {
    mode: Option<AuthenticationMode>,
    aws_auth: Option<ConfigMapData>,
    entries: Option<Vec<CurrentEntry>>,
    desired: DesiredBuilder,
    drift: Vec<Drift>,
    inventory: Inventory,
    error: Option<String>,
}

impl Case {
    fn new(mode: AuthenticationMode) -> Case {
        Case {
            mode: Some(mode),
            aws_auth: None,
            entries: None,
            desired: DesiredBuilder::new(),
            drift: Vec::new(),
            inventory: Inventory::default(),
            error: None,
        }
    }

    fn aws_auth(mut self, roles: &str, users: &str) -> Case {
        self.aws_auth = Some(aws_auth_data(roles, users, ""));
        self
    }

    fn entries(mut self, entries: Vec<CurrentEntry>) -> Case {
        self.entries = Some(entries);
        self
    }

    fn desired(mut self, desired: DesiredBuilder) -> Case {
        self.desired = desired;
        self
    }

    /// IAM of [`ACCOUNT`] lists exactly these (ARN, unique id, created).
    fn iam(mut self, principals: &[(&str, &str, i64)]) -> Case {
        self.inventory.add_account(
            ACCOUNT,
            principals.iter().map(|(arn, id, created)| {
                let known = Known {
                    id: (*id).to_owned(),
                    created: Some(*created),
                };
                ((*arn).to_owned(), known)
            }),
        );
        self
    }

    fn review(&self) -> ClusterReview {
        let ownership = OwnershipRules::default();
        let reads = |store| self.mode.is_some_and(|m| m.reads(store));
        let (reads_aws_auth, reads_entries) = (reads(Store::AwsAuth), reads(Store::AccessEntries));
        review_cluster(&ClusterRead {
            name: "prod",
            region: "eu-west-1",
            account: ACCOUNT,
            mode: self.mode,
            aws_auth: if reads_aws_auth {
                StoreRead::Read(self.aws_auth.as_ref())
            } else {
                StoreRead::NotRead
            },
            entries: match &self.entries {
                Some(entries) if reads_entries => StoreRead::Read(entries),
                _ => StoreRead::NotRead,
            },
            desired: Some(&self.desired.0),
            drift: &self.drift,
            refusals: &[],
            error: self.error.as_deref(),
            ownership: &ownership,
            inventory: &self.inventory,
        })
    }
}

fn principal<'a>(review: &'a ClusterReview, arn: &str, store: Store) -> &'a PrincipalAccess {
    review
        .principals
        .iter()
        .find(|p| p.arn == arn && p.store == store)
        .unwrap_or_else(|| panic!("{arn} in {store:?} is not listed: {review:#?}"))
}

fn kinds(review: &ClusterReview) -> Vec<(FindingKind, &str)> {
    review
        .findings
        .iter()
        .map(|f| (f.kind, f.principal.as_str()))
        .collect()
}

const ADMIN_USER: &str = "- userarn: arn:aws:iam::111122223333:user/root-admin\n  username: root-admin\n  groups:\n    - system:masters\n";

#[test]
fn a_managed_mapping_says_why_it_is_granted_and_a_hand_written_admin_is_a_finding() {
    let case = Case::new(AuthenticationMode::ConfigMap)
        .aws_auth(&managed_role("deploy", &["system:masters"]), ADMIN_USER)
        .desired(DesiredBuilder::new().named_role("deploy", &["system:masters"]));
    let review = case.review();
    let deploy = principal(&review, &role_arn("deploy"), Store::AwsAuth);
    assert!(deploy.effective && deploy.managed && deploy.admin);
    assert_eq!(deploy.because, "configured in roles");
    assert_eq!(deploy.kind, PrincipalKind::Role);
    assert_eq!(deploy.account, ACCOUNT);
    assert!(deploy.findings.is_empty(), "{deploy:?}");
    let admin = principal(&review, &user_arn("root-admin"), Store::AwsAuth);
    assert!(admin.effective && !admin.managed && admin.admin);
    assert_eq!(admin.because, "");
    assert_eq!(admin.kind, PrincipalKind::User);
    assert_eq!(admin.findings, [FindingKind::UnmanagedAdmin]);
    assert_eq!(
        kinds(&review),
        [(FindingKind::UnmanagedAdmin, user_arn("root-admin").as_str())]
    );
}

#[test]
fn mappings_eks_never_matches_grant_nothing_and_say_why() {
    let roles = "\
- rolearn: arn:aws:iam::111122223333:role/team/platform/ops
  username: ops
  groups:
    - system:masters
- rolearn: arn:aws:iam::111122223333:assumed-role/dev/alice
  username: alice
- rolearn: arn:aws:iam::111122223333:user/bob
  username: bob
";
    let review = Case::new(AuthenticationMode::ConfigMap)
        .aws_auth(roles, "")
        .review();
    for arn in [
        "arn:aws:iam::111122223333:role/team/platform/ops",
        "arn:aws:iam::111122223333:assumed-role/dev/alice",
        "arn:aws:iam::111122223333:user/bob",
    ] {
        let p = principal(&review, arn, Store::AwsAuth);
        assert!(!p.effective && !p.admin, "{p:?}");
        assert_eq!(p.findings, [FindingKind::NeverMatched], "{p:?}");
        assert!(!p.note.is_empty());
    }
    let path = principal(
        &review,
        "arn:aws:iam::111122223333:role/team/platform/ops",
        Store::AwsAuth,
    );
    assert!(
        path.note.contains("arn:aws:iam::111122223333:role/ops"),
        "{}",
        path.note
    );
    // A system:masters mapping EKS never matches is no admin: no unmanaged-admin finding.
    assert!(
        !kinds(&review)
            .iter()
            .any(|(k, _)| *k == FindingKind::UnmanagedAdmin)
    );
}

#[test]
fn in_both_modes_an_access_entry_outranks_the_mapping_of_the_same_principal() {
    let roles = "- rolearn: arn:aws:iam::111122223333:role/ops\n  username: ops\n  groups:\n    - system:masters\n";
    let review = Case::new(AuthenticationMode::ApiAndConfigMap)
        .aws_auth(roles, "")
        .entries(vec![
            entry(&role_arn("ops"), "ops", &[]).with(view_policy()),
        ])
        .review();
    let mapping = principal(&review, &role_arn("ops"), Store::AwsAuth);
    assert!(!mapping.effective && !mapping.admin);
    assert_eq!(mapping.findings, [FindingKind::Shadowed]);
    let entry = principal(&review, &role_arn("ops"), Store::AccessEntries);
    assert!(entry.effective && !entry.admin);
    assert_eq!(
        entry.access_policies,
        [PolicyGrant {
            policy: "AmazonEKSViewPolicy".to_owned(),
            namespaces: Vec::new()
        }]
    );
    assert!(entry.findings.is_empty());
}

#[test]
fn in_api_mode_aws_auth_is_not_read_and_in_config_map_mode_entries_are_not() {
    let api = Case::new(AuthenticationMode::Api)
        .aws_auth(ADMIN_USER, "")
        .entries(vec![
            entry(&role_arn("ops"), "ops", &[]).with(admin_policy()),
        ])
        .review();
    assert_eq!(api.authentication_mode, Some("API"));
    assert!(
        api.principals
            .iter()
            .all(|p| p.store == Store::AccessEntries)
    );
    let ops = principal(&api, &role_arn("ops"), Store::AccessEntries);
    assert!(ops.admin && ops.effective && !ops.managed);
    assert_eq!(ops.findings, [FindingKind::UnmanagedAdmin]);
    let config_map = Case::new(AuthenticationMode::ConfigMap)
        .entries(vec![entry(&role_arn("ops"), "ops", &[])])
        .review();
    assert!(config_map.principals.is_empty());
}

#[test]
fn the_last_duplicate_wins_and_roles_are_found_in_map_roles_first() {
    let roles = "\
- rolearn: arn:aws:iam::111122223333:role/ops
  username: first
  groups:
    - system:masters
- rolearn: arn:aws:iam::111122223333:role/ops
  username: second
";
    let users = "- userarn: arn:aws:iam::111122223333:role/ops\n  username: in-users\n";
    let review = Case::new(AuthenticationMode::ConfigMap)
        .aws_auth(roles, users)
        .review();
    let ops: Vec<&PrincipalAccess> = review
        .principals
        .iter()
        .filter(|p| p.arn == role_arn("ops"))
        .collect();
    assert_eq!(ops.len(), 3, "{ops:#?}");
    let effective: Vec<&str> = ops
        .iter()
        .filter(|p| p.effective)
        .map(|p| p.username.as_str())
        .collect();
    assert_eq!(effective, ["second"]);
    assert!(
        ops.iter().all(|p| !p.admin),
        "the masters duplicate is not the one used"
    );
}

#[test]
fn entries_and_mappings_of_principals_iam_no_longer_has_are_stale() {
    let users = "- userarn: arn:aws:iam::111122223333:user/gone\n  username: gone\n";
    let review = Case::new(AuthenticationMode::ApiAndConfigMap)
        .aws_auth("", users)
        .entries(vec![
            entry(&user_arn("also-gone"), "also-gone", &[]),
            entry(&user_arn("here"), "here", &[]),
            entry("arn:aws:iam::444455556666:role/elsewhere", "x", &[]),
        ])
        .iam(&[(&user_arn("here"), "AIDAHERE", 100)])
        .review();
    assert_eq!(
        principal(&review, &user_arn("gone"), Store::AwsAuth).findings,
        [FindingKind::StalePrincipal]
    );
    assert_eq!(
        principal(&review, &user_arn("also-gone"), Store::AccessEntries).findings,
        [FindingKind::StalePrincipal]
    );
    assert!(
        principal(&review, &user_arn("here"), Store::AccessEntries)
            .findings
            .is_empty()
    );
    // Another account's IAM was not listed: its principal is shown with its account, and
    // neither known nor missing.
    let other = principal(
        &review,
        "arn:aws:iam::444455556666:role/elsewhere",
        Store::AccessEntries,
    );
    assert_eq!(other.account, "444455556666");
    assert!(other.findings.is_empty());
}

#[test]
fn an_access_entry_older_than_its_role_or_made_for_another_unique_id_is_stale() {
    let recreated = role_arn("recreated");
    let retagged = role_arn("retagged");
    let fine = role_arn("fine");
    let review = Case::new(AuthenticationMode::Api)
        .entries(vec![
            CurrentEntry {
                created_at: Some(100),
                ..entry(&recreated, "r", &[])
            },
            entry(&retagged, "t", &[]).managed().id("AROAOLD"),
            CurrentEntry {
                created_at: Some(300),
                ..entry(&fine, "f", &[]).managed().id("AROAFINE")
            },
        ])
        .iam(&[
            (&recreated, "AROANEW1", 200),
            (&retagged, "AROANEW2", 50),
            (&fine, "AROAFINE", 200),
        ])
        .review();
    for arn in [&recreated, &retagged] {
        let p = principal(&review, arn, Store::AccessEntries);
        assert_eq!(p.findings, [FindingKind::StalePrincipal], "{p:?}");
    }
    let detail = &review
        .findings
        .iter()
        .find(|f| f.principal == retagged)
        .expect("a finding")
        .detail;
    assert!(
        detail.contains("AROAOLD") && detail.contains("AROANEW2"),
        "{detail}"
    );
    assert!(
        principal(&review, &fine, Store::AccessEntries)
            .findings
            .is_empty()
    );
    assert_eq!(
        principal(&review, &fine, Store::AccessEntries)
            .facts
            .principal_id
            .as_deref(),
        entry(&fine, "f", &[])
            .id("AROAFINE")
            .tags
            .get(PRINCIPAL_ID_TAG)
            .map(String::as_str)
    );
}

#[test]
fn what_the_next_run_would_change_is_drift_on_the_principal_it_concerns() {
    let mut case = Case::new(AuthenticationMode::ConfigMap)
        .aws_auth(&managed_role("deploy", &["devs"]), "")
        .desired(DesiredBuilder::new().named_role("deploy", &["admins"]));
    case.drift.push(Drift {
        store: Store::AwsAuth,
        principal: role_arn("deploy"),
        change: "changed",
        reason: "configured in roles".to_owned(),
    });
    let review = case.review();
    let deploy = principal(&review, &role_arn("deploy"), Store::AwsAuth);
    assert_eq!(deploy.findings, [FindingKind::Drift]);
    let finding = &review.findings[0];
    assert_eq!(finding.kind, FindingKind::Drift);
    assert_eq!(
        finding.detail,
        "the next run would change it: configured in roles"
    );
}

#[test]
fn unreadable_stores_are_findings_with_why() {
    let ownership = OwnershipRules::default();
    let inventory = Inventory::default();
    let garbage = aws_auth_data("this: [is not a list", "", "");
    let review = review_cluster(&ClusterRead {
        name: "prod",
        region: "eu-west-1",
        account: ACCOUNT,
        mode: Some(AuthenticationMode::ApiAndConfigMap),
        aws_auth: StoreRead::Read(Some(&garbage)),
        entries: StoreRead::Unreadable("EKS ListAccessEntries was denied"),
        desired: None,
        drift: &[],
        refusals: &[],
        error: Some("EKS ListAccessEntries was denied"),
        ownership: &ownership,
        inventory: &inventory,
    });
    let stores: Vec<(FindingKind, Option<Store>)> =
        review.findings.iter().map(|f| (f.kind, f.store)).collect();
    assert_eq!(
        stores,
        [
            (FindingKind::Unreadable, Some(Store::AccessEntries)),
            (FindingKind::Unreadable, Some(Store::AwsAuth)),
        ]
    );
    assert!(review.findings[0].detail.contains("denied"));
    assert!(
        review.findings[1]
            .detail
            .starts_with("aws-auth does not parse")
    );
    let undescribed = review_cluster(&ClusterRead {
        name: "prod",
        region: "eu-west-1",
        account: "",
        mode: None,
        aws_auth: StoreRead::NotRead,
        entries: StoreRead::NotRead,
        desired: None,
        drift: &[],
        refusals: &[],
        error: Some("EKS DescribeCluster was denied"),
        ownership: &ownership,
        inventory: &inventory,
    });
    assert_eq!(undescribed.authentication_mode, None);
    assert_eq!(kinds(&undescribed), [(FindingKind::Unreadable, "")]);
}

#[test]
fn node_roles_are_marked_and_admins_come_first() {
    let node = "- rolearn: arn:aws:iam::111122223333:role/nodes\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n    - system:bootstrappers\n    - system:nodes\n";
    let roles = format!("{node}{}", managed_role("zz-admin", &["system:masters"]));
    let review = Case::new(AuthenticationMode::ApiAndConfigMap)
        .aws_auth(&roles, "")
        .entries(vec![entry(&role_arn("karpenter"), "k", &[]).node()])
        .desired(DesiredBuilder::new().named_role("zz-admin", &["system:masters"]))
        .review();
    assert_eq!(review.principals[0].arn, role_arn("zz-admin"));
    assert!(principal(&review, &role_arn("nodes"), Store::AwsAuth).node);
    assert!(principal(&review, &role_arn("karpenter"), Store::AccessEntries).node);
    assert!(!principal(&review, &role_arn("zz-admin"), Store::AwsAuth).node);
}

#[test]
fn namespace_scoped_policies_are_listed_with_their_namespaces_and_are_no_admin() {
    let scoped = Policy {
        policy_arn: policy_arn("aws", "AmazonEKSClusterAdminPolicy"),
        scope: Scope::Namespaces(vec!["team-a".to_owned()]),
    };
    let desired = DesiredBuilder::new().with(
        SectionName::MapRoles,
        &role_arn("team-a"),
        ("team-a", &[]),
        &Access::policies(&[AccessPolicy::namespaced(
            "AmazonEKSClusterAdminPolicy",
            &["team-a"],
        )]),
    );
    let review = Case::new(AuthenticationMode::Api)
        .entries(vec![
            entry(&role_arn("team-a"), "team-a", &[])
                .managed()
                .with(scoped),
        ])
        .desired(desired)
        .review();
    let p = principal(&review, &role_arn("team-a"), Store::AccessEntries);
    assert!(!p.admin);
    assert_eq!(p.access_policies[0].namespaces, ["team-a"]);
    assert_eq!(p.because, "configured in roles");
    assert!(review.findings.is_empty(), "{:?}", review.findings);
}

#[test]
fn the_json_names_are_the_contract() {
    let review = Case::new(AuthenticationMode::ConfigMap)
        .aws_auth("", ADMIN_USER)
        .review();
    let json = serde_json::to_value(&review).unwrap();
    assert_eq!(json["authenticationMode"], "CONFIG_MAP");
    let p = &json["principals"][0];
    for field in [
        "arn",
        "account",
        "kind",
        "username",
        "groups",
        "accessPolicies",
        "store",
        "effective",
        "managed",
        "admin",
        "node",
        "because",
        "findings",
    ] {
        assert!(p.get(field).is_some(), "{field} missing from {p}");
    }
    assert_eq!(p["store"], "aws-auth");
    assert_eq!(p["kind"], "user");
    assert_eq!(p["findings"][0], "unmanaged-admin");
    assert_eq!(json["findings"][0]["kind"], "unmanaged-admin");
    assert_eq!(json["findings"][0]["store"], "aws-auth");
    for kind in FindingKind::ALL {
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
    }
}
