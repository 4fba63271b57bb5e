//! The planner's rules, one test each: ownership, shadowing, guards, idempotence, layout.

use eks_iam_sync::core::aws_auth::plan::{MappingChangeKind, Plan, PlanRequest, plan};
use eks_iam_sync::core::aws_auth::{
    AwsAuth, ConfigMapData, ItemValue, LEDGER_ANNOTATION, OwnershipRules, SectionName,
};
use eks_iam_sync::core::guards::{Guard, GuardSettings};
use eks_iam_sync::fixtures::{
    ACCOUNT, DesiredBuilder, aws_auth_data, managed_role, role_arn, user_arn,
};

fn run(current: Option<&ConfigMapData>, desired: &DesiredBuilder) -> Plan {
    run_with(current, desired, GuardSettings::default(), &[])
}

fn run_with(
    current: Option<&ConfigMapData>,
    desired: &DesiredBuilder,
    guards: GuardSettings,
    protected: &[String],
) -> Plan {
    plan(&PlanRequest {
        current,
        desired: &desired.0,
        guards,
        protected,
        ownership: &OwnershipRules::default(),
    })
}

fn written(plan: &Plan) -> &ConfigMapData {
    plan.write
        .as_ref()
        .unwrap_or_else(|| panic!("expected a write, got:\n{}", plan.describe()))
}

fn guards_of(plan: &Plan) -> Vec<Guard> {
    plan.refusals.iter().map(|r| r.guard).collect()
}

#[test]
fn creates_the_configmap_when_there_is_none() {
    let desired = DesiredBuilder::new()
        .named_role("admin", &["system:masters"])
        .account("012345678901");
    let plan = run(None, &desired);
    assert!(plan.creates);
    let data = &written(&plan).data;
    assert!(data["mapRoles"].contains("rolearn: arn:aws:iam::111122223333:role/admin"));
    assert_eq!(data["mapAccounts"], "- \"012345678901\"\n");
    assert!(
        !data.contains_key("mapUsers"),
        "sections we have nothing for are not invented"
    );
}

#[test]
fn nothing_desired_and_nothing_there_writes_nothing() {
    let plan = run(None, &DesiredBuilder::new());
    assert!(plan.write.is_none());
    assert!(plan.describe().contains("No changes"));
}

#[test]
fn unmanaged_entries_keep_their_bytes_when_managed_ones_change() {
    let human = "# owned by the platform team\n- rolearn:   arn:aws:iam::111122223333:role/Human   # spaced\n  username: 'human'\n  groups: [ \"system:masters\" ]\n";
    let cm = aws_auth_data(
        &format!("{human}{}", managed_role("old", &["viewers"])),
        "",
        "",
    );
    let plan = run(
        Some(&cm),
        &DesiredBuilder::new().named_role("new", &["editors"]),
    );
    let roles = &written(&plan).data["mapRoles"];
    assert!(
        roles.starts_with(human),
        "unmanaged bytes moved or changed:\n{roles}"
    );
    assert!(!roles.contains("role/old"));
    let kinds: Vec<_> = plan
        .changes
        .iter()
        .map(|c| (c.kind, c.key.clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (MappingChangeKind::Add, role_arn("new")),
            (MappingChangeKind::Remove, role_arn("old"))
        ]
    );
}

#[test]
fn a_desired_entry_already_mapped_by_an_unmanaged_one_is_skipped_with_a_warning() {
    let cm = aws_auth_data(
        "- rolearn: arn:aws:iam::111122223333:role/ops\n  username: hand-made\n  groups: [system:masters]\n",
        "",
        "",
    );
    let plan = run(
        Some(&cm),
        &DesiredBuilder::new().named_role("OPS", &["viewers"]),
    );
    assert!(plan.write.is_none(), "{}", plan.describe());
    assert_eq!(plan.skipped.len(), 1);
    let warning = plan
        .warnings
        .iter()
        .find(|w| w.contains("collides"))
        .expect("a warning naming both");
    assert!(
        warning.contains("role/OPS") && warning.contains("hand-made"),
        "{warning}"
    );
}

#[test]
fn changed_groups_are_a_change_with_the_difference_as_reason() {
    let cm = aws_auth_data(&managed_role("dev", &["viewers"]), "", "");
    let plan = run(
        Some(&cm),
        &DesiredBuilder::new().named_role("dev", &["editors"]),
    );
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].kind, MappingChangeKind::Change);
    assert!(
        plan.changes[0]
            .reason
            .starts_with("groups [viewers] → [editors]"),
        "{}",
        plan.changes[0].reason
    );
}

