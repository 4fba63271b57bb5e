//! Amortized steady-state reads on the access entries (issue 21), on an `API` cluster and on
//! an `API_AND_CONFIG_MAP` one (which also reads aws-auth, one GET a run): a warm instance
//! lists the entries every run and describes only what is new to it, due for re-reading, or
//! about to change. A revocation never waits for the rotation (where aws-auth is read too, a
//! plan that takes anything from aws-auth is judged on a fresh read of every entry); a hand
//! edit of one of our entries is repaired once the rotation reaches it.

use serde_json::{Value, json};

use super::support::{Calls, Setup, event, iam};
use eks_sim::cluster::AuthMode;

const MEMBERS: &[&str] = &["m00", "m01", "m02", "m03", "m04", "m05"];
const FIVE: &[&str] = &["m00", "m01", "m02", "m03", "m04"];

fn viewers() -> Value {
    json!({
        "groups": [{"iamGroup": "eks-viewers", "kubernetesGroups": ["viewers"]}],
        "driftRepairInterval": "30m",
    })
}

/// A full run's calls: `eks` and, where EKS reads aws-auth too, its GET.
fn full_run(mode: AuthMode, eks: &[(&str, u64)]) -> Calls {
    let calls = Calls::none().iam(&["GetGroup"]).eks(eks);
    match mode {
        AuthMode::ApiAndConfigMap => calls.kube(&[("get", 1)]),
        _ => calls,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_instance_describes_only_what_is_new_due_or_changing() {
    for mode in [AuthMode::Api, AuthMode::ApiAndConfigMap] {
        warm_instance_reads(mode).await;
    }
}

async fn warm_instance_reads(mode: AuthMode) {
    let s = Setup::cluster(mode, "auto", viewers())
        .iam(vec![
            iam::get_group("eks-viewers", MEMBERS),
            iam::get_group("eks-viewers", MEMBERS),
            iam::get_group("eks-viewers", MEMBERS),
            iam::get_group("eks-viewers", FIVE),
        ])
        .start()
        .await;
    let schedule = event("scheduled_event", None);
    // Cold: the creator's entry is described, the six members are created.
    let first = s.handle(&schedule).await.unwrap();
    assert_eq!(first["clusters"][0]["added"].as_array().unwrap().len(), 6);
    s.verify(
        full_run(
            mode,
            &[
                ("DescribeCluster", 1),
                ("ListAccessEntries", 1),
                ("DescribeAccessEntry", 1),
                ("ListAssociatedAccessPolicies", 1),
                ("CreateAccessEntry", 6),
            ],
        )
        .caller_identity(),
    );
    // The entries just written are described once (a write is never remembered unread).
    let second = s.handle(&schedule).await.unwrap();
    assert_eq!(
        second["clusters"][0]["entryReads"],
        json!({"listed": 7, "described": 7, "fromMemory": 0}),
        "{second:#}"
    );
    s.verify(full_run(
        mode,
        &[
            ("DescribeCluster", 1),
            ("ListAccessEntries", 1),
            ("DescribeAccessEntry", 7),
            ("ListAssociatedAccessPolicies", 7),
        ],
    ));
    // Steady: the list, and the rotation's share (one entry, a moment after the last run).
    let third = s.handle(&schedule).await.unwrap();
    assert_eq!(third["clusters"][0]["outcome"], "unchanged", "{third:#}");
    assert_eq!(
        third["clusters"][0]["entryReads"],
        json!({"listed": 7, "described": 1, "fromMemory": 6}),
        "{third:#}"
    );
    s.verify(full_run(
        mode,
        &[
            ("DescribeCluster", 1),
            ("ListAccessEntries", 1),
            ("DescribeAccessEntry", 1),
            ("ListAssociatedAccessPolicies", 1),
        ],
    ));
    // m05 left the group: their remembered entry is described again, then deleted, in
    // this very run.
    let m05 = iam::user_arn("m05");
    assert!(s.identity_of(&m05).is_some());
    let fourth = s.handle(&schedule).await.unwrap();
    assert_eq!(
        fourth["clusters"][0]["removed"][0]["key"], m05,
        "{fourth:#}"
    );
    assert!(
        s.identity_of(&m05).is_none(),
        "refused with their own token"
    );
    s.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aws_auth_revocation_is_judged_on_a_fresh_read_of_every_entry() {
    let s = Setup::cluster(AuthMode::ApiAndConfigMap, "auto", viewers())
        .iam(vec![
            iam::get_group("eks-viewers", MEMBERS),
            iam::get_group("eks-viewers", MEMBERS),
            iam::get_group("eks-viewers", FIVE),
        ])
        .start()
        .await;
    // m05 was mapped in aws-auth before the cluster moved on (kept in step, never added).
    let m05 = iam::user_arn("m05");
    s.put_aws_auth(json!({"mapUsers": format!(
        "- userarn: {m05}\n  username: m05\n  groups:\n    - viewers\n  managedBy: eks-iam-sync\n"
    )}));
    let schedule = event("scheduled_event", None);
    s.handle(&schedule).await.unwrap();
    s.handle(&schedule).await.unwrap(); // every entry described and remembered
    s.verify(
        Calls::none()
            .iam(&["GetGroup", "GetGroup"])
            .caller_identity()
            .eks(&[
                ("DescribeCluster", 2),
                ("ListAccessEntries", 2),
                ("DescribeAccessEntry", 8),
                ("ListAssociatedAccessPolicies", 8),
                ("CreateAccessEntry", 6),
            ])
            .kube(&[("get", 2), ("update", 1)]),
    );
    // m05 left: the mapping and the entry go in one run, judged on every entry read afresh.
    let left = s.handle(&schedule).await.unwrap();
    let cluster = &left["clusters"][0];
    assert_eq!(
        cluster["entryReads"],
        json!({"listed": 7, "described": 7, "fromMemory": 0}),
        "{left:#}"
    );
    let stores: Vec<&str> = (cluster["removed"].as_array().unwrap().iter())
        .map(|e| e["store"].as_str().unwrap())
        .collect();
    assert_eq!(stores, ["aws-auth", "access-entries"], "{left:#}");
    assert!(
        s.identity_of(&m05).is_none(),
        "refused with their own token"
    );
    s.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_edit_of_our_entry_is_repaired_when_the_rotation_reaches_it() {
    for mode in [AuthMode::Api, AuthMode::ApiAndConfigMap] {
        hand_edit_repaired(mode).await;
    }
}

async fn hand_edit_repaired(mode: AuthMode) {
    let rules = (0..12)
        .map(|_| iam::get_group("eks-viewers", FIVE))
        .collect();
    let s = Setup::cluster(mode, "auto", viewers())
        .iam(rules)
        .start()
        .await;
    let schedule = event("scheduled_event", None);
    s.handle(&schedule).await.unwrap();
    s.handle(&schedule).await.unwrap(); // every entry described and remembered
    let victim = iam::user_arn("m03");
    s.edit_entry(&victim, json!({"kubernetesGroups": ["hacked"]}));
    // Six entries, one re-read per quick run: within six runs the edit is found and undone.
    let mut runs = 0;
    while s.entry_groups(&victim) != ["viewers"] {
        runs += 1;
        assert!(runs <= 6, "the hand edit was not repaired in 6 runs");
        let run = s.handle(&schedule).await.unwrap();
        assert_eq!(run["clusters"][0]["entryReads"]["described"], 1, "{run:#}");
    }
    assert!(runs >= 1);
}
