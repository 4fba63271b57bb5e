//! The EKS REST-JSON API (what aws-sdk-eks calls through `AWS_ENDPOINT_URL_EKS`):
//! CreateCluster, ListClusters, DescribeCluster, DeleteCluster, UpdateClusterConfig (the
//! authentication mode), DescribeUpdate, and the access-entry operations (Create, Describe,
//! Update, Delete, List entries; Associate, Disassociate, List associated policies; List
//! access policies), with EKS's error shapes. Counters and fault injection wrap every call.
//!
//! Request SigV4 signatures are NOT verified here (as with moto); the access key in the
//! Authorization header names the caller: its account decides which clusters it sees (a
//! cluster of another account is ResourceNotFound, ListClusters lists only its own; a key
//! eks-sim does not know is in the simulator's `--account-id`), and it is the creator of the
//! clusters it creates, in its account. Validation rules live in [`crate::access_entries`] and
//! [`crate::cluster`].

use axum::body::Bytes;
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use crate::access_entries::{ACCESS_POLICIES, NewEntry, POLICY_ARN_PREFIX};
use crate::cluster::{AuthMode, Cluster};
use crate::eks_error::EksError;
use crate::faults::{Api, FaultAction};
use crate::state::SimState;

/// The EKS API router (no admin routes).
pub fn app(state: SimState) -> Router {
    Router::new()
        .route("/clusters", post(create_cluster).get(list_clusters))
        .route(
            "/clusters/{name}",
            get(describe_cluster).delete(delete_cluster),
        )
        .route(
            "/clusters/{name}/update-config",
            post(update_cluster_config),
        )
        .route("/clusters/{name}/updates/{update_id}", get(describe_update))
        .route(
            "/clusters/{name}/access-entries",
            post(create_access_entry).get(list_access_entries),
        )
        .route(
            "/clusters/{name}/access-entries/{principal_arn}",
            get(describe_access_entry)
                .post(update_access_entry)
                .delete(delete_access_entry),
        )
        .route(
            "/clusters/{name}/access-entries/{principal_arn}/access-policies",
            post(associate_access_policy).get(list_associated_access_policies),
        )
        .route(
            "/clusters/{name}/access-entries/{principal_arn}/access-policies/{policy_arn}",
            axum::routing::delete(disassociate_access_policy),
        )
        .route("/access-policies", get(list_access_policies))
        .route_layer(middleware::from_fn_with_state(state.clone(), account_scope))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            faults_and_counters,
        ))
        .with_state(state)
}

/// The EKS operation name of a matched route.
pub fn operation(method: &Method, route: &str) -> &'static str {
    match (method.as_str(), route) {
        ("POST", "/clusters") => "CreateCluster",
        ("GET", "/clusters") => "ListClusters",
        ("GET", "/clusters/{name}") => "DescribeCluster",
        ("DELETE", "/clusters/{name}") => "DeleteCluster",
        ("POST", "/clusters/{name}/update-config") => "UpdateClusterConfig",
        ("GET", "/clusters/{name}/updates/{update_id}") => "DescribeUpdate",
        ("POST", "/clusters/{name}/access-entries") => "CreateAccessEntry",
        ("GET", "/clusters/{name}/access-entries") => "ListAccessEntries",
        ("GET", "/clusters/{name}/access-entries/{principal_arn}") => "DescribeAccessEntry",
        ("POST", "/clusters/{name}/access-entries/{principal_arn}") => "UpdateAccessEntry",
        ("DELETE", "/clusters/{name}/access-entries/{principal_arn}") => "DeleteAccessEntry",
        ("POST", "/clusters/{name}/access-entries/{principal_arn}/access-policies") => {
            "AssociateAccessPolicy"
        }
        ("GET", "/clusters/{name}/access-entries/{principal_arn}/access-policies") => {
            "ListAssociatedAccessPolicies"
        }
        (
            "DELETE",
            "/clusters/{name}/access-entries/{principal_arn}/access-policies/{policy_arn}",
        ) => "DisassociateAccessPolicy",
        ("GET", "/access-policies") => "ListAccessPolicies",
        _ => "Unknown",
    }
}

