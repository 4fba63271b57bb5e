//! Fleet mode in process: with a work queue (a mocked SQS client), the schedule and IAM events
//! cost one SendMessageBatch and no cluster call; a direct invoke still runs in place; an SQS
//! batch runs each record in place and names only the records that failed, each made visible
//! again within [`RETRY_BOUND`] (issue 20), named even when SQS would not change it.

use aws_sdk_sqs::Client as Sqs;
use aws_sdk_sqs::operation::change_message_visibility_batch::{
    ChangeMessageVisibilityBatchError, ChangeMessageVisibilityBatchInput,
    ChangeMessageVisibilityBatchOutput,
};
use aws_sdk_sqs::operation::send_message_batch::{SendMessageBatchInput, SendMessageBatchOutput};
use aws_sdk_sqs::types::error::QueueDoesNotExist;
use aws_sdk_sqs::types::{
    BatchResultErrorEntry, ChangeMessageVisibilityBatchResultEntry, SendMessageBatchResultEntry,
};
use aws_smithy_mocks::{Rule, mock};
use eks_iam_sync::fleet::retry::{RETRY_BOUND, RETRY_CAP, RETRY_JITTER};
use eks_iam_sync::handler::HandlerError;
use serde_json::{Value, json};

use super::support::{CLUSTER, Calls, QUEUE_URL, Setup, event, first_aws_auth_run, iam};

/// SendMessageBatch of exactly one message for [`CLUSTER`], accepted as `message_id`.
fn accepts_one(message_id: &'static str, check: fn(&SendMessageBatchInput) -> bool) -> Rule {
    mock!(Sqs::send_message_batch)
        .match_requests(move |req| {
            let entry = &req.entries()[0];
            req.queue_url() == Some(QUEUE_URL)
                && req.entries().len() == 1
                && entry.message_group_id() == Some(CLUSTER)
                && entry.message_deduplication_id().map(str::len) == Some(64)
                && check(req)
        })
        .then_output(move || {
            SendMessageBatchOutput::builder()
                .successful(
                    SendMessageBatchResultEntry::builder()
                        .id("m0")
                        .message_id(message_id)
                        .md5_of_message_body("-")
                        .build()
                        .unwrap(),
                )
                .set_failed(Some(Vec::new()))
                .build()
                .unwrap()
        })
}

fn body(req: &SendMessageBatchInput) -> Value {
    serde_json::from_str(req.entries()[0].message_body()).unwrap()
}

/// ChangeMessageVisibilityBatch accepted (for batches whose failed records are made visible
/// again soon).
fn visibility_changed() -> Rule {
    mock!(Sqs::change_message_visibility_batch).then_output(|| {
        ChangeMessageVisibilityBatchOutput::builder()
            .set_successful(Some(vec![]))
            .set_failed(Some(vec![]))
            .build()
            .unwrap()
    })
}

/// An SQS event of `(messageId, body)` records, grouped by cluster as the queue would, each
/// handed out for the first time.
fn sqs_event(records: &[(&str, Value)]) -> Value {
    let first: Vec<(&str, Value, u64)> = records
        .iter()
        .map(|(id, body)| (*id, body.clone(), 1))
        .collect();
    sqs_event_received(&first)
}

