//! The plan for one principal's access entry: a user event on a cluster that grants through
//! access entries reads and changes only that principal's entry. The guards judge the change
//! against what was read of the other entries, and [`needs_another_admin`] says when that is
//! not enough: a removed or demoted cluster admin is safe to write only once another cluster
//! admin is found, so the caller reads further entries (stopping at the first admin) and
//! plans again. Entries read for the guards are never changed.
//!
//! Pure; `reconcile::one_principal` does the reads.

use super::model::CurrentEntry;
use super::plan::{AccessPlan, AccessPlanRequest, EntryWrites, plan_unguarded, proposal};
use crate::core::guards::{self, Guard, Phrasing};

/// Plans `request.current` (the principal's own entries) towards `request.desired` (that
/// principal's desired entry, or none), guarded against `others` as read so far.
pub fn plan_one(request: &AccessPlanRequest<'_>, others: &[CurrentEntry]) -> AccessPlan {
    let (mut plan, _) = plan_unguarded(request, EntryWrites::Sync);
    if plan.has_changes() {
        let read: Vec<CurrentEntry> = request.current.iter().chain(others).cloned().collect();
        plan.refusals.extend(guards::check(
            &proposal(&read, &plan.changes).proposed(Phrasing::AccessEntries),
            &request.guards,
            request.protected,
        ));
    }
    plan
}

/// Whether `plan` is refused because no other cluster admin is known: reading more of the
/// cluster's entries may find one and make the change safe.
pub fn needs_another_admin(plan: &AccessPlan) -> bool {
    plan.refusals
        .iter()
        .any(|r| r.guard == Guard::LastClusterAdmin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::access_entries::EntryChangeKind;
    use crate::core::guards::GuardSettings;
    use crate::fixtures::{
        ACCOUNT, DesiredBuilder, EntryBuilder, admin_policy, entry, view_policy,
    };

    const VIC: &str = "arn:aws:iam::111122223333:user/vic";
    const ANN: &str = "arn:aws:iam::111122223333:user/ann";
    const BOB: &str = "arn:aws:iam::111122223333:user/bob";
    const ME: &str = "arn:aws:iam::111122223333:role/eks-iam-sync";

    fn plan_for(
        current: &[CurrentEntry],
        want: &DesiredBuilder,
        others: &[CurrentEntry],
        protected: &[String],
    ) -> AccessPlan {
        plan_one(
            &AccessPlanRequest {
                current,
                desired: &want.0,
                cluster_account: Some(ACCOUNT),
                guards: GuardSettings::default(),
                protected,
            },
            others,
        )
    }

    fn kinds(plan: &AccessPlan) -> Vec<(EntryChangeKind, &str)> {
        plan.changes
            .iter()
            .map(|c| (c.kind, c.principal_arn.as_str()))
            .collect()
    }

    #[test]
    fn a_viewer_who_left_is_removed_without_reading_anyone_else() {
        let current = [entry(VIC, "vic", &[]).managed().with(view_policy())];
        let plan = plan_for(&current, &DesiredBuilder::new(), &[], &[]);
        assert_eq!(kinds(&plan), [(EntryChangeKind::Delete, VIC)]);
        assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
        assert!(!needs_another_admin(&plan));
    }

    #[test]
    fn a_new_member_is_granted_and_no_other_entry_is_touched() {
        // bob's managed entry was read (for the guards) and is not desired here: a one-user
        // plan never removes it.
        let others = [entry(BOB, "bob", &[]).managed().with(view_policy())];
        let want = DesiredBuilder::new().user(VIC, "vic", &["viewers"]);
        let plan = plan_for(&[], &want, &others, &[]);
        assert_eq!(kinds(&plan), [(EntryChangeKind::Create, VIC)]);
        assert!(plan.refusals.is_empty());
    }

    #[test]
    fn an_admin_who_left_needs_another_admin_found_first() {
        let current = [entry(VIC, "vic", &[]).managed().with(admin_policy())];
        let alone = plan_for(&current, &DesiredBuilder::new(), &[], &[]);
        assert!(needs_another_admin(&alone), "{:?}", alone.refusals);
        let viewer_only = [entry(BOB, "bob", &[]).with(view_policy())];
        assert!(needs_another_admin(&plan_for(
            &current,
            &DesiredBuilder::new(),
            &viewer_only,
            &[]
        )));
        let with_admin = [
            entry(BOB, "bob", &[]).with(view_policy()),
            entry(ANN, "ann", &[]).with(admin_policy()),
        ];
        let plan = plan_for(&current, &DesiredBuilder::new(), &with_admin, &[]);
        assert_eq!(kinds(&plan), [(EntryChangeKind::Delete, VIC)]);
        assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    }

    #[test]
    fn a_demoted_admin_is_judged_like_a_removed_one() {
        let current = [entry(VIC, "vic", &[]).managed().with(admin_policy())];
        let want = DesiredBuilder::new().user(VIC, "vic", &["viewers"]);
        let plan = plan_for(&current, &want, &[], &[]);
        assert!(needs_another_admin(&plan), "{:?}", plan.refusals);
        let others = [entry(ANN, "ann", &[]).with(admin_policy())];
        assert!(plan_for(&current, &want, &others, &[]).refusals.is_empty());
    }

    #[test]
    fn the_protected_identity_keeps_its_entry_whatever_else_is_read() {
        let current = [entry(ME, "me", &[]).managed().with(admin_policy())];
        let others = [entry(ANN, "ann", &[]).with(admin_policy())];
        let plan = plan_for(&current, &DesiredBuilder::new(), &others, &[ME.to_owned()]);
        assert!(
            plan.refusals
                .iter()
                .any(|r| r.guard == Guard::ProtectedPrincipal),
            "{:?}",
            plan.refusals
        );
        assert!(!needs_another_admin(&plan));
    }

    #[test]
    fn an_unmanaged_entry_of_the_principal_is_left_alone() {
        let current = [entry(VIC, "vic-by-hand", &[]).with(admin_policy())];
        let plan = plan_for(&current, &DesiredBuilder::new(), &[], &[]);
        assert!(plan.changes.is_empty());
        assert!(plan.refusals.is_empty());
    }
}
