//! The plan of a cluster whose authentication mode reads both stores (`API_AND_CONFIG_MAP`):
//! the granting store is planned as usual, the other one keeps its managed entries in step
//! (nothing added), and the guards judge the two writes together, on what EKS would
//! authorize afterwards: an access entry when the principal has one, otherwise aws-auth.
//!
//! One refusal refuses both writes. Grants that EKS shadows (an aws-auth mapping behind the
//! principal's access entry) are listed, so a report never suggests aws-auth decides access
//! it does not decide.
//!
//! A user event plans one principal ([`plan_both_for_principal`]): aws-auth is read whole, but
//! of the access entries only that principal's and those read for the guards. An unread
//! access entry would win over its principal's aws-auth mapping, so the guards count an
//! aws-auth grant only for principals whose access entry is known (read, or known to be
//! absent); [`BothPlan::needs_another_admin`] says when reading more could make the change
//! safe.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::{Store, combined_view};
use crate::core::access_entries::plan::{proposal, refused_for_want_of_policies};
use crate::core::access_entries::{
    self as entries, AccessPlan, AccessPlanRequest, CurrentEntry, principal_key,
};
use crate::core::aws_auth::plan::{self as aws_auth, Plan, PlanRequest};
use crate::core::guards::{self, AccessView, Guard, Phrasing, Refusal, StoreProposal};

/// Everything the plan over both stores needs. The guard settings and protected principals
/// are the aws-auth request's.
#[derive(Debug, Clone, Copy)]
pub struct BothRequest<'a> {
    /// The store grants are written to.
    pub grants: Store,
    pub aws_auth: PlanRequest<'a>,
    pub access_entries: AccessPlanRequest<'a>,
}

/// The plan of both stores.
#[derive(Debug, Clone, Default)]
pub struct BothPlan {
    /// aws-auth's part; its `write` is `None` when anything refused.
    pub aws_auth: Plan,
    /// The access entries' part; run its operations only when [`BothPlan::is_refused`] is false.
    pub access_entries: AccessPlan,
    /// Every refusal: each store's own, then the guards' on effective access.
    pub refusals: Vec<Refusal>,
    /// aws-auth mappings that EKS shadows with the principal's access entry after the write.
    pub shadowed: Vec<String>,
    /// What aws-auth grants before and after its write, as the guards see it (`None` when
    /// aws-auth does not parse): a failed access-entry change is judged again against it.
    pub aws_auth_proposal: Option<StoreProposal>,
}

impl BothPlan {
    pub fn is_refused(&self) -> bool {
        !self.refusals.is_empty()
    }

    pub fn has_changes(&self) -> bool {
        self.aws_auth.has_changes() || self.access_entries.has_changes()
    }

    /// Whether this plan must be made again with every access entry's policies read (see
    /// [`crate::core::access_entries::AccessPlan::needs_every_policy`]).
    pub fn needs_every_policy(&self, current: &[CurrentEntry]) -> bool {
        refused_for_want_of_policies(&self.refusals, current)
    }

    /// Whether this one-principal plan is refused because no other cluster admin is known
    /// yet: reading more entries may find one ([`plan_both_for_principal`]).
    pub fn needs_another_admin(&self) -> bool {
        self.refusals
            .iter()
            .any(|r| r.guard == Guard::LastClusterAdmin)
    }

    /// Both stores' plans, the shadowed grants, then the refusals once.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let without_refusals = |text: String| -> String {
            text.lines()
                .filter(|l| !l.starts_with("refused by guard"))
                .map(|l| format!("{l}\n"))
                .collect()
        };
        let _ = writeln!(out, "aws-auth:");
        out.push_str(&without_refusals(self.aws_auth.describe()));
        let _ = writeln!(out, "access entries:");
        out.push_str(&without_refusals(self.access_entries.describe()));
        for shadowed in &self.shadowed {
            let _ = writeln!(out, "shadowed: {shadowed}");
        }
        for refusal in &self.refusals {
            let _ = writeln!(out, "{refusal}");
        }
        out
    }
}

/// What a user event read of the access entries besides its principal's own (the request's
/// `access_entries.current`).
#[derive(Debug, Clone, Copy)]
pub struct PrincipalRead<'a> {
    /// Other principals' entries, read for the guards only (never changed).
    pub others: &'a [CurrentEntry],
    /// Principal keys known to hold no access entry (DescribeAccessEntry found none).
    pub without_entry: &'a BTreeSet<String>,
}

