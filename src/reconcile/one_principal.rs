//! A user event on a cluster where EKS reads access entries alone (`API`): the cost does not
//! grow with the cluster. IAM: the user's groups (read once for the run) and GetUser (ARN and
//! unique id, once for all clusters); EKS: that principal's entry (DescribeAccessEntry, then
//! ListAssociatedAccessPolicies when there is one) and the writes.
//!
//! More is read only when the guards need it: a change that removes or demotes a cluster
//! admin is written only once another cluster admin is known, so the entries are listed and
//! described one at a time, in list order, until one is found (none found: the plan stays
//! refused). A deleted user's ARN is no longer in IAM: their entry is looked up under the
//! configured ARN or the ARN without a path, and, when that finds nothing, by name among the
//! listed entries (a user with a path). The summary's `entriesRead` says what was read.
//!
//! The plan is the core's ([`crate::core::access_entries::one_principal`]); the writes go
//! through the one apply path (`apply`).

use std::sync::Arc;

use crate::aws::access_entries::{AccessEntryCalls, AccessEntryError, AccessEntryStore};
use crate::core::access_entries::one_principal::{needs_another_admin, plan_one};
use crate::core::access_entries::{AccessPlanRequest, CurrentEntry, principal_key};
use crate::core::aws_auth::{AwsAuth, ConfigMapData, SectionName};
use crate::core::desired::DesiredSet;
use crate::core::desired::user_event::{UserFacts, desired_for_user_event};
use crate::core::names::{account_of, canonical_principal_arn};

use super::access_entries::finish_report;
use super::desired::{EventUser, in_event_account};
use super::report::{ClusterReport, EntriesRead, Outcome};
use super::{ClusterError, ClusterRun, Reconciler};

impl Reconciler {
    /// The event's user's access entry on one cluster: their desired entry → their current
    /// entry → the plan, guarded (reading further only to find another admin) → the writes.
    pub(super) async fn reconcile_user_entry(
        &self,
        run: ClusterRun<'_>,
        user: &UserFacts,
        event_user: &EventUser,
        report: &mut ClusterReport,
    ) -> Result<Outcome, ClusterError> {
        let Some((desired, user, warnings)) =
            self.desired_entry_of(run, user, event_user, report).await?
        else {
            return Ok(Outcome::Deferred);
        };
        let calls = Arc::new(AccessEntryCalls::default());
        let store = AccessEntryStore::new(
            self.eks.client_for(run.cluster),
            &run.cluster.name,
            calls.clone(),
        );
        let outcome = self
            .user_entry_attempt(&store, run, &desired, &user, report)
            .await;
        finish_report(&calls, warnings, report);
        outcome
    }

    /// The user's desired entry on this cluster (none: they lose it), with their ARN and
    /// unique id from IAM; `None` when the cluster is left to the schedule (the reason is in
    /// the report's warnings).
    async fn desired_entry_of(
        &self,
        run: ClusterRun<'_>,
        user: &UserFacts,
        event_user: &EventUser,
        report: &mut ClusterReport,
    ) -> Result<Option<(DesiredSet, UserFacts, Vec<String>)>, ClusterError> {
        // ListGroupsForUser found no user: GetUser would not find one either.
        let found = match user.groups {
            Some(_) => self.event_user(event_user, &user.user_name).await?,
            None => None,
        };
        let (user, id) = match found {
            Some(iam) if !in_event_account(&iam.arn, user.account_id.as_deref()) => {
                report.warnings.push(format!(
                    "the event names user {} in account {}, but the synced IAM's user is {}: nothing is mapped from it; left to the next scheduled reconcile",
                    user.user_name,
                    user.account_id.as_deref().unwrap_or_default(),
                    iam.arn
                ));
                return Ok(None);
            }
            Some(iam) => (
                UserFacts {
                    arn: Some(iam.arn.clone()),
                    ..user.clone()
                },
                Some(iam.user_id.as_str()),
            ),
            None if user.groups.is_some() => {
                report.warnings.push(format!(
                    "user {} no longer exists; left to the next scheduled reconcile",
                    user.user_name
                ));
                return Ok(None);
            }
            None => (user.clone(), None),
        };
        let Some((mut desired, warnings)) = desired_for_user_event(
            &self.settings,
            &run.cluster.name,
            &no_aws_auth(),
            &self.ownership,
            &user,
        ) else {
            // Only possible without an ARN, which IAM gave above whenever the user exists.
            report.warnings.push(format!(
                "the ARN of user {} is not known; left to the next scheduled reconcile",
                user.user_name
            ));
            return Ok(None);
        };
        if let (Some(id), Some(arn)) = (id, user.arn.as_deref()) {
            let canonical = canonical_principal_arn(arn).map_or_else(|_| arn.to_owned(), |c| c.arn);
            desired.set_principal_id(&canonical, id);
        }
        Ok(Some((desired, user, warnings)))
    }

    async fn user_entry_attempt(
        &self,
        store: &AccessEntryStore,
        run: ClusterRun<'_>,
        desired: &DesiredSet,
        user: &UserFacts,
        report: &mut ClusterReport,
    ) -> Result<Outcome, ClusterError> {
        report.write_attempts = 1;
        let cluster_account = account_of(&run.info.arn);
        let mut read = self
            .entries_of_user(store, desired, user, cluster_account)
            .await?;
        let make = |read: &Read| {
            plan_one(
                &AccessPlanRequest {
                    current: &read.own,
                    desired,
                    cluster_account,
                    guards: self.guards(),
                    protected: run.protected,
                },
                &read.others,
            )
        };
        let mut plan = make(&read);
        while needs_another_admin(&plan) && read.describe_next(store).await? {
            plan = make(&read);
        }
        let (own, others) = (read.own.len(), read.others.len());
        report.entries_read = Some(EntriesRead {
            principal: read.principal.clone(),
            listed: read.listed.as_ref().map_or(0, Vec::len),
            others_described: read.described,
            other_admin: read
                .others
                .iter()
                .find(|e| e.is_admin())
                .map(|e| e.principal_arn.clone()),
        });
        tracing::info!(cluster = %run.cluster.name, principal = %read.principal, own, others, "user event: access entries read");
        let current: Vec<CurrentEntry> = read.own.iter().chain(&read.others).cloned().collect();
        self.carry_out(store, run, &current, plan, report).await
    }

