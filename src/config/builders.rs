//! Builders of a [`RawConfig`] in code, for tests and callers that assemble a configuration
//! without a file: `RawConfig::default().cluster("prod", "eu-west-3").group("eks-admins",
//! &["system:masters"])`, then [`super::validate`] (or [`RawConfig::settings`]) as for a file.
//! They build raw values only: every rule is validation's.

use super::*;

/// Builders for tests and callers that assemble a configuration in code:
/// `RawConfig::default().cluster("prod", "eu-west-3").group("eks-admins", &["system:masters"])`,
/// then [`validate`] (or [`RawConfig::settings`]) as for a file. Mappings apply to every cluster.
impl RawConfig {
    /// Adds a cluster with the default backend and no role to assume.
    pub fn cluster(mut self, name: &str, region: &str) -> Self {
        self.clusters.push(RawCluster {
            name: name.to_owned(),
            region: region.to_owned(),
            ..RawCluster::default()
        });
        self
    }

    /// Adds an IAM group mapping with no username prefix.
    pub fn group(mut self, iam_group: &str, kubernetes_groups: &[&str]) -> Self {
        self.groups.push(RawGroup {
            iam_group: iam_group.to_owned(),
            kubernetes_groups: owned(kubernetes_groups),
            ..RawGroup::default()
        });
        self
    }

    /// Adds a static user mapping.
    pub fn user(mut self, arn: &str, username: &str, kubernetes_groups: &[&str]) -> Self {
        self.users
            .push(RawPrincipal::new(arn, username, kubernetes_groups));
        self
    }

    /// Adds a static role mapping.
    pub fn role(mut self, arn: &str, username: &str, kubernetes_groups: &[&str]) -> Self {
        self.roles
            .push(RawPrincipal::new(arn, username, kubernetes_groups));
        self
    }

    /// Adds an SSO permission-set mapping.
    pub fn sso_permission_set(mut self, name: &str, username: &str, groups: &[&str]) -> Self {
        self.sso_permission_sets.push(RawSsoPermissionSet {
            name: name.to_owned(),
            username: username.to_owned(),
            kubernetes_groups: owned(groups),
            ..RawSsoPermissionSet::default()
        });
        self
    }

    /// Adds an account id for `mapAccounts`.
    pub fn account(mut self, account_id: &str) -> Self {
        self.accounts
            .push(RawAccountId::Text(account_id.to_owned()));
        self
    }

    /// Validates; the problems, if any, as a [`ConfigError::Invalid`] from `"code"`.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        validate(self).map_err(|problems| ConfigError::Invalid {
            origin: "code".to_owned(),
            problems: Problems(problems),
        })
    }
}

impl RawPrincipal {
    fn new(arn: &str, username: &str, kubernetes_groups: &[&str]) -> Self {
        RawPrincipal {
            arn: arn.to_owned(),
            username: username.to_owned(),
            kubernetes_groups: owned(kubernetes_groups),
            ..RawPrincipal::default()
        }
    }
}

fn owned(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}
