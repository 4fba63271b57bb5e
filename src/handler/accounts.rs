//! Routing IAM events by the account they come from (issue 14, many accounts), after
//! classification and before anything is reconciled or queued. [`route_by_account`] is pure:
//! a [`Decision`] (its trigger names the event's account), the settings and the [`Accounts`]
//! known in, a (possibly narrowed) decision out; [`route_event`] first learns the accounts it
//! needs.
//!
//! - User and group events matter only when they come from the synced IAM account:
//!   `iam.assumeRoleArn`'s, else the function's own (STS GetCallerIdentity, read once per
//!   instance and shared with the identity the guards protect).
//! - Role events (CreateRole, DeleteRole) matter for the clusters in the account they come
//!   from: a cluster's account is its `assumeRoleArn`'s, else the function's own.
//! - An event without an account, and every other trigger, is left as it is; so is an event
//!   whose account cannot be compared because our own is unknown (GetCallerIdentity failed:
//!   logged).
//!
//! Dropping is always safe to get wrong in the other direction: reconciles are level-triggered,
//! so a kept cluster costs a reconcile that finds nothing to change.

use crate::core::settings::Settings;
use crate::events::{Action, Decision, Trigger};
use crate::reconcile::Reconciler;

/// The accounts routing compares an event's with (`None`: unknown, nothing is dropped on it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounts {
    /// The function's own account (clusters without `assumeRoleArn` are in it).
    pub own: Option<String>,
    /// The account whose IAM users and groups are synced.
    pub synced: Option<String>,
}

/// The account an IAM event happened in, as classification read it.
fn event_account(trigger: &Trigger) -> Option<&str> {
    match trigger {
        Trigger::IamEvent { account, .. } => account.as_deref(),
        _ => None,
    }
}

fn is_role_event(event_name: &str) -> bool {
    matches!(event_name, "CreateRole" | "DeleteRole")
}

/// [`route_by_account`] with the accounts it needs: our own account is asked of STS (once
/// per instance) only for an event that routing could drop on it.
pub async fn route_event(decision: Decision, reconciler: &Reconciler) -> Decision {
    let settings = reconciler.settings();
    let needs_own = match &decision.trigger {
        Trigger::IamEvent { event_name, .. } => {
            event_account(&decision.trigger).is_some()
                && !matches!(decision.action, Action::Acknowledge)
                && if is_role_event(event_name) {
                    settings
                        .clusters
                        .iter()
                        .any(|c| c.assume_role_arn.is_none())
                } else {
                    settings.iam_assume_role_arn.is_none()
                }
        }
        _ => false,
    };
    let own = if needs_own {
        match reconciler.own_account().await {
            Ok(account) => Some(account),
            Err(error) => {
                tracing::warn!(%error, "our own account is unknown; the event is not routed by account");
                None
            }
        }
    } else {
        None
    };
    let synced = match &settings.iam_assume_role_arn {
        Some(role) => Some(role.account_id().to_owned()),
        None => own.clone(),
    };
    route_by_account(decision, settings, &Accounts { own, synced })
}

