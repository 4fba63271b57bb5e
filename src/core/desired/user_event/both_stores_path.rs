//! Where EKS reads both stores (`API_AND_CONFIG_MAP`), a user event plans that user's aws-auth
//! mapping and access entry from aws-auth and the user's own entry
//! ([`plan_both_for_principal`]; `reconcile::both_stores`, issue 21). For random IAM states
//! before and after one user's change, with both stores in step with the state before (but
//! for other users' entries demoted by hand, which EKS uses over their aws-auth mapping):
//! - knowing every other entry, the event's plan makes the full reconcile's changes for that
//!   user, in each store, and no other; with no hand edit elsewhere (which a full reconcile
//!   repairs in the same run), the same verdict too;
//! - knowing only some of them, it never lets through what it would refuse knowing all (at
//!   worst it asks to read more: `needs_another_admin`).

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::tests::{ACCOUNT, GROUPS, State, USERS, applied, arn, facts, settings, state_strategy};
use super::*;
use crate::core::access_entries::{
    AccessPlanRequest, CurrentEntry, MANAGED_TAG, MANAGED_VALUE, principal_key, translate,
};
use crate::core::aws_auth::ConfigMapData;
use crate::core::aws_auth::plan::PlanRequest;
use crate::core::desired::from_iam::desired_for_cluster;
use crate::core::effective::Store;
use crate::core::effective::both::{
    BothPlan, BothRequest, PrincipalRead, plan_both, plan_both_for_principal,
};
use crate::core::guards::GuardSettings;

/// The access entries a full reconcile of `state` leaves (ours, tagged).
fn entries_for(state: &State) -> Vec<CurrentEntry> {
    let (desired, _) = desired_for_cluster(&settings(), "prod", &facts(state));
    translate(&desired, Some(ACCOUNT))
        .entries
        .into_values()
        .map(|e| CurrentEntry {
            principal_arn: e.principal_arn,
            entry_type: e.entry_type,
            username: e.username,
            groups: e.groups,
            tags: [(MANAGED_TAG.to_owned(), MANAGED_VALUE.to_owned())].into(),
            policies: e.policies,
            policies_unread: false,
            created_at: None,
        })
        .collect()
}

/// One store's changes that concern `key`, comparable: (store, kind, after).
fn changes_of(plan: &BothPlan, key: &str) -> Vec<String> {
    let aws_auth = (plan.aws_auth.changes.iter())
        .filter(|c| principal_key(&c.key) == key)
        .map(|c| format!("aws-auth {:?} {:?}", c.kind, c.after));
    let entries = (plan.access_entries.changes.iter())
        .filter(|c| principal_key(&c.principal_arn) == key)
        .map(|c| format!("entry {:?} {:?}", c.kind, c.after));
    aws_auth.chain(entries).collect()
}