/// An SQS event of `(messageId, body, ApproximateReceiveCount)` records; the receipt handle
/// is `r-<messageId>`.
fn sqs_event_received(records: &[(&str, Value, u64)]) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|(id, body, count)| {
            json!({"messageId": id, "receiptHandle": format!("r-{id}"), "body": body.to_string(),
                "attributes": {"MessageGroupId": CLUSTER, "ApproximateReceiveCount": count.to_string()},
                "messageAttributes": {},
                "eventSource": "aws:sqs", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:eks-iam-sync-work.fifo"})
        })
        .collect();
    json!({ "Records": records })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_is_queued_per_cluster_and_touches_no_cluster() {
    let s = Setup::admins_on_aws_auth()
        .fleet(vec![accepts_one("mid-1", |req| {
            body(req) == json!({"action": "reconcile", "clusters": [CLUSTER]})
        })])
        .start()
        .await;
    let response = s.handle(&event("scheduled_event", None)).await.unwrap();
    s.verify(Calls::none());
    assert_eq!(response["sent"][0]["cluster"], CLUSTER);
    assert_eq!(response["sent"][0]["messageId"], "mid-1");
    assert_eq!(response["sqsCalls"], 1);
    assert_eq!(response["queueUrl"], QUEUE_URL);
    s.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_event_is_queued_with_what_the_incremental_path_needs() {
    let s = Setup::admins_on_aws_auth()
        .fleet(vec![accepts_one("mid-2", |req| {
            let body = body(req);
            body["action"] == "syncUser"
                && body["userName"] == "bob"
                && body["expect"] == json!({"memberOf": "eks-admins"})
                && body["clusters"] == json!([CLUSTER])
        })])
        .start()
        .await;
    let event = event(
        "add_user_to_group",
        Some(json!({"groupName": "eks-admins", "userName": "bob"})),
    );
    let response = s.handle(&event).await.unwrap();
    // Routed by account (issue 14): the synced IAM account is our own, learnt once.
    s.verify(Calls::none().caller_identity());
    assert_eq!(response["sent"].as_array().unwrap().len(), 1);
    s.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_cannot_matter_sends_nothing_and_a_direct_invoke_runs_in_place() {
    let s = Setup::admins_on_aws_auth()
        .fleet(Vec::new())
        .iam(vec![iam::get_group("eks-admins", &["alice"])])
        .start()
        .await;
    let ack = s
        .handle(&event(
            "add_user_to_group",
            Some(json!({"groupName": "marketing", "userName": "bob"})),
        ))
        .await
        .unwrap();
    assert_eq!(ack["acknowledged"], true);
    s.verify(Calls::none());
    let direct = s.handle(&json!({"action": "reconcile"})).await.unwrap();
    assert_eq!(direct["clusters"][0]["outcome"], "applied");
    s.verify(first_aws_auth_run(&[("get", 1), ("create", 1)]));
    s.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sqs_refuses_fails_the_dispatch_so_the_event_is_retried() {
    let refused = mock!(Sqs::send_message_batch).then_output(|| {
        SendMessageBatchOutput::builder()
            .set_successful(Some(Vec::new()))
            .failed(
                BatchResultErrorEntry::builder()
                    .id("m0")
                    .sender_fault(false)
                    .code("InternalError")
                    .message("try again")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    });
    let s = Setup::admins_on_aws_auth()
        .fleet(vec![refused])
        .start()
        .await;
    let error = s.handle(&event("scheduled_event", None)).await.unwrap_err();
    let HandlerError::DispatchFailed {
        unsent, response, ..
    } = &error
    else {
        panic!("expected DispatchFailed, got {error}");
    };
    assert_eq!(*unsent, 1);
    assert_eq!(response["unsent"][0]["cluster"], CLUSTER);
    assert!(
        error.to_string().contains("InternalError: try again"),
        "{error}"
    );
    s.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_runs_its_records_in_place_and_names_only_the_failed_ones() {
    let s = Setup::admins_on_aws_auth()
        .iam(vec![
            iam::get_group("eks-admins", &["alice"]),
            iam::get_group_denied("eks-admins"),
        ])
        .fleet(vec![visibility_changed()])
        .start()
        .await;
    let reconcile = json!({"action": "reconcile", "clusters": [CLUSTER]});
    let ok = s.handle(&sqs_event(&[("ok", reconcile.clone())])).await;
    assert_eq!(ok.unwrap(), json!({"batchItemFailures": []}));
    s.verify(first_aws_auth_run(&[("get", 1), ("create", 1)]));

    // The same cluster again, now with IAM denying the read; and two malformed bodies.
    let batch = sqs_event(&[
        ("denied", reconcile),
        ("typo", json!({"action": "reconcile", "dryrun": true})),
        (
            "unknown",
            json!({"action": "syncUser", "clusters": ["nope"], "userName": "bob",
            "expect": "userGone"}),
        ),
    ]);
    let response = s.handle(&batch).await.unwrap();
    assert_eq!(
        response,
        json!({"batchItemFailures": [
            {"itemIdentifier": "denied"},
            {"itemIdentifier": "typo"},
            {"itemIdentifier": "unknown"},
        ]})
    );
    // The IAM read fails the cluster before any cluster call.
    s.verify(Calls::none().iam(&["GetGroup"]));
    s.finish();
}

/// The visibility timeout `req` asks for `receipt_handle`, in seconds.
fn visibility_of(req: &ChangeMessageVisibilityBatchInput, receipt_handle: &str) -> Option<u64> {
    req.entries()
        .iter()
        .find(|e| e.receipt_handle() == receipt_handle)
        .and_then(|e| e.visibility_timeout())
        .map(|t| t as u64)
}

/// A record that failed again (third delivery: the capped delay) and a malformed one (first
/// delivery: 15 s) are made visible again within the bound, not after the queue's visibility
/// timeout; both are named, even the one SQS would not change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_fleet_records_are_made_visible_again_within_the_bound_and_still_named() {
    let cap = RETRY_CAP.as_secs();
    let bound = RETRY_BOUND.as_secs();
    let first = 15..=15 + RETRY_JITTER.as_secs();
    let change = mock!(Sqs::change_message_visibility_batch)
        .match_requests(move |req| {
            req.queue_url() == Some(QUEUE_URL)
                && req.entries().len() == 2
                && visibility_of(req, "r-denied").is_some_and(|t| (cap..=bound).contains(&t))
                && visibility_of(req, "r-typo").is_some_and(|t| first.contains(&t))
        })
        .then_compute_output(|req| {
            let id_of = |handle: &str| {
                let entry = req.entries().iter().find(|e| e.receipt_handle() == handle);
                entry.unwrap().id().to_owned()
            };
            ChangeMessageVisibilityBatchOutput::builder()
                .successful(
                    ChangeMessageVisibilityBatchResultEntry::builder()
                        .id(id_of("r-denied"))
                        .build()
                        .unwrap(),
                )
                .failed(
                    BatchResultErrorEntry::builder()
                        .id(id_of("r-typo"))
                        .sender_fault(true)
                        .code("ReceiptHandleIsInvalid")
                        .message("expired")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        });
    let s = Setup::admins_on_aws_auth()
        .fleet(vec![change])
        .iam(vec![iam::get_group_denied("eks-admins")])
        .start()
        .await;
    let batch = sqs_event_received(&[
        (
            "denied",
            json!({"action": "reconcile", "clusters": [CLUSTER]}),
            3,
        ),
        ("typo", json!({"action": "reconcile", "dryrun": true}), 1),
    ]);
    let response = s.handle(&batch).await.unwrap();
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "denied"}, {"itemIdentifier": "typo"}]})
    );
    s.verify(Calls::none().iam(&["GetGroup"]));
    s.finish();
}

/// When SQS refuses the visibility change as a whole, the batch still names every failed
/// record (it then waits out the queue's visibility timeout): a batch never loses a record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_record_is_named_even_when_its_visibility_cannot_be_changed() {
    let refused = mock!(Sqs::change_message_visibility_batch).then_error(|| {
        ChangeMessageVisibilityBatchError::QueueDoesNotExist(
            QueueDoesNotExist::builder().message("gone").build(),
        )
    });
    let s = Setup::admins_on_aws_auth()
        .fleet(vec![refused])
        .start()
        .await;
    let batch = sqs_event(&[("typo", json!({"action": "reconcile", "dryrun": true}))]);
    let response = s.handle(&batch).await.unwrap();
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "typo"}]})
    );
    s.verify(Calls::none());
    s.finish();
}

