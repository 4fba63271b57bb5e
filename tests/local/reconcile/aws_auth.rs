//! Full reconciles of an aws-auth cluster: the schedule adds entries, a second run is a
//! steady state (one GET, no write), and a conflict on the write is retried.

use super::support::{Calls, Setup, event, first_aws_auth_run, iam};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_adds_the_group_members_then_a_second_run_only_reads() {
    let s = Setup::admins_on_aws_auth()
        .iam(vec![
            iam::get_group("eks-admins", &["alice", "bob"]),
            iam::get_group("eks-admins", &["alice", "bob"]),
        ])
        .start()
        .await;

    let first = s
        .handle(&event("scheduled_event", None))
        .await
        .expect("the run succeeds");
    s.verify(first_aws_auth_run(&[("get", 1), ("create", 1)]));
    super::support::snapshot!("schedule_adds_members", first);
    let map_users = &s.aws_auth()["mapUsers"];
    assert!(
        map_users.contains(&iam::user_arn("alice")) && map_users.contains(&iam::user_arn("bob")),
        "{map_users}"
    );

    let second = s
        .handle(&event("scheduled_event", None))
        .await
        .expect("the run succeeds");
    // A scheduled run describes the cluster again (its mode may have changed); our identity
    // is cached while warm: one GET, no write.
    s.verify(
        Calls::none()
            .iam(&["GetGroup"])
            .eks(&[("DescribeCluster", 1)])
            .kube(&[("get", 1)]),
    );
    let cluster = &second["clusters"][0];
    assert_eq!(cluster["outcome"], "unchanged");
    assert_eq!(cluster["apiCalls"]["kube_get"], 1);
    assert_eq!(cluster["apiCalls"]["kube_put"], 0);
    s.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_on_the_write_is_read_planned_and_written_again() {
    let s = Setup::admins_on_aws_auth()
        .iam(vec![iam::get_group("eks-admins", &["alice"])])
        .fault("kube:create:409:count=1")
        .start()
        .await;

    let response = s
        .handle(&event("scheduled_event", None))
        .await
        .expect("the retry succeeds");
    s.verify(first_aws_auth_run(&[("get", 2), ("create", 2)]));
    let cluster = &response["clusters"][0];
    assert_eq!(cluster["outcome"], "applied");
    assert_eq!(cluster["writeAttempts"], 2);
    assert_eq!(cluster["apiCalls"]["kube_post"], 2);
    s.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_invoke_plans_without_writing() {
    let s = Setup::admins_on_aws_auth()
        .iam(vec![iam::get_group("eks-admins", &["alice"])])
        .start()
        .await;

    let response = s
        .handle(&event("invoke_dry_run", None))
        .await
        .expect("the dry run succeeds");
    s.verify(first_aws_auth_run(&[("get", 1)]));
    assert_eq!(response["dryRun"], true);
    let cluster = &response["clusters"][0];
    assert_eq!(cluster["outcome"], "planned");
    assert_eq!(cluster["added"][0]["key"], iam::user_arn("alice"));
    assert!(s.aws_auth().is_empty(), "a dry run writes nothing");
    s.finish();
}