async fn faults_and_counters(State(state): State<SimState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let op = operation(req.method(), &route);
    state.counters.record(Api::Eks, None, op);
    let decision = state.faults.decide(Api::Eks, None, op);
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    match decision.action {
        FaultAction::None => next.run(req).await,
        FaultAction::Rejected => EksError::invalid_parameter("injected fault").into_response(),
        FaultAction::Conflict => EksError::in_use("injected fault").into_response(),
        FaultAction::Throttle => EksError::throttling().into_response(),
        FaultAction::ServerError => EksError::server("injected fault").into_response(),
        FaultAction::Unavailable => EksError::unavailable("injected fault").into_response(),
        FaultAction::Drop => crate::faults::drop_connection(),
    }
}

/// The account of an EKS caller (see the module doc), for the handlers.
#[derive(Debug, Clone)]
struct CallerAccount(String);

/// The access key of a SigV4 `Authorization` header, and the `X-Amz-Security-Token`.
fn signing_key(headers: &HeaderMap) -> (Option<String>, Option<String>) {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|cred| cred.split('/').next())
        .map(str::to_owned);
    let token = headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (key, token)
}

/// Learns the caller's account; a cluster of another account does not exist for it.
async fn account_scope(State(state): State<SimState>, mut req: Request, next: Next) -> Response {
    let (key, token) = signing_key(req.headers());
    let account = state.caller_account(key.as_deref(), token.as_deref()).await;
    let named = req
        .uri()
        .path()
        .strip_prefix("/clusters/")
        .and_then(|rest| rest.split('/').next())
        .map(str::to_owned);
    if let Some(name) = named {
        let elsewhere = state
            .world()
            .clusters
            .get(&name)
            .is_some_and(|c| c.account_id != account);
        if elsewhere {
            return EksError::cluster_not_found(&name).into_response();
        }
    }
    req.extensions_mut().insert(CallerAccount(account));
    next.run(req).await
}

type Params = std::collections::HashMap<String, String>;
type EksResult = Result<Json<Value>, EksError>;

fn body_json(body: &Bytes) -> Result<Value, EksError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| EksError::invalid_parameter(format!("request body is not valid JSON: {e}")))
}

/// One page of `items`: `maxResults` (1..=max) and an opaque `nextToken`.
fn paginate<T: Clone>(
    items: &[T],
    params: &Params,
    max: usize,
) -> Result<(Vec<T>, Option<String>), EksError> {
    let size = match params.get("maxResults") {
        None => max,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                return Err(EksError::invalid_parameter(format!(
                    "maxResults must be between 1 and {max}"
                )));
            }
        },
    };
    let start = match params.get("nextToken") {
        None => 0,
        Some(t) => t
            .strip_prefix("page-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| EksError::invalid_parameter("The nextToken is invalid."))?,
    };
    let end = (start + size).min(items.len());
    let next = (end < items.len()).then(|| format!("page-{end}"));
    Ok((items[start..end].to_vec(), next))
}

/// The principal that signed an EKS request (by access key), if known (registered, or
/// temporary credentials STS knows).
async fn caller_arn(state: &SimState, headers: &HeaderMap) -> Option<String> {
    let (key, token) = signing_key(headers);
    state.caller_of(&key?, token.as_deref()).await
}

