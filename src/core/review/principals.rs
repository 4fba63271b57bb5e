//! Who gets into one cluster, store by store, as EKS decides it for the cluster's mode: one
//! [`PrincipalAccess`] per (principal, store) it appears in.
//!
//! aws-auth is read with EKS's rules ([`crate::core::aws_auth`]): roles are found in
//! `mapRoles` before `mapUsers`, the last duplicate wins, and an entry EKS can never match
//! (an ARN with a path, a session, a user in `mapRoles`, text that is no ARN) is listed but
//! grants nothing. In `API_AND_CONFIG_MAP` a principal's access entry outranks its aws-auth
//! mapping; in `API` aws-auth is not read at all.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Serialize, Serializer};

use super::{ClusterRead, StoreRead};
use crate::core::access_entries::{CurrentEntry, PRINCIPAL_ID_TAG, PolicyGrant, STANDARD};
use crate::core::aws_auth::{AwsAuth, ItemValue, Mapping, SectionName};
use crate::core::desired::DesiredSet;
use crate::core::effective::{AuthenticationMode, Store};
use crate::core::guards::{CLUSTER_ADMIN_POLICY_NAME, MASTERS, NODES};
use crate::core::names::{self, account_of, canonical_principal_arn, principal_key};

use super::findings::FindingKind;

/// The group EKS gives nodes while they join (aws-auth node mappings carry it).
const BOOTSTRAPPERS: &str = "system:bootstrappers";

/// What kind of principal an entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    User,
    Role,
    /// A `mapAccounts` entry: every principal of the account without a mapping.
    Account,
}

impl PrincipalKind {
    /// The name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Role => "role",
            PrincipalKind::Account => "account",
        }
    }
}

/// One principal's access through one store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrincipalAccess {
    /// As EKS matches it (canonical role ARN; the access entry's ARN; the account id for
    /// `mapAccounts`); as written when EKS never matches it.
    pub arn: String,
    /// The principal's account (other accounts' principals are shown with theirs).
    pub account: String,
    pub kind: PrincipalKind,
    pub username: String,
    pub groups: Vec<String>,
    pub access_policies: Vec<PolicyGrant>,
    #[serde(serialize_with = "store_name")]
    pub store: Store,
    /// This store is the one EKS uses for this principal in the cluster's mode.
    pub effective: bool,
    /// Ours (marked, ledgered or tagged).
    pub managed: bool,
    /// Effective cluster-admin: `system:masters` EKS would match, or ClusterAdmin at cluster
    /// scope.
    pub admin: bool,
    /// A node or Karpenter role (`system:nodes`, or an access entry of a node type).
    pub node: bool,
    /// Why we grant it; empty for entries we do not manage.
    pub because: String,
    /// The kinds of the cluster's findings about this principal in this store.
    pub findings: Vec<FindingKind>,
    /// Why the entry is not effective, when it is not.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
    #[serde(skip)]
    pub(super) facts: Facts,
}

impl PrincipalAccess {
    /// What this entry lets the principal do, in one word: `admin`, `node`, `access`, or
    /// `none` (the entry is not the one EKS uses).
    pub fn access_level(&self) -> &'static str {
        match (self.effective, self.admin, self.node) {
            (false, _, _) => "none",
            (true, true, _) => "admin",
            (true, false, true) => "node",
            (true, false, false) => "access",
        }
    }
}

/// What the findings need to know of an entry beyond what is shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Facts {
    /// [`principal_key`] of the ARN.
    pub key: String,
    /// Why EKS never matches this aws-auth entry.
    pub never_matched: Option<String>,
    /// An access entry outranks this aws-auth mapping.
    pub shadowed: bool,
    /// The `eks-iam-sync/principal-id` tag of an access entry.
    pub principal_id: Option<String>,
    /// When EKS created the access entry (epoch seconds).
    pub created_at: Option<i64>,
}

fn store_name<S: Serializer>(store: &Store, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(store.as_str())
}

/// Why the desired set grants a principal, and whether as an admin, by [`principal_key`].
pub(super) struct Grants(BTreeMap<String, (String, bool)>);

