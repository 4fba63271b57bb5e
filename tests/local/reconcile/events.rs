//! User events: AddUserToGroup costs one IAM read (plus GetUser for a user with no entry
//! yet) and one GET + one PUT; an event about nothing we manage costs no call at all.

use serde_json::json;

use super::support::{Calls, Setup, event, first_aws_auth_run, iam};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_user_to_group_reads_the_user_s_groups_and_writes_once() {
    let s = Setup::admins_on_aws_auth()
        .iam(vec![
            iam::get_group("eks-admins", &["alice"]),
            iam::list_groups_for_user("bob", &["eks-admins"]),
            iam::get_user("bob"),
        ])
        .start()
        .await;
    s.handle(&event("scheduled_event", None)).await.unwrap();
    s.verify(first_aws_auth_run(&[("get", 1), ("create", 1)]));

    let added = s
        .handle(&event(
            "add_user_to_group",
            Some(json!({"groupName": "eks-admins", "userName": "bob"})),
        ))
        .await
        .expect("the event is handled");
    // ListGroupsForUser, then GetUser for the ARN of a user who has no entry yet; the
    // cluster is described again (its mode decides the store).
    s.verify(
        Calls::none()
            .iam(&["ListGroupsForUser", "GetUser"])
            .eks(&[("DescribeCluster", 1)])
            .kube(&[("get", 1), ("update", 1)]),
    );
    let cluster = &added["clusters"][0];
    assert_eq!(cluster["outcome"], "applied");
    assert_eq!(cluster["added"][0]["key"], iam::user_arn("bob"));
    assert_eq!(added["iamCalls"], 2);
    s.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_about_an_unconfigured_group_makes_no_call() {
    let s = Setup::admins_on_aws_auth().start().await;
    let response = s
        .handle(&event(
            "add_user_to_group",
            Some(json!({"groupName": "marketing", "userName": "bob"})),
        ))
        .await
        .expect("acknowledged");
    s.verify(Calls::none());
    assert_eq!(response["acknowledged"], true);
    assert_eq!(response["clusters"], json!([]));
    s.finish();
}