fn is_valid_cluster_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn create_cluster(
    State(state): State<SimState>,
    Extension(CallerAccount(account)): Extension<CallerAccount>,
    headers: HeaderMap,
    body: Bytes,
) -> EksResult {
    let req = body_json(&body)?;
    let name = req["name"].as_str().unwrap_or_default().to_owned();
    if !is_valid_cluster_name(&name) {
        return Err(EksError::invalid_parameter(format!(
            "The cluster name {name:?} is invalid: 1-100 characters, a letter or digit first, then letters, digits, hyphens and underscores."
        )));
    }
    let role_arn = req["roleArn"]
        .as_str()
        .ok_or_else(|| EksError::invalid_parameter("roleArn is required."))?
        .to_owned();
    let mode = match req["accessConfig"]["authenticationMode"].as_str() {
        None => AuthMode::ConfigMap,
        Some(m) => AuthMode::parse(m).ok_or_else(|| {
            EksError::invalid_parameter(format!("Unsupported authentication mode {m}"))
        })?,
    };
    let bootstrap = req["accessConfig"]["bootstrapClusterCreatorAdminPermissions"]
        .as_bool()
        .unwrap_or(true);
    let version = req["version"]
        .as_str()
        .unwrap_or(&state.kubernetes_version)
        .to_owned();
    let creator = caller_arn(&state, &headers).await;
    let serial = {
        let mut w = state.world();
        if let Some(existing) = w.clusters.get(&name) {
            let message = if existing.account_id == account {
                format!("Cluster already exists with name: {name}")
            } else {
                format!(
                    "Cluster already exists with name: {name} (in account {}: eks-sim keeps cluster names unique across accounts)",
                    existing.account_id
                )
            };
            return Err(EksError::in_use(message).for_cluster(&name));
        }
        w.serial += 1;
        w.serial
    };
    let mut cluster = Cluster::new(
        &name,
        &state.region,
        &account,
        &version,
        &role_arn,
        mode,
        bootstrap,
        creator,
        serial,
    );
    if let Some(tags) = req.get("tags").filter(|t| t.is_object()) {
        cluster.tags = tags.clone();
    }
    crate::server::start_cluster(&state, cluster)
        .await
        .map_err(|e| match e {
            crate::server::ServerError::DuplicateCluster(n) => {
                EksError::in_use(format!("Cluster already exists with name: {n}")).for_cluster(&n)
            }
            other => EksError::server(other.to_string()),
        })?;
    describe(&state, &name)
}

fn describe(state: &SimState, name: &str) -> EksResult {
    let world = state.world();
    let c = world
        .clusters
        .get(name)
        .ok_or_else(|| EksError::cluster_not_found(name))?;
    Ok(Json(json!({"cluster": c.to_json(&state.tls.ca_data())})))
}

async fn list_clusters(
    State(state): State<SimState>,
    Extension(CallerAccount(account)): Extension<CallerAccount>,
    Query(params): Query<Params>,
) -> EksResult {
    let names: Vec<String> = state
        .world()
        .clusters
        .values()
        .filter(|c| c.account_id == account)
        .map(|c| c.name.clone())
        .collect();
    let (page, next) = paginate(&names, &params, 100)?;
    Ok(Json(json!({"clusters": page, "nextToken": next})))
}

async fn describe_cluster(State(state): State<SimState>, Path(name): Path<String>) -> EksResult {
    describe(&state, &name)
}

async fn delete_cluster(State(state): State<SimState>, Path(name): Path<String>) -> EksResult {
    let resp = describe(&state, &name)?;
    state.world().clusters.remove(&name);
    let mut v = resp.0;
    v["cluster"]["status"] = json!("DELETING");
    Ok(Json(v))
}

/// Runs `f` on a cluster under the world lock; 404 if it does not exist.
fn with_cluster<T>(
    state: &SimState,
    name: &str,
    f: impl FnOnce(&mut Cluster) -> Result<T, EksError>,
) -> Result<T, EksError> {
    let mut world = state.world();
    let c = world
        .clusters
        .get_mut(name)
        .ok_or_else(|| EksError::cluster_not_found(name))?;
    f(c)
}

/// Like [`with_cluster`], for access-entry calls: the mode must allow access entries.
fn with_api_cluster<T>(
    state: &SimState,
    name: &str,
    f: impl FnOnce(&mut Cluster) -> Result<T, EksError>,
) -> Result<T, EksError> {
    with_cluster(state, name, |c| {
        if !c.auth_mode.uses_access_entries() {
            return Err(EksError::invalid_request(
                "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.",
            )
            .for_cluster(name));
        }
        f(c)
    })
}

async fn update_cluster_config(
    State(state): State<SimState>,
    Path(name): Path<String>,
    body: Bytes,
) -> EksResult {
    let req = body_json(&body)?;
    with_cluster(&state, &name, |c| {
        let Some(mode) = req["accessConfig"]["authenticationMode"].as_str() else {
            return Err(EksError::invalid_parameter(
                "eks-sim supports only accessConfig.authenticationMode updates.",
            )
            .for_cluster(&name));
        };
        let to = AuthMode::parse(mode).ok_or_else(|| {
            EksError::invalid_parameter(format!("Unsupported authentication mode {mode}"))
        })?;
        c.change_auth_mode(to).map(|u| Json(json!({"update": u})))
    })
}

