//! Fleet mode end to end (issue 14): with `EKS_IAM_SYNC_QUEUE_URL` naming a FIFO queue in
//! moto, events fan out one message per cluster; the messages, received from moto and fed back
//! as an SQS event the way Lambda's event source mapping would, run in place and the partial
//! batch response names exactly the records whose cluster failed, each handed out again within
//! seconds (issue 20), not after the queue's 1,800 s visibility timeout.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use eks_iam_sync::fleet::retry::{RETRY_BASE, RETRY_JITTER};
use serde_json::{Value, json};

use crate::support::{Run, TestCluster, iam_group, section, stack};

/// Several clusters, one configuration naming them all, and a FIFO queue of their own.
struct Fleet {
    clusters: Vec<TestCluster>,
    queue_url: String,
}

impl Fleet {
    /// `n` clusters `t-<test>-<i>`; members of IAM group `<first cluster>-admins` get
    /// system:masters on every cluster.
    fn new(test: &str, n: usize) -> Fleet {
        let mut clusters: Vec<TestCluster> = (0..n)
            .map(|i| TestCluster::new(&format!("{test}-{i}")))
            .collect();
        let names: String = clusters
            .iter()
            .map(|c| {
                format!(
                    "  - name: {}\n    region: us-east-1\n    backend: aws-auth\n",
                    c.name
                )
            })
            .collect();
        let config = format!(
            "clusters:\n{names}groups:\n  - iamGroup: {}\n    kubernetesGroups: [system:masters]\n",
            clusters[0].iam("admins")
        );
        let path = std::env::temp_dir().join(format!(
            "eks-iam-sync-fleet-{}-{test}.yaml",
            std::process::id()
        ));
        std::fs::write(&path, config).unwrap();
        let created = sqs(&[
            "create-queue",
            "--queue-name",
            &format!("t-{test}.fifo"),
            "--attributes",
            "FifoQueue=true,VisibilityTimeout=1800",
        ]);
        let queue_url = created["QueueUrl"].as_str().unwrap().to_owned();
        let config = PathBuf::from(&path);
        for cluster in &mut clusters {
            cluster.set_env("EKS_IAM_SYNC_CONFIG", config.to_str().unwrap());
            cluster.set_env("EKS_IAM_SYNC_QUEUE_URL", &queue_url);
        }
        Fleet {
            clusters,
            queue_url,
        }
    }

    fn admins(&self) -> String {
        self.clusters[0].iam("admins")
    }

    fn invoke(&self, payload: &Value) -> Run {
        self.clusters[0].invoke(payload)
    }

    /// What Lambda's event source mapping does with received messages: one invocation with
    /// them as an SQS event, then the records not named in `batchItemFailures` are deleted.
    fn run_batch(&self, messages: &[Value]) -> Run {
        let run = self.invoke(&sqs_event(messages));
        let failed = failures(&run);
        for m in messages {
            if !failed.iter().any(|f| m["MessageId"] == f.as_str()) {
                let handle = m["ReceiptHandle"].as_str().unwrap();
                sqs(&[
                    "delete-message",
                    "--queue-url",
                    &self.queue_url,
                    "--receipt-handle",
                    handle,
                ]);
            }
        }
        run
    }

    /// Every message now visible on the queue (received, so invisible for 30 min after).
    fn receive(&self) -> Vec<Value> {
        let mut messages = Vec::new();
        loop {
            let got = sqs(&[
                "receive-message",
                "--queue-url",
                &self.queue_url,
                "--max-number-of-messages",
                "10",
                "--attribute-names",
                "All",
            ]);
            match got["Messages"].as_array() {
                Some(batch) if !batch.is_empty() => messages.extend(batch.iter().cloned()),
                _ => return messages,
            }
        }
    }
}

