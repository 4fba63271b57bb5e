//! Planner benchmark: a 3,000-entry aws-auth (1,000 hand-written, 2,000 managed) against a
//! desired set of 5,000 users drawn from 300 groups. Measures read, plan (which includes
//! writing and re-reading the result) and a steady-state re-plan.
//!
//! Run: `cargo bench --bench planner` (prints the median and the fastest of 15 runs of each
//! step). `BENCH_RUNS=N` changes the number of runs; `BENCH_ONLY=read|full|steady` measures
//! one step only (for profilers: `valgrind --tool=callgrind`). `scripts/bench-planner.sh`
//! runs this bench at a baseline revision and at the working tree side by side.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use eks_iam_sync::core::aws_auth::plan::{PlanRequest, plan};
use eks_iam_sync::core::aws_auth::{AwsAuth, ConfigMapData, OwnershipRules};
use eks_iam_sync::core::desired::DesiredSet;
use eks_iam_sync::core::guards::GuardSettings;

const USERS: usize = 5_000;
const GROUPS: usize = 300;

fn desired(offset: usize) -> DesiredSet {
    let mut set = DesiredSet::default();
    for i in 0..USERS {
        let group = format!("team-{:03}", (i + offset) % GROUPS);
        let arn = format!("arn:aws:iam::111122223333:user/people/user-{i:05}");
        set.add_user(
            "bench",
            &arn,
            &format!("user-{i:05}"),
            std::slice::from_ref(&group),
            &format!("member of IAM group {group}"),
        )
        .unwrap();
    }
    set
}

fn current() -> ConfigMapData {
    // 1,000 unmanaged roles written by hand, then 2,000 of the 5,000 users already managed.
    let mut roles = String::new();
    for i in 0..1_000 {
        roles.push_str(&format!("# team {i}\n- rolearn: arn:aws:iam::111122223333:role/hand-{i:04}\n  username: hand-{i}\n  groups: [\"viewers\"]\n"));
    }
    let seed = desired(0);
    let mut partial = DesiredSet::default();
    for m in seed
        .mappings(eks_iam_sync::core::aws_auth::SectionName::MapUsers)
        .into_iter()
        .take(2_000)
    {
        partial
            .add_user("bench", &m.arn, &m.username, &m.groups, &m.reason)
            .unwrap();
    }
    let mut data = BTreeMap::new();
    data.insert("mapRoles".to_owned(), roles);
    let base = ConfigMapData {
        data,
        annotations: BTreeMap::new(),
    };
    run(&base, &partial).write.expect("seed write")
}

fn run(current: &ConfigMapData, desired: &DesiredSet) -> eks_iam_sync::core::aws_auth::plan::Plan {
    plan(&PlanRequest {
        current: Some(current),
        desired,
        guards: GuardSettings {
            allow_mass_removal: true,
            ..GuardSettings::default()
        },
        protected: &[],
        ownership: &OwnershipRules::default(),
    })
}

/// Median and fastest of `BENCH_RUNS` timed runs of `f` (never inlined, so that profilers
/// can collect inside it only: `valgrind --tool=callgrind --toggle-collect='*timed*'`).
#[inline(never)]
fn timed(mut f: impl FnMut()) -> (Duration, Duration) {
    let runs = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15usize)
        .max(1);
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    (times[times.len() / 2], times[0])
}

fn report(label: &str, (median, fastest): (Duration, Duration)) {
    println!("{label:<41}{median:>10.2?}   (fastest {fastest:.2?})");
}

fn main() {
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let wanted = |step: &str| only.is_empty() || only == step;
    let current = current();
    let desired = desired(1);
    let size: usize = current.data.values().map(String::len).sum();
    println!(
        "aws-auth: 3,000 entries, {size} bytes of data; desired: {USERS} users in {GROUPS} groups"
    );
    if wanted("read") {
        let read = timed(|| {
            black_box(AwsAuth::read(black_box(&current)).unwrap());
        });
        report("read aws-auth (parse + spans):", read);
    }
    let changed = run(&current, &desired);
    if wanted("full") {
        let full = timed(|| {
            black_box(run(black_box(&current), black_box(&desired)));
        });
        report(
            &format!(
                "plan + write + re-read ({} changes):",
                changed.changes.len()
            ),
            full,
        );
    }
    let steady_state = changed.write.expect("a write");
    if wanted("steady") {
        let steady = timed(|| {
            black_box(run(black_box(&steady_state), black_box(&desired)));
        });
        assert!(!run(&steady_state, &desired).has_changes());
        report("steady-state plan (no change, no write):", steady);
    }
}
