//! Validation of what issue 13 adds to every mapping: `accessPolicies[]` (EKS access
//! policies, optionally scoped to namespaces) and, on `roles[]`, `accessEntryType`.
//!
//! Rules (each broken one is a [`Problem`] naming its path, value and why; all are listed):
//! - `policy` is one of [`ACCESS_POLICY_NAMES`] by short name, or its full ARN
//!   (`arn:PARTITION:eks::aws:cluster-access-policy/NAME`) in the partition of every cluster
//!   the mapping applies to; `AmazonEKSAutoNodePolicy` only on a role of type `EC2`.
//! - A policy appears once per mapping.
//! - `namespaces`, when given, is a non-empty list of namespace names (RFC 1123 labels: at
//!   most 63 lowercase letters, digits and `-`, alphanumeric at both ends), each optionally
//!   ending in `*` (a prefix match, as EKS allows), without duplicates.
//! - `accessEntryType` is `STANDARD`, `EC2_LINUX`, `EC2_WINDOWS`, `FARGATE_LINUX`,
//!   `HYBRID_LINUX` or `EC2`, on roles only. A node type (anything but `STANDARD`) takes no
//!   username and no Kubernetes groups (EKS sets both), and no access policy except
//!   `AmazonEKSAutoNodePolicy` for `EC2`.
//!
//! It does not check that a node role is of the cluster's account (the cluster's account is
//! only known at run time: the access-entries translation skips such a role with the reason).

use super::validate::Validator;
use super::{RawAccessPolicy, RawPrincipal};
use crate::core::names::PrincipalKind;
use crate::core::settings::{ACCESS_POLICY_NAMES, AUTO_NODE_POLICY_NAME, AccessPolicy, EntryType};

const POLICY_ARN_MIDDLE: &str = ":eks::aws:cluster-access-policy/";

impl Validator {
    /// Validates a mapping's `accessPolicies` (`entry_type`: a role's `accessEntryType`).
    pub(super) fn access_policies(
        &mut self,
        at: &str,
        raw: &[RawAccessPolicy],
        clusters: &[String],
        entry_type: Option<EntryType>,
    ) -> Vec<AccessPolicy> {
        let mut out: Vec<(usize, AccessPolicy)> = Vec::new();
        for (j, item) in raw.iter().enumerate() {
            let path = format!("{at}.accessPolicies[{j}]");
            let name = self.policy_name(&format!("{path}.policy"), &item.policy, clusters);
            let name = name.and_then(|name| {
                self.policy_allowed(&format!("{path}.policy"), &item.policy, name, entry_type)
            });
            let namespaces = self.namespaces(&format!("{path}.namespaces"), item);
            let Some(name) = name else { continue };
            if let Some((first, _)) = out.iter().find(|(_, p)| p.name == name) {
                self.push(
                    format!("{path}.policy"),
                    Some(&item.policy),
                    format!(
                        "policy listed twice in this mapping (first at {at}.accessPolicies[{first}]): give it once, with all its namespaces"
                    ),
                );
                continue;
            }
            out.push((
                j,
                AccessPolicy {
                    name: name.to_owned(),
                    namespaces,
                },
            ));
        }
        out.into_iter().map(|(_, p)| p).collect()
    }

