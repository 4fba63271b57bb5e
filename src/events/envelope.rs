//! EventBridge envelopes: a schedule, a CloudTrail record of an IAM call (read leniently into
//! [`ApiCall`]), or anything else (acknowledged). What an IAM call leads to is `iam_call`'s.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;

use super::iam_call::classify_call;
use super::{Action, CLOUDTRAIL_API_CALL, Decision, SCHEDULED_EVENT, Trigger};
use crate::core::settings::Settings;

pub(super) fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

pub(super) fn classify_envelope(
    payload: &Value,
    event: &EventBridgeEvent<Value>,
    settings: &Settings,
) -> Decision {
    let source = Some(event.source.as_str()).filter(|s| !s.is_empty());
    let detail = &event.detail;
    let detail_type = event.detail_type.as_str();
    if detail_type == SCHEDULED_EVENT {
        return Decision {
            trigger: Trigger::Schedule,
            reason: "scheduled event: full reconcile of every cluster".to_owned(),
            action: Action::Reconcile {
                clusters: settings.cluster_names(),
                dry_run: false,
            },
        };
    }
    let is_iam =
        source == Some("aws.iam") || str_at(detail, "eventSource") == Some("iam.amazonaws.com");
    if detail_type != CLOUDTRAIL_API_CALL || !is_iam {
        return Decision {
            trigger: Trigger::Other {
                detail_type: detail_type.to_owned(),
                source: source.map(str::to_owned),
            },
            action: Action::Acknowledge,
            reason: format!(
                "event {detail_type:?} from {}: not an IAM API call, nothing to do",
                source.unwrap_or("an unknown source")
            ),
        };
    }
    let call = ApiCall::read(payload, detail);
    let trigger = Trigger::IamEvent {
        event_name: call.event_name.to_owned(),
        event_id: call.event_id.map(str::to_owned),
        event_time: str_at(detail, "eventTime").map(str::to_owned),
        actor: detail
            .get("userIdentity")
            .and_then(|identity| str_at(identity, "arn"))
            .map(str::to_owned),
        account: call.account.map(str::to_owned),
    };
    let (action, reason) = classify_call(&call, settings);
    Decision {
        trigger,
        action,
        reason: format!("{}: {reason}", call.event_name),
    }
}

/// The parts of a CloudTrail record that classification looks at, read leniently.
#[derive(Debug)]
pub(super) struct ApiCall<'a> {
    pub(super) event_name: &'a str,
    pub(super) event_id: Option<&'a str>,
    pub(super) error_code: Option<String>,
    pub(super) account: Option<&'a str>,
    pub(super) params: &'a Value,
}

impl<'a> ApiCall<'a> {
    fn read(payload: &'a Value, detail: &'a Value) -> Self {
        let error_code = match detail.get("errorCode") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        ApiCall {
            event_name: str_at(detail, "eventName").unwrap_or("(no eventName)"),
            event_id: str_at(detail, "eventID").or_else(|| str_at(payload, "id")),
            error_code,
            account: str_at(detail, "recipientAccountId").or_else(|| str_at(payload, "account")),
            // `responseElements` is never read: nothing a payload says is written.
            params: detail.get("requestParameters").unwrap_or(&Value::Null),
        }
    }

    pub(super) fn param(&self, key: &str) -> Option<&'a str> {
        str_at(self.params, key)
    }
}
