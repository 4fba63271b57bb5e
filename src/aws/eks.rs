//! EKS DescribeCluster, cached while the Lambda is warm, and one EKS client per (region, role).
//!
//! [`EksClusters`] turns a configured [`Cluster`] into a [`ClusterInfo`]: the API endpoint,
//! the CA to trust (decoded and checked here, so a bad CA is [`EksError::BadCertificate`]
//! naming the cluster instead of a TLS error later) and the authentication mode that picks
//! the backend. Results are cached by (region, assume-role ARN, name), and each caller says
//! how old an answer it accepts ([`EksClusters::describe`]'s `max_age`; the reconciler takes
//! none, see [`crate::reconcile`]); [`EksClusters::forget`] drops one after a TLS or auth
//! failure. Only usable clusters (`ACTIVE`, `UPDATING`, valid CA) are cached; two first
//! describes of the same cluster racing each other may both call DescribeCluster (the answer
//! is the same). A described authentication mode that differs from the last one this value
//! saw is handed back once, in [`ClusterInfo::previous_mode`].
//!
//! Clients are derived from one base `SdkConfig` (loaded by aws-config, so endpoint overrides
//! such as `AWS_ENDPOINT_URL_EKS` stay in force) with the cluster's region, and, for a
//! cross-account cluster, credentials from STS AssumeRole made with the base credentials,
//! through the same configuration (so `AWS_ENDPOINT_URL_STS` applies too) and with
//! [`crate::token_source::session_name`], as the token source does. This module does not
//! mint tokens or talk to Kubernetes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use aws_config::Region;
use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_eks::types::{AuthenticationMode as SdkAuthenticationMode, ClusterStatus};
use base64::Engine as _;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::sync::OnceCell;

use super::{Failure, classify};
use crate::core::settings::Cluster;

pub use crate::core::effective::AuthenticationMode;

/// What the reconciler needs to reach one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    pub name: String,
    pub arn: String,
    /// `https://...eks.amazonaws.com`.
    pub endpoint: String,
    /// The cluster CA bundle as PEM text (decoded from `certificateAuthority.data`); it holds
    /// at least one well-formed CERTIFICATE block.
    pub ca_pem: Vec<u8>,
    pub authentication_mode: AuthenticationMode,
    /// The mode this process saw last time, when it differs from `authentication_mode`
    /// (reported once, by the describe that found the change).
    pub previous_mode: Option<AuthenticationMode>,
    /// `ACTIVE` or `UPDATING` (a cluster being updated still serves its API).
    pub status: String,
}

impl ClusterInfo {
    /// The CA certificates in DER form (what `kube::Config::root_cert` takes).
    pub fn ca_der(&self) -> Vec<Vec<u8>> {
        CertificateDer::pem_slice_iter(&self.ca_pem)
            .filter_map(Result::ok)
            .map(|der| der.to_vec())
            .collect()
    }
}

/// A failed DescribeCluster, or a cluster that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EksError {
    #[error("EKS cluster {cluster} does not exist in {region} (for the identity used)")]
    NotFound { cluster: String, region: String },
    #[error("EKS cluster {cluster} is {status}, not ACTIVE")]
    NotActive { cluster: String, status: String },
    #[error("EKS cluster {cluster} has an unusable certificate authority: {why}")]
    BadCertificate { cluster: String, why: String },
    #[error("EKS DescribeCluster for {cluster} in {region} returned no {field}")]
    MissingField {
        cluster: String,
        region: String,
        field: &'static str,
    },
    #[error(
        "EKS cluster {cluster} has authentication mode {mode}, which this version does not know"
    )]
    UnknownAuthenticationMode { cluster: String, mode: String },
    #[error(
        "EKS {operation} for {cluster} in {region} was throttled and the SDK's retries ran out: {message}"
    )]
    Throttled {
        operation: &'static str,
        cluster: String,
        region: String,
        message: String,
    },
    #[error("EKS {operation} for {cluster} in {region} was denied: {message}")]
    AccessDenied {
        operation: &'static str,
        cluster: String,
        region: String,
        message: String,
    },
    #[error(
        "EKS {operation} for {cluster} in {region} failed (timeout, connection or service error): {message}"
    )]
    Unavailable {
        operation: &'static str,
        cluster: String,
        region: String,
        message: String,
    },
    #[error("EKS {operation} for {cluster} in {region} failed: {message}")]
    Api {
        operation: &'static str,
        cluster: String,
        region: String,
        message: String,
    },
}

