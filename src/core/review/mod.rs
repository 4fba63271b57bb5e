//! The access review of one cluster (`eks-iam-sync review`, issue 22): every principal EKS
//! would authenticate, from which store, with what rights and why, and what is wrong.
//!
//! Pure: the shell (`crate::reconcile::review`) hands in what one dry run read of the
//! cluster (aws-auth, the access entries, the desired set, the changes the next run would
//! make) and what IAM holds ([`Inventory`]); [`review_cluster`] turns that into a
//! [`ClusterReview`]. [`principals`] lists who gets in, store by store, as EKS decides it
//! for the cluster's mode; [`findings`] says what an auditor should look at.
//!
//! Field names and finding kinds are a contract (the JSON and CSV reports, acceptance
//! checks): extend them, never rename them.

pub mod findings;
pub mod inventory;
pub mod principals;

use serde::Serialize;

use crate::core::access_entries::CurrentEntry;
use crate::core::aws_auth::{ConfigMapData, OwnershipRules};
use crate::core::desired::DesiredSet;
use crate::core::effective::{AuthenticationMode, Store};
use crate::core::names::principal_key;

pub use crate::core::access_entries::PolicyGrant;
pub use findings::{Finding, FindingKind};
pub use inventory::{Existence, Inventory, Known};
pub use principals::{PrincipalAccess, PrincipalKind};

/// What was read of one store.
#[derive(Debug, Clone, Copy)]
pub enum StoreRead<'a, T> {
    /// The cluster's mode does not read this store (or the cluster was never reached).
    NotRead,
    Read(T),
    /// The read failed, with why.
    Unreadable(&'a str),
}

/// A change the next run would make (a dry run's plan), as the review reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub store: Store,
    pub principal: String,
    /// `added`, `changed` or `removed`.
    pub change: &'static str,
    pub reason: String,
}

/// Everything the review of one cluster is made from.
#[derive(Debug, Clone, Copy)]
pub struct ClusterRead<'a> {
    pub name: &'a str,
    pub region: &'a str,
    /// The cluster's account (from its ARN, or its configured role), `""` when unknown.
    pub account: &'a str,
    /// `None` when DescribeCluster failed.
    pub mode: Option<AuthenticationMode>,
    /// `Read(None)`: the cluster has no aws-auth ConfigMap.
    pub aws_auth: StoreRead<'a, Option<&'a ConfigMapData>>,
    pub entries: StoreRead<'a, &'a [CurrentEntry]>,
    /// The desired set the dry run planned with (`None` when IAM could not be read).
    pub desired: Option<&'a DesiredSet>,
    pub drift: &'a [Drift],
    /// Guard refusals of the dry run: the next run would not write.
    pub refusals: &'a [String],
    /// What stopped the cluster's dry run, if anything did.
    pub error: Option<&'a str>,
    pub ownership: &'a OwnershipRules,
    pub inventory: &'a Inventory,
}

/// The review of one cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterReview {
    pub name: String,
    pub region: String,
    pub account: String,
    /// EKS's spelling; `null` when the cluster could not be described.
    pub authentication_mode: Option<&'static str>,
    /// Admins first, then by ARN and store.
    pub principals: Vec<PrincipalAccess>,
    pub findings: Vec<Finding>,
    /// What the review could not establish (IAM listings it could not read, refusals of the
    /// next run).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The review of one cluster from what was read of it.
pub fn review_cluster(read: &ClusterRead<'_>) -> ClusterReview {
    let grants = principals::Grants::of(read.desired);
    let mut principals = principals::principals(read, &grants);
    let findings = findings::findings(read, &principals, &grants);
    for principal in &mut principals {
        principal.findings = findings
            .iter()
            .filter(|f| {
                let same = f.principal.eq_ignore_ascii_case(&principal.arn)
                    || (f.kind == FindingKind::Drift
                        && principal_key(&f.principal) == principal.facts.key);
                !f.principal.is_empty() && same && f.store.is_none_or(|s| s == principal.store)
            })
            .map(|f| f.kind)
            .collect();
        principal.findings.sort();
        principal.findings.dedup();
    }
    principals.sort_by(|a, b| {
        (!a.admin, a.arn.to_ascii_lowercase(), a.store.as_str()).cmp(&(
            !b.admin,
            b.arn.to_ascii_lowercase(),
            b.store.as_str(),
        ))
    });
    let mut notes: Vec<String> = read.inventory.notes().to_vec();
    notes.extend(
        read.refusals
            .iter()
            .map(|r| format!("the next run would not write: {r}")),
    );
    ClusterReview {
        name: read.name.to_owned(),
        region: read.region.to_owned(),
        account: read.account.to_owned(),
        authentication_mode: read.mode.map(AuthenticationMode::as_str),
        principals,
        findings,
        notes,
    }
}

#[cfg(test)]
mod tests;
