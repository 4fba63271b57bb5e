//! What one run of the tool under faults may do (exit 0 or 1, a JSON summary, no lost access,
//! no panic, no guard refusal except of an aws-auth the human broke), and the tally of what the
//! runs saw.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::Run;

/// What the runs of a soak saw.
#[derive(Default, Debug)]
pub(super) struct Tally {
    pub(super) outcomes: BTreeMap<String, u64>,
    pub(super) exit_1: u64,
    pub(super) kube_puts: u64,
    pub(super) write_attempts: u64,
    /// Planned changes the runs reported not made (`notApplied`), and rejected ones.
    pub(super) not_applied: u64,
    pub(super) rejected: u64,
    pub(super) refusals: u64,
}

/// Checks one run of the tool made under faults; returns why it is unacceptable, if it is.
/// `aws_auth_broken`: the human's aws-auth is unparsable this round, so refusing to write it
/// (and only that) is right.
pub(super) fn check_run(run: &Run, tally: &mut Tally, aws_auth_broken: bool) -> Result<(), String> {
    if run.stderr.contains("panicked") || run.stdout.contains("panicked") {
        return Err(format!("a process panicked:\n{}", run.stderr));
    }
    if run.code != 0 && run.code != 1 {
        return Err(format!("exit code {}:\n{}", run.code, run.stderr));
    }
    if run.code == 1 {
        tally.exit_1 += 1;
    }
    let Ok(summary) = serde_json::from_str::<Value>(&run.stdout) else {
        return if run.code == 1 && run.stderr.contains("error:") {
            Ok(())
        } else {
            Err(format!("no JSON summary:\n{}\n{}", run.stdout, run.stderr))
        };
    };
    for cluster in summary["clusters"].as_array().into_iter().flatten() {
        let outcome = cluster["outcome"].as_str().unwrap_or("?").to_owned();
        *tally.outcomes.entry(outcome.clone()).or_default() += 1;
        tally.kube_puts += cluster["apiCalls"]["kube_put"].as_u64().unwrap_or(0);
        tally.write_attempts += cluster["writeAttempts"].as_u64().unwrap_or(0);
        tally.not_applied += cluster["notApplied"].as_u64().unwrap_or(0);
        tally.rejected += cluster["rejected"].as_array().map_or(0, |r| r.len() as u64);
        if outcome == "refused" {
            let refusals = cluster["refusals"].as_array().cloned().unwrap_or_default();
            let only_unparsable = !refusals.is_empty()
                && refusals
                    .iter()
                    .all(|r| r.as_str().is_some_and(|r| r.contains("unparsable-content")));
            if !(aws_auth_broken && only_unparsable) {
                return Err(format!("a guard refused the write: {cluster}"));
            }
            tally.refusals += 1;
        }
        let error = cluster["error"].as_str().unwrap_or("");
        if error.contains("401") || error.contains("Unauthorized") || error.contains("403") {
            return Err(format!("the tool lost its access: {cluster}"));
        }
    }
    Ok(())
}
