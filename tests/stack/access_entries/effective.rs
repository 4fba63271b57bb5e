//! Issue 12's scenario, judged the way access counts: with the person's OWN token against the
//! cluster (200 mapped, 401 not). A viewer granted through aws-auth, then through an access
//! entry after the move to API_AND_CONFIG_MAP, loses both grants when IAM takes the group
//! membership away; a switch to API is seen by the next run.

use crate::support::{TestCluster, iam_group, identity, section, stack};

#[test]
fn a_member_removed_in_iam_is_refused_with_their_own_token_in_every_mode() {
    let t = TestCluster::new("ae-effective");
    let (admins, view) = (t.iam("admins"), t.iam("view"));
    iam_group(&admins, &[]);
    iam_group(&view, &[]);
    let vic = t.iam("vic");
    let (key, secret, vic_arn) = identity(&vic);
    let add = |user: &str, group: &str| {
        stack().aws(&[
            "iam",
            "add-user-to-group",
            "--group-name",
            group,
            "--user-name",
            user,
        ]);
    };
    add(&vic, &view);
    t.configure_backend(
        "auto",
        &format!(
            "groups:\n  - iamGroup: {admins}\n    kubernetesGroups: [system:masters]\n  - iamGroup: {view}\n    kubernetesGroups: [viewers]\n"
        ),
    );
    assert_eq!(t.status_as(&key, &secret), 401, "not mapped yet");
    let apply = |what: &str| {
        let run = t.sync(&["apply"]);
        assert_eq!(run.code, 0, "{what}: {}{}", run.stdout, run.stderr);
        run
    };

    apply("CONFIG_MAP");
    assert!(section(&t.aws_auth(), "mapUsers").contains(&vic_arn));
    assert_eq!(
        t.status_as(&key, &secret),
        200,
        "CONFIG_MAP: mapped in aws-auth"
    );

    t.set_mode("API_AND_CONFIG_MAP");
    let run = apply("API_AND_CONFIG_MAP");
    assert!(run.stdout.contains("shadowed: mapUsers"), "{}", run.stdout);
    assert_eq!(
        t.status_as(&key, &secret),
        200,
        "API_AND_CONFIG_MAP: access entry"
    );

    stack().aws(&[
        "iam",
        "remove-user-from-group",
        "--group-name",
        &view,
        "--user-name",
        &vic,
    ]);
    apply("revocation");
    assert!(!section(&t.aws_auth(), "mapUsers").contains(&vic_arn));
    assert_eq!(
        t.status_as(&key, &secret),
        401,
        "no access entry and no aws-auth fallback left"
    );

    // After the move to API, a grant goes to the store EKS reads.
    t.set_mode("API");
    add(&vic, &view);
    apply("API");
    assert_eq!(t.status_as(&key, &secret), 200, "API: access entry");
}
