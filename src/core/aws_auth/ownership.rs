//! Which aws-auth entries belong to eks-iam-sync.
//!
//! Two records, used together:
//! 1. **The mark**: every role/user entry we write carries `managedBy: eks-iam-sync`. EKS
//!    ignores unknown entry keys, so the mark costs nothing and travels with the entry.
//! 2. **The ledger**: the annotation `eks-iam-sync/managed` on the ConfigMap lists what we own
//!    (ARNs grouped by account prefix, and account ids). Tools that rewrite aws-auth through
//!    structs (eksctl, keikoproj/aws-auth) drop unknown entry keys — and with them the mark —
//!    but keep the object's annotations; `mapAccounts` items are bare strings that cannot
//!    carry a mark at all.
//!
//! An entry is managed when it carries our mark (or a mark we were told to adopt, such as
//! `syncedBy: iam-eks-user-mapper`), or when it carries no mark, the ledger lists its ARN and
//! no marked entry with that ARN exists in the section (a marked twin means the unmarked one
//! was written by someone else). Everything else is unmanaged and is never changed.
//! A ledger that does not parse is ignored with a warning: we then own less, never more.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::section::{ItemValue, Section, SectionName, folded_key};

/// The entry key and value that mark an entry as ours.
pub const MARK_KEY: &str = "managedBy";
pub const MARK_VALUE: &str = "eks-iam-sync";
/// The ConfigMap annotation holding the ledger.
pub const LEDGER_ANNOTATION: &str = "eks-iam-sync/managed";

/// Marks that make an entry ours besides our own (`syncedBy: iam-eks-user-mapper` when
/// migrating from Qovery's mapper).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnershipRules {
    pub adopted_marks: Vec<(String, String)>,
}

/// The ledger: what we own, per section, by lowercase key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    owned: BTreeMap<SectionName, BTreeSet<String>>,
}

/// The annotation's JSON: read with owned strings, written from borrowed ones.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LedgerJson<S: Ord> {
    version: u32,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    map_roles: BTreeMap<S, Vec<S>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    map_users: BTreeMap<S, Vec<S>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    map_accounts: Vec<S>,
}

impl Ledger {
    pub fn insert(&mut self, section: SectionName, key: &str) {
        self.insert_folded(section, key.to_owned());
    }

    fn insert_folded(&mut self, section: SectionName, mut key: String) {
        key.make_ascii_lowercase();
        self.owned.entry(section).or_default().insert(key);
    }

    pub fn contains(&self, section: SectionName, key: &str) -> bool {
        self.owned
            .get(&section)
            .is_some_and(|s| s.contains(folded_key(key).as_ref()))
    }

    pub fn is_empty(&self) -> bool {
        self.owned.values().all(BTreeSet::is_empty)
    }

    /// Reads the annotation value.
    pub fn parse(annotation: &str) -> Result<Ledger, String> {
        let json: LedgerJson<String> =
            serde_json::from_str(annotation).map_err(|e| e.to_string())?;
        if json.version != 1 {
            return Err(format!("unknown ledger version {}", json.version));
        }
        let mut ledger = Ledger::default();
        for (section, grouped) in [
            (SectionName::MapRoles, &json.map_roles),
            (SectionName::MapUsers, &json.map_users),
        ] {
            for (prefix, resources) in grouped {
                for resource in resources {
                    let mut key = String::with_capacity(prefix.len() + 1 + resource.len());
                    key.push_str(prefix);
                    key.push(':');
                    key.push_str(resource);
                    ledger.insert_folded(section, key);
                }
            }
        }
        for account in &json.map_accounts {
            ledger.insert(SectionName::MapAccounts, account);
        }
        Ok(ledger)
    }

    /// The annotation value: compact JSON, ARNs grouped by `arn:PARTITION:iam::ACCOUNT` so that
    /// thousands of entries stay well inside Kubernetes' 256 KiB annotation budget.
    pub fn to_annotation(&self) -> String {
        let group = |section| {
            let mut grouped: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for arn in self.owned.get(&section).into_iter().flatten() {
                let (prefix, resource) = arn.rsplit_once(':').unwrap_or(("", arn));
                grouped.entry(prefix).or_default().push(resource);
            }
            grouped
        };
        let json = LedgerJson {
            version: 1,
            map_roles: group(SectionName::MapRoles),
            map_users: group(SectionName::MapUsers),
            map_accounts: self
                .owned
                .get(&SectionName::MapAccounts)
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect(),
        };
        serde_json::to_string(&json).unwrap_or_default()
    }
}

