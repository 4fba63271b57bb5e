//! The soak test: rounds of random IAM changes in moto, concurrent reconciles (several
//! `invoke` processes at once, as concurrent Lambda invocations run), a "human" writing
//! unmanaged aws-auth entries at the same time, and 409/429/500/dropped connections/latency
//! injected on the Kubernetes and EKS side, rejected grants (EKS answering
//! `InvalidParameterException` to CreateAccessEntry or AssociateAccessPolicy) and refusals (in
//! some rounds, round 3 always, the human leaves aws-auth unparsable while the invocations
//! run; the tool must refuse to write it and nothing else). In a round without transport
//! faults and without a mode switch, every watched user IAM took away is judged with their
//! own token before the round settles: 401 wherever EKS no longer reads a mapping for them
//! (a rejected grant or a refused aws-auth holds back no access-entry revocation). After each
//! round the faults are cleared and a
//! settling reconcile runs; then every unmanaged entry the human wrote must be there exactly
//! as written, the managed entries must equal what IAM says, the tool (running as its own
//! identity, mapped in aws-auth) must never have been refused by the cluster, and no process
//! may have panicked. The cluster's authentication mode moves on during the rounds
//! (CONFIG_MAP → API_AND_CONFIG_MAP in round 2, → API in round 4, while the round's
//! invocations run), and after each settled round a few watched users, each with an access
//! key, are judged the way access counts: with their own token, 200 exactly when IAM says
//! they are members. A warm Lambda process runs a scheduled reconcile after each settled
//! round too: its amortized reads (issue 21) take entries from its memory of the round before,
//! which the cold invocations have changed since; it must write nothing.
//!
//! It runs on a stack of its own ([`support::private_stack`]): EKS faults are not scoped to a
//! cluster and clearing faults clears every rule, which the shared stack's tests must not see.
//!
//! Seeded and bounded: the seed is printed (`EKS_IAM_SYNC_SOAK_SEED=N` replays the same
//! operations; thread timing still varies), `EKS_IAM_SYNC_SOAK_OPS` bounds the operations
//! (default 300: IAM changes + invocations + human writes) and `EKS_IAM_SYNC_SOAK_SECS` the
//! time (default 240 s; no new round starts after it). Long mode, e.g.:
//! `EKS_IAM_SYNC_SOAK_OPS=10000 EKS_IAM_SYNC_SOAK_SECS=3600 cargo test --test stack soak -- --nocapture`.
//!
//! Split by part: `rng` (the seeded generator), `moto` (IAM calls straight to moto), `human`
//! (the human's unmanaged entries and careful writes) and `runs` (what a run may and may not
//! do under faults). The test itself, its limits and its model of IAM are here.

mod human;
mod moto;
mod rng;
mod runs;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{self, Run, TestCluster};
use human::{Human, RawApi, Read, human_write};
use moto::iam_ok;
use rng::Rng;
use runs::{Tally, check_run};

const ACCOUNT: &str = "123456789012";
/// IAM users the rounds draw from.
const POOL: usize = 24;
/// Group members are kept within these bounds, and at most [`MAX_REMOVALS`] leave per round,
/// so a round never trips the mass-removal guard (at most 2 of at least 6 managed entries).
const MIN_MEMBERS: usize = 5;
const MAX_MEMBERS: usize = 14;
const MAX_REMOVALS: usize = 2;
const HUMAN_GROUPS: &[&str] = &["viewers", "editors", "ops", "audit"];
/// Users with an access key whose membership the rounds toggle; never deleted.
const WATCHED: usize = 3;
/// The round in which the cluster moves to each authentication mode.
const MODE_SWITCHES: &[(usize, &str)] = &[(2, "API_AND_CONFIG_MAP"), (4, "API")];

struct Limits {
    seed: u64,
    ops: usize,
    time: Duration,
}

fn limits() -> Limits {
    let number = |name: &str| {
        std::env::var(name).ok().map(|v| {
            v.parse::<u64>()
                .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
        })
    };
    let seed = number("EKS_IAM_SYNC_SOAK_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    Limits {
        seed,
        ops: number("EKS_IAM_SYNC_SOAK_OPS").unwrap_or(300) as usize,
        time: Duration::from_secs(number("EKS_IAM_SYNC_SOAK_SECS").unwrap_or(240)),
    }
}

/// The IAM side the test keeps: which pool users exist and which are group members.
struct Iam {
    exists: BTreeSet<usize>,
    members: BTreeSet<usize>,
}

