//! User events on an `API_AND_CONFIG_MAP` cluster (`backend: auto`): aws-auth is read whole
//! (one GET), of the access entries only the event's user's (the same calls at 10 entries and
//! at 3,000: `user_entries`). The user's managed aws-auth mapping follows in the same run. A removed
//! admin reads further only until another cluster admin is known, counting a `system:masters`
//! mapping only once its principal is known to hold no access entry (which would win).

use serde_json::json;

use super::support::{Calls, SELF_ARN, Scenario, iam};
use super::user_entries::{bob_leaves_then_ann_is_demoted, cluster_in, membership};
use eks_sim::cluster::AuthMode;

async fn both_stores(rules: Vec<aws_smithy_mocks::Rule>) -> Scenario {
    cluster_in(AuthMode::ApiAndConfigMap, rules).await
}

/// A managed aws-auth mapping of IAM user `name` (written by an earlier run on aws-auth).
fn managed_mapping(name: &str, group: &str) -> String {
    format!(
        "- userarn: {}\n  username: {name}\n  groups:\n    - {group}\n  managedBy: eks-iam-sync\n",
        iam::user_arn(name)
    )
}

const BREAK_GLASS: &str = "arn:aws:iam::111122223333:role/break-glass";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_leaves_aws_auth_and_the_access_entries_in_one_event() {
    let s = both_stores(vec![
        iam::list_groups_for_user("vic", &["eks-devs"]),
        iam::get_user("vic"),
        iam::list_groups_for_user("vic", &[]),
        iam::get_user("vic"),
    ])
    .await;
    // vic was mapped in aws-auth before the cluster moved to access entries.
    s.put_aws_auth(json!({"mapUsers": managed_mapping("vic", "devs")}));
    s.handle(&membership("add_user_to_group", "eks-devs", "vic"))
        .await
        .unwrap();
    s.verify(
        Calls::none()
            .caller_identity()
            .iam(&["ListGroupsForUser", "GetUser"])
            .eks(&[
                ("DescribeCluster", 1),
                ("DescribeAccessEntry", 1),
                ("CreateAccessEntry", 1),
            ])
            // The mapping was seeded by hand: its ownership ledger annotation is written once.
            .kube(&[("get", 1), ("update", 1)]),
    );
    let vic = iam::user_arn("vic");
    assert!(
        s.identity_of(&vic).is_some(),
        "the entry wins over the mapping"
    );
    assert!(
        s.aws_auth()["mapUsers"].contains("vic"),
        "kept in step, as it was"
    );

    let removed = s
        .handle(&membership("remove_user_from_group", "eks-devs", "vic"))
        .await
        .unwrap();
    let cluster = &removed["clusters"][0];
    assert_eq!(cluster["outcome"], "applied", "{removed:#}");
    let stores: Vec<&str> = cluster["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["store"].as_str().unwrap())
        .collect();
    assert_eq!(stores, ["aws-auth", "access-entries"], "{removed:#}");
    s.verify(
        Calls::none()
            .iam(&["ListGroupsForUser", "GetUser"])
            .eks(&[
                ("DescribeCluster", 1),
                ("DescribeAccessEntry", 1),
                ("ListAssociatedAccessPolicies", 1),
                ("DeleteAccessEntry", 1),
            ])
            .kube(&[("get", 1), ("update", 1)]),
    );
    assert!(s.identity_of(&vic).is_none(), "refused with his own token");
    assert!(
        !s.aws_auth()["mapUsers"].contains("vic"),
        "{:?}",
        s.aws_auth()
    );
    s.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_admin_reads_until_another_effective_admin_is_found() {
    let s = both_stores(bob_leaves_then_ann_is_demoted()).await;
    let (bob, ann) = (iam::user_arn("bob"), iam::user_arn("ann"));
    // A hand-written break-glass mapping: cluster-admin through aws-auth, no access entry.
    let break_glass = format!(
        "- rolearn: {BREAK_GLASS}\n  username: break-glass\n  groups:\n    - system:masters\n"
    );
    s.put_aws_auth(json!({"mapRoles": break_glass}));
    s.handle(&membership("add_user_to_group", "eks-admins", "bob"))
        .await
        .unwrap();
    s.counters_reset();
    assert!(s.identity_of(&bob).is_some_and(|i| i.is_admin()));

    // The break-glass role holds no access entry, so its mapping is what EKS uses: one more
    // DescribeAccessEntry, no listing, then bob goes.
    let removed = s
        .handle(&membership("remove_user_from_group", "eks-admins", "bob"))
        .await
        .unwrap();
    let cluster = &removed["clusters"][0];
    assert_eq!(cluster["outcome"], "applied", "{removed:#}");
    assert_eq!(
        cluster["entriesRead"],
        json!({"principal": bob, "listed": 0, "othersDescribed": 1, "otherAdmin": BREAK_GLASS}),
        "{removed:#}"
    );
    s.verify(
        Calls::none()
            .iam(&["ListGroupsForUser", "GetUser"])
            .eks(&[
                ("DescribeCluster", 1),
                ("DescribeAccessEntry", 2),
                ("ListAssociatedAccessPolicies", 1),
                ("DeleteAccessEntry", 1),
            ])
            .kube(&[("get", 1)]),
    );
    assert!(s.identity_of(&bob).is_none());

    // Someone gives break-glass a viewer's access entry: EKS now uses the entry, and the
    // mapping makes nobody an admin. Demoting ann reads break-glass's entry, then the listed
    // entries until the cluster creator's (an admin) is found.
    s.handle(&membership("add_user_to_group", "eks-admins", "ann"))
        .await
        .unwrap();
    s.create_entry(BREAK_GLASS, &["viewers"]);
    s.seed_unmanaged_entries(2);
    s.counters_reset();
    let demoted = s
        .handle(&membership("remove_user_from_group", "eks-admins", "ann"))
        .await
        .unwrap();
    let cluster = &demoted["clusters"][0];
    assert_eq!(cluster["outcome"], "applied", "{demoted:#}");
    assert_eq!(
        cluster["entriesRead"],
        json!({"principal": ann, "listed": 5, "othersDescribed": 2, "otherAdmin": SELF_ARN}),
        "{demoted:#}"
    );
    s.verify(
        Calls::none()
            .iam(&["ListGroupsForUser", "GetUser"])
            .eks(&[
                ("DescribeCluster", 1),
                ("DescribeAccessEntry", 3),
                ("ListAssociatedAccessPolicies", 3),
                ("ListAccessEntries", 1),
                ("AssociateAccessPolicy", 1),
                ("DisassociateAccessPolicy", 1),
            ])
            .kube(&[("get", 1)]),
    );
    assert!(
        s.identity_of(&ann).is_some_and(|i| !i.is_admin()),
        "a viewer now"
    );
    s.finish();
}
