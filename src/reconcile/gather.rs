//! Reading IAM for a run: every group and the SSO roles the target clusters need (full
//! runs), one user's groups until they show what the event says (user events), and the
//! unique ids of configured users and roles (access entries).
//!
//! Two IAMs (issue 14, many accounts): users and groups are read in the synced IAM account
//! (`iam.assumeRoleArn`, else the function's own credentials); roles (the SSO permission-set
//! roles, GetRole of configured roles) in the cluster's account, with the credentials its EKS
//! calls use (its `assumeRoleArn`, else the function's own), since `AWSReservedSSO_<set>_<suffix>`
//! differs per account. The SSO roles are read once per account per run, shared by the
//! clusters of that account.
//!
//! Results are kept per group, so one failed read fails only the clusters that needed it and
//! is never taken for "no members"; a missing group counts as empty. This module reads; it
//! does not plan or write, and it knows nothing of aws-auth or access entries.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;

use crate::aws::iam::{IamDirectory, IamError};
use crate::core::aws_auth::SectionName;
use crate::core::desired::DesiredSet;
use crate::core::desired::from_iam::{IamFacts, Member};
use crate::core::desired::user_event::UserFacts;
use crate::core::names::canonical_principal_arn;
use crate::core::settings::{Cluster, Settings};
use crate::events::{Expectation, UserSync};

use super::{CONSISTENCY_WAIT, IAM_READ_CONCURRENCY, Reconciler, jitter};

