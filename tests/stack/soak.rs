//! The soak test: rounds of random IAM changes in moto, concurrent reconciles (several
//! `invoke` processes at once, as concurrent Lambda invocations run), a "human" writing
//! unmanaged aws-auth entries at the same time, and 409/429/500/dropped connections/latency
//! injected on the Kubernetes and EKS side. After each round the faults are cleared and a
//! settling reconcile runs; then every unmanaged entry the human wrote must be there exactly
//! as written, the managed entries must equal what IAM says, the tool (running as its own
//! identity, mapped in aws-auth) must never have been refused by the cluster, and no process
//! may have panicked.
//!
//! It runs on a stack of its own ([`support::private_stack`]): EKS faults are not scoped to a
//! cluster and clearing faults clears every rule, which the shared stack's tests must not see.
//!
//! Seeded and bounded: the seed is printed (`EKS_IAM_SYNC_SOAK_SEED=N` replays the same
//! operations; thread timing still varies), `EKS_IAM_SYNC_SOAK_OPS` bounds the operations
//! (default 300: IAM changes + invocations + human writes) and `EKS_IAM_SYNC_SOAK_SECS` the
//! time (default 240 s; no new round starts after it). Long mode, e.g.:
//! `EKS_IAM_SYNC_SOAK_OPS=10000 EKS_IAM_SYNC_SOAK_SECS=3600 cargo test --test stack soak -- --nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{self, Run, Stack, TestCluster};

const ACCOUNT: &str = "123456789012";
/// IAM users the rounds draw from.
const POOL: usize = 24;
/// Group members are kept within these bounds, and at most [`MAX_REMOVALS`] leave per round,
/// so a round never trips the mass-removal guard (at most 2 of at least 6 managed entries).
const MIN_MEMBERS: usize = 5;
const MAX_MEMBERS: usize = 14;
const MAX_REMOVALS: usize = 2;
const HUMAN_GROUPS: &[&str] = &["viewers", "editors", "ops", "audit"];

/// SplitMix64: small, seedable, the same on every platform and crate version.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn range(&mut self, low: usize, high_inclusive: usize) -> usize {
        low + self.below(high_inclusive - low + 1)
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

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

