//! The guards: conditions under which a write is refused whole, however right it looks.
//!
//! One engine for both backends. Each planner describes what EKS would grant before and
//! after its write as an [`AccessView`] (principal → cluster admin? node? how it is named),
//! plus what the write removes; [`check`] runs `last-cluster-admin`, `node-role`,
//! `protected-principal`, `mass-removal` and `size-limit` over that, and words each refusal
//! for the backend ([`Phrasing`]). A guard fix is therefore made once, here.
//!
//! Refusals only a planner can see (`unparsable-content`, `unsafe-layout`,
//! `ambiguous-entries`) stay in that planner, with the same [`Guard`] and [`Refusal`] types.
//! Only the mass-removal guard can be overridden (`--allow-mass-removal`), because the others
//! protect against lockouts that no operator intends.

use std::collections::BTreeMap;
use std::fmt;

use crate::core::names::principal_key;

/// The Kubernetes limit on a ConfigMap's data (keys and values together).
pub const CONFIGMAP_DATA_LIMIT: usize = 1024 * 1024;
/// The group that grants cluster-admin through aws-auth.
pub const MASTERS: &str = "system:masters";
/// The group that node roles must keep.
pub const NODES: &str = "system:nodes";

/// Guard settings (config `guards:` and CLI flags).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GuardSettings {
    /// Largest fraction of the managed entries one run may remove (when there are ≥ 4).
    pub max_removal_fraction: f64,
    /// The override for the mass-removal guard, and for it only.
    pub allow_mass_removal: bool,
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings {
            max_removal_fraction: 0.5,
            allow_mass_removal: false,
        }
    }
}

/// The policy `system:masters` becomes on an access entry.
pub const CLUSTER_ADMIN_POLICY_NAME: &str = "AmazonEKSClusterAdminPolicy";

/// Which guard refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Guard {
    Unparsable,
    LastClusterAdmin,
    NodeRole,
    ProtectedPrincipal,
    MassRemoval,
    SizeLimit,
    UnsafeLayout,
    /// Access entries: two current entries name the same principal, one of them ours.
    Ambiguous,
}

impl fmt::Display for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Guard::Unparsable => "unparsable-content",
            Guard::LastClusterAdmin => "last-cluster-admin",
            Guard::NodeRole => "node-role",
            Guard::ProtectedPrincipal => "protected-principal",
            Guard::MassRemoval => "mass-removal",
            Guard::SizeLimit => "size-limit",
            Guard::UnsafeLayout => "unsafe-layout",
            Guard::Ambiguous => "ambiguous-entries",
        })
    }
}

/// A refused write: the guard and a message naming the entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub guard: Guard,
    pub message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused by guard `{}`: {}", self.guard, self.message)
    }
}

/// What one principal holds, as the guards see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    /// How messages name it (`mapRoles arn:…` for aws-auth, the principal key for access
    /// entries).
    pub label: String,
    /// The username it is mapped to (aws-auth), for messages.
    pub username: Option<String>,
    /// Cluster admin: `system:masters` (aws-auth) or `AmazonEKSClusterAdminPolicy` at cluster
    /// scope (access entries).
    pub admin: bool,
    /// A node: `system:nodes` (aws-auth) or a non-`STANDARD` entry type (access entries).
    pub node: bool,
}

/// Effective access per principal key ([`principal_key`]: the lowercase canonical ARN; an ARN
/// that does not parse is its own key, so such entries are compared textually). Listed in the
/// order principals were first seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessView {
    by_key: BTreeMap<String, (usize, Holding)>,
    next: usize,
}

impl AccessView {
    /// Sets what `key` holds (a later entry for the same key replaces it, keeping its place).
    pub fn set(&mut self, key: String, holding: Holding) {
        match self.by_key.get_mut(&key) {
            Some((_, held)) => *held = holding,
            None => {
                self.by_key.insert(key, (self.next, holding));
                self.next += 1;
            }
        }
    }

    /// `key` holds nothing any more.
    pub fn remove(&mut self, key: &str) {
        self.by_key.remove(key);
    }

    pub fn get(&self, key: &str) -> Option<&Holding> {
        self.by_key.get(key).map(|(_, h)| h)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.by_key.contains_key(key)
    }

    /// Every principal with what it holds, in the order first seen.
    pub fn holdings(&self) -> Vec<(&str, &Holding)> {
        let mut all: Vec<_> = self
            .by_key
            .iter()
            .map(|(k, (seq, h))| (*seq, k.as_str(), h))
            .collect();
        all.sort_by_key(|(seq, _, _)| *seq);
        all.into_iter().map(|(_, k, h)| (k, h)).collect()
    }
}