/// Without fleet mode no queue feeds the function: an SQS-shaped payload is someone's invoke
/// dressed as queue work, refused before anything runs (issue 20).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqs_event_without_fleet_mode_is_refused_and_runs_nothing() {
    let s = Setup::admins_on_aws_auth().start().await;
    let forged = sqs_event(&[(
        "forged",
        json!({"action": "reconcile", "clusters": [CLUSTER]}),
    )]);
    let error = s.handle(&forged).await.unwrap_err();
    assert!(matches!(error, HandlerError::NoWorkQueue), "{error}");
    assert!(error.to_string().contains("fleet mode is off"), "{error}");
    s.verify(Calls::none());
    s.finish();
}

/// A work message never carries an ARN: a syncUser body naming one is a failed record, named,
/// and nothing is read or written for it (issue 20).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_user_body_carrying_an_arn_is_a_failed_record_and_maps_nothing() {
    let s = Setup::admins_on_aws_auth()
        .fleet(vec![visibility_changed()])
        .start()
        .await;
    let forged = json!({"action": "syncUser", "clusters": [CLUSTER], "userName": "alice",
        "userArn": "arn:aws:iam::111122223333:user/mallory", "expect": {"memberOf": "eks-admins"}});
    let response = s.handle(&sqs_event(&[("forged", forged)])).await.unwrap();
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "forged"}]})
    );
    s.verify(Calls::none());
    s.finish();
}
