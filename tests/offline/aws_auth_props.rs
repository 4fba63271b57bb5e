//! Property tests for the invariants the product is sold on:
//! unmanaged entries survive byte for byte, rendering is idempotent, and the output always
//! re-reads to exactly the intended mappings. Reading never panics on any text.

use std::collections::BTreeMap;

use eks_iam_sync::core::aws_auth::plan::{PlanRequest, plan};
use eks_iam_sync::core::aws_auth::{
    AwsAuth, ConfigMapData, ItemValue, OwnershipRules, Section, SectionName,
};
use eks_iam_sync::core::desired::DesiredSet;
use eks_iam_sync::core::guards::GuardSettings;
use proptest::prelude::*;

const NAMES: &[&str] = &["alice", "Bob", "carol", "dave", "erin", "frank", "no", "on"];
const GROUPS: &[&str] = &[
    "system:masters",
    "viewers",
    "editors",
    "yes",
    "012",
    "system:nodes",
];

/// One hand-written (unmanaged) entry in one of the styles people use. Its comment and
/// blank lines lead the entry after it, and must travel with that entry.
#[derive(Debug, Clone)]
struct HandEntry {
    name: usize,
    groups: Vec<usize>,
    style: u8,
    comment: bool,
    blank_after: bool,
}

fn hand_entry() -> impl Strategy<Value = HandEntry> {
    (
        0..NAMES.len(),
        prop::collection::vec(0..GROUPS.len(), 0..3),
        0u8..4,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(name, groups, style, comment, blank_after)| HandEntry {
            name,
            groups,
            style,
            comment,
            blank_after,
        })
}

fn render_hand(section: SectionName, entry: &HandEntry, indent: &str) -> String {
    let kind = if section == SectionName::MapRoles {
        "role"
    } else {
        "user"
    };
    let key = section.arn_key().unwrap();
    let arn = format!("arn:aws:iam::111122223333:{kind}/{}", NAMES[entry.name]);
    let groups: Vec<String> = entry
        .groups
        .iter()
        .map(|g| format!("\"{}\"", GROUPS[*g]))
        .collect();
    let comment = if entry.comment {
        "  # hand-written"
    } else {
        ""
    };
    let body = match entry.style {
        0 => format!(
            "- {key}: {arn}{comment}\n  username: '{}'\n  groups: [{}]\n",
            NAMES[entry.name],
            groups.join(", ")
        ),
        1 => format!(
            "- {}: \"{arn}\"\n  UserName: \"{}\"{comment}\n  groups:\n{}",
            key.to_uppercase(),
            NAMES[entry.name],
            groups
                .iter()
                .map(|g| format!("  - {g}\n"))
                .collect::<String>()
        ),
        2 => format!(
            "- {{{key}: {arn}, username: \"{}\", groups: [{}]}}{comment}\n",
            NAMES[entry.name],
            groups.join(",")
        ),
        _ => format!(
            "-   {key}:    {arn}\n    username: \"x-{}\"\n    note: kept\n",
            NAMES[entry.name]
        ),
    };
    let mut text: String = body.lines().map(|l| format!("{indent}{l}\n")).collect();
    if entry.blank_after {
        text.push_str("\n# --\n");
    }
    text
}

#[derive(Debug, Clone)]
struct Scenario {
    roles: Vec<HandEntry>,
    users: Vec<HandEntry>,
    indent: bool,
    crlf: bool,
    first_desired: Vec<(bool, usize, Vec<usize>)>,
    second_desired: Vec<(bool, usize, Vec<usize>)>,
}

fn desired_entries() -> impl Strategy<Value = Vec<(bool, usize, Vec<usize>)>> {
    prop::collection::vec(
        (
            any::<bool>(),
            0..NAMES.len() + 4,
            prop::collection::vec(0..GROUPS.len(), 0..3),
        ),
        0..8,
    )
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(hand_entry(), 0..5),
        prop::collection::vec(hand_entry(), 0..5),
        any::<bool>(),
        any::<bool>(),
        desired_entries(),
        desired_entries(),
    )
        .prop_map(
            |(roles, users, indent, crlf, first_desired, second_desired)| Scenario {
                roles,
                users,
                indent,
                crlf,
                first_desired,
                second_desired,
            },
        )
}

fn desired(entries: &[(bool, usize, Vec<usize>)]) -> DesiredSet {
    let mut set = DesiredSet::default();
    for (is_role, name, groups) in entries {
        let name = NAMES
            .get(*name)
            .map_or_else(|| format!("managed-{name}"), |n| (*n).to_owned());
        let groups: Vec<String> = groups.iter().map(|g| GROUPS[*g].to_owned()).collect();
        // Conflicting duplicates are rejected by design; the first one stands.
        let _ = if *is_role {
            set.add_role(
                "p",
                &format!("arn:aws:iam::111122223333:role/{name}"),
                &name,
                &groups,
                "prop",
            )
        } else {
            set.add_user(
                "p",
                &format!("arn:aws:iam::111122223333:user/{name}"),
                &name,
                &groups,
                "prop",
            )
        };
    }
    set
}

