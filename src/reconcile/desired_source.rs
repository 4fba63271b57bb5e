//! Where a cluster's desired set comes from: a full run computes it from the IAM facts read
//! for the whole run; a user event starts from aws-auth's current managed entries and
//! recomputes only that user's.
//!
//! [`RunRead`] is what a run read before touching any cluster; [`RunRead::source`] turns it
//! into one cluster's [`DesiredSource`] (or ends that cluster early: IAM failed, or does not show
//! the event yet). The backends ask [`DesiredSource`] for the set. Planning and writing are the
//! backends'; this module only decides the desired set.

use tokio::sync::OnceCell;

use crate::aws::iam::{IamError, IamUser};
use crate::core::aws_auth::AwsAuth;
use crate::core::desired::DesiredSet;
use crate::core::desired::from_iam::{IamFacts, desired_for_cluster};
use crate::core::desired::user_event::{UserFacts, desired_for_user_event};
use crate::core::names::account_of;
use crate::core::settings::Cluster;
use crate::events::{Expectation, UserSync};

use super::Reconciler;
use super::gather::{FullIamRead, GatherError, facts_for};
use super::report::{ClusterReport, Outcome};

/// A desired set with the warnings found while building it.
pub(super) type Found = (DesiredSet, Vec<String>);

/// What a run read from IAM before looking at any cluster.
#[derive(Debug)]
pub(super) enum RunRead<'a> {
    /// A full reconcile: the groups and SSO roles every target cluster needs.
    Full(FullIamRead),
    /// A user event: that user's groups (`Ok(None)`: IAM does not show the event yet), and
    /// the user as GetUser answers (ARN, unique id), read at most once for all clusters when
    /// needed.
    User {
        sync: &'a UserSync,
        user: Result<Option<UserFacts>, GatherError>,
        arn: EventUser,
    },
}

/// Where one cluster's desired set comes from.
#[derive(Debug)]
pub(super) enum DesiredSource<'a> {
    /// A full reconcile: everything from what IAM said.
    Full(IamFacts),
    /// A user event: current managed entries, with one user's recomputed.
    User {
        user: &'a UserFacts,
        sync: &'a UserSync,
        arn: &'a EventUser,
    },
}

/// The event's user as IAM's GetUser answers, read at most once per run.
pub(super) type EventUser = OnceCell<Result<Option<IamUser>, IamError>>;

impl Reconciler {
    /// The event's user from IAM (GetUser), read once for all of the run's clusters.
    pub(super) async fn event_user<'c>(
        &self,
        cell: &'c EventUser,
        user_name: &str,
    ) -> Result<Option<&'c IamUser>, GatherError> {
        cell.get_or_init(|| self.iam.get_user(user_name))
            .await
            .as_ref()
            .map(Option::as_ref)
            .map_err(|e| GatherError::EventUser {
                user: user_name.to_owned(),
                source: e.clone(),
            })
    }
}

impl RunRead<'_> {
    /// The desired source of `cluster`, or `None` when what was read already decides it
    /// (the report is then finished: failed, or deferred with the reason in its warnings).
    pub(super) fn source(
        &self,
        reconciler: &Reconciler,
        cluster: &Cluster,
        report: &mut ClusterReport,
    ) -> Option<DesiredSource<'_>> {
        match self {
            RunRead::Full(read) => match facts_for(cluster, &reconciler.settings, read) {
                Ok(facts) => Some(DesiredSource::Full(facts)),
                Err(error) => {
                    report.fail(error);
                    None
                }
            },
            RunRead::User { user, arn, sync } => match user {
                Err(error) => {
                    report.fail(error);
                    None
                }
                Ok(None) => {
                    report.outcome = Outcome::Deferred;
                    report.warnings.push(format!(
                        "IAM does not show the change yet ({:?} for {}); left to the next scheduled reconcile",
                        sync.expect, sync.user_name
                    ));
                    None
                }
                Ok(Some(user)) => Some(DesiredSource::User { user, sync, arn }),
            },
        }
    }
}