/// Why IAM could not give what a cluster needs. Every message starts with `IAM read failed`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GatherError {
    /// The user event's ListGroupsForUser.
    #[error("IAM read failed: {0}")]
    UserGroups(#[source] IamError),
    /// The members of a configured group.
    #[error("IAM read failed (group {group}): {source}")]
    Group {
        group: String,
        #[source]
        source: IamError,
    },
    /// The roles of the SSO permission sets.
    #[error("IAM read failed (SSO roles): {0}")]
    SsoRoles(#[source] IamError),
    /// The ARN of the user of an event that did not give it (GetUser).
    #[error("IAM read failed (GetUser {user}): {source}")]
    EventUser {
        user: String,
        #[source]
        source: IamError,
    },
    /// The unique id of a configured user or role (GetUser/GetRole).
    #[error("IAM read failed: {0}")]
    PrincipalId(#[source] IamError),
}

/// What a full reconcile read from IAM, per group and per account holding SSO roles (a
/// failed read is kept as its error).
#[derive(Debug)]
pub(super) struct FullIamRead {
    groups: BTreeMap<String, Result<Option<Members>, IamError>>,
    /// By [`role_account`]; only the accounts of target clusters with a permission set.
    sso_roles: BTreeMap<RoleAccount, Result<SsoRoles, IamError>>,
}

/// Where a cluster's roles are: the account of its `assumeRoleArn`, or `None` for the
/// function's own account.
type RoleAccount = Option<String>;

fn role_account(cluster: &Cluster) -> RoleAccount {
    cluster
        .assume_role_arn
        .as_ref()
        .map(|role| role.account_id().to_owned())
}

/// Group members with their IAM unique ids.
type Members = Vec<(Member, String)>;
/// SSO roles (name, ARN) with their IAM unique ids.
type SsoRoles = Vec<((String, String), String)>;

impl Reconciler {
    /// Reads every group the target clusters need, and the SSO roles of each account holding
    /// a target cluster with a permission set, concurrently: at most [`IAM_READ_CONCURRENCY`]
    /// group reads at a time, the SSO roles beside them, so the wall time is close to the
    /// slowest reads, not their sum. Per-group and per-account results, so a failure only
    /// fails the clusters that needed it.
    pub(super) async fn read_iam(&self, targets: &[Cluster]) -> FullIamRead {
        let needed = |clusters: &[String]| targets.iter().any(|t| clusters.contains(&t.name));
        let mut names: Vec<&str> = Vec::new();
        for group in self.settings.groups.iter().filter(|g| needed(&g.clusters)) {
            if !names.contains(&group.iam_group.as_str()) {
                names.push(&group.iam_group);
            }
        }
        let groups = futures::stream::iter(names)
            .map(|name| async move {
                let members = self.iam.group_members(name).await.map(|m| {
                    m.map(|users| {
                        users
                            .into_iter()
                            .map(|u| {
                                let member = Member {
                                    name: u.name,
                                    arn: u.arn,
                                };
                                (member, u.user_id)
                            })
                            .collect::<Vec<_>>()
                    })
                });
                (name.to_owned(), members)
            })
            .buffer_unordered(IAM_READ_CONCURRENCY)
            .collect::<BTreeMap<_, _>>();
        let wants_sso = |cluster: &Cluster| {
            self.settings
                .sso_permission_sets
                .iter()
                .any(|p| p.clusters.contains(&cluster.name))
        };
        let mut accounts: Vec<(RoleAccount, IamDirectory)> = Vec::new();
        for cluster in targets.iter().filter(|c| wants_sso(c)) {
            let account = role_account(cluster);
            if !accounts.iter().any(|(a, _)| *a == account) {
                accounts.push((account, self.roles_directory(cluster)));
            }
        }
        let sso_roles = futures::stream::iter(accounts)
            .map(|(account, directory)| async move {
                let roles = directory.sso_roles().await.map(|roles| {
                    roles
                        .into_iter()
                        .map(|r| ((r.name, r.arn), r.role_id))
                        .collect()
                });
                (account, roles)
            })
            .buffer_unordered(IAM_READ_CONCURRENCY)
            .collect::<BTreeMap<_, _>>();
        let (groups, sso_roles) = futures::join!(groups, sso_roles);
        FullIamRead { groups, sso_roles }
    }

    /// Reads the user's groups until they show what the event says happened, for a bounded
    /// time (IAM is eventually consistent). `Ok(None)`: still not visible.
    pub(super) async fn read_user(
        &self,
        sync: &UserSync,
    ) -> Result<Option<UserFacts>, GatherError> {
        let deadline = tokio::time::Instant::now() + CONSISTENCY_WAIT;
        let mut delay = Duration::from_millis(250);
        loop {
            let groups = self
                .iam
                .groups_for_user(&sync.user_name)
                .await
                .map_err(GatherError::UserGroups)?;
            if expectation_met(&sync.expect, groups.as_deref()) {
                return Ok(Some(UserFacts {
                    user_name: sync.user_name.clone(),
                    account_id: sync.account_id.clone(),
                    arn: sync.user_arn.clone(),
                    groups,
                }));
            }
            if tokio::time::Instant::now() + delay > deadline {
                tracing::warn!(user = %sync.user_name, expect = ?sync.expect, "IAM does not show the event's change yet");
                return Ok(None);
            }
            tokio::time::sleep(jitter(delay)).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    /// The IAM where `cluster`'s roles are read: through the credentials of its EKS calls
    /// (its `assumeRoleArn`, else the function's own), one directory per account (made with
    /// the first such cluster's role, kept for the reconciler's life). Without
    /// `iam.assumeRoleArn`, the function's own account's is the synced IAM itself.
    pub(super) fn roles_directory(&self, cluster: &Cluster) -> IamDirectory {
        let account = match role_account(cluster) {
            Some(account) => account,
            None if self.settings.iam_assume_role_arn.is_none() => return self.iam.clone(),
            None => String::new(),
        };
        match self.eks.credentials_for(cluster) {
            Some(credentials) => self.iam.in_account(&account, &cluster.region, credentials),
            None => self.iam.clone(),
        }
    }

    /// Fills in the IAM unique ids of configured users (GetUser, in the synced IAM account)
    /// and roles (GetRole, in `cluster`'s account); group members and SSO roles already have
    /// theirs. A principal IAM does not know is a warning (EKS will say whether it accepts the
    /// entry).
    pub(super) async fn resolve_ids(
        &self,
        cluster: &Cluster,
        desired: &mut DesiredSet,
        warnings: &mut Vec<String>,
    ) -> Result<(), GatherError> {
        let missing: Vec<(String, String)> = [SectionName::MapRoles, SectionName::MapUsers]
            .into_iter()
            .flat_map(|s| desired.mappings(s))
            .filter(|m| m.principal_id.is_none())
            .map(|m| (m.arn.clone(), m.configured_arn.clone()))
            .collect();
        for (canonical, configured) in missing {
            let name = configured.rsplit('/').next().unwrap_or_default();
            let found = if configured.contains(":role/") {
                self.roles_directory(cluster)
                    .get_role(name)
                    .await
                    .map(|r| r.map(|r| (r.arn, r.role_id)))
            } else {
                self.iam
                    .get_user(name)
                    .await
                    .map(|u| u.map(|u| (u.arn, u.user_id)))
            };
            match found.map_err(GatherError::PrincipalId)? {
                Some((arn, id))
                    if canonical_principal_arn(&arn)
                        .is_ok_and(|c| c.arn.eq_ignore_ascii_case(&canonical)) =>
                {
                    desired.set_principal_id(&canonical, &id);
                }
                _ => warnings.push(format!(
                    "{configured} was not found in IAM (another account, or deleted); its access entry is planned as configured"
                )),
            }
        }
        Ok(())
    }
}

/// The facts one cluster needs, or the IAM error that stops it.
pub(super) fn facts_for(
    cluster: &Cluster,
    settings: &Settings,
    read: &FullIamRead,
) -> Result<IamFacts, GatherError> {
    let mut facts = IamFacts::default();
    for group in settings
        .groups
        .iter()
        .filter(|g| g.clusters.contains(&cluster.name))
    {
        match read.groups.get(&group.iam_group) {
            Some(Ok(members)) => {
                for (member, id) in members.iter().flatten() {
                    facts
                        .principal_ids
                        .insert(member.arn.to_ascii_lowercase(), id.clone());
                }
                facts.group_members.insert(
                    group.iam_group.clone(),
                    members
                        .as_ref()
                        .map(|m| m.iter().map(|(member, _)| member.clone()).collect()),
                );
            }
            Some(Err(e)) => {
                return Err(GatherError::Group {
                    group: group.iam_group.clone(),
                    source: e.clone(),
                });
            }
            None => {}
        }
    }
    if settings
        .sso_permission_sets
        .iter()
        .any(|p| p.clusters.contains(&cluster.name))
    {
        match read.sso_roles.get(&role_account(cluster)) {
            Some(Ok(roles)) => {
                for ((_, arn), id) in roles {
                    facts
                        .principal_ids
                        .insert(arn.to_ascii_lowercase(), id.clone());
                }
                facts.sso_roles = roles.iter().map(|(role, _)| role.clone()).collect();
            }
            Some(Err(e)) => return Err(GatherError::SsoRoles(e.clone())),
            None => {}
        }
    }
    Ok(facts)
}

/// Whether the user's groups (`None`: the user does not exist) show what the event says.
pub(super) fn expectation_met(expect: &Expectation, groups: Option<&[String]>) -> bool {
    let member_of =
        |group: &str| groups.is_some_and(|g| g.iter().any(|x| x.eq_ignore_ascii_case(group)));
    match expect {
        Expectation::MemberOf(group) => member_of(group),
        Expectation::NotMemberOf(group) => groups.is_none() || !member_of(group),
        Expectation::UserExists => groups.is_some(),
        Expectation::UserGone => groups.is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn membership_expectations_compare_group_names_case_insensitively() {
        let member = Expectation::MemberOf("Admins".to_owned());
        assert!(expectation_met(&member, Some(&groups(&["dev", "admins"]))));
        assert!(!expectation_met(&member, Some(&groups(&["dev"]))));
        assert!(
            !expectation_met(&member, None),
            "a missing user is in no group"
        );
    }

    #[test]
    fn not_member_of_is_met_by_a_missing_user() {
        let gone = Expectation::NotMemberOf("admins".to_owned());
        assert!(expectation_met(&gone, None));
        assert!(expectation_met(&gone, Some(&groups(&["dev"]))));
        assert!(!expectation_met(&gone, Some(&groups(&["ADMINS"]))));
    }

    #[test]
    fn user_existence_expectations_look_only_at_whether_the_user_exists() {
        assert!(expectation_met(&Expectation::UserExists, Some(&[])));
        assert!(!expectation_met(&Expectation::UserExists, None));
        assert!(expectation_met(&Expectation::UserGone, None));
        assert!(!expectation_met(&Expectation::UserGone, Some(&[])));
    }

    fn sso_role(account: &str, suffix: &str) -> ((String, String), String) {
        let name = format!("AWSReservedSSO_Dev_{suffix}");
        let arn = format!("arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/{name}");
        ((name, arn), format!("AROA{suffix}"))
    }

    #[test]
    fn each_cluster_gets_the_sso_roles_of_its_own_account() {
        let settings = crate::config::from_text(
            "clusters:\n  - {name: home, region: eu-west-3}\n  - {name: member, region: eu-west-3, assumeRoleArn: 'arn:aws:iam::222233334444:role/r'}\n  - {name: other, region: eu-west-3, assumeRoleArn: 'arn:aws:iam::333344445555:role/r'}\nssoPermissionSets:\n  - {name: Dev, username: dev, kubernetesGroups: [view]}\n",
            "test",
            None,
        )
        .unwrap();
        let denied = IamError::AccessDenied {
            operation: "ListRoles",
            entity: "roles in account 333344445555".to_owned(),
            message: "no".to_owned(),
        };
        let read = FullIamRead {
            groups: BTreeMap::new(),
            sso_roles: [
                (None, Ok(vec![sso_role("111122223333", "aaaa")])),
                (
                    Some("222233334444".to_owned()),
                    Ok(vec![sso_role("222233334444", "bbbb")]),
                ),
                (Some("333344445555".to_owned()), Err(denied)),
            ]
            .into(),
        };
        let facts = |name: &str| facts_for(settings.cluster(name).unwrap(), &settings, &read);
        let home = facts("home").unwrap();
        assert_eq!(home.sso_roles, vec![sso_role("111122223333", "aaaa").0]);
        let member = facts("member").unwrap();
        assert_eq!(member.sso_roles, vec![sso_role("222233334444", "bbbb").0]);
        assert_eq!(member.principal_ids.len(), 1);
        let failed = facts("other").unwrap_err().to_string();
        assert!(failed.contains("333344445555"), "{failed}");
    }

    #[test]
    fn gather_errors_name_what_was_read_and_keep_the_iam_error_as_source() {
        let iam = IamError::AccessDenied {
            operation: "GetGroup",
            entity: "group admins".to_owned(),
            message: "no".to_owned(),
        };
        let error = GatherError::Group {
            group: "admins".to_owned(),
            source: iam.clone(),
        };
        assert_eq!(
            error.to_string(),
            format!("IAM read failed (group admins): {iam}")
        );
        let source = std::error::Error::source(&error).expect("a source");
        assert_eq!(source.to_string(), iam.to_string());
    }
}
