//! The simulator's shared state: settings, the clusters and the credential table (behind
//! one lock, never held across an await), fault rules, counters, TLS material and the
//! shutdown signal.
//!
//! It holds data; request handling lives in the API modules.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::cluster::{AuthMode, Cluster};
use crate::credentials::{Credentials, TestCredential};
use crate::faults::{Counters, FaultRule, Faults};
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
}

/// Handle to the shared state.
pub type SimState = Arc<Shared>;

impl Shared {
    /// State without clusters (they need listeners: see [`crate::server::spawn`]).
    pub fn new(
        config: &SimConfig,
        tls: TlsMaterial,
    ) -> Result<SimState, crate::credentials::CredentialError> {
        let mut world = World::default();
        for c in &config.credentials {
            world.credentials.insert(c.clone())?;
        }
        let faults = Faults::default();
        for f in &config.faults {
            faults.add(f.clone());
        }
        Ok(Arc::new(Self {
            region: config.region.clone(),
            account_id: config.account_id.clone(),
            kubernetes_version: config.kubernetes_version.clone(),
            world: Mutex::new(world),
            faults,
            counters: Counters::default(),
            tls,
            shutdown: watch::channel(false).0,
        }))
    }

    /// Locks the world. A poisoned lock is recovered: a panicking handler must not take the
    /// whole simulator down.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }
}
