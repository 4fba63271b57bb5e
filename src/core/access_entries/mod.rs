//! The access-entries backend, pure: the desired set translated by EKS's rules, and the
//! planner that compares it with a cluster's current access entries.
//!
//! It owns the translation ([`translate()`]), the plan ([`plan()`], [`AccessPlan`]), and the aws-auth → access-entries migration plan ([`plan_migration`]). It does
//! not call EKS: [`crate::aws::access_entries`] reads entries into [`CurrentEntry`] values
//! and carries out [`Operation`]s.
//!
//! # Translation (EKS's rules)
//! - `system:masters` → `AmazonEKSClusterAdminPolicy` at cluster scope (as eksctl's migrator
//!   does); the group itself is not sent. Configured `accessPolicies` are associated with
//!   their scopes (cluster, or the listed namespaces).
//! - A mapping whose groups include `system:nodes` → an `EC2_LINUX` entry with no username,
//!   groups or policies. Only a role of the cluster's account can be one.
//! - Any other `system:` group, or a username starting with a reserved prefix (`system:`,
//!   `eks:`, `aws:`, `amazon:`, `iam:`), cannot be expressed on a `STANDARD` entry: the entry
//!   is reported as skipped, with the reason, and never sent.
//! - Role ARNs are sent as configured (path kept); entries are matched by canonical ARN.
//! - `mapAccounts` has no equivalent: each account is reported as skipped.
//!
//! # Ownership and policies
//! An entry is ours when it carries the tag [`MANAGED_TAG`]`=true` (set when we create it);
//! any other entry (whatever its type: EKS creates node and Fargate entries itself) is never
//! updated, deleted, or given policies, and a desired principal that has one is reported
//! every run (an entry of ours whose tag was removed looks exactly like that). On a managed
//! entry the associated policies are declarative: exactly the configured `accessPolicies`
//! (plus `AmazonEKSClusterAdminPolicy` at cluster scope for `system:masters`). A missing one
//! is associated, a changed namespace list re-scopes it, and anything else (associated by
//! hand) is disassociated and reported as drift reverted.
//!
//! # Entry types
//! `roles[].accessEntryType` picks the type (`EC2_LINUX` by default for a mapping in
//! `system:nodes`); node types get no username, groups or policies (but
//! `AmazonEKSAutoNodePolicy` for `EC2`) and need a role of the cluster's account.
//!
//! # Guarantees
//! - Type and principal are immutable: a type change, or a new IAM unique id (the principal
//!   was deleted and recreated: EKS keeps the old id, so the old entry no longer works), is a
//!   delete + create of that entry.
//! - The guards of [`crate::core::guards`] (the same engine as aws-auth's), refusing the whole
//!   plan: `protected-principal` (our identity keeps its entry and its cluster-admin policy),
//!   `last-cluster-admin` (some entry keeps `AmazonEKSClusterAdminPolicy` at cluster scope),
//!   `node-role` (no node entry goes without a replacement), `mass-removal` (same fraction and
//!   override); and this planner's own `ambiguous-entries` (two current entries for one
//!   principal, one ours: refuse rather than guess which one EKS uses), and `size-limit`
//!   (the plan would take the cluster past EKS's [`MAX_ACCESS_ENTRIES`] = 3,000 entries;
//!   the refusal names the count).
//! - No change → no operation; any refusal → no operation.
//!
//! # Layout
//! [`model`] the values, [`hold_back`] what a failed change holds back, [`one_principal`] the
//! plan of one principal's entry (a user event), [`rotation`] which entries a full run
//! describes again, [`translate`](mod@translate) EKS's rules, [`plan`](mod@plan) the
//! planner, [`migrate`] the aws-auth → access-entries move, `tests` by topic. Everything
//! public is re-exported here.

pub mod hold_back;
pub mod migrate;
pub mod model;
pub mod one_principal;
pub mod plan;
pub mod rotation;
pub mod translate;

#[cfg(test)]
mod tests;

pub use migrate::{MigrationPlan, aws_auth_without, managed_aws_auth, plan_migration, verified};
pub use model::{
    CLUSTER_ADMIN_POLICY_NAME, CurrentEntry, DesiredEntry, EC2_LINUX, EntryChange, EntryChangeKind,
    EntrySkip, EntryView, MANAGED_TAG, MANAGED_VALUE, MAX_ACCESS_ENTRIES, Operation,
    PRINCIPAL_ID_TAG, Policy, PolicyGrant, RESERVED_USERNAME_PREFIXES, STANDARD, Scope,
    is_cluster_admin, policy_arn, policy_name,
};
pub use plan::{AccessPlan, AccessPlanRequest, EntryWrites, plan, plan_unguarded};
pub use translate::{Translation, translate};

pub use crate::core::names::principal_key;