fn all_keys(plan: &BothPlan) -> BTreeSet<String> {
    (plan.aws_auth.changes.iter().map(|c| principal_key(&c.key)))
        .chain((plan.access_entries.changes.iter()).map(|c| principal_key(&c.principal_arn)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_one_principal_plan_over_both_stores_is_the_full_reconciles(
        now in state_strategy(),
        who in 0..USERS.len(),
        before in proptest::option::weighted(0.85, proptest::collection::btree_set(0..GROUPS.len(), 0..=3)),
        known in proptest::collection::vec(any::<bool>(), USERS.len()),
        in_aws_auth in any::<bool>(),
        demoted in proptest::collection::vec(any::<bool>(), USERS.len()),
    ) {
        let settings = settings();
        let name = USERS[who];
        let mut prev = now.clone();
        prev.insert(name, before);
        // Both stores in step with the state before: aws-auth from the CONFIG_MAP days (or
        // empty), the access entries from a full run.
        let (prev_desired, _) = desired_for_cluster(&settings, "prod", &facts(&prev));
        let aws_auth = if in_aws_auth {
            applied(&ConfigMapData::default(), &prev_desired)
        } else {
            ConfigMapData::default()
        };
        // Some entries were demoted by hand: their aws-auth mapping may still say
        // system:masters, but EKS uses the entry.
        let mut entries = entries_for(&prev);
        for entry in &mut entries {
            let i = USERS.iter().position(|u| principal_key(&arn(u)) == principal_key(&entry.principal_arn));
            if i.is_some_and(|i| demoted[i] && i != who) {
                entry.policies.retain(|p| !crate::core::access_entries::model::is_cluster_admin(p));
            }
        }
        let guards = GuardSettings { allow_mass_removal: true, ..GuardSettings::default() };
        let ownership = OwnershipRules::default();
        let (full_desired, _) = desired_for_cluster(&settings, "prod", &facts(&now));
        let full = plan_both(&BothRequest {
            grants: Store::AccessEntries,
            aws_auth: PlanRequest { current: Some(&aws_auth), desired: &full_desired, guards, protected: &[], ownership: &ownership },
            access_entries: AccessPlanRequest { current: &entries, desired: &full_desired, cluster_account: Some(ACCOUNT), guards, protected: &[] },
        });

        // The event's read: ListGroupsForUser, then GetUser's ARN (or the configured one).
        let groups = now.get(name).cloned().flatten();
        let configured = settings.users.iter()
            .find(|u| u.arn.name().eq_ignore_ascii_case(name))
            .map(|u| u.arn.as_str().to_owned());
        let user = UserFacts {
            user_name: name.to_owned(),
            account_id: Some(ACCOUNT.to_owned()),
            arn: if groups.is_some() { Some(arn(name)) } else { configured },
            groups: groups.map(|g| g.iter().map(|i| GROUPS[*i].to_owned()).collect()),
        };
        let current = AwsAuth::read(&aws_auth).unwrap();
        let (aws_auth_desired, _) = desired_for_user_event(&settings, "prod", &current, &ownership, &user).unwrap();
        let empty = AwsAuth::read(&ConfigMapData::default()).unwrap();
        let (entry_desired, _) = desired_for_user_event(&settings, "prod", &empty, &ownership, &user).unwrap();
        let key = principal_key(&arn(name));
        let own: Vec<CurrentEntry> = entries.iter().filter(|e| principal_key(&e.principal_arn) == key).cloned().collect();
        let plan_with = |others: &[CurrentEntry], without: &BTreeSet<String>| plan_both_for_principal(
            &BothRequest {
                grants: Store::AccessEntries,
                aws_auth: PlanRequest { current: Some(&aws_auth), desired: &aws_auth_desired, guards, protected: &[], ownership: &ownership },
                access_entries: AccessPlanRequest { current: &own, desired: &entry_desired, cluster_account: Some(ACCOUNT), guards, protected: &[] },
            },
            PrincipalRead { others, without_entry: without },
        );
        let with_entry: BTreeSet<String> = entries.iter().map(|e| principal_key(&e.principal_arn)).collect();
        let everyone: BTreeSet<String> = USERS.iter().map(|u| principal_key(&arn(u))).collect();

        // Everything known.
        let others: Vec<CurrentEntry> = entries.iter().filter(|e| principal_key(&e.principal_arn) != key).cloned().collect();
        let without: BTreeSet<String> = everyone.difference(&with_entry).cloned().collect();
        let one = plan_with(&others, &without);
        prop_assert!(all_keys(&one).iter().all(|k| *k == key), "{}", one.describe());
        prop_assert_eq!(changes_of(&one, &key), changes_of(&full, &key), "{}\n---\n{}", one.describe(), full.describe());
        if !demoted.iter().enumerate().any(|(i, d)| *d && i != who) {
            prop_assert_eq!(one.is_refused(), full.is_refused(), "{}\n---\n{}", one.describe(), full.describe());
        }

        // Some known: never more permissive than the full view.
        let others: Vec<CurrentEntry> = others.into_iter()
            .filter(|e| USERS.iter().position(|u| principal_key(&arn(u)) == principal_key(&e.principal_arn)).is_some_and(|i| known[i]))
            .collect();
        let without: BTreeSet<String> = without.into_iter()
            .filter(|k| *k == key || USERS.iter().position(|u| principal_key(&arn(u)) == *k).is_some_and(|i| known[i]))
            .collect();
        let partial = plan_with(&others, &without);
        if one.is_refused() {
            prop_assert!(partial.is_refused(), "{}\n---\n{}", partial.describe(), one.describe());
        }
        prop_assert_eq!(changes_of(&partial, &key), changes_of(&one, &key));
    }
}
