//! What an auditor should look at in one cluster: the review's findings.
//!
//! Kinds are a contract (JSON, CSV, `--fail-on-findings`): extend them, never rename them.

use serde::{Serialize, Serializer};

use super::inventory::Existence;
use super::principals::{Grants, PrincipalAccess, PrincipalKind};
use super::{ClusterRead, StoreRead};
use crate::core::aws_auth::AwsAuth;
use crate::core::effective::Store;

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// An effective admin the configuration does not grant.
    UnmanagedAdmin,
    /// An entry for an IAM user or role that no longer exists (or, for an access entry, a
    /// role recreated under the same ARN, whose entry EKS no longer honours).
    StalePrincipal,
    /// An aws-auth mapping EKS never matches.
    NeverMatched,
    /// An aws-auth mapping an access entry outranks.
    Shadowed,
    /// A managed grant that differs from what IAM says now: the next run changes it.
    Drift,
    /// A store that could not be read.
    Unreadable,
}

impl FindingKind {
    pub const ALL: [FindingKind; 6] = [
        FindingKind::UnmanagedAdmin,
        FindingKind::StalePrincipal,
        FindingKind::NeverMatched,
        FindingKind::Shadowed,
        FindingKind::Drift,
        FindingKind::Unreadable,
    ];

    /// The name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::UnmanagedAdmin => "unmanaged-admin",
            FindingKind::StalePrincipal => "stale-principal",
            FindingKind::NeverMatched => "never-matched",
            FindingKind::Shadowed => "shadowed",
            FindingKind::Drift => "drift",
            FindingKind::Unreadable => "unreadable",
        }
    }
}

/// One finding about one principal (or, for `unreadable`, a store: `principal` is empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub principal: String,
    pub detail: String,
    /// The store the finding is about, when it is about one.
    #[serde(serialize_with = "store_name", skip_serializing_if = "Option::is_none")]
    pub store: Option<Store>,
}

fn store_name<S: Serializer>(store: &Option<Store>, serializer: S) -> Result<S::Ok, S::Error> {
    match store {
        Some(store) => serializer.serialize_str(store.as_str()),
        None => serializer.serialize_none(),
    }
}

/// Every finding of the cluster, in a stable order (kind, then principal).
pub(super) fn findings(
    read: &ClusterRead<'_>,
    principals: &[PrincipalAccess],
    grants: &Grants,
) -> Vec<Finding> {
    let mut out = unreadable(read);
    for p in principals {
        let finding = |kind, detail: String| Finding {
            kind,
            principal: p.arn.clone(),
            detail,
            store: Some(p.store),
        };
        if let Some(why) = &p.facts.never_matched {
            out.push(finding(FindingKind::NeverMatched, why.clone()));
        }
        if p.facts.shadowed {
            out.push(finding(
                FindingKind::Shadowed,
                "EKS uses this principal's access entry; the aws-auth mapping grants nothing"
                    .to_owned(),
            ));
        }
        if p.admin && !grants.grants_admin(&p.facts.key) {
            let detail = if p.managed {
                "cluster-admin the configuration no longer grants".to_owned()
            } else {
                format!(
                    "cluster-admin through {} the configuration does not grant",
                    p.store.as_str()
                )
            };
            out.push(finding(FindingKind::UnmanagedAdmin, detail));
        }
        if let Some(detail) = stale(read, p) {
            out.push(finding(FindingKind::StalePrincipal, detail));
        }
    }
    out.extend(read.drift.iter().map(|d| Finding {
        kind: FindingKind::Drift,
        principal: d.principal.clone(),
        detail: format!("the next run would {} it: {}", verb(d.change), d.reason),
        store: Some(d.store),
    }));
    out.sort_by(|a, b| {
        (
            a.kind,
            a.principal.to_ascii_lowercase(),
            a.store.map(Store::as_str),
        )
            .cmp(&(
                b.kind,
                b.principal.to_ascii_lowercase(),
                b.store.map(Store::as_str),
            ))
    });
    out.dedup();
    out
}

fn verb(change: &str) -> &str {
    match change {
        "added" => "add",
        "removed" => "remove",
        "changed" => "change",
        other => other,
    }
}

/// The stores (and the cluster) that could not be read.
fn unreadable(read: &ClusterRead<'_>) -> Vec<Finding> {
    let finding = |store, detail: String| Finding {
        kind: FindingKind::Unreadable,
        principal: String::new(),
        detail,
        store,
    };
    let mut out = Vec::new();
    if let Some(error) = read.error
        && read.mode.is_none()
    {
        out.push(finding(
            None,
            format!("the cluster could not be read: {error}"),
        ));
    }
    match read.aws_auth {
        StoreRead::Unreadable(why) => out.push(finding(
            Some(Store::AwsAuth),
            format!("aws-auth could not be read: {why}"),
        )),
        StoreRead::Read(Some(data)) => {
            if let Err(e) = AwsAuth::read(data) {
                out.push(finding(
                    Some(Store::AwsAuth),
                    format!("aws-auth does not parse: {e}"),
                ));
            }
        }
        StoreRead::Read(None) | StoreRead::NotRead => {}
    }
    if let StoreRead::Unreadable(why) = read.entries {
        out.push(finding(
            Some(Store::AccessEntries),
            format!("the access entries could not be read: {why}"),
        ));
    }
    out
}

/// Why an entry names a principal IAM no longer has, if it does.
fn stale(read: &ClusterRead<'_>, p: &PrincipalAccess) -> Option<String> {
    if p.kind == PrincipalKind::Account || p.facts.never_matched.is_some() {
        return None;
    }
    let kind = match p.kind {
        PrincipalKind::User => "user",
        _ => "role",
    };
    match read.inventory.existence(&p.arn) {
        Existence::Missing => Some(format!("IAM has no {kind} {}", p.arn)),
        Existence::Unknown => None,
        Existence::Exists(known) if p.store == Store::AccessEntries => {
            if let Some(id) = &p.facts.principal_id
                && *id != known.id
            {
                return Some(format!(
                    "the {kind} was recreated (unique id {} now, {id} when the entry was made): EKS no longer honours the entry",
                    known.id
                ));
            }
            match (p.facts.created_at, known.created) {
                (Some(entry), Some(principal)) if entry < principal => Some(format!(
                    "the {kind} was recreated after its access entry was made: EKS no longer honours the entry"
                )),
                _ => None,
            }
        }
        Existence::Exists(_) => None,
    }
}
