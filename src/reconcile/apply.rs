//! Carries out an access-entries plan on one cluster: the grants in plan order, then the
//! removals the core releases ([`crate::core::access_entries::hold_back`]), one result per
//! change, also when a failure stops the run halfway.
//!
//! The adapter ([`AccessEntryStore::run`]) makes one call; this module only sequences them
//! and records how each change ended. What a failure holds back is the core's decision.
//!
//! # Guarantees
//! - Grants (creates, updates, recreates) run before any removal.
//! - A call EKS rejects fails its change only; the removals that did not depend on it run.
//! - A failure that is not about one entry (throttling, access denied, unavailable) stops
//!   the run: the change it hit is failed, every later one is `not attempted`, and the results
//!   of the changes already made are kept.

use crate::aws::access_entries::{AccessEntryError, AccessEntryStore};
use crate::core::access_entries::EntryChange;
use crate::core::access_entries::hold_back::{
    Progress, Release, Verdict, release_despite_refusal, release_other_write, release_removals,
    removes_access,
};
use crate::core::guards::Refusal;

/// How one planned change ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ChangeResult {
    Done,
    /// A call of it failed (EKS's message, naming the call).
    Failed(String),
    /// Not run: a failure elsewhere made it unsafe (why).
    HeldBack(String),
    /// Not run: the run stopped before it (why).
    NotAttempted(String),
}

/// Every change's result, and the failure that stopped the run, if one did.
#[derive(Debug)]
pub(super) struct Applied {
    pub results: Vec<ChangeResult>,
    pub stopped: Option<AccessEntryError>,
    /// The verdict on the other store's write, made after the entries (when there is one).
    pub other_write: Verdict,
}

impl Applied {
    /// Changes carried out.
    pub fn done(&self) -> usize {
        self.results
            .iter()
            .filter(|r| **r == ChangeResult::Done)
            .count()
    }
}

/// Runs `changes` as [`Release`] describes them (its `progress` is filled in here).
pub(super) async fn apply_entries(store: &AccessEntryStore, release: Release<'_>) -> Applied {
    let changes = release.changes;
    let mut results: Vec<Option<ChangeResult>> = vec![None; changes.len()];
    let mut progress: Vec<Option<Progress>> = vec![None; changes.len()];
    let mut stopped = None;
    for (i, change) in changes.iter().enumerate() {
        if removes_access(change) {
            continue;
        }
        let ended = run_change(store, change).await;
        results[i] = Some(ended.result());
        progress[i] = Some(ended.progress);
        if let Some(error) = ended.stop {
            stopped = Some(error);
            break;
        }
    }
    let release = Release {
        progress: &progress,
        ..release
    };
    let mut ran = Vec::new();
    if stopped.is_none() {
        for (i, verdict) in release_removals(&release) {
            if let Verdict::HeldBack(why) = verdict {
                results[i] = Some(ChangeResult::HeldBack(why));
                continue;
            }
            let ended = run_change(store, &changes[i]).await;
            results[i] = Some(ended.result());
            if ended.progress == Progress::Done {
                ran.push(i);
            }
            if let Some(error) = ended.stop {
                stopped = Some(error);
                break;
            }
        }
    }
    let other_write = match &stopped {
        Some(error) => Verdict::HeldBack(format!("not attempted: the run stopped ({error})")),
        None => release_other_write(&release, &ran),
    };
    Applied {
        results: finish(results, stopped.as_ref()),
        stopped,
        other_write,
    }
}

/// The removals a refused plan still makes (see
/// [`crate::core::access_entries::hold_back::release_despite_refusal`]); nothing else runs.
pub(super) async fn apply_despite_refusal(
    store: &AccessEntryStore,
    release: Release<'_>,
    refusals: &[Refusal],
) -> Applied {
    let refused = refusals
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    let grants_wait = format!("grants wait while the plan is {refused}");
    let mut applied = apply_removals(store, release, refusals, &grants_wait).await;
    applied.other_write = Verdict::HeldBack(format!("refused: {refused}"));
    applied
}

/// The removals that cannot lock anyone out, judged as after a refusal (`refusals`, none
/// when the plan itself was not refused); every grant is held back for `grants_wait`.
pub(super) async fn apply_removals(
    store: &AccessEntryStore,
    release: Release<'_>,
    refusals: &[Refusal],
    grants_wait: &str,
) -> Applied {
    let changes = release.changes;
    let mut results: Vec<Option<ChangeResult>> = changes
        .iter()
        .map(|c| (!removes_access(c)).then(|| ChangeResult::HeldBack(grants_wait.to_owned())))
        .collect();
    let mut stopped = None;
    for (i, verdict) in release_despite_refusal(&release, refusals) {
        if let Verdict::HeldBack(why) = verdict {
            results[i] = Some(ChangeResult::HeldBack(why));
            continue;
        }
        let ended = run_change(store, &changes[i]).await;
        results[i] = Some(ended.result());
        if let Some(error) = ended.stop {
            stopped = Some(error);
            break;
        }
    }
    Applied {
        results: finish(results, stopped.as_ref()),
        stopped,
        other_write: Verdict::HeldBack(grants_wait.to_owned()),
    }
}

/// Every change not reached is `not attempted`, naming the failure that stopped the run.
fn finish(
    results: Vec<Option<ChangeResult>>,
    stopped: Option<&AccessEntryError>,
) -> Vec<ChangeResult> {
    let why = match stopped {
        Some(error) => format!("not attempted: the run stopped ({error})"),
        None => "not attempted".to_owned(),
    };
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| ChangeResult::NotAttempted(why.clone())))
        .collect()
}

/// How the calls of one change went.
struct Ended {
    progress: Progress,
    /// A failure that stops the whole run.
    stop: Option<AccessEntryError>,
}

impl Ended {
    fn result(&self) -> ChangeResult {
        match &self.progress {
            Progress::Done => ChangeResult::Done,
            Progress::Failed { why, .. } => ChangeResult::Failed(why.clone()),
        }
    }
}

/// The calls of one change in order, until one fails.
async fn run_change(store: &AccessEntryStore, change: &EntryChange) -> Ended {
    for (calls_done, operation) in change.operations.iter().enumerate() {
        if let Err(error) = store.run(operation).await {
            let progress = Progress::Failed {
                calls_done,
                why: error.to_string(),
            };
            let stop = (!error.is_per_entry()).then_some(error);
            return Ended { progress, stop };
        }
    }
    Ended {
        progress: Progress::Done,
        stop: None,
    }
}