impl Grants {
    pub fn of(desired: Option<&DesiredSet>) -> Grants {
        let mut grants = BTreeMap::new();
        let Some(desired) = desired else {
            return Grants(grants);
        };
        for section in [SectionName::MapRoles, SectionName::MapUsers] {
            for m in desired.mappings(section) {
                let admin = m.groups.iter().any(|g| g == MASTERS)
                    || m.access
                        .policies
                        .iter()
                        .any(|p| p.name == CLUSTER_ADMIN_POLICY_NAME && p.namespaces.is_empty());
                grants.insert(principal_key(&m.arn), (m.reason.clone(), admin));
            }
        }
        for (account, reason) in desired.accounts() {
            grants.insert(account.clone(), (reason.clone(), false));
        }
        Grants(grants)
    }

    pub fn reason(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|(reason, _)| reason.as_str())
    }

    pub fn grants_admin(&self, key: &str) -> bool {
        self.0.get(key).is_some_and(|(_, admin)| *admin)
    }
}

/// Every (principal, store) of the cluster, in store order as read.
pub(super) fn principals(read: &ClusterRead<'_>, grants: &Grants) -> Vec<PrincipalAccess> {
    let entries = match read.entries {
        StoreRead::Read(entries) => Some(entries),
        _ => None,
    };
    let entry_keys: BTreeSet<String> = entries
        .into_iter()
        .flatten()
        .map(|e| principal_key(&e.principal_arn))
        .collect();
    let mut out = Vec::new();
    if let StoreRead::Read(Some(data)) = read.aws_auth
        && let Ok(aws_auth) = AwsAuth::read(data)
    {
        out.extend(aws_auth_principals(read, &aws_auth, &entry_keys, grants));
    }
    out.extend(
        entries
            .into_iter()
            .flatten()
            .map(|e| entry_principal(e, grants)),
    );
    out
}

fn aws_auth_principals(
    read: &ClusterRead<'_>,
    aws_auth: &AwsAuth,
    entry_keys: &BTreeSet<String>,
    grants: &Grants,
) -> Vec<PrincipalAccess> {
    let mode = read.mode;
    let both = mode == Some(AuthenticationMode::ApiAndConfigMap);
    let ignored = mode == Some(AuthenticationMode::Api);
    let mut out = Vec::new();
    let mut found_in_roles = BTreeSet::new();
    for section in SectionName::ALL {
        let s = aws_auth.section(section);
        let managed = read.ownership.managed_flags(s, aws_auth.ledger.as_ref());
        let values: Vec<&ItemValue> = s.values().collect();
        let matched: Vec<Result<names::CanonicalArn, String>> = values
            .iter()
            .map(|v| match v {
                ItemValue::Mapping(m) => matching(section, m),
                ItemValue::Account(_) => Err(String::new()),
            })
            .collect();
        // The last duplicate wins: each key's last matched index.
        let last: BTreeMap<String, usize> = matched
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().ok().map(|c| (c.arn.to_ascii_lowercase(), i)))
            .collect();
        for (i, value) in values.iter().enumerate() {
            let managed = managed[i];
            let (mut access, key) = match value {
                ItemValue::Account(id) => (
                    PrincipalAccess {
                        arn: id.clone(),
                        account: id.clone(),
                        kind: PrincipalKind::Account,
                        ..blank(Store::AwsAuth)
                    },
                    id.clone(),
                ),
                ItemValue::Mapping(m) => {
                    let kind = |k| match k {
                        names::PrincipalKind::Role => PrincipalKind::Role,
                        names::PrincipalKind::User => PrincipalKind::User,
                    };
                    let (arn, kind, never) = match &matched[i] {
                        Ok(c) => (c.arn.clone(), kind(c.kind), None),
                        Err(why) => {
                            let parsed = canonical_principal_arn(&m.arn).map(|c| kind(c.kind));
                            let by_section = match section {
                                SectionName::MapUsers => PrincipalKind::User,
                                _ => PrincipalKind::Role,
                            };
                            (
                                m.arn.clone(),
                                parsed.unwrap_or(by_section),
                                Some(why.clone()),
                            )
                        }
                    };
                    let key = arn.to_ascii_lowercase();
                    let admitted = matches!(
                        mode,
                        Some(AuthenticationMode::ConfigMap)
                            | Some(AuthenticationMode::ApiAndConfigMap)
                    );
                    let mut access = PrincipalAccess {
                        account: account_of(&arn).unwrap_or_default().to_owned(),
                        arn,
                        kind,
                        username: m.username.clone().unwrap_or_default(),
                        groups: m.groups.clone(),
                        node: m.groups.iter().any(|g| g == NODES || g == BOOTSTRAPPERS),
                        ..blank(Store::AwsAuth)
                    };
                    access.note = if ignored {
                        "EKS ignores aws-auth in API mode".to_owned()
                    } else if let Some(why) = &never {
                        why.clone()
                    } else if last.get(&key) != Some(&i) {
                        format!("a later {section} entry for the same ARN is the one EKS uses")
                    } else if section == SectionName::MapUsers && found_in_roles.contains(&key) {
                        "EKS finds this role in mapRoles first".to_owned()
                    } else if both && entry_keys.contains(&key) {
                        access.facts.shadowed = true;
                        "its access entry outranks this mapping".to_owned()
                    } else {
                        String::new()
                    };
                    access.effective = admitted && access.note.is_empty();
                    access.admin = access.effective && m.groups.iter().any(|g| g == MASTERS);
                    access.facts.never_matched = never;
                    if section == SectionName::MapRoles && matched[i].is_ok() {
                        found_in_roles.insert(key.clone());
                    }
                    (access, key)
                }
            };
            if matches!(value, ItemValue::Account(_)) {
                access.effective = !ignored && mode.is_some();
                if ignored {
                    access.note = "EKS ignores aws-auth in API mode".to_owned();
                }
            }
            access.managed = managed;
            if managed {
                access.because = grants.reason(&key).unwrap_or_default().to_owned();
            }
            access.facts.key = key;
            out.push(access);
        }
    }
    out
}

