//! Issue 20's failure paths, judged with each person's OWN token (200 mapped, 401 not): a
//! change EKS rejects holds back only what depended on it, and a refusal in aws-auth does not
//! freeze the access entries' revocations. Every change not made is counted (`notApplied`).

use crate::support::{TestCluster, iam_group, identity, private_stack};

use super::{ACCOUNT, keys, set_member};

#[test]
fn a_rejected_grant_does_not_keep_a_removed_admin_in() {
    // Issue 20, scenario 1: admins ann and vic, and a role EKS rejects (service-linked).
    let t = TestCluster::with_mode("ae-rejected-grant", "API");
    let (admins, ann, vic) = (t.iam("admins"), t.iam("ann"), t.iam("vic"));
    let (ann_key, ann_secret, _) = identity(&ann);
    let (vic_key, vic_secret, vic_arn) = identity(&vic);
    iam_group(&admins, &[]);
    set_member(t.on(), &admins, &ann, true);
    set_member(t.on(), &admins, &vic, true);
    let linked = format!(
        "arn:aws:iam::{ACCOUNT}:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS"
    );
    t.configure_backend(
        "auto",
        &format!(
            "groups:\n  - iamGroup: {admins}\n    kubernetesGroups: [system:masters]\nroles:\n  - arn: {linked}\n    username: linked\n    kubernetesGroups: [viewers]\n"
        ),
    );
    let first = t.sync(&["apply", "--json"]);
    assert_eq!(
        first.code, 1,
        "not in step while EKS rejects the role: {}",
        first.stdout
    );
    assert_eq!(first.cluster()["notApplied"], 1, "{}", first.stdout);
    assert_eq!(t.status_as(&ann_key, &ann_secret), 200);
    assert_eq!(t.status_as(&vic_key, &vic_secret), 200);

    set_member(t.on(), &admins, &vic, false);
    let second = t.sync(&["apply", "--json"]);
    let report = second.cluster();
    assert_eq!(second.code, 1, "{}", second.stdout);
    assert_eq!(keys(&report, "removed"), [vic_arn.as_str()], "{report}");
    assert_eq!(keys(&report, "rejected"), [linked.as_str()], "{report}");
    assert_eq!(report["notApplied"], 1, "only the rejected role: {report}");
    assert_eq!(
        t.status_as(&vic_key, &vic_secret),
        401,
        "vic's revocation did not wait for the rejected role"
    );
    assert_eq!(t.status_as(&ann_key, &ann_secret), 200, "ann keeps access");
}

