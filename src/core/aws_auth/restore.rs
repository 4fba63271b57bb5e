//! `restore`: aws-auth put back as a recorded run left it (issue 23), judged by the usual
//! guards. Pure: the current ConfigMap and the recorded one in, the entry-level diff, the
//! guards' refusals and the ConfigMap to write out.
//!
//! # Rules
//! - The write is the recorded data and annotations exactly (every entry, managed or not,
//!   bytes as recorded); nothing is merged.
//! - The recorded content must parse as EKS reads it (`unparsable-content` otherwise): a
//!   restore never writes what EKS would drop.
//! - Current content that does not parse is replaced (that is what a restore is for after a
//!   broken hand edit); the guards then take it as granting nothing, as EKS does.
//! - The guards judge the access EKS would grant before and after, as for any write:
//!   `last-cluster-admin`, `protected-principal`, `node-role`, `size-limit`. Mass removal is
//!   not asked: a restore is the operator's explicit choice of a whole state, shown entry by
//!   entry before it is applied.

use std::collections::BTreeMap;

use super::effective_mappings::EffectiveMappings;
use super::section::folded_key;
use super::{AwsAuth, ConfigMapData, ItemValue, SectionName};
use crate::core::effective::Store;
use crate::core::guards::{self, Guard, GuardSettings, Phrasing, Refusal, StoreProposal};
use crate::core::history::{ChangeKind, EntryState, PlannedChange};

/// What a restore would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestorePlan {
    /// Entry by entry, in section order: what the restore adds, removes or changes.
    pub changes: Vec<PlannedChange>,
    /// Only the annotations (such as the ownership ledger) differ.
    pub annotations_differ: bool,
    pub refusals: Vec<Refusal>,
    pub warnings: Vec<String>,
    /// The ConfigMap to write: `Some` only when something differs and no guard refused.
    pub write: Option<ConfigMapData>,
}

impl RestorePlan {
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty() || self.annotations_differ
    }
}

/// Plans putting `recorded` in place of `current` (`None`: aws-auth does not exist).
pub fn plan_restore(
    current: Option<&ConfigMapData>,
    recorded: &ConfigMapData,
    guards: &GuardSettings,
    protected: &[String],
) -> RestorePlan {
    let empty = ConfigMapData::default();
    let current_data = current.unwrap_or(&empty);
    let mut plan = RestorePlan::default();
    if current.is_some_and(|c| c == recorded) {
        return plan;
    }
    let after = match AwsAuth::read(recorded) {
        Ok(after) => after,
        Err(error) => {
            plan.refusals.push(Refusal {
                guard: Guard::Unparsable,
                message: format!("the recorded aws-auth does not parse ({error}); EKS would drop it, so it is not restored"),
            });
            return plan;
        }
    };
    let before = match AwsAuth::read(current_data) {
        Ok(before) => Some(before),
        Err(error) => {
            plan.warnings.push(format!(
                "the current aws-auth does not parse ({error}): EKS grants nothing from it now; the restore replaces it whole"
            ));
            None
        }
    };
    let effective = |aws_auth: Option<&AwsAuth>| {
        let mut effective = EffectiveMappings::default();
        if let Some(aws_auth) = aws_auth {
            for name in SectionName::ALL {
                effective
                    .0
                    .insert(name, aws_auth.section(name).values().cloned().collect());
            }
        }
        effective
    };
    let (before_view, after_view) = (effective(before.as_ref()), effective(Some(&after)));
    plan.changes = diff(&before_view, &after_view);
    plan.annotations_differ = current_data.annotations != recorded.annotations
        || (plan.changes.is_empty() && current_data.data != recorded.data);
    if !plan.has_changes() && current.is_some() {
        return plan;
    }
    let proposal = StoreProposal {
        before: before_view.access_view(protected),
        after: after_view.access_view(protected),
        managed_before: 0,
        removed: Vec::new(),
        data_size: Some(recorded.data.iter().map(|(k, v)| k.len() + v.len()).sum()),
    };
    let unguarded_mass = GuardSettings {
        allow_mass_removal: true,
        ..*guards
    };
    plan.refusals = guards::check(
        &proposal.proposed(Phrasing::AwsAuth),
        &unguarded_mass,
        protected,
    );
    if plan.refusals.is_empty() {
        plan.write = Some(recorded.clone());
    }
    plan
}

