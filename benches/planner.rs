//! Planner benchmark: a 3,000-entry aws-auth (1,000 hand-written, 2,000 managed) against a
//! desired set of 5,000 users drawn from 300 groups. Measures read, plan (which includes
//! writing and re-reading the result) and a steady-state re-plan.
//!
//! Run: `cargo bench --bench planner` (prints medians of 15 runs).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use eks_iam_sync::core::aws_auth::{AwsAuth, ConfigMapData, OwnershipRules};
use eks_iam_sync::core::desired::DesiredSet;
use eks_iam_sync::core::guards::GuardSettings;
use eks_iam_sync::core::plan::{PlanRequest, plan};

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

fn run(current: &ConfigMapData, desired: &DesiredSet) -> eks_iam_sync::core::plan::Plan {
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

fn median(mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..15)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let current = current();
    let desired = desired(1);
    let size: usize = current.data.values().map(String::len).sum();
    println!(
        "aws-auth: 3,000 entries, {size} bytes of data; desired: {USERS} users in {GROUPS} groups"
    );
    let read = median(|| {
        black_box(AwsAuth::read(black_box(&current)).unwrap());
    });
    println!("read aws-auth (parse + spans):           {read:>10.2?}");
    let full = median(|| {
        black_box(run(black_box(&current), black_box(&desired)));
    });
    let changed = run(&current, &desired);
    println!(
        "plan + write + re-read ({} changes):   {full:>10.2?}",
        changed.changes.len()
    );
    let steady_state = changed.write.expect("a write");
    let steady = median(|| {
        black_box(run(black_box(&steady_state), black_box(&desired)));
    });
    assert!(!run(&steady_state, &desired).has_changes());
    println!("steady-state plan (no change, no write): {steady:>10.2?}");
}