/// Which backend a refusal is worded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phrasing {
    AwsAuth,
    AccessEntries,
    /// Both stores together (`API_AND_CONFIG_MAP`): what EKS authorizes from either.
    Effective,
}

/// One store's part of a planned write, owned, as a planner hands it over: on a cluster
/// where EKS reads two stores the parts are combined before [`check`] runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreProposal {
    pub before: AccessView,
    pub after: AccessView,
    /// Managed entries before the write.
    pub managed_before: usize,
    /// The managed entries the write removes, as messages name them.
    pub removed: Vec<String>,
    /// Size of the data that would be written, for a store with a size limit (aws-auth).
    pub data_size: Option<usize>,
}

impl StoreProposal {
    /// The proposal as [`check`] takes it, worded for `phrasing`.
    pub fn proposed(&self, phrasing: Phrasing) -> Proposed<'_> {
        Proposed {
            phrasing,
            before: &self.before,
            after: &self.after,
            managed_before: self.managed_before,
            removed: &self.removed,
            data_size: self.data_size,
        }
    }
}

/// What the guards need to know about a planned write.
#[derive(Debug)]
pub struct Proposed<'a> {
    pub phrasing: Phrasing,
    pub before: &'a AccessView,
    pub after: &'a AccessView,
    /// Managed entries before the write.
    pub managed_before: usize,
    /// The managed entries the write removes, as messages name them.
    pub removed: &'a [String],
    /// Size of the data that would be written, for a store with a size limit (aws-auth).
    pub data_size: Option<usize>,
}

/// Runs every guard; an empty result means the write may go ahead.
pub fn check(
    proposed: &Proposed<'_>,
    settings: &GuardSettings,
    protected: &[String],
) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    let Proposed {
        phrasing,
        before,
        after,
        managed_before,
        removed,
        data_size,
    } = *proposed;
    let refuse = |refusals: &mut Vec<Refusal>, guard, message| {
        refusals.push(Refusal { guard, message });
    };

    let holdings = before.holdings();
    let admins_before: Vec<&str> = holdings
        .iter()
        .filter(|(_, h)| h.admin)
        .map(|(_, h)| h.label.as_str())
        .collect();
    let admin_after = after.by_key.values().any(|(_, h)| h.admin);
    if !admins_before.is_empty() && !admin_after {
        let held_by = list(admins_before.iter().map(|l| (*l).to_owned()));
        refuse(
            &mut refusals,
            Guard::LastClusterAdmin,
            match phrasing {
                Phrasing::AwsAuth => format!(
                    "the write would leave no {MASTERS} mapping; today it is held by {held_by}"
                ),
                Phrasing::AccessEntries => format!(
                    "no access entry would keep {CLUSTER_ADMIN_POLICY_NAME} at cluster scope; today it is held by {held_by}"
                ),
                Phrasing::Effective => format!(
                    "no principal would keep cluster-admin as EKS authorizes it (an access entry with {CLUSTER_ADMIN_POLICY_NAME} at cluster scope, or else a {MASTERS} mapping EKS matches); today it is held by {held_by}"
                ),
            },
        );
    }

    let lost_nodes: Vec<String> = holdings
        .iter()
        .filter(|(key, h)| h.node && after.get(key).is_none_or(|now| !now.node))
        .map(|(_, h)| h.label.clone())
        .collect();
    if !lost_nodes.is_empty() {
        let nodes = list(lost_nodes.into_iter());
        refuse(
            &mut refusals,
            Guard::NodeRole,
            match phrasing {
                Phrasing::AwsAuth => format!(
                    "node role mappings would be removed or lose {NODES} (their nodes would leave the cluster): {nodes}"
                ),
                Phrasing::AccessEntries => format!(
                    "node entries would be removed or lose their node type (their nodes would leave the cluster): {nodes}"
                ),
                Phrasing::Effective => format!(
                    "node roles would lose node access in both aws-auth and access entries (their nodes would leave the cluster): {nodes}"
                ),
            },
        );
    }

    for principal in protected {
        let key = principal_key(principal);
        let Some(had) = before.get(&key) else {
            continue;
        };
        let message = match (after.get(&key), phrasing) {
            (None, Phrasing::AwsAuth) => format!(
                "{principal} would lose its mapping (it is mapped as `{}` today)",
                had.username.as_deref().unwrap_or_default()
            ),
            (None, Phrasing::AccessEntries) => {
                format!("{principal} would lose its access entry")
            }
            (None, Phrasing::Effective) => format!(
                "{principal} would lose its access (no access entry, and no aws-auth mapping EKS matches)"
            ),
            (Some(now), Phrasing::AwsAuth) if had.admin && !now.admin => {
                format!("{principal} would lose {MASTERS}")
            }
            (Some(now), Phrasing::AccessEntries) if had.admin && !now.admin => {
                format!("{principal} would lose {CLUSTER_ADMIN_POLICY_NAME}")
            }
            (Some(now), Phrasing::Effective) if had.admin && !now.admin => {
                format!("{principal} would lose cluster-admin")
            }
            (Some(_), _) => continue,
        };
        refuse(&mut refusals, Guard::ProtectedPrincipal, message);
    }

    if !settings.allow_mass_removal && managed_before >= 4 {
        let fraction = removed.len() as f64 / managed_before as f64;
        if fraction > settings.max_removal_fraction {
            let (entries, verb) = match phrasing {
                Phrasing::AwsAuth => ("entries", "removed"),
                Phrasing::AccessEntries => ("access entries", "deleted"),
                Phrasing::Effective => ("entries (aws-auth and access entries)", "removed"),
            };
            refuse(
                &mut refusals,
                Guard::MassRemoval,
                format!(
                    "{} of {managed_before} managed {entries} ({:.0}%) would be {verb}, more than maxRemovalFraction {} allows: {} (override with --allow-mass-removal if this is intended)",
                    removed.len(),
                    fraction * 100.0,
                    settings.max_removal_fraction,
                    list(removed.iter().cloned())
                ),
            );
        }
    }

    if let Some(data_size) = data_size.filter(|size| *size > CONFIGMAP_DATA_LIMIT) {
        refuse(
            &mut refusals,
            Guard::SizeLimit,
            format!(
                "the ConfigMap data would be {data_size} bytes, over Kubernetes' limit of {CONFIGMAP_DATA_LIMIT} bytes (1 MiB); move principals to EKS access entries or to fewer, group-based mappings"
            ),
        );
    }
    refusals
}

