//! User events on an `API` cluster read and write only the event's user's access entry: the
//! same calls at 10 entries and at 3,000 (issue 21), on an `API_AND_CONFIG_MAP` cluster too
//! (plus one aws-auth GET). A removed or demoted admin reads further entries until another
//! admin is found, and is refused when there is none (`user_entries_both` has what differs
//! where EKS reads aws-auth too).

use serde_json::{Value, json};

use super::support::{Calls, SELF_ARN, Scenario, Setup, event, iam};
use eks_sim::cluster::AuthMode;

/// Admins (system:masters → cluster admin), viewers (a namespace-scoped view policy) and
/// devs (a Kubernetes group).
pub(super) fn admins_and_viewers() -> Value {
    json!({"groups": [
        {"iamGroup": "eks-admins", "kubernetesGroups": ["system:masters"]},
        {"iamGroup": "eks-viewers", "accessPolicies": [{"policy": "AmazonEKSViewPolicy", "namespaces": ["dev"]}]},
        {"iamGroup": "eks-devs", "kubernetesGroups": ["devs"]},
    ]})
}

pub(super) fn membership(sample: &str, group: &str, user: &str) -> Value {
    event(sample, Some(json!({"groupName": group, "userName": user})))
}

pub(super) async fn cluster_in(mode: AuthMode, rules: Vec<aws_smithy_mocks::Rule>) -> Scenario {
    Setup::cluster(mode, "auto", admins_and_viewers())
        .iam(rules)
        .start()
        .await
}

async fn api_cluster(rules: Vec<aws_smithy_mocks::Rule>) -> Scenario {
    cluster_in(AuthMode::Api, rules).await
}

/// `calls`, with aws-auth's GET where EKS reads it too.
pub(super) fn in_mode(calls: Calls, mode: AuthMode) -> Calls {
    match mode {
        AuthMode::ApiAndConfigMap => calls.kube(&[("get", 1)]),
        _ => calls,
    }
}

/// Our identity is read once per instance: by its first run.
fn first(calls: Calls, first_run: bool) -> Calls {
    if first_run {
        calls.caller_identity()
    } else {
        calls
    }
}

/// The calls of a user event that grants one entry (no entry before).
fn grant_calls(first_run: bool) -> Calls {
    first(Calls::none(), first_run)
        .iam(&["ListGroupsForUser", "GetUser"])
        .eks(&[
            ("DescribeCluster", 1),
            ("DescribeAccessEntry", 1),
            ("CreateAccessEntry", 1),
            ("AssociateAccessPolicy", 1),
        ])
}

