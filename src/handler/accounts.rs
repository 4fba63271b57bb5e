//! Routing IAM events by the account they come from (issue 14, many accounts), after
//! classification and before anything is reconciled or queued. Pure: a [`Decision`], the
//! payload and the settings in, a (possibly narrowed) decision out.
//!
//! - User and group events matter only when they come from the synced IAM account. That
//!   account is known when `iam.assumeRoleArn` names it; without it (the function's own
//!   account, unknown without a call) user and group events are taken as they are.
//! - Role events (CreateRole, DeleteRole) matter for the clusters in the account they come
//!   from: a cluster reached through an `assumeRoleArn` of another account is dropped; a
//!   cluster without one (in the function's own account) is kept.
//! - An event without an account, and every other trigger, is left as it is.
//!
//! Dropping is always safe to get wrong in the other direction: reconciles are level-triggered,
//! so a kept cluster costs a reconcile that finds nothing to change.

use serde_json::Value;

use crate::core::settings::Settings;
use crate::events::{Action, Decision, Trigger};

/// The account a CloudTrail event happened in: `detail.recipientAccountId`, else the
/// envelope's `account`.
fn event_account(payload: &Value) -> Option<&str> {
    fn text(v: Option<&Value>) -> Option<&str> {
        v.and_then(Value::as_str).filter(|s| !s.is_empty())
    }
    text(payload.pointer("/detail/recipientAccountId")).or_else(|| text(payload.get("account")))
}

/// `decision`, narrowed to what matters for the account the event comes from.
pub fn route_by_account(decision: Decision, payload: &Value, settings: &Settings) -> Decision {
    let Trigger::IamEvent { event_name, .. } = &decision.trigger else {
        return decision;
    };
    let Some(account) = event_account(payload) else {
        return decision;
    };
    if matches!(decision.action, Action::Acknowledge) {
        return decision;
    }
    if matches!(event_name.as_str(), "CreateRole" | "DeleteRole") {
        let Action::Reconcile { clusters, dry_run } = &decision.action else {
            return decision;
        };
        let in_account: Vec<String> = clusters
            .iter()
            .filter(|name| {
                settings
                    .cluster(name)
                    .and_then(|c| c.assume_role_arn.as_ref())
                    .is_none_or(|role| role.account_id() == account)
            })
            .cloned()
            .collect();
        if in_account.len() == clusters.len() {
            return decision;
        }
        let reason = if in_account.is_empty() {
            format!(
                "{}; but none of those clusters is in account {account}, where the role is: nothing to do",
                decision.reason
            )
        } else {
            format!(
                "{}; only {} in account {account}, where the role is",
                decision.reason,
                in_account.join(", ")
            )
        };
        let action = if in_account.is_empty() {
            Action::Acknowledge
        } else {
            Action::Reconcile {
                clusters: in_account,
                dry_run: *dry_run,
            }
        };
        return Decision {
            action,
            reason,
            ..decision
        };
    }
    let Some(synced) = settings
        .iam_assume_role_arn
        .as_ref()
        .map(|r| r.account_id())
    else {
        return decision;
    };
    if synced == account {
        return decision;
    }
    Decision {
        action: Action::Acknowledge,
        reason: format!(
            "{}: the event comes from account {account}, but IAM users and groups are synced from account {synced}; nothing to do",
            event_name
        ),
        ..decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::from_text;
    use serde_json::json;

    fn settings(extra: &str) -> Settings {
        from_text(
            &format!(
                "clusters:\n  - {{name: home, region: eu-west-3}}\n  - {{name: member, region: eu-west-3, assumeRoleArn: 'arn:aws:iam::222233334444:role/r'}}\n{extra}"
            ),
            "test",
            None,
        )
        .unwrap()
    }

    fn decision(event: &str, action: Action) -> Decision {
        Decision {
            trigger: Trigger::IamEvent {
                event_name: event.to_owned(),
                event_id: None,
            },
            action,
            reason: "why".to_owned(),
        }
    }

    fn reconcile(clusters: &[&str]) -> Action {
        Action::Reconcile {
            clusters: clusters.iter().map(|c| (*c).to_owned()).collect(),
            dry_run: false,
        }
    }

    fn from(account: &str) -> Value {
        json!({"account": "999999999999", "detail": {"recipientAccountId": account}})
    }

    #[test]
    fn a_role_event_reconciles_only_the_clusters_of_its_account() {
        let s = settings("");
        let both = || decision("CreateRole", reconcile(&["home", "member"]));
        let member = route_by_account(both(), &from("222233334444"), &s);
        assert_eq!(member.action, reconcile(&["home", "member"]));
        let elsewhere = route_by_account(both(), &from("555566667777"), &s);
        assert_eq!(elsewhere.action, reconcile(&["home"]));
        let only_member = decision("DeleteRole", reconcile(&["member"]));
        let dropped = route_by_account(only_member, &from("555566667777"), &s);
        assert_eq!(dropped.action, Action::Acknowledge);
        assert!(
            dropped.reason.contains("555566667777"),
            "{}",
            dropped.reason
        );
    }

    #[test]
    fn user_and_group_events_matter_only_from_the_synced_iam_account() {
        let s = settings("iam: {assumeRoleArn: 'arn:aws:iam::111122223333:role/reader'}\n");
        let event = || decision("DeleteGroup", reconcile(&["home", "member"]));
        let synced = route_by_account(event(), &from("111122223333"), &s);
        assert_eq!(synced.action, reconcile(&["home", "member"]));
        let other = route_by_account(event(), &from("222233334444"), &s);
        assert_eq!(other.action, Action::Acknowledge);
        assert!(other.reason.contains("synced from account 111122223333"));
    }

    #[test]
    fn without_a_known_synced_account_or_event_account_nothing_changes() {
        let s = settings("");
        let event = || decision("DeleteGroup", reconcile(&["home"]));
        assert_eq!(
            route_by_account(event(), &from("222233334444"), &s),
            event()
        );
        let s = settings("iam: {assumeRoleArn: 'arn:aws:iam::111122223333:role/reader'}\n");
        assert_eq!(
            route_by_account(event(), &json!({"detail": {}}), &s),
            event()
        );
    }
}
