//! The user-event path and the full reconcile agree: for random IAM states and one event
//! applied to them, planning from aws-auth with only that user's entry recomputed gives the
//! same managed entries as a full reconcile of the new state.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::config::from_text;
use crate::core::aws_auth::plan::{PlanRequest, plan};
use crate::core::aws_auth::{ConfigMapData, ItemValue};
use crate::core::desired::from_iam::{IamFacts, Member, desired_for_cluster};
use crate::core::guards::GuardSettings;

pub(super) const ACCOUNT: &str = "111122223333";
/// IAM's spelling of each user; events may spell them in another case.
pub(super) const USERS: [&str; 4] = ["alice", "Bob", "carol", "dave"];
pub(super) const GROUPS: [&str; 3] = ["admins", "Dev", "ops"];

pub(super) fn settings() -> Settings {
    from_text(
        "clusters:\n  - {name: prod, region: eu-west-3}\ngroups:\n  - {iamGroup: admins, kubernetesGroups: ['system:masters']}\n  - {iamGroup: Dev, kubernetesGroups: [devs], usernamePrefix: 'dev-', accessPolicies: [{policy: AmazonEKSViewPolicy, namespaces: [team]}]}\n  - {iamGroup: ops, kubernetesGroups: [ops, devs], accessPolicies: [{policy: AmazonEKSClusterAdminPolicy}]}\nusers:\n  - {arn: 'arn:aws:iam::111122223333:user/carol', username: carol-static, kubernetesGroups: [static]}\n",
        "test",
        None,
    )
    .unwrap()
}

pub(super) fn arn(user: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{user}")
}

/// Who exists in IAM and which groups each user is in (by index into [`GROUPS`]).
pub(super) type State = BTreeMap<&'static str, Option<BTreeSet<usize>>>;

#[derive(Debug, Clone)]
enum Event {
    Add(usize),
    Remove(usize),
    Delete,
}

pub(super) fn facts(state: &State) -> IamFacts {
    let mut group_members: BTreeMap<String, Option<Vec<Member>>> = GROUPS
        .iter()
        .map(|g| ((*g).to_owned(), Some(Vec::new())))
        .collect();
    for (user, groups) in state {
        for g in groups.iter().flatten() {
            if let Some(Some(members)) = group_members.get_mut(GROUPS[*g]) {
                members.push(Member {
                    name: (*user).to_owned(),
                    arn: arn(user),
                });
            }
        }
    }
    IamFacts {
        group_members,
        ..IamFacts::default()
    }
}

/// aws-auth after planning `desired` against `current` (unchanged when nothing is written).
pub(super) fn applied(current: &ConfigMapData, desired: &DesiredSet) -> ConfigMapData {
    let outcome = plan(&PlanRequest {
        current: Some(current),
        desired,
        guards: GuardSettings {
            allow_mass_removal: true,
            ..GuardSettings::default()
        },
        protected: &[],
        ownership: &OwnershipRules::default(),
    });
    outcome.write.unwrap_or_else(|| current.clone())
}

/// The managed mappings, comparable: (ARN lowercase, username, groups).
pub(super) fn mappings(data: &ConfigMapData) -> BTreeSet<(String, String, Vec<String>)> {
    let aws_auth = AwsAuth::read(data).unwrap();
    SectionName::ALL
        .into_iter()
        .flat_map(|name| aws_auth.section(name).values().cloned().collect::<Vec<_>>())
        .filter_map(|value| match value {
            ItemValue::Mapping(m) => Some((
                m.arn.to_ascii_lowercase(),
                m.username.unwrap_or_default(),
                m.groups,
            )),
            ItemValue::Account(_) => None,
        })
        .collect()
}

pub(super) fn state_strategy() -> impl Strategy<Value = State> {
    proptest::collection::vec(
        proptest::option::weighted(
            0.85,
            proptest::collection::btree_set(0..GROUPS.len(), 0..=3),
        ),
        USERS.len(),
    )
    .prop_map(|groups| USERS.into_iter().zip(groups).collect())
}

fn event_strategy() -> impl Strategy<Value = (usize, Event, bool)> {
    let event = prop_oneof![
        (0..GROUPS.len()).prop_map(Event::Add),
        (0..GROUPS.len()).prop_map(Event::Remove),
        Just(Event::Delete),
    ];
    (0..USERS.len(), event, any::<bool>())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_user_event_path_and_the_full_reconcile_agree(
        before in state_strategy(),
        (who, event, shout) in event_strategy(),
    ) {
        let settings = settings();
        let user = USERS[who];
        let mut after = before.clone();
        match (&event, after.get_mut(user).unwrap()) {
            (Event::Add(g), Some(groups)) => { groups.insert(*g); }
            (Event::Remove(g), Some(groups)) => { groups.remove(g); }
            (Event::Delete, slot) => *slot = None,
            (_, None) => return Ok(()), // IAM refuses changes to a user that does not exist
        }
        let empty = ConfigMapData::default();
        let (start, _) = desired_for_cluster(&settings, "prod", &facts(&before));
        let current = applied(&empty, &start);
        let (full, _) = desired_for_cluster(&settings, "prod", &facts(&after));
        let by_full = applied(&current, &full);

        // The event as CloudTrail spells it: the user name possibly in another case.
        let spelled = if shout { user.to_ascii_uppercase() } else { user.to_owned() };
        let groups = after[user]
            .as_ref()
            .map(|gs| gs.iter().map(|g| GROUPS[*g].to_owned()).collect::<Vec<_>>());
        let mut facts = UserFacts {
            user_name: spelled,
            account_id: Some(ACCOUNT.to_owned()),
            arn: None,
            groups,
        };
        let aws_auth = AwsAuth::read(&current).unwrap();
        let ownership = OwnershipRules::default();
        let found = desired_for_user_event(&settings, "prod", &aws_auth, &ownership, &facts)
            .or_else(|| {
                // The reconciler reads the ARN (GetUser) when no entry gives it.
                facts.arn = Some(arn(user));
                desired_for_user_event(&settings, "prod", &aws_auth, &ownership, &facts)
            });
        let (by_event, _) = found.expect("with the ARN known, the event path decides");
        let by_event = applied(&current, &by_event);
        prop_assert_eq!(mappings(&by_event), mappings(&by_full));
    }
}