async fn describe_update(
    State(state): State<SimState>,
    Path((name, update_id)): Path<(String, String)>,
) -> EksResult {
    with_cluster(&state, &name, |c| {
        c.updates
            .iter()
            .find(|u| u["id"] == update_id.as_str())
            .map(|u| Json(json!({"update": u})))
            .ok_or_else(|| EksError::not_found(format!("No update found for ID: {update_id}")))
    })
}

async fn create_access_entry(
    State(state): State<SimState>,
    Path(name): Path<String>,
    body: Bytes,
) -> EksResult {
    let req = body_json(&body)?;
    with_api_cluster(&state, &name, |c| {
        let (new, principal) = NewEntry::from_request(&req, &c.account_id)?;
        let entry = c
            .access_entries
            .create(new, principal, &name, &c.region, &c.account_id)?;
        Ok(Json(json!({"accessEntry": entry.to_json(&name)})))
    })
}

async fn list_access_entries(
    State(state): State<SimState>,
    Path(name): Path<String>,
    Query(params): Query<Params>,
) -> EksResult {
    with_api_cluster(&state, &name, |c| {
        let arns: Vec<String> = c
            .access_entries
            .all()
            .iter()
            .filter(|e| {
                params
                    .get("associatedPolicyArn")
                    .is_none_or(|p| e.policies.iter().any(|a| &a.policy_arn == p))
            })
            .map(|e| e.principal_arn.clone())
            .collect();
        let (page, next) = paginate(&arns, &params, 100)?;
        Ok(Json(json!({"accessEntries": page, "nextToken": next})))
    })
}

async fn describe_access_entry(
    State(state): State<SimState>,
    Path((name, principal)): Path<(String, String)>,
) -> EksResult {
    with_api_cluster(&state, &name, |c| {
        let e = c.access_entries.get(&principal)?;
        Ok(Json(json!({"accessEntry": e.to_json(&name)})))
    })
}

async fn update_access_entry(
    State(state): State<SimState>,
    Path((name, principal)): Path<(String, String)>,
    body: Bytes,
) -> EksResult {
    let req = body_json(&body)?;
    with_api_cluster(&state, &name, |c| {
        let e = c.access_entries.update(&principal, &req)?;
        Ok(Json(json!({"accessEntry": e.to_json(&name)})))
    })
}

async fn delete_access_entry(
    State(state): State<SimState>,
    Path((name, principal)): Path<(String, String)>,
) -> EksResult {
    with_api_cluster(&state, &name, |c| {
        c.access_entries.delete(&principal)?;
        Ok(Json(json!({})))
    })
}

async fn associate_access_policy(
    State(state): State<SimState>,
    Path((name, principal)): Path<(String, String)>,
    body: Bytes,
) -> EksResult {
    let req = body_json(&body)?;
    with_api_cluster(&state, &name, |c| {
        let p = c.access_entries.associate(&principal, &req)?;
        let principal_arn = c.access_entries.get(&principal)?.principal_arn.clone();
        Ok(Json(json!({
            "clusterName": name,
            "principalArn": principal_arn,
            "associatedAccessPolicy": p.to_json(),
        })))
    })
}

async fn list_associated_access_policies(
    State(state): State<SimState>,
    Path((name, principal)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> EksResult {
    with_api_cluster(&state, &name, |c| {
        let e = c.access_entries.get(&principal)?;
        let all: Vec<Value> = e.policies.iter().map(|p| p.to_json()).collect();
        let (page, next) = paginate(&all, &params, 100)?;
        Ok(Json(json!({
            "clusterName": name,
            "principalArn": e.principal_arn,
            "associatedAccessPolicies": page,
            "nextToken": next,
        })))
    })
}

async fn disassociate_access_policy(
    State(state): State<SimState>,
    Path((name, principal, policy)): Path<(String, String, String)>,
) -> EksResult {
    with_api_cluster(&state, &name, |c| {
        c.access_entries.disassociate(&principal, &policy)?;
        Ok(Json(json!({})))
    })
}

async fn list_access_policies(Query(params): Query<Params>) -> EksResult {
    let all: Vec<Value> = ACCESS_POLICIES
        .iter()
        .map(|n| json!({"name": n, "arn": format!("{POLICY_ARN_PREFIX}{n}")}))
        .collect();
    let (page, next) = paginate(&all, &params, 100)?;
    Ok(Json(json!({"accessPolicies": page, "nextToken": next})))
}
