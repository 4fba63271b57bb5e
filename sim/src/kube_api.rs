//! The Kubernetes API of one simulated cluster (served over HTTPS by [`crate::server`]):
//! ConfigMaps in any namespace — get, list (label/field selectors), create, replace,
//! merge-patch, JSON patch, delete, `?dryRun=All`, `?fieldValidation=Strict` — plus the
//! discovery routes of [`crate::kube_discovery`]. Every request but `/version` and health
//! needs an EKS bearer token; the caller is mapped through the cluster's current aws-auth
//! and access entries; what it may do is [`crate::identity`]'s rule (admins everything, access
//! policies within their namespaces, groups anything outside kube-system). Counters and fault
//! injection wrap every request.
//!
//! Storage rules are [`crate::configmaps`]'s, identity rules [`crate::identity`]'s.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use crate::configmaps::Patch;
use crate::faults::{Api, FaultAction};
use crate::identity::{self, Identity};
use crate::kube_discovery;
use crate::kube_status::KubeError;
use crate::state::SimState;
use crate::token;

/// Handler context: the simulator and which cluster this router serves.
#[derive(Debug, Clone)]
pub struct KubeCtx {
    pub state: SimState,
    pub cluster: Arc<str>,
}

/// The router of cluster `cluster`.
pub fn app(state: SimState, cluster: &str) -> Router {
    let ctx = KubeCtx {
        state,
        cluster: Arc::from(cluster),
    };
    Router::new()
        .route("/version", get(kube_discovery::version))
        .route("/healthz", get(kube_discovery::health))
        .route("/livez", get(kube_discovery::health))
        .route("/readyz", get(kube_discovery::health))
        .route("/api", get(kube_discovery::api_versions))
        .route("/apis", get(kube_discovery::api_groups))
        .route("/api/v1", get(kube_discovery::api_resources))
        .route("/openapi/v3", get(kube_discovery::openapi_v3_index))
        .route("/openapi/v3/api/v1", get(kube_discovery::openapi_v3_core))
        .route("/api/v1/namespaces/{ns}", get(kube_discovery::namespace))
        .route(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            axum::routing::post(kube_discovery::self_subject_review),
        )
        .route("/api/v1/configmaps", get(list_all))
        .route(
            "/api/v1/namespaces/{ns}/configmaps",
            get(list_namespaced).post(create),
        )
        .route(
            "/api/v1/namespaces/{ns}/configmaps/{name}",
            get(get_one).put(replace).patch(patch).delete(delete),
        )
        .fallback(|| async { KubeError::path_not_found() })
        .layer(middleware::from_fn_with_state(ctx.clone(), authenticate))
        .layer(middleware::from_fn_with_state(
            ctx.clone(),
            faults_and_counters,
        ))
        .with_state(ctx)
}

/// The verb a request counts and is faulted as.
pub fn classify(method: &Method, path: &str) -> &'static str {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let is_item = segments.len() == 6 && segments[2] == "namespaces" && segments[4] == "configmaps";
    let is_collection =
        (segments.len() == 5 && segments[2] == "namespaces" && segments[4] == "configmaps")
            || (segments.len() == 3 && segments[2] == "configmaps");
    match (method.as_str(), is_item, is_collection) {
        ("GET", true, _) => "get",
        ("GET", _, true) => "list",
        ("POST", _, true) => "create",
        ("PUT", true, _) => "update",
        ("PATCH", true, _) => "patch",
        ("DELETE", true, _) => "delete",
        ("GET", _, _) => "discovery",
        ("POST", _, _) if path.ends_with("/selfsubjectreviews") => "whoami",
        _ => "other",
    }
}

