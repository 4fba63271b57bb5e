//! Bounded time: one retry layer for Kubernetes (ours: a 503 is retried as many times as
//! `WRITE_ATTEMPTS` says, and each request is counted).

use eks_iam_sync::handler::HandlerError;
use eks_iam_sync::reconcile::WRITE_ATTEMPTS;
use serde_json::Value;

use crate::support::{Setup, event, first_aws_auth_run, iam};

/// The summary of an invocation that failed because its cluster failed.
fn failed_summary(result: Result<Value, HandlerError>) -> Value {
    match result {
        Err(HandlerError::ClustersFailed { summary, .. }) => summary,
        other => panic!("expected ClustersFailed, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_on_every_read_is_tried_write_attempts_times_and_each_request_is_counted() {
    let s = Setup::admins_on_aws_auth()
        .iam(vec![iam::get_group("eks-admins", &["alice"])])
        .fault("kube:get:503")
        .start()
        .await;

    let summary = failed_summary(s.handle(&event("scheduled_event", None)).await);
    let attempts = u64::from(WRITE_ATTEMPTS);
    // kube's own retry layer would have sent up to 15 more GETs per attempt.
    s.verify(first_aws_auth_run(&[("get", attempts)]));
    let cluster = &summary["clusters"][0];
    assert_eq!(cluster["outcome"], "failed");
    assert_eq!(cluster["writeAttempts"], attempts);
    assert_eq!(cluster["apiCalls"]["kube_get"], attempts);
    let error = cluster["error"].as_str().unwrap();
    assert!(
        error.starts_with("get aws-auth: 503 ServiceUnavailable"),
        "{error}"
    );
    assert!(s.aws_auth().is_empty(), "nothing was written");
    s.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_503_costs_one_more_attempt_not_more() {
    let s = Setup::admins_on_aws_auth()
        .iam(vec![iam::get_group("eks-admins", &["alice"])])
        .fault("kube:get:503:count=1")
        .start()
        .await;

    let response = s
        .handle(&event("scheduled_event", None))
        .await
        .expect("the second attempt succeeds");
    s.verify(first_aws_auth_run(&[("get", 2), ("create", 1)]));
    let cluster = &response["clusters"][0];
    assert_eq!(cluster["outcome"], "applied");
    assert_eq!(cluster["writeAttempts"], 2);
    assert_eq!(cluster["apiCalls"]["kube_get"], 2);
    s.finish();
}
