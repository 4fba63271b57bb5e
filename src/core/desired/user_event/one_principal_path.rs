//! Where EKS reads access entries alone, a user event plans only that user's entry, from an
//! empty aws-auth (`reconcile::one_principal`; issue 21). For random IAM states, the access
//! entry it wants for the user (type, username, groups, policies) is exactly the one a full
//! reconcile of the same state wants, and it wants nothing for anyone else.

use proptest::prelude::*;

use super::tests::{ACCOUNT, GROUPS, USERS, arn, facts, settings, state_strategy};
use super::*;
use crate::core::access_entries::{Policy, principal_key, translate};
use crate::core::aws_auth::ConfigMapData;
use crate::core::desired::from_iam::desired_for_cluster;

type Wanted = (String, Option<String>, Vec<String>, Vec<Policy>);

fn wanted(set: &DesiredSet, key: &str) -> Option<Wanted> {
    translate(set, Some(ACCOUNT)).entries.get(key).map(|e| {
        (
            e.entry_type.clone(),
            e.username.clone(),
            e.groups.clone(),
            e.policies.clone(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_one_principal_entry_is_the_full_reconciles(
        state in state_strategy(),
        who in 0..USERS.len(),
        shout in any::<bool>(),
    ) {
        let settings = settings();
        let (full, _) = desired_for_cluster(&settings, "prod", &facts(&state));
        let iam_name = USERS[who];
        let groups = state.get(iam_name).cloned().flatten();
        // As the shell reads it: ListGroupsForUser (None: the user is gone), then GetUser's
        // ARN when the user exists, else the configured ARN (`users`), if any.
        let configured = settings
            .users
            .iter()
            .find(|u| u.arn.name().eq_ignore_ascii_case(iam_name))
            .map(|u| u.arn.as_str().to_owned());
        let user = UserFacts {
            user_name: if shout { iam_name.to_ascii_uppercase() } else { iam_name.to_owned() },
            account_id: Some(ACCOUNT.to_owned()),
            arn: if groups.is_some() { Some(arn(iam_name)) } else { configured },
            groups: groups.map(|g| g.iter().map(|i| GROUPS[*i].to_owned()).collect()),
        };
        let empty = AwsAuth::read(&ConfigMapData::default()).unwrap();
        let (one, _) = desired_for_user_event(&settings, "prod", &empty, &OwnershipRules::default(), &user)
            .expect("the ARN is known whenever the user needs an entry");
        let key = principal_key(&arn(iam_name));
        prop_assert_eq!(wanted(&one, &key), wanted(&full, &key), "user {:?}", user);
        let others: Vec<String> = translate(&one, Some(ACCOUNT))
            .entries
            .into_keys()
            .filter(|k| *k != key)
            .collect();
        prop_assert!(others.is_empty(), "entries for others: {:?}", others);
    }
}
