//! `eks-iam-sync history`: the access changes recorded in the history bucket (issue 23),
//! newest first, filtered by cluster, principal and time.
//!
//! Only the date prefixes in the range are listed (`{prefix}{cluster}/YYYY/MM/DD/`), then each
//! record is read. `--format json` is a list of change records, each with its `runId`;
//! `csv` one row per change; `table` (the default on a terminal) a readable line per change.
//! Exit 0 when the list is made, 1 on an error (no `history` in the configuration, a bad
//! time, a bucket that cannot be read, a record that does not parse: it is named).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use super::fail;

use futures::StreamExt;
use jiff::Timestamp;

use crate::core::history::keys::date_prefixes;
use crate::core::history::query::{Query, changes};
use crate::core::history::{ChangeRecord, EntryState, RecordState, RunRecord};
use crate::reconcile::HistoryWriter;

/// Records read at the same time.
const READ_CONCURRENCY: usize = 8;

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The configuration: a YAML or JSON file, `ssm:/parameter/name` or `s3://bucket/key`;
    /// defaults to $EKS_IAM_SYNC_CONFIG.
    #[arg(long, value_name = "SOURCE")]
    pub config: Option<String>,
    /// Only this cluster (repeatable); every configured cluster by default.
    #[arg(long = "cluster", value_name = "NAME")]
    pub clusters: Vec<String>,
    /// Only changes of this principal (an IAM user or role ARN; matched as EKS matches it).
    #[arg(long, value_name = "ARN")]
    pub principal: Option<String>,
    /// From this time: RFC 3339 (`2026-12-04T10:00:00Z`), a date (`2026-12-04`), or an age
    /// (`30m`, `12h`, `7d`).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Up to this time (same forms; a date means the end of that day).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// `table` on a terminal, else `json`.
    #[arg(long, value_enum)]
    pub format: Option<HistoryFormat>,
}

/// `history --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HistoryFormat {
    Table,
    Json,
    Csv,
}

pub async fn run(args: &HistoryArgs) -> ExitCode {
    let now = Timestamp::now();
    let (since, until) = match (
        args.since
            .as_deref()
            .map(|t| parse_time(t, now, false))
            .transpose(),
        args.until
            .as_deref()
            .map(|t| parse_time(t, now, true))
            .transpose(),
    ) {
        (Ok(since), Ok(until)) => (since, until),
        (Err(e), _) => return fail(&format!("--since: {e}")),
        (_, Err(e)) => return fail(&format!("--until: {e}")),
    };
    let reconciler = match super::reconciler(args.config.as_deref()).await {
        Ok(reconciler) => reconciler,
        Err(code) => return code,
    };
    let Some(history) = reconciler.history() else {
        return fail("no `history: {bucket: NAME}` in the configuration: no change is recorded");
    };
    let clusters = if args.clusters.is_empty() {
        reconciler.settings().cluster_names()
    } else {
        args.clusters.clone()
    };
    let mut records = Vec::new();
    for cluster in &clusters {
        let prefixes = date_prefixes(history.prefix(), cluster, since, until.unwrap_or(now));
        match read_records(history, &prefixes).await {
            Ok(mut found) => records.append(&mut found),
            Err(e) => return fail(&e),
        }
    }
    let query = Query {
        principal: args.principal.clone(),
        since,
        until,
    };
    let found = changes(&records, &query);
    let format = args.format.unwrap_or_else(|| {
        if std::io::stdout().is_terminal() {
            HistoryFormat::Table
        } else {
            HistoryFormat::Json
        }
    });
    let text = match render(&found, format) {
        Ok(text) => text,
        Err(e) => return fail(&e),
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        return fail(&format!(
            "the history could not be written to standard output: {e}"
        ));
    }
    ExitCode::SUCCESS
}

/// Every record under `prefixes`, in key order; an unreadable or unparsable object is an
/// error naming it.
pub(super) async fn read_records(
    history: &HistoryWriter,
    prefixes: &[String],
) -> Result<Vec<RunRecord>, String> {
    let bucket = history.bucket();
    let mut keys = Vec::new();
    for prefix in prefixes {
        let listed = bucket.list(prefix).await.map_err(|e| e.to_string())?;
        keys.extend(listed.into_iter().filter(|k| k.ends_with(".json")));
    }
    let reads = futures::stream::iter(&keys)
        .map(|key| async move {
            let bytes = bucket.get(key).await.map_err(|e| e.to_string())?;
            serde_json::from_slice::<RunRecord>(&bytes)
                .map_err(|e| format!("s3://{}/{key}: not a history record ({e})", bucket.name()))
        })
        .buffered(READ_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    reads.into_iter().collect()
}

/// A `--since`/`--until` value: RFC 3339, a date (its start, or its end when `end_of_day`),
/// or an age before `now` (`30m`, `12h`, `7d`).
fn parse_time(text: &str, now: Timestamp, end_of_day: bool) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Ok(time) = text.parse::<Timestamp>() {
        return Ok(time);
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>() {
        let start = date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|e| e.to_string())?
            .timestamp();
        return Ok(if end_of_day {
            start + jiff::SignedDuration::from_secs(24 * 3600 - 1)
        } else {
            start
        });
    }
    let age = match text.strip_suffix('d') {
        Some(days) => days
            .parse::<i64>()
            .ok()
            .map(|d| jiff::SignedDuration::from_hours(24 * d)),
        None => text.parse::<jiff::SignedDuration>().ok(),
    };
    match age {
        Some(age) if !age.is_negative() => {
            now.checked_sub(age).map_err(|e| format!("{text:?}: {e}"))
        }
        _ => Err(format!(
            "{text:?} is not a time: give RFC 3339 (2026-12-04T10:00:00Z), a date (2026-12-04) or an age (30m, 12h, 7d)"
        )),
    }
}

