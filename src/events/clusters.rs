//! The clusters an IAM event concerns, collected from the configured mappings and returned in
//! configuration order, and how names compare (case-insensitively, as IAM does). It does not
//! decide which mappings an event concerns: the rules (`users`, `groups`, `roles`) do.

use std::collections::BTreeSet;

use super::Action;
use crate::core::settings::{PrincipalMapping, Settings};

/// Clusters collected from mappings, returned in configuration order.
pub(super) struct Clusters<'s> {
    settings: &'s Settings,
    set: BTreeSet<&'s str>,
}

impl<'s> Clusters<'s> {
    pub(super) fn new(settings: &'s Settings) -> Self {
        Clusters {
            settings,
            set: BTreeSet::new(),
        }
    }
    pub(super) fn add(&mut self, names: &'s [String]) {
        self.set.extend(names.iter().map(String::as_str));
    }
    pub(super) fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
    pub(super) fn ordered(&self) -> Vec<String> {
        self.settings
            .clusters
            .iter()
            .filter(|c| self.set.contains(c.name.as_str()))
            .map(|c| c.name.clone())
            .collect()
    }
}

pub(super) fn same_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

pub(super) fn principal_matches(p: &PrincipalMapping, name: &str, account: Option<&str>) -> bool {
    same_name(p.arn.name(), name) && account.is_none_or(|a| a == p.arn.account_id())
}

/// A full reconcile of `clusters` (even none).
pub(super) fn reconcile(clusters: &Clusters<'_>) -> Action {
    Action::Reconcile {
        clusters: clusters.ordered(),
        dry_run: false,
    }
}

/// A full reconcile of `clusters`, for `reason` (given the clusters, comma-separated), or,
/// when no cluster is concerned, an acknowledgement saying `nothing`.
pub(super) fn reconcile_or_acknowledge(
    clusters: &Clusters<'_>,
    nothing: impl FnOnce() -> String,
    reason: impl FnOnce(&str) -> String,
) -> (Action, String) {
    if clusters.is_empty() {
        return (Action::Acknowledge, nothing());
    }
    let reason = reason(&clusters.ordered().join(", "));
    (reconcile(clusters), reason)
}

/// The clusters of every configured group.
pub(super) fn all_group_clusters(settings: &Settings) -> Clusters<'_> {
    let mut clusters = Clusters::new(settings);
    for g in &settings.groups {
        clusters.add(&g.clusters);
    }
    clusters
}
