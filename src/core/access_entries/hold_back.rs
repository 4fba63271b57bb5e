//! What a failed access-entry change holds back, pure: given how the grants of a plan ended,
//! which of its removals still run.
//!
//! A plan's changes run grants first (creates, updates, recreates), then removals (deletes,
//! and updates that only disassociate policies). When every grant went through, every
//! removal runs: the guards already judged the whole plan. When some failed, a removal is
//! held back only when its safety depended on a failure:
//! - **the same principal**: its own change failed (a revocation of what the failed change
//!   was to replace);
//! - **the guards on the state actually reached**: the guards run again over what EKS holds
//!   once the successful grants are made, and the removals are released one by one, in plan
//!   order, while the guards still pass (a removal that now would leave no cluster admin, or
//!   take a node role without its replacement, waits; the rest go).
//!
//! A failed change whose first call already went through leaves its principal in a state we
//! do not know; the guards then count it as holding nothing, so no removal relies on it.
//! A refusal of the whole plan on a cluster that reads both stores uses the same release,
//! with the refused store counted as granting nothing ([`release_despite_refusal`]).
//!
//! The adapter ([`crate::aws::access_entries`]) only runs calls; the apply loop
//! (`reconcile::apply`) asks this module what to run.

use std::collections::BTreeMap;

use super::model::{CurrentEntry, EntryChange, Operation};
use super::plan::{view_after, view_before};
use crate::core::effective::combined_view;
use crate::core::guards::{self, AccessView, Guard, GuardSettings, Phrasing, Proposed, Refusal};
use crate::core::names::principal_key;

/// How the calls of one change ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Every call went through.
    Done,
    /// A call failed after `calls_done` calls of the change went through.
    Failed { calls_done: usize, why: String },
}

/// Whether this change only takes access away: it deletes the entry or disassociates
/// policies, and creates nothing.
pub fn removes_access(change: &EntryChange) -> bool {
    let takes = change.operations.iter().any(|op| {
        matches!(
            op,
            Operation::Delete { .. } | Operation::Disassociate { .. }
        )
    });
    let creates = change
        .operations
        .iter()
        .any(|op| matches!(op, Operation::Create { .. }));
    takes && !creates
}

/// What EKS reads besides the access entries, before and after its own write
/// (`API_AND_CONFIG_MAP`'s aws-auth); `None` on an `API` cluster.
#[derive(Debug, Clone, Copy)]
pub struct OtherStore<'a> {
    pub before: &'a AccessView,
    pub after: &'a AccessView,
}

/// Everything the release of removals needs.
#[derive(Debug, Clone, Copy)]
pub struct Release<'a> {
    /// The entries as read before the run.
    pub current: &'a [CurrentEntry],
    /// The plan's changes, in plan order.
    pub changes: &'a [EntryChange],
    /// How each grant ended (`None`: a removal, or a change not run).
    pub progress: &'a [Option<Progress>],
    pub other: Option<OtherStore<'a>>,
    pub guards: GuardSettings,
    pub protected: &'a [String],
}

/// The verdict on one removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Run,
    /// Held back, and why (names the failed change or the guard).
    HeldBack(String),
}

/// For each change of `release.changes` that [`removes_access`], in plan order, whether it
/// still runs; the other changes are not in the answer. Pure.
pub fn release_removals(release: &Release<'_>) -> Vec<(usize, Verdict)> {
    let removals: Vec<usize> = (0..release.changes.len())
        .filter(|&i| removes_access(&release.changes[i]))
        .collect();
    let failed: BTreeMap<String, String> = release
        .changes
        .iter()
        .zip(release.progress)
        .filter_map(|(change, progress)| match progress {
            Some(Progress::Failed { why, .. }) => {
                Some((principal_key(&change.principal_arn), why.clone()))
            }
            _ => None,
        })
        .collect();
    if failed.is_empty() {
        return removals.into_iter().map(|i| (i, Verdict::Run)).collect();
    }
    let reached = reached_view(release);
    greedy(release, &removals, &reached, |key| {
        failed.get(key).map(|why| {
            format!(
                "held back: this principal's own change failed ({why}), and this removal assumed it"
            )
        })
    })
}

