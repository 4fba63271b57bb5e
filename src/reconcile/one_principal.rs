//! A user event on a cluster where EKS reads access entries (`API`, and `API_AND_CONFIG_MAP`
//! through `both_stores`, which also reads aws-auth): the cost does not grow with the cluster. IAM: the user's groups (read once for the run) and GetUser (ARN and
//! unique id, once for all clusters); EKS: that principal's entry (DescribeAccessEntry, then
//! ListAssociatedAccessPolicies when there is one) and the writes.
//!
//! More is read only when the guards need it: a change that removes or demotes a cluster
//! admin is written only once another cluster admin is known, so the entries are listed and
//! described one at a time, in list order, until one is found (none found: the plan stays
//! refused). A deleted user's ARN is no longer in IAM: their entry is looked up under the
//! configured ARN or the ARN without a path, and, when that finds nothing, by name among the
//! entries this instance's full runs listed (a user with a path; a cold instance leaves that
//! to the next full run, which revokes whatever IAM no longer has). The summary's `entriesRead` says what was read.
//!
//! The plan is the core's ([`crate::core::access_entries::one_principal`]); the writes go
//! through the one apply path (`apply`).

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use crate::aws::access_entries::{AccessEntryCalls, AccessEntryError, AccessEntryStore};
use crate::core::access_entries::one_principal::{needs_another_admin, plan_one};
use crate::core::access_entries::{AccessPlanRequest, CurrentEntry, principal_key};
use crate::core::aws_auth::{AwsAuth, ConfigMapData, SectionName};
use crate::core::desired::DesiredSet;
use crate::core::desired::user_event::{UserFacts, desired_for_user_event};
use crate::core::names::{account_of, canonical_principal_arn};

