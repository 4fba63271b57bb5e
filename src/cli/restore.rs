//! `eks-iam-sync restore --cluster NAME --run RUN_ID [--apply]`: aws-auth put back as run
//! RUN_ID left it on that cluster (issue 23), from the run's record in the history bucket.
//!
//! Plan by default: the diff, entry by entry, and the guards' verdict. `--apply` writes the
//! recorded ConfigMap (every entry, managed or not, bytes as recorded) and records the restore
//! in the history as the operator's change. Exit 0 nothing to restore or restored, 2 would
//! change, 1 an error or a guard's refusal (named). The next reconcile then brings the
//! managed entries in step with IAM as usual.

use std::process::ExitCode;

use super::fail;

use jiff::Timestamp;

use crate::core::history::keys::date_prefixes;
use crate::core::history::{ChangeKind, EntryState, RecordState};

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The configuration: a YAML or JSON file, `ssm:/parameter/name` or `s3://bucket/key`;
    /// defaults to $EKS_IAM_SYNC_CONFIG.
    #[arg(long, value_name = "SOURCE")]
    pub config: Option<String>,
    /// The cluster whose aws-auth is restored.
    #[arg(long, value_name = "NAME")]
    pub cluster: String,
    /// The run whose aws-auth is put back (`runId` in `history --format json`).
    #[arg(long = "run", value_name = "RUN_ID")]
    pub run: String,
    /// Write it (otherwise only show what would change).
    #[arg(long)]
    pub apply: bool,
}

pub async fn run(args: &RestoreArgs) -> ExitCode {
    let Some(started) = run_start(&args.run) else {
        return fail(&format!(
            "--run {:?} is not a run id (such as 20261204T193000Z-1a2b3c4d; `history --format json` lists them)",
            args.run
        ));
    };
    let reconciler = match super::reconciler(args.config.as_deref()).await {
        Ok(reconciler) => reconciler,
        Err(code) => return code,
    };
    if let Err(code) =
        super::reconcile::check_clusters(&reconciler, std::slice::from_ref(&args.cluster))
    {
        return code;
    }
    let Some(history) = reconciler.history() else {
        return fail(
            "no `history: {bucket: NAME}` in the configuration: there is no record to restore from",
        );
    };
    // A run's records are under the day it started, or the next (a run across midnight).
    let prefixes = date_prefixes(
        history.prefix(),
        &args.cluster,
        Some(started),
        started + jiff::SignedDuration::from_hours(24),
    );
    let records = match super::history::read_records(history, &prefixes).await {
        Ok(records) => records,
        Err(e) => return fail(&e),
    };
    let mut of_run: Vec<_> = records
        .into_iter()
        .filter(|r| r.run_id == args.run && r.cluster == args.cluster)
        .collect();
    of_run.sort_by_key(|r| r.state == RecordState::Applied);
    let Some(record) = of_run.pop() else {
        return fail(&format!(
            "no record of run {} on cluster {} in s3://{}/{}",
            args.run,
            args.cluster,
            history.bucket().name(),
            prefixes.join(", ")
        ));
    };
    if record.state != RecordState::Applied {
        return fail(&format!(
            "run {} on cluster {} has only its intent recorded (its writes did not finish); restore from another run",
            args.run, args.cluster
        ));
    }
    let Some(snapshot) = record.aws_auth else {
        return fail(&format!(
            "run {} did not write aws-auth on cluster {} (its changes were to access entries): nothing to restore from it",
            args.run, args.cluster
        ));
    };
    let Some(cluster) = reconciler.settings().cluster(&args.cluster).cloned() else {
        return fail(&format!("cluster {} is not configured", args.cluster));
    };
    let cause = super::operator_cause(&reconciler, args.apply).await;
    let outcome = match reconciler
        .restore_aws_auth(&cluster, &snapshot.content(), args.apply, &cause)
        .await
    {
        Ok(outcome) => outcome,
        Err(e) => return fail(&format!("cluster {}: {e}", args.cluster)),
    };
    let plan = &outcome.plan;
    for change in &plan.changes {
        println!("{}", describe(change));
    }
    if plan.annotations_differ {
        println!("~ annotations (as recorded)");
    }
    for warning in &plan.warnings {
        eprintln!("warning: {warning}");
    }
    if !plan.refusals.is_empty() {
        for refusal in &plan.refusals {
            eprintln!("{refusal}");
        }
        eprintln!(
            "restore of run {} on cluster {} refused: nothing written",
            args.run, args.cluster
        );
        return ExitCode::FAILURE;
    }
    if !plan.has_changes() {
        println!(
            "Nothing to restore: aws-auth on {} is as run {} left it.",
            args.cluster, args.run
        );
        return ExitCode::SUCCESS;
    }
    if !outcome.applied {
        println!(
            "Would restore aws-auth on {} as run {} left it ({} entry change(s)); run again with --apply to write it.",
            args.cluster,
            args.run,
            plan.changes.len()
        );
        return ExitCode::from(2);
    }
    println!(
        "Restored aws-auth on {} as run {} left it ({} entry change(s)).",
        args.cluster,
        args.run,
        plan.changes.len()
    );
    if let Some(why) = outcome.not_recorded {
        return fail(&format!(
            "the restore was made, but its history record was not written: {why}"
        ));
    }
    ExitCode::SUCCESS
}

/// When a run started, from its id (`20261204T193000Z-...`).
fn run_start(run_id: &str) -> Option<Timestamp> {
    let (stamp, random) = run_id.split_once('-')?;
    if random.is_empty() || !random.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    jiff::fmt::strtime::parse("%Y%m%dT%H%M%SZ", stamp)
        .ok()?
        .to_datetime()
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

fn describe(change: &crate::core::history::PlannedChange) -> String {
    let (sign, state) = match change.change {
        ChangeKind::Added => ('+', change.after.as_ref()),
        ChangeKind::Removed => ('-', change.before.as_ref()),
        ChangeKind::Changed => ('~', change.after.as_ref()),
    };
    let shown = |s: &EntryState| {
        format!(
            "  username={} groups=[{}]",
            s.username.as_deref().unwrap_or_default(),
            s.groups.join(", ")
        )
    };
    format!(
        "{sign} {}{}",
        change.principal,
        state.map(shown).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_id_gives_its_start() {
        assert_eq!(
            run_start("20261204T193005Z-1a2b3c4d"),
            Some("2026-12-04T19:30:05Z".parse().unwrap())
        );
        assert_eq!(run_start("yesterday"), None);
        assert_eq!(run_start("20261204T193005Z-"), None);
        assert_eq!(run_start("20261304T193005Z-1a"), None);
    }
}
