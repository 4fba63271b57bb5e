//! The `kube-system/aws-auth` ConfigMap as EKS reads it, and as we may rewrite it.
//!
//! - [`section`] reads `mapRoles` / `mapUsers` / `mapAccounts` with EKS's rules and keeps each
//!   entry's bytes; [`emit`] writes a section back, unmanaged entries verbatim.
//! - [`ownership`] decides which entries are ours (an entry mark plus a ledger annotation).
//! - [`lookup`] answers "what would EKS map this principal to?"; [`effective_mappings`] gives the
//!   guards that answer for every principal at once.
//! - [`manifest`] reads and writes whole ConfigMap manifests (YAML or JSON).
//! - [`plan`] compares aws-auth with the desired set and plans the write.

pub mod effective_mappings;
pub mod emit;
pub mod lookup;
pub mod manifest;
mod node;
pub mod ownership;
pub mod plan;
pub mod restore;
pub mod section;
mod simple_list;

use std::collections::BTreeMap;

pub use ownership::{LEDGER_ANNOTATION, Ledger, MARK_KEY, MARK_VALUE, OwnershipRules};
pub use section::{ItemValue, Mapping, Section, SectionError, SectionName};

/// The ConfigMap fields eks-iam-sync reads and writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigMapData {
    pub data: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// aws-auth read with EKS's rules, each entry tagged managed or not.
#[derive(Debug, Clone)]
pub struct AwsAuth {
    pub roles: Section,
    pub users: Section,
    pub accounts: Section,
    /// The ledger annotation as found (None when absent or unreadable).
    pub ledger: Option<Ledger>,
    pub warnings: Vec<String>,
}

/// Every section that failed to parse (EKS would drop each of them whole).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ReadError(pub Vec<SectionError>);

impl AwsAuth {
    /// Reads the three sections and the ledger.
    pub fn read(current: &ConfigMapData) -> Result<AwsAuth, ReadError> {
        let mut errors = Vec::new();
        let mut read = |name: SectionName| {
            Section::parse(name, current.data.get(name.key()).map(String::as_str))
                .map_err(|e| errors.push(e))
                .ok()
        };
        let (roles, users, accounts) = (
            read(SectionName::MapRoles),
            read(SectionName::MapUsers),
            read(SectionName::MapAccounts),
        );
        let (Some(roles), Some(users), Some(accounts)) = (roles, users, accounts) else {
            return Err(ReadError(errors));
        };
        let mut warnings: Vec<String> = [&roles, &users, &accounts]
            .iter()
            .flat_map(|s| s.warnings.iter().cloned())
            .collect();
        for key in current.data.keys() {
            let known = SectionName::ALL.iter().any(|s| s.key() == key);
            if !known
                && SectionName::ALL
                    .iter()
                    .any(|s| s.key().eq_ignore_ascii_case(key))
            {
                warnings.push(format!(
                    "data.{key} is ignored by EKS: data keys are case-sensitive"
                ));
            }
        }
        let ledger = match current
            .annotations
            .get(LEDGER_ANNOTATION)
            .map(|a| Ledger::parse(a))
        {
            None => None,
            Some(Ok(ledger)) => Some(ledger),
            Some(Err(why)) => {
                warnings.push(format!(
                    "annotation {LEDGER_ANNOTATION} is unreadable ({why}); only entries carrying the {MARK_KEY} mark count as managed"
                ));
                None
            }
        };
        Ok(AwsAuth {
            roles,
            users,
            accounts,
            ledger,
            warnings,
        })
    }

    pub fn section(&self, name: SectionName) -> &Section {
        match name {
            SectionName::MapRoles => &self.roles,
            SectionName::MapUsers => &self.users,
            SectionName::MapAccounts => &self.accounts,
        }
    }
}
