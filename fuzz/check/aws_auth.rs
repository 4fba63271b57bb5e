//! The checks of the aws-auth fuzz target, shared by the libFuzzer target
//! (`fuzz_targets/aws_auth.rs`) and the corpus test that runs in CI (`tests/offline/fuzz_corpus.rs`):
//! one input through the aws-auth reader and writer (`Section::parse`, `AwsAuth::read`, the
//! planner and `emit::rewrite`, and the manifest reader).
//!
//! Input: one flag byte, then UTF-8 text split on NUL into mapRoles, mapUsers, mapAccounts
//! and the ledger annotation. A small desired set is derived from the input itself (the ARNs
//! and account ids it mentions, plus a few fixed ones), so the planner adds, changes, removes
//! and collides with what is there. Checked:
//! - nothing panics;
//! - unreadable content is refused, never written;
//! - a written result always re-reads, with every unmanaged entry's bytes kept in order
//!   (flow entries: verbatim behind `- `), untouched sections byte for byte, the same
//!   unmanaged values first, and a second plan on the result changes nothing.

use std::collections::BTreeMap;

use eks_iam_sync::core::aws_auth::manifest::Manifest;
use eks_iam_sync::core::aws_auth::plan::{PlanRequest, plan};
use eks_iam_sync::core::aws_auth::section::Layout;
use eks_iam_sync::core::aws_auth::{
    AwsAuth, ConfigMapData, LEDGER_ANNOTATION, OwnershipRules, Section, SectionName,
};
use eks_iam_sync::core::desired::DesiredSet;
use eks_iam_sync::core::guards::GuardSettings;

const FIXED: &[&str] = &[
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:iam::111122223333:role/admin",
    "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123",
];
const GROUPS: &[&str] = &["system:masters", "viewers", "no", "system:nodes", "012"];

/// Runs every check on one input; panics on a violation (libFuzzer and the tests report it).
pub fn check(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if flags & 0x80 != 0 {
        // The render command's input: a whole manifest, YAML or JSON.
        if let Ok(Some(manifest)) = Manifest::parse(text) {
            let _ = manifest.config_map_data();
            let _ = manifest.to_yaml();
        }
        return;
    }
    let mut parts = text.split('\0');
    let mut current = ConfigMapData::default();
    for name in SectionName::ALL {
        if let Some(part) = parts.next() {
            current.data.insert(name.key().to_owned(), part.to_owned());
        }
    }
    if let Some(ledger) = parts.next() {
        current
            .annotations
            .insert(LEDGER_ANNOTATION.to_owned(), ledger.to_owned());
    }
    for name in SectionName::ALL {
        let _ = Section::parse(name, current.data.get(name.key()).map(String::as_str));
    }

    let desired = desired_from(text, flags);
    let ownership = OwnershipRules {
        adopted_marks: if flags & 0x01 != 0 {
            vec![("syncedBy".to_owned(), "iam-eks-user-mapper".to_owned())]
        } else {
            Vec::new()
        },
    };
    let protected: Vec<String> = if flags & 0x02 != 0 {
        vec![FIXED[1].to_owned()]
    } else {
        Vec::new()
    };
    let guards = GuardSettings {
        allow_mass_removal: flags & 0x04 != 0,
        ..GuardSettings::default()
    };
    let run = |current: &ConfigMapData| {
        plan(&PlanRequest {
            current: Some(current),
            desired: &desired,
            guards,
            protected: &protected,
            ownership: &ownership,
        })
    };
    let first = run(&current);
    let _ = first.describe();
    let before = match AwsAuth::read(&current) {
        Ok(read) => read,
        Err(_) => {
            assert!(
                first.write.is_none() && first.is_refused(),
                "unreadable content must be refused, not written"
            );
            return;
        }
    };
    let Some(written) = &first.write else {
        return;
    };
    let after = AwsAuth::read(written).expect("a written aws-auth always re-reads");
    for name in SectionName::ALL {
        let old = before.section(name);
        let new = after.section(name);
        let (old_text, new_text) = (current.data.get(name.key()), written.data.get(name.key()));
        let changed = first.changes.iter().any(|c| c.section == name);
        if !changed {
            assert_eq!(
                old_text, new_text,
                "{name}: an unchanged section was rewritten"
            );
            continue;
        }
        let managed = ownership.managed_flags(old, before.ledger.as_ref());
        let kept: Vec<_> = old
            .items
            .iter()
            .zip(&managed)
            .filter(|(_, m)| !**m)
            .map(|(item, _)| item)
            .collect();
        // Bytes: each unmanaged entry's text, in order.
        let mut from = 0;
        for item in &kept {
            let fragment = match old.layout {
                Layout::Flow => old.text[item.bytes.clone()].replace('\n', "\n  "),
                _ => format!(
                    "{}{}",
                    &old.text[item.lead.clone()],
                    &old.text[item.bytes.clone()]
                ),
            };
            match new.text[from..].find(&fragment) {
                Some(at) => from += at + fragment.len(),
                None => panic!(
                    "{name}: unmanaged bytes {fragment:?} lost in {:?}",
                    new.text
                ),
            }
        }
        // Values: the unmanaged entries, unchanged and in order (a managed copy that a
        // colliding unmanaged entry holds in place may sit between them).
        let mut new_values = new.values();
        for item in &kept {
            assert!(
                new_values.any(|v| v == &item.value),
                "{name}: unmanaged entry {:?} changed or moved",
                item.value
            );
        }
    }
    let second = run(written);
    assert!(
        second.write.is_none() && !second.has_changes(),
        "not idempotent: {}",
        second.describe()
    );
}

/// A desired set from the input: ARNs and account ids it mentions, plus fixed ones, each
/// in or out and with groups picked by the input's bytes.
fn desired_from(text: &str, flags: u8) -> DesiredSet {
    let mut candidates: Vec<String> = FIXED.iter().map(|s| (*s).to_owned()).collect();
    let mut rest = text;
    while let Some(at) = rest.find("arn:") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || "\"',}]#\0".contains(c))
            .unwrap_or(tail.len());
        candidates.push(tail[..end].to_owned());
        rest = &tail[end.max(4)..];
        if candidates.len() > 24 {
            break;
        }
    }
    let accounts: Vec<&str> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|t| t.len() == 12)
        .take(4)
        .collect();
    let bytes = text.as_bytes();
    let pick = |i: usize| bytes.get(i * 7 % bytes.len().max(1)).copied().unwrap_or(0) ^ flags;
    let mut desired = DesiredSet::default();
    let mut seen = BTreeMap::new();
    for (i, arn) in candidates.iter().enumerate() {
        let b = pick(i);
        if b & 0x10 == 0 || seen.insert(arn.to_ascii_lowercase(), ()).is_some() {
            continue;
        }
        let groups: Vec<String> = (0..(b as usize >> 5) % 3)
            .map(|g| GROUPS[(b as usize + g) % GROUPS.len()].to_owned())
            .collect();
        let username = if b & 0x08 != 0 {
            "x:{{SessionName}}"
        } else {
            "fuzz"
        };
        let _ = if arn.contains(":role/") || arn.contains(":assumed-role/") {
            desired.add_role("fuzz", arn, username, &groups, "fuzz")
        } else {
            desired.add_user("fuzz", arn, username, &groups, "fuzz")
        };
    }
    for (i, account) in accounts.iter().enumerate() {
        if pick(i + 40) & 0x20 != 0 {
            let _ = desired.add_account("fuzz", account, "fuzz");
        }
    }
    desired
}