    /// The policy's short name, when `text` is a known short name or a well-formed ARN in
    /// the partition of every cluster of the mapping.
    fn policy_name<'t>(
        &mut self,
        path: &str,
        text: &'t str,
        clusters: &[String],
    ) -> Option<&'t str> {
        if text.is_empty() {
            self.push(
                path,
                None,
                format!(
                    "required: an EKS access policy ({})",
                    ACCESS_POLICY_NAMES.join(", ")
                ),
            );
            return None;
        }
        let name = match text.strip_prefix("arn:") {
            None => text,
            Some(rest) => {
                let Some((partition, name)) = rest.split_once(POLICY_ARN_MIDDLE) else {
                    self.push(
                        path,
                        Some(text),
                        "not an access policy ARN (expected arn:PARTITION:eks::aws:cluster-access-policy/NAME, or the short name)",
                    );
                    return None;
                };
                let other = clusters.iter().find_map(|c| {
                    self.partitions
                        .get(c)
                        .filter(|p| **p != partition)
                        .map(|p| (c.clone(), *p))
                });
                if let Some((cluster, expected)) = other {
                    self.push(
                        path,
                        Some(text),
                        format!(
                            "policy ARN is in partition {partition}, but cluster {cluster} is in partition {expected} (write the short name to mean every partition)"
                        ),
                    );
                    return None;
                }
                name
            }
        };
        if ACCESS_POLICY_NAMES.contains(&name) || name == AUTO_NODE_POLICY_NAME {
            Some(name)
        } else {
            self.push(
                path,
                Some(text),
                format!(
                    "not an EKS access policy (one of: {})",
                    ACCESS_POLICY_NAMES.join(", ")
                ),
            );
            None
        }
    }

    /// Whether `name` may be associated with an entry of `entry_type`.
    fn policy_allowed<'n>(
        &mut self,
        path: &str,
        text: &str,
        name: &'n str,
        entry_type: Option<EntryType>,
    ) -> Option<&'n str> {
        let why = match entry_type {
            Some(EntryType::Ec2) if name == AUTO_NODE_POLICY_NAME => return Some(name),
            Some(EntryType::Ec2) => {
                format!("an EC2 (Auto Mode node class) entry takes only {AUTO_NODE_POLICY_NAME}")
            }
            Some(t) if t.is_node() => {
                format!("EKS allows no access policy on {} entries", t.as_str())
            }
            _ if name == AUTO_NODE_POLICY_NAME => format!(
                "{AUTO_NODE_POLICY_NAME} is for roles with accessEntryType EC2 (Auto Mode node classes) only"
            ),
            _ => return Some(name),
        };
        self.push(path, Some(text), why);
        None
    }

    /// The scope: empty for cluster scope; sorted, valid namespace patterns otherwise.
    fn namespaces(&mut self, path: &str, item: &RawAccessPolicy) -> Vec<String> {
        let Some(list) = &item.namespaces else {
            return Vec::new();
        };
        if list.is_empty() {
            self.push(
                path,
                None,
                "empty list: give at least one namespace, or omit `namespaces` for cluster scope",
            );
        }
        let mut out: Vec<String> = Vec::new();
        for (k, ns) in list.iter().enumerate() {
            let at = format!("{path}[{k}]");
            if !is_namespace_pattern(ns) {
                self.push(
                    at,
                    Some(ns),
                    "not a namespace name (at most 63 lowercase letters, digits and -, starting and ending with a letter or digit), optionally ending in * to match a prefix",
                );
            } else if out.contains(ns) {
                self.push(at, Some(ns), "namespace listed twice");
            } else {
                out.push(ns.clone());
            }
        }
        out.sort();
        out
    }

    /// Validates a `roles[]` / `users[]` item's `accessEntryType` and what its type forbids.
    pub(super) fn entry_type(
        &mut self,
        at: &str,
        kind: PrincipalKind,
        p: &RawPrincipal,
    ) -> Option<EntryType> {
        let text = p.access_entry_type.as_deref()?;
        let path = format!("{at}.accessEntryType");
        if kind != PrincipalKind::Role {
            self.push(
                path,
                Some(text),
                "only roles take an access entry type (a user's entry is always STANDARD)",
            );
            return None;
        }
        let Some(entry_type) = EntryType::parse(text) else {
            let known: Vec<&str> = EntryType::ALL.iter().map(|t| t.as_str()).collect();
            self.push(
                path,
                Some(text),
                format!("not an access entry type (one of: {})", known.join(", ")),
            );
            return None;
        };
        if entry_type.is_node() {
            let name = entry_type.as_str();
            if !p.username.is_empty() {
                self.push(
                    format!("{at}.username"),
                    Some(&p.username),
                    format!("EKS sets the username of {name} entries: omit username"),
                );
            }
            if !p.kubernetes_groups.is_empty() {
                self.push(
                    format!("{at}.kubernetesGroups"),
                    None,
                    format!(
                        "EKS allows no Kubernetes groups on {name} entries (it gives nodes their own): omit kubernetesGroups"
                    ),
                );
            }
        }
        Some(entry_type)
    }
}

/// A namespace name (RFC 1123 label), or a prefix of one followed by `*`.
pub fn is_namespace_pattern(text: &str) -> bool {
    let (base, wildcard) = match text.strip_suffix('*') {
        Some(base) => (base, true),
        None => (text, false),
    };
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !base.is_empty()
        && base.len() <= 63
        && base.chars().all(ok_char)
        && base.starts_with(alnum)
        && (wildcard || base.ends_with(alnum))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_patterns() {
        for ok in ["team-a", "a", "team-a-*", "t*", "0abc"] {
            assert!(is_namespace_pattern(ok), "{ok}");
        }
        for bad in [
            "",
            "*",
            "Team",
            "team_a",
            "-a",
            "a-",
            "a*b",
            "a**",
            &"a".repeat(64),
        ] {
            assert!(!is_namespace_pattern(bad), "{bad}");
        }
    }
}
