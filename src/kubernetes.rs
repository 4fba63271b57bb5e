//! The Kubernetes side: a client for a cluster reached from outside (endpoint and CA from
//! DescribeCluster, a bearer token we minted), and the reads and writes of `kube-system/aws-auth`.
//!
//! Writes are optimistic: a replace carries the `resourceVersion` that was read, so a
//! concurrent writer makes it fail with 409 Conflict instead of being overwritten; the
//! reconciler re-reads and re-plans. The object is replaced whole as it was read, with only
//! `data` and our ledger annotation changed, so labels, other annotations and `binaryData`
//! survive. Every call is counted for the run's summary.
//!
//! # One retry layer
//! kube's client retries 429, 503 and 504 on its own (kube-client 5.0.0
//! `src/client/builder.rs`: a tower `RetryLayer` with `RetryPolicy::server_retry()`, up to 15
//! retries, honouring `Retry-After`, whenever `Config::default_retry` is true, its default).
//! It is switched off here: the reconciler's retry (`reconcile::aws_auth`, at most
//! `WRITE_ATTEMPTS` read → plan → write attempts) is the only one, so every request sent is
//! counted (`kube_get`, `kube_put`, `kube_post` in the summary) and a busy API server cannot
//! hold a run for 15 backoffs per call.
//!
//! # Bounded time
//! The AWS clients' default limits apply here too: connecting (TCP and the TLS handshake)
//! is given up after [`CONNECT_TIMEOUT`], and a request whose answer stalls (no byte read or
//! written for [`ATTEMPT_TIMEOUT`]) fails as a transport error, which the reconciler's retry
//! counts like any other attempt.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, PostParams};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use secrecy::SecretString;

use crate::aws::timeouts::{ATTEMPT_TIMEOUT, CONNECT_TIMEOUT};
use crate::core::aws_auth::{ConfigMapData, LEDGER_ANNOTATION};

pub const AWS_AUTH_NAME: &str = "aws-auth";
pub const AWS_AUTH_NAMESPACE: &str = "kube-system";

/// A failed Kubernetes call, by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("the cluster endpoint `{endpoint}` is not a URL: {why}")]
    BadEndpoint { endpoint: String, why: String },
    #[error("the cluster CA is not a PEM certificate: {0}")]
    BadCertificate(String),
    #[error("cannot build a Kubernetes client: {0}")]
    Client(String),
    #[error("{verb} aws-auth: 409 Conflict (someone else wrote it since we read it)")]
    Conflict { verb: &'static str },
    #[error(
        "{verb} aws-auth: 401 Unauthorized — the cluster did not accept our token (is this identity mapped in aws-auth or an access entry?): {message}"
    )]
    Unauthorized { verb: &'static str, message: String },
    #[error(
        "{verb} aws-auth: 403 Forbidden — our identity may not {verb} ConfigMaps in kube-system: {message}"
    )]
    Forbidden { verb: &'static str, message: String },
    #[error("{verb} aws-auth: 422 Invalid: {message}")]
    Invalid { verb: &'static str, message: String },
    #[error("{verb} aws-auth: {code} {reason}: {message}")]
    Api {
        verb: &'static str,
        code: u16,
        reason: String,
        message: String,
    },
    #[error("{verb} aws-auth: {message}")]
    Transport { verb: &'static str, message: String },
}

impl KubeError {
    /// Worth retrying as is (the server was busy or the connection dropped).
    pub fn is_transient(&self) -> bool {
        match self {
            KubeError::Api { code, .. } => *code == 429 || *code >= 500,
            KubeError::Transport { .. } => true,
            _ => false,
        }
    }

    fn from_kube(verb: &'static str, error: kube::Error) -> KubeError {
        match error {
            kube::Error::Api(status) => {
                let message = status.message.clone();
                match status.code {
                    401 => KubeError::Unauthorized { verb, message },
                    403 => KubeError::Forbidden { verb, message },
                    409 => KubeError::Conflict { verb },
                    422 => KubeError::Invalid { verb, message },
                    code => KubeError::Api {
                        verb,
                        code,
                        reason: status.reason.clone(),
                        message,
                    },
                }
            }
            other => KubeError::Transport {
                verb,
                message: other.to_string(),
            },
        }
    }
}

/// Calls made to one cluster's Kubernetes API.
#[derive(Debug, Default)]
pub struct KubeCalls {
    pub get: AtomicU64,
    pub put: AtomicU64,
    pub post: AtomicU64,
}

impl KubeCalls {
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.get.load(Ordering::Relaxed),
            self.put.load(Ordering::Relaxed),
            self.post.load(Ordering::Relaxed),
        )
    }
}

/// aws-auth as read, with what is needed to write it back.
#[derive(Debug, Clone)]
pub struct StoredAwsAuth {
    pub object: ConfigMap,
    pub content: ConfigMapData,
}

/// Reads and writes `kube-system/aws-auth` in one cluster.
#[derive(Clone)]
pub struct AwsAuthStore {
    api: Api<ConfigMap>,
    calls: Arc<KubeCalls>,
}

impl std::fmt::Debug for AwsAuthStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsAuthStore")
            .field("calls", &self.calls)
            .finish_non_exhaustive()
    }
}