impl DesiredSource<'_> {
    /// The desired set for an aws-auth cluster, given aws-auth as just read. `Ok(None)`:
    /// leave this cluster to the schedule (the reason is already in the report's warnings).
    pub(super) async fn aws_auth_set(
        &self,
        reconciler: &Reconciler,
        cluster: &str,
        current: &AwsAuth,
        report: &mut ClusterReport,
    ) -> Result<Option<Found>, GatherError> {
        let (user, arn) = match self {
            DesiredSource::Full(facts) => {
                return Ok(Some(desired_for_cluster(
                    &reconciler.settings,
                    cluster,
                    facts,
                )));
            }
            DesiredSource::User { user, arn, .. } => (*user, *arn),
        };
        let r = reconciler;
        if let Some(found) =
            desired_for_user_event(&r.settings, cluster, current, &r.ownership, user)
        {
            return Ok(Some(found));
        }
        match r.event_user(arn, &user.user_name).await?.map(|u| &u.arn) {
            Some(arn) if !in_event_account(arn, user.account_id.as_deref()) => {
                report.warnings.push(format!(
                    "the event names user {} in account {}, but the synced IAM's user is {arn}: nothing is mapped from it; left to the next scheduled reconcile",
                    user.user_name,
                    user.account_id.as_deref().unwrap_or_default()
                ));
                Ok(None)
            }
            Some(arn) => {
                let user = UserFacts {
                    arn: Some(arn.clone()),
                    ..user.clone()
                };
                Ok(desired_for_user_event(
                    &r.settings,
                    cluster,
                    current,
                    &r.ownership,
                    &user,
                ))
            }
            None => {
                report.warnings.push(format!(
                    "user {} no longer exists; left to the next scheduled reconcile",
                    user.user_name
                ));
                Ok(None)
            }
        }
    }

    /// The whole desired set of the cluster, for a full run on the access-entries backend and
    /// for clusters that read both stores (a user event there re-reads the cluster's IAM
    /// facts, and checks that they show what the event says happened; where EKS reads access
    /// entries alone, a user event needs only its user's entry: `one_principal`). `Ok(None)`:
    /// leave this cluster to the schedule (the reason is in the report's warnings).
    pub(super) async fn whole(
        &self,
        reconciler: &Reconciler,
        cluster: &Cluster,
        report: &mut ClusterReport,
    ) -> Result<Option<Found>, GatherError> {
        let settings = &reconciler.settings;
        match self {
            DesiredSource::Full(facts) => {
                Ok(Some(desired_for_cluster(settings, &cluster.name, facts)))
            }
            DesiredSource::User { user, sync, .. } => {
                let read = reconciler.read_iam(std::slice::from_ref(cluster)).await;
                let facts = facts_for(cluster, settings, &read)?;
                if let Some(why) = unseen_change(&facts, &user.user_name, &sync.expect) {
                    report.warnings.push(format!(
                        "IAM's group read does not show the change yet ({why}); left to the next scheduled reconcile"
                    ));
                    return Ok(None);
                }
                Ok(Some(desired_for_cluster(settings, &cluster.name, &facts)))
            }
        }
    }
}

/// What the event says happened and the facts read do not show yet, if anything. Groups that
/// were not read (not configured for this cluster) cannot contradict it; names compare as IAM
/// compares them, case-insensitively.
fn unseen_change(facts: &IamFacts, user_name: &str, expect: &Expectation) -> Option<String> {
    let member_of = |group: &str| {
        facts
            .group_members
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(group))
            .and_then(|(_, members)| members.as_ref())
            .map(|members| {
                members
                    .iter()
                    .any(|m| m.name.eq_ignore_ascii_case(user_name))
            })
    };
    match expect {
        Expectation::MemberOf(group) if member_of(group) == Some(false) => Some(format!(
            "{user_name} is not yet listed in IAM group {group}"
        )),
        Expectation::NotMemberOf(group) if member_of(group) == Some(true) => {
            Some(format!("{user_name} is still listed in IAM group {group}"))
        }
        Expectation::UserGone => facts
            .group_members
            .iter()
            .find(|(_, members)| {
                members
                    .iter()
                    .flatten()
                    .any(|m| m.name.eq_ignore_ascii_case(user_name))
            })
            .map(|(group, _)| {
                format!("deleted user {user_name} is still listed in IAM group {group}")
            }),
        _ => None,
    }
}

/// Whether IAM's `arn` for the event's user is in the account the event names (when it
/// names one): a principal outside the synced account is never mapped from a user event.
pub(super) fn in_event_account(arn: &str, event_account: Option<&str>) -> bool {
    event_account.is_none_or(|a| account_of(arn) == Some(a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::desired::from_iam::Member;

    fn facts(members: &[&str]) -> IamFacts {
        let members = members
            .iter()
            .map(|name| Member {
                name: (*name).to_owned(),
                arn: format!("arn:aws:iam::111122223333:user/{name}"),
            })
            .collect();
        IamFacts {
            group_members: [("eks-admins".to_owned(), Some(members))].into(),
            ..IamFacts::default()
        }
    }

    #[test]
    fn an_event_is_checked_against_the_group_members_read() {
        let added = Expectation::MemberOf("EKS-Admins".to_owned());
        assert_eq!(unseen_change(&facts(&["Bob"]), "bob", &added), None);
        assert!(
            unseen_change(&facts(&[]), "bob", &added)
                .is_some_and(|why| why.contains("not yet listed in IAM group EKS-Admins"))
        );
        let removed = Expectation::NotMemberOf("eks-admins".to_owned());
        assert_eq!(unseen_change(&facts(&[]), "bob", &removed), None);
        assert!(unseen_change(&facts(&["bob"]), "bob", &removed).is_some());
        assert!(unseen_change(&facts(&["bob"]), "BOB", &Expectation::UserGone).is_some());
        assert_eq!(
            unseen_change(&facts(&["alice"]), "bob", &Expectation::UserGone),
            None
        );
        let elsewhere = Expectation::MemberOf("other".to_owned());
        assert_eq!(
            unseen_change(&facts(&[]), "bob", &elsewhere),
            None,
            "a group this cluster does not read cannot contradict the event"
        );
    }
}
