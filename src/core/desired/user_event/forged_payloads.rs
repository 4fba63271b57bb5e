//! The payload is a hint, IAM is the truth (issue 20): any IAM event or `syncUser` work
//! message, mutated arbitrarily (another user's ARN in `responseElements` or `userArn`,
//! another account, junk fields, names in any case, users IAM does not know), never yields a
//! mapping that the full reconcile of the same IAM state would not.
//!
//! The shell is followed step by step: classify the payload (or read the work message), read
//! the user's groups from IAM, and ask IAM for the ARN (GetUser) only when the pure path says
//! it needs one.

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::tests::{
    ACCOUNT, GROUPS, State, USERS, applied, arn, facts, mappings, settings, state_strategy,
};
use super::*;
use crate::core::aws_auth::ConfigMapData;
use crate::core::desired::from_iam::desired_for_cluster;
use crate::events::{Action, UserSync, classify};
use crate::fleet::SyncUserBody;

const EVENT_NAMES: [&str; 5] = [
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "CreateUser",
    "DeleteUser",
    "UpdateUser",
];

/// ARNs an attacker would like mapped.
fn forged_arn() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(format!("arn:aws:iam::{ACCOUNT}:user/mallory"))),
        Just(json!(format!("arn:aws:iam::{ACCOUNT}:role/Admin"))),
        Just(json!("arn:aws:iam::999999999999:user/alice")),
        Just(json!(format!("arn:aws:iam::{ACCOUNT}:user/evil/carol"))),
        Just(Value::Null),
        Just(json!(17)),
    ]
}

/// A user name: IAM's users in any case, and names IAM does not know.
fn user_name() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            (0..USERS.len()).prop_map(|i| USERS[i].to_owned()),
            Just("mallory".to_owned()),
            Just(String::new()),
        ],
        any::<bool>(),
    )
        .prop_map(|(n, shout)| if shout { n.to_ascii_uppercase() } else { n })
}

fn account() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(Some(ACCOUNT.to_owned())),
        Just(Some("999999999999".to_owned())),
        Just(None),
    ]
}

fn group_name() -> impl Strategy<Value = String> {
    prop_oneof![
        (0..GROUPS.len()).prop_map(|i| GROUPS[i].to_owned()),
        Just("nope".to_owned()),
    ]
}

/// Junk added anywhere in the payload: `(where, key, value)`.
fn junk() -> impl Strategy<Value = Vec<(usize, String, Value)>> {
    proptest::collection::vec(
        (
            0..3usize,
            prop_oneof![
                Just("arn".to_owned()),
                Just("userArn".to_owned()),
                Just("user".to_owned()),
                "[a-zA-Z]{1,8}",
            ],
            prop_oneof![
                forged_arn(),
                forged_arn().prop_map(|a| json!({ "arn": a })),
                any::<i64>().prop_map(Value::from),
            ],
        ),
        0..4,
    )
}

/// A CloudTrail IAM event as EventBridge delivers it, with the forgeries in place.
fn event(
    name: &str,
    user: &str,
    group: &str,
    account: Option<&str>,
    response_arn: Value,
    junk: &[(usize, String, Value)],
) -> Value {
    let mut detail = json!({
        "eventSource": "iam.amazonaws.com",
        "eventName": name,
        "requestParameters": {"userName": user, "groupName": group, "newUserName": user},
        "responseElements": {"user": {"userName": user, "arn": response_arn}},
    });
    if let Some(account) = account {
        detail["recipientAccountId"] = json!(account);
    }
    let mut payload = json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.iam"});
    for (place, key, value) in junk {
        match place {
            0 => detail[key] = value.clone(),
            1 => detail["requestParameters"][key] = value.clone(),
            _ => detail["responseElements"][key] = value.clone(),
        }
    }
    payload["detail"] = detail;
    payload
}

