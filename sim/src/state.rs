//! The simulator's shared state: settings, the clusters and the credential table (behind
//! one lock, never held across an await), fault rules, counters, TLS material, the STS that
//! says who holds unknown temporary credentials, and the shutdown signal.
//!
//! Clusters live in accounts (many accounts, as in an AWS Organization): each cluster has
//! its account, and an EKS caller sees only its own account's clusters ([`Shared::caller_account`]).
//! Names stay unique across accounts in one simulator (a second account's cluster needs
//! another name).
//!
//! It holds data; request handling lives in the API modules.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::cluster::{AuthMode, Cluster};
use crate::credentials::{Credentials, TestCredential};
use crate::faults::{Counters, FaultRule, Faults};
use crate::sts::{Sts, StsError};
use crate::tls::TlsMaterial;

/// A cluster to create at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSeed {
    pub name: String,
    pub auth_mode: AuthMode,
    /// The cluster creator's STS caller ARN (an admin, as on a new EKS cluster).
    pub creator_arn: Option<String>,
}

/// Everything the simulator starts from (resolved flags).
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The EKS/admin HTTP address (loopback only; port 0 picks a free port).
    pub listen: SocketAddr,
    pub region: String,
    pub account_id: String,
    pub kubernetes_version: String,
    pub credentials: Vec<TestCredential>,
    pub clusters: Vec<ClusterSeed>,
    pub faults: Vec<FaultRule>,
    /// Where to ask who holds temporary credentials that were not registered (moto):
    /// `http://127.0.0.1:PORT`. None: such callers are in `account_id` (EKS) or refused (tokens).
    pub sts_endpoint: Option<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            region: "us-east-1".to_owned(),
            account_id: "123456789012".to_owned(),
            kubernetes_version: "1.31".to_owned(),
            credentials: Vec::new(),
            clusters: Vec::new(),
            faults: Vec::new(),
            sts_endpoint: None,
        }
    }
}

/// Mutable world: clusters and credentials.
#[derive(Debug, Default)]
pub struct World {
    pub clusters: BTreeMap<String, Cluster>,
    pub credentials: Credentials,
    pub serial: u64,
}

/// The state every handler shares.
#[derive(Debug)]
pub struct Shared {
    pub region: String,
    pub account_id: String,
    pub kubernetes_version: String,
    world: Mutex<World>,
    pub faults: Faults,
    pub counters: Counters,
    pub tls: TlsMaterial,
    pub shutdown: watch::Sender<bool>,
    /// See [`SimConfig::sts_endpoint`].
    pub sts: Option<Sts>,
}

/// Why the shared state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Credential(#[from] crate::credentials::CredentialError),
    #[error(transparent)]
    Sts(#[from] StsError),
}

/// Handle to the shared state.
pub type SimState = Arc<Shared>;

impl Shared {
    /// State without clusters (they need listeners: see [`crate::server::spawn`]).
    pub fn new(config: &SimConfig, tls: TlsMaterial) -> Result<SimState, StateError> {
        let mut world = World::default();
        for c in &config.credentials {
            world.credentials.insert(c.clone())?;
        }
        let faults = Faults::default();
        for f in &config.faults {
            faults.add(f.clone());
        }
        let sts = config.sts_endpoint.as_deref().map(Sts::new).transpose()?;
        Ok(Arc::new(Self {
            region: config.region.clone(),
            account_id: config.account_id.clone(),
            kubernetes_version: config.kubernetes_version.clone(),
            world: Mutex::new(world),
            faults,
            counters: Counters::default(),
            tls,
            shutdown: watch::channel(false).0,
            sts,
        }))
    }

    /// Locks the world. A poisoned lock is recovered: a panicking handler must not take the
    /// whole simulator down.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Shared {
    /// The principal ARN holding `access_key`: a registered credential's, else, for
    /// temporary credentials (`session_token`) when an STS endpoint is set, STS's answer.
    pub async fn caller_of(&self, access_key: &str, session_token: Option<&str>) -> Option<String> {
        if let Some(known) = self.world().credentials.get(access_key) {
            return Some(known.arn.clone());
        }
        let (sts, token) = (self.sts.as_ref()?, session_token?);
        match sts.caller_arn(access_key, token).await {
            Ok(arn) => Some(arn),
            Err(error) => {
                tracing::info!(%error, access_key, "caller unknown");
                None
            }
        }
    }

    /// The account an EKS API caller is in (the holder of the access key of its SigV4
    /// signature); this simulator's `account_id` when the key is unknown.
    pub async fn caller_account(
        &self,
        access_key: Option<&str>,
        session_token: Option<&str>,
    ) -> String {
        let arn = match access_key {
            Some(key) => self.caller_of(key, session_token).await,
            None => None,
        };
        arn.and_then(|arn| arn.split(':').nth(4).map(str::to_owned))
            .filter(|a| a.len() == 12)
            .unwrap_or_else(|| self.account_id.clone())
    }
}
