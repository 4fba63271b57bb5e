//! The change history (issue 23) and the scheduled review's reports (issue 22) against moto's
//! S3 (and EventBridge/SQS for the change events): an IAM event's change recorded with its
//! cause, no object for a run without changes, `history` filtered by cluster, principal and
//! time, `restore` of a wiped aws-auth (checked with each person's own token), a missing bucket
//! (the grant waits, the revocation does not), concurrent runs losing no record, and
//! `{"action": "review"}` writing its reports.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::support::{TestCluster, iam_group, identity, section, stack};

/// A bucket for `t` (created unless `create` is false: a missing bucket).
fn bucket(t: &TestCluster, what: &str, create: bool) -> String {
    let name = format!("{}-{what}", t.name);
    if create {
        t.on().aws(&["s3api", "create-bucket", "--bucket", &name]);
    }
    name
}

/// Every key in `bucket`.
fn keys(t: &TestCluster, bucket: &str) -> Vec<String> {
    let listed = t
        .on()
        .aws(&["s3api", "list-objects-v2", "--bucket", bucket]);
    listed["Contents"]
        .as_array()
        .map(|objects| {
            objects
                .iter()
                .map(|o| o["Key"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The object at `key`, as JSON.
fn object(t: &TestCluster, bucket: &str, key: &str) -> Value {
    let file = std::env::temp_dir().join(format!("{}-{}", t.name, key.replace('/', "_")));
    t.on().aws(&[
        "s3api",
        "get-object",
        "--bucket",
        bucket,
        "--key",
        key,
        file.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&file).unwrap();
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

fn admins(t: &TestCluster, history_bucket: &str) -> String {
    format!(
        "groups:\n  - iamGroup: {}\n    kubernetesGroups: [system:masters]\nhistory:\n  bucket: {history_bucket}\n",
        t.iam("admins")
    )
}

fn history_json(t: &TestCluster, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["history", "--format", "json", "--cluster", &t.name];
    all.extend_from_slice(args);
    let run = t.sync(&all);
    assert_eq!(run.code, 0, "history: {}", run.stderr);
    run.json().as_array().unwrap().clone()
}

#[test]
fn an_event_s_change_is_recorded_with_its_cause_and_a_quiet_run_writes_nothing() {
    let t = TestCluster::new("hist-cause");
    let records = bucket(&t, "history", true);
    let (alice, bob) = (t.iam("alice"), t.iam("bob"));
    iam_group(&t.iam("admins"), &[&alice]);
    t.configure(&admins(&t, &records));
    let first = t.invoke(&t.schedule());
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(
        keys(&t, &records).len(),
        1,
        "one object for the run that granted alice"
    );

    stack().add_member(&t.iam("admins"), &bob);
    let event = t.event(
        "add_user_to_group",
        json!({"groupName": t.iam("admins"), "userName": bob}),
    );
    let added = t.invoke(&event);
    assert_eq!(added.code, 0, "{}", added.stderr);
    let objects = keys(&t, &records);
    assert_eq!(objects.len(), 2, "{objects:?}");
    let prefix = format!("eks-iam-sync/{}/", t.name);
    assert!(
        objects
            .iter()
            .all(|k| k.starts_with(&prefix) && k.ends_with(".json")),
        "{objects:?}"
    );

    let bob_arn = t.user_arn("bob");
    let found = history_json(&t, &["--principal", &bob_arn]);
    assert_eq!(found.len(), 1, "{found:?}");
    let change = &found[0];
    assert_eq!(change["change"], "added");
    assert_eq!(change["store"], "aws-auth");
    assert_eq!(change["cluster"], t.name.as_str());
    assert_eq!(change["account"], "123456789012");
    assert_eq!(change["principal"], bob_arn.as_str());
    assert_eq!(change["before"], Value::Null);
    assert_eq!(change["state"], "applied");
    assert_eq!(change["after"]["groups"], json!(["system:masters"]));
    let cause = &change["cause"];
    assert_eq!(cause["trigger"], "event");
    assert_eq!(cause["eventName"], "AddUserToGroup");
    assert_eq!(cause["eventId"], event["detail"]["eventID"]);
    assert_eq!(cause["eventTime"], event["detail"]["eventTime"]);
    assert_eq!(cause["actor"], event["detail"]["userIdentity"]["arn"]);
    let run_id = change["runId"].as_str().unwrap();
    let key = objects.iter().find(|k| k.contains(run_id)).unwrap();
    let record = object(&t, &records, key);
    assert_eq!(record["runId"], run_id);
    assert_eq!(record["state"], "applied");
    assert!(
        record["awsAuth"]["data"]["mapUsers"]
            .as_str()
            .unwrap()
            .contains(&bob_arn),
        "the record keeps aws-auth as the run left it"
    );

    // Newest first, both runs; the time filters select by the change's time.
    let all = history_json(&t, &[]);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["principal"], bob_arn.as_str(), "newest first");
    assert_eq!(all[1]["cause"]["trigger"], "schedule");
    assert!(history_json(&t, &["--since", "2099-01-01"]).is_empty());
    assert!(history_json(&t, &["--until", "2000-01-01"]).is_empty());
    assert_eq!(history_json(&t, &["--since", "1h"]).len(), 2);

    let quiet = t.invoke(&t.schedule());
    assert_eq!(quiet.code, 0);
    assert_eq!(quiet.cluster()["outcome"], "unchanged");
    assert_eq!(quiet.json().get("historyCalls"), None, "no history call");
    assert_eq!(
        keys(&t, &records).len(),
        2,
        "a run without changes writes nothing"
    );

    // An operator's apply is recorded with the operator's own identity.
    let carol = t.iam("carol");
    stack().add_member(&t.iam("admins"), &carol);
    let applied = t.sync(&["apply"]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let by_cli = history_json(&t, &["--principal", &t.user_arn("carol")]);
    assert_eq!(by_cli.len(), 1);
    assert_eq!(by_cli[0]["cause"]["trigger"], "cli");
    assert_eq!(
        by_cli[0]["cause"]["actor"], "arn:aws:iam::123456789012:user/eks-admin",
        "the operator's identity"
    );

    let csv = t.sync(&["history", "--format", "csv", "--cluster", &t.name]);
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    let mut lines = csv.stdout.lines();
    assert_eq!(
        lines.next().unwrap(),
        "time,runId,cluster,account,store,change,principal,beforeUsername,beforeGroups,beforeAccessPolicies,afterUsername,afterGroups,afterAccessPolicies,trigger,eventName,eventId,eventTime,actor,state"
    );
    assert_eq!(lines.count(), 3);
}

#[test]
fn restore_puts_a_wiped_aws_auth_back_and_each_person_can_reach_the_cluster_again() {
    let t = TestCluster::new("hist-restore");
    let records = bucket(&t, "history", true);
    let (alice_key, alice_secret, alice_arn) = identity(&t.iam("alice"));
    let (carol_key, carol_secret, carol_arn) = identity(&t.iam("carol"));
    stack().aws(&["iam", "create-group", "--group-name", &t.iam("admins")]);
    stack().aws(&[
        "iam",
        "add-user-to-group",
        "--group-name",
        &t.iam("admins"),
        "--user-name",
        &t.iam("alice"),
    ]);
    // Carol's mapping is written by hand: not ours, and restored all the same.
    let hand_written =
        format!("- userarn: {carol_arn}\n  username: carol\n  groups:\n    - system:masters\n");
    t.create_aws_auth(&[("mapUsers", &hand_written)]);
    t.configure(&admins(&t, &records));
    assert_eq!(t.invoke(&t.schedule()).code, 0);
    let before = t.aws_auth();
    assert!(section(&before, "mapUsers").contains(&alice_arn));
    assert_eq!(t.status_as(&alice_key, &alice_secret), 200);
    assert_eq!(t.status_as(&carol_key, &carol_secret), 200);
    let run_id = history_json(&t, &[])[0]["runId"]
        .as_str()
        .unwrap()
        .to_owned();

    // A bad hand edit wipes aws-auth: both are locked out.
    let wiped = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "aws-auth", "namespace": "kube-system"},
        "data": {"mapUsers": "[]\n"},
    });
    let replaced = t.kubectl(&["replace", "-f", "-"], Some(&wiped.to_string()));
    assert_eq!(replaced.code, 0, "{}", replaced.stderr);
    assert_eq!(t.status_as(&alice_key, &alice_secret), 401);
    assert_eq!(t.status_as(&carol_key, &carol_secret), 401);

    let plan = t.sync(&["restore", "--cluster", &t.name, "--run", &run_id]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains(&format!("+ {alice_arn}")),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(&format!("+ {carol_arn}")),
        "{}",
        plan.stdout
    );
    assert_eq!(
        section(&t.aws_auth(), "mapUsers"),
        "[]\n",
        "a plan writes nothing"
    );

    let applied = t.sync(&["restore", "--cluster", &t.name, "--run", &run_id, "--apply"]);
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);
    let after = t.aws_auth();
    let as_map = |m: &std::collections::HashMap<String, String>| -> BTreeMap<String, String> {
        m.clone().into_iter().collect()
    };
    assert_eq!(as_map(&after), as_map(&before), "bytes as recorded");
    assert_eq!(t.status_as(&alice_key, &alice_secret), 200);
    assert_eq!(t.status_as(&carol_key, &carol_secret), 200);

    let again = t.sync(&["restore", "--cluster", &t.name, "--run", &run_id]);
    assert_eq!(again.code, 0, "nothing left to restore: {}", again.stdout);
    let restored = history_json(&t, &["--principal", &carol_arn]);
    assert_eq!(
        restored[0]["cause"]["trigger"], "cli",
        "the restore is recorded"
    );
    assert_eq!(restored[0]["change"], "added");

    let unknown = t.sync(&[
        "restore",
        "--cluster",
        &t.name,
        "--run",
        "20000101T000000Z-00000000",
    ]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("no record of run"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn a_missing_bucket_withholds_the_grant_but_not_the_revocation() {
    let t = TestCluster::new("hist-missing");
    let (alice, bob, carol) = (t.iam("alice"), t.iam("bob"), t.iam("carol"));
    iam_group(&t.iam("admins"), &[&alice, &bob]);
    t.configure(&format!(
        "groups:\n  - iamGroup: {}\n    kubernetesGroups: [system:masters]\n",
        t.iam("admins")
    ));
    assert_eq!(t.invoke(&t.schedule()).code, 0);
    let bob_arn = t.user_arn("bob");
    assert!(section(&t.aws_auth(), "mapUsers").contains(&bob_arn));

    // Bob leaves, Carol joins; the history bucket does not exist.
    stack().aws(&[
        "iam",
        "remove-user-from-group",
        "--group-name",
        &t.iam("admins"),
        "--user-name",
        &bob,
    ]);
    stack().add_member(&t.iam("admins"), &carol);
    let missing = bucket(&t, "missing", false);
    t.configure(&admins(&t, &missing));
    let run = t.invoke(&t.schedule());
    assert_ne!(run.code, 0, "the invocation fails: {}", run.stdout);
    assert!(
        run.stderr.contains(&missing),
        "names the bucket: {}",
        run.stderr
    );
    let data = t.aws_auth();
    assert!(
        !section(&data, "mapUsers").contains(&bob_arn),
        "the revocation happened"
    );
    assert!(
        !section(&data, "mapUsers").contains(&t.user_arn("carol")),
        "the grant waits for its record"
    );
    assert!(section(&data, "mapUsers").contains(&t.user_arn("alice")));
    // The revocation's record could not be written either: it is in the structured log.
    let logged = run
        .stderr
        .lines()
        .find(|l| l.contains("history record not written: the changes were made"))
        .unwrap_or_else(|| panic!("no log line with the record: {}", run.stderr));
    assert!(logged.contains(&bob_arn), "{logged}");
    assert!(logged.contains("removed"), "{logged}");
}

#[test]
fn an_access_entries_cluster_records_its_changes_and_withholds_grants_without_a_bucket() {
    let t = TestCluster::with_mode("hist-entries", "API");
    let records = bucket(&t, "history", true);
    let (alice, bob) = (t.iam("alice"), t.iam("bob"));
    iam_group(&t.iam("admins"), &[&alice]);
    let config = |bucket: &str| {
        format!(
            "groups:\n  - iamGroup: {}\n    kubernetesGroups: [developers]\nhistory:\n  bucket: {bucket}\n",
            t.iam("admins")
        )
    };
    t.configure_backend("auto", &config(&records));
    let first = t.invoke(&t.schedule());
    assert_eq!(first.code, 0, "{}", first.stderr);
    let found = history_json(&t, &[]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["store"], "access-entries");
    assert_eq!(found[0]["change"], "added");
    assert_eq!(found[0]["after"]["groups"], json!(["developers"]));

    stack().add_member(&t.iam("admins"), &bob);
    t.configure_backend("auto", &config(&bucket(&t, "missing", false)));
    let run = t.invoke(&t.schedule());
    assert_ne!(run.code, 0);
    let entries = t
        .on()
        .aws(&["eks", "list-access-entries", "--cluster-name", &t.name]);
    let listed = entries["accessEntries"].to_string();
    assert!(
        !listed.contains(&t.user_arn("bob")),
        "no grant without its record: {listed}"
    );
}

#[test]
fn concurrent_runs_on_one_cluster_lose_no_record() {
    let t = TestCluster::new("hist-concurrent");
    let records = bucket(&t, "history", true);
    let members: Vec<String> = (0..4).map(|i| t.iam(&format!("u{i}"))).collect();
    iam_group(&t.iam("admins"), &[&members[0]]);
    t.configure(&admins(&t, &records));
    assert_eq!(t.invoke(&t.schedule()).code, 0);
    for member in &members[1..] {
        stack().add_member(&t.iam("admins"), member);
    }
    // Three events and a schedule at once, racing on aws-auth (409s, re-reads).
    let payloads: Vec<Value> = members[1..]
        .iter()
        .map(|member| {
            t.event(
                "add_user_to_group",
                json!({"groupName": t.iam("admins"), "userName": member}),
            )
        })
        .chain([t.schedule()])
        .collect();
    let runs: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = payloads
            .iter()
            .map(|payload| scope.spawn(|| t.invoke(payload)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let changing = runs
        .iter()
        .filter(|r| r.cluster()["outcome"] == "applied")
        .count();
    let history = history_json(&t, &[]);
    let run_ids: std::collections::BTreeSet<&str> = history
        .iter()
        .map(|c| c["runId"].as_str().unwrap())
        .collect();
    assert_eq!(
        run_ids.len(),
        1 + changing,
        "every run that changed aws-auth has its record, and only those show changes"
    );
    assert!(keys(&t, &records).len() > changing);
    for i in 1..4 {
        let arn = t.user_arn(&format!("u{i}"));
        let added = history
            .iter()
            .filter(|c| c["principal"] == arn.as_str() && c["change"] == "added")
            .count();
        assert_eq!(added, 1, "{arn} recorded exactly once");
    }
}

#[test]
fn the_review_action_writes_its_reports_to_the_bucket() {
    let t = TestCluster::new("review-s3");
    let reports = bucket(&t, "reports", true);
    iam_group(&t.iam("admins"), &[&t.iam("alice")]);
    t.configure(&format!(
        "groups:\n  - iamGroup: {}\n    kubernetesGroups: [system:masters]\nreview:\n  bucket: {reports}\n  prefix: audit/\n",
        t.iam("admins")
    ));
    assert_eq!(t.invoke(&t.schedule()).code, 0);
    let before = t.kube_counters();
    let run = t.invoke(&json!({"action": "review"}));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let response = run.json();
    assert_eq!(response["review"]["bucket"], reports.as_str());
    let objects = keys(&t, &reports);
    assert_eq!(objects.len(), 4, "{objects:?}");
    assert!(objects.contains(&"audit/latest.json".to_owned()));
    assert!(objects.contains(&"audit/latest.html".to_owned()));
    let latest = object(&t, &reports, "audit/latest.json");
    assert_eq!(latest["clusters"][0]["name"], t.name.as_str());
    assert!(
        latest["clusters"][0]["principals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["arn"] == t.user_arn("alice").as_str() && p["admin"] == true)
    );
    let html = object(&t, &reports, "audit/latest.html");
    assert!(html.as_str().unwrap().contains("<html"), "a page");
    let after = t.kube_counters();
    assert_eq!(before["put"], after["put"], "no write during the review");
    assert_eq!(before["post"], after["post"]);

    // Without `review` in the configuration the action is an error.
    t.configure(&format!(
        "groups:\n  - iamGroup: {}\n    kubernetesGroups: [system:masters]\n",
        t.iam("admins")
    ));
    let refused = t.invoke(&json!({"action": "review"}));
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("review"), "{}", refused.stderr);
}

#[test]
fn each_applied_change_is_put_on_the_event_bus() {
    let t = TestCluster::new("hist-events");
    let records = bucket(&t, "history", true);
    let bus = format!("{}-bus", t.name);
    t.on().aws(&["events", "create-event-bus", "--name", &bus]);
    // awscli's SQS ignores AWS_ENDPOINT_URL for its legacy us-east-1 host: named explicitly.
    let moto = t.on().var("AWS_ENDPOINT_URL").to_owned();
    let queue = t.on().aws(&[
        "sqs",
        "create-queue",
        "--endpoint-url",
        &moto,
        "--queue-name",
        &format!("{}-changes", t.name),
    ]);
    let queue_url = queue["QueueUrl"].as_str().unwrap().to_owned();
    let queue_arn = t.on().aws(&[
        "sqs",
        "get-queue-attributes",
        "--endpoint-url",
        &moto,
        "--queue-url",
        &queue_url,
        "--attribute-names",
        "QueueArn",
    ])["Attributes"]["QueueArn"]
        .as_str()
        .unwrap()
        .to_owned();
    t.on().aws(&[
        "events",
        "put-rule",
        "--name",
        "changes",
        "--event-bus-name",
        &bus,
        "--event-pattern",
        r#"{"source":["eks-iam-sync"],"detail-type":["EKS Access Changed"]}"#,
    ]);
    t.on().aws(&[
        "events",
        "put-targets",
        "--rule",
        "changes",
        "--event-bus-name",
        &bus,
        "--targets",
        &format!("Id=queue,Arn={queue_arn}"),
    ]);
    iam_group(&t.iam("admins"), &[&t.iam("alice")]);
    t.configure(&format!("{}  eventBus: {bus}\n", admins(&t, &records)));
    let run = t.invoke(&t.schedule());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.json()["historyCalls"],
        3,
        "intent, record, one PutEvents"
    );
    let received = t.on().aws(&[
        "sqs",
        "receive-message",
        "--endpoint-url",
        &moto,
        "--queue-url",
        &queue_url,
        "--max-number-of-messages",
        "10",
    ]);
    let messages = received["Messages"].as_array().cloned().unwrap_or_default();
    assert_eq!(messages.len(), 1, "{received}");
    let event: Value = serde_json::from_str(messages[0]["Body"].as_str().unwrap()).unwrap();
    assert_eq!(event["source"], "eks-iam-sync");
    assert_eq!(event["detail-type"], "EKS Access Changed");
    assert_eq!(event["detail"]["principal"], t.user_arn("alice").as_str());
    assert_eq!(event["detail"]["change"], "added");
}