impl EksError {
    /// Whether the same call may succeed later: throttling, passing failures, and a cluster
    /// still being created.
    pub fn is_retryable(&self) -> bool {
        match self {
            EksError::Throttled { .. } | EksError::Unavailable { .. } => true,
            EksError::NotActive { status, .. } => status == "CREATING" || status == "PENDING",
            _ => false,
        }
    }

    /// The cluster the error is about.
    pub fn cluster(&self) -> &str {
        match self {
            EksError::NotFound { cluster, .. }
            | EksError::NotActive { cluster, .. }
            | EksError::BadCertificate { cluster, .. }
            | EksError::MissingField { cluster, .. }
            | EksError::UnknownAuthenticationMode { cluster, .. }
            | EksError::Throttled { cluster, .. }
            | EksError::AccessDenied { cluster, .. }
            | EksError::Unavailable { cluster, .. }
            | EksError::Api { cluster, .. } => cluster,
        }
    }
}

/// (region, assume-role ARN): one client each.
type ClientKey = (String, Option<String>);
/// (region, assume-role ARN, cluster name): one cached description each.
type CacheKey = (String, Option<String>, String);

#[derive(Debug, Clone)]
struct Route {
    client: aws_sdk_eks::Client,
    credentials: Option<SharedCredentialsProvider>,
}

#[derive(Debug)]
struct Inner {
    /// For STS AssumeRole (its credentials, endpoint overrides, retry config).
    base: SdkConfig,
    /// What every EKS client starts from.
    eks: aws_sdk_eks::Config,
    routes: Mutex<HashMap<ClientKey, Route>>,
    cache: Mutex<HashMap<CacheKey, (Instant, ClusterInfo)>>,
    /// The last authentication mode seen per cluster (kept by [`EksClusters::forget`]).
    modes: Mutex<HashMap<CacheKey, AuthenticationMode>>,
    calls: AtomicU64,
}

/// DescribeCluster with a warm cache, and the EKS clients per (region, role).
/// Cheap to clone; clones share clients, cache and counter.
#[derive(Debug, Clone)]
pub struct EksClusters {
    inner: Arc<Inner>,
}

impl EksClusters {
    /// `base` is the configuration loaded by aws-config (its region is only a default; each
    /// cluster's own region is used).
    pub fn new(base: SdkConfig) -> Self {
        let eks = aws_sdk_eks::Config::new(&base);
        EksClusters::with_eks_config(base, eks)
    }

    /// Like [`EksClusters::new`], with the EKS clients derived from `eks` instead of from
    /// `base` (tests pass a mocked client's config; `base` still serves STS AssumeRole).
    pub fn with_eks_config(base: SdkConfig, eks: aws_sdk_eks::Config) -> Self {
        EksClusters {
            inner: Arc::new(Inner {
                base,
                eks,
                routes: Mutex::new(HashMap::new()),
                cache: Mutex::new(HashMap::new()),
                modes: Mutex::new(HashMap::new()),
                calls: AtomicU64::new(0),
            }),
        }
    }

