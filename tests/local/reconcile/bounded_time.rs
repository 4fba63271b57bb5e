//! Bounded time: one retry layer for Kubernetes (ours: a 503 is retried as many times as
//! `WRITE_ATTEMPTS` says, and each request is counted), timeouts on a stalled endpoint (EKS
//! answering too slowly, a Kubernetes API server that accepts and never answers), and the
//! invocation's deadline (clusters not started are reported as failed).

use std::sync::Arc;
use std::time::{Duration, Instant};

use eks_iam_sync::aws::timeouts::{AwsTimeouts, CONNECT_TIMEOUT};
use eks_iam_sync::handler::HandlerError;
use eks_iam_sync::kubernetes::{AwsAuthStore, KubeCalls, KubeError};
use eks_iam_sync::reconcile::{WRITE_ATTEMPTS, until_deadline};
use serde_json::Value;

use super::support::{Calls, Setup, event, first_aws_auth_run, iam};

/// A generous bound for a run that must end by its timeouts (the harness's, not the product's).
const ENDS_WITHIN: Duration = Duration::from_secs(60);

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_describe_cluster_fails_the_cluster_with_a_timeout() {
    let timeouts = AwsTimeouts {
        attempt: Duration::from_millis(200),
        operation: Duration::from_secs(1),
    };
    let s = Setup::admins_on_aws_auth()
        .iam(vec![iam::get_group("eks-admins", &["alice"])])
        .fault("eks:DescribeCluster:none:latency=600000")
        .timeouts(timeouts)
        .start()
        .await;

    let started = Instant::now();
    let summary = failed_summary(s.handle(&event("scheduled_event", None)).await);
    assert!(started.elapsed() < ENDS_WITHIN, "{:?}", started.elapsed());
    let cluster = &summary["clusters"][0];
    assert_eq!(cluster["outcome"], "failed");
    let error = cluster["error"].as_str().unwrap();
    assert!(error.contains("DescribeCluster"), "{error}");
    assert!(error.contains("timeout"), "{error}");
    let counters = s.sim.state.counters.snapshot();
    let describes = counters["eks"]["DescribeCluster"].as_u64().unwrap();
    assert!(
        (1..=3).contains(&describes),
        "the SDK's attempts within the operation timeout: {describes}"
    );
    assert!(
        counters["kube"].get("prod").is_none(),
        "the cluster was never reached: {counters}"
    );
    assert!(s.aws_auth().is_empty(), "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_server_that_accepts_and_never_answers_is_a_transient_error_not_a_hang() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("https://{}", listener.local_addr().unwrap());
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            held.push(socket); // accepted, never read from or written to
        }
    });
    let ca = eks_sim::tls::TlsMaterial::generate().unwrap().ca_pem;
    let calls = Arc::new(KubeCalls::default());
    let store = AwsAuthStore::connect(&endpoint, ca.as_bytes(), "token", calls.clone()).unwrap();

    let started = Instant::now();
    let error = store.get().await.unwrap_err();
    let took = started.elapsed();
    silent.abort();

    assert!(matches!(error, KubeError::Transport { .. }), "{error}");
    assert!(error.is_transient(), "{error}");
    assert!(
        took >= CONNECT_TIMEOUT.mul_f64(0.9) && took < ENDS_WITHIN,
        "{took:?}"
    );
    assert_eq!(
        calls.snapshot(),
        (1, 0, 0),
        "one GET sent, not retried by kube"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_are_not_started_when_the_deadline_is_near() {
    let s = Setup::admins_on_aws_auth()
        .iam(vec![
            iam::get_group("eks-admins", &["alice"]),
            iam::get_group("eks-admins", &["alice"]),
            iam::get_group("eks-admins", &["alice", "bob"]),
        ])
        .start()
        .await;

    let far = Instant::now() + Duration::from_secs(600);
    let response = until_deadline(far, s.handle(&event("scheduled_event", None)))
        .await
        .expect("with time left the run succeeds");
    s.verify(first_aws_auth_run(&[("get", 1), ("create", 1)]));
    assert_eq!(response["clusters"][0]["outcome"], "applied");

    // A function with a short timeout (Lambda's default is 3 s) still starts its clusters:
    // only its last quarter is kept free.
    let short = Instant::now() + Duration::from_secs(3);
    until_deadline(short, s.handle(&event("scheduled_event", None)))
        .await
        .expect("a short deadline still leaves time to start");
    s.verify(
        Calls::none()
            .iam(&["GetGroup"])
            .eks(&[("DescribeCluster", 1)])
            .kube(&[("get", 1)]),
    );

    // Within the margin (the last quarter of 2.4 s here): bob's grant waits, reported, for
    // the next invocation.
    let near = Instant::now() + Duration::from_millis(2400);
    let summary = failed_summary(
        until_deadline(near, async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            s.handle(&event("scheduled_event", None)).await
        })
        .await,
    );
    // IAM is read before the clusters start; no cluster call is made.
    s.verify(Calls::none().iam(&["GetGroup"]));
    let cluster = &summary["clusters"][0];
    assert_eq!(cluster["outcome"], "failed");
    assert_eq!(
        cluster["error"],
        "not started: the invocation's deadline was near"
    );
    assert!(
        !s.aws_auth()["mapUsers"].contains(&iam::user_arn("bob")),
        "nothing was written"
    );
    s.finish();
}