fn render(changes: &[ChangeRecord], format: HistoryFormat) -> Result<String, String> {
    match format {
        HistoryFormat::Json => serde_json::to_string_pretty(changes)
            .map(|text| text + "\n")
            .map_err(|e| e.to_string()),
        HistoryFormat::Csv => {
            csv(changes).map_err(|e| format!("the CSV could not be written: {e}"))
        }
        HistoryFormat::Table => Ok(table(changes)),
    }
}

const CSV_COLUMNS: &[&str] = &[
    "time",
    "runId",
    "cluster",
    "account",
    "store",
    "change",
    "principal",
    "beforeUsername",
    "beforeGroups",
    "beforeAccessPolicies",
    "afterUsername",
    "afterGroups",
    "afterAccessPolicies",
    "trigger",
    "eventName",
    "eventId",
    "eventTime",
    "actor",
    "state",
];

fn csv(changes: &[ChangeRecord]) -> Result<String, ::csv::Error> {
    let mut out = ::csv::Writer::from_writer(Vec::new());
    out.write_record(CSV_COLUMNS)?;
    for c in changes {
        let (bu, bg, bp) = state_columns(c.before.as_ref());
        let (au, ag, ap) = state_columns(c.after.as_ref());
        let cause = &c.cause;
        out.write_record([
            c.time.as_str(),
            &c.run_id,
            &c.cluster,
            &c.account,
            &c.store,
            c.change.as_str(),
            &c.principal,
            &bu,
            &bg,
            &bp,
            &au,
            &ag,
            &ap,
            cause.trigger.as_str(),
            cause.event_name.as_deref().unwrap_or_default(),
            cause.event_id.as_deref().unwrap_or_default(),
            cause.event_time.as_deref().unwrap_or_default(),
            cause.actor.as_deref().unwrap_or_default(),
            c.state.as_str(),
        ])?;
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn state_columns(state: Option<&EntryState>) -> (String, String, String) {
    let Some(state) = state else {
        return Default::default();
    };
    (
        state.username.clone().unwrap_or_default(),
        state.groups.join(";"),
        state
            .access_policies
            .iter()
            .map(|p| match p.namespaces.as_slice() {
                [] => p.policy.clone(),
                ns => format!("{}({})", p.policy, ns.join(",")),
            })
            .collect::<Vec<_>>()
            .join(";"),
    )
}

fn table(changes: &[ChangeRecord]) -> String {
    if changes.is_empty() {
        return "No recorded change matches.\n".to_owned();
    }
    let mut out = String::new();
    for c in changes {
        let sign = match c.change {
            crate::core::history::ChangeKind::Added => '+',
            crate::core::history::ChangeKind::Removed => '-',
            crate::core::history::ChangeKind::Changed => '~',
        };
        let shown = c.after.as_ref().or(c.before.as_ref());
        let (username, groups, policies) = state_columns(shown);
        let why = match (&c.cause.event_name, &c.cause.actor) {
            (Some(event), Some(actor)) => format!("{event} by {actor}"),
            (Some(event), None) => event.clone(),
            (None, Some(actor)) => format!("by {actor}"),
            (None, None) => String::new(),
        };
        let trigger = c.cause.trigger.as_str();
        let intended = match c.state {
            RecordState::Intended => "  [intended only: its run did not finish]",
            RecordState::Applied => "",
        };
        out.push_str(&format!(
            "{}  {}  {sign} {} {}  username={username} groups=[{groups}]{}  ({trigger}{}{why})  run {}{intended}\n",
            c.time,
            c.cluster,
            c.store,
            c.principal,
            if policies.is_empty() {
                String::new()
            } else {
                format!(" policies=[{policies}]")
            },
            if why.is_empty() { "" } else { ": " },
            c.run_id,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn times_are_rfc3339_dates_or_ages() {
        let now = at("2026-12-04T12:00:00Z");
        assert_eq!(
            parse_time("2026-12-01T08:00:00Z", now, false).unwrap(),
            at("2026-12-01T08:00:00Z")
        );
        assert_eq!(
            parse_time("2026-12-01", now, false).unwrap(),
            at("2026-12-01T00:00:00Z")
        );
        assert_eq!(
            parse_time("2026-12-01", now, true).unwrap(),
            at("2026-12-01T23:59:59Z")
        );
        assert_eq!(
            parse_time("2h", now, false).unwrap(),
            at("2026-12-04T10:00:00Z")
        );
        assert_eq!(
            parse_time("7d", now, false).unwrap(),
            at("2026-11-27T12:00:00Z")
        );
        let error = parse_time("yesterday", now, false).unwrap_err();
        assert!(error.contains("\"yesterday\" is not a time"), "{error}");
    }
}