    /// The user's own entries: under their ARN (IAM's or the configured one), else, for a
    /// deleted user, under the ARN without a path, then by name among the listed entries.
    async fn entries_of_user(
        &self,
        store: &AccessEntryStore,
        desired: &DesiredSet,
        user: &UserFacts,
        cluster_account: Option<&str>,
    ) -> Result<Read, AccessEntryError> {
        let account = user
            .arn
            .as_deref()
            .and_then(account_of)
            .or(user.account_id.as_deref())
            .or(cluster_account);
        let mut candidates: Vec<String> = desired
            .mappings(SectionName::MapUsers)
            .into_iter()
            .map(|m| m.configured_arn.clone())
            .chain(user.arn.clone())
            .collect();
        if candidates.is_empty()
            && let Some(account) = account
        {
            candidates.push(format!("arn:aws:iam::{account}:user/{}", user.user_name));
        }
        let mut seen = Vec::new();
        candidates.retain(|arn| {
            let key = principal_key(arn);
            let first = !seen.contains(&key);
            seen.push(key);
            first
        });
        let mut read = Read {
            principal: candidates.first().cloned().unwrap_or_default(),
            ..Read::default()
        };
        for arn in &candidates {
            read.own.extend(store.entry_of(arn).await?);
        }
        if read.own.is_empty() && user.arn.is_none() {
            // A deleted user with a path: found by name (IAM user names are unique in an
            // account, whatever the path).
            let named: Vec<String> = read
                .list(store)
                .await?
                .iter()
                .filter(|arn| is_user_named(arn, &user.user_name, account))
                .cloned()
                .collect();
            for arn in &named {
                read.own.extend(store.entry_of(arn).await?);
            }
            if let Some(first) = named.first() {
                read.principal = first.clone();
            }
        }
        Ok(read)
    }
}

/// What a user event read of one cluster's access entries.
#[derive(Debug, Default)]
struct Read {
    /// The ARN the event's user is known under.
    principal: String,
    /// The user's own entries (none, or one; two when an old path lingers).
    own: Vec<CurrentEntry>,
    /// Other entries, read only for the last-cluster-admin guard.
    others: Vec<CurrentEntry>,
    /// Every entry's principal (ListAccessEntries), once listed.
    listed: Option<Vec<String>>,
    /// Listed entries looked at so far for the guard (described, or the user's own).
    next: usize,
    /// Of those, how many were described.
    described: usize,
}

impl Read {
    /// The listed principals (listed on first use).
    async fn list(&mut self, store: &AccessEntryStore) -> Result<&[String], AccessEntryError> {
        if self.listed.is_none() {
            self.listed = Some(store.list_principals().await?);
        }
        Ok(self.listed.as_deref().unwrap_or_default())
    }

    /// Describes the next listed entry that is not the user's own into `others`; `false` when
    /// every entry has been read.
    async fn describe_next(&mut self, store: &AccessEntryStore) -> Result<bool, AccessEntryError> {
        let own: Vec<String> = self
            .own
            .iter()
            .map(|e| principal_key(&e.principal_arn))
            .collect();
        let start = self.next;
        let listed = self.list(store).await?;
        let Some(offset) = listed[start..]
            .iter()
            .position(|arn| !own.contains(&principal_key(arn)))
        else {
            self.next = listed.len();
            return Ok(false);
        };
        let arn = listed[start + offset].clone();
        self.next = start + offset + 1;
        self.described += 1;
        self.others.extend(store.entry_of(&arn).await?);
        Ok(true)
    }
}

/// An empty aws-auth: the one-user desired set then holds only the event's user.
fn no_aws_auth() -> AwsAuth {
    AwsAuth::read(&ConfigMapData::default()).expect("an empty aws-auth reads")
}

/// Whether `arn` is the ARN of IAM user `name` (any path) in `account` (any, when unknown).
fn is_user_named(arn: &str, name: &str, account: Option<&str>) -> bool {
    arn.contains(":user/")
        && arn
            .rsplit('/')
            .next()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
        && account.is_none_or(|a| account_of(arn) == Some(a))
}

#[cfg(test)]
mod tests {
    use super::is_user_named;

    #[test]
    fn a_user_is_found_by_name_whatever_the_path_and_only_in_its_account() {
        let a = Some("111122223333");
        assert!(is_user_named(
            "arn:aws:iam::111122223333:user/Bob",
            "bob",
            a
        ));
        assert!(is_user_named(
            "arn:aws:iam::111122223333:user/eng/bob",
            "bob",
            a
        ));
        assert!(!is_user_named(
            "arn:aws:iam::444455556666:user/bob",
            "bob",
            a
        ));
        assert!(!is_user_named(
            "arn:aws:iam::111122223333:role/bob",
            "bob",
            a
        ));
        assert!(!is_user_named(
            "arn:aws:iam::111122223333:user/bobby",
            "bob",
            a
        ));
        assert!(is_user_named(
            "arn:aws:iam::444455556666:user/bob",
            "bob",
            None
        ));
    }
}