/// The entries that differ between two readings of aws-auth, keyed as EKS looks them up
/// (section and case-folded ARN or account; the last duplicate wins, as in EKS).
fn diff(before: &EffectiveMappings, after: &EffectiveMappings) -> Vec<PlannedChange> {
    let mut changes = Vec::new();
    for name in SectionName::ALL {
        let index = |effective: &EffectiveMappings| -> BTreeMap<String, ItemValue> {
            effective
                .0
                .get(&name)
                .into_iter()
                .flatten()
                .map(|v| (folded_key(v.key()).into_owned(), v.clone()))
                .collect()
        };
        let (old, new) = (index(before), index(after));
        for (key, value) in &new {
            match old.get(key) {
                None => changes.push(change(ChangeKind::Added, value, None, Some(value))),
                Some(was) if !same_grant(was, value) => {
                    changes.push(change(ChangeKind::Changed, value, Some(was), Some(value)));
                }
                Some(_) => {}
            }
        }
        for (key, value) in &old {
            if !new.contains_key(key) {
                changes.push(change(ChangeKind::Removed, value, Some(value), None));
            }
        }
    }
    changes
}

fn same_grant(a: &ItemValue, b: &ItemValue) -> bool {
    EntryState::of_item(a) == EntryState::of_item(b) && a.key() == b.key()
}

fn change(
    kind: ChangeKind,
    value: &ItemValue,
    before: Option<&ItemValue>,
    after: Option<&ItemValue>,
) -> PlannedChange {
    PlannedChange {
        store: Store::AwsAuth,
        change: kind,
        principal: value.key().to_owned(),
        before: before.map(EntryState::of_item),
        after: after.map(EntryState::of_item),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::111122223333:role/ops";
    const ALICE: &str = "arn:aws:iam::111122223333:user/alice";

    fn data(map_roles: &str, map_users: &str) -> ConfigMapData {
        let mut data = ConfigMapData::default();
        if !map_roles.is_empty() {
            data.data.insert("mapRoles".into(), map_roles.into());
        }
        if !map_users.is_empty() {
            data.data.insert("mapUsers".into(), map_users.into());
        }
        data
    }

    fn admin_role() -> String {
        format!("- rolearn: {ROLE}\n  username: ops\n  groups:\n    - system:masters\n")
    }

    fn alice(group: &str) -> String {
        format!("- userarn: {ALICE}\n  username: alice\n  groups:\n    - {group}\n")
    }

    #[test]
    fn a_wiped_aws_auth_is_put_back_byte_for_byte() {
        let recorded = data(&admin_role(), &alice("developers"));
        let wiped = data("", "");
        let plan = plan_restore(Some(&wiped), &recorded, &GuardSettings::default(), &[]);
        assert_eq!(plan.refusals, []);
        assert_eq!(plan.write.as_ref(), Some(&recorded));
        let kinds: Vec<(ChangeKind, &str)> = plan
            .changes
            .iter()
            .map(|c| (c.change, c.principal.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [(ChangeKind::Added, ROLE), (ChangeKind::Added, ALICE)]
        );
    }

    #[test]
    fn the_same_content_is_nothing_to_restore() {
        let recorded = data(&admin_role(), "");
        let plan = plan_restore(Some(&recorded), &recorded, &GuardSettings::default(), &[]);
        assert!(!plan.has_changes());
        assert_eq!(plan.write, None);
    }

    #[test]
    fn a_restore_that_drops_the_last_admin_is_refused() {
        let current = data(&admin_role(), &alice("developers"));
        let recorded = data("", &alice("developers"));
        let plan = plan_restore(Some(&current), &recorded, &GuardSettings::default(), &[]);
        assert_eq!(plan.write, None);
        assert!(
            plan.refusals
                .iter()
                .any(|r| r.guard == Guard::LastClusterAdmin),
            "{:?}",
            plan.refusals
        );
    }

    #[test]
    fn a_recorded_content_that_does_not_parse_is_refused() {
        let recorded = data("- rolearn: [unclosed\n", "");
        let plan = plan_restore(None, &recorded, &GuardSettings::default(), &[]);
        assert_eq!(plan.refusals[0].guard, Guard::Unparsable);
        assert_eq!(plan.write, None);
    }

    #[test]
    fn a_broken_current_content_is_replaced_with_a_warning() {
        let current = data("- rolearn: [unclosed\n", "");
        let recorded = data(&admin_role(), "");
        let plan = plan_restore(Some(&current), &recorded, &GuardSettings::default(), &[]);
        assert_eq!(plan.write.as_ref(), Some(&recorded));
        assert_eq!(plan.warnings.len(), 1);
    }

    #[test]
    fn a_changed_group_is_one_change_with_before_and_after() {
        let current = data(&admin_role(), &alice("view"));
        let recorded = data(&admin_role(), &alice("developers"));
        let plan = plan_restore(Some(&current), &recorded, &GuardSettings::default(), &[]);
        assert_eq!(plan.changes.len(), 1);
        let change = &plan.changes[0];
        assert_eq!(change.change, ChangeKind::Changed);
        assert_eq!(change.before.as_ref().unwrap().groups, ["view"]);
        assert_eq!(change.after.as_ref().unwrap().groups, ["developers"]);
    }
}