/// The calls of a user event that removes one non-admin entry.
fn revoke_calls() -> Calls {
    Calls::none().iam(&["ListGroupsForUser", "GetUser"]).eks(&[
        ("DescribeCluster", 1),
        ("DescribeAccessEntry", 1),
        ("ListAssociatedAccessPolicies", 1),
        ("DeleteAccessEntry", 1),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_added_and_removed_costs_the_same_at_10_and_at_3000_entries() {
    for mode in [AuthMode::Api, AuthMode::ApiAndConfigMap] {
        added_and_removed(mode).await;
    }
}

async fn added_and_removed(mode: AuthMode) {
    let s = cluster_in(
        mode,
        vec![
            iam::list_groups_for_user("vic", &["eks-viewers"]),
            iam::get_user("vic"),
            iam::list_groups_for_user("vic", &[]),
            iam::get_user("vic"),
            iam::list_groups_for_user("wes", &["eks-viewers"]),
            iam::get_user("wes"),
            iam::list_groups_for_user("wes", &[]),
            iam::get_user("wes"),
        ],
    )
    .await;
    s.seed_unmanaged_entries(8);
    let vic = iam::user_arn("vic");
    for (user, arn, size) in [
        ("vic", vic.as_str(), 10),
        ("wes", &iam::user_arn("wes"), 3000),
    ] {
        if size == 3000 {
            s.seed_unmanaged_entries(3000 - 1 - s.access_entries().len());
        }
        let added = s
            .handle(&membership("add_user_to_group", "eks-viewers", user))
            .await
            .unwrap();
        let cluster = &added["clusters"][0];
        assert_eq!(cluster["backend"], "access-entries", "{added:#}");
        assert_eq!(cluster["outcome"], "applied", "{added:#}");
        assert_eq!(cluster["added"][0]["key"], arn, "{added:#}");
        assert_eq!(cluster["entriesRead"]["listed"], 0, "{added:#}");
        assert_eq!(added["iamCalls"], 2, "{added:#}");
        s.verify(in_mode(grant_calls(size == 10), mode));
        let identity = s.identity_of(arn).expect("let in with their own token");
        assert!(!identity.is_admin(), "a viewer, not an admin");
        assert_eq!(s.access_entries().len(), size, "cluster of {size} entries");

        let removed = s
            .handle(&membership("remove_user_from_group", "eks-viewers", user))
            .await
            .unwrap();
        let cluster = &removed["clusters"][0];
        assert_eq!(cluster["outcome"], "applied", "{removed:#}");
        assert_eq!(cluster["removed"][0]["key"], arn, "{removed:#}");
        s.verify(in_mode(revoke_calls(), mode));
        assert!(s.identity_of(arn).is_none(), "refused with their own token");
    }
    s.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_user_loses_their_entry_without_a_get_user() {
    let s = api_cluster(vec![
        iam::list_groups_for_user("dave", &["eks-viewers"]),
        iam::get_user("dave"),
        iam::list_groups_for_user_gone("dave"),
    ])
    .await;
    s.handle(&membership("add_user_to_group", "eks-viewers", "dave"))
        .await
        .unwrap();
    s.verify(grant_calls(true));
    let deleted = s
        .handle(&event("delete_user", Some(json!({"userName": "dave"}))))
        .await
        .unwrap();
    let cluster = &deleted["clusters"][0];
    assert_eq!(
        cluster["removed"][0]["key"],
        iam::user_arn("dave"),
        "{deleted:#}"
    );
    s.verify(Calls::none().iam(&["ListGroupsForUser"]).eks(&[
        ("DescribeCluster", 1),
        ("DescribeAccessEntry", 1),
        ("ListAssociatedAccessPolicies", 1),
        ("DeleteAccessEntry", 1),
    ]));
    assert!(s.identity_of(&iam::user_arn("dave")).is_none());
    s.finish();
}

/// IAM's answers for the admin tests: bob joins and leaves eks-admins, then ann joins it and
/// moves to eks-viewers.
pub(super) fn bob_leaves_then_ann_is_demoted() -> Vec<aws_smithy_mocks::Rule> {
    vec![
        iam::list_groups_for_user("bob", &["eks-admins"]),
        iam::get_user("bob"),
        iam::list_groups_for_user("bob", &[]),
        iam::get_user("bob"),
        iam::list_groups_for_user("ann", &["eks-admins"]),
        iam::get_user("ann"),
        iam::list_groups_for_user("ann", &["eks-viewers"]),
        iam::get_user("ann"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_admin_reads_until_another_admin_is_found_and_is_refused_without_one() {
    let s = api_cluster(bob_leaves_then_ann_is_demoted()).await;
    let (bob, ann) = (iam::user_arn("bob"), iam::user_arn("ann"));
    s.handle(&membership("add_user_to_group", "eks-admins", "bob"))
        .await
        .unwrap();
    s.verify(grant_calls(true));
    assert!(s.identity_of(&bob).is_some_and(|i| i.is_admin()));

    // The cluster creator's bootstrap entry (listed first) is another admin: one more entry
    // described, then bob goes.
    let removed = s
        .handle(&membership("remove_user_from_group", "eks-admins", "bob"))
        .await
        .unwrap();
    let cluster = &removed["clusters"][0];
    assert_eq!(cluster["outcome"], "applied", "{removed:#}");
    assert_eq!(
        cluster["entriesRead"],
        json!({"principal": bob, "listed": 2, "othersDescribed": 1, "otherAdmin": SELF_ARN}),
        "{removed:#}"
    );
    s.verify(Calls::none().iam(&["ListGroupsForUser", "GetUser"]).eks(&[
        ("DescribeCluster", 1),
        ("DescribeAccessEntry", 2),
        ("ListAssociatedAccessPolicies", 2),
        ("ListAccessEntries", 1),
        ("DeleteAccessEntry", 1),
    ]));
    assert!(s.identity_of(&bob).is_none());

    // ann is the only admin once the creator's entry is gone: demoting her is refused
    // after every entry was read, and she keeps cluster-admin.
    s.handle(&membership("add_user_to_group", "eks-admins", "ann"))
        .await
        .unwrap();
    s.verify(grant_calls(false));
    s.delete_entry(SELF_ARN);
    s.seed_unmanaged_entries(3);
    let demoted = s
        .handle(&membership("remove_user_from_group", "eks-admins", "ann"))
        .await
        .unwrap();
    let cluster = &demoted["clusters"][0];
    assert_eq!(cluster["outcome"], "refused", "{demoted:#}");
    assert!(
        cluster["refusals"][0]
            .as_str()
            .is_some_and(|r| r.contains("last-cluster-admin")),
        "{demoted:#}"
    );
    assert_eq!(cluster["notApplied"], 1, "{demoted:#}");
    assert_eq!(cluster["entriesRead"]["othersDescribed"], 3, "{demoted:#}");
    assert!(
        cluster["entriesRead"].get("otherAdmin").is_none(),
        "{demoted:#}"
    );
    assert!(
        s.identity_of(&ann).is_some_and(|i| i.is_admin()),
        "ann keeps cluster-admin"
    );
    s.finish();
}