#[test]
fn soak_iam_changes_concurrent_reconciles_and_a_human_under_faults() {
    let limits = limits();
    let seed = limits.seed;
    eprintln!("soak: seed {seed} (replay with EKS_IAM_SYNC_SOAK_SEED={seed})");
    let ctx = |what: &str| {
        format!("soak seed {seed} (replay with EKS_IAM_SYNC_SOAK_SEED={seed}): {what}")
    };
    let mut rng = Rng(seed);
    let started = Instant::now();

    let stack = support::private_stack("soak-base");
    let mut t = TestCluster::new_on(stack, "soak");
    let (key, secret, tool_arn) = stack.identity(&t.iam("sync"));
    let group = t.iam("members");
    let prefix = t.name.clone();
    let user = move |i: usize| format!("{prefix}-u{i:02}");
    iam_ok(stack, "CreateGroup", &[("GroupName", &group)]);
    let mut model = Iam {
        exists: BTreeSet::new(),
        members: BTreeSet::new(),
    };
    for i in 0..10 {
        iam_ok(stack, "CreateUser", &[("UserName", &user(i))]);
        model.exists.insert(i);
        if i < 8 {
            iam_ok(
                stack,
                "AddUserToGroup",
                &[("GroupName", &group), ("UserName", &user(i))],
            );
            model.members.insert(i);
        }
    }
    let watched: Vec<(String, String, String)> = (0..WATCHED)
        .map(|i| stack.identity(&format!("{}-w{i}", t.name)))
        .collect();
    let watched_name = |i: usize| watched[i].2.rsplit('/').next().unwrap().to_owned();
    let mut watched_members = BTreeSet::new();
    for i in 0..WATCHED {
        if i % 2 == 0 {
            iam_ok(
                stack,
                "AddUserToGroup",
                &[("GroupName", &group), ("UserName", &watched_name(i))],
            );
            watched_members.insert(i);
        }
    }
    let mut mode = "CONFIG_MAP";
    t.configure_backend(
        "auto",
        &format!(
        "groups:\n  - iamGroup: {group}\n    kubernetesGroups: [viewers]\nusers:\n  - arn: {tool_arn}\n    username: eks-iam-sync\n    kubernetesGroups: [system:masters]\n"
    ));
    // Bootstrapped by the cluster creator; from then on the tool runs as itself.
    let bootstrap = t.sync(&["apply"]);
    assert_eq!(bootstrap.code, 0, "{}", ctx(&bootstrap.stdout));
    t.run_as(&key, &secret);
    let t = t;
    let api = t.raw_api();
    let api: RawApi<'_> = &api;
    let mut human = Human::default();
    {
        let mut first = human.clone();
        first.edit(&mut rng);
        human_write(api, &human, &first).unwrap_or_else(|e| panic!("{}", ctx(&e)));
        human = first;
    }

    let (mut ops, mut rounds, mut faults_injected) = (0usize, 0usize, 0usize);
    let (mut iam_changes, mut invocations, mut human_writes) = (0usize, 0usize, 0usize);
    let mut tally = Tally::default();
    let mut revocations_judged = 0usize;
    // One warm instance across the rounds: its amortized reads (issue 21) remember the access
    // entries between its runs while the cold invocations change them.
    let mut warm = t.warm_lambda();
    let (mut warm_mode, mut from_memory) = (None::<&str>, 0u64);
    while ops < limits.ops && started.elapsed() < limits.time {
        rounds += 1;
        let round = |what: &str| ctx(&format!("round {rounds}: {what}"));

        // Faults for this round, on this cluster's Kubernetes API and on EKS.
        let c = &t.name;
        let menu = [
            format!("kube/{c}:update:409:count={}", rng.range(1, 3)),
            format!("kube/{c}:*:429:fraction=0.2"),
            format!("kube/{c}:get:500:fraction=0.15"),
            format!("kube/{c}:update:500:count=1"),
            format!("kube/{c}:*:drop:fraction=0.1"),
            format!("kube/{c}:*:none:latency={}", rng.range(20, 250)),
            "eks:DescribeCluster:500:fraction=0.3".to_owned(),
            "eks:DescribeCluster:429:count=2".to_owned(),
            "eks:*:drop:count=1".to_owned(),
            "eks:*:none:latency=150".to_owned(),
            "eks:CreateAccessEntry:400:count=1".to_owned(),
            "eks:AssociateAccessPolicy:400:count=1".to_owned(),
        ];
        let mut faults = Vec::new();
        if !rng.chance(0.2) {
            for _ in 0..rng.range(1, 3) {
                faults.push(menu[rng.below(menu.len())].clone());
            }
        }

        // IAM changes, each with the CloudTrail event it makes (distinct users per round).
        let mut events: Vec<Value> = Vec::new();
        let mut touched = BTreeSet::new();
        let mut removals = 0;
        for _ in 0..rng.range(2, 5) {
            let i = rng.below(POOL);
            if !touched.insert(i) {
                continue;
            }
            let name = user(i);
            let add = json!({"groupName": group, "userName": name});
            let only_user = json!({"userName": name});
            if !model.exists.contains(&i) {
                iam_ok(stack, "CreateUser", &[("UserName", &name)]);
                model.exists.insert(i);
                events.push(t.event("create_user", only_user.clone()));
                iam_changes += 1;
                if model.members.len() < MAX_MEMBERS && rng.chance(0.6) {
                    iam_ok(
                        stack,
                        "AddUserToGroup",
                        &[("GroupName", &group), ("UserName", &name)],
                    );
                    model.members.insert(i);
                    events.push(t.event("add_user_to_group", add));
                    iam_changes += 1;
                }
            } else if model.members.contains(&i) {
                if model.members.len() <= MIN_MEMBERS || removals >= MAX_REMOVALS {
                    continue;
                }
                removals += 1;
                iam_ok(
                    stack,
                    "RemoveUserFromGroup",
                    &[("GroupName", &group), ("UserName", &name)],
                );
                model.members.remove(&i);
                events.push(t.event("remove_user_from_group", add));
                iam_changes += 1;
                if rng.chance(0.5) {
                    iam_ok(stack, "DeleteUser", &[("UserName", &name)]);
                    model.exists.remove(&i);
                    events.push(t.event("delete_user", only_user));
                    iam_changes += 1;
                }
            } else if model.members.len() < MAX_MEMBERS && rng.chance(0.6) {
                iam_ok(
                    stack,
                    "AddUserToGroup",
                    &[("GroupName", &group), ("UserName", &name)],
                );
                model.members.insert(i);
                events.push(t.event("add_user_to_group", add));
                iam_changes += 1;
            } else {
                iam_ok(stack, "DeleteUser", &[("UserName", &name)]);
                model.exists.remove(&i);
                events.push(t.event("delete_user", only_user));
                iam_changes += 1;
            }
        }
        if rng.chance(0.6) {
            let i = rng.below(WATCHED);
            let name = watched_name(i);
            let params = json!({"groupName": group, "userName": name});
            if !watched_members.contains(&i) {
                iam_ok(
                    stack,
                    "AddUserToGroup",
                    &[("GroupName", &group), ("UserName", &name)],
                );
                watched_members.insert(i);
                events.push(t.event("add_user_to_group", params));
                iam_changes += 1;
            } else if removals < MAX_REMOVALS {
                iam_ok(
                    stack,
                    "RemoveUserFromGroup",
                    &[("GroupName", &group), ("UserName", &name)],
                );
                watched_members.remove(&i);
                events.push(t.event("remove_user_from_group", params));
                iam_changes += 1;
            }
        }
        for _ in 0..rng.range(1, 2) {
            events.push(if rng.chance(0.7) {
                t.schedule()
            } else {
                json!({"action": "reconcile", "dryRun": false, "clusters": [t.name]})
            });
        }
        // A refusal: the human leaves aws-auth unparsable for the round's invocations.
        let broken = rounds == 3 || (rounds > 3 && rng.chance(0.15));
        if broken {
            let breaking = human.with_broken(true);
            human_write(api, &human, &breaking).unwrap_or_else(|e| panic!("{}", round(&e)));
            human = breaking;
            human_writes += 1;
        }
        // The human's edits and the pauses between them.
        let mut edits = Vec::new();
        let mut next = human.clone();
        for _ in 0..rng.range(1, 4) {
            let before = next.clone();
            next.edit(&mut rng);
            edits.push((
                before,
                next.clone(),
                Duration::from_millis(rng.below(150) as u64),
            ));
        }

        for spec in &faults {
            t.inject(spec);
        }
        faults_injected += faults.len();
        let switch = MODE_SWITCHES
            .iter()
            .find(|(at, _)| *at == rounds)
            .map(|(_, to)| (*to, Duration::from_millis(rng.below(400) as u64)));
        let (runs, human_result) = std::thread::scope(|scope| {
            if let Some((to, after)) = switch {
                // The mode moves on while the round's invocations run.
                let t = &t;
                scope.spawn(move || {
                    std::thread::sleep(after);
                    t.set_mode(to);
                });
            }
            let writer = scope.spawn(|| {
                for (from, to, pause) in &edits {
                    std::thread::sleep(*pause);
                    human_write(api, from, to)?;
                }
                Ok::<(), String>(())
            });
            let invokes: Vec<_> = events
                .iter()
                .map(|event| scope.spawn(|| t.invoke(event)))
                .collect();
            let runs: Vec<Run> = invokes.into_iter().map(|h| h.join().unwrap()).collect();
            (runs, writer.join().unwrap())
        });
        human_result.unwrap_or_else(|e| panic!("{}", round(&e)));
        if let Some((to, _)) = switch {
            mode = to;
        }
        for run in &runs {
            check_run(run, &mut tally, broken).unwrap_or_else(|e| panic!("{}", round(&e)));
        }
        human = next;
        invocations += runs.len();
        human_writes += edits.len();

        // Revocations did not wait for a rejected grant or a refused aws-auth.
        let calm = faults
            .iter()
            .all(|f| f.contains(":400:") || f.contains(":none:"));
        if calm && switch.is_none() && mode != "CONFIG_MAP" {
            let view = stack.admin("GET", &format!("/clusters/{}/aws-auth", t.name), None);
            let mapped_in_aws_auth = |arn: &str| {
                mode == "API_AND_CONFIG_MAP"
                    && view["mapUsers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|m| m["arn"] == arn)
            };
            for (i, (key, secret, arn)) in watched.iter().enumerate() {
                if watched_members.contains(&i) || mapped_in_aws_auth(arn) {
                    continue;
                }
                assert_eq!(
                    t.status_as(key, secret),
                    401,
                    "{}",
                    round(&format!(
                        "{arn} (not a member) in mode {mode} before settling, faults {faults:?}, aws-auth broken: {broken}"
                    ))
                );
                revocations_judged += 1;
            }
        }
        if broken {
            let whole = human.with_broken(false);
            human_write(api, &human, &whole).unwrap_or_else(|e| panic!("{}", round(&e)));
            human = whole;
            human_writes += 1;
        }

        // Settle: no faults, one reconcile, then the steady state costs no write.
        stack.admin("DELETE", "/faults", None);
        let settle = t.invoke(&t.schedule());
        check_run(&settle, &mut tally, false).unwrap_or_else(|e| panic!("{}", round(&e)));
        assert_eq!(
            settle.code,
            0,
            "{}",
            round(&format!(
                "settling reconcile failed:\n{}\n{}",
                settle.stdout, settle.stderr
            ))
        );
        let steady = t.invoke(&t.schedule());
        check_run(&steady, &mut tally, false).unwrap_or_else(|e| panic!("{}", round(&e)));
        assert_eq!(
            steady.cluster()["outcome"],
            "unchanged",
            "{}",
            round(&steady.stdout)
        );
        assert_eq!(
            steady.cluster()["apiCalls"]["kube_put"],
            0,
            "{}",
            round(&steady.stdout)
        );
        invocations += 2;

        // The warm instance, whose memory is a round old: reading from it must not make it
        // write anything (whatever its memory says wrongly is described again first).
        let warmed = warm.invoke(&t.schedule());
        let cluster = &warmed["clusters"][0];
        assert_eq!(
            cluster["outcome"],
            "unchanged",
            "{}",
            round(&warmed.to_string())
        );
        assert_eq!(
            cluster["apiCalls"]["kube_put"],
            0,
            "{}",
            round(&warmed.to_string())
        );
        assert_eq!(
            cluster["apiCalls"].get("eks_write"),
            None,
            "{}",
            round(&warmed.to_string())
        );
        if mode != "CONFIG_MAP" && warm_mode == Some(mode) {
            from_memory += cluster["entryReads"]["fromMemory"].as_u64().unwrap_or(0);
        }
        warm_mode = Some(mode);
        invocations += 1;

        // The human's bytes, exactly where they left them.
        let (code, body) = api("GET", None).unwrap_or_else(|| panic!("{}", round("GET failed")));
        assert_eq!(code, 200, "{}", round(&body));
        let object: Value = serde_json::from_str(&body).unwrap();
        let users_text = object["data"]["mapUsers"].as_str().unwrap_or("");
        assert!(
            users_text.starts_with(&human.block(true)),
            "{}",
            round(&format!(
                "the human's mapUsers bytes changed:\nwritten:\n{}\nfound:\n{users_text}",
                human.block(true)
            ))
        );
        assert_eq!(
            object["data"]["mapRoles"].as_str().unwrap_or(""),
            human.block(false),
            "{}",
            round("the human's mapRoles changed")
        );
        // What EKS reads (eks-sim's view, which shares no code with the product).
        let view = stack.admin("GET", &format!("/clusters/{}/aws-auth", t.name), None);
        assert_eq!(view["dropped"], json!([]), "{}", round(&view.to_string()));
        let read = |section: &str| -> Vec<Read> {
            let mut entries: Vec<Read> = view[section]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    (
                        m["arn"].as_str().unwrap().to_owned(),
                        m["username"].as_str().unwrap_or("").to_owned(),
                        serde_json::from_value(m["groups"].clone()).unwrap_or_default(),
                    )
                })
                .collect();
            entries.sort();
            entries
        };
        let member_arns: BTreeSet<String> = model
            .members
            .iter()
            .map(|&i| format!("arn:aws:iam::{ACCOUNT}:user/{}", user(i)))
            .chain(watched_members.iter().map(|&i| watched[i].2.clone()))
            .collect();
        let mut expected_users: Vec<Read> = human.users.iter().map(|e| e.read.clone()).collect();
        if mode == "CONFIG_MAP" {
            expected_users.extend(member_arns.iter().map(|arn| {
                let name = arn.rsplit('/').next().unwrap().to_owned();
                (arn.clone(), name, vec!["viewers".to_owned()])
            }));
            expected_users.push((
                tool_arn.clone(),
                "eks-iam-sync".to_owned(),
                vec!["system:masters".to_owned()],
            ));
            expected_users.sort();
            assert_eq!(
                read("mapUsers"),
                expected_users,
                "{}",
                round("mapUsers as EKS reads it")
            );
        } else if mode == "API_AND_CONFIG_MAP" {
            // Access entries grant now, but EKS still falls back to aws-auth: it may only keep
            // members (nothing revoked left). In API, EKS ignores aws-auth and so do we.
            let stale: Vec<Read> = read("mapUsers")
                .into_iter()
                .filter(|entry| !expected_users.contains(entry))
                .filter(|(arn, _, _)| *arn != tool_arn && !member_arns.contains(arn))
                .collect();
            assert!(
                stale.is_empty(),
                "{}",
                round(&format!("revoked users left in aws-auth: {stale:?}"))
            );
        }
        // Each watched user, with their own token: let in exactly when IAM says so.
        for (i, (key, secret, arn)) in watched.iter().enumerate() {
            let expected = if watched_members.contains(&i) {
                200
            } else {
                401
            };
            assert_eq!(
                t.status_as(key, secret),
                expected,
                "{}",
                round(&format!("{arn} in mode {mode} with their own token"))
            );
        }
        let mut expected_roles: Vec<Read> = human.roles.iter().map(|e| e.read.clone()).collect();
        expected_roles.sort();
        assert_eq!(
            read("mapRoles"),
            expected_roles,
            "{}",
            round("mapRoles as EKS reads it")
        );

        ops = iam_changes + invocations + human_writes;
    }
    eprintln!(
        "soak: seed {seed}: {rounds} rounds, {ops} operations ({iam_changes} IAM changes, {invocations} invocations, {human_writes} human writes), {faults_injected} fault rules, {:.1} s; outcomes {:?}, {} invocations exited 1 under faults, {} PUTs in {} write attempts, {} changes not applied ({} rejected), {} refusals of a broken aws-auth, {revocations_judged} revocations judged before settling, {from_memory} entries read from the warm instance's memory",
        started.elapsed().as_secs_f64(),
        tally.outcomes,
        tally.exit_1,
        tally.kube_puts,
        tally.write_attempts,
        tally.not_applied,
        tally.rejected,
        tally.refusals,
    );
    assert!(rounds >= 1 && ops > 0, "{}", ctx("no round ran"));
    if rounds >= 6 {
        // Two warm runs in API mode (from round 4) at least: the memory was used.
        assert!(
            from_memory > 0,
            "{}",
            ctx("the warm instance read nothing from memory")
        );
    }
}
