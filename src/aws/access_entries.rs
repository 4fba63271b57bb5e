//! EKS access entries of one cluster: read them into [`CurrentEntry`] values, and carry out
//! a planned list of [`Operation`]s.
//!
//! It owns the EKS calls (List/Describe/Create/Update/DeleteAccessEntry,
//! List/Associate/DisassociateAccessPolicy), their pagination and counting, and the typed
//! errors that name the operation and the principal. It decides nothing: what to write is
//! [`crate::core::access_entries`]'s plan.
//!
//! # Errors
//! EKS's validation answers (`InvalidParameterException`, `InvalidRequestException`,
//! `ResourceInUseException`, `ResourceNotFoundException` on a write) are
//! [`AccessEntryError::Rejected`]: they concern one entry. Throttling (after the SDK's
//! retries), access denied and service failures say nothing about one entry. Which changes a
//! failure holds back is decided in [`crate::core::access_entries::hold_back`], not here.
//!
//! A delete or disassociation that finds nothing to remove (`ResourceNotFoundException`) has
//! done what it was for: it succeeds.
//!
//! # Guarantees
//! - Every call is counted ([`AccessEntryCalls`]), reads and writes apart; a paginated read
//!   counts one read per page.
//! - Reading: one ListAccessEntries pass, then each entry described (DescribeAccessEntry for
//!   its tags, type, username and groups; ListAssociatedAccessPolicies for its policies, only
//!   for the entries the caller wants) with at most [`READ_CONCURRENCY`] entries in flight,
//!   results in list order. Or one principal's entry alone ([`AccessEntryStore::entry_of`]),
//!   or only the list ([`AccessEntryStore::list_principals`]).
//!
//! # Pagination
//! ListAccessEntries and ListAssociatedAccessPolicies go through the SDK's paginators
//! (`into_paginator()`), read by `aws::paging`. The paginators end quietly when the
//! service repeats a `nextToken`; here that is [`AccessEntryError::BadPage`], as is a read of
//! more than `aws::paging::MAX_PAGES` pages, so a partial list is never taken for the
//! cluster's entries. (Before the paginators, a repeated token made the loop ask forever.)

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_eks::config::http::HttpResponse;
use aws_sdk_eks::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_eks::operation::describe_access_entry::{
    DescribeAccessEntryError, DescribeAccessEntryOutput,
};
use aws_sdk_eks::operation::list_access_entries::ListAccessEntriesOutput;
use aws_sdk_eks::operation::list_associated_access_policies::ListAssociatedAccessPoliciesOutput;
use aws_sdk_eks::types::{AccessScope, AccessScopeType, AssociatedAccessPolicy};
use futures::stream::poll_fn;
use futures::{Stream, StreamExt as _, TryStreamExt as _};

use super::paging::{Page, PagingError, read_pages};
use super::{Failure, classify};
use crate::core::access_entries::{CurrentEntry, Operation, Policy, Scope};

/// How many entries are described (DescribeAccessEntry, then ListAssociatedAccessPolicies) at
/// once: enough to read 1,000 entries in seconds, few enough to stay under EKS's request rate
/// (BENCHMARKS.md "Access entries at scale").
pub const READ_CONCURRENCY: usize = 8;

/// EKS access-entry calls made, reads and writes apart.
#[derive(Debug, Default)]
pub struct AccessEntryCalls {
    reads: AtomicU64,
    writes: AtomicU64,
}

impl AccessEntryCalls {
    /// (reads, writes).
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.reads.load(Ordering::Relaxed),
            self.writes.load(Ordering::Relaxed),
        )
    }
}

/// A failed access-entry call, naming the operation, the cluster and the principal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessEntryError {
    #[error("EKS {operation} for {principal} on cluster {cluster} was rejected: {message}")]
    Rejected {
        operation: &'static str,
        cluster: String,
        principal: String,
        message: String,
    },
    #[error(
        "EKS {operation} for {principal} on cluster {cluster} was throttled and the SDK's retries ran out: {message}"
    )]
    Throttled {
        operation: &'static str,
        cluster: String,
        principal: String,
        message: String,
    },
    #[error("EKS {operation} for {principal} on cluster {cluster} was denied: {message}")]
    Denied {
        operation: &'static str,
        cluster: String,
        principal: String,
        message: String,
    },
    #[error(
        "EKS {operation} for {principal} on cluster {cluster} failed (timeout, connection or service error): {message}"
    )]
    Unavailable {
        operation: &'static str,
        cluster: String,
        principal: String,
        message: String,
    },
    #[error("EKS {operation} for {principal} on cluster {cluster} returned a broken page: {why}")]
    BadPage {
        operation: &'static str,
        cluster: String,
        principal: String,
        why: String,
    },
    #[error("EKS {operation} on cluster {cluster} returned no {field}")]
    Missing {
        operation: &'static str,
        cluster: String,
        field: &'static str,
    },
}

