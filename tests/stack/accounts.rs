//! Many accounts (issue 14): `iam: {assumeRoleArn}` names the account whose IAM users and
//! groups are synced; the function reads them through that role (moto's cross-account
//! AssumeRole), while the clusters stay reached with its own credentials; and user and group
//! events matter only when they come from that account.

use std::process::Command;

use serde_json::{Value, json};

use crate::support::{TestCluster, section, stack};

const SYNCED_ACCOUNT: &str = "222233334444";

/// awscli in `SYNCED_ACCOUNT`, with credentials moto's AssumeRole gave for `role`.
fn aws_in_synced_account(role: &str, args: &[&str]) -> Value {
    let assumed = stack().aws(&[
        "sts",
        "assume-role",
        "--role-arn",
        role,
        "--role-session-name",
        "test",
    ]);
    let c = &assumed["Credentials"];
    let out = Command::new("aws")
        .args(args)
        .args(["--output", "json"])
        .env("AWS_ENDPOINT_URL", stack().var("AWS_ENDPOINT_URL"))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", c["AccessKeyId"].as_str().unwrap())
        .env(
            "AWS_SECRET_ACCESS_KEY",
            c["SecretAccessKey"].as_str().unwrap(),
        )
        .env("AWS_SESSION_TOKEN", c["SessionToken"].as_str().unwrap())
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "aws {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
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
