//! The admin API under `/_sim/` on the EKS port, for tests and the harness: register test
//! credentials, read and reset per-verb request counters, add, list and clear fault rules,
//! fetch the CA, see how a cluster reads its aws-auth (including dropped sections), and seed
//! many access entries at once (scale tests: `{"count": N, "prefix": "seed"}` adds N
//! unmanaged STANDARD entries for users `PREFIX-0`..`PREFIX-{N-1}` of the cluster's account).
//! Admin calls are neither counted nor faulted.
//!
//! No authentication: the simulator listens on loopback only and holds test data only.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::aws_auth::AwsAuth;
use crate::credentials::TestCredential;
use crate::faults::FaultRule;
use crate::state::SimState;

/// The admin router.
pub fn app(state: SimState) -> Router {
    Router::new()
        .route("/_sim/health", get(|| async { Json(json!({"ok": true})) }))
        .route("/_sim/info", get(info))
        .route("/_sim/ca.pem", get(ca_pem))
        .route(
            "/_sim/credentials",
            get(list_credentials).post(add_credentials),
        )
        .route(
            "/_sim/credentials/{access_key_id}",
            delete(remove_credential),
        )
        .route("/_sim/counters", get(counters).delete(reset_counters))
        .route(
            "/_sim/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/_sim/clusters/{name}/aws-auth", get(aws_auth_view))
        .route(
            "/_sim/clusters/{name}/access-entries",
            axum::routing::post(seed_access_entries),
        )
        .with_state(state)
}

fn bad_request(message: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": message.to_string()})),
    )
        .into_response()
}

async fn info(State(state): State<SimState>) -> Json<Value> {
    let world = state.world();
    let clusters: serde_json::Map<String, Value> = world
        .clusters
        .values()
        .map(|c| {
            (
                c.name.clone(),
                json!({"endpoint": c.endpoint, "authenticationMode": c.auth_mode.as_str(), "creator": c.creator_arn}),
            )
        })
        .collect();
    Json(json!({
        "region": state.region,
        "account_id": state.account_id,
        "clusters": clusters,
        "ca_pem": state.tls.ca_pem,
    }))
}

async fn ca_pem(State(state): State<SimState>) -> String {
    state.tls.ca_pem.clone()
}

async fn list_credentials(State(state): State<SimState>) -> Json<Value> {
    let all: Vec<TestCredential> = state.world().credentials.all().cloned().collect();
    Json(json!(all))
}

/// One credential object or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(TestCredential),
    Many(Vec<TestCredential>),
}

async fn add_credentials(State(state): State<SimState>, body: axum::body::Bytes) -> Response {
    let creds = match serde_json::from_slice::<OneOrMany>(&body) {
        Ok(OneOrMany::One(c)) => vec![c],
        Ok(OneOrMany::Many(v)) => v,
        Err(e) => {
            return bad_request(format!(
                "expected {{access_key_id, secret_access_key, arn, session_token?}} or a list: {e}"
            ));
        }
    };
    let mut world = state.world();
    for c in creds {
        if let Err(e) = world.credentials.insert(c) {
            return bad_request(e);
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn remove_credential(State(state): State<SimState>, Path(ak): Path<String>) -> StatusCode {
    match state.world().credentials.remove(&ak) {
        Some(_) => StatusCode::NO_CONTENT,
        None => StatusCode::NOT_FOUND,
    }
}

async fn counters(State(state): State<SimState>) -> Json<Value> {
    Json(state.counters.snapshot())
}

async fn reset_counters(State(state): State<SimState>) -> StatusCode {
    state.counters.reset();
    StatusCode::NO_CONTENT
}

async fn list_faults(State(state): State<SimState>) -> Json<Value> {
    Json(json!(state.faults.list()))
}

/// A rule object, or `{"spec": "kube:update:409:count=1"}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FaultBody {
    Spec { spec: String },
    Rule(FaultRule),
}

async fn add_fault(State(state): State<SimState>, body: axum::body::Bytes) -> Response {
    let rule = match serde_json::from_slice::<FaultBody>(&body) {
        Ok(FaultBody::Spec { spec }) => FaultRule::parse_spec(&spec),
        Ok(FaultBody::Rule(r)) => r.validate("rule").map(|()| r),
        Err(e) => return bad_request(format!("expected a fault rule or {{\"spec\": ...}}: {e}")),
    };
    match rule {
        Ok(r) => {
            state.faults.add(r);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad_request(e),
    }
}

async fn clear_faults(State(state): State<SimState>) -> StatusCode {
    state.faults.clear();
    StatusCode::NO_CONTENT
}

async fn aws_auth_view(State(state): State<SimState>, Path(name): Path<String>) -> Response {
    let world = state.world();
    let Some(c) = world.clusters.get(&name) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no cluster {name}")})),
        )
            .into_response();
    };
    let a = AwsAuth::read(c.configmaps.data("kube-system", "aws-auth"));
    let mapping = |m: &crate::aws_auth::Mapping| json!({"arn": m.arn, "username": m.username, "groups": m.groups});
    Json(json!({
        "authenticationMode": c.auth_mode.as_str(),
        "mapRoles": a.roles.iter().map(mapping).collect::<Vec<_>>(),
        "mapUsers": a.users.iter().map(mapping).collect::<Vec<_>>(),
        "mapAccounts": a.accounts,
        "dropped": a.dropped.iter().map(|d| json!({"section": d.section, "reason": d.reason})).collect::<Vec<_>>(),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct Seed {
    count: usize,
    prefix: String,
}

async fn seed_access_entries(
    State(state): State<SimState>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let seed: Seed = match serde_json::from_slice(&body) {
        Ok(seed) => seed,
        Err(e) => return bad_request(format!("expected {{count, prefix}}: {e}")),
    };
    let mut world = state.world();
    let Some(c) = world.clusters.get_mut(&name) else {
        return bad_request(format!("no cluster {name}"));
    };
    for i in 0..seed.count {
        let arn = format!("arn:aws:iam::{}:user/{}-{i}", c.account_id, seed.prefix);
        let body = json!({"principalArn": arn});
        let created = crate::access_entries::NewEntry::from_request(&body, &c.account_id).and_then(
            |(new, principal)| {
                c.access_entries
                    .create(new, principal, &c.name, &c.region, &c.account_id)
                    .map(drop)
            },
        );
        if let Err(e) = created {
            return bad_request(format!("{arn}: {}", e.message));
        }
    }
    Json(json!({"entries": c.access_entries.all().len()})).into_response()
}