/// Plans both stores of one cluster, every access entry read. Pure.
pub fn plan_both(request: &BothRequest<'_>) -> BothPlan {
    plan_both_read(request, None)
}

/// Plans one principal's change on both stores (a user event). `request.aws_auth.desired` is
/// aws-auth's managed entries with that principal's worked out again;
/// `request.access_entries` has the principal's own entries and desired entry alone. The
/// guards judge the change on what was read: the principal's entries and `read.others`, and
/// aws-auth's grants of the principals whose access entry is known. Pure.
pub fn plan_both_for_principal(request: &BothRequest<'_>, read: PrincipalRead<'_>) -> BothPlan {
    plan_both_read(request, Some(read))
}

fn plan_both_read(request: &BothRequest<'_>, read: Option<PrincipalRead<'_>>) -> BothPlan {
    let scope_of = |store| request.grants == store;
    let (mut aws_auth_plan, pending) = aws_auth::plan_unguarded(
        &request.aws_auth,
        if scope_of(Store::AwsAuth) {
            aws_auth::MappingWrites::Sync
        } else {
            aws_auth::MappingWrites::ExistingOnly
        },
        true,
    );
    let (access_plan, mut entries_proposal) = entries::plan_unguarded(
        &request.access_entries,
        if scope_of(Store::AccessEntries) {
            entries::EntryWrites::Sync
        } else {
            entries::EntryWrites::ExistingOnly
        },
    );
    // Entries known: every one read, and the principals found without one.
    let mut known: Option<BTreeSet<String>> = None;
    if let Some(read) = read {
        let all: Vec<CurrentEntry> = (request.access_entries.current.iter())
            .chain(read.others)
            .cloned()
            .collect();
        entries_proposal = proposal(&all, &access_plan.changes);
        let keys = all.iter().map(|e| principal_key(&e.principal_arn));
        known = Some(keys.chain(read.without_entry.iter().cloned()).collect());
    }
    let mut refusals: Vec<Refusal> = aws_auth_plan
        .refusals
        .iter()
        .chain(&access_plan.refusals)
        .cloned()
        .collect();
    let mut shadowed = Vec::new();
    let mut kept_proposal = None;
    if let Some(pending) = pending {
        let protected = request.aws_auth.protected;
        let mut aws_auth_proposal = pending.proposal(protected);
        if let Some(known) = &known {
            aws_auth_proposal.before = only_known(&aws_auth_proposal.before, known);
            aws_auth_proposal.after = only_known(&aws_auth_proposal.after, known);
        }
        kept_proposal = Some(aws_auth_proposal.clone());
        shadowed = shadowed_grants(&aws_auth_proposal, &entries_proposal);
        if aws_auth_plan.has_changes() || access_plan.has_changes() {
            let both = StoreProposal {
                before: combined_view(&aws_auth_proposal.before, &entries_proposal.before),
                after: combined_view(&aws_auth_proposal.after, &entries_proposal.after),
                managed_before: aws_auth_proposal.managed_before + entries_proposal.managed_before,
                removed: [aws_auth_proposal.removed, entries_proposal.removed].concat(),
                data_size: aws_auth_proposal.data_size,
            };
            refusals.extend(guards::check(
                &both.proposed(Phrasing::Effective),
                &request.aws_auth.guards,
                protected,
            ));
        }
        if refusals.is_empty() {
            pending.commit(&mut aws_auth_plan);
        }
    }
    aws_auth_plan.refusals.clear();
    BothPlan {
        aws_auth: aws_auth_plan,
        access_entries: AccessPlan {
            refusals: Vec::new(),
            ..access_plan
        },
        refusals,
        shadowed,
        aws_auth_proposal: kept_proposal,
    }
}

/// `view` restricted to the principals in `known`: what aws-auth grants where EKS is known to
/// use it (no unread access entry can win over it).
fn only_known(view: &AccessView, known: &BTreeSet<String>) -> AccessView {
    let mut kept = AccessView::default();
    for (key, holding) in view.holdings() {
        if known.contains(key) {
            kept.set(key.to_owned(), holding.clone());
        }
    }
    kept
}

/// aws-auth mappings (as the guards label them) whose principal keeps an access entry.
fn shadowed_grants(aws_auth: &StoreProposal, access_entries: &StoreProposal) -> Vec<String> {
    aws_auth
        .after
        .holdings()
        .into_iter()
        .filter(|(key, _)| access_entries.after.contains(key))
        .map(|(_, held)| {
            format!(
                "{} is shadowed by the principal's access entry (EKS uses the access entry)",
                held.label
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