async fn faults_and_counters(State(ctx): State<KubeCtx>, req: Request, next: Next) -> Response {
    if !ctx.state.world().clusters.contains_key(&*ctx.cluster) {
        // A deleted cluster's endpoint no longer answers.
        return crate::faults::drop_connection();
    }
    let verb = classify(req.method(), req.uri().path());
    ctx.state
        .counters
        .record(Api::Kube, Some(&ctx.cluster), verb);
    let decision = ctx.state.faults.decide(Api::Kube, Some(&ctx.cluster), verb);
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let name = req
        .uri()
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    match decision.action {
        FaultAction::None => next.run(req).await,
        FaultAction::Rejected => KubeError::bad_request("injected fault").into_response(),
        FaultAction::Conflict => KubeError::conflict(&name).into_response(),
        FaultAction::Throttle => KubeError::too_many_requests().into_response(),
        FaultAction::ServerError => KubeError::internal("injected fault").into_response(),
        FaultAction::Unavailable => KubeError::unavailable("injected fault").into_response(),
        FaultAction::Drop => crate::faults::drop_connection(),
    }
}

fn is_public(path: &str) -> bool {
    matches!(path, "/version" | "/healthz" | "/livez" | "/readyz")
}

/// Verifies the bearer token and maps the caller; 401 on any failure.
async fn authenticate(State(ctx): State<KubeCtx>, mut req: Request, next: Next) -> Response {
    if is_public(req.uri().path()) {
        return next.run(req).await;
    }
    match identify(&ctx, req.headers()).await {
        Ok(id) => {
            req.extensions_mut().insert(id);
            next.run(req).await
        }
        Err(reason) => {
            tracing::info!(cluster = %ctx.cluster, %reason, "401");
            KubeError::unauthorized().into_response()
        }
    }
}

/// The caller of a token: verified against the credential table, else, for temporary
/// credentials eks-sim was not given, the assumed role STS names ([`crate::sts`]).
async fn identify(ctx: &KubeCtx, headers: &HeaderMap) -> Result<Identity, String> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let tok = token::bearer_token(auth).map_err(|e| e.to_string())?;
    let now = jiff::Timestamp::now();
    let verified = token::verify(tok, &ctx.cluster, &ctx.state.world().credentials, now);
    let caller = match verified {
        Err(token::TokenError::UnknownAccessKey(key)) if ctx.state.sts.is_some() => {
            let (access_key_id, session) =
                token::unverified_credentials(tok, now).map_err(|e| e.to_string())?;
            let unknown = || token::TokenError::UnknownAccessKey(key.clone()).to_string();
            let arn = ctx
                .state
                .caller_of(
                    &access_key_id,
                    Some(session.as_deref().ok_or_else(unknown)?),
                )
                .await
                .ok_or_else(unknown)?;
            token::VerifiedCaller {
                access_key_id,
                arn,
                ec2_private_dns_name: None,
            }
        }
        other => other.map_err(|e| e.to_string())?,
    };
    let world = ctx.state.world();
    let cluster = world.clusters.get(&*ctx.cluster).ok_or("cluster deleted")?;
    identity::map(cluster, &caller).map_err(|e| e.to_string())
}

type Params = std::collections::HashMap<String, String>;

fn dry_run(params: &Params) -> Result<bool, KubeError> {
    match params.get("dryRun").map(String::as_str) {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(KubeError::bad_request(format!(
            "Invalid dry run value: {other:?}: supported values: \"All\""
        ))),
    }
}

/// `?fieldValidation=Strict` (kubectl's default): unknown top-level fields are refused.
fn strict_fields(params: &Params, obj: &Value) -> Result<(), KubeError> {
    if params.get("fieldValidation").map(String::as_str) != Some("Strict") {
        return Ok(());
    }
    const KNOWN: [&str; 6] = [
        "apiVersion",
        "kind",
        "metadata",
        "data",
        "binaryData",
        "immutable",
    ];
    if let Some(unknown) = obj
        .as_object()
        .and_then(|o| o.keys().find(|k| !KNOWN.contains(&k.as_str())))
    {
        return Err(KubeError::bad_request(format!(
            "strict decoding error: unknown field \"{unknown}\""
        )));
    }
    Ok(())
}

