//! Which listed access entries a full run describes again, when this instance remembers what
//! it read of them before: amortized steady-state reads (issue 21).
//!
//! A full run always lists the entries (ListAccessEntries: which principals hold one is
//! never taken from memory). It then describes: every entry this instance does not remember,
//! every remembered entry older than the drift-repair interval, and a rotating share of the
//! others, oldest first, sized so that runs at the schedule's pace re-read each entry within
//! the interval (`remembered × time since the last run / interval`, rounded up). Whatever a
//! plan would change is described again before it is written
//! ([`touched_unverified`]), so no write rests on a remembered read.
//!
//! Pure: ages and times are given.

use std::collections::BTreeSet;
use std::time::Duration;

use super::model::EntryChange;
use crate::core::names::principal_key;

/// What a run knows of one listed entry before reading: how long ago this instance last
/// described it (`None`: never).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed<'a> {
    pub principal_arn: &'a str,
    pub age: Option<Duration>,
}

/// The principal keys to describe in this run, given the listed entries, the time since this
/// instance's last full run of the cluster (`None`: this is its first) and the interval.
pub fn due_for_reading(
    listed: &[Listed<'_>],
    since_last_run: Option<Duration>,
    interval: Duration,
) -> BTreeSet<String> {
    let mut due = BTreeSet::new();
    let mut rotating: Vec<(Duration, String)> = Vec::new();
    for entry in listed {
        let key = principal_key(entry.principal_arn);
        match entry.age {
            None => {
                due.insert(key);
            }
            Some(age) if age >= interval => {
                due.insert(key);
            }
            Some(age) => rotating.push((age, key)),
        }
    }
    let remembered = listed.iter().filter(|e| e.age.is_some()).count();
    let share = match since_last_run {
        Some(elapsed) if !interval.is_zero() => {
            let exact = remembered as f64 * elapsed.as_secs_f64() / interval.as_secs_f64();
            (exact.ceil() as usize).saturating_sub(remembered - rotating.len())
        }
        Some(_) => rotating.len(),
        None => 0,
    };
    // Oldest first; ties in key order, so the choice does not depend on the listing's order.
    rotating.sort_by(|(a, ka), (b, kb)| b.cmp(a).then_with(|| ka.cmp(kb)));
    due.extend(rotating.into_iter().take(share).map(|(_, key)| key));
    due
}

/// What a plan made partly from memory must read again before it may be written: every
/// remembered entry when the plan is refused, takes cluster-admin or node access from anyone
/// ([`needs_fresh_view`]), or takes anything from the other store EKS reads
/// (`takes_from_other_store`: an entry decides whether that store's grant counts); else the
/// remembered entries it touches ([`touched_unverified`]). Empty: the plan rests on fresh reads.
pub fn to_read_again(
    changes: &[EntryChange],
    refused: bool,
    takes_from_other_store: bool,
    from_memory: &BTreeSet<String>,
) -> BTreeSet<String> {
    if refused || takes_from_other_store || needs_fresh_view(changes) {
        from_memory.clone()
    } else {
        touched_unverified(changes, from_memory)
    }
}

/// The principals (keys) that `changes` touch whose entries come from memory (not described
/// in this run): they must be described before the plan is written.
pub fn touched_unverified(
    changes: &[EntryChange],
    from_memory: &BTreeSet<String>,
) -> BTreeSet<String> {
    changes
        .iter()
        .map(|c| principal_key(&c.principal_arn))
        .filter(|key| from_memory.contains(key))
        .collect()
}

/// Whether `changes` take cluster-admin or node access from anyone: the guards' verdict on
/// such a plan rests on who else holds that access, so every entry must then be read fresh
/// (a remembered admin may have been demoted by hand since).
pub fn needs_fresh_view(changes: &[EntryChange]) -> bool {
    changes.iter().any(|c| {
        let before = c.before.as_ref();
        let admin = |v: Option<&super::model::EntryView>| {
            v.is_some_and(|v| v.policies.iter().any(super::model::is_cluster_admin))
        };
        let node = |v: Option<&super::model::EntryView>| {
            v.is_some_and(|v| v.entry_type != super::model::STANDARD)
        };
        (admin(before) && !admin(c.after.as_ref())) || (node(before) && !node(c.after.as_ref()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const MIN: Duration = Duration::from_secs(60);

    fn arns(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("arn:aws:iam::111122223333:user/u{i:04}"))
            .collect()
    }

    /// The listing of `arns`, each remembered with its age in `age`.
    fn remembered<'a>(arns: &'a [String], age: &BTreeMap<String, Duration>) -> Vec<Listed<'a>> {
        arns.iter()
            .map(|a| Listed {
                principal_arn: a,
                age: Some(age[&principal_key(a)]),
            })
            .collect()
    }

    #[test]
    fn a_cold_instance_describes_every_entry() {
        let arns = arns(5);
        let listed: Vec<Listed> = arns
            .iter()
            .map(|a| Listed {
                principal_arn: a,
                age: None,
            })
            .collect();
        assert_eq!(due_for_reading(&listed, None, 30 * MIN).len(), 5);
    }

    #[test]
    fn runs_every_5_minutes_re_read_each_entry_within_the_interval() {
        // 1,000 remembered entries, one 5-minute run after another for two hours: each is
        // re-read at least every 30 minutes, and a run describes about a sixth of them.
        let arns = arns(1000);
        let mut age: BTreeMap<String, Duration> = arns
            .iter()
            .enumerate()
            .map(|(i, a)| (principal_key(a), Duration::from_secs(i as u64 % 1800)))
            .collect();
        let mut most = 0;
        for _ in 0..24 {
            let listed = remembered(&arns, &age);
            let due = due_for_reading(&listed, Some(5 * MIN), 30 * MIN);
            most = most.max(due.len());
            for (key, a) in &mut age {
                *a = if due.contains(key) {
                    5 * MIN
                } else {
                    *a + 5 * MIN
                };
                assert!(*a <= 30 * MIN + 5 * MIN, "{key} not re-read for {a:?}");
            }
        }
        assert!(
            most <= 1000 / 6 + 1 + 1,
            "at most a sixth per run, was {most}"
        );
    }

    /// Entries described per run, averaged over an hour of runs every `period`, after a cold
    /// first run (not counted): the figures of BENCHMARKS.md "Access entries: call budget".
    fn hourly_average(n: usize, period: Duration, interval: Duration) -> f64 {
        let arns = arns(n);
        let mut age: BTreeMap<String, Duration> = arns
            .iter()
            .map(|a| (principal_key(a), Duration::ZERO))
            .collect();
        let runs = (3600 / period.as_secs()) as usize;
        let mut described = 0;
        for _ in 0..runs {
            for a in age.values_mut() {
                *a += period;
            }
            let listed = remembered(&arns, &age);
            let due = due_for_reading(&listed, Some(period), interval);
            described += due.len();
            for key in due {
                age.insert(key, Duration::ZERO);
            }
            assert!(age.values().all(|a| *a < interval + period));
        }
        described as f64 / runs as f64
    }

    #[test]
    fn an_hour_of_five_minute_runs_describes_n_times_period_over_interval() {
        for n in [100, 1000, 3000] {
            for minutes in [30, 100, 120] {
                let want = n as f64 * 5.0 / minutes as f64;
                let got = hourly_average(n, 5 * MIN, minutes * MIN);
                // EKS calls of a steady run: DescribeCluster, the listing (100 a page), and
                // DescribeAccessEntry + ListAssociatedAccessPolicies per entry described.
                let calls = 1.0 + n.div_ceil(100) as f64 + 2.0 * got;
                eprintln!(
                    "{n} entries, interval {minutes} min: {got:.1} described, {calls:.1} EKS calls per run"
                );
                assert!(got <= want.ceil() + 1.0, "{n}, {minutes}: {got}");
                if minutes == 120 {
                    // The budget of issue 21: N/10 + 10 EKS calls per steady run.
                    assert!(calls <= n as f64 / 10.0 + 10.0, "{n}: {calls} calls");
                }
            }
        }
    }

    #[test]
    fn an_entry_older_than_the_interval_is_always_due_and_new_ones_too() {
        let arns = arns(3);
        let listed = [
            Listed {
                principal_arn: &arns[0],
                age: Some(31 * MIN),
            },
            Listed {
                principal_arn: &arns[1],
                age: Some(MIN),
            },
            Listed {
                principal_arn: &arns[2],
                age: None,
            },
        ];
        let due = due_for_reading(&listed, Some(Duration::ZERO), 30 * MIN);
        assert_eq!(
            due,
            [principal_key(&arns[0]), principal_key(&arns[2])].into()
        );
    }
}