fn initial(s: &Scenario) -> ConfigMapData {
    let indent = if s.indent { "  " } else { "" };
    let mut data = BTreeMap::new();
    for (section, entries) in [
        (SectionName::MapRoles, &s.roles),
        (SectionName::MapUsers, &s.users),
    ] {
        let mut text: String = entries
            .iter()
            .map(|e| render_hand(section, e, indent))
            .collect();
        if s.crlf {
            text = text.replace('\n', "\r\n");
        }
        data.insert(section.key().to_owned(), text);
    }
    ConfigMapData {
        data,
        annotations: BTreeMap::new(),
    }
}

fn run(current: &ConfigMapData, desired: &DesiredSet) -> eks_iam_sync::core::aws_auth::plan::Plan {
    plan(&PlanRequest {
        current: Some(current),
        desired,
        guards: GuardSettings {
            allow_mass_removal: true,
            ..GuardSettings::default()
        },
        protected: &[],
        ownership: &OwnershipRules::default(),
    })
}

fn unmanaged(data: &ConfigMapData, section: SectionName) -> Vec<(String, ItemValue)> {
    let aws_auth = AwsAuth::read(data).expect("readable");
    let s = aws_auth.section(section);
    let flags = OwnershipRules::default().managed_flags(s, aws_auth.ledger.as_ref());
    s.items
        .iter()
        .zip(flags)
        .filter(|(_, m)| !m)
        .map(|(i, _)| {
            (
                format!("{}{}", &s.text[i.lead.clone()], &s.text[i.bytes.clone()]),
                i.value.clone(),
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn unmanaged_bytes_survive_output_rereads_and_render_is_idempotent(s in scenario()) {
        let mut current = initial(&s);
        for entries in [&s.first_desired, &s.second_desired] {
            let desired = desired(entries);
            let plan = run(&current, &desired);
            let Some(written) = plan.write.clone() else {
                // No change, or a guard (last admin / node role) refused: nothing may be written.
                prop_assert!(!plan.has_changes() || plan.is_refused());
                continue;
            };
            for section in [SectionName::MapRoles, SectionName::MapUsers] {
                let before = unmanaged(&current, section);
                let text = written.data.get(section.key()).cloned().unwrap_or_default();
                // Byte for byte, in order.
                let mut from = 0;
                for (bytes, _) in &before {
                    let at = text[from..].find(bytes.as_str());
                    prop_assert!(at.is_some(), "unmanaged entry lost or altered in {section}:\n{bytes}\n--- in ---\n{text}");
                    from += at.unwrap() + bytes.len();
                }
                // Re-reads to exactly: the same unmanaged entries + the desired, unskipped ones.
                let after = unmanaged(&written, section);
                prop_assert_eq!(before.iter().map(|(_, v)| v).collect::<Vec<_>>(), after.iter().map(|(_, v)| v).collect::<Vec<_>>());
                let aws_auth = AwsAuth::read(&written).unwrap();
                let s2 = aws_auth.section(section);
                let flags = OwnershipRules::default().managed_flags(s2, aws_auth.ledger.as_ref());
                let managed: Vec<String> = s2.values().zip(flags).filter(|(_, m)| *m).map(|(v, _)| v.key().to_ascii_lowercase()).collect();
                let skipped: Vec<String> = plan.skipped.iter().filter(|k| k.section == section).map(|k| k.key.to_ascii_lowercase()).collect();
                let intended: Vec<String> = desired.mappings(section).iter().map(|d| d.arn.to_ascii_lowercase()).filter(|a| !skipped.contains(a)).collect();
                prop_assert_eq!(managed, intended);
            }
            // Idempotent: planning its own output with the same desired set changes nothing.
            let again = run(&written, &desired);
            prop_assert!(!again.has_changes(), "second run not a no-op:\n{}", again.describe());
            current = written;
        }
    }

    #[test]
    fn reading_never_panics(text in "\\PC{0,200}") {
        for name in SectionName::ALL {
            let _ = Section::parse(name, Some(&text));
        }
    }

    #[test]
    fn reading_yaml_like_text_never_panics(text in "([-: \\[\\]{},\"'#|>\n]|rolearn|groups|username|[a-z0-9]){0,120}") {
        for name in SectionName::ALL {
            let _ = Section::parse(name, Some(&text));
        }
    }
}