/// The canonical ARN EKS matches an aws-auth mapping by, or why it never matches it.
fn matching(section: SectionName, m: &Mapping) -> Result<names::CanonicalArn, String> {
    match canonical_principal_arn(&m.arn) {
        Err(e) => Err(format!("EKS never matches it: {e}")),
        Ok(c) if m.arn.contains(":assumed-role/") => Err(format!(
            "a session ARN: EKS matches callers by their role, {}",
            c.arn
        )),
        Ok(c) if !c.arn.eq_ignore_ascii_case(&m.arn) => Err(format!(
            "a role ARN with a path: EKS matches roles without their path, as {}",
            c.arn
        )),
        Ok(c) if section == SectionName::MapRoles && c.kind == names::PrincipalKind::User => {
            Err("a user in mapRoles: EKS looks users up in mapUsers only".to_owned())
        }
        Ok(c) => Ok(c),
    }
}

fn entry_principal(e: &CurrentEntry, grants: &Grants) -> PrincipalAccess {
    let key = principal_key(&e.principal_arn);
    let kind = match canonical_principal_arn(&e.principal_arn).map(|c| c.kind) {
        Ok(names::PrincipalKind::User) => PrincipalKind::User,
        _ => PrincipalKind::Role,
    };
    let managed = e.is_managed();
    PrincipalAccess {
        arn: e.principal_arn.clone(),
        account: account_of(&e.principal_arn).unwrap_or_default().to_owned(),
        kind,
        username: e.username.clone().unwrap_or_default(),
        groups: e.groups.clone(),
        access_policies: e.policies.iter().map(PolicyGrant::of).collect(),
        effective: true,
        managed,
        admin: e.is_admin() || e.groups.iter().any(|g| g == MASTERS),
        node: e.entry_type != STANDARD,
        because: if managed {
            grants.reason(&key).unwrap_or_default().to_owned()
        } else {
            String::new()
        },
        note: if e.policies_unread {
            "its access policies were not read".to_owned()
        } else {
            String::new()
        },
        facts: Facts {
            key,
            principal_id: e.tags.get(PRINCIPAL_ID_TAG).cloned(),
            created_at: e.created_at,
            ..Facts::default()
        },
        ..blank(Store::AccessEntries)
    }
}

fn blank(store: Store) -> PrincipalAccess {
    PrincipalAccess {
        arn: String::new(),
        account: String::new(),
        kind: PrincipalKind::Role,
        username: String::new(),
        groups: Vec::new(),
        access_policies: Vec::new(),
        store,
        effective: false,
        managed: false,
        admin: false,
        node: false,
        because: String::new(),
        findings: Vec::new(),
        note: String::new(),
        facts: Facts::default(),
    }
}
