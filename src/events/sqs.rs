//! SQS events from the work queue (fleet mode): whether a payload is one, and its records.
//! What each record's body asks for is the batch handler's (`handler::batch`).

use aws_lambda_events::sqs::SqsMessage;
use serde_json::Value;

/// `eventSource` of an SQS record.
pub const SQS_EVENT_SOURCE: &str = "aws:sqs";

/// The records of an SQS event, in order; `None` when `payload` is not one (its first record
/// does not come from `aws:sqs`). A record that does not parse as an SQS message is kept with
/// its `messageId` alone, so the batch can name it as failed.
pub fn sqs_records(payload: &Value) -> Option<Vec<SqsMessage>> {
    let records = payload.get("Records")?.as_array()?;
    let source = records.first()?.get("eventSource")?.as_str()?;
    if source != SQS_EVENT_SOURCE {
        return None;
    }
    Some(
        records
            .iter()
            .map(|r| serde_json::from_value(r.clone()).unwrap_or_else(|_| unreadable(r)))
            .collect(),
    )
}

/// A record that does not even parse as an SQS message: its id, so it can be named.
fn unreadable(record: &Value) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = record
        .get("messageId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_sqs_event_gives_its_records_and_keeps_an_unreadable_ones_id() {
        let event = json!({"Records": [
            {"eventSource": "aws:sqs", "messageId": "m1", "body": "{}"},
            {"eventSource": "aws:sqs", "messageId": "m2", "body": 7},
        ]});
        let records = sqs_records(&event).expect("an SQS event");
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].body.as_deref(), Some("{}"));
        assert_eq!(records[1].message_id.as_deref(), Some("m2"));
        assert_eq!(records[1].body, None);
        let sns = json!({"Records": [{"EventSource": "aws:sns"}]});
        assert!(sqs_records(&sns).is_none());
        assert!(sqs_records(&json!({"Records": []})).is_none());
        assert!(sqs_records(&json!({"action": "reconcile"})).is_none());
    }
}