/// A `syncUser` work message, with the forgeries in place.
fn work_message(
    user: &str,
    group: &str,
    account: Option<&str>,
    forged: Value,
    junk: &[(usize, String, Value)],
) -> Value {
    let mut body = json!({"action": "syncUser", "clusters": ["prod"], "userName": user,
        "expect": {"memberOf": group}});
    if let Some(account) = account {
        body["accountId"] = json!(account);
    }
    if !forged.is_null() {
        body["userArn"] = forged;
    }
    for (_, key, value) in junk {
        body[key] = value.clone();
    }
    body
}

/// What IAM says of `name` (case-insensitive, as IAM): its ARN and groups, or nothing.
fn iam_user(state: &State, name: &str) -> Option<(String, Vec<String>)> {
    let (user, groups) = state.iter().find(|(u, _)| u.eq_ignore_ascii_case(name))?;
    let groups = groups.as_ref()?;
    Some((
        arn(user),
        groups.iter().map(|g| GROUPS[*g].to_owned()).collect(),
    ))
}

/// The user-event path as the shell runs it; `None` when it maps nothing of its own (the
/// payload is refused, acknowledged or a full reconcile, or IAM does not know the user).
fn by_user_event(state: &State, sync: &UserSync, current: &ConfigMapData) -> Option<ConfigMapData> {
    let settings = settings();
    let iam = iam_user(state, &sync.user_name);
    let mut user = UserFacts {
        user_name: sync.user_name.clone(),
        account_id: sync.account_id.clone(),
        arn: sync.user_arn.clone(),
        groups: iam.as_ref().map(|(_, groups)| groups.clone()),
    };
    let aws_auth = AwsAuth::read(current).unwrap();
    let ownership = OwnershipRules::default();
    let found =
        desired_for_user_event(&settings, "prod", &aws_auth, &ownership, &user).or_else(|| {
            // GetUser: the ARN IAM gives, when the user is in the event's account.
            let (iam_arn, _) = iam?;
            let same_account = sync
                .account_id
                .as_deref()
                .is_none_or(|a| account_of(&iam_arn) == Some(a));
            if !same_account {
                return None;
            }
            user.arn = Some(iam_arn);
            desired_for_user_event(&settings, "prod", &aws_auth, &ownership, &user)
        });
    let (set, _) = found?;
    Some(applied(current, &set))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_payload_maps_what_the_full_reconcile_would_not(
        state in state_strategy(),
        name in 0..EVENT_NAMES.len(),
        user in user_name(),
        group in group_name(),
        account in account(),
        forged in forged_arn(),
        junk in junk(),
        as_message in any::<bool>(),
        start_empty in any::<bool>(),
    ) {
        let settings = settings();
        let (full, _) = desired_for_cluster(&settings, "prod", &facts(&state));
        let by_full = applied(&ConfigMapData::default(), &full);
        let allowed = mappings(&by_full);
        let current = if start_empty { ConfigMapData::default() } else { by_full.clone() };

        let sync = if as_message {
            match SyncUserBody::read(work_message(&user, &group, account.as_deref(), forged.clone(), &junk)) {
                Ok(body) => Some(body.into_user_sync(&settings)),
                Err(_) => None, // refused: nothing runs
            }
        } else {
            let payload = event(EVENT_NAMES[name], &user, &group, account.as_deref(), forged.clone(), &junk);
            match classify(&payload, &settings).map(|d| d.action) {
                Ok(Action::SyncUser(sync)) => Some(sync),
                _ => None, // acknowledged, refused, or a full reconcile (IAM's truth by definition)
            }
        };
        let Some(sync) = sync else { return Ok(()) };
        let Some(after) = by_user_event(&state, &sync, &current) else { return Ok(()) };
        let got = mappings(&after);
        let extra: BTreeSet<_> = got.difference(&allowed).collect();
        prop_assert!(extra.is_empty(), "mapped beyond IAM: {:?} (sync {:?})", extra, sync);
    }
}