/// At most ten items, then a count of the rest.
fn list(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    let shown = items
        .iter()
        .take(10)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    match items.len() {
        n if n > 10 => format!("{shown} and {} more", n - 10),
        _ => shown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holding(label: &str, admin: bool, node: bool) -> Holding {
        Holding {
            label: label.to_owned(),
            username: Some(label.to_owned()),
            admin,
            node,
        }
    }

    fn view(entries: &[(&str, bool, bool)]) -> AccessView {
        let mut view = AccessView::default();
        for (key, admin, node) in entries {
            view.set((*key).to_owned(), holding(key, *admin, *node));
        }
        view
    }

    fn run(phrasing: Phrasing, before: &AccessView, after: &AccessView) -> Vec<Refusal> {
        let proposed = Proposed {
            phrasing,
            before,
            after,
            managed_before: 0,
            removed: &[],
            data_size: None,
        };
        check(&proposed, &GuardSettings::default(), &[])
    }

    #[test]
    fn one_engine_words_each_backend_its_own_way() {
        let before = view(&[("a", true, false), ("n", false, true)]);
        let after = view(&[("a", false, false)]);
        for (phrasing, admin, node) in [
            (
                Phrasing::AwsAuth,
                "the write would leave no system:masters mapping",
                "node role mappings would be removed or lose system:nodes",
            ),
            (
                Phrasing::AccessEntries,
                "no access entry would keep AmazonEKSClusterAdminPolicy at cluster scope",
                "node entries would be removed or lose their node type",
            ),
        ] {
            let refusals = run(phrasing, &before, &after);
            let guards: Vec<Guard> = refusals.iter().map(|r| r.guard).collect();
            assert_eq!(guards, [Guard::LastClusterAdmin, Guard::NodeRole]);
            assert!(refusals[0].message.starts_with(admin), "{refusals:?}");
            assert!(refusals[1].message.starts_with(node), "{refusals:?}");
        }
    }

    #[test]
    fn a_view_keeps_the_place_a_principal_was_first_seen() {
        let mut v = view(&[("b", false, false), ("a", false, false)]);
        v.set("b".to_owned(), holding("b2", true, false));
        let keys: Vec<&str> = v.holdings().iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["b", "a"]);
        assert!(v.get("b").unwrap().admin);
        v.remove("b");
        assert!(!v.contains("b"));
    }
}