#[test]
fn steady_state_is_a_no_op_including_the_ledger() {
    let desired = DesiredBuilder::new()
        .named_role("dev", &["viewers"])
        .named_user("alice", &["editors"])
        .account("444455556666");
    let first = run(None, &desired);
    let second = run(Some(written(&first)), &desired);
    assert!(!second.has_changes(), "{}", second.describe());
    assert!(second.write.is_none());
}

#[test]
fn stripped_marks_are_recognised_through_the_ledger_and_restored() {
    let desired = DesiredBuilder::new()
        .named_role("dev", &["viewers"])
        .named_role("ci", &["deployers"]);
    let first = written(&run(None, &desired)).clone();
    // eksctl-style rewrite: the same entries through a struct, unknown keys gone.
    let mut stripped = first.clone();
    stripped.data.insert(
        "mapRoles".into(),
        format!("- rolearn: {}\n  username: ci\n  groups:\n  - deployers\n- rolearn: {}\n  username: dev\n  groups:\n  - viewers\n", role_arn("ci"), role_arn("dev")),
    );
    let plan = run(
        Some(&stripped),
        &DesiredBuilder::new().named_role("dev", &["viewers"]),
    );
    let kinds: Vec<_> = plan
        .changes
        .iter()
        .map(|c| (c.kind, c.key.clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (MappingChangeKind::Change, role_arn("dev")),
            (MappingChangeKind::Remove, role_arn("ci"))
        ],
        "{}",
        plan.describe()
    );
    assert!(written(&plan).data["mapRoles"].contains("managedBy: eks-iam-sync"));
}

#[test]
fn without_mark_or_ledger_nothing_is_ours() {
    let cm = aws_auth_data(
        &format!("- rolearn: {}\n  username: dev\n", role_arn("dev")),
        "",
        "",
    );
    let plan = run(Some(&cm), &DesiredBuilder::new());
    assert!(plan.changes.is_empty() && plan.write.is_none());
}

#[test]
fn the_ledger_records_what_we_own() {
    let plan = run(
        None,
        &DesiredBuilder::new()
            .named_role("dev", &[])
            .account("444455556666"),
    );
    let ledger = &written(&plan).annotations[LEDGER_ANNOTATION];
    assert!(
        ledger.contains("role/dev") && ledger.contains("444455556666"),
        "{ledger}"
    );
}

#[test]
fn unparsable_current_content_is_refused_and_names_the_section() {
    let cm = aws_auth_data("- rolearn: a\n  username: {{SessionName}}\n", "", "");
    let plan = run(Some(&cm), &DesiredBuilder::new().named_role("dev", &[]));
    assert_eq!(guards_of(&plan), [Guard::Unparsable]);
    assert!(plan.refusals[0].message.contains("data.mapRoles"));
    assert!(plan.write.is_none());
}

#[test]
fn a_masters_mapping_eks_never_matches_is_no_admin() {
    // A role ARN with a path never matches in aws-auth (EKS compares the path-less role ARN),
    // so alice is the last admin EKS would authorize: removing her is refused.
    let roles = format!(
        "{}- rolearn: arn:aws:iam::111122223333:role/team/Admin\n  username: admin\n  groups:\n    - system:masters\n",
        managed_role("alice", &["system:masters"])
    );
    let cm = aws_auth_data(&roles, "", "");
    let plan = run(Some(&cm), &DesiredBuilder::new());
    assert_eq!(
        guards_of(&plan),
        [Guard::LastClusterAdmin],
        "{}",
        plan.describe()
    );
    assert!(plan.refusals[0].message.contains("role/alice"));
    assert!(plan.write.is_none());
}

#[test]
fn removing_the_last_masters_mapping_is_refused() {
    let cm = aws_auth_data(&managed_role("admin", &["system:masters"]), "", "");
    let plan = run(Some(&cm), &DesiredBuilder::new());
    assert_eq!(guards_of(&plan), [Guard::LastClusterAdmin]);
    assert!(plan.refusals[0].message.contains("role/admin"));
}

#[test]
fn removing_a_node_role_is_refused() {
    let cm = aws_auth_data(
        &format!(
            "{}{}",
            managed_role("node", &["system:bootstrappers", "system:nodes"]),
            managed_role("admin", &["system:masters"])
        ),
        "",
        "",
    );
    let plan = run(
        Some(&cm),
        &DesiredBuilder::new().named_role("admin", &["system:masters"]),
    );
    assert_eq!(guards_of(&plan), [Guard::NodeRole]);
    assert!(plan.refusals[0].message.contains("role/node"));
}

