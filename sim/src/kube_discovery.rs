//! Discovery for one simulated cluster: `/version`, health, `/api`, `/apis`, `/api/v1`
//! and a minimal OpenAPI v3 (`/openapi/v3`, `/openapi/v3/api/v1`) that tells kubectl the
//! server validates fields itself, so `kubectl create/replace` need no client-side schema.
//!
//! Only what kubectl and kube-rs need for ConfigMaps; no other resource is advertised.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::kube_api::KubeCtx;

pub async fn version(State(ctx): State<KubeCtx>) -> Json<Value> {
    let v = &ctx.state.kubernetes_version;
    let (major, minor) = v.split_once('.').unwrap_or(("1", "31"));
    Json(json!({
        "major": major, "minor": minor,
        "gitVersion": format!("v{v}.0-eks-sim"),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean", "buildDate": "2024-01-01T00:00:00Z",
        "goVersion": "go1.22.0", "compiler": "gc", "platform": "linux/amd64",
    }))
}

pub async fn health() -> &'static str {
    "ok"
}

pub async fn api_versions(State(ctx): State<KubeCtx>) -> Json<Value> {
    let endpoint = ctx
        .state
        .world()
        .clusters
        .get(&*ctx.cluster)
        .map(|c| c.endpoint.trim_start_matches("https://").to_owned())
        .unwrap_or_default();
    Json(json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": endpoint}],
    }))
}

pub async fn api_groups() -> Json<Value> {
    Json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []}))
}

pub async fn api_resources() -> Json<Value> {
    Json(json!({
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [{
            "name": "configmaps",
            "singularName": "configmap",
            "namespaced": true,
            "kind": "ConfigMap",
            "verbs": ["create", "delete", "get", "list", "patch", "update"],
            "shortNames": ["cm"],
            "storageVersionHash": "qFsyl6wFWjQ=",
        }],
    }))
}

/// The OpenAPI v3 index: one group-version, core v1.
pub async fn openapi_v3_index() -> Json<Value> {
    Json(json!({"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=eks-sim"}}}))
}

/// Core v1 OpenAPI v3, reduced to the ConfigMap operations and their query parameters
/// (kubectl looks for `fieldValidation` on the PATCH operation).
pub async fn openapi_v3_core() -> Json<Value> {
    let gvk = json!({"group": "", "version": "v1", "kind": "ConfigMap"});
    let params = json!([
        {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
    ]);
    let op = |action: &str, id: &str| {
        json!({
            "operationId": id,
            "parameters": params,
            "responses": {"200": {"description": "OK"}},
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
        })
    };
    Json(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.31.0-eks-sim"},
        "paths": {
            "/api/v1/namespaces/{namespace}/configmaps": {
                "get": op("list", "listCoreV1NamespacedConfigMap"),
                "post": op("post", "createCoreV1NamespacedConfigMap"),
            },
            "/api/v1/namespaces/{namespace}/configmaps/{name}": {
                "get": op("get", "readCoreV1NamespacedConfigMap"),
                "put": op("put", "replaceCoreV1NamespacedConfigMap"),
                "patch": op("patch", "patchCoreV1NamespacedConfigMap"),
                "delete": op("delete", "deleteCoreV1NamespacedConfigMap"),
            },
        },
        "components": {"schemas": {}},
    }))
}

/// `GET /api/v1/namespaces/{ns}`: every namespace exists and is Active (kubectl asks after
/// a 404 to word its error).
pub async fn namespace(axum::extract::Path(ns): axum::extract::Path<String>) -> Json<Value> {
    Json(json!({
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": ns, "resourceVersion": "1", "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }))
}

/// `POST /apis/authentication.k8s.io/v1/selfsubjectreviews` (`kubectl auth whoami`): the
/// user the caller was mapped to, with the authenticator's `extra` fields.
pub async fn self_subject_review(
    axum::Extension(id): axum::Extension<crate::identity::Identity>,
) -> (axum::http::StatusCode, Json<Value>) {
    let mut groups = id.groups.clone();
    groups.push("system:authenticated".to_owned());
    (
        axum::http::StatusCode::CREATED,
        Json(json!({
            "kind": "SelfSubjectReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "status": {"userInfo": {
                "username": id.username,
                "groups": groups,
                "extra": {
                    "arn": [id.caller_arn],
                    "canonicalArn": [id.arn],
                    "accessKeyId": [id.access_key_id],
                },
            }},
        })),
    )
}
