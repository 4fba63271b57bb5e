//! Issue 12's scenario, judged the way access counts: with the person's OWN token against the
//! cluster (200 mapped, 401 not). A viewer granted through aws-auth, then through an access
//! entry after the move to API_AND_CONFIG_MAP, loses both grants when IAM takes the group
//! membership away; a switch to API is seen by the next run.

use serde_json::{Value, json};

use crate::support::{TestCluster, iam_group, identity, section};

use super::set_member;

/// IAM groups `admins` (`system:masters`) and `view` (`viewers`), and vic, a member of `view`
/// with an access key of their own; the configuration mapping both groups.
struct Viewer {
    view: String,
    vic: String,
    key: String,
    secret: String,
    vic_arn: String,
    config: String,
}

fn viewer(t: &TestCluster) -> Viewer {
    let (admins, view) = (t.iam("admins"), t.iam("view"));
    iam_group(&admins, &[]);
    iam_group(&view, &[]);
    let vic = t.iam("vic");
    let (key, secret, vic_arn) = identity(&vic);
    set_member(t.on(), &view, &vic, true);
    let config = format!(
        "groups:\n  - iamGroup: {admins}\n    kubernetesGroups: [system:masters]\n  - iamGroup: {view}\n    kubernetesGroups: [viewers]\n"
    );
    Viewer {
        view,
        vic,
        key,
        secret,
        vic_arn,
        config,
    }
}

#[test]
fn a_member_removed_in_iam_is_refused_with_their_own_token_in_every_mode() {
    let t = TestCluster::new("ae-effective");
    let v = viewer(&t);
    t.configure_backend("auto", &v.config);
    assert_eq!(t.status_as(&v.key, &v.secret), 401, "not mapped yet");
    let apply = |what: &str| {
        let run = t.sync(&["apply"]);
        assert_eq!(run.code, 0, "{what}: {}{}", run.stdout, run.stderr);
        run
    };

    apply("CONFIG_MAP");
    assert!(section(&t.aws_auth(), "mapUsers").contains(&v.vic_arn));
    assert_eq!(
        t.status_as(&v.key, &v.secret),
        200,
        "CONFIG_MAP: mapped in aws-auth"
    );

    t.set_mode("API_AND_CONFIG_MAP");
    let run = apply("API_AND_CONFIG_MAP");
    assert!(run.stdout.contains("shadowed: mapUsers"), "{}", run.stdout);
    assert_eq!(
        t.status_as(&v.key, &v.secret),
        200,
        "API_AND_CONFIG_MAP: access entry"
    );

    set_member(t.on(), &v.view, &v.vic, false);
    apply("revocation");
    assert!(!section(&t.aws_auth(), "mapUsers").contains(&v.vic_arn));
    assert_eq!(
        t.status_as(&v.key, &v.secret),
        401,
        "no access entry and no aws-auth fallback left"
    );

    // After the move to API, a grant goes to the store EKS reads.
    t.set_mode("API");
    set_member(t.on(), &v.view, &v.vic, true);
    apply("API");
    assert_eq!(t.status_as(&v.key, &v.secret), 200, "API: access entry");
}