impl AwsAuthStore {
    /// Connects to a cluster from outside: HTTPS to `endpoint`, trusting only `ca_pem`,
    /// authenticating with `token`. Makes no request yet.
    pub fn connect(
        endpoint: &str,
        ca_pem: &[u8],
        token: &str,
        calls: Arc<KubeCalls>,
    ) -> Result<AwsAuthStore, KubeError> {
        let uri = endpoint
            .parse::<http::Uri>()
            .map_err(|e| KubeError::BadEndpoint {
                endpoint: endpoint.to_owned(),
                why: e.to_string(),
            })?;
        let roots: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(ca_pem)
            .map(|c| c.map(|der| der.to_vec()))
            .collect::<Result<_, _>>()
            .map_err(|e| KubeError::BadCertificate(e.to_string()))?;
        if roots.is_empty() {
            return Err(KubeError::BadCertificate(
                "no certificate in the PEM data".to_owned(),
            ));
        }
        let mut config = kube::Config::new(uri);
        config.default_namespace = AWS_AUTH_NAMESPACE.to_owned();
        config.root_cert = Some(roots);
        config.connect_timeout = Some(CONNECT_TIMEOUT);
        config.read_timeout = Some(ATTEMPT_TIMEOUT);
        config.write_timeout = Some(ATTEMPT_TIMEOUT);
        // The reconciler's retry is the only one (see the module doc).
        config.default_retry = false;
        config.auth_info.token = Some(SecretString::from(token.to_owned()));
        let client =
            kube::Client::try_from(config).map_err(|e| KubeError::Client(e.to_string()))?;
        Ok(AwsAuthStore {
            api: Api::namespaced(client, AWS_AUTH_NAMESPACE),
            calls,
        })
    }

    /// GET aws-auth; `None` when it does not exist.
    pub async fn get(&self) -> Result<Option<StoredAwsAuth>, KubeError> {
        self.calls.get.fetch_add(1, Ordering::Relaxed);
        match self.api.get_opt(AWS_AUTH_NAME).await {
            Ok(Some(object)) => {
                let content = content_of(&object);
                Ok(Some(StoredAwsAuth { object, content }))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(KubeError::from_kube("get", e)),
        }
    }

    /// PUT the object that was read with new content; fails with Conflict when it changed.
    pub async fn replace(
        &self,
        read: &StoredAwsAuth,
        content: &ConfigMapData,
        dry_run: bool,
    ) -> Result<(), KubeError> {
        let mut object = read.object.clone();
        apply_content(&mut object, content);
        self.calls.put.fetch_add(1, Ordering::Relaxed);
        let params = PostParams {
            dry_run,
            ..PostParams::default()
        };
        self.api
            .replace(AWS_AUTH_NAME, &params, &object)
            .await
            .map_err(|e| KubeError::from_kube("replace", e))?;
        Ok(())
    }

    /// POST a new aws-auth; fails with Conflict (409 AlreadyExists) when someone created it first.
    pub async fn create(&self, content: &ConfigMapData, dry_run: bool) -> Result<(), KubeError> {
        let mut object = ConfigMap {
            metadata: ObjectMeta {
                name: Some(AWS_AUTH_NAME.to_owned()),
                namespace: Some(AWS_AUTH_NAMESPACE.to_owned()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        };
        apply_content(&mut object, content);
        self.calls.post.fetch_add(1, Ordering::Relaxed);
        let params = PostParams {
            dry_run,
            ..PostParams::default()
        };
        self.api
            .create(&params, &object)
            .await
            .map_err(|e| KubeError::from_kube("create", e))?;
        Ok(())
    }
}

fn content_of(object: &ConfigMap) -> ConfigMapData {
    ConfigMapData {
        data: object.data.clone().unwrap_or_default(),
        annotations: object.metadata.annotations.clone().unwrap_or_default(),
    }
}

/// Sets `data` and our ledger annotation; other annotations are left as they were.
fn apply_content(object: &mut ConfigMap, content: &ConfigMapData) {
    object.data = Some(content.data.clone());
    let mut annotations: BTreeMap<String, String> =
        object.metadata.annotations.take().unwrap_or_default();
    match content.annotations.get(LEDGER_ANNOTATION) {
        Some(ledger) => annotations.insert(LEDGER_ANNOTATION.to_owned(), ledger.clone()),
        None => annotations.remove(LEDGER_ANNOTATION),
    };
    object.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_changes_only_data_and_the_ledger() {
        let mut object = ConfigMap {
            metadata: ObjectMeta {
                annotations: Some([("other".to_owned(), "kept".to_owned())].into()),
                labels: Some([("team".to_owned(), "platform".to_owned())].into()),
                ..ObjectMeta::default()
            },
            binary_data: Some(BTreeMap::new()),
            ..ConfigMap::default()
        };
        let content = ConfigMapData {
            data: [("mapRoles".to_owned(), "[]".to_owned())].into(),
            annotations: [
                (LEDGER_ANNOTATION.to_owned(), "{}".to_owned()),
                ("ignored".to_owned(), "x".to_owned()),
            ]
            .into(),
        };
        apply_content(&mut object, &content);
        let annotations = object.metadata.annotations.clone().unwrap();
        assert_eq!(annotations.get("other").map(String::as_str), Some("kept"));
        assert_eq!(
            annotations.get(LEDGER_ANNOTATION).map(String::as_str),
            Some("{}")
        );
        assert!(
            !annotations.contains_key("ignored"),
            "only the ledger annotation is ours to set"
        );
        assert!(object.metadata.labels.is_some() && object.binary_data.is_some());
        assert_eq!(object.data.unwrap()["mapRoles"], "[]");
    }

    #[test]
    fn a_bad_ca_is_reported_before_any_request() {
        let calls = Arc::new(KubeCalls::default());
        let err =
            AwsAuthStore::connect("https://127.0.0.1:1", b"not a pem", "t", calls).unwrap_err();
        assert!(matches!(err, KubeError::BadCertificate(_)), "{err}");
    }
}