#[test]
fn an_unparsable_aws_auth_does_not_freeze_an_access_entry_revocation() {
    // Issue 20, scenario 3: API_AND_CONFIG_MAP; bob (a viewer) holds an access entry; someone
    // else breaks aws-auth; IAM then takes bob's membership away.
    let t = TestCluster::with_mode("ae-refusal-revokes", "API_AND_CONFIG_MAP");
    let (view, bob) = (t.iam("view"), t.iam("bob"));
    let (bob_key, bob_secret, bob_arn) = identity(&bob);
    iam_group(&view, &[]);
    set_member(t.on(), &view, &bob, true);
    t.configure_backend(
        "auto",
        &format!("groups:\n  - iamGroup: {view}\n    kubernetesGroups: [viewers]\n"),
    );
    let run = t.sync(&["apply"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        t.status_as(&bob_key, &bob_secret),
        200,
        "granted by an access entry"
    );

    let broken = "- rolearn: arn:aws:iam::123456789012:role/x\n  username: {{SessionName}}\n";
    t.kubectl(
        &[
            "delete",
            "configmap",
            "aws-auth",
            "-n",
            "kube-system",
            "--ignore-not-found",
        ],
        None,
    );
    t.create_aws_auth(&[("mapRoles", broken)]);
    set_member(t.on(), &view, &bob, false);
    let run = t.sync(&["apply", "--json"]);
    let report = run.cluster();
    assert_eq!(run.code, 1, "a refusal is not in step: {}", run.stdout);
    assert_eq!(report["outcome"], "refused", "{report}");
    assert!(
        report["refusals"][0]
            .as_str()
            .unwrap()
            .contains("unparsable-content"),
        "{report}"
    );
    assert_eq!(keys(&report, "removed"), [bob_arn.as_str()], "{report}");
    assert_eq!(
        report["notApplied"], 0,
        "nothing else was planned: {report}"
    );
    assert_eq!(
        t.status_as(&bob_key, &bob_secret),
        401,
        "the access entry went although aws-auth is refused"
    );
    assert_eq!(t.aws_auth()["mapRoles"], broken, "aws-auth untouched");
}

/// A private stack whose first cluster is `name`: EKS faults are not per cluster, and
/// clearing faults clears every rule. Starting one can race for ports: one more try.
fn private_cluster(name: &str, mode: &str) -> TestCluster {
    let on = std::panic::catch_unwind(|| private_stack(name))
        .unwrap_or_else(|_| private_stack(&format!("{name}-retry")));
    TestCluster::with_mode_on(on, name, mode)
}

#[test]
fn an_unreadable_aws_auth_does_not_freeze_access_entry_revocations() {
    // aws-auth cannot be read (every GET answers 500): bob's access entry still goes.
    let t = private_cluster("ae-unreadable", "API_AND_CONFIG_MAP");
    let on = t.on();
    let (view, bob) = (t.iam("view"), t.iam("bob"));
    let (bob_key, bob_secret, bob_arn) = on.identity(&bob);
    on.aws(&["iam", "create-group", "--group-name", &view]);
    set_member(on, &view, &bob, true);
    let config = format!("groups:\n  - iamGroup: {view}\n    kubernetesGroups: [viewers]\n");
    t.configure_backend("auto", &config);
    assert_eq!(t.sync(&["apply"]).code, 0);
    assert_eq!(t.status_as(&bob_key, &bob_secret), 200);
    t.inject(&format!("kube/{}:get:500", t.name));
    set_member(on, &view, &bob, false);
    let run = t.sync(&["apply", "--json"]);
    on.admin("DELETE", "/faults", None);
    let report = run.cluster();
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(report["outcome"], "failed", "{report}");
    assert_eq!(keys(&report, "removed"), [bob_arn.as_str()], "{report}");
    assert_eq!(
        t.status_as(&bob_key, &bob_secret),
        401,
        "revoked in the access entries while aws-auth could not be read"
    );
}

#[test]
fn unreadable_access_entries_do_not_freeze_aws_auth_revocations() {
    // The access entries cannot be read: carol's managed aws-auth mapping still goes.
    let t = private_cluster("ae-unlisted", "API_AND_CONFIG_MAP");
    let on = t.on();
    let (ops, carol) = (t.iam("ops"), t.iam("carol"));
    let (carol_key, carol_secret, carol_arn) = on.identity(&carol);
    on.aws(&["iam", "create-group", "--group-name", &ops]);
    set_member(on, &ops, &carol, true);
    let config = format!("groups:\n  - iamGroup: {ops}\n    kubernetesGroups: [viewers]\n");
    t.configure_backend("aws-auth", &config);
    assert_eq!(t.sync(&["apply"]).code, 0);
    assert_eq!(
        t.status_as(&carol_key, &carol_secret),
        200,
        "mapped in aws-auth"
    );
    t.inject("eks:ListAccessEntries:500");
    set_member(on, &ops, &carol, false);
    let run = t.sync(&["apply", "--json"]);
    on.admin("DELETE", "/faults", None);
    let report = run.cluster();
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(report["outcome"], "failed", "{report}");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("ListAccessEntries"),
        "{report}"
    );
    assert_eq!(keys(&report, "removed"), [carol_arn.as_str()], "{report}");
    assert_eq!(report["removed"][0]["store"], "aws-auth", "{report}");
    assert_eq!(
        t.status_as(&carol_key, &carol_secret),
        401,
        "revoked in aws-auth while the access entries could not be read"
    );
}
