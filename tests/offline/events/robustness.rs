//! Proptests: classification never panics, and IAM events never fail to classify.

use eks_iam_sync::events::classify;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::{iam_event, settings};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop_oneof![
            "[a-zA-Z_ -]{0,12}",
            Just("eks-admins".to_owned()),
            Just("AWSReservedSSO_AdministratorAccess_0123456789abcdef".to_owned()),
            Just("AddUserToGroup".to_owned()),
            Just("aws.iam".to_owned()),
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("detail-type".to_owned()),
                    Just("detail".to_owned()),
                    Just("source".to_owned()),
                    Just("action".to_owned()),
                    Just("clusters".to_owned()),
                    Just("eventName".to_owned()),
                    Just("requestParameters".to_owned()),
                    Just("errorCode".to_owned()),
                    Just("userName".to_owned()),
                    Just("groupName".to_owned()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn classification_never_panics_on_arbitrary_json(payload in arb_json()) {
        let _ = classify(&payload, &settings());
    }

    #[test]
    fn iam_events_with_arbitrary_names_and_parameters_never_fail(
        name in prop_oneof![
            Just("AddUserToGroup"), Just("RemoveUserFromGroup"), Just("CreateUser"), Just("DeleteUser"),
            Just("UpdateUser"), Just("CreateGroup"), Just("DeleteGroup"), Just("UpdateGroup"),
            Just("CreateRole"), Just("DeleteRole"), Just("TagUser"), Just("Other"),
        ],
        params in arb_json(),
    ) {
        let d = classify(&iam_event(name, params), &settings());
        prop_assert!(d.is_ok());
        prop_assert!(!d.unwrap().reason.is_empty());
    }
}
