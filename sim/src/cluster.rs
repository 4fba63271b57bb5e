//! One simulated EKS cluster: its metadata, authentication mode (with EKS's one-way
//! upgrades), cluster creator, ConfigMaps, access entries and recorded updates.
//!
//! It holds state only; the HTTP faces are [`crate::eks_api`] and [`crate::kube_api`].

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::access_entries::{AccessEntries, CLUSTER_ADMIN_POLICY, NewEntry};
use crate::arn::PrincipalArn;
use crate::configmaps::ConfigMapStore;
use crate::eks_error::EksError;

/// `accessConfig.authenticationMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AuthMode {
    ConfigMap,
    ApiAndConfigMap,
    Api,
}

impl AuthMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "CONFIG_MAP" => Some(Self::ConfigMap),
            "API_AND_CONFIG_MAP" => Some(Self::ApiAndConfigMap),
            "API" => Some(Self::Api),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConfigMap => "CONFIG_MAP",
            Self::ApiAndConfigMap => "API_AND_CONFIG_MAP",
            Self::Api => "API",
        }
    }

    /// Whether access entries are consulted.
    pub fn uses_access_entries(self) -> bool {
        self != Self::ConfigMap
    }

    /// Whether aws-auth is consulted.
    pub fn uses_config_map(self) -> bool {
        self != Self::Api
    }
}

/// One cluster.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: String,
    pub arn: String,
    pub id: String,
    pub created_at: Timestamp,
    pub version: String,
    pub role_arn: String,
    pub region: String,
    pub account_id: String,
    /// `https://127.0.0.1:PORT`, set once the cluster's listener is bound.
    pub endpoint: String,
    pub auth_mode: AuthMode,
    pub bootstrap_admin: bool,
    /// The principal that created the cluster (STS caller ARN), if known.
    pub creator_arn: Option<String>,
    pub configmaps: ConfigMapStore,
    pub access_entries: AccessEntries,
    pub updates: Vec<Value>,
    pub tags: Value,
}

fn epoch(t: Timestamp) -> Value {
    json!(t.as_millisecond() as f64 / 1000.0)
}

impl Cluster {
    /// A new ACTIVE cluster. In an API mode with bootstrap on, the creator gets an access
    /// entry with AmazonEKSClusterAdminPolicy, as EKS does.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: &str,
        region: &str,
        account_id: &str,
        version: &str,
        role_arn: &str,
        auth_mode: AuthMode,
        bootstrap_admin: bool,
        creator_arn: Option<String>,
        serial: u64,
    ) -> Self {
        let mut c = Self {
            name: name.to_owned(),
            arn: format!("arn:aws:eks:{region}:{account_id}:cluster/{name}"),
            id: format!("{serial:032X}"),
            created_at: Timestamp::now(),
            version: version.to_owned(),
            role_arn: role_arn.to_owned(),
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            endpoint: String::new(),
            auth_mode,
            bootstrap_admin,
            creator_arn,
            configmaps: ConfigMapStore::default(),
            access_entries: AccessEntries::default(),
            updates: Vec::new(),
            tags: json!({}),
        };
        if auth_mode.uses_access_entries() {
            c.bootstrap_creator_entry();
        }
        c
    }

    /// Whether the creator is the hidden CONFIG_MAP-mode admin (no access entry, not in
    /// aws-auth, cannot be removed).
    pub fn creator_is_hidden_admin(&self) -> bool {
        self.bootstrap_admin && self.auth_mode == AuthMode::ConfigMap && self.creator_arn.is_some()
    }

    fn bootstrap_creator_entry(&mut self) {
        let Some(creator) = self.creator_arn.clone() else {
            return;
        };
        if !self.bootstrap_admin {
            return;
        }
        let Ok(p) = PrincipalArn::parse(&creator) else {
            return;
        };
        // The entry names the IAM principal, not the STS session.
        let principal_arn = if p.is_role() { p.canonical() } else { creator };
        let body = json!({"principalArn": principal_arn});
        let Ok((new, principal)) = NewEntry::from_request(&body, &self.account_id) else {
            return;
        };
        if self
            .access_entries
            .create(new, principal, &self.name, &self.region, &self.account_id)
            .is_ok()
        {
            let assoc =
                json!({"policyArn": CLUSTER_ADMIN_POLICY, "accessScope": {"type": "cluster"}});
            let _ = self.access_entries.associate(&principal_arn, &assoc);
        }
    }

    /// UpdateClusterConfig's authentication mode change: one step up at a time
    /// (CONFIG_MAP → API_AND_CONFIG_MAP → API), never down.
    pub fn change_auth_mode(&mut self, to: AuthMode) -> Result<Value, EksError> {
        let from = self.auth_mode;
        let allowed = matches!(
            (from, to),
            (AuthMode::ConfigMap, AuthMode::ApiAndConfigMap)
                | (AuthMode::ApiAndConfigMap, AuthMode::Api)
        );
        if !allowed {
            return Err(EksError::invalid_parameter(format!(
                "Unsupported authentication mode update from {} to {}",
                from.as_str(),
                to.as_str()
            ))
            .for_cluster(&self.name));
        }
        self.auth_mode = to;
        if from == AuthMode::ConfigMap {
            self.bootstrap_creator_entry();
        }
        let update = json!({
            "id": format!("{:08x}-0000-4000-8000-{:012x}", self.updates.len() + 1, self.updates.len() + 1),
            "status": "Successful",
            "type": "AccessConfigUpdate",
            "params": [{"type": "AuthenticationMode", "value": to.as_str()}],
            "createdAt": epoch(Timestamp::now()),
            "errors": [],
        });
        self.updates.push(update.clone());
        let mut in_progress = update;
        in_progress["status"] = json!("InProgress");
        Ok(in_progress)
    }

    /// The `Cluster` shape of DescribeCluster.
    pub fn to_json(&self, ca_pem_base64: &str) -> Value {
        json!({
            "name": self.name,
            "arn": self.arn,
            "createdAt": epoch(self.created_at),
            "version": self.version,
            "endpoint": self.endpoint,
            "roleArn": self.role_arn,
            "resourcesVpcConfig": {
                "subnetIds": [], "securityGroupIds": [], "vpcId": "vpc-00000000000000000",
                "endpointPublicAccess": true, "endpointPrivateAccess": false,
                "publicAccessCidrs": ["127.0.0.1/32"],
            },
            "kubernetesNetworkConfig": {"serviceIpv4Cidr": "10.100.0.0/16", "ipFamily": "ipv4"},
            "logging": {"clusterLogging": []},
            "identity": {"oidc": {"issuer": format!("https://oidc.eks.{}.amazonaws.com/id/{}", self.region, self.id)}},
            "status": "ACTIVE",
            "certificateAuthority": {"data": ca_pem_base64},
            "platformVersion": "eks.1",
            "tags": self.tags,
            "accessConfig": {
                "bootstrapClusterCreatorAdminPermissions": self.bootstrap_admin,
                "authenticationMode": self.auth_mode.as_str(),
            },
        })
    }
}
