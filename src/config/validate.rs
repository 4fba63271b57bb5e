//! Validation of a [`RawConfig`] into [`Settings`]: every problem is collected, none stops the
//! others. The rules are listed in the parent module's documentation.

use std::collections::{BTreeMap, HashMap};

use super::*;
use crate::core::names::{SSO_ROLE_NAME_PREFIX, is_cluster_name};
use crate::core::settings::{DEFAULT_DRIFT_REPAIR_INTERVAL, EntryType};

const USERNAME_TEMPLATES: &[&str] = &[
    "AccountID",
    "SessionName",
    "SessionNameRaw",
    "EC2PrivateDNSName",
    "AccessKeyID",
];
/// `system:` groups that an access-entries cluster can still express.
const ACCESS_ENTRY_SYSTEM_GROUPS: &[&str] =
    &["system:masters", "system:bootstrappers", "system:nodes"];

/// Validates a raw configuration, returning every problem found (never just the first).
pub fn validate(raw: &RawConfig) -> Result<Settings, Vec<Problem>> {
    let mut v = Validator::default();
    let clusters = v.clusters(&raw.clusters);
    let all: Vec<String> = clusters.iter().map(|c| c.name.clone()).collect();
    let backends: BTreeMap<String, Backend> = clusters
        .iter()
        .map(|c| (c.name.clone(), c.backend))
        .collect();
    v.all_clusters = all;
    v.backends = backends;
    v.partitions = clusters
        .iter()
        .filter_map(|c| Some((c.name.clone(), region_partition(&c.region)?)))
        .collect();

    let mut seen = Seen::default();
    let groups = raw
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let at = format!("groups[{i}]");
            if g.iam_group.is_empty() {
                v.push(
                    format!("{at}.iamGroup"),
                    None,
                    "required: the IAM group whose members get access",
                );
            } else if !is_iam_name(&g.iam_group) {
                v.push(
                    format!("{at}.iamGroup"),
                    Some(&g.iam_group),
                    "not an IAM group name (letters, digits, +=,.@_-)",
                );
            } else {
                seen.check(
                    &mut v,
                    &format!("{at}.iamGroup"),
                    &g.iam_group,
                    g.iam_group.to_ascii_lowercase(),
                    "IAM group",
                );
            }
            let prefix = g.username_prefix.clone().unwrap_or_default();
            if prefix
                .chars()
                .any(|c| c.is_whitespace() || c == '{' || c == '}')
            {
                v.push(
                    format!("{at}.usernamePrefix"),
                    Some(&prefix),
                    "must not contain blanks or template braces",
                );
            }
            let clusters = v.cluster_refs(&at, g.clusters.as_deref());
            let access_policies = v.access_policies(&at, &g.access_policies, &clusters, None);
            let kubernetes_groups = v.kubernetes_groups(
                &at,
                &g.kubernetes_groups,
                g.access_policies.is_empty(),
                &clusters,
            );
            GroupMapping {
                iam_group: g.iam_group.clone(),
                kubernetes_groups,
                username_prefix: prefix,
                access_policies,
                clusters,
            }
        })
        .collect();

    let users = v.principals("users", &raw.users, PrincipalKind::User, &mut seen);
    let roles = v.principals("roles", &raw.roles, PrincipalKind::Role, &mut seen);

    let sso_permission_sets = raw
        .sso_permission_sets
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let at = format!("ssoPermissionSets[{i}]");
            if p.name.is_empty() {
                v.push(
                    format!("{at}.name"),
                    None,
                    "required: the permission set name",
                );
            } else if p.name.starts_with(SSO_ROLE_NAME_PREFIX) {
                let hint = match sso_permission_set_of_role(&p.name) {
                    Some(name) => {
                        format!("this is a role name; use the permission set name \"{name}\"")
                    }
                    None => "this is a role name; use the permission set name".to_owned(),
                };
                v.push(format!("{at}.name"), Some(&p.name), hint);
            } else if !is_iam_name(&p.name) || p.name.len() > 32 {
                v.push(
                    format!("{at}.name"),
                    Some(&p.name),
                    "not a permission set name (1-32 of letters, digits, +=,.@_-)",
                );
            } else {
                seen.check(
                    &mut v,
                    &format!("{at}.name"),
                    &p.name,
                    p.name.to_ascii_lowercase(),
                    "permission set",
                );
            }
            v.username(&format!("{at}.username"), &p.username);
            let clusters = v.cluster_refs(&at, p.clusters.as_deref());
            let access_policies = v.access_policies(&at, &p.access_policies, &clusters, None);
            let kubernetes_groups = v.kubernetes_groups(
                &at,
                &p.kubernetes_groups,
                p.access_policies.is_empty(),
                &clusters,
            );
            SsoPermissionSetMapping {
                name: p.name.clone(),
                username: p.username.clone(),
                kubernetes_groups,
                access_policies,
                clusters,
            }
        })
        .collect();

    let mut accounts = Vec::new();
    for (i, account) in raw.accounts.iter().enumerate() {
        let at = format!("accounts[{i}]");
        match account {
            RawAccountId::Text(text) if is_account_id(text) => {
                if seen.check(&mut v, &at, text, text.clone(), "account") {
                    accounts.push(text.clone());
                }
            }
            RawAccountId::Text(text) => v.push(at, Some(text), "an account id is exactly 12 digits"),
            RawAccountId::NotText(value) => v.push(
                at,
                Some(value),
                "an account id must be a string: quote it (\"012345678901\"); as a number it loses leading zeros",
            ),
        }
    }

    let drift_repair_interval = match raw.drift_repair_interval.as_deref() {
        None => DEFAULT_DRIFT_REPAIR_INTERVAL,
        Some(text) => match drift_interval(text) {
            Some(interval) => interval,
            None => {
                v.push(
                    "driftRepairInterval",
                    Some(text),
                    "must be a duration from 1m to 24h, such as 30m or 2h",
                );
                DEFAULT_DRIFT_REPAIR_INTERVAL
            }
        },
    };

    let guards = match raw.guards.as_ref().and_then(|g| g.max_removal_fraction) {
        None => Guards::default(),
        Some(f) if f.is_finite() && f > 0.0 && f <= 1.0 => Guards {
            max_removal_fraction: f,
        },
        Some(f) => {
            v.push(
                "guards.maxRemovalFraction",
                Some(&f.to_string()),
                "must be in (0, 1]: the largest fraction of managed entries one run may remove",
            );
            Guards::default()
        }
    };

    let iam_assume_role_arn = raw
        .iam
        .as_ref()
        .and_then(|iam| iam.assume_role_arn.as_deref())
        .and_then(|text| match IamArn::parse_kind(text, PrincipalKind::Role) {
            Ok(arn) => Some(arn),
            Err(e) => {
                v.push("iam.assumeRoleArn", Some(text), e.to_string());
                None
            }
        });

    let review = raw.review.as_ref().map(|raw| buckets::review(&mut v, raw));
    let history = raw
        .history
        .as_ref()
        .map(|raw| buckets::history(&mut v, raw));

    if v.problems.is_empty() {
        Ok(Settings {
            drift_repair_interval,
            review,
            history,
            clusters,
            groups,
            users,
            roles,
            sso_permission_sets,
            accounts,
            guards,
            iam_assume_role_arn,
        })
    } else {
        Err(v.problems)
    }
}

