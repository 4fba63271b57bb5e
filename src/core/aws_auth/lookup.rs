//! What EKS maps a principal to, given aws-auth's entries: the guards' view of access.
//!
//! The caller's ARN is canonicalized (assumed-role → role, role path dropped); roles are
//! searched before users, ARNs compare case-insensitively and the last duplicate wins; a
//! principal of an account listed in mapAccounts with no mapping gets its ARN as username
//! and no groups.

use super::section::{ItemValue, SectionName};
use crate::core::names::{PrincipalKind, account_of, canonical_principal_arn};

/// The identity EKS would give a principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedIdentity {
    pub username: String,
    pub groups: Vec<String>,
}

/// The effective entries of aws-auth, in order, per section.
pub trait Entries {
    fn entries(&self, section: SectionName) -> Vec<&ItemValue>;
}

/// Looks a principal up the way EKS does. `None`: no access through aws-auth.
pub fn lookup(entries: &impl Entries, principal_arn: &str) -> Option<MappedIdentity> {
    let canonical = canonical_principal_arn(principal_arn).ok()?;
    let order: &[SectionName] = match canonical.kind {
        PrincipalKind::Role => &[SectionName::MapRoles, SectionName::MapUsers],
        PrincipalKind::User => &[SectionName::MapUsers],
    };
    for &section in order {
        let found = entries
            .entries(section)
            .into_iter()
            .rev()
            .find_map(|v| match v {
                ItemValue::Mapping(m) if m.arn.eq_ignore_ascii_case(&canonical.arn) => Some(m),
                _ => None,
            });
        if let Some(m) = found {
            return Some(MappedIdentity {
                username: m.username.clone().unwrap_or_default(),
                groups: m.groups.clone(),
            });
        }
    }
    let account = account_of(&canonical.arn)?;
    entries
        .entries(SectionName::MapAccounts)
        .iter()
        .any(|v| v.key() == account)
        .then(|| MappedIdentity {
            username: canonical.arn.clone(),
            groups: Vec::new(),
        })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::core::aws_auth::section::Section;

    struct Fixture(BTreeMap<SectionName, Section>);

    impl Entries for Fixture {
        fn entries(&self, section: SectionName) -> Vec<&ItemValue> {
            self.0
                .get(&section)
                .map(|s| s.values().collect())
                .unwrap_or_default()
        }
    }

    fn fixture(roles: &str, users: &str, accounts: &str) -> Fixture {
        Fixture(
            [
                (SectionName::MapRoles, roles),
                (SectionName::MapUsers, users),
                (SectionName::MapAccounts, accounts),
            ]
            .into_iter()
            .map(|(n, t)| (n, Section::parse(n, Some(t)).unwrap()))
            .collect(),
        )
    }

    #[test]
    fn assumed_role_sessions_match_their_role_case_insensitively() {
        let f = fixture(
            "- rolearn: arn:aws:iam::111122223333:role/Admin\n  username: admin\n  groups: [system:masters]\n",
            "",
            "",
        );
        let access = lookup(&f, "arn:aws:sts::111122223333:assumed-role/admin/session").unwrap();
        assert_eq!(access.groups, ["system:masters"]);
    }

    #[test]
    fn last_duplicate_wins() {
        let f = fixture(
            "- rolearn: arn:aws:iam::111122223333:role/a\n  username: first\n- rolearn: arn:aws:iam::111122223333:role/a\n  username: second\n",
            "",
            "",
        );
        assert_eq!(
            lookup(&f, "arn:aws:iam::111122223333:role/a")
                .unwrap()
                .username,
            "second"
        );
    }

    #[test]
    fn accounts_grant_arn_as_username_without_groups() {
        let f = fixture("", "", "- \"111122223333\"\n");
        let access = lookup(&f, "arn:aws:iam::111122223333:user/bob").unwrap();
        assert_eq!(
            access,
            MappedIdentity {
                username: "arn:aws:iam::111122223333:user/bob".into(),
                groups: vec![]
            }
        );
        assert_eq!(lookup(&f, "arn:aws:iam::444455556666:user/bob"), None);
    }

    #[test]
    fn users_are_not_found_in_map_roles() {
        let f = fixture("- rolearn: arn:aws:iam::111122223333:user/bob\n", "", "");
        assert_eq!(lookup(&f, "arn:aws:iam::111122223333:user/bob"), None);
    }
}