fn authorize(id: &Identity, verb: &str, ns: &str, name: Option<&str>) -> Result<(), KubeError> {
    if id.may_access_configmaps(verb, Some(ns)) {
        Ok(())
    } else {
        Err(KubeError::forbidden(&id.username, verb, ns, name))
    }
}

fn parse_body(body: &Bytes) -> Result<Value, KubeError> {
    serde_json::from_slice(body).map_err(|e| {
        KubeError::bad_request(format!(
            "the body of the request could not be decoded as JSON: {e}"
        ))
    })
}

/// Whether a label selector (`k=v`, `k==v`, `k!=v`, `k`, `!k`, comma-separated) matches.
fn labels_match(selector: &str, labels: &Value) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|req| {
        let label = |k: &str| labels.get(k.trim()).and_then(Value::as_str);
        if let Some((k, v)) = req.split_once("!=") {
            label(k) != Some(v.trim())
        } else if let Some((k, v)) = req.split_once("==").or_else(|| req.split_once('=')) {
            label(k) == Some(v.trim())
        } else if let Some(k) = req.strip_prefix('!') {
            label(k).is_none()
        } else {
            label(req).is_some()
        }
    })
}

fn fields_match(selector: &str, obj: &Value) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|req| {
        let (k, v, eq) = match req.split_once("!=") {
            Some((k, v)) => (k, v, false),
            None => match req.split_once("==").or_else(|| req.split_once('=')) {
                Some((k, v)) => (k, v, true),
                None => return false,
            },
        };
        let actual = match k {
            "metadata.name" => obj["metadata"]["name"].as_str(),
            "metadata.namespace" => obj["metadata"]["namespace"].as_str(),
            _ => return false,
        };
        (actual == Some(v)) == eq
    })
}

fn list(ctx: &KubeCtx, ns: Option<&str>, params: &Params) -> Result<Json<Value>, KubeError> {
    let world = ctx.state.world();
    let cluster = world
        .clusters
        .get(&*ctx.cluster)
        .ok_or_else(KubeError::path_not_found)?;
    let items: Vec<Value> = cluster
        .configmaps
        .list(ns)
        .into_iter()
        .filter(|o| {
            params
                .get("labelSelector")
                .is_none_or(|s| labels_match(s, &o["metadata"]["labels"]))
                && params
                    .get("fieldSelector")
                    .is_none_or(|s| fields_match(s, o))
        })
        .map(|mut o| {
            if let Some(m) = o.as_object_mut() {
                m.remove("kind");
                m.remove("apiVersion");
            }
            o
        })
        .collect();
    Ok(Json(json!({
        "kind": "ConfigMapList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": cluster.configmaps.revision().to_string()},
        "items": items,
    })))
}