/// `decision`, narrowed to what matters for the account the event comes from.
pub fn route_by_account(decision: Decision, settings: &Settings, accounts: &Accounts) -> Decision {
    let Trigger::IamEvent { event_name, .. } = &decision.trigger else {
        return decision;
    };
    let Some(account) = event_account(&decision.trigger).map(str::to_owned) else {
        return decision;
    };
    if matches!(decision.action, Action::Acknowledge) {
        return decision;
    }
    if is_role_event(event_name) {
        let Action::Reconcile { clusters, dry_run } = &decision.action else {
            return decision;
        };
        let in_account: Vec<String> = clusters
            .iter()
            .filter(|name| {
                let cluster_account = settings
                    .cluster(name)
                    .and_then(|c| c.assume_role_arn.as_ref())
                    .map(|role| role.account_id())
                    .or(accounts.own.as_deref());
                cluster_account.is_none_or(|a| a == account)
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
    let Some(synced) = accounts.synced.as_deref() else {
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

    /// An event named `event` from `account` (`None`: the event names none).
    fn decision_from(event: &str, action: Action, account: Option<&str>) -> Decision {
        Decision {
            trigger: Trigger::IamEvent {
                event_name: event.to_owned(),
                event_id: None,
                event_time: None,
                actor: None,
                account: account.map(str::to_owned),
            },
            action,
            reason: "why".to_owned(),
        }
    }

    /// `decision`, its event now from `account`.
    fn from(mut decision: Decision, account: &str) -> Decision {
        if let Trigger::IamEvent { account: a, .. } = &mut decision.trigger {
            *a = Some(account.to_owned());
        }
        decision
    }

    fn decision(event: &str, action: Action) -> Decision {
        decision_from(event, action, None)
    }

    fn reconcile(clusters: &[&str]) -> Action {
        Action::Reconcile {
            clusters: clusters.iter().map(|c| (*c).to_owned()).collect(),
            dry_run: false,
        }
    }

    fn known(own: Option<&str>, synced: Option<&str>) -> Accounts {
        Accounts {
            own: own.map(str::to_owned),
            synced: synced.map(str::to_owned),
        }
    }

    #[test]
    fn a_role_event_reconciles_only_the_clusters_of_its_account() {
        let s = settings("");
        let own = known(Some("111122223333"), Some("111122223333"));
        let both = || decision("CreateRole", reconcile(&["home", "member"]));
        let member = route_by_account(from(both(), "222233334444"), &s, &own);
        assert_eq!(member.action, reconcile(&["member"]));
        assert!(
            member
                .reason
                .contains("only member in account 222233334444")
        );
        let home = route_by_account(from(both(), "111122223333"), &s, &own);
        assert_eq!(home.action, reconcile(&["home"]));
        let only_member = decision("DeleteRole", reconcile(&["member"]));
        let dropped = route_by_account(from(only_member, "555566667777"), &s, &own);
        assert_eq!(dropped.action, Action::Acknowledge);
        assert!(
            dropped.reason.contains("555566667777"),
            "{}",
            dropped.reason
        );
    }

    #[test]
    fn a_role_event_keeps_clusters_without_a_role_while_our_own_account_is_unknown() {
        let s = settings("");
        let both = || decision("CreateRole", reconcile(&["home", "member"]));
        let unknown = known(None, None);
        let member = route_by_account(from(both(), "222233334444"), &s, &unknown);
        assert_eq!(member.action, reconcile(&["home", "member"]));
        let elsewhere = route_by_account(from(both(), "555566667777"), &s, &unknown);
        assert_eq!(elsewhere.action, reconcile(&["home"]));
    }

    #[test]
    fn user_and_group_events_matter_only_from_the_synced_iam_account() {
        let s = settings("iam: {assumeRoleArn: 'arn:aws:iam::111122223333:role/reader'}\n");
        let accounts = known(None, Some("111122223333"));
        let event = || decision("DeleteGroup", reconcile(&["home", "member"]));
        let synced = route_by_account(from(event(), "111122223333"), &s, &accounts);
        assert_eq!(synced.action, reconcile(&["home", "member"]));
        let other = route_by_account(from(event(), "222233334444"), &s, &accounts);
        assert_eq!(other.action, Action::Acknowledge);
        assert!(other.reason.contains("synced from account 111122223333"));
    }

    #[test]
    fn without_iam_assume_role_arn_the_synced_account_is_our_own() {
        let s = settings("");
        let own = known(Some("123456789012"), Some("123456789012"));
        let event = || decision("AddUserToGroup", reconcile(&["home", "member"]));
        let member = route_by_account(from(event(), "222233334444"), &s, &own);
        assert_eq!(member.action, Action::Acknowledge);
        assert!(
            member
                .reason
                .contains("comes from account 222233334444, but IAM users and groups are synced from account 123456789012"),
            "{}",
            member.reason
        );
        let home = route_by_account(from(event(), "123456789012"), &s, &own);
        assert_eq!(home, from(event(), "123456789012"));
    }

    #[test]
    fn without_a_known_synced_account_or_event_account_nothing_changes() {
        let s = settings("");
        let event = || decision("DeleteGroup", reconcile(&["home"]));
        assert_eq!(
            route_by_account(from(event(), "222233334444"), &s, &known(None, None)),
            from(event(), "222233334444")
        );
        let s = settings("iam: {assumeRoleArn: 'arn:aws:iam::111122223333:role/reader'}\n");
        let accounts = known(None, Some("111122223333"));
        assert_eq!(route_by_account(event(), &s, &accounts), event());
    }
}
