//! Many accounts (issue 14): `iam: {assumeRoleArn}` names the account whose IAM users and
//! groups are synced; the function reads them through that role (moto's cross-account
//! AssumeRole), while the clusters stay reached with its own credentials; and user and group
//! events matter only when they come from that account.

use serde_json::{Value, json};

use crate::support::{Assumed, TestCluster, section, stack};

const SYNCED_ACCOUNT: &str = "222233334444";
/// A member account holding clusters (moto's default, the stack's own, is 123456789012).
const MEMBER_ACCOUNT: &str = "333344445555";
const HOME_ACCOUNT: &str = "123456789012";
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const SSO_PATH: &str = "/aws-reserved/sso.amazonaws.com/";

/// awscli in `SYNCED_ACCOUNT`, with credentials moto's AssumeRole gave for `role`.
fn aws_in_synced_account(role: &str, args: &[&str]) -> Value {
    stack().aws_as(&stack().assume_role(role), args)
}

/// Creates SSO role `AWSReservedSSO_<set>_<suffix>` through `aws`; its IAM ARN (with path).
fn sso_role(aws: impl Fn(&[&str]) -> Value, set: &str, suffix: &str) -> String {
    let name = format!("AWSReservedSSO_{set}_{suffix}");
    let created = aws(&[
        "iam",
        "create-role",
        "--role-name",
        &name,
        "--path",
        SSO_PATH,
        "--assume-role-policy-document",
        TRUST,
    ]);
    created["Role"]["Arn"].as_str().unwrap().to_owned()
}

/// The ARN aws-auth holds for a role (no path).
fn canonical(role_arn: &str) -> String {
    let (head, path) = role_arn.split_once(":role/").unwrap();
    format!("{head}:role/{}", path.rsplit('/').next().unwrap())
}

/// A cluster in this test's home account (the stack's) and one in `MEMBER_ACCOUNT`, created
/// by (and reached through) the member account's role `<test>-deployer`: (home, member,
/// the deployer role's ARN, credentials of that role).
fn home_and_member(test: &str) -> (TestCluster, TestCluster, String, Assumed) {
    let home = TestCluster::new(&format!("{test}-home"));
    let deployer = format!(
        "arn:aws:iam::{MEMBER_ACCOUNT}:role/{}",
        home.iam("deployer")
    );
    let in_member = stack().assume_role(&deployer);
    let member = TestCluster::in_account(stack(), &format!("{test}-member"), &in_member);
    (home, member, deployer, in_member)
}

/// Configures both clusters (the member one through `deployer`), `extra` after `clusters:`.
fn configure_both(home: &TestCluster, member: &TestCluster, deployer: &str, extra: &str) {
    home.configure_all(&format!(
        "clusters:\n  - {{name: {}, region: us-east-1, backend: aws-auth}}\n  - {{name: {}, region: us-east-1, backend: aws-auth, assumeRoleArn: '{deployer}'}}\n{extra}",
        home.name, member.name
    ));
}