    /// DescribeCluster calls made so far (cache hits make none).
    pub fn calls(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    /// DescribeCluster through the cluster's region and (optional) role; an answer cached by
    /// (region, role, name) is used when it is at most `max_age` old (`Duration::ZERO`: always
    /// ask EKS). Only usable clusters are cached; errors are not.
    ///
    /// # Errors
    /// [`EksError::NotFound`], [`EksError::NotActive`], [`EksError::BadCertificate`], and the
    /// API failures, each naming the cluster and region.
    pub async fn describe(
        &self,
        cluster: &Cluster,
        max_age: Duration,
    ) -> Result<ClusterInfo, EksError> {
        let key = cache_key(cluster);
        if let Some((at, hit)) = lock(&self.inner.cache).get(&key)
            && !max_age.is_zero()
            && at.elapsed() <= max_age
        {
            return Ok(ClusterInfo {
                previous_mode: None,
                ..hit.clone()
            });
        }
        let client = self.client_for(cluster);
        self.inner.calls.fetch_add(1, Ordering::Relaxed);
        let output = client
            .describe_cluster()
            .name(&cluster.name)
            .send()
            .await
            .map_err(|err| {
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception())
                {
                    return EksError::NotFound {
                        cluster: cluster.name.clone(),
                        region: cluster.region.clone(),
                    };
                }
                api_error("DescribeCluster", cluster, classify(&err))
            })?;
        let described = output.cluster().ok_or_else(|| EksError::MissingField {
            cluster: cluster.name.clone(),
            region: cluster.region.clone(),
            field: "cluster",
        })?;
        let mut info = cluster_info(cluster, described)?;
        let seen = lock(&self.inner.modes).insert(key.clone(), info.authentication_mode);
        info.previous_mode = seen.filter(|mode| *mode != info.authentication_mode);
        lock(&self.inner.cache).insert(key, (Instant::now(), info.clone()));
        Ok(info)
    }

    /// Drop a cached entry (after a TLS/auth failure the endpoint or CA may have changed).
    pub fn forget(&self, cluster: &Cluster) {
        lock(&self.inner.cache).remove(&cache_key(cluster));
    }

    /// The aws_sdk_eks::Client for a cluster (the access-entries backend uses it): the
    /// cluster's region, the base endpoint overrides, the role's credentials.
    pub fn client_for(&self, cluster: &Cluster) -> aws_sdk_eks::Client {
        self.route(cluster).client
    }

    /// The credentials the cluster's client signs with: for a cluster with a role, a provider
    /// that calls STS AssumeRole through the base configuration in the cluster's region each
    /// time it is asked (callers cache: the EKS client's identity cache, and `TokenSource`
    /// keeps credentials until near expiry); otherwise the base chain's. Hand it to
    /// [`crate::token_source::TokenSource::from_provider`] so tokens and EKS calls share one
    /// identity. `None` only when the base config has no credentials provider.
    pub fn credentials_for(&self, cluster: &Cluster) -> Option<SharedCredentialsProvider> {
        self.route(cluster).credentials
    }

    fn route(&self, cluster: &Cluster) -> Route {
        let key: ClientKey = (cluster.region.clone(), role_of(cluster));
        lock(&self.inner.routes)
            .entry(key)
            .or_insert_with_key(|(region, role)| build_route(&self.inner, region, role))
            .clone()
    }
}

/// The cluster's region on top of the base EKS config (which keeps its endpoint override),
/// and for a role, credentials assumed through the base config in that region (so a China or
/// GovCloud cluster's role is assumed in its own partition).
fn build_route(inner: &Inner, region: &str, role: &Option<String>) -> Route {
    let region = Region::new(region.to_owned());
    let builder = inner.eks.to_builder().region(region.clone());
    let (builder, credentials) = match role {
        None => (builder, inner.base.credentials_provider()),
        Some(role_arn) => {
            let assumed = SharedCredentialsProvider::new(AssumedRole {
                role_arn: role_arn.clone(),
                via: inner.base.to_builder().region(region).build(),
                provider: OnceCell::new(),
            });
            (builder.credentials_provider(assumed.clone()), Some(assumed))
        }
    };
    Route {
        client: aws_sdk_eks::Client::from_conf(builder.build()),
        credentials,
    }
}

/// Credentials of `role_arn`, assumed (lazily, refreshed as they expire) with the credentials
/// of `via` through its STS endpoint; also what the IAM client uses for `iam.assumeRoleArn`.
pub fn assumed_role_credentials(role_arn: &str, via: SdkConfig) -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(AssumedRole {
        role_arn: role_arn.to_owned(),
        via,
        provider: OnceCell::new(),
    })
}

/// Credentials of `role_arn`, assumed with the credentials of `via` through its STS endpoint.
/// aws-config's provider is built on first use (its constructor is async).
#[derive(Debug)]
struct AssumedRole {
    role_arn: String,
    via: SdkConfig,
    provider: OnceCell<AssumeRoleProvider>,
}