/// The removals that may still run on a cluster whose plan was refused (`refusals`): only
/// when no refusal is the mass-removal guard's (bulk removal is what it stops) or the access
/// entries' own (`ambiguous-entries`, `size-limit`), judged with the other store granting
/// nothing (it is unreadable, or refused: its grants cannot be relied on). Pure.
pub fn release_despite_refusal(
    release: &Release<'_>,
    refusals: &[Refusal],
) -> Vec<(usize, Verdict)> {
    let removals: Vec<usize> = (0..release.changes.len())
        .filter(|&i| removes_access(&release.changes[i]))
        .collect();
    let blocking = refusals.iter().find(|r| {
        matches!(
            r.guard,
            Guard::MassRemoval | Guard::Ambiguous | Guard::SizeLimit
        )
    });
    if let Some(refusal) = blocking {
        let why = format!("held back: the plan was {refusal}");
        return removals
            .into_iter()
            .map(|i| (i, Verdict::HeldBack(why.clone())))
            .collect();
    }
    let nothing = AccessView::default();
    let judged = Release {
        other: Some(OtherStore {
            before: &nothing,
            after: &nothing,
        }),
        ..*release
    };
    greedy(&judged, &removals, &view_before(release.current), |_| None)
}

/// Whether the other store's write (aws-auth's, made after the entries on
/// `API_AND_CONFIG_MAP`) may still be made once the entries' grants ended as `release` says
/// and the removals `ran` went through: when something failed, the guards judge it again on
/// the state reached. Pure.
pub fn release_other_write(release: &Release<'_>, ran: &[usize]) -> Verdict {
    let Some(other) = release.other else {
        return Verdict::Run;
    };
    let failed = release
        .progress
        .iter()
        .any(|p| matches!(p, Some(Progress::Failed { .. })));
    if !failed {
        return Verdict::Run;
    }
    let made: Vec<EntryChange> = ran.iter().map(|&i| release.changes[i].clone()).collect();
    let entries = view_after(reached_view(release), &made);
    let refusals = guards::check(
        &Proposed {
            phrasing: Phrasing::Effective,
            before: &combined_view(other.before, &entries),
            after: &combined_view(other.after, &entries),
            managed_before: 0,
            removed: &[],
            data_size: None,
        },
        &release.guards,
        release.protected,
    );
    match refusals.first() {
        None => Verdict::Run,
        Some(refusal) => Verdict::HeldBack(format!(
            "held back: an access-entry change failed, and on the state reached this write would be {refusal}"
        )),
    }
}

/// Releases `removals` one by one, in order, while the guards pass over `reached` with the
/// released ones made; `same_principal` holds back a removal outright.
fn greedy(
    release: &Release<'_>,
    removals: &[usize],
    reached: &AccessView,
    same_principal: impl Fn(&str) -> Option<String>,
) -> Vec<(usize, Verdict)> {
    let managed_before = release.current.iter().filter(|e| e.is_managed()).count();
    let mut released: Vec<&EntryChange> = Vec::new();
    let mut verdicts = Vec::with_capacity(removals.len());
    for &i in removals {
        let change = &release.changes[i];
        if let Some(why) = same_principal(&principal_key(&change.principal_arn)) {
            verdicts.push((i, Verdict::HeldBack(why)));
            continue;
        }
        released.push(change);
        let refusals = check(release, reached, &released, managed_before);
        match refusals.first() {
            None => verdicts.push((i, Verdict::Run)),
            Some(refusal) => {
                released.pop();
                verdicts.push((
                    i,
                    Verdict::HeldBack(format!(
                        "held back: an earlier change failed, and on the state reached this removal would be {refusal}"
                    )),
                ));
            }
        }
    }
    verdicts
}

/// The guards over `reached` once `released` are made, with the other store's write.
fn check(
    release: &Release<'_>,
    reached: &AccessView,
    released: &[&EntryChange],
    managed_before: usize,
) -> Vec<Refusal> {
    let owned: Vec<EntryChange> = released.iter().map(|c| (*c).clone()).collect();
    let after = view_after(reached.clone(), &owned);
    let removed: Vec<String> = released.iter().map(|c| c.principal_arn.clone()).collect();
    let (before, after, phrasing) = match release.other {
        Some(other) => (
            combined_view(other.before, reached),
            combined_view(other.after, &after),
            Phrasing::Effective,
        ),
        None => (reached.clone(), after, Phrasing::AccessEntries),
    };
    guards::check(
        &Proposed {
            phrasing,
            before: &before,
            after: &after,
            managed_before,
            removed: &removed,
            data_size: None,
        },
        &release.guards,
        release.protected,
    )
}

/// What the entries hold once the grants ended as `release.progress` says: a change done
/// holds what it was to write, a change that failed before its first call holds what it held,
/// and one that failed halfway holds nothing we can count on.
fn reached_view(release: &Release<'_>) -> AccessView {
    let mut view = view_before(release.current);
    for (change, progress) in release.changes.iter().zip(release.progress) {
        match progress {
            Some(Progress::Done) => view = view_after(view, std::slice::from_ref(change)),
            Some(Progress::Failed { calls_done, .. }) if *calls_done > 0 => {
                view.remove(&principal_key(&change.principal_arn));
            }
            Some(Progress::Failed { .. }) | None => {}
        }
    }
    view
}
