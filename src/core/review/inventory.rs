//! What IAM holds, as the review needs it: which users and roles exist in each account it
//! could list (ListUsers / ListRoles, once per account), with their unique ids and creation
//! times. A principal of an account that was not listed is neither known nor missing.

use std::collections::BTreeMap;

use crate::core::names::{account_of, principal_key};

/// One user or role IAM listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// The unique id (`AIDA…` / `AROA…`).
    pub id: String,
    /// When IAM created it, in seconds since the epoch.
    pub created: Option<i64>,
}

/// Whether IAM has a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existence<'a> {
    Exists(&'a Known),
    Missing,
    /// Its account was not listed (another account, or its listing failed).
    Unknown,
}

/// The users and roles of every account the review listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    accounts: BTreeMap<String, BTreeMap<String, Known>>,
    notes: Vec<String>,
}

impl Inventory {
    /// Records `account`'s listing: every user and role in it, by ARN.
    pub fn add_account(
        &mut self,
        account: &str,
        principals: impl IntoIterator<Item = (String, Known)>,
    ) {
        let known = self.accounts.entry(account.to_owned()).or_default();
        for (arn, principal) in principals {
            known.insert(principal_key(&arn), principal);
        }
    }

    /// Records that `account` could not be listed, and why: its principals stay unknown.
    pub fn unreadable(&mut self, account: &str, why: &str) {
        self.notes.push(format!(
            "IAM of account {account} could not be listed ({why}): principals that no longer exist there are not found"
        ));
    }

    /// Whether IAM has the user or role `arn` names (role paths and sessions ignored, as EKS
    /// ignores them).
    pub fn existence(&self, arn: &str) -> Existence<'_> {
        let Some(known) = account_of(arn).and_then(|a| self.accounts.get(a)) else {
            return Existence::Unknown;
        };
        match known.get(&principal_key(arn)) {
            Some(principal) => Existence::Exists(principal),
            None => Existence::Missing,
        }
    }

    /// What could not be listed.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}