/// An IAM query API call straight to moto (awscli starts Python for every call: too slow for
/// thousands of changes). moto routes by the credential scope and does not check signatures.
fn iam(stack: &Stack, action: &str, params: &[(&str, &str)]) -> (u16, String) {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-s", "-w", "\n%{http_code}", "-X", "POST"])
        .arg(format!("{}/", stack.var("AWS_ENDPOINT_URL")))
        .args([
            "-H",
            "authorization: AWS4-HMAC-SHA256 Credential=AKIASOAK/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        ])
        .args(["--data-urlencode", &format!("Action={action}")])
        .args(["--data-urlencode", "Version=2010-05-08"]);
    for (k, v) in params {
        cmd.args(["--data-urlencode", &format!("{k}={v}")]);
    }
    let out = cmd.output().expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

fn iam_ok(stack: &Stack, action: &str, params: &[(&str, &str)]) {
    let (code, body) = iam(stack, action, params);
    assert_eq!(code, 200, "IAM {action} {params:?}: {body}");
}

/// One mapping as EKS reads it (eks-sim's view): (arn, username, groups).
type Read = (String, String, Vec<String>);

/// An unmanaged entry the human wrote: its exact text and what EKS must read from it.
#[derive(Clone)]
struct HumanEntry {
    text: String,
    read: Read,
}

/// The human's entries in mapUsers (shared with the tool's managed entries, which the tool
/// writes after them) and mapRoles (the human's alone). Each write starts the section with a
/// versioned comment, so a write can tell whether its own earlier attempt landed.
#[derive(Clone, Default)]
struct Human {
    version: u64,
    next_id: u64,
    users: Vec<HumanEntry>,
    roles: Vec<HumanEntry>,
}

impl Human {
    fn block(&self, users: bool) -> String {
        let (key, entries) = if users {
            ("mapUsers", &self.users)
        } else {
            ("mapRoles", &self.roles)
        };
        if self.version == 0 {
            return String::new();
        }
        let mut out = format!("# human v{} ({key})\n", self.version);
        for e in entries {
            out.push_str(&e.text);
        }
        out
    }

    fn entry(&mut self, rng: &mut Rng, users: bool) -> HumanEntry {
        let id = self.next_id;
        self.next_id += 1;
        let (kind, key) = if users {
            ("user", "userarn")
        } else {
            ("role", "rolearn")
        };
        let arn = format!("arn:aws:iam::{ACCOUNT}:{kind}/human-{id}");
        let groups: Vec<String> = (0..rng.below(3))
            .map(|_| HUMAN_GROUPS[rng.below(HUMAN_GROUPS.len())].to_owned())
            .collect();
        let style = rng.below(4);
        let username = if !users && style == 1 {
            format!("human-{id}:{{{{SessionName}}}}")
        } else {
            format!("human-{id}")
        };
        let text = match style {
            0 => {
                let mut t = format!("- {key}: {arn}\n  username: {username}\n");
                if groups.is_empty() {
                    t.push_str("  groups: []\n");
                } else {
                    t.push_str("  groups:\n");
                    for g in &groups {
                        t.push_str(&format!("    - {g}\n"));
                    }
                }
                t
            }
            1 => {
                let quoted: Vec<String> = groups.iter().map(|g| format!("\"{g}\"")).collect();
                format!(
                    "# owner: team-{id}\n- {key}: \"{arn}\"\n  username: '{username}'\n  groups: [{}]\n",
                    quoted.join(", ")
                )
            }
            2 => {
                let mut t = format!(
                    "- {}: {arn}   # by hand\n  note: kept as is\n",
                    key.to_uppercase()
                );
                if !groups.is_empty() {
                    t.push_str("  groups:\n");
                    for g in &groups {
                        t.push_str(&format!("  - {g}\n"));
                    }
                }
                t.push_str(&format!("  username: {username}\n"));
                t
            }
            _ => format!(
                "\n- {key}: {arn}\n  username:   {username}\n  groups: [{}]   # trailing\n",
                groups.join(", ")
            ),
        };
        HumanEntry {
            text,
            read: (arn, username, groups),
        }
    }

    /// One edit: add, change or remove an entry in one of the two sections.
    fn edit(&mut self, rng: &mut Rng) {
        self.version += 1;
        let users = rng.chance(0.75);
        let len = if users {
            self.users.len()
        } else {
            self.roles.len()
        };
        let op = if len == 0 || (len < 6 && rng.chance(0.5)) {
            0
        } else {
            1 + rng.below(2)
        };
        let entry = self.entry(rng, users);
        let entries = if users {
            &mut self.users
        } else {
            &mut self.roles
        };
        match op {
            0 => {
                let at = rng.below(entries.len() + 1);
                entries.insert(at, entry);
            }
            1 => {
                // The same principal, written anew (other style, groups, username).
                let at = rng.below(entries.len());
                let old_arn = entries[at].read.0.clone();
                let new_arn = entry.read.0.clone();
                let text = entry.text.replace(&new_arn, &old_arn);
                entries[at] = HumanEntry {
                    text,
                    read: (old_arn, entry.read.1, entry.read.2),
                };
            }
            _ => {
                let at = rng.below(entries.len());
                entries.remove(at);
            }
        }
    }
}

type RawApi<'a> = &'a (dyn Fn(&str, Option<&str>) -> Option<(u16, String)> + Sync);

/// Writes `to` over `from` as a careful human would: read, replace only their own part, write
/// back with the resourceVersion read; retry on conflicts and failures. `Err`: the human's
/// earlier text was not found where they left it.
fn human_write(api: RawApi<'_>, from: &Human, to: &Human) -> Result<u32, String> {
    let (old_users, new_users) = (from.block(true), to.block(true));
    let (old_roles, new_roles) = (from.block(false), to.block(false));
    for attempt in 1..=200 {
        if attempt > 1 {
            std::thread::sleep(Duration::from_millis(25));
        }
        let Some((200, body)) = api("GET", None) else {
            continue;
        };
        let mut object: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        let text = |key: &str| object["data"][key].as_str().unwrap_or("").to_owned();
        let (users, roles) = (text("mapUsers"), text("mapRoles"));
        if users.starts_with(&new_users) && roles == new_roles {
            return Ok(attempt); // an earlier attempt landed (its answer was lost)
        }
        let Some(managed) = users.strip_prefix(&old_users) else {
            return Err(format!(
                "the human's mapUsers entries were changed by someone else:\nexpected prefix:\n{old_users}\nfound:\n{users}"
            ));
        };
        if roles != old_roles {
            return Err(format!(
                "the human's mapRoles was changed by someone else:\nexpected:\n{old_roles}\nfound:\n{roles}"
            ));
        }
        object["data"]["mapUsers"] = format!("{new_users}{managed}").into();
        object["data"]["mapRoles"] = new_roles.clone().into();
        if let Some((200, _)) = api("PUT", Some(&object.to_string())) {
            return Ok(attempt);
        }
    }
    Err("the human could not write aws-auth in 200 attempts".to_owned())
}

/// What the runs of a soak saw.
#[derive(Default, Debug)]
struct Tally {
    outcomes: BTreeMap<String, u64>,
    exit_1: u64,
    kube_puts: u64,
    write_attempts: u64,
}

/// Checks one run of the tool made under faults; returns why it is unacceptable, if it is.
fn check_run(run: &Run, tally: &mut Tally) -> Result<(), String> {
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
    t.configure(&format!(
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
        for _ in 0..rng.range(1, 2) {
            events.push(if rng.chance(0.7) {
                t.schedule()
            } else {
                json!({"action": "reconcile", "dryRun": false, "clusters": [t.name]})
            });
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
        let (runs, human_result) = std::thread::scope(|scope| {
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
        for run in &runs {
            check_run(run, &mut tally).unwrap_or_else(|e| panic!("{}", round(&e)));
        }
        human = next;
        invocations += runs.len();
        human_writes += edits.len();

        // Settle: no faults, one reconcile, then the steady state costs no write.
        stack.admin("DELETE", "/faults", None);
        let settle = t.invoke(&t.schedule());
        check_run(&settle, &mut tally).unwrap_or_else(|e| panic!("{}", round(&e)));
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
        check_run(&steady, &mut tally).unwrap_or_else(|e| panic!("{}", round(&e)));
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
        let mut expected_users: Vec<Read> = human.users.iter().map(|e| e.read.clone()).collect();
        expected_users.extend(model.members.iter().map(|&i| {
            (
                format!("arn:aws:iam::{ACCOUNT}:user/{}", user(i)),
                user(i),
                vec!["viewers".to_owned()],
            )
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
        "soak: seed {seed}: {rounds} rounds, {ops} operations ({iam_changes} IAM changes, {invocations} invocations, {human_writes} human writes), {faults_injected} fault rules, {:.1} s; outcomes {:?}, {} invocations exited 1 under faults, {} PUTs in {} write attempts",
        started.elapsed().as_secs_f64(),
        tally.outcomes,
        tally.exit_1,
        tally.kube_puts,
        tally.write_attempts
    );
    assert!(rounds >= 1 && ops > 0, "{}", ctx("no round ran"));
}