use super::access_entries::finish_report;
use super::desired_source::{EventUser, in_event_account};
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
    pub(super) async fn desired_entry_of(
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
        let make = |read: &PrincipalEntries| {
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
        report.entries_read = Some(read.summary());
        tracing::info!(cluster = %run.cluster.name, principal = %read.principal, own, others, "user event: access entries read");
        self.carry_out(store, run, &read.all(), plan, report).await
    }

    /// The user's own entries: under their ARN (IAM's or the configured one), else, for a
    /// deleted user, under the ARN without a path, then by name among the listed entries.
    pub(super) async fn entries_of_user(
        &self,
        store: &AccessEntryStore,
        desired: &DesiredSet,
        user: &UserFacts,
        cluster_account: Option<&str>,
    ) -> Result<PrincipalEntries, AccessEntryError> {
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
        let mut read = PrincipalEntries {
            principal: candidates.first().cloned().unwrap_or_default(),
            ..PrincipalEntries::default()
        };
        for arn in &candidates {
            read.look_up_own(store, arn).await?;
        }
        if read.own.is_empty() && user.arn.is_none() {
            // A deleted user with a path: found by name (IAM user names are unique in an
            // account, whatever the path) among the entries this instance's full runs listed,
            // never by listing them all (that would cost one call per 100 entries on every
            // cluster without the user); a cold instance leaves it to the next full run.
            let named: Vec<String> = self
                .entry_memory
                .remembered_principals(store.cluster())
                .into_iter()
                .filter(|arn| is_user_named(arn, &user.user_name, account))
                .collect();
            for arn in &named {
                read.look_up_own(store, arn).await?;
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
pub(super) struct PrincipalEntries {
    /// The ARN the event's user is known under.
    pub principal: String,
    /// The user's own entries (none, or one; two when an old path lingers).
    pub own: Vec<CurrentEntry>,
    /// Other entries, read only for the guards.
    pub others: Vec<CurrentEntry>,
    /// Principal keys looked up and found without an access entry.
    pub without_entry: BTreeSet<String>,
    /// Principal keys whose entry is known: read, or found absent.
    known: BTreeSet<String>,
    /// Principals to look at for the last-cluster-admin guard before the listed entries
    /// (aws-auth's admins, on a cluster that reads both stores).
    candidates: VecDeque<String>,
    /// aws-auth's admins, as queued (for the summary).
    aws_auth_admins: Vec<String>,
    /// Every entry's principal (ListAccessEntries), once listed.
    listed: Option<Vec<String>>,
    /// Listed entries looked at so far for the guard (described, or the user's own).
    next: usize,
    /// Of those and the candidates, how many were looked up.
    described: usize,
}

impl PrincipalEntries {
    /// The user's own entry under `arn`, if any.
    async fn look_up_own(
        &mut self,
        store: &AccessEntryStore,
        arn: &str,
    ) -> Result<(), AccessEntryError> {
        if let Some(entry) = self.look_up_entry(store, arn).await? {
            self.own.push(entry);
        }
        Ok(())
    }

    /// Another principal's entry under `arn` (into `others`, or `without_entry`).
    pub(super) async fn look_up(
        &mut self,
        store: &AccessEntryStore,
        arn: &str,
    ) -> Result<(), AccessEntryError> {
        self.described += 1;
        if let Some(entry) = self.look_up_entry(store, arn).await? {
            self.others.push(entry);
        }
        Ok(())
    }

    /// The entry under `arn`, now known either way (none: `without_entry`).
    async fn look_up_entry(
        &mut self,
        store: &AccessEntryStore,
        arn: &str,
    ) -> Result<Option<CurrentEntry>, AccessEntryError> {
        self.known.insert(principal_key(arn));
        let entry = store.entry_of(arn).await?;
        match &entry {
            Some(entry) => {
                self.known.insert(principal_key(&entry.principal_arn));
            }
            None => {
                self.without_entry.insert(principal_key(arn));
            }
        }
        Ok(entry)
    }

    /// Whether the access entry of `arn`'s principal is known (read, or known absent).
    pub(super) fn knows(&self, arn: &str) -> bool {
        self.known.contains(&principal_key(arn))
    }

    /// Principals to look at first when another cluster admin is needed.
    pub(super) fn queue_candidates(&mut self, arns: Vec<String>) {
        self.aws_auth_admins.clone_from(&arns);
        self.candidates.extend(arns);
    }

    /// Everything read: the user's entries, then the others.
    pub(super) fn all(&self) -> Vec<CurrentEntry> {
        self.own.iter().chain(&self.others).cloned().collect()
    }

    /// What was read, for the summary's `entriesRead`: the other admin is the first admin
    /// entry read, else the first of aws-auth's admins known to hold no entry.
    pub(super) fn summary(&self) -> EntriesRead {
        let admin_entry = self.others.iter().find(|e| e.is_admin());
        let aws_auth_admin = self
            .aws_auth_admins
            .iter()
            .find(|arn| self.without_entry.contains(&principal_key(arn)));
        EntriesRead {
            principal: self.principal.clone(),
            listed: self.listed.as_ref().map_or(0, Vec::len),
            others_described: self.described,
            other_admin: admin_entry
                .map(|e| e.principal_arn.clone())
                .or_else(|| aws_auth_admin.cloned()),
        }
    }

    /// The listed principals (listed on first use).
    async fn list(&mut self, store: &AccessEntryStore) -> Result<&[String], AccessEntryError> {
        if self.listed.is_none() {
            self.listed = Some(store.list_principals().await?);
        }
        Ok(self.listed.as_deref().unwrap_or_default())
    }

    /// Looks up the next principal not known yet for the guard: a queued candidate, else the
    /// next listed entry; `false` when every entry has been read.
    pub(super) async fn describe_next(
        &mut self,
        store: &AccessEntryStore,
    ) -> Result<bool, AccessEntryError> {
        while let Some(arn) = self.candidates.pop_front() {
            if !self.knows(&arn) {
                self.look_up(store, &arn).await?;
                return Ok(true);
            }
        }
        let start = self.next;
        self.list(store).await?;
        let listed = self.listed.as_deref().unwrap_or_default();
        let Some(offset) = listed[start..]
            .iter()
            .position(|arn| !self.known.contains(&principal_key(arn)))
        else {
            self.next = listed.len();
            return Ok(false);
        };
        let arn = listed[start + offset].clone();
        self.next = start + offset + 1;
        self.look_up(store, &arn).await?;
        Ok(true)
    }
}

/// An empty aws-auth: the one-user desired set then holds only the event's user.
pub(super) fn no_aws_auth() -> AwsAuth {
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