impl AccessEntryError {
    /// Whether the error concerns one entry only (EKS refused that request as invalid).
    pub fn is_per_entry(&self) -> bool {
        matches!(self, AccessEntryError::Rejected { .. })
    }
}

/// Service error codes that reject one request as invalid for its entry.
const REJECTION_CODES: &[&str] = &[
    "InvalidParameterException",
    "InvalidRequestException",
    "ResourceInUseException",
    "ResourceNotFoundException",
    "ResourceLimitExceededException",
];

/// The access entries of one cluster, through its EKS client.
#[derive(Debug)]
pub struct AccessEntryStore {
    client: aws_sdk_eks::Client,
    cluster: String,
    calls: std::sync::Arc<AccessEntryCalls>,
}

impl AccessEntryStore {
    pub fn new(
        client: aws_sdk_eks::Client,
        cluster: &str,
        calls: std::sync::Arc<AccessEntryCalls>,
    ) -> AccessEntryStore {
        AccessEntryStore {
            client,
            cluster: cluster.to_owned(),
            calls,
        }
    }

    /// The cluster's name.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    fn error<E>(
        &self,
        operation: &'static str,
        principal: &str,
        err: &SdkError<E, HttpResponse>,
    ) -> AccessEntryError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = err.as_service_error().and_then(|e| e.code());
        let (cluster, principal) = (self.cluster.clone(), principal.to_owned());
        let failure = classify(err);
        match failure {
            Failure::Other(message) if code.is_some_and(|c| REJECTION_CODES.contains(&c)) => {
                AccessEntryError::Rejected {
                    operation,
                    cluster,
                    principal,
                    message,
                }
            }
            Failure::Throttled(message) => AccessEntryError::Throttled {
                operation,
                cluster,
                principal,
                message,
            },
            Failure::Denied(message) => AccessEntryError::Denied {
                operation,
                cluster,
                principal,
                message,
            },
            Failure::Transient(message) | Failure::Other(message) => {
                AccessEntryError::Unavailable {
                    operation,
                    cluster,
                    principal,
                    message,
                }
            }
        }
    }

    fn read(&self) {
        self.calls.reads.fetch_add(1, Ordering::Relaxed);
    }

    fn write(&self) {
        self.calls.writes.fetch_add(1, Ordering::Relaxed);
    }

    /// A write's result: its output dropped, its error typed.
    fn outcome<O, E>(
        &self,
        operation: &'static str,
        principal: &str,
        sent: Result<O, SdkError<E, HttpResponse>>,
    ) -> Result<(), AccessEntryError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        sent.map(drop)
            .map_err(|err| self.error(operation, principal, &err))
    }

    /// A removal's result: finding nothing to remove (`ResourceNotFoundException`) is done.
    fn removal_outcome<O, E>(
        &self,
        operation: &'static str,
        principal: &str,
        sent: Result<O, SdkError<E, HttpResponse>>,
    ) -> Result<(), AccessEntryError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match sent {
            Err(err)
                if err.as_service_error().and_then(|e| e.code())
                    == Some("ResourceNotFoundException") =>
            {
                tracing::info!(cluster = %self.cluster, principal, operation, "nothing to remove: already gone");
                Ok(())
            }
            sent => self.outcome(operation, principal, sent),
        }
    }

    /// Gives every page of one paginated read to `take`, counting each request as a read.
    async fn read_all<P: Page, E>(
        &self,
        operation: &'static str,
        principal: &str,
        pages: impl Stream<Item = Result<P, SdkError<E, HttpResponse>>>,
        take: impl FnMut(P),
    ) -> Result<(), AccessEntryError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        read_pages(pages, || self.read(), take)
            .await
            .map_err(|failure| match failure {
                PagingError::Request(err) => self.error(operation, principal, &err),
                PagingError::Broken(why) => AccessEntryError::BadPage {
                    operation,
                    cluster: self.cluster.clone(),
                    principal: principal.to_owned(),
                    why,
                },
            })
    }

    /// Every access entry of the cluster, described, with its associated policies.
    ///
    /// # Errors
    /// Any failed read (a failed read is never taken for "no entries").
    pub async fn list(&self) -> Result<Vec<CurrentEntry>, AccessEntryError> {
        self.list_for(&|_: &CurrentEntry| true).await
    }

    /// Every access entry of the cluster, described; the associated policies are read only for
    /// the entries `wanted` accepts (the others are marked
    /// [`CurrentEntry::policies_unread`]).
    ///
    /// # Errors
    /// Any failed read (a failed read is never taken for "no entries").
    pub async fn list_for(
        &self,
        wanted: &(dyn Fn(&CurrentEntry) -> bool + Sync),
    ) -> Result<Vec<CurrentEntry>, AccessEntryError> {
        let arns = self.list_principals().await?;
        self.describe_each(&arns, wanted).await
    }

    /// The entries of `arns` (principals just listed), described; the associated policies
    /// are read only for those `wanted` accepts. At most [`READ_CONCURRENCY`] in flight,
    /// results in the order of `arns`.
    ///
    /// # Errors
    /// Any failed read.
    pub async fn describe_each(
        &self,
        arns: &[String],
        wanted: &(dyn Fn(&CurrentEntry) -> bool + Sync),
    ) -> Result<Vec<CurrentEntry>, AccessEntryError> {
        // Bounded concurrency, in list order; the first failure ends the read.
        futures::stream::iter(arns.iter().map(|arn| async move {
            let mut entry = self.describe(arn).await?;
            if wanted(&entry) {
                entry.policies = self.policies(&entry.principal_arn).await?;
            } else {
                entry.policies_unread = true;
            }
            Ok::<_, AccessEntryError>(entry)
        }))
        .buffered(READ_CONCURRENCY)
        .try_collect()
        .await
    }

    /// The principal ARNs of every access entry of the cluster (ListAccessEntries, every
    /// page: one read per 100 entries), in EKS's order.
    ///
    /// # Errors
    /// Any failed read.
    pub async fn list_principals(&self) -> Result<Vec<String>, AccessEntryError> {
        let mut pages = self
            .client
            .list_access_entries()
            .cluster_name(&self.cluster)
            .into_paginator()
            .send();
        let mut arns = Vec::new();
        self.read_all(
            "ListAccessEntries",
            "(all entries)",
            poll_fn(move |cx| pages.poll_next(cx)),
            |page: ListAccessEntriesOutput| arns.extend(page.access_entries().iter().cloned()),
        )
        .await?;
        Ok(arns)
    }

    /// The access entry of one principal with its policies (DescribeAccessEntry, then
    /// ListAssociatedAccessPolicies when there is one); `None` when the principal has none.
    ///
    /// # Errors
    /// Any failed read other than the entry not existing.
    pub async fn entry_of(
        &self,
        principal: &str,
    ) -> Result<Option<CurrentEntry>, AccessEntryError> {
        let Some(mut entry) = self.describe_if_any(principal).await? else {
            return Ok(None);
        };
        entry.policies = self.policies(&entry.principal_arn).await?;
        Ok(Some(entry))
    }

    /// Reads the policies of the entries [`AccessEntryStore::list_for`] left unread.
    ///
    /// # Errors
    /// Any failed read.
    pub async fn read_unread_policies(
        &self,
        entries: &mut [CurrentEntry],
    ) -> Result<(), AccessEntryError> {
        let unread: Vec<&mut CurrentEntry> =
            entries.iter_mut().filter(|e| e.policies_unread).collect();
        futures::stream::iter(unread.into_iter().map(|entry| async move {
            entry.policies = self.policies(&entry.principal_arn).await?;
            entry.policies_unread = false;
            Ok::<_, AccessEntryError>(())
        }))
        .buffered(READ_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
        Ok(())
    }

    /// DescribeAccessEntry of an entry just listed (gone since: a rejection of that entry).
    async fn describe(&self, principal: &str) -> Result<CurrentEntry, AccessEntryError> {
        let described = self.describe_call(principal).await;
        self.entry_from(
            principal,
            described.map_err(|e| self.error("DescribeAccessEntry", principal, &e))?,
        )
    }

    /// DescribeAccessEntry of a principal that may have no entry (`None`).
    async fn describe_if_any(
        &self,
        principal: &str,
    ) -> Result<Option<CurrentEntry>, AccessEntryError> {
        match self.describe_call(principal).await {
            Err(e)
                if e.as_service_error().and_then(|e| e.code())
                    == Some("ResourceNotFoundException") =>
            {
                Ok(None)
            }
            described => self
                .entry_from(
                    principal,
                    described.map_err(|e| self.error("DescribeAccessEntry", principal, &e))?,
                )
                .map(Some),
        }
    }

    async fn describe_call(
        &self,
        principal: &str,
    ) -> Result<DescribeAccessEntryOutput, SdkError<DescribeAccessEntryError, HttpResponse>> {
        self.read();
        self.client
            .describe_access_entry()
            .cluster_name(&self.cluster)
            .principal_arn(principal)
            .send()
            .await
    }

    fn entry_from(
        &self,
        principal: &str,
        described: DescribeAccessEntryOutput,
    ) -> Result<CurrentEntry, AccessEntryError> {
        let entry = described
            .access_entry()
            .ok_or_else(|| AccessEntryError::Missing {
                operation: "DescribeAccessEntry",
                cluster: self.cluster.clone(),
                field: "accessEntry",
            })?;
        Ok(CurrentEntry {
            principal_arn: entry.principal_arn().unwrap_or(principal).to_owned(),
            entry_type: entry.r#type().unwrap_or("STANDARD").to_owned(),
            username: entry.username().map(str::to_owned),
            groups: entry.kubernetes_groups().to_vec(),
            tags: entry
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_else(BTreeMap::new),
            policies: Vec::new(),
            policies_unread: false,
            created_at: entry.created_at().map(|t| t.secs()),
        })
    }

    /// ListAssociatedAccessPolicies of one entry, every page.
    async fn policies(&self, principal: &str) -> Result<Vec<Policy>, AccessEntryError> {
        let mut pages = self
            .client
            .list_associated_access_policies()
            .cluster_name(&self.cluster)
            .principal_arn(principal)
            .into_paginator()
            .send();
        let mut policies = Vec::new();
        self.read_all(
            "ListAssociatedAccessPolicies",
            principal,
            poll_fn(move |cx| pages.poll_next(cx)),
            |page: ListAssociatedAccessPoliciesOutput| {
                policies.extend(page.associated_access_policies().iter().map(policy_of));
            },
        )
        .await?;
        Ok(policies)
    }

    /// Runs one operation.
    ///
    /// # Errors
    /// The call's failure, typed (see the module doc).
    pub async fn run(&self, operation: &Operation) -> Result<(), AccessEntryError> {
        let principal = operation.principal_arn();
        let name = operation.name();
        self.write();
        let (client, cluster) = (&self.client, &self.cluster);
        match operation {
            Operation::Create {
                principal_arn,
                entry_type,
                username,
                groups,
                tags,
            } => {
                let sent = client
                    .create_access_entry()
                    .cluster_name(cluster)
                    .principal_arn(principal_arn)
                    .r#type(entry_type)
                    .set_username(username.clone())
                    .set_kubernetes_groups((!groups.is_empty()).then(|| groups.clone()))
                    .set_tags(Some(tags.clone().into_iter().collect()))
                    .send()
                    .await;
                self.outcome(name, principal, sent)
            }
            Operation::Update {
                principal_arn,
                username,
                groups,
            } => {
                let sent = client
                    .update_access_entry()
                    .cluster_name(cluster)
                    .principal_arn(principal_arn)
                    .set_username(username.clone())
                    .set_kubernetes_groups(Some(groups.clone()))
                    .send()
                    .await;
                self.outcome(name, principal, sent)
            }
            Operation::Delete { principal_arn } => {
                let sent = client
                    .delete_access_entry()
                    .cluster_name(cluster)
                    .principal_arn(principal_arn)
                    .send()
                    .await;
                self.removal_outcome(name, principal, sent)
            }
            Operation::Associate {
                principal_arn,
                policy,
            } => {
                let scope = match &policy.scope {
                    Scope::Cluster => AccessScope::builder().r#type(AccessScopeType::Cluster),
                    Scope::Namespaces(ns) => AccessScope::builder()
                        .r#type(AccessScopeType::Namespace)
                        .set_namespaces(Some(ns.clone())),
                };
                let sent = client
                    .associate_access_policy()
                    .cluster_name(cluster)
                    .principal_arn(principal_arn)
                    .policy_arn(&policy.policy_arn)
                    .access_scope(scope.build())
                    .send()
                    .await;
                self.outcome(name, principal, sent)
            }
            Operation::Disassociate {
                principal_arn,
                policy_arn,
            } => {
                let sent = client
                    .disassociate_access_policy()
                    .cluster_name(cluster)
                    .principal_arn(principal_arn)
                    .policy_arn(policy_arn)
                    .send()
                    .await;
                self.removal_outcome(name, principal, sent)
            }
        }
    }
}

/// One associated policy as the planner compares it: a scope other than namespaces (or none)
/// is the whole cluster.
fn policy_of(associated: &AssociatedAccessPolicy) -> Policy {
    let scope = match associated.access_scope() {
        Some(s) if s.r#type() == Some(&AccessScopeType::Namespace) => {
            Scope::Namespaces(s.namespaces().to_vec())
        }
        _ => Scope::Cluster,
    };
    Policy {
        policy_arn: associated.policy_arn().unwrap_or_default().to_owned(),
        scope,
    }
}