#[derive(Default)]
pub(super) struct Validator {
    pub(super) problems: Vec<Problem>,
    all_clusters: Vec<String>,
    backends: BTreeMap<String, Backend>,
    /// Each valid cluster's partition (from its region).
    pub(super) partitions: BTreeMap<String, &'static str>,
}

/// First occurrence of each (kind, key), for duplicate detection across the document.
#[derive(Default)]
struct Seen(HashMap<(&'static str, String), String>);

impl Seen {
    /// Records `key`; reports a duplicate (and returns false) when it was already seen.
    fn check(
        &mut self,
        v: &mut Validator,
        path: &str,
        value: &str,
        key: String,
        what: &'static str,
    ) -> bool {
        match self.0.get(&(what, key.clone())) {
            Some(first) => {
                v.push(
                    path,
                    Some(value),
                    format!("duplicate {what} (first at {first})"),
                );
                false
            }
            None => {
                self.0.insert((what, key), path.to_owned());
                true
            }
        }
    }
}

impl Validator {
    pub(super) fn push(
        &mut self,
        path: impl Into<String>,
        value: Option<&str>,
        why: impl Into<String>,
    ) {
        self.problems.push(Problem::new(path, value, why));
    }

    fn clusters(&mut self, raw: &[RawCluster]) -> Vec<Cluster> {
        if raw.is_empty() {
            self.push("clusters", None, "at least one cluster is required");
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut out = Vec::new();
        for (i, c) in raw.iter().enumerate() {
            let at = format!("clusters[{i}]");
            let mut ok = true;
            if c.name.is_empty() {
                self.push(format!("{at}.name"), None, "required: the EKS cluster name");
                ok = false;
            } else if !is_cluster_name(&c.name) {
                self.push(
                    format!("{at}.name"),
                    Some(&c.name),
                    "not an EKS cluster name (letter or digit first, then letters, digits, - and _; at most 100)",
                );
                ok = false;
            } else if let Some(first) = seen.get(c.name.as_str()) {
                self.push(
                    format!("{at}.name"),
                    Some(&c.name),
                    format!("duplicate cluster name (first at clusters[{first}])"),
                );
                ok = false;
            } else {
                seen.insert(&c.name, i);
            }
            let partition = if c.region.is_empty() {
                self.push(
                    format!("{at}.region"),
                    None,
                    "required: the cluster's region, e.g. eu-west-3",
                );
                None
            } else {
                let p = region_partition(&c.region);
                if p.is_none() {
                    let why = if region_partition(
                        c.region
                            .trim_end_matches(|ch: char| ch.is_ascii_lowercase()),
                    )
                    .is_some()
                    {
                        "this is an availability zone; use its region (without the trailing letter)"
                    } else {
                        "not an AWS region (expected e.g. eu-west-3, us-gov-west-1, cn-north-1)"
                    };
                    self.push(format!("{at}.region"), Some(&c.region), why);
                }
                p
            };
            let assume_role_arn = c.assume_role_arn.as_deref().and_then(|text| {
                let path = format!("{at}.assumeRoleArn");
                match IamArn::parse_kind(text, PrincipalKind::Role) {
                    Ok(arn) => {
                        if let Some(p) = partition.filter(|p| *p != arn.partition()) {
                            self.push(
                                path,
                                Some(text),
                                format!(
                                    "role is in partition {}, but region {} is in partition {p}",
                                    arn.partition(),
                                    c.region
                                ),
                            );
                        }
                        Some(arn)
                    }
                    Err(e) => {
                        self.push(path, Some(text), e.to_string());
                        None
                    }
                }
            });
            if ok {
                out.push(Cluster {
                    name: c.name.clone(),
                    region: c.region.clone(),
                    assume_role_arn,
                    backend: c.backend.unwrap_or_default(),
                });
            }
        }
        out
    }

    /// Resolves a mapping's `clusters` (absent: every cluster).
    fn cluster_refs(&mut self, at: &str, refs: Option<&[String]>) -> Vec<String> {
        let Some(refs) = refs else {
            return self.all_clusters.clone();
        };
        if refs.is_empty() {
            self.push(
                format!("{at}.clusters"),
                None,
                "empty list: omit `clusters` to mean every cluster",
            );
        }
        let mut out: Vec<String> = Vec::new();
        for (j, name) in refs.iter().enumerate() {
            let path = format!("{at}.clusters[{j}]");
            if !self.backends.contains_key(name) {
                let known = self.all_clusters.join(", ");
                self.push(
                    path,
                    Some(name),
                    format!("unknown cluster (configured: {known})"),
                );
            } else if out.contains(name) {
                self.push(path, Some(name), "cluster listed twice");
            } else {
                out.push(name.clone());
            }
        }
        out
    }

    fn kubernetes_groups(
        &mut self,
        at: &str,
        groups: &[String],
        required: bool,
        clusters: &[String],
    ) -> Vec<String> {
        if required && groups.is_empty() {
            self.push(
                format!("{at}.kubernetesGroups"),
                None,
                "required: at least one Kubernetes group",
            );
        }
        let access_entry_clusters: Vec<&str> = clusters
            .iter()
            .filter(|c| self.backends.get(*c) == Some(&Backend::AccessEntries))
            .map(String::as_str)
            .collect();
        let mut out: Vec<String> = Vec::new();
        for (j, group) in groups.iter().enumerate() {
            let path = format!("{at}.kubernetesGroups[{j}]");
            if group.is_empty() || group.chars().any(char::is_whitespace) {
                self.push(
                    path,
                    Some(group),
                    "a Kubernetes group name is non-empty and has no blanks",
                );
            } else if out.contains(group) {
                self.push(path, Some(group), "group listed twice");
            } else {
                let untranslatable = group.starts_with("system:")
                    && !ACCESS_ENTRY_SYSTEM_GROUPS.contains(&group.as_str());
                if let (true, Some(cluster)) = (untranslatable, access_entry_clusters.first()) {
                    self.push(
                        path,
                        Some(group),
                        format!(
                            "cluster {cluster} uses backend access-entries, where EKS rejects groups starting \
                             with system: (only system:masters, system:bootstrappers and system:nodes translate)"
                        ),
                    );
                }
                out.push(group.clone());
            }
        }
        out
    }

    fn username(&mut self, path: &str, username: &str) {
        if username.is_empty() {
            self.push(path, None, "required: the Kubernetes username (always written, see aws-iam-authenticator #289)");
        } else if username.chars().any(char::is_whitespace) {
            self.push(path, Some(username), "a username has no blanks");
        } else if let Err(why) = check_templates(username) {
            self.push(path, Some(username), why);
        }
    }

    fn principals(
        &mut self,
        list: &str,
        raw: &[RawPrincipal],
        kind: PrincipalKind,
        seen: &mut Seen,
    ) -> Vec<PrincipalMapping> {
        let mut out = Vec::new();
        for (i, p) in raw.iter().enumerate() {
            let at = format!("{list}[{i}]");
            let arn = if p.arn.is_empty() {
                self.push(
                    format!("{at}.arn"),
                    None,
                    format!("required: the IAM {kind} ARN"),
                );
                None
            } else {
                match IamArn::parse_kind(&p.arn, kind) {
                    Ok(arn) => {
                        // EKS compares case-insensitively, and role ARNs without their path.
                        let key = match kind {
                            PrincipalKind::User => arn.as_str().to_ascii_lowercase(),
                            PrincipalKind::Role => {
                                format!(
                                    "{}:{}:{}",
                                    arn.partition(),
                                    arn.account_id(),
                                    arn.name().to_ascii_lowercase()
                                )
                            }
                        };
                        let what = if kind == PrincipalKind::User {
                            "user ARN"
                        } else {
                            "role ARN (paths aside)"
                        };
                        seen.check(self, &format!("{at}.arn"), &p.arn, key, what)
                            .then_some(arn)
                    }
                    Err(IamArnError::WrongKind { found, .. }) => {
                        let other = if found == PrincipalKind::Role {
                            "roles"
                        } else {
                            "users"
                        };
                        self.push(
                            format!("{at}.arn"),
                            Some(&p.arn),
                            format!("this is a {found} ARN: it belongs under `{other}`"),
                        );
                        None
                    }
                    Err(e) => {
                        self.push(format!("{at}.arn"), Some(&p.arn), e.to_string());
                        None
                    }
                }
            };
            let entry_type = self.entry_type(&at, kind, p);
            if !entry_type.is_some_and(EntryType::is_node) {
                self.username(&format!("{at}.username"), &p.username);
            }
            let clusters = self.cluster_refs(&at, p.clusters.as_deref());
            let access_policies =
                self.access_policies(&at, &p.access_policies, &clusters, entry_type);
            let kubernetes_groups =
                self.kubernetes_groups(&at, &p.kubernetes_groups, false, &clusters);
            if let Some(arn) = arn {
                out.push(PrincipalMapping {
                    arn,
                    username: p.username.clone(),
                    kubernetes_groups,
                    access_policies,
                    access_entry_type: entry_type,
                    clusters,
                });
            }
        }
        out
    }
}

/// Every `{{...}}` in `text` must be a known authenticator template, and braces must pair.
/// `driftRepairInterval`: a friendly duration (`30m`, `2h`, `90s`, `1h30m`) from 1m to 24h.
fn drift_interval(text: &str) -> Option<std::time::Duration> {
    let parsed: jiff::SignedDuration = text.trim().parse().ok()?;
    let interval = std::time::Duration::try_from(parsed).ok()?;
    (std::time::Duration::from_secs(60)..=std::time::Duration::from_secs(24 * 3600))
        .contains(&interval)
        .then_some(interval)
}

fn check_templates(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err("unclosed `{{` template".to_owned());
        };
        let name = &after[..end];
        if !USERNAME_TEMPLATES.contains(&name) {
            return Err(format!(
                "unknown template {{{{{name}}}}} (known: {})",
                USERNAME_TEMPLATES
                    .iter()
                    .map(|t| format!("{{{{{t}}}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        rest = &after[end + 2..];
    }
    if rest.contains('{') || rest.contains('}') {
        return Err("stray brace: templates are written {{Name}}".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert!(check_templates("{{SessionName}}").is_ok());
        assert!(check_templates("sso-{{AccountID}}-{{SessionNameRaw}}").is_ok());
        assert!(
            check_templates("{{Session}}")
                .unwrap_err()
                .contains("unknown template {{Session}}")
        );
        assert!(
            check_templates("{{SessionName")
                .unwrap_err()
                .contains("unclosed")
        );
        assert!(check_templates("a}b").unwrap_err().contains("stray brace"));
    }
}