/// awscli's SQS commands against moto (awscli v1 picks SQS's legacy endpoint unless told).
fn sqs(args: &[&str]) -> Value {
    let endpoint = stack().var("AWS_ENDPOINT_URL").to_owned();
    let mut full = vec!["--endpoint-url", &endpoint, "sqs"];
    full.extend_from_slice(args);
    stack().aws(&full)
}

/// The SQS event Lambda's event source mapping builds from received messages.
fn sqs_event(messages: &[Value]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m["Attributes"],
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:fleet.fifo",
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({ "Records": records })
}

fn bodies(messages: &[Value]) -> Vec<Value> {
    messages
        .iter()
        .map(|m| serde_json::from_str(m["Body"].as_str().unwrap()).unwrap())
        .collect()
}

fn failures(run: &Run) -> Vec<String> {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run.json()["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("not a batch response: {}", run.stdout))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_schedule_fans_out_one_message_per_cluster_once_and_the_batch_runs_them() {
    let fleet = Fleet::new("fleet-schedule", 3);
    iam_group(&fleet.admins(), &[&fleet.clusters[0].iam("alice")]);
    let schedule = fleet.clusters[0].schedule();

    let dispatched = fleet.invoke(&schedule);
    assert_eq!(dispatched.code, 0, "{}", dispatched.stderr);
    let response = dispatched.json();
    assert_eq!(response["sent"].as_array().unwrap().len(), 3, "{response}");
    assert_eq!(
        response["sqsCalls"], 1,
        "three messages, one SendMessageBatch"
    );
    for cluster in &fleet.clusters {
        assert!(
            cluster.aws_auth().is_empty(),
            "the dispatcher reconciles nothing itself"
        );
    }
    // EventBridge delivers the same event again: SQS deduplicates it.
    assert_eq!(fleet.invoke(&schedule).code, 0);

    let messages = fleet.receive();
    assert_eq!(
        messages.len(),
        3,
        "one message per cluster, replay deduplicated"
    );
    let mut groups: Vec<&str> = messages
        .iter()
        .map(|m| m["Attributes"]["MessageGroupId"].as_str().unwrap())
        .collect();
    groups.sort_unstable();
    let names: Vec<&str> = fleet.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(groups, names, "MessageGroupId is the cluster");
    for (body, message) in bodies(&messages).iter().zip(&messages) {
        let group = &message["Attributes"]["MessageGroupId"];
        assert_eq!(body, &json!({"action": "reconcile", "clusters": [group]}));
    }

    let batch = fleet.run_batch(&messages);
    assert_eq!(failures(&batch), Vec::<String>::new());
    for cluster in &fleet.clusters {
        let users = section(&cluster.aws_auth(), "mapUsers").to_owned();
        assert!(
            users.contains(&fleet.clusters[0].user_arn("alice")),
            "{users}"
        );
    }
    assert!(fleet.receive().is_empty(), "a record never fans out again");
}

#[test]
fn a_batch_names_only_the_record_of_a_deleted_cluster() {
    let fleet = Fleet::new("fleet-deleted", 3);
    iam_group(&fleet.admins(), &[&fleet.clusters[0].iam("alice")]);
    assert_eq!(fleet.invoke(&fleet.clusters[0].schedule()).code, 0);
    let messages = fleet.receive();
    assert_eq!(messages.len(), 3);
    let gone = &fleet.clusters[1].name;
    stack().aws(&["eks", "delete-cluster", "--name", gone]);

    let batch = fleet.run_batch(&messages);
    // The failed record's visibility was changed before the batch answered.
    let failed_at = Instant::now();
    let early = fleet.receive();
    let gone_message = messages
        .iter()
        .find(|m| m["Attributes"]["MessageGroupId"] == gone.as_str())
        .unwrap();
    assert_eq!(
        failures(&batch),
        vec![gone_message["MessageId"].as_str().unwrap().to_owned()]
    );
    assert!(batch.stderr.contains(gone.as_str()), "{}", batch.stderr);
    for i in [0, 2] {
        let users = section(&fleet.clusters[i].aws_auth(), "mapUsers").to_owned();
        assert!(
            users.contains(&fleet.clusters[0].user_arn("alice")),
            "{users}"
        );
    }

    // Retry soon: the failed record (first try: 15 s + jitter) comes back within the bound.
    let bound = RETRY_BASE + RETRY_JITTER + Duration::from_secs(2);
    let again = loop {
        let got = fleet.receive();
        if !got.is_empty() || failed_at.elapsed() > bound {
            break got;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(early.is_empty(), "visible at once: {early:?}");
    assert_eq!(
        again.len(),
        1,
        "not visible again within {bound:?}: {again:?}"
    );
    assert_eq!(again[0]["MessageId"], gone_message["MessageId"]);
    assert_eq!(again[0]["Attributes"]["ApproximateReceiveCount"], "2");
}

#[test]
fn a_user_event_fans_out_to_the_group_s_clusters_and_changes_only_that_user() {
    let fleet = Fleet::new("fleet-user", 2);
    let (alice, bob) = (fleet.clusters[0].iam("alice"), fleet.clusters[0].iam("bob"));
    iam_group(&fleet.admins(), &[&alice]);
    assert_eq!(fleet.invoke(&fleet.clusters[0].schedule()).code, 0);
    assert_eq!(failures(&fleet.run_batch(&fleet.receive())).len(), 0);

    stack().add_member(&fleet.admins(), &bob);
    let event = fleet.clusters[0].event(
        "add_user_to_group",
        json!({"groupName": fleet.admins(), "userName": bob}),
    );
    let dispatched = fleet.invoke(&event);
    assert_eq!(dispatched.code, 0, "{}", dispatched.stderr);
    assert_eq!(dispatched.json()["sent"].as_array().unwrap().len(), 2);
    let messages = fleet.receive();
    let bodies = bodies(&messages);
    assert_eq!(bodies.len(), 2);
    for body in &bodies {
        assert_eq!(body["action"], "syncUser");
        assert_eq!(body["userName"], bob.as_str());
        assert_eq!(body["clusters"].as_array().unwrap().len(), 1);
    }
    let batch = fleet.run_batch(&messages);
    assert_eq!(failures(&batch), Vec::<String>::new());
    for cluster in &fleet.clusters {
        let users = section(&cluster.aws_auth(), "mapUsers").to_owned();
        assert!(
            users.contains(&fleet.clusters[0].user_arn("bob"))
                && users.contains(&fleet.clusters[0].user_arn("alice")),
            "{users}"
        );
    }
}

#[test]
fn a_malformed_record_fails_alone_and_a_direct_invoke_still_runs_in_place() {
    let fleet = Fleet::new("fleet-malformed", 1);
    iam_group(&fleet.admins(), &[&fleet.clusters[0].iam("alice")]);
    let direct = fleet.invoke(&json!({"action": "reconcile"}));
    assert_eq!(direct.code, 0, "{}", direct.stderr);
    assert_eq!(
        direct.cluster()["outcome"],
        "applied",
        "in place, as before"
    );
    assert!(fleet.receive().is_empty());

    let good = json!({"MessageId": "good", "ReceiptHandle": "r1", "MD5OfBody": "",
        "Body": json!({"action": "reconcile", "clusters": [fleet.clusters[0].name]}).to_string(),
        "Attributes": {"MessageGroupId": fleet.clusters[0].name}});
    let bad = json!({"MessageId": "bad", "ReceiptHandle": "r2", "MD5OfBody": "",
        "Body": "{\"action\": \"reconcile\", \"dryrun\": true}",
        "Attributes": {"MessageGroupId": "x"}});
    let batch = fleet.invoke(&sqs_event(&[bad, good]));
    assert_eq!(failures(&batch), vec!["bad".to_owned()]);
    assert!(batch.stderr.contains("dryrun"), "{}", batch.stderr);
}
