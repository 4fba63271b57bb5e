//! Effective access on one cluster: which stores EKS reads for its authentication mode, which
//! of them a run grants through, and what EKS would authorize each principal once both are
//! taken together.
//!
//! EKS reads aws-auth in `CONFIG_MAP`, access entries in `API`, and both in
//! `API_AND_CONFIG_MAP`, where a principal's access entry wins and a principal without one
//! falls back to aws-auth. A run therefore grants through one store ([`Stores::grants`]) and,
//! where EKS reads the other one too, keeps that store's managed entries in step
//! ([`Stores::also_reads`]): it updates and removes them, and never adds one. A managed grant
//! that IAM took away is so removed from every store EKS reads.
//!
//! This module decides stores and combines views; the per-store planners are
//! [`crate::core::aws_auth::plan`] and [`crate::core::access_entries`], and the cluster plan
//! over both is [`both`].

pub mod both;

use std::fmt;

use crate::core::guards::AccessView;
use crate::core::settings::Backend;

/// How a cluster authenticates Kubernetes callers (`accessConfig.authenticationMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthenticationMode {
    /// Only the aws-auth ConfigMap (also every cluster older than access entries).
    ConfigMap,
    /// Access entries and aws-auth: an access entry wins, otherwise aws-auth.
    ApiAndConfigMap,
    /// Only access entries: aws-auth is ignored.
    Api,
}

impl AuthenticationMode {
    /// EKS's spelling (`CONFIG_MAP`, `API_AND_CONFIG_MAP`, `API`).
    /// Whether EKS reads `store` in this mode.
    pub fn reads(self, store: Store) -> bool {
        !matches!(
            (self, store),
            (AuthenticationMode::Api, Store::AwsAuth)
                | (AuthenticationMode::ConfigMap, Store::AccessEntries)
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuthenticationMode::ConfigMap => "CONFIG_MAP",
            AuthenticationMode::ApiAndConfigMap => "API_AND_CONFIG_MAP",
            AuthenticationMode::Api => "API",
        }
    }
}

impl fmt::Display for AuthenticationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One place EKS reads access from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Store {
    AwsAuth,
    AccessEntries,
}

impl Store {
    /// The spelling of the report's `backend` and `store` fields.
    pub const fn as_str(self) -> &'static str {
        match self {
            Store::AwsAuth => "aws-auth",
            Store::AccessEntries => "access-entries",
        }
    }
}

/// The stores one run touches on one cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stores {
    /// Where grants are written: the configured backend, or the mode's store for `auto`.
    pub grants: Store,
    /// The other store, when EKS reads it too (`API_AND_CONFIG_MAP`): its managed entries
    /// are kept in step and removed when no longer desired; nothing is added to it.
    pub also_reads: Option<Store>,
}

/// Why a configured backend cannot grant anything on a cluster in its current mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cluster {cluster} is configured with backend access-entries, but its authentication mode is CONFIG_MAP, where EKS has no access entries; switch it first (aws eks update-cluster-config --name {cluster} --access-config authenticationMode=API_AND_CONFIG_MAP), or use backend auto"
    )]
    AccessEntriesOnConfigMap { cluster: String },
    #[error(
        "cluster {cluster} is configured with backend aws-auth, but its authentication mode is API, where EKS ignores aws-auth: nothing written there would grant access; use backend auto or access-entries"
    )]
    AwsAuthOnApi { cluster: String },
}

/// The stores a run on `cluster` touches, from its configured backend and current mode.
///
/// # Errors
/// A backend the mode does not read ([`StoreError`]).
pub fn stores(
    cluster: &str,
    backend: Backend,
    mode: AuthenticationMode,
) -> Result<Stores, StoreError> {
    use AuthenticationMode::{Api, ApiAndConfigMap, ConfigMap};
    let (grants, also_reads) = match (backend, mode) {
        (Backend::AwsAuth | Backend::Auto, ConfigMap) => (Store::AwsAuth, None),
        (Backend::AccessEntries, ConfigMap) => {
            return Err(StoreError::AccessEntriesOnConfigMap {
                cluster: cluster.to_owned(),
            });
        }
        (Backend::AwsAuth, ApiAndConfigMap) => (Store::AwsAuth, Some(Store::AccessEntries)),
        (Backend::Auto | Backend::AccessEntries, ApiAndConfigMap) => {
            (Store::AccessEntries, Some(Store::AwsAuth))
        }
        (Backend::AwsAuth, Api) => {
            return Err(StoreError::AwsAuthOnApi {
                cluster: cluster.to_owned(),
            });
        }
        (Backend::Auto | Backend::AccessEntries, Api) => (Store::AccessEntries, None),
    };
    Ok(Stores { grants, also_reads })
}

/// What EKS authorizes per principal in `API_AND_CONFIG_MAP`: each principal's access entry
/// when it has one, otherwise what aws-auth grants it.
pub fn combined_view(aws_auth: &AccessView, access_entries: &AccessView) -> AccessView {
    let mut view = aws_auth.clone();
    for (key, holding) in access_entries.holdings() {
        view.set(key.to_owned(), holding.clone());
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::guards::Holding;

    #[test]
    fn each_mode_reads_its_stores_and_grants_through_the_configured_one() {
        use AuthenticationMode::{Api, ApiAndConfigMap, ConfigMap};
        use Store::{AccessEntries, AwsAuth};
        let s = |backend, mode| stores("prod", backend, mode);
        let ok = |grants, also_reads| Ok(Stores { grants, also_reads });
        assert_eq!(s(Backend::Auto, ConfigMap), ok(AwsAuth, None));
        assert_eq!(s(Backend::AwsAuth, ConfigMap), ok(AwsAuth, None));
        assert_eq!(
            s(Backend::Auto, ApiAndConfigMap),
            ok(AccessEntries, Some(AwsAuth))
        );
        assert_eq!(
            s(Backend::AccessEntries, ApiAndConfigMap),
            ok(AccessEntries, Some(AwsAuth))
        );
        assert_eq!(
            s(Backend::AwsAuth, ApiAndConfigMap),
            ok(AwsAuth, Some(AccessEntries))
        );
        assert_eq!(s(Backend::Auto, Api), ok(AccessEntries, None));
        assert_eq!(s(Backend::AccessEntries, Api), ok(AccessEntries, None));
        let refused = s(Backend::AwsAuth, Api).unwrap_err().to_string();
        assert!(refused.contains("EKS ignores aws-auth"), "{refused}");
        let refused = s(Backend::AccessEntries, ConfigMap)
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("--access-config authenticationMode=API_AND_CONFIG_MAP"),
            "{refused}"
        );
    }

    fn holding(label: &str, admin: bool) -> Holding {
        Holding {
            label: label.to_owned(),
            username: None,
            admin,
            node: false,
        }
    }

    #[test]
    fn an_access_entry_wins_over_aws_auth_and_others_fall_back() {
        let mut aws_auth = AccessView::default();
        aws_auth.set("a".to_owned(), holding("mapRoles a", true));
        aws_auth.set("b".to_owned(), holding("mapRoles b", true));
        let mut entries = AccessView::default();
        entries.set("a".to_owned(), holding("a", false));
        entries.set("c".to_owned(), holding("c", false));
        let view = combined_view(&aws_auth, &entries);
        assert!(!view.get("a").unwrap().admin, "the entry wins");
        assert_eq!(view.get("b").unwrap().label, "mapRoles b");
        assert!(view.contains("c"));
    }
}