#[test]
fn a_protected_principal_keeps_its_mapping() {
    let cm = aws_auth_data(
        &format!(
            "{}{}",
            managed_role("sync", &["system:masters"]),
            managed_role("admin", &["system:masters"])
        ),
        "",
        "",
    );
    let me = format!("arn:aws:sts::{ACCOUNT}:assumed-role/sync/lambda-session");
    let plan = run_with(
        Some(&cm),
        &DesiredBuilder::new().named_role("admin", &["system:masters"]),
        GuardSettings::default(),
        &[me],
    );
    assert_eq!(guards_of(&plan), [Guard::ProtectedPrincipal]);
    let plan = run_with(
        Some(&cm),
        &DesiredBuilder::new()
            .named_role("admin", &["system:masters"])
            .named_role("sync", &["viewers"]),
        GuardSettings::default(),
        &[role_arn("sync")],
    );
    assert_eq!(
        guards_of(&plan),
        [Guard::ProtectedPrincipal],
        "losing system:masters counts too"
    );
}

#[test]
fn mass_removal_is_refused_unless_allowed() {
    let roles: String = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|n| managed_role(n, &["viewers"]))
        .collect();
    let cm = aws_auth_data(&roles, "", "");
    let keep_two = DesiredBuilder::new()
        .named_role("a", &["viewers"])
        .named_role("b", &["viewers"]);
    let plan = run(Some(&cm), &keep_two);
    assert_eq!(guards_of(&plan), [Guard::MassRemoval]);
    assert!(
        plan.refusals[0].message.contains("3 of 5"),
        "{}",
        plan.refusals[0].message
    );
    let allowed = GuardSettings {
        allow_mass_removal: true,
        ..GuardSettings::default()
    };
    assert!(run_with(Some(&cm), &keep_two, allowed, &[]).write.is_some());
    // At the threshold (half) it is not "more than" the fraction.
    let cm4 = aws_auth_data(
        &roles
            .split("- rolearn")
            .skip(1)
            .take(4)
            .map(|e| format!("- rolearn{e}"))
            .collect::<String>(),
        "",
        "",
    );
    assert!(run(Some(&cm4), &keep_two).write.is_some());
}

#[test]
fn the_override_does_not_lift_the_other_guards() {
    let roles: String = ["a", "b", "c", "d"]
        .iter()
        .map(|n| managed_role(n, &["system:masters"]))
        .collect();
    let allowed = GuardSettings {
        allow_mass_removal: true,
        ..GuardSettings::default()
    };
    let plan = run_with(
        Some(&aws_auth_data(&roles, "", "")),
        &DesiredBuilder::new(),
        allowed,
        &[],
    );
    assert_eq!(guards_of(&plan), [Guard::LastClusterAdmin]);
}

#[test]
fn data_over_one_mebibyte_is_refused() {
    let mut desired = DesiredBuilder::new();
    for i in 0..9000 {
        desired = desired.named_user(
            &format!("user-with-a-rather-long-name-{i:05}"),
            &["group-one", "group-two", "group-three"],
        );
    }
    let plan = run(None, &desired);
    assert_eq!(guards_of(&plan), [Guard::SizeLimit]);
    assert!(plan.refusals[0].message.contains("1 MiB"));
}

#[test]
fn flow_and_crlf_sections_read_back_as_intended() {
    let cm = aws_auth_data(
        "[{\"rolearn\": \"arn:aws:iam::111122223333:role/json\", \"username\": \"j\"}]",
        "- userarn: arn:aws:iam::111122223333:user/x\r\n  username: x\r\n",
        "",
    );
    let plan = run(
        Some(&cm),
        &DesiredBuilder::new()
            .named_role("dev", &[])
            .named_user("bob", &[]),
    );
    let data = &written(&plan).data;
    assert!(data["mapRoles"].starts_with(
        "- {\"rolearn\": \"arn:aws:iam::111122223333:role/json\", \"username\": \"j\"}\n"
    ));
    assert!(
        data["mapUsers"].starts_with(
            "- userarn: arn:aws:iam::111122223333:user/x\r\n  username: x\r\n- userarn"
        )
    );
    let reread = AwsAuth::read(written(&plan)).unwrap();
    assert_eq!(reread.roles.items.len(), 2);
    assert_eq!(reread.users.items.len(), 2);
}

#[test]
fn managed_entries_are_written_in_a_stable_order() {
    let a = run(
        None,
        &DesiredBuilder::new()
            .named_role("zeta", &[])
            .named_role("alpha", &[]),
    );
    let b = run(
        None,
        &DesiredBuilder::new()
            .named_role("alpha", &[])
            .named_role("zeta", &[]),
    );
    assert_eq!(written(&a), written(&b));
    let roles = &written(&a).data["mapRoles"];
    assert!(roles.find("alpha").unwrap() < roles.find("zeta").unwrap());
}