#[test]
fn users_and_groups_are_read_in_the_account_iam_assume_role_arn_names() {
    let t = TestCluster::new("iam-account");
    let role = format!("arn:aws:iam::{SYNCED_ACCOUNT}:role/{}", t.iam("reader"));
    let (group, alice) = (t.iam("admins"), t.iam("alice"));
    aws_in_synced_account(&role, &["iam", "create-group", "--group-name", &group]);
    aws_in_synced_account(&role, &["iam", "create-user", "--user-name", &alice]);
    aws_in_synced_account(
        &role,
        &[
            "iam",
            "add-user-to-group",
            "--group-name",
            &group,
            "--user-name",
            &alice,
        ],
    );
    t.configure(&format!(
        "iam:\n  assumeRoleArn: {role}\ngroups:\n  - iamGroup: {group}\n    kubernetesGroups: [system:masters]\n"
    ));
    let run = t.invoke(&t.schedule());
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let expected = format!("arn:aws:iam::{SYNCED_ACCOUNT}:user/{alice}");
    assert_eq!(run.cluster()["added"][0]["key"], json!(expected));
    let users = section(&t.aws_auth(), "mapUsers").to_owned();
    assert!(users.contains(&expected), "{users}");

    // Routed by account: a group event from another account (here, the function's own)
    // cannot concern the synced account's group of the same name.
    let bob = t.iam("bob");
    aws_in_synced_account(&role, &["iam", "create-user", "--user-name", &bob]);
    aws_in_synced_account(
        &role,
        &[
            "iam",
            "add-user-to-group",
            "--group-name",
            &group,
            "--user-name",
            &bob,
        ],
    );
    let params = json!({"groupName": group, "userName": bob});
    let elsewhere = t.invoke(&t.event("add_user_to_group", params.clone()));
    assert_eq!(elsewhere.code, 0, "{}", elsewhere.stderr);
    assert_eq!(
        elsewhere.json()["acknowledged"],
        true,
        "{}",
        elsewhere.stdout
    );
    let mut event = t.event("add_user_to_group", params);
    event["account"] = SYNCED_ACCOUNT.into();
    event["detail"]["recipientAccountId"] = SYNCED_ACCOUNT.into();
    let synced = t.invoke(&event);
    assert_eq!(synced.code, 0, "{}", synced.stderr);
    let bob_arn = format!("arn:aws:iam::{SYNCED_ACCOUNT}:user/{bob}");
    assert_eq!(synced.cluster()["added"][0]["key"], json!(bob_arn));
}

#[test]
fn sso_roles_are_resolved_per_account() {
    let (home, member, deployer, in_member) = home_and_member("sso-acct");
    // eks-sim serves each cluster to its own account only.
    let described = stack().aws_as(
        &in_member,
        &["eks", "describe-cluster", "--name", &member.name],
    );
    let arn = described["cluster"]["arn"].as_str().unwrap();
    assert!(
        arn.contains(&format!(":{MEMBER_ACCOUNT}:cluster/")),
        "{arn}"
    );
    let listed = stack().aws(&["eks", "list-clusters"]);
    assert!(
        !listed["clusters"]
            .as_array()
            .unwrap()
            .contains(&json!(member.name)),
        "{listed}"
    );

    // The same permission set, provisioned to both accounts: a role of its own in each.
    let set = "SsoPerAccount";
    let home_role = sso_role(|a| stack().aws(a), set, "1111aaaa2222bbbb");
    let member_role = sso_role(|a| stack().aws_as(&in_member, a), set, "3333cccc4444dddd");
    assert!(member_role.contains(MEMBER_ACCOUNT), "{member_role}");
    configure_both(
        &home,
        &member,
        &deployer,
        &format!(
            "ssoPermissionSets:\n  - name: {set}\n    username: 'sso-dev:{{{{SessionName}}}}'\n    kubernetesGroups: [system:masters]\n"
        ),
    );
    let run = home.invoke(&home.schedule());
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);

    let home_roles = section(&home.aws_auth(), "mapRoles").to_owned();
    assert!(home_roles.contains(&canonical(&home_role)), "{home_roles}");
    assert!(!home_roles.contains(MEMBER_ACCOUNT), "{home_roles}");
    let member_roles = section(&member.aws_auth(), "mapRoles").to_owned();
    assert!(
        member_roles.contains(&canonical(&member_role)),
        "{member_roles}"
    );
    assert!(!member_roles.contains(HOME_ACCOUNT), "{member_roles}");

    // The member account's SSO role, with its own token, is let in on its cluster; the home
    // account's role of the same permission set is not.
    let get: Vec<&str> = "get configmap aws-auth -n kube-system -o name"
        .split(' ')
        .collect();
    let member_sso = stack().assume_role(&member_role);
    let allowed = member.kubectl_as(&member_sso, &get);
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    let home_sso = stack().assume_role(&home_role);
    let refused = member.kubectl_as(&home_sso, &get);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("Unauthorized"),
        "{}",
        refused.stderr
    );
}