async fn list_all(
    State(ctx): State<KubeCtx>,
    Extension(id): Extension<Identity>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, KubeError> {
    if !id.may_access_configmaps("list", None) {
        return Err(KubeError::forbidden(&id.username, "list", "", None));
    }
    list(&ctx, None, &params)
}

async fn list_namespaced(
    State(ctx): State<KubeCtx>,
    Extension(id): Extension<Identity>,
    Path(ns): Path<String>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, KubeError> {
    authorize(&id, "list", &ns, None)?;
    list(&ctx, Some(&ns), &params)
}

/// Runs `f` on the cluster's ConfigMap store under the world lock.
fn with_store<T>(
    ctx: &KubeCtx,
    f: impl FnOnce(&mut crate::configmaps::ConfigMapStore) -> Result<T, KubeError>,
) -> Result<T, KubeError> {
    let mut world = ctx.state.world();
    let cluster = world
        .clusters
        .get_mut(&*ctx.cluster)
        .ok_or_else(KubeError::path_not_found)?;
    f(&mut cluster.configmaps)
}

async fn get_one(
    State(ctx): State<KubeCtx>,
    Extension(id): Extension<Identity>,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Json<Value>, KubeError> {
    authorize(&id, "get", &ns, Some(&name))?;
    with_store(&ctx, |s| s.get(&ns, &name)).map(Json)
}

async fn create(
    State(ctx): State<KubeCtx>,
    Extension(id): Extension<Identity>,
    Path(ns): Path<String>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), KubeError> {
    let obj = parse_body(&body)?;
    let name = obj["metadata"]["name"].as_str().map(str::to_owned);
    authorize(&id, "create", &ns, name.as_deref())?;
    strict_fields(&params, &obj)?;
    let dry = dry_run(&params)?;
    with_store(&ctx, |s| s.create(&ns, obj, dry)).map(|o| (StatusCode::CREATED, Json(o)))
}

async fn replace(
    State(ctx): State<KubeCtx>,
    Extension(id): Extension<Identity>,
    Path((ns, name)): Path<(String, String)>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Json<Value>, KubeError> {
    authorize(&id, "update", &ns, Some(&name))?;
    let obj = parse_body(&body)?;
    strict_fields(&params, &obj)?;
    let dry = dry_run(&params)?;
    with_store(&ctx, |s| s.replace(&ns, &name, obj, dry)).map(Json)
}

async fn patch(
    State(ctx): State<KubeCtx>,
    Extension(id): Extension<Identity>,
    Path((ns, name)): Path<(String, String)>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, KubeError> {
    authorize(&id, "patch", &ns, Some(&name))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let patch = match media {
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            Patch::Merge(parse_body(&body)?)
        }
        "application/json-patch+json" => Patch::Json(parse_body(&body)?),
        _ => return Err(KubeError::unsupported_media_type(content_type)),
    };
    let dry = dry_run(&params)?;
    with_store(&ctx, |s| s.patch(&ns, &name, &patch, dry)).map(Json)
}

async fn delete(
    State(ctx): State<KubeCtx>,
    Extension(id): Extension<Identity>,
    Path((ns, name)): Path<(String, String)>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Json<Value>, KubeError> {
    authorize(&id, "delete", &ns, Some(&name))?;
    let options = if body.is_empty() {
        Value::Null
    } else {
        parse_body(&body)?
    };
    let mut dry = dry_run(&params)?;
    if let Some(arr) = options["dryRun"].as_array() {
        dry |= arr.iter().any(|v| v == "All");
    }
    let precondition = options["preconditions"]["resourceVersion"]
        .as_str()
        .map(str::to_owned);
    with_store(&ctx, |s| s.delete(&ns, &name, precondition.as_deref(), dry)).map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classified_by_verb() {
        let p = "/api/v1/namespaces/kube-system/configmaps";
        assert_eq!(classify(&Method::GET, p), "list");
        assert_eq!(classify(&Method::POST, p), "create");
        assert_eq!(classify(&Method::GET, &format!("{p}/aws-auth")), "get");
        assert_eq!(classify(&Method::PUT, &format!("{p}/aws-auth")), "update");
        assert_eq!(classify(&Method::PATCH, &format!("{p}/aws-auth")), "patch");
        assert_eq!(
            classify(&Method::DELETE, &format!("{p}/aws-auth")),
            "delete"
        );
        assert_eq!(classify(&Method::GET, "/api"), "discovery");
    }

    #[test]
    fn selectors_match_like_the_api_server() {
        let labels = json!({"app": "x", "tier": "y"});
        assert!(labels_match("app=x,tier", &labels));
        assert!(labels_match("app!=z,!missing", &labels));
        assert!(!labels_match("app=y", &labels));
        let obj = json!({"metadata": {"name": "aws-auth", "namespace": "kube-system"}});
        assert!(fields_match("metadata.name=aws-auth", &obj));
        assert!(!fields_match("metadata.name!=aws-auth", &obj));
    }
}
