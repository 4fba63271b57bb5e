//! Fault injection and counters, as product tests use them: N conflicts then success,
//! throttling that the real SDK retries through, dropped connections, added latency, and
//! per-verb counters that count every request.

use std::time::{Duration, Instant};

use eks_sim::cluster::AuthMode;
use serde_json::json;

use crate::support::{self, AWS_AUTH, KUBE_SYSTEM_CMS, Kube, admin_call, quick_token};

#[tokio::test]
async fn kube_conflicts_then_success_and_counters_count_each_try() {
    let sim = support::sim(AuthMode::ConfigMap).await;
    let kube = Kube::new(&sim, support::CLUSTER);
    let admin = quick_token(&support::admin());
    let cm = json!({"metadata": {"name": "aws-auth"}, "data": {}});
    kube.call("POST", KUBE_SYSTEM_CMS, &admin, Some(&cm)).await;
    assert_eq!(
        admin_call(&sim, "DELETE", "/_sim/counters", None).await.0,
        204
    );
    let (s, _) = admin_call(
        &sim,
        "POST",
        "/_sim/faults",
        Some(json!({"spec": "kube/demo:update:409:count=2"})),
    )
    .await;
    assert_eq!(s, 204);
    let patch = json!({"data": {"a": "1"}});
    let (_, current) = kube.call("GET", AWS_AUTH, &admin, None).await;
    let mut next = current.clone();
    next["data"] = patch["data"].clone();
    let tries: Vec<u16> = futures_tries(&kube, &admin, &next).await;
    assert_eq!(tries, vec![409, 409, 200]);
    let (_, counters) = admin_call(&sim, "GET", "/_sim/counters", None).await;
    assert_eq!(counters["kube"]["demo"]["update"], 3);
    assert_eq!(counters["kube"]["demo"]["get"], 1);
    assert_eq!(
        admin_call(&sim, "GET", "/_sim/faults", None).await.1,
        json!([])
    );
}

async fn futures_tries(kube: &Kube, token: &str, body: &serde_json::Value) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..3 {
        out.push(kube.call("PUT", AWS_AUTH, token, Some(body)).await.0);
    }
    out
}

#[tokio::test]
async fn the_sdk_retries_through_injected_throttling() {
    let sim = support::sim(AuthMode::Api).await;
    let eks = crate::eks_api::client(&sim).await;
    admin_call(
        &sim,
        "POST",
        "/_sim/faults",
        Some(json!({"api": "eks", "verb": "DescribeCluster", "action": "429", "count": 2})),
    )
    .await;
    eks.describe_cluster()
        .name("demo")
        .send()
        .await
        .expect("third attempt succeeds");
    let (_, counters) = admin_call(&sim, "GET", "/_sim/counters", None).await;
    assert_eq!(counters["eks"]["DescribeCluster"], 3);
    admin_call(
        &sim,
        "POST",
        "/_sim/faults",
        Some(json!({"spec": "eks:ListAccessEntries:500"})),
    )
    .await;
    let e = eks
        .list_access_entries()
        .cluster_name("demo")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_eks::error::ProvideErrorMetadata::code(&e.into_service_error()),
        Some("ServerException")
    );
    assert_eq!(
        admin_call(&sim, "DELETE", "/_sim/faults", None).await.0,
        204
    );
    eks.list_access_entries()
        .cluster_name("demo")
        .send()
        .await
        .expect("faults cleared");
}

#[tokio::test]
async fn an_injected_400_is_a_rejection_the_sdk_does_not_retry() {
    let sim = support::sim(AuthMode::Api).await;
    let eks = crate::eks_api::client(&sim).await;
    admin_call(
        &sim,
        "POST",
        "/_sim/faults",
        Some(json!({"spec": "eks:CreateAccessEntry:400:count=1"})),
    )
    .await;
    let create = || {
        eks.create_access_entry()
            .cluster_name("demo")
            .principal_arn("arn:aws:iam::111122223333:role/rejected-once")
            .send()
    };
    let e = create().await.unwrap_err();
    assert_eq!(
        aws_sdk_eks::error::ProvideErrorMetadata::code(&e.into_service_error()),
        Some("InvalidParameterException")
    );
    let (_, counters) = admin_call(&sim, "GET", "/_sim/counters", None).await;
    assert_eq!(
        counters["eks"]["CreateAccessEntry"], 1,
        "a 400 is not retried"
    );
    create().await.expect("the rule fired once and is gone");
}

#[tokio::test]
async fn dropped_connections_latency_and_fractions() {
    let sim = support::sim(AuthMode::ConfigMap).await;
    let kube = Kube::new(&sim, support::CLUSTER);
    let admin = quick_token(&support::admin());
    admin_call(
        &sim,
        "POST",
        "/_sim/faults",
        Some(json!({"spec": "kube:list:drop:count=1"})),
    )
    .await;
    let dropped = kube
        .send(
            "GET",
            KUBE_SYSTEM_CMS,
            Some(&format!("Bearer {admin}")),
            None,
            None,
        )
        .await;
    assert!(dropped.is_err(), "connection must be dropped: {dropped:?}");
    assert_eq!(kube.call("GET", KUBE_SYSTEM_CMS, &admin, None).await.0, 200);

    admin_call(
        &sim,
        "POST",
        "/_sim/faults",
        Some(json!({"spec": "kube:get:none:count=1:latency=300"})),
    )
    .await;
    let t = Instant::now();
    kube.call("GET", AWS_AUTH, &admin, None).await;
    assert!(t.elapsed() >= Duration::from_millis(300));

    admin_call(
        &sim,
        "POST",
        "/_sim/faults",
        Some(json!({"spec": "kube:get:500:fraction=0.5"})),
    )
    .await;
    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(kube.call("GET", AWS_AUTH, &admin, None).await.0);
    }
    assert_eq!(codes.iter().filter(|c| **c == 500).count(), 2, "{codes:?}");
    let (s, body) = admin_call(
        &sim,
        "POST",
        "/_sim/faults",
        Some(json!({"spec": "kube:get:418"})),
    )
    .await;
    assert_eq!(s, 400, "{body}");
}