#[test]
fn iam_events_are_routed_by_the_account_they_come_from() {
    let (home, member, deployer, _) = home_and_member("routing");
    let group = home.iam("admins");
    configure_both(
        &home,
        &member,
        &deployer,
        &format!(
            "groups:\n  - iamGroup: {group}\n    kubernetesGroups: [system:masters]\nssoPermissionSets:\n  - name: Routed\n    username: routed\n    kubernetesGroups: [view]\n"
        ),
    );
    // Without iam.assumeRoleArn, users and groups are synced from our own account (STS).
    let params = json!({"groupName": group, "userName": home.iam("alice")});
    let mut elsewhere = home.event("add_user_to_group", params);
    elsewhere["account"] = MEMBER_ACCOUNT.into();
    elsewhere["detail"]["recipientAccountId"] = MEMBER_ACCOUNT.into();
    let ignored = home.invoke(&elsewhere);
    assert_eq!(ignored.code, 0, "{}", ignored.stderr);
    let response = ignored.json();
    assert_eq!(response["acknowledged"], true, "{response}");
    let reason = response["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!(
            "comes from account {MEMBER_ACCOUNT}, but IAM users and groups are synced from account {HOME_ACCOUNT}"
        )),
        "{reason}"
    );

    // A role event reconciles only the clusters of the account it comes from.
    let role_event = |account: &str| {
        let params = json!({"roleName": "AWSReservedSSO_Routed_0123456789abcdef"});
        let mut event = home.event("create_role", params);
        event["account"] = account.into();
        event["detail"]["recipientAccountId"] = account.into();
        event
    };
    let from_member = home.invoke(&role_event(MEMBER_ACCOUNT));
    assert_eq!(
        from_member.code, 0,
        "{}\n{}",
        from_member.stdout, from_member.stderr
    );
    let touched: Vec<Value> = from_member.json()["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cluster"].clone())
        .collect();
    assert_eq!(touched, vec![json!(member.name)], "{}", from_member.stdout);
    let from_home = home.invoke(&role_event(HOME_ACCOUNT));
    assert_eq!(
        from_home.code, 0,
        "{}\n{}",
        from_home.stdout, from_home.stderr
    );
    assert_eq!(
        from_home.cluster()["cluster"],
        json!(home.name),
        "{}",
        from_home.stdout
    );
    assert_eq!(from_home.json()["clusters"].as_array().unwrap().len(), 1);
}

#[test]
fn a_member_clusters_configured_role_is_looked_up_in_its_account() {
    let (home, member, deployer, in_member) = home_and_member("role-acct");
    let upgrade = [
        "eks",
        "update-cluster-config",
        "--name",
        &member.name,
        "--access-config",
        "authenticationMode=API_AND_CONFIG_MAP",
    ];
    stack().aws_as(&in_member, &upgrade);
    let app = member.iam("app");
    stack().aws_as(
        &in_member,
        &[
            "iam",
            "create-role",
            "--role-name",
            &app,
            "--assume-role-policy-document",
            TRUST,
        ],
    );
    let app_arn = format!("arn:aws:iam::{MEMBER_ACCOUNT}:role/{app}");
    home.configure_all(&format!(
        "clusters:\n  - {{name: {}, region: us-east-1, backend: aws-auth}}\n  - {{name: {}, region: us-east-1, backend: access-entries, assumeRoleArn: '{deployer}'}}\nroles:\n  - arn: {app_arn}\n    username: app\n    kubernetesGroups: [app-viewers]\n    clusters: [{}]\n",
        home.name, member.name, member.name
    ));
    let run = home.invoke(&home.schedule());
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report = run.json()["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["cluster"] == json!(member.name))
        .cloned()
        .unwrap();
    assert_eq!(report["added"][0]["key"], json!(app_arn), "{report}");
    // GetRole answered in the member account: no "not found in IAM" warning.
    let warnings = report["warnings"].to_string();
    assert!(!warnings.contains("not found in IAM"), "{warnings}");
    let entry = stack().aws_as(
        &in_member,
        &[
            "eks",
            "describe-access-entry",
            "--cluster-name",
            &member.name,
            "--principal-arn",
            &app_arn,
        ],
    );
    assert_eq!(entry["accessEntry"]["username"], "app", "{entry}");
}
