//! Fleet mode's dispatcher: an event's per-cluster messages go to the work queue, and the
//! response lists what was sent.
//!
//! The response is `{"reason", "queueUrl", "sent": [{"cluster", "messageId",
//! "deduplicationId", "body"}], "sqsCalls"}`. When any message could not be queued, the
//! invocation fails ([`HandlerError::DispatchFailed`], the same JSON with `unsent`), so
//! EventBridge retries the event; the messages already queued are deduplicated by SQS.
//! Building the messages is [`crate::fleet::message`]'s job, sending them
//! [`crate::fleet::queue`]'s.

use serde_json::{Value, json};

use super::HandlerError;
use crate::events::Decision;
use crate::fleet::{WorkMessage, WorkQueue};

/// Sends `messages` for `decision` and reports what was sent.
pub(super) async fn dispatch(
    queue: &WorkQueue,
    decision: &Decision,
    messages: &[WorkMessage],
) -> Result<Value, HandlerError> {
    let report = queue.send(messages).await;
    for sent in &report.sent {
        tracing::info!(cluster = %sent.cluster, message_id = %sent.message_id, "cluster queued");
    }
    for unsent in &report.unsent {
        tracing::error!(cluster = %unsent.cluster, error = %unsent.error, "cluster not queued");
    }
    let mut response = json!({"reason": decision.reason, "queueUrl": queue.url()});
    if let (Value::Object(response), Ok(Value::Object(report))) =
        (&mut response, serde_json::to_value(&report))
    {
        response.extend(report);
    }
    if report.unsent.is_empty() {
        return Ok(response);
    }
    Err(HandlerError::DispatchFailed {
        unsent: report.unsent.len(),
        total: messages.len(),
        response,
    })
}
