//! aws-auth → access entries: what moves, what stays, and aws-auth without what moved.

use super::*;

#[test]
fn migration_removes_only_moved_managed_aws_auth_entries_keeping_the_rest_byte_for_byte() {
    let users = "# hand-written first\n- userarn: arn:aws:iam::111122223333:user/bob\n  username: bob   # keep me\n  groups: [x]\n- userarn: arn:aws:iam::111122223333:user/alice\n  username: alice\n  groups: [system:masters]\n  managedBy: eks-iam-sync\n- userarn: arn:aws:iam::111122223333:user/carol\n  username: carol\n  groups: [system:bootstrappers]\n  managedBy: eks-iam-sync\n";
    let current = ConfigMapData {
        data: BTreeMap::from([("mapUsers".to_owned(), users.to_owned())]),
        annotations: BTreeMap::new(),
    };
    let aws_auth = AwsAuth::read(&current).unwrap();
    let ownership = OwnershipRules::default();
    let (desired, warnings) = managed_aws_auth(&aws_auth, &ownership);
    assert!(warnings.is_empty());
    assert_eq!(desired.len(), 2);
    let moved = BTreeSet::from([ALICE.to_ascii_lowercase()]);
    let written = aws_auth_without(&current, &aws_auth, &ownership, &moved)
        .unwrap()
        .unwrap();
    let text = &written.data["mapUsers"];
    assert!(text.starts_with("# hand-written first\n- userarn: arn:aws:iam::111122223333:user/bob\n  username: bob   # keep me\n"), "{text}");
    assert!(
        !text.contains("user/alice") && text.contains("user/carol"),
        "{text}"
    );
    assert!(written.annotations[LEDGER_ANNOTATION].contains("carol"));
    assert!(!written.annotations[LEDGER_ANNOTATION].contains("alice"));
    let none = BTreeSet::new();
    assert_eq!(
        aws_auth_without(&current, &aws_auth, &ownership, &none),
        Ok(None)
    );
}

#[test]
fn migration_moves_what_translates_lists_the_rest_and_deletes_nothing() {
    let (want, current) = migration_scenario();
    let m = plan_migration(&AccessPlanRequest {
        current: &current,
        desired: &want.0,
        cluster_account: Some(ACCOUNT),
        guards: GuardSettings::default(),
        protected: &[],
    });
    assert_eq!(
        m.moving.iter().collect::<Vec<_>>(),
        [&ALICE.to_ascii_lowercase()]
    );
    assert_eq!(kinds(&m.access), [(EntryChangeKind::Create, ALICE)]);
    let cannot: Vec<&str> = m.cannot_move.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(cannot, [DEPLOY, BOB]);
    assert!(
        m.describe()
            .contains("cannot move arn:aws:iam::111122223333:user/bob: an unmanaged access entry")
    );
    let after = [entry(ALICE, "alice", &[]).managed().with(admin_policy())];
    let t = translate(&want.0, Some(ACCOUNT));
    let key = ALICE.to_ascii_lowercase();
    assert!(verified(&after, &key, &t.entries[&key]));
    assert!(!verified(
        &[entry(ALICE, "alice", &[]).managed()],
        &key,
        &t.entries[&key]
    ));
}
