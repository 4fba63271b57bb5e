//! Where the history's objects live: run ids, object keys under
//! `{prefix}{cluster}/YYYY/MM/DD/`, and the date prefixes a query in a time range lists (so a
//! query reads only the days it asks for, however long the history).

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Above this many days a range is listed by month prefixes instead of day prefixes.
const MAX_DAY_PREFIXES: usize = 62;

/// A run id: the run's start (UTC, to the second) and 32 random bits,
/// `20261204T193000Z-1a2b3c4d`. Sorts by time; unique across concurrent runs and instances.
pub fn run_id(start: Timestamp, random: u32) -> String {
    let utc = start.to_zoned(TimeZone::UTC);
    format!("{}-{random:08x}", utc.strftime("%Y%m%dT%H%M%SZ"))
}

/// RFC 3339 to the second, UTC.
pub fn rfc3339(time: Timestamp) -> String {
    time.round(jiff::Unit::Second).unwrap_or(time).to_string()
}

/// The prefix of one cluster's records.
pub fn cluster_prefix(prefix: &str, cluster: &str) -> String {
    format!("{prefix}{cluster}/")
}

/// The key of one run's record on `cluster`:
/// `{prefix}{cluster}/YYYY/MM/DD/HHMMSSZ-{run_id}.json`, the time the record's.
pub fn object_key(prefix: &str, cluster: &str, time: Timestamp, run_id: &str) -> String {
    let utc = time.to_zoned(TimeZone::UTC);
    format!(
        "{}{}-{run_id}.json",
        cluster_prefix(prefix, cluster),
        utc.strftime("%Y/%m/%d/%H%M%SZ")
    )
}

/// The run id a key names, if it is a record's key.
pub fn run_id_of_key(key: &str) -> Option<&str> {
    let name = key.rsplit('/').next()?.strip_suffix(".json")?;
    let (_, run_id) = name.split_once('-')?;
    Some(run_id)
}

/// The prefixes to list for `cluster`'s records between `since` and `until` (inclusive):
/// one per day, or one per month when the range is long; the cluster's whole prefix when no
/// `since` is given.
pub fn date_prefixes(
    prefix: &str,
    cluster: &str,
    since: Option<Timestamp>,
    until: Timestamp,
) -> Vec<String> {
    let base = cluster_prefix(prefix, cluster);
    let Some(since) = since else {
        return vec![base];
    };
    if since > until {
        return Vec::new();
    }
    let first = since.to_zoned(TimeZone::UTC).date();
    let last = until.to_zoned(TimeZone::UTC).date();
    let days = first.until(last).map_or(i32::MAX, |span| span.get_days());
    let mut out: Vec<String> = Vec::new();
    let by_month = days as usize >= MAX_DAY_PREFIXES;
    let mut day = first;
    while day <= last {
        let name = if by_month {
            format!("{base}{}/", day.strftime("%Y/%m"))
        } else {
            format!("{base}{}/", day.strftime("%Y/%m/%d"))
        };
        if out.last() != Some(&name) {
            out.push(name);
        }
        day = match day.tomorrow() {
            Ok(next) => next,
            Err(_) => break,
        };
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
    fn a_run_id_sorts_by_time_and_reads_back_from_its_key() {
        let id = run_id(at("2026-12-04T19:30:05.4Z"), 0x1a2b3c4d);
        assert_eq!(id, "20261204T193005Z-1a2b3c4d");
        let key = object_key("eks-iam-sync/", "prod", at("2026-12-04T19:30:07Z"), &id);
        assert_eq!(
            key,
            "eks-iam-sync/prod/2026/12/04/193007Z-20261204T193005Z-1a2b3c4d.json"
        );
        assert_eq!(run_id_of_key(&key), Some(id.as_str()));
        assert_eq!(run_id_of_key("eks-iam-sync/prod/2026/12/04/"), None);
    }

    #[test]
    fn a_range_lists_its_days_only() {
        let prefixes = date_prefixes(
            "h/",
            "prod",
            Some(at("2026-11-30T23:00:00Z")),
            at("2026-12-02T01:00:00Z"),
        );
        assert_eq!(
            prefixes,
            [
                "h/prod/2026/11/30/",
                "h/prod/2026/12/01/",
                "h/prod/2026/12/02/"
            ]
        );
    }

    #[test]
    fn a_long_range_lists_months_and_no_since_lists_everything() {
        let prefixes = date_prefixes(
            "h/",
            "prod",
            Some(at("2026-01-15T00:00:00Z")),
            at("2026-04-01T00:00:00Z"),
        );
        assert_eq!(
            prefixes,
            [
                "h/prod/2026/01/",
                "h/prod/2026/02/",
                "h/prod/2026/03/",
                "h/prod/2026/04/"
            ]
        );
        assert_eq!(
            date_prefixes("h/", "prod", None, at("2026-04-01T00:00:00Z")),
            ["h/prod/"]
        );
        assert!(
            date_prefixes(
                "h/",
                "prod",
                Some(at("2026-04-02T00:00:00Z")),
                at("2026-04-01T00:00:00Z")
            )
            .is_empty()
        );
    }
}