#[test]
fn an_aws_auth_backend_revokes_the_managed_access_entries_that_outrank_aws_auth() {
    let t = TestCluster::with_mode("ae-outranked", "API_AND_CONFIG_MAP");
    let v = viewer(&t);
    t.configure_backend("auto", &v.config);
    let run = t.sync(&["apply"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        t.status_as(&v.key, &v.secret),
        200,
        "granted by an access entry"
    );

    // The operator pins the cluster to aws-auth: the grant is written there, and the managed
    // access entry, which outranks it, is kept in step rather than left to decide alone.
    t.configure_backend("aws-auth", &v.config);
    let run = t.sync(&["apply"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(section(&t.aws_auth(), "mapUsers").contains(&v.vic_arn));
    assert_eq!(t.status_as(&v.key, &v.secret), 200);

    set_member(t.on(), &v.view, &v.vic, false);
    let run = t.sync(&["apply"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains(&format!("- access entry {}", v.vic_arn)),
        "the managed access entry goes too:\n{}",
        run.stdout
    );
    assert!(!section(&t.aws_auth(), "mapUsers").contains(&v.vic_arn));
    assert_eq!(
        t.status_as(&v.key, &v.secret),
        401,
        "revoked in both stores"
    );
}

#[test]
fn one_warm_lambda_driven_by_events_revokes_everywhere_and_follows_mode_switches() {
    let t = TestCluster::new("ae-warm");
    let v = viewer(&t);
    t.configure_backend("auto", &v.config);
    let mut lambda = t.warm_lambda();
    let membership = json!({"groupName": v.view, "userName": v.vic});
    let cluster_of = |response: &Value| -> Value {
        assert!(response.get("error").is_none(), "{response:#}");
        response["clusters"][0].clone()
    };

    let first = cluster_of(&lambda.invoke(&t.schedule()));
    assert_eq!(first["outcome"], "applied", "{first:#}");
    assert_eq!(t.status_as(&v.key, &v.secret), 200, "CONFIG_MAP: aws-auth");

    t.set_mode("API_AND_CONFIG_MAP");
    let second = cluster_of(&lambda.invoke(&t.schedule()));
    assert_eq!(
        second["modeChanged"], "CONFIG_MAP -> API_AND_CONFIG_MAP",
        "{second:#}"
    );
    assert_eq!(second["backend"], "access-entries");
    assert_eq!(t.status_as(&v.key, &v.secret), 200, "an access entry now");

    set_member(t.on(), &v.view, &v.vic, false);
    let removed =
        cluster_of(&lambda.invoke(&t.event("remove_user_from_group", membership.clone())));
    let stores: Vec<&str> = removed["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["store"].as_str().unwrap())
        .collect();
    assert_eq!(stores, ["aws-auth", "access-entries"], "{removed:#}");
    assert_eq!(
        t.status_as(&v.key, &v.secret),
        401,
        "revoked in both stores"
    );

    // The same warm process, after the cluster moved to API: the grant goes where EKS looks.
    t.set_mode("API");
    set_member(t.on(), &v.view, &v.vic, true);
    let added = cluster_of(&lambda.invoke(&t.event("add_user_to_group", membership)));
    assert_eq!(
        added["modeChanged"], "API_AND_CONFIG_MAP -> API",
        "{added:#}"
    );
    assert_eq!(added["added"][0]["store"], "access-entries", "{added:#}");
    assert_eq!(t.status_as(&v.key, &v.secret), 200, "API: access entry");
}

#[test]
fn an_admin_mapped_only_by_a_role_arn_with_a_path_does_not_count() {
    let t = TestCluster::new("ae-path-admin");
    let admins = t.iam("admins");
    iam_group(&admins, &[]);
    let alice = t.iam("alice");
    let (key, secret, alice_arn) = identity(&alice);
    set_member(t.on(), &admins, &alice, true);
    // A hand-written admin mapping that EKS never matches: a role ARN with its path.
    let path_admin = "- rolearn: arn:aws:iam::123456789012:role/team/Admin\n  username: admin\n  groups: [system:masters]\n";
    t.create_aws_auth(&[("mapRoles", path_admin)]);
    t.configure_backend(
        "auto",
        &format!("groups:\n  - iamGroup: {admins}\n    kubernetesGroups: [system:masters]\n"),
    );
    let run = t.sync(&["apply"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(t.status_as(&key, &secret), 200);

    // alice leaves: she is the last admin EKS would authorize, so the write is refused.
    set_member(t.on(), &admins, &alice, false);
    let run = t.sync(&["apply"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains("refused by guard `last-cluster-admin`"),
        "{said}"
    );
    assert!(section(&t.aws_auth(), "mapUsers").contains(&alice_arn));
    assert_eq!(t.status_as(&key, &secret), 200, "nothing was written");
}
