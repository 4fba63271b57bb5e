//! Amortized steady-state reads on an `API` cluster (issue 21): a warm instance lists the
//! entries every run and describes only what is new to it, due for re-reading, or about to
//! change. A revocation never waits for the rotation; a hand edit of one of our entries is
//! repaired once the rotation reaches it.

use serde_json::{Value, json};

use crate::support::{Calls, Setup, event, iam};
use eks_sim::cluster::AuthMode;

const MEMBERS: &[&str] = &["m00", "m01", "m02", "m03", "m04", "m05"];
const FIVE: &[&str] = &["m00", "m01", "m02", "m03", "m04"];

fn viewers() -> Value {
    json!({
        "groups": [{"iamGroup": "eks-viewers", "kubernetesGroups": ["viewers"]}],
        "driftRepairInterval": "30m",
    })
}

fn full_run(eks: &[(&str, u64)]) -> Calls {
    Calls::none().iam(&["GetGroup"]).eks(eks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_instance_describes_only_what_is_new_due_or_changing() {
    let s = Setup::cluster(AuthMode::Api, "auto", viewers())
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
        full_run(&[
            ("DescribeCluster", 1),
            ("ListAccessEntries", 1),
            ("DescribeAccessEntry", 1),
            ("ListAssociatedAccessPolicies", 1),
            ("CreateAccessEntry", 6),
        ])
        .caller_identity(),
    );
    // The entries just written are described once (a write is never remembered unread).
    let second = s.handle(&schedule).await.unwrap();
    assert_eq!(
        second["clusters"][0]["entryReads"],
        json!({"listed": 7, "described": 7, "fromMemory": 0}),
        "{second:#}"
    );
    s.verify(full_run(&[
        ("DescribeCluster", 1),
        ("ListAccessEntries", 1),
        ("DescribeAccessEntry", 7),
        ("ListAssociatedAccessPolicies", 7),
    ]));
    // Steady: the list, and the rotation's share (one entry, a moment after the last run).
    let third = s.handle(&schedule).await.unwrap();
    assert_eq!(third["clusters"][0]["outcome"], "unchanged", "{third:#}");
    assert_eq!(
        third["clusters"][0]["entryReads"],
        json!({"listed": 7, "described": 1, "fromMemory": 6}),
        "{third:#}"
    );
    s.verify(full_run(&[
        ("DescribeCluster", 1),
        ("ListAccessEntries", 1),
        ("DescribeAccessEntry", 1),
        ("ListAssociatedAccessPolicies", 1),
    ]));
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
async fn a_hand_edit_of_our_entry_is_repaired_when_the_rotation_reaches_it() {
    let rules = (0..12)
        .map(|_| iam::get_group("eks-viewers", FIVE))
        .collect();
    let s = Setup::cluster(AuthMode::Api, "auto", viewers())
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
