//! aws-auth's effective entries, and the guards' view of them: what EKS would grant each
//! principal, found the way EKS looks a caller up ([`super::lookup`]).
//!
//! It owns the translation of aws-auth into a [`AccessView`]; the guards themselves
//! live in [`crate::core::guards`] and know nothing of aws-auth.

use std::collections::{BTreeMap, BTreeSet};

use super::lookup::Entries;
use super::{ItemValue, Mapping, SectionName};
use crate::core::guards::{AccessView, Holding, MASTERS, NODES};
use crate::core::names::{PrincipalKind, account_of, canonical_principal_arn, principal_key};

/// aws-auth's effective entries, per section, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EffectiveMappings(pub BTreeMap<SectionName, Vec<ItemValue>>);

impl Entries for EffectiveMappings {
    fn entries(&self, section: SectionName) -> Vec<&ItemValue> {
        self.0
            .get(&section)
            .map(|v| v.iter().collect())
            .unwrap_or_default()
    }
}

impl EffectiveMappings {
    /// What EKS would grant, per principal. As EKS looks a caller up: roles are found in
    /// `mapRoles` before `mapUsers`, users only in `mapUsers`, ARNs compare
    /// case-insensitively and the last duplicate wins. An entry EKS can never match (an ARN
    /// that does not parse, a role written with its path, a session ARN, a user in
    /// `mapRoles`) grants nothing: it is kept under its section and text, holding neither
    /// admin nor node, so no guard counts on it. Each `protected` principal that only an
    /// account in `mapAccounts` lets in holds that (no groups).
    pub fn access_view(&self, protected: &[String]) -> AccessView {
        let mut view = AccessView::default();
        let mut found_in_roles = BTreeSet::new();
        for section in [SectionName::MapRoles, SectionName::MapUsers] {
            for value in self.0.get(&section).into_iter().flatten() {
                let ItemValue::Mapping(m) = value else {
                    continue;
                };
                let key = match canonical_principal_arn(&m.arn) {
                    Err(_) => {
                        view.set(m.arn.to_ascii_lowercase(), unmatched(section, m));
                        continue;
                    }
                    Ok(c) if !c.arn.eq_ignore_ascii_case(&m.arn) => {
                        view.set(unmatched_key(section, m), unmatched(section, m));
                        continue;
                    }
                    Ok(c) if section == SectionName::MapRoles && c.kind == PrincipalKind::User => {
                        view.set(unmatched_key(section, m), unmatched(section, m));
                        continue;
                    }
                    Ok(c) => {
                        let key = c.arn.to_ascii_lowercase();
                        if section == SectionName::MapRoles {
                            found_in_roles.insert(key.clone());
                        } else if found_in_roles.contains(&key) {
                            continue; // EKS finds the role in mapRoles first.
                        }
                        key
                    }
                };
                view.set(key, holding(section, m));
            }
        }
        for principal in protected {
            let key = principal_key(principal);
            let account = account_of(principal);
            let admitted = self
                .0
                .get(&SectionName::MapAccounts)
                .into_iter()
                .flatten()
                .any(|v| Some(v.key()) == account);
            if !view.contains(&key) && admitted {
                let canonical = canonical_principal_arn(principal).map(|c| c.arn);
                view.set(
                    key,
                    Holding {
                        label: format!("{} {}", SectionName::MapAccounts, account.unwrap_or("")),
                        username: canonical.ok(),
                        admin: false,
                        node: false,
                    },
                );
            }
        }
        view
    }
}

fn unmatched_key(section: SectionName, m: &Mapping) -> String {
    format!("{section} {}", m.arn.to_ascii_lowercase())
}

/// An entry EKS never matches: listed, granting nothing.
fn unmatched(section: SectionName, m: &Mapping) -> Holding {
    Holding {
        admin: false,
        node: false,
        ..holding(section, m)
    }
}

fn holding(section: SectionName, m: &Mapping) -> Holding {
    Holding {
        label: format!("{section} {}", m.arn),
        username: Some(m.username.clone().unwrap_or_default()),
        admin: m.groups.iter().any(|g| g == MASTERS),
        node: m.groups.iter().any(|g| g == NODES),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::aws_auth::AwsAuth;
    use crate::fixtures::{aws_auth_data, role_arn, user_arn};

    fn view(roles: &str, users: &str, accounts: &str, protected: &[String]) -> AccessView {
        let aws_auth = AwsAuth::read(&aws_auth_data(roles, users, accounts)).unwrap();
        let effective = EffectiveMappings(
            SectionName::ALL
                .into_iter()
                .map(|name| (name, aws_auth.section(name).values().cloned().collect()))
                .collect(),
        );
        effective.access_view(protected)
    }

    #[test]
    fn the_last_duplicate_decides_what_a_principal_holds() {
        let roles = "- rolearn: arn:aws:iam::111122223333:role/a\n  groups: [system:masters]\n- rolearn: arn:aws:iam::111122223333:role/A\n  groups: [viewers]\n";
        let v = view(roles, "", "", &[]);
        let a = v.get(&role_arn("a")).unwrap();
        assert!(!a.admin, "{a:?}");
        assert_eq!(a.label, "mapRoles arn:aws:iam::111122223333:role/A");
    }

    #[test]
    fn a_role_is_found_in_map_roles_before_map_users() {
        let roles = "- rolearn: arn:aws:iam::111122223333:role/a\n  groups: [viewers]\n";
        let users = "- userarn: arn:aws:iam::111122223333:role/a\n  groups: [system:masters]\n";
        assert!(
            !view(roles, users, "", &[])
                .get(&role_arn("a"))
                .unwrap()
                .admin
        );
        assert!(view("", users, "", &[]).get(&role_arn("a")).unwrap().admin);
    }

    #[test]
    fn entries_eks_never_matches_are_listed_but_grant_nothing() {
        let roles = "- rolearn: arn:aws:iam::111122223333:role/team/a\n  groups: [system:nodes]\n- rolearn: arn:aws:iam::111122223333:role/team/Admin\n  groups: [system:masters]\n- rolearn: not-an-arn\n  groups: [system:masters]\n";
        let v = view(roles, "", "", &[]);
        assert!(v.get(&role_arn("a")).is_none());
        assert!(v.get(&role_arn("Admin")).is_none());
        let holdings = v.holdings();
        assert_eq!(holdings.len(), 3, "{holdings:?}");
        assert!(
            holdings.iter().all(|(_, h)| !h.admin && !h.node),
            "{holdings:?}"
        );
        assert!(!v.get("not-an-arn").unwrap().admin);
    }

    #[test]
    fn a_protected_principal_let_in_by_its_account_holds_that() {
        let me = user_arn("me");
        let v = view("", "", "- \"111122223333\"\n", std::slice::from_ref(&me));
        let held = v.get(&me).unwrap();
        assert_eq!(held.username.as_deref(), Some(me.as_str()));
        assert!(!held.admin && !held.node);
        assert!(
            view("", "", "", std::slice::from_ref(&me))
                .get(&me)
                .is_none()
        );
    }
}
