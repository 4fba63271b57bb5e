//! Command-line flags of the `eks-sim` binary and their resolution into a [`SimConfig`]:
//! every problem is reported before anything listens.
//!
//! Running the simulator is [`crate::server`]'s job; this only parses and checks.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use thiserror::Error;

use crate::cluster::AuthMode;
use crate::credentials::{CredentialError, TestCredential};
use crate::faults::{FaultRule, FaultSpecError};
use crate::state::{ClusterSeed, SimConfig};

/// A local simulator of the Amazon EKS API and of EKS clusters' Kubernetes API, for tests.
///
/// Serves on 127.0.0.1 only:
///
/// * the EKS REST-JSON API and the admin API (`/_sim/...`) on one HTTP port
///   (AWS_ENDPOINT_URL_EKS=http://127.0.0.1:PORT);
///
/// * one HTTPS port per cluster with a Kubernetes API subset (ConfigMaps, discovery), its
///   certificate signed by a CA generated at start (DescribeCluster returns it).
///
/// Kubernetes callers authenticate with EKS bearer tokens (`aws eks get-token`), verified
/// against the credential table and mapped through the cluster's current aws-auth and
/// access entries. When ready, one JSON line goes to stdout:
/// {"eks_endpoint", "admin_endpoint", "region", "account_id", "clusters": {NAME: URL}}.
///
/// Admin API: GET /_sim/info, GET /_sim/ca.pem, GET|POST /_sim/credentials (body
/// {"access_key_id","secret_access_key","arn","session_token"?,"ec2_private_dns_name"?}
/// or a list), DELETE /_sim/credentials/AKID, GET|DELETE /_sim/counters,
/// GET|POST|DELETE /_sim/faults (body {"spec": "kube:update:409:count=1"} or
/// {"api","cluster"?,"verb"?,"action","count"?,"fraction"?,"latency_ms"?}),
/// GET /_sim/clusters/NAME/aws-auth (how the cluster reads its aws-auth).
#[derive(Debug, Parser)]
#[command(name = "eks-sim", version, about, long_about, max_term_width = 100)]
pub struct Args {
    /// Address of the EKS/admin HTTP listener (loopback only; port 0 picks a free port).
    #[arg(long, env = "EKS_SIM_LISTEN", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// AWS region of the simulated clusters (in cluster and access-entry ARNs). Tokens may
    /// name any regional STS host of the aws partition.
    #[arg(long, env = "EKS_SIM_REGION", default_value = "us-east-1")]
    pub region: String,

    /// AWS account id of the simulated clusters (moto's default is 123456789012).
    #[arg(long, env = "EKS_SIM_ACCOUNT_ID", default_value = "123456789012")]
    pub account_id: String,

    /// STS to ask who holds temporary credentials (access key + session token) that were not
    /// registered, e.g. moto's AssumeRole results: `http://127.0.0.1:PORT`. Their holder's
    /// account decides which clusters an EKS caller sees; a Kubernetes caller with such a
    /// token is that assumed role.
    #[arg(long, env = "EKS_SIM_STS_ENDPOINT", value_name = "URL")]
    pub sts_endpoint: Option<String>,

    /// Kubernetes version reported by /version and DescribeCluster.
    #[arg(long, default_value = "1.31")]
    pub kubernetes_version: String,

    /// A cluster to create at start: NAME or NAME:MODE with MODE CONFIG_MAP,
    /// API_AND_CONFIG_MAP (default) or API. Repeatable.
    #[arg(long = "cluster", value_name = "NAME[:MODE]")]
    pub clusters: Vec<String>,

    /// The creator of the --cluster clusters, as STS GetCallerIdentity returns it
    /// (arn:aws:iam::A:user/NAME or arn:aws:sts::A:assumed-role/ROLE/SESSION). The creator
    /// is a cluster admin: hidden in CONFIG_MAP mode, an access entry with
    /// AmazonEKSClusterAdminPolicy in the API modes.
    #[arg(long, value_name = "ARN")]
    pub cluster_creator: Option<String>,

    /// A test credential: ACCESS_KEY_ID:SECRET_ACCESS_KEY:PRINCIPAL_ARN. Repeatable.
    #[arg(long = "credential", value_name = "AKID:SECRET:ARN")]
    pub credentials: Vec<String>,

    /// A JSON file with a list of credentials (objects as for POST /_sim/credentials;
    /// use it for session tokens).
    #[arg(long, value_name = "FILE")]
    pub credentials_file: Option<PathBuf>,

    /// A fault rule: `API[/CLUSTER]:VERB:ACTION[:count=N][:fraction=F][:latency=MS]`.
    /// API kube|eks; VERB get|list|create|update|patch|delete|discovery (kube) or an EKS
    /// operation name, `*` for any; ACTION 400|409|429|500|503|drop|none. Repeatable.
    #[arg(long = "fault", value_name = "SPEC")]
    pub faults: Vec<String>,

    /// Write the CA certificate (PEM) here once generated.
    #[arg(long, value_name = "FILE")]
    pub ca_out: Option<PathBuf>,

