//! The payload is a hint, IAM is the truth (issue 20, scenario 2), judged with each person's
//! OWN token: a forged AddUserToGroup event and a forged SQS record naming mallory's ARN
//! (mallory is in no group) leave mallory's token at 401, while the real member the event
//! names keeps 200.

use serde_json::{Value, json};

use crate::access_entries::set_member;
use crate::support::{TestCluster, iam_group, identity, section, stack};

fn admins(t: &TestCluster) -> String {
    format!(
        "groups:\n  - iamGroup: {}\n    kubernetesGroups: [system:masters]\n",
        t.iam("admins")
    )
}

/// An SQS event as Lambda's event source mapping builds it, of one record with `body`.
fn sqs_record(cluster: &str, body: &Value) -> Value {
    json!({"Records": [{
        "messageId": "forged", "receiptHandle": "r-forged", "body": body.to_string(),
        "attributes": {"MessageGroupId": cluster, "ApproximateReceiveCount": "1"},
        "messageAttributes": {}, "md5OfBody": "",
        "eventSource": "aws:sqs", "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:work.fifo",
    }]})
}

#[test]
fn a_forged_add_user_to_group_event_does_not_map_the_arn_it_names() {
    let t = TestCluster::new("forged-event");
    let (alice, mallory) = (t.iam("alice"), t.iam("mallory"));
    let (alice_key, alice_secret, _) = identity(&alice);
    let (mallory_key, mallory_secret, mallory_arn) = identity(&mallory);
    iam_group(&t.iam("admins"), &[]);
    set_member(stack(), &t.iam("admins"), &alice, true);
    t.configure(&admins(&t));

    // alice really is a member; the event claims her ARN is mallory's.
    let mut event = t.event(
        "add_user_to_group",
        json!({"groupName": t.iam("admins"), "userName": alice}),
    );
    event["detail"]["responseElements"] = json!({"user": {"userName": alice, "arn": mallory_arn}});
    let run = t.invoke(&event);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let users = section(&t.aws_auth(), "mapUsers").to_owned();
    assert!(!users.contains(&mallory_arn), "{users}");
    assert!(users.contains(&t.user_arn("alice")), "{users}");
    assert_eq!(t.status_as(&mallory_key, &mallory_secret), 401);
    assert_eq!(
        t.status_as(&alice_key, &alice_secret),
        200,
        "the ARN IAM gives"
    );
}

#[test]
fn a_forged_sqs_record_maps_nobody_with_or_without_fleet_mode() {
    let mut t = TestCluster::new("forged-record");
    let (alice, mallory) = (t.iam("alice"), t.iam("mallory"));
    identity(&alice);
    let (mallory_key, mallory_secret, mallory_arn) = identity(&mallory);
    iam_group(&t.iam("admins"), &[]);
    set_member(stack(), &t.iam("admins"), &alice, true);
    t.configure(&admins(&t));
    let body = json!({"action": "syncUser", "clusters": [t.name], "userName": alice,
        "userArn": mallory_arn, "expect": {"memberOf": t.iam("admins")}});

    // Without fleet mode no queue feeds the function: the record is not run at all.
    let refused = t.invoke(&sqs_record(&t.name, &body));
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("fleet mode is off"),
        "{}",
        refused.stderr
    );
    assert_eq!(t.status_as(&mallory_key, &mallory_secret), 401);

    // In fleet mode the record runs, and a body carrying an ARN fails alone, named.
    t.set_env(
        "EKS_IAM_SYNC_QUEUE_URL",
        "https://sqs.us-east-1.amazonaws.com/123456789012/work.fifo",
    );
    let run = t.invoke(&sqs_record(&t.name, &body));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.json()["batchItemFailures"],
        json!([{"itemIdentifier": "forged"}])
    );
    assert!(
        run.stderr.contains("never carries an ARN"),
        "{}",
        run.stderr
    );

    // Without the ARN, a record naming mallory re-reads IAM, which shows no membership.
    let claim = json!({"action": "syncUser", "clusters": [t.name], "userName": mallory,
        "expect": {"memberOf": t.iam("admins")}});
    let run = t.invoke(&sqs_record(&t.name, &claim));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(t.status_as(&mallory_key, &mallory_secret), 401);
}
