//! Benchmark on the local stack (moto + eks-sim): API calls per event and per full
//! reconcile, from the handler's summary and the simulator's counters, at two organisation
//! sizes; and the handler's warm latency (the reconciler is built once, as in a warm Lambda
//! instance, and the handler called repeatedly).
//!
//! Needs the stack's environment and the IAM/cluster set-up `scripts/bench.sh` makes
//! (`BENCH_CLUSTERS="bench-10:g10 bench-1000:g1000"`, `EKS_IAM_SYNC_CONFIG`); without it,
//! it says so and exits. Run: `scripts/bench.sh` (which runs `cargo bench --bench stack`).

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use eks_iam_sync::app::reconciler_from_env;
use eks_iam_sync::handler::handle;
use eks_iam_sync::reconcile::Reconciler;
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";
const WARM_RUNS: usize = 30;

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-s"])
        .args(args)
        .output()
        .expect("curl runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn admin(method: &str, path: &str) -> Value {
    let url = format!("{}{path}", std::env::var("EKS_SIM_ADMIN_URL").unwrap());
    serde_json::from_str(&curl(&["-X", method, &url])).unwrap_or(Value::Null)
}

/// An IAM call straight to moto (it routes by the credential scope; signatures unchecked).
fn iam(action: &str, params: &[(&str, &str)]) {
    let url = format!("{}/", std::env::var("AWS_ENDPOINT_URL").unwrap());
    let mut args = vec![
        "-X".to_owned(),
        "POST".to_owned(),
        url,
        "-H".to_owned(),
        "authorization: AWS4-HMAC-SHA256 Credential=AKIABENCH/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0".to_owned(),
        "--data-urlencode".to_owned(),
        format!("Action={action}"),
        "--data-urlencode".to_owned(),
        "Version=2010-05-08".to_owned(),
    ];
    for (k, v) in params {
        args.push("--data-urlencode".to_owned());
        args.push(format!("{k}={v}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    curl(&refs);
}

fn event(name: &str, params: Value) -> Value {
    json!({
        "version": "0", "id": "bench", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.iam", "account": ACCOUNT, "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1", "resources": [],
        "detail": {
            "eventVersion": "1.09", "eventSource": "iam.amazonaws.com", "eventName": name,
            "awsRegion": "us-east-1", "recipientAccountId": ACCOUNT,
            "requestParameters": params, "responseElements": null,
        },
    })
}

fn schedule() -> Value {
    json!({
        "version": "0", "id": "bench", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT, "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/eks-iam-sync"], "detail": {},
    })
}

/// One handler call: (IAM calls, Kubernetes GET/PUT/POST of `cluster` from the summary,
/// simulator counters of `cluster` and of EKS, outcome).
async fn measured(r: &Reconciler, cluster: &str, payload: &Value) -> String {
    admin("DELETE", "/counters");
    let response = match handle(r, payload).await {
        Ok(v) => v,
        Err(e) => panic!("handler failed: {e}"),
    };
    let counters = admin("GET", "/counters");
    let report = response["clusters"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["cluster"] == cluster))
        .cloned()
        .unwrap_or(Value::Null);
    let sim = &counters["kube"][cluster];
    format!(
        "| {} | {} | {}/{}/{} | {}/{} | {} | {} |",
        response["iamCalls"],
        response["eksCalls"],
        report["apiCalls"]["kube_get"],
        report["apiCalls"]["kube_put"],
        report["apiCalls"]["kube_post"],
        sim["get"].as_u64().unwrap_or(0),
        sim["update"].as_u64().unwrap_or(0) + sim["create"].as_u64().unwrap_or(0),
        counters["eks"]["DescribeCluster"].as_u64().unwrap_or(0),
        report["outcome"].as_str().unwrap_or("acknowledged"),
    )
}

async fn latency(r: &Reconciler, payload: &Value) -> (Duration, Duration) {
    let mut times: Vec<Duration> = Vec::with_capacity(WARM_RUNS);
    for _ in 0..WARM_RUNS {
        let start = Instant::now();
        handle(r, payload).await.expect("handler succeeds");
        times.push(start.elapsed());
    }
    times.sort();
    (times[WARM_RUNS / 2], times[WARM_RUNS * 9 / 10])
}

async fn run(clusters: &[(String, String)]) {
    let env: HashMap<String, String> = std::env::vars().collect();
    let r = reconciler_from_env(&env)
        .await
        .expect("configuration loads");
    println!(
        "\n| cluster (members) | step | IAM calls | EKS calls | summary GET/PUT/POST | eks-sim GET/writes | eks-sim DescribeCluster | outcome |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (cluster, group) in clusters {
        let members = cluster.rsplit('-').next().unwrap_or("?");
        let only = json!({"action": "reconcile", "dryRun": false, "clusters": [cluster]});
        let newcomer = format!("{group}-newcomer");
        let existing = format!("{group}-u0000");
        let row = |step: &str, line: String| println!("| {cluster} ({members}) | {step} {line}");
        row(
            "full reconcile, first (writes every entry)",
            measured(&r, cluster, &only).await,
        );
        row(
            "full reconcile, steady state",
            measured(&r, cluster, &only).await,
        );
        iam("CreateUser", &[("UserName", &newcomer)]);
        iam(
            "AddUserToGroup",
            &[("GroupName", group), ("UserName", &newcomer)],
        );
        row(
            "AddUserToGroup, user's first entry",
            measured(
                &r,
                cluster,
                &event(
                    "AddUserToGroup",
                    json!({"groupName": group, "userName": newcomer}),
                ),
            )
            .await,
        );
        iam(
            "RemoveUserFromGroup",
            &[("GroupName", group), ("UserName", &newcomer)],
        );
        row(
            "RemoveUserFromGroup, user has an entry",
            measured(
                &r,
                cluster,
                &event(
                    "RemoveUserFromGroup",
                    json!({"groupName": group, "userName": newcomer}),
                ),
            )
            .await,
        );
        row(
            "AddUserToGroup replayed for a member with an entry (no change)",
            measured(
                &r,
                cluster,
                &event(
                    "AddUserToGroup",
                    json!({"groupName": group, "userName": existing}),
                ),
            )
            .await,
        );
        iam("DeleteUser", &[("UserName", &newcomer)]);
    }
    println!("\nWarm handler latency ({WARM_RUNS} calls each, one reconciler built once):\n");
    println!("| cluster (members) | payload | median | p90 |");
    println!("|---|---|---|---|");
    for (cluster, group) in clusters {
        let members = cluster.rsplit('-').next().unwrap_or("?");
        let only = json!({"action": "reconcile", "dryRun": false, "clusters": [cluster]});
        let (median, p90) = latency(&r, &only).await;
        println!(
            "| {cluster} ({members}) | full reconcile, steady state | {median:.1?} | {p90:.1?} |"
        );
        let replay = event(
            "AddUserToGroup",
            json!({"groupName": group, "userName": format!("{group}-u0000")}),
        );
        let (median, p90) = latency(&r, &replay).await;
        println!("| {cluster} ({members}) | user event, no change | {median:.1?} | {p90:.1?} |");
    }
    let (median, p90) = latency(&r, &schedule()).await;
    println!("| all | scheduled event (every cluster) | {median:.1?} | {p90:.1?} |");
}

fn main() {
    let Ok(spec) = std::env::var("BENCH_CLUSTERS") else {
        println!("benches/stack.rs needs the local stack: run scripts/bench.sh");
        return;
    };
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let clusters: Vec<(String, String)> = spec
        .split_whitespace()
        .filter_map(|c| c.split_once(':'))
        .map(|(c, g)| (c.to_owned(), g.to_owned()))
        .collect();
    tokio::runtime::Runtime::new()
        .expect("tokio runtime")
        .block_on(run(&clusters));
}