    /// Write the ready JSON (the stdout line) here once every listener is up.
    #[arg(long, value_name = "FILE")]
    pub ready_file: Option<PathBuf>,

    /// Log filter (tracing-subscriber EnvFilter syntax) for the stderr log.
    #[arg(long, env = "EKS_SIM_LOG", default_value = "info")]
    pub log: String,
}

/// A flag that cannot be used.
#[derive(Debug, Error)]
pub enum CliError {
    #[error("--listen {0}: eks-sim listens on loopback only (use 127.0.0.1:PORT)")]
    NotLoopback(SocketAddr),
    #[error("--account-id {0:?}: must be 12 digits")]
    AccountId(String),
    #[error(
        "--cluster {0:?}: expected NAME or NAME:MODE with MODE CONFIG_MAP, API_AND_CONFIG_MAP or API"
    )]
    Cluster(String),
    #[error("--cluster {0:?} given twice")]
    DuplicateCluster(String),
    #[error("--cluster-creator: {0}")]
    Creator(#[source] crate::arn::ArnError),
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error("--credentials-file {path}: cannot read")]
    CredentialsFileRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--credentials-file {path}: not a JSON list of credentials")]
    CredentialsFileParse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Fault(#[from] FaultSpecError),
    #[error(transparent)]
    Sts(#[from] crate::sts::StsError),
}

fn valid_cluster_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Args {
    /// Resolves the flags; all checks happen here.
    pub fn resolve(&self) -> Result<SimConfig, CliError> {
        if !self.listen.ip().is_loopback() {
            return Err(CliError::NotLoopback(self.listen));
        }
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CliError::AccountId(self.account_id.clone()));
        }
        if let Some(endpoint) = &self.sts_endpoint {
            crate::sts::Sts::new(endpoint)?;
        }
        if let Some(c) = &self.cluster_creator {
            crate::arn::PrincipalArn::parse(c).map_err(CliError::Creator)?;
        }
        let mut clusters: Vec<ClusterSeed> = Vec::new();
        for spec in &self.clusters {
            let (name, mode) = match spec.split_once(':') {
                Some((n, m)) => (
                    n,
                    AuthMode::parse(m).ok_or_else(|| CliError::Cluster(spec.clone()))?,
                ),
                None => (spec.as_str(), AuthMode::ApiAndConfigMap),
            };
            if !valid_cluster_name(name) {
                return Err(CliError::Cluster(spec.clone()));
            }
            if clusters.iter().any(|c| c.name == name) {
                return Err(CliError::DuplicateCluster(name.to_owned()));
            }
            clusters.push(ClusterSeed {
                name: name.to_owned(),
                auth_mode: mode,
                creator_arn: self.cluster_creator.clone(),
            });
        }
        let mut credentials = self
            .credentials
            .iter()
            .map(|c| TestCredential::parse_flag(c))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(path) = &self.credentials_file {
            let text =
                std::fs::read_to_string(path).map_err(|source| CliError::CredentialsFileRead {
                    path: path.clone(),
                    source,
                })?;
            let list: Vec<TestCredential> =
                serde_json::from_str(&text).map_err(|source| CliError::CredentialsFileParse {
                    path: path.clone(),
                    source,
                })?;
            for c in &list {
                c.validate()?;
            }
            credentials.extend(list);
        }
        let faults = self
            .faults
            .iter()
            .map(|f| FaultRule::parse_spec(f))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SimConfig {
            listen: self.listen,
            region: self.region.clone(),
            account_id: self.account_id.clone(),
            kubernetes_version: self.kubernetes_version.clone(),
            credentials,
            clusters,
            faults,
            sts_endpoint: self.sts_endpoint.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(args: &[&str]) -> Result<SimConfig, CliError> {
        Args::try_parse_from(std::iter::once("eks-sim").chain(args.iter().copied()))
            .expect("flags parse")
            .resolve()
    }

    #[test]
    fn clusters_modes_and_credentials_resolve() {
        let c = resolve(&[
            "--cluster",
            "a",
            "--cluster",
            "b:API",
            "--credential",
            "AKIA1:s:arn:aws:iam::123456789012:user/admin",
            "--cluster-creator",
            "arn:aws:iam::123456789012:user/admin",
        ])
        .unwrap();
        assert_eq!(c.clusters[0].auth_mode, AuthMode::ApiAndConfigMap);
        assert_eq!(c.clusters[1].auth_mode, AuthMode::Api);
        assert_eq!(c.credentials.len(), 1);
    }

    #[test]
    fn bad_flags_are_refused_with_a_reason() {
        for args in [
            &["--listen", "0.0.0.0:0"][..],
            &["--cluster", "a:BOGUS"],
            &["--cluster", "a", "--cluster", "a"],
            &["--cluster=-bad"],
            &["--credential", "AKIA1:secret"],
            &["--fault", "kube:get:418"],
            &["--account-id", "12"],
            &["--cluster-creator", "bob"],
            &["--sts-endpoint", "https://127.0.0.1:5000"],
        ] {
            assert!(resolve(args).is_err(), "{args:?}");
        }
    }
}