impl OwnershipRules {
    fn is_marked(&self, value: &ItemValue) -> bool {
        let ItemValue::Mapping(mapping) = value else {
            return false;
        };
        mapping.extra.iter().any(|(k, v)| {
            (k.eq_ignore_ascii_case(MARK_KEY) && v == MARK_VALUE)
                || self
                    .adopted_marks
                    .iter()
                    .any(|(ak, av)| k.eq_ignore_ascii_case(ak) && v == av)
        })
    }

    /// Whether each item of `section` is managed by us (see the module docs for the rule).
    pub fn managed_flags(&self, section: &Section, ledger: Option<&Ledger>) -> Vec<bool> {
        let marked: Vec<bool> = section.values().map(|v| self.is_marked(v)).collect();
        let marked_keys: BTreeSet<Cow<'_, str>> = section
            .values()
            .zip(&marked)
            .filter(|(_, m)| **m)
            .map(|(v, _)| folded_key(v.key()))
            .collect();
        section
            .values()
            .zip(&marked)
            .map(|(value, &is_marked)| {
                is_marked
                    || (ledger.is_some_and(|l| l.contains(section.name, value.key()))
                        && !marked_keys.contains(&folded_key(value.key())))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(text: &str) -> Section {
        Section::parse(SectionName::MapRoles, Some(text)).unwrap()
    }

    #[test]
    fn marked_entries_are_managed_others_are_not() {
        let s = roles(
            "- rolearn: a\n  managedBy: eks-iam-sync\n- rolearn: b\n- rolearn: c\n  managedBy: someone-else\n",
        );
        assert_eq!(
            OwnershipRules::default().managed_flags(&s, None),
            [true, false, false]
        );
    }

    #[test]
    fn ledger_recovers_entries_whose_mark_was_stripped() {
        let s = roles(
            "- rolearn: arn:aws:iam::111122223333:role/A\n- rolearn: arn:aws:iam::111122223333:role/b\n",
        );
        let mut ledger = Ledger::default();
        ledger.insert(SectionName::MapRoles, "arn:aws:iam::111122223333:role/a");
        assert_eq!(
            OwnershipRules::default().managed_flags(&s, Some(&ledger)),
            [true, false]
        );
    }

    #[test]
    fn an_unmarked_twin_of_a_marked_entry_stays_unmanaged() {
        let s = roles("- rolearn: a\n  managedBy: eks-iam-sync\n- rolearn: a\n  username: human\n");
        let mut ledger = Ledger::default();
        ledger.insert(SectionName::MapRoles, "a");
        assert_eq!(
            OwnershipRules::default().managed_flags(&s, Some(&ledger)),
            [true, false]
        );
    }

    #[test]
    fn adopted_marks_count_as_ours() {
        let s = roles("- rolearn: a\n  syncedBy: iam-eks-user-mapper\n");
        let rules = OwnershipRules {
            adopted_marks: vec![("syncedBy".into(), "iam-eks-user-mapper".into())],
        };
        assert_eq!(rules.managed_flags(&s, None), [true]);
        assert_eq!(OwnershipRules::default().managed_flags(&s, None), [false]);
    }

    #[test]
    fn ledger_round_trips_through_its_annotation() {
        let mut ledger = Ledger::default();
        ledger.insert(SectionName::MapRoles, "arn:aws:iam::111122223333:role/a");
        ledger.insert(
            SectionName::MapUsers,
            "arn:aws:iam::111122223333:user/path/bob",
        );
        ledger.insert(SectionName::MapAccounts, "012345678901");
        let text = ledger.to_annotation();
        assert_eq!(
            text,
            r#"{"version":1,"mapRoles":{"arn:aws:iam::111122223333":["role/a"]},"mapUsers":{"arn:aws:iam::111122223333":["user/path/bob"]},"mapAccounts":["012345678901"]}"#
        );
        assert_eq!(Ledger::parse(&text).unwrap(), ledger);
        assert!(Ledger::parse("{not json").is_err());
    }
}
