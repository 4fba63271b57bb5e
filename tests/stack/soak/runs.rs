//! What one run of the tool under faults may do (exit 0 or 1, a JSON summary, no guard refusal,
//! no lost access, no panic), and the tally of what the runs saw.

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
}

/// Checks one run of the tool made under faults; returns why it is unacceptable, if it is.
pub(super) fn check_run(run: &Run, tally: &mut Tally) -> Result<(), String> {
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
        if outcome == "refused" {
            return Err(format!("a guard refused the write: {cluster}"));
        }
        let error = cluster["error"].as_str().unwrap_or("");
        if error.contains("401") || error.contains("Unauthorized") || error.contains("403") {
            return Err(format!("the tool lost its access: {cluster}"));
        }
    }
    Ok(())
}
