//! The guards: conditions under which a write is refused whole, however right it looks.
//!
//! Each guard compares what EKS would read before and after the write. A refusal names the
//! guard and the entries; only the mass-removal guard can be overridden
//! (`--allow-mass-removal`), because the others protect against lockouts that no
//! operator intends.

use std::collections::BTreeMap;
use std::fmt;

use crate::core::aws_auth::lookup::{Entries, lookup};
use crate::core::aws_auth::{ItemValue, SectionName};

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

/// aws-auth's effective entries, per section, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effective(pub BTreeMap<SectionName, Vec<ItemValue>>);

impl Entries for Effective {
    fn entries(&self, section: SectionName) -> Vec<&ItemValue> {
        self.0
            .get(&section)
            .map(|v| v.iter().collect())
            .unwrap_or_default()
    }
}

impl Effective {
    fn mappings_with_group<'a>(
        &'a self,
        group: &'a str,
    ) -> impl Iterator<Item = (SectionName, &'a str)> + 'a {
        self.0.iter().flat_map(move |(section, values)| {
            values.iter().filter_map(move |v| match v {
                ItemValue::Mapping(m) if m.groups.iter().any(|g| g == group) => {
                    Some((*section, m.arn.as_str()))
                }
                _ => None,
            })
        })
    }
}

/// What the guards need to know about a planned write.
#[derive(Debug)]
pub struct Proposed<'a> {
    pub before: &'a Effective,
    pub after: &'a Effective,
    /// Managed entries before the write, and how many the write removes.
    pub managed_before: usize,
    pub removed: &'a [(SectionName, String)],
    /// Size of the data that would be written.
    pub data_size: usize,
}

/// Runs every guard; an empty result means the write may go ahead.
pub fn check(
    proposed: &Proposed<'_>,
    settings: &GuardSettings,
    protected: &[String],
) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    let Proposed {
        before,
        after,
        managed_before,
        removed,
        data_size,
    } = *proposed;

    let admins_before: Vec<_> = before.mappings_with_group(MASTERS).collect();
    if !admins_before.is_empty() && after.mappings_with_group(MASTERS).next().is_none() {
        refusals.push(Refusal {
            guard: Guard::LastClusterAdmin,
            message: format!(
                "the write would leave no {MASTERS} mapping; today it is held by {}",
                list(admins_before.iter().map(|(s, a)| format!("{s} {a}")))
            ),
        });
    }

    let lost_nodes: Vec<String> = before
        .mappings_with_group(NODES)
        .filter(|(_, arn)| {
            lookup_in(after, arn).is_none_or(|groups| !groups.iter().any(|g| g == NODES))
        })
        .map(|(s, a)| format!("{s} {a}"))
        .collect();
    if !lost_nodes.is_empty() {
        refusals.push(Refusal {
            guard: Guard::NodeRole,
            message: format!(
                "node role mappings would be removed or lose {NODES} (their nodes would leave the cluster): {}",
                list(lost_nodes.iter().cloned())
            ),
        });
    }

    for principal in protected {
        let Some(had) = lookup(before, principal) else {
            continue;
        };
        match lookup(after, principal) {
            None => refusals.push(Refusal {
                guard: Guard::ProtectedPrincipal,
                message: format!(
                    "{principal} would lose its mapping (it is mapped as `{}` today)",
                    had.username
                ),
            }),
            Some(now)
                if had.groups.iter().any(|g| g == MASTERS)
                    && !now.groups.iter().any(|g| g == MASTERS) =>
            {
                refusals.push(Refusal {
                    guard: Guard::ProtectedPrincipal,
                    message: format!("{principal} would lose {MASTERS}"),
                });
            }
            Some(_) => {}
        }
    }

    if !settings.allow_mass_removal && managed_before >= 4 {
        let fraction = removed.len() as f64 / managed_before as f64;
        if fraction > settings.max_removal_fraction {
            refusals.push(Refusal {
                guard: Guard::MassRemoval,
                message: format!(
                    "{} of {managed_before} managed entries ({:.0}%) would be removed, more than maxRemovalFraction {} allows: {} (override with --allow-mass-removal if this is intended)",
                    removed.len(),
                    fraction * 100.0,
                    settings.max_removal_fraction,
                    list(removed.iter().map(|(s, k)| format!("{s} {k}")))
                ),
            });
        }
    }

    if data_size > CONFIGMAP_DATA_LIMIT {
        refusals.push(Refusal {
            guard: Guard::SizeLimit,
            message: format!(
                "the ConfigMap data would be {data_size} bytes, over Kubernetes' limit of {CONFIGMAP_DATA_LIMIT} bytes (1 MiB); move principals to EKS access entries or to fewer, group-based mappings"
            ),
        });
    }
    refusals
}

fn lookup_in(effective: &Effective, arn: &str) -> Option<Vec<String>> {
    lookup(effective, arn).map(|a| a.groups).or_else(|| {
        // Entries whose ARN does not parse cannot be looked up; compare them textually.
        effective.0.values().flatten().rev().find_map(|v| match v {
            ItemValue::Mapping(m) if m.arn.eq_ignore_ascii_case(arn) => Some(m.groups.clone()),
            _ => None,
        })
    })
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
