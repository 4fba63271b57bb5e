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
//! [`AccessEntryError::Rejected`]: [`AccessEntryStore::execute`] reports them against the
//! entry and goes on with the others. Throttling (after the SDK's retries), access denied and
//! service failures stop the run for this cluster: they say nothing about one entry.
//!
//! # Guarantees
//! - Changes run in the plan's order (grants before removals). Once any change failed, the
//!   deletes and disassociations still to come are not run (reported as not attempted), so a
//!   failed grant never leaves a removal that assumed it.
//! - Every call is counted ([`AccessEntryCalls`]), reads and writes apart.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_eks::types::{AccessScope, AccessScopeType};

use super::{Failure, classify};
use crate::core::access_entries::{Change, CurrentEntry, Operation, Policy, Scope};

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

/// What happened to one planned change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeResult {
    Done,
    /// EKS rejected one of its calls (later calls of the change were not made).
    Rejected(AccessEntryError),
    /// Not attempted: an earlier change failed and this one removes access.
    NotAttempted(String),
}

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

    fn error<E>(
        &self,
        operation: &'static str,
        principal: &str,
        err: &aws_sdk_eks::error::SdkError<E, aws_sdk_eks::config::http::HttpResponse>,
    ) -> AccessEntryError
    where
        E: aws_sdk_eks::error::ProvideErrorMetadata + std::error::Error + 'static,
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

    /// Every access entry of the cluster, described, with its associated policies.
    ///
    /// # Errors
    /// Any failed read (a failed read is never taken for "no entries").
    pub async fn list(&self) -> Result<Vec<CurrentEntry>, AccessEntryError> {
        let mut arns = Vec::new();
        let mut token = None;
        loop {
            self.read();
            let page = self
                .client
                .list_access_entries()
                .cluster_name(&self.cluster)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| self.error("ListAccessEntries", "(all entries)", &e))?;
            arns.extend(page.access_entries().iter().cloned());
            token = page
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        let mut entries = Vec::with_capacity(arns.len());
        for arn in arns {
            entries.push(self.describe(&arn).await?);
        }
        Ok(entries)
    }

    async fn describe(&self, principal: &str) -> Result<CurrentEntry, AccessEntryError> {
        self.read();
        let described = self
            .client
            .describe_access_entry()
            .cluster_name(&self.cluster)
            .principal_arn(principal)
            .send()
            .await
            .map_err(|e| self.error("DescribeAccessEntry", principal, &e))?;
        let entry = described
            .access_entry()
            .ok_or_else(|| AccessEntryError::Missing {
                operation: "DescribeAccessEntry",
                cluster: self.cluster.clone(),
                field: "accessEntry",
            })?;
        let mut policies = Vec::new();
        let mut token = None;
        loop {
            self.read();
            let page = self
                .client
                .list_associated_access_policies()
                .cluster_name(&self.cluster)
                .principal_arn(principal)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| self.error("ListAssociatedAccessPolicies", principal, &e))?;
            for p in page.associated_access_policies() {
                let scope = match p.access_scope() {
                    Some(s) if s.r#type() == Some(&AccessScopeType::Namespace) => {
                        Scope::Namespaces(s.namespaces().to_vec())
                    }
                    _ => Scope::Cluster,
                };
                policies.push(Policy {
                    policy_arn: p.policy_arn().unwrap_or_default().to_owned(),
                    scope,
                });
            }
            token = page
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        Ok(CurrentEntry {
            principal_arn: entry.principal_arn().unwrap_or(principal).to_owned(),
            entry_type: entry.r#type().unwrap_or("STANDARD").to_owned(),
            username: entry.username().map(str::to_owned),
            groups: entry.kubernetes_groups().to_vec(),
            tags: entry
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_else(BTreeMap::new),
            policies,
        })
    }

    /// Runs one operation.
    ///
    /// # Errors
    /// The call's failure, typed (see the module doc).
    pub async fn run(&self, operation: &Operation) -> Result<(), AccessEntryError> {
        let principal = operation.principal_arn();
        let name = operation.name();
        self.write();
        let cluster = &self.cluster;
        match operation {
            Operation::Create {
                principal_arn,
                entry_type,
                username,
                groups,
                tags,
            } => self
                .client
                .create_access_entry()
                .cluster_name(cluster)
                .principal_arn(principal_arn)
                .r#type(entry_type)
                .set_username(username.clone())
                .set_kubernetes_groups((!groups.is_empty()).then(|| groups.clone()))
                .set_tags(Some(tags.clone().into_iter().collect()))
                .send()
                .await
                .map(drop)
                .map_err(|e| self.error(name, principal, &e)),
            Operation::Update {
                principal_arn,
                username,
                groups,
            } => self
                .client
                .update_access_entry()
                .cluster_name(cluster)
                .principal_arn(principal_arn)
                .set_username(username.clone())
                .set_kubernetes_groups(Some(groups.clone()))
                .send()
                .await
                .map(drop)
                .map_err(|e| self.error(name, principal, &e)),
            Operation::Delete { principal_arn } => self
                .client
                .delete_access_entry()
                .cluster_name(cluster)
                .principal_arn(principal_arn)
                .send()
                .await
                .map(drop)
                .map_err(|e| self.error(name, principal, &e)),
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
                self.client
                    .associate_access_policy()
                    .cluster_name(cluster)
                    .principal_arn(principal_arn)
                    .policy_arn(&policy.policy_arn)
                    .access_scope(scope.build())
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| self.error(name, principal, &e))
            }
            Operation::Disassociate {
                principal_arn,
                policy_arn,
            } => self
                .client
                .disassociate_access_policy()
                .cluster_name(cluster)
                .principal_arn(principal_arn)
                .policy_arn(policy_arn)
                .send()
                .await
                .map(drop)
                .map_err(|e| self.error(name, principal, &e)),
        }
    }

    /// Carries out the plan's changes in order: one result per change. A rejected call fails
    /// its change only; once a change failed, later changes that remove access are not run.
    ///
    /// # Errors
    /// A failure that is not about one entry (throttling, denied, unavailable) stops the run.
    pub async fn execute(&self, changes: &[Change]) -> Result<Vec<ChangeResult>, AccessEntryError> {
        let mut results = Vec::with_capacity(changes.len());
        let mut failed: Option<String> = None;
        for change in changes {
            let removes = change.operations.iter().any(|op| {
                matches!(
                    op,
                    Operation::Delete { .. } | Operation::Disassociate { .. }
                )
            }) && !change
                .operations
                .iter()
                .any(|op| matches!(op, Operation::Create { .. }));
            if let (true, Some(first)) = (removes, &failed) {
                results.push(ChangeResult::NotAttempted(format!(
                    "not attempted: an earlier change failed ({first}), and this one removes access"
                )));
                continue;
            }
            let mut result = ChangeResult::Done;
            for op in &change.operations {
                match self.run(op).await {
                    Ok(()) => {}
                    Err(e) if e.is_per_entry() => {
                        failed.get_or_insert_with(|| change.principal_arn.clone());
                        result = ChangeResult::Rejected(e);
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            results.push(result);
        }
        Ok(results)
    }
}