impl ProvideCredentials for AssumedRole {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            let provider = self
                .provider
                .get_or_init(|| {
                    AssumeRoleProvider::builder(self.role_arn.clone())
                        .session_name(crate::token_source::session_name(SystemTime::now()))
                        .configure(&self.via)
                        .build()
                })
                .await;
            tracing::debug!(role_arn = %self.role_arn, "assuming role for EKS API calls");
            provider.provide_credentials().await
        })
    }
}

fn role_of(cluster: &Cluster) -> Option<String> {
    cluster.assume_role_arn.as_ref().map(|arn| arn.to_string())
}

fn cache_key(cluster: &Cluster) -> CacheKey {
    (
        cluster.region.clone(),
        role_of(cluster),
        cluster.name.clone(),
    )
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn api_error(operation: &'static str, cluster: &Cluster, failure: Failure) -> EksError {
    let (name, region) = (cluster.name.clone(), cluster.region.clone());
    match failure {
        Failure::Throttled(message) => EksError::Throttled {
            operation,
            cluster: name,
            region,
            message,
        },
        Failure::Denied(message) => EksError::AccessDenied {
            operation,
            cluster: name,
            region,
            message,
        },
        Failure::Transient(message) => EksError::Unavailable {
            operation,
            cluster: name,
            region,
            message,
        },
        Failure::Other(message) => EksError::Api {
            operation,
            cluster: name,
            region,
            message,
        },
    }
}

/// Checks and converts one described cluster.
fn cluster_info(
    cluster: &Cluster,
    described: &aws_sdk_eks::types::Cluster,
) -> Result<ClusterInfo, EksError> {
    let missing = |field| EksError::MissingField {
        cluster: cluster.name.clone(),
        region: cluster.region.clone(),
        field,
    };
    let status = described.status().ok_or_else(|| missing("status"))?;
    if !matches!(status, ClusterStatus::Active | ClusterStatus::Updating) {
        return Err(EksError::NotActive {
            cluster: cluster.name.clone(),
            status: status.as_str().to_owned(),
        });
    }
    let arn = described.arn().ok_or_else(|| missing("arn"))?;
    let endpoint = described
        .endpoint()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| missing("endpoint"))?;
    let authentication_mode = match described
        .access_config()
        .and_then(|access| access.authentication_mode())
    {
        None | Some(SdkAuthenticationMode::ConfigMap) => AuthenticationMode::ConfigMap,
        Some(SdkAuthenticationMode::ApiAndConfigMap) => AuthenticationMode::ApiAndConfigMap,
        Some(SdkAuthenticationMode::Api) => AuthenticationMode::Api,
        Some(other) => {
            return Err(EksError::UnknownAuthenticationMode {
                cluster: cluster.name.clone(),
                mode: other.as_str().to_owned(),
            });
        }
    };
    let data = described
        .certificate_authority()
        .and_then(|ca| ca.data())
        .unwrap_or_default();
    let ca_pem = decode_ca(data).map_err(|why| EksError::BadCertificate {
        cluster: cluster.name.clone(),
        why,
    })?;
    Ok(ClusterInfo {
        name: described.name().unwrap_or(&cluster.name).to_owned(),
        arn: arn.to_owned(),
        endpoint: endpoint.to_owned(),
        ca_pem,
        authentication_mode,
        previous_mode: None,
        status: status.as_str().to_owned(),
    })
}

/// `certificateAuthority.data` (base64 of a PEM bundle) → the PEM, checked to hold at least
/// one CERTIFICATE block whose content is a DER SEQUENCE.
fn decode_ca(data: &str) -> Result<Vec<u8>, String> {
    let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return Err("certificateAuthority.data is missing or empty".to_owned());
    }
    let pem = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| format!("certificateAuthority.data is not base64: {e}"))?;
    let mut count = 0usize;
    for (i, cert) in CertificateDer::pem_slice_iter(&pem).enumerate() {
        let der = cert.map_err(|e| format!("certificate {} is not valid PEM: {e}", i + 1))?;
        if der.first() != Some(&0x30) || der.len() < 16 {
            return Err(format!("certificate {} is not a DER certificate", i + 1));
        }
        count += 1;
    }
    if count == 0 {
        return Err("the decoded data holds no PEM CERTIFICATE block".to_owned());
    }
    Ok(pem)
}
