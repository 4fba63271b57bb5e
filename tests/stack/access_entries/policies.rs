//! Issue 13 end to end: access policies with namespace scopes created, re-scoped and kept
//! declarative on managed entries (hand-added policies reverted as drift), unmanaged entries
//! untouched, a person's own token allowed in its namespace and refused in another, aws-auth
//! clusters warned about what they cannot express, and access entry types.

use std::process::Command;

use serde_json::{Value, json};

use super::{TRUST, associate, associated, describe, keys, policy_name, role_arn};
use crate::support::{TestCluster, iam_group, identity, stack};

/// `NAME scope [namespaces]` of each policy associated with an entry.
fn scoped_policies(t: &TestCluster, principal: &str) -> Vec<String> {
    let mut out: Vec<String> = associated(t, principal)
        .iter()
        .map(|p| {
            let scope = &p["accessScope"];
            let mut namespaces: Vec<&str> = scope["namespaces"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            namespaces.sort_unstable();
            format!(
                "{} {} [{}]",
                policy_name(p),
                scope["type"].as_str().unwrap(),
                namespaces.join(",")
            )
        })
        .collect();
    out.sort();
    out
}

/// The HTTP status of listing ConfigMaps in `namespace` with `token`.
fn list_configmaps(t: &TestCluster, token: &str, namespace: &str) -> u16 {
    let cluster = t.on().aws(&["eks", "describe-cluster", "--name", &t.name])["cluster"].clone();
    let ca = std::env::temp_dir().join(format!("{}-policies-ca.b64", t.name));
    std::fs::write(
        &ca,
        cluster["certificateAuthority"]["data"].as_str().unwrap(),
    )
    .unwrap();
    let pem = ca.with_extension("pem");
    let decoded = Command::new("base64").arg("-d").arg(&ca).output().unwrap();
    std::fs::write(&pem, decoded.stdout).unwrap();
    let url = format!(
        "{}/api/v1/namespaces/{namespace}/configmaps",
        cluster["endpoint"].as_str().unwrap()
    );
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
        .arg(&pem)
        .args([&url, "-H", &format!("authorization: Bearer {token}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn access_entries_policies_created_rescoped_drift_reverted_unmanaged_untouched() {
    let mut t = TestCluster::with_mode("ae-policies", "API");
    let (key, secret, alice) = identity(&t.iam("alice"));
    let carol = t.user_arn("carol");
    stack().aws(&["iam", "create-user", "--user-name", &t.iam("carol")]);
    iam_group(&t.iam("team-a"), &[&t.iam("bob")]);
    // A human's entry for carol, with a policy of its own.
    t.on().aws(&[
        "eks",
        "create-access-entry",
        "--cluster-name",
        &t.name,
        "--principal-arn",
        &carol,
    ]);
    associate(&t, &carol, "AmazonEKSViewPolicy", "type=cluster");
    let config = |alice_namespaces: &str| {
        format!(
            "users:\n  - arn: {alice}\n    username: alice\n    accessPolicies:\n      - policy: AmazonEKSViewPolicy\n        namespaces: {alice_namespaces}\n\
             groups:\n  - iamGroup: {}\n    accessPolicies:\n      - policy: arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy\n        namespaces: [team-a, \"team-a-*\"]\n",
            t.iam("team-a")
        )
    };
    t.configure_backend("access-entries", &config("[team-a]"));
    let plan = t.sync(&["plan"]);
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains("policies=[AmazonEKSViewPolicy (namespaces team-a)]"),
        "{}",
        plan.stdout
    );
    let run = t.invoke(&t.schedule());
    let report = run.cluster();
    assert_eq!(report["outcome"], "applied", "{report}");
    assert_eq!(
        scoped_policies(&t, &alice),
        ["AmazonEKSViewPolicy namespace [team-a]"]
    );
    assert_eq!(
        scoped_policies(&t, &t.user_arn("bob")),
        ["AmazonEKSEditPolicy namespace [team-a,team-a-*]"]
    );
    assert_eq!(describe(&t, &alice)["kubernetesGroups"], json!([]));

    // Someone widens alice by hand and gives her another policy; the config re-scopes her.
    associate(&t, &alice, "AmazonEKSAdminViewPolicy", "type=cluster");
    associate(
        &t,
        &carol,
        "AmazonEKSEditPolicy",
        "type=namespace,namespaces=x",
    );
    t.configure_backend("access-entries", &config("[team-a, team-b]"));
    let report = t.invoke(&t.schedule()).cluster();
    assert_eq!(report["outcome"], "applied", "{report}");
    assert_eq!(keys(&report, "changed"), std::slice::from_ref(&alice));
    let reason = report["changed"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("AmazonEKSViewPolicy scope namespaces team-a → namespaces team-a,team-b"),
        "{reason}"
    );
    assert!(
        reason.contains("AmazonEKSAdminViewPolicy (cluster) disassociated: not configured for this managed entry (drift reverted)"),
        "{reason}"
    );
    assert_eq!(
        scoped_policies(&t, &alice),
        ["AmazonEKSViewPolicy namespace [team-a,team-b]"]
    );
    // The unmanaged entry keeps everything the human gave it.
    assert_eq!(
        scoped_policies(&t, &carol),
        [
            "AmazonEKSEditPolicy namespace [x]",
            "AmazonEKSViewPolicy cluster []"
        ]
    );
    assert_eq!(t.invoke(&t.schedule()).cluster()["outcome"], "unchanged");

    // Alice's own token: her namespaces yes, another no.
    t.run_as(&key, &secret);
    let minted = t.sync(&["token", "--cluster", &t.name]);
    assert_eq!(minted.code, 0, "{}", minted.stderr);
    let token = minted.json()["status"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(list_configmaps(&t, &token, "team-b"), 200);
    assert_eq!(list_configmaps(&t, &token, "team-c"), 403);
    assert_eq!(list_configmaps(&t, &token, "kube-system"), 403);
}

#[test]
fn access_entries_aws_auth_cluster_warns_about_policies_it_cannot_express() {
    let t = TestCluster::new("ae-policies-aws-auth");
    let (bob, carol, dave) = (t.user_arn("bob"), t.user_arn("carol"), t.user_arn("dave"));
    t.configure(&format!(
        "users:\n  - arn: {bob}\n    username: bob\n    kubernetesGroups: [devs]\n    accessPolicies: [{{policy: AmazonEKSEditPolicy, namespaces: [team-a]}}]\n\
         \x20 - arn: {carol}\n    username: carol\n    accessPolicies: [{{policy: AmazonEKSViewPolicy}}]\n\
         \x20 - arn: {dave}\n    username: dave\n    accessPolicies: [{{policy: AmazonEKSClusterAdminPolicy}}]\n"
    ));
    let plan = t.sync(&["plan"]);
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains(&format!(
            "warning: {bob} (configured in users): aws-auth cannot express access policies AmazonEKSEditPolicy (namespaces team-a); written with its kubernetesGroups [devs] only"
        )),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(&format!(
            "skipped mapUsers {carol}: aws-auth cannot express access policies AmazonEKSViewPolicy and the mapping has no kubernetesGroups to write"
        )),
        "{}",
        plan.stdout
    );
    assert_eq!(t.sync(&["apply"]).code, 0);
    let users = t.aws_auth()["mapUsers"].clone();
    assert!(users.contains(&bob) && users.contains(&dave), "{users}");
    assert!(!users.contains(&carol), "{users}");
    let dave_entry = users.split("userarn").find(|e| e.contains(&dave)).unwrap();
    assert!(dave_entry.contains("system:masters"), "{users}");
}

#[test]
fn access_entries_entry_types_are_created_and_eks_made_entries_left_alone() {
    let t = TestCluster::with_mode("ae-types", "API");
    let (fargate, auto, eks_made) = (t.iam("fargate"), t.iam("auto"), t.iam("ng"));
    for role in [&fargate, &auto, &eks_made] {
        stack().aws(&[
            "iam",
            "create-role",
            "--role-name",
            role,
            "--assume-role-policy-document",
            TRUST,
        ]);
    }
    // What EKS makes for a managed node group: an EC2_LINUX entry without our tag.
    t.on().aws(&[
        "eks",
        "create-access-entry",
        "--cluster-name",
        &t.name,
        "--principal-arn",
        &role_arn(&eks_made),
        "--type",
        "EC2_LINUX",
    ]);
    t.configure_backend(
        "access-entries",
        &format!(
            "roles:\n  - arn: {}\n    accessEntryType: FARGATE_LINUX\n  - arn: {}\n    accessEntryType: EC2\n    accessPolicies: [{{policy: AmazonEKSAutoNodePolicy}}]\n  - arn: {}\n    accessEntryType: HYBRID_LINUX\n",
            role_arn(&fargate),
            role_arn(&auto),
            role_arn(&eks_made)
        ),
    );
    let report = t.invoke(&t.schedule()).cluster();
    assert_eq!(report["outcome"], "applied", "{report}");
    assert_eq!(
        keys(&report, "added"),
        [role_arn(&auto), role_arn(&fargate)]
    );
    assert_eq!(keys(&report, "skipped"), [role_arn(&eks_made)]);
    let f = describe(&t, &role_arn(&fargate));
    assert_eq!(f["type"], "FARGATE_LINUX");
    assert_eq!(f["username"], "system:node:{{SessionName}}");
    assert_eq!(describe(&t, &role_arn(&auto))["type"], "EC2");
    assert_eq!(
        scoped_policies(&t, &role_arn(&auto)),
        ["AmazonEKSAutoNodePolicy cluster []"]
    );
    let untouched = describe(&t, &role_arn(&eks_made));
    assert_eq!(untouched["type"], "EC2_LINUX");
    assert!(untouched["tags"].as_object().is_none_or(|t| t.is_empty()));
}

#[test]
fn access_entries_a_plan_past_3000_entries_is_refused() {
    let t = TestCluster::with_mode("ae-limit", "API");
    // With the creator's bootstrap entry: 2,999 entries.
    let seeded = t.on().admin(
        "POST",
        &format!("/clusters/{}/access-entries", t.name),
        Some(r#"{"count": 2998, "prefix": "seed"}"#),
    );
    assert_eq!(seeded["entries"], 2999);
    iam_group(&t.iam("devs"), &[&t.iam("alice"), &t.iam("bob")]);
    t.configure_backend(
        "access-entries",
        &format!(
            "groups:\n  - iamGroup: {}\n    accessPolicies: [{{policy: AmazonEKSViewPolicy}}]\n",
            t.iam("devs")
        ),
    );
    let report = t.invoke(&t.schedule()).cluster();
    assert_eq!(report["outcome"], "refused", "{report}");
    let refusal = report["refusals"][0].as_str().unwrap();
    assert!(
        refusal.contains("size-limit")
            && refusal.contains("3001 access entries (2999 now, 2 to create, 0 to delete)"),
        "{refusal}"
    );
    assert!(!super::entries(&t).contains(&t.user_arn("alice")));
}
