//! What `history` shows of the records read: the changes matching a principal and a time
//! range, newest first. Pure.

use jiff::Timestamp;

use super::{ChangeRecord, RunRecord};
use crate::core::names::principal_key;

/// A query's filters (the cluster and the date prefixes are chosen when listing).
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// The principal's ARN, matched as EKS matches it (case-insensitively, a role without its
    /// path).
    pub principal: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

impl Query {
    fn matches(&self, change: &ChangeRecord) -> bool {
        if let Some(principal) = &self.principal
            && principal_key(principal) != principal_key(&change.principal)
        {
            return false;
        }
        let Ok(time) = change.time.parse::<Timestamp>() else {
            return self.since.is_none() && self.until.is_none();
        };
        self.since.is_none_or(|since| time >= since) && self.until.is_none_or(|until| time <= until)
    }
}

/// The changes of `records` that `query` matches, newest first (then by run id and cluster,
/// so the order is the same on every read). A run's record written twice (intended, then
/// applied) counts once: the applied one when both were read.
pub fn changes(records: &[RunRecord], query: &Query) -> Vec<ChangeRecord> {
    let mut latest: Vec<&RunRecord> = Vec::new();
    for record in records {
        match latest
            .iter_mut()
            .find(|r| r.run_id == record.run_id && r.cluster == record.cluster)
        {
            Some(seen) if seen.state == super::RecordState::Intended => *seen = record,
            Some(_) => {}
            None => latest.push(record),
        }
    }
    let mut out: Vec<ChangeRecord> = latest
        .into_iter()
        .flat_map(|r| r.changes.iter())
        .filter(|c| query.matches(c))
        .cloned()
        .collect();
    out.sort_by(|a, b| {
        b.time
            .cmp(&a.time)
            .then_with(|| b.run_id.cmp(&a.run_id))
            .then_with(|| a.cluster.cmp(&b.cluster))
            .then_with(|| a.principal.cmp(&b.principal))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::{change, record};
    use super::*;
    use crate::core::history::RecordState;

    #[test]
    fn newest_first_filtered_by_principal_and_time() {
        let records = [
            record(
                "r1",
                "2026-12-01T10:00:00Z",
                RecordState::Applied,
                vec![change("arn:aws:iam::111122223333:user/alice")],
            ),
            record(
                "r2",
                "2026-12-02T10:00:00Z",
                RecordState::Applied,
                vec![
                    change("arn:aws:iam::111122223333:user/alice"),
                    change("arn:aws:iam::111122223333:user/bob"),
                ],
            ),
        ];
        let all = changes(&records, &Query::default());
        let runs: Vec<&str> = all.iter().map(|c| c.run_id.as_str()).collect();
        assert_eq!(runs, ["r2", "r2", "r1"]);
        let alice = changes(
            &records,
            &Query {
                principal: Some("ARN:aws:iam::111122223333:user/ALICE".into()),
                since: Some("2026-12-01T12:00:00Z".parse().unwrap()),
                ..Query::default()
            },
        );
        assert_eq!(alice.len(), 1);
        assert_eq!(alice[0].run_id, "r2");
    }

    #[test]
    fn an_applied_record_replaces_its_intent() {
        let intended = record(
            "r1",
            "2026-12-01T10:00:00Z",
            RecordState::Intended,
            vec![
                change("arn:aws:iam::111122223333:user/alice"),
                change("arn:aws:iam::111122223333:user/bob"),
            ],
        );
        let applied = record(
            "r1",
            "2026-12-01T10:00:00Z",
            RecordState::Applied,
            vec![change("arn:aws:iam::111122223333:user/alice")],
        );
        for records in [
            [intended.clone(), applied.clone()],
            [applied.clone(), intended.clone()],
        ] {
            let found = changes(&records, &Query::default());
            assert_eq!(found.len(), 1, "only what was applied");
        }
        assert_eq!(changes(&[intended], &Query::default()).len(), 2);
    }
}