#[test]
fn templates_and_yaml11_words_are_quoted_and_read_back() {
    let mut desired = DesiredBuilder::new();
    desired
        .0
        .add_role(
            "t",
            &role_arn("node"),
            "system:node:{{EC2PrivateDNSName}}",
            &["system:nodes".into()],
            "t",
        )
        .unwrap();
    desired
        .0
        .add_user(
            "t",
            &user_arn("no"),
            "no",
            &["on".into(), "012".into()],
            "t",
        )
        .unwrap();
    let plan = run(None, &desired);
    let data = &written(&plan).data;
    assert!(data["mapRoles"].contains("username: \"system:node:{{EC2PrivateDNSName}}\""));
    assert!(
        data["mapUsers"].contains("username: \"no\"")
            && data["mapUsers"].contains("- \"on\"")
            && data["mapUsers"].contains("- \"012\"")
    );
    let reread = AwsAuth::read(written(&plan)).unwrap();
    let ItemValue::Mapping(m) = &reread.users.items[0].value else {
        panic!()
    };
    assert_eq!(m.groups, ["on", "012"]);
}

#[test]
fn adopted_marks_make_entries_ours() {
    let cm = aws_auth_data(
        "",
        &format!(
            "- userarn: {}\n  username: old\n  groups:\n  - admins\n  syncedBy: iam-eks-user-mapper\n",
            user_arn("bob")
        ),
        "",
    );
    let rules = OwnershipRules {
        adopted_marks: vec![("syncedBy".into(), "iam-eks-user-mapper".into())],
    };
    let desired = DesiredBuilder::new().named_user("bob", &["admins"]);
    let plan = plan(&PlanRequest {
        current: Some(&cm),
        desired: &desired.0,
        guards: GuardSettings::default(),
        protected: &[],
        ownership: &rules,
    });
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].kind, MappingChangeKind::Change);
    assert!(written(&plan).data["mapUsers"].contains("managedBy: eks-iam-sync"));
    assert!(!written(&plan).data["mapUsers"].contains("syncedBy"));
}

#[test]
fn every_section_is_checked_for_the_managed_count() {
    let cm = aws_auth_data(&managed_role("a", &[]), "", "");
    let mut with_ledger = cm.clone();
    with_ledger.annotations.insert(
        LEDGER_ANNOTATION.into(),
        "{\"version\":1,\"mapAccounts\":[\"444455556666\"]}".into(),
    );
    with_ledger.data.insert(
        "mapAccounts".into(),
        "- \"444455556666\"\n- \"777788889999\"\n".into(),
    );
    let plan = run(
        Some(&with_ledger),
        &DesiredBuilder::new().named_role("a", &[]),
    );
    let removed: Vec<_> = plan
        .changes
        .iter()
        .filter(|c| c.kind == MappingChangeKind::Remove)
        .map(|c| (c.section, c.key.as_str()))
        .collect();
    assert_eq!(
        removed,
        [(SectionName::MapAccounts, "444455556666")],
        "only the account we own goes"
    );
    assert!(written(&plan).data["mapAccounts"].contains("777788889999"));
}

#[test]
fn the_plan_text_reads_as_a_diff_then_skips_warnings_and_refusals() {
    let hand = "- rolearn: arn:aws:iam::111122223333:role/ops\n  username: hand-made\n  groups: [system:masters]\n";
    let cm = aws_auth_data(
        &format!(
            "{hand}{}{}",
            managed_role("dev", &["viewers"]),
            managed_role("old", &["viewers"])
        ),
        "",
        "",
    );
    let desired = DesiredBuilder::new()
        .named_role("dev", &["editors"])
        .named_role("ops", &["viewers"])
        .named_user("alice", &["system:masters"])
        .account("444455556666");
    insta::assert_snapshot!("aws_auth_plan", run(Some(&cm), &desired).describe());
    let refused = run(
        Some(&aws_auth_data(
            &managed_role("admin", &["system:masters"]),
            "",
            "",
        )),
        &DesiredBuilder::new(),
    );
    insta::assert_snapshot!("aws_auth_plan_refused", refused.describe());
    insta::assert_snapshot!(
        "aws_auth_plan_no_changes",
        run(None, &DesiredBuilder::new()).describe()
    );
}

#[test]
fn a_shadowed_duplicate_does_not_count_as_the_remaining_admin() {
    // EKS reads the last duplicate: `ops` maps to viewers only, so `admin` is the last admin.
    let hand = "- rolearn: arn:aws:iam::111122223333:role/ops\n  username: ops\n  groups: [system:masters]\n- rolearn: arn:aws:iam::111122223333:role/ops\n  username: ops\n  groups: [viewers]\n";
    let cm = aws_auth_data(
        &format!("{hand}{}", managed_role("admin", &["system:masters"])),
        "",
        "",
    );
    let plan = run(Some(&cm), &DesiredBuilder::new());
    assert_eq!(guards_of(&plan), [Guard::LastClusterAdmin]);
    assert!(
        plan.refusals[0]
            .message
            .ends_with("held by mapRoles arn:aws:iam::111122223333:role/admin")
    );
}
