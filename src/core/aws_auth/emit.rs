//! Writing a section back: unmanaged entries as their original bytes, managed entries
//! generated fresh, and a re-read of the result to prove it means what we intended.
//!
//! Generated scalars are quoted whenever YAML 1.1 (EKS's reader) could read them as anything
//! but the same string: booleans like `no`/`on`, numbers and account ids, `~`, templates
//! (`{{SessionName}}` unquoted is a flow mapping), and anything with an indicator character.

use std::borrow::Cow;

use super::section::{ItemValue, Layout, Mapping, Section, SectionName};

/// Why a section could not be rewritten safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    #[error(
        "data.{0} is laid out so that its entries cannot be separated line by line; refusing to rewrite it (reformat it as one `- ` entry per line)"
    )]
    Irregular(SectionName),
    #[error(
        "internal check failed: rewritten data.{section} would not read back as intended ({detail}); nothing was written"
    )]
    ReadBack {
        section: SectionName,
        detail: String,
    },
}

/// Formats a scalar for YAML 1.1 readers: plain when unambiguous, else double-quoted.
pub fn scalar(text: &str) -> Cow<'_, str> {
    if is_safe_plain(text) {
        Cow::Borrowed(text)
    } else {
        // A JSON string is a valid YAML double-quoted scalar with the same value.
        Cow::Owned(serde_json::Value::String(text.to_owned()).to_string())
    }
}

fn is_safe_plain(text: &str) -> bool {
    const YAML11_SPECIAL: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
        "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~", "=",
        "<<",
    ];
    let Some(first) = text.chars().next() else {
        return false;
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._/@:=+-".contains(c);
    first.is_ascii_alphabetic()
        && text.chars().all(allowed)
        && !text.ends_with(':')
        && !YAML11_SPECIAL.contains(&text)
}

/// The YAML lines of one generated entry, at column 0, `\n`-terminated.
pub fn entry_text(section: SectionName, value: &ItemValue) -> String {
    let mut out = String::new();
    write_entry(&mut out, section, value, "", "\n");
    out
}

/// Appends one generated entry to `out`: each line led by `pad` and ended by `newline`.
fn write_entry(
    out: &mut String,
    section: SectionName,
    value: &ItemValue,
    pad: &str,
    newline: &str,
) {
    let mut line = |parts: &[&str]| {
        out.push_str(pad);
        for part in parts {
            out.push_str(part);
        }
        out.push_str(newline);
    };
    match value {
        ItemValue::Account(account) => line(&["- ", &scalar(account)]),
        ItemValue::Mapping(Mapping {
            arn,
            username,
            groups,
            extra,
        }) => {
            let arn_key = section.arn_key().unwrap_or("rolearn");
            line(&["- ", arn_key, ": ", &scalar(arn)]);
            if let Some(username) = username {
                line(&["  username: ", &scalar(username)]);
            }
            if groups.is_empty() {
                line(&["  groups: []"]);
            } else {
                line(&["  groups:"]);
                for group in groups {
                    line(&["    - ", &scalar(group)]);
                }
            }
            for (key, value) in extra {
                line(&["  ", &scalar(key), ": ", &scalar(value)]);
            }
        }
    }
}

/// Rewrites `section`, keeping the items where `keep` is true byte for byte and appending
/// `generated` entries, then re-reads the result and checks it holds exactly
/// kept + generated. Returns the new section text.
pub fn rewrite(
    section: &Section,
    keep: &[bool],
    generated: &[ItemValue],
) -> Result<String, EmitError> {
    let newline = if section.uses_crlf() { "\r\n" } else { "\n" };
    let text = &section.text;
    let mut out = String::with_capacity(text.len() + generated.len() * 128);
    let indent = match section.layout {
        Layout::Irregular => return Err(EmitError::Irregular(section.name)),
        Layout::Block { indent } => {
            out.push_str(&text[section.prefix.clone()]);
            for (item, _) in section.items.iter().zip(keep).filter(|(_, k)| **k) {
                out.push_str(&text[item.lead.clone()]);
                out.push_str(&text[item.bytes.clone()]);
            }
            indent
        }
        Layout::Flow => {
            out.push_str(&text[section.prefix.clone()]);
            ensure_line_end(&mut out, newline);
            for (item, _) in section.items.iter().zip(keep).filter(|(_, k)| **k) {
                // Continuation lines of a flow entry move two columns right, inside the `- `.
                let continued = text[item.bytes.clone()].replace('\n', "\n  ");
                out.push_str(&format!("- {continued}{newline}"));
            }
            0
        }
        Layout::Empty => {
            out.push_str(&text[section.prefix.clone()]);
            0
        }
    };
    if !generated.is_empty() {
        ensure_line_end(&mut out, newline);
        let pad = " ".repeat(indent);
        for value in generated {
            write_entry(&mut out, section.name, value, &pad, newline);
        }
    }
    out.push_str(&text[section.suffix.clone()]);
    let expected: Vec<&ItemValue> = section
        .items
        .iter()
        .zip(keep)
        .filter(|(_, k)| **k)
        .map(|(i, _)| &i.value)
        .chain(generated)
        .collect();
    let reread = Section::parse(section.name, Some(&out)).map_err(|e| EmitError::ReadBack {
        section: section.name,
        detail: e.to_string(),
    })?;
    let actual: Vec<&ItemValue> = reread.values().collect();
    if actual != expected {
        return Err(EmitError::ReadBack {
            section: section.name,
            detail: format!(
                "{} entries read back, {} intended",
                actual.len(),
                expected.len()
            ),
        });
    }
    Ok(out)
}

fn ensure_line_end(out: &mut String, newline: &str) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(newline);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(arn: &str, username: &str, groups: &[&str]) -> ItemValue {
        ItemValue::Mapping(Mapping {
            arn: arn.to_owned(),
            username: Some(username.to_owned()),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            extra: vec![("managedBy".to_owned(), "eks-iam-sync".to_owned())],
        })
    }

    #[test]
    fn yaml11_ambiguous_scalars_are_quoted() {
        for s in [
            "no",
            "on",
            "Yes",
            "~",
            "012345678901",
            "1.5",
            "",
            "{{SessionName}}",
            "a b",
            "-x",
            "x:",
            "system:node:{{EC2PrivateDNSName}}",
        ] {
            assert!(scalar(s).starts_with('"'), "{s:?} should be quoted");
        }
        for s in [
            "system:masters",
            "arn:aws:iam::111122223333:role/admin",
            "alice",
            "ops-team",
        ] {
            assert_eq!(scalar(s), s, "{s:?} should stay plain");
        }
    }

    #[test]
    fn generated_entries_are_stable_and_marked() {
        let text = entry_text(
            SectionName::MapRoles,
            &mapping("arn:aws:iam::111122223333:role/a", "a", &["x", "y"]),
        );
        assert_eq!(
            text,
            "- rolearn: arn:aws:iam::111122223333:role/a\n  username: a\n  groups:\n    - x\n    - \"y\"\n  managedBy: eks-iam-sync\n"
        );
    }

    #[test]
    fn rewrite_keeps_unmanaged_bytes_and_appends_generated() {
        let text = "# head\n- rolearn:   arn:aws:iam::1:role/keep   # odd spacing\n  username: 'k'\n\n- rolearn: drop\n";
        let section = Section::parse(SectionName::MapRoles, Some(text)).unwrap();
        let out = rewrite(
            &section,
            &[true, false],
            &[mapping("arn:aws:iam::111122223333:role/new", "no", &[])],
        )
        .unwrap();
        // The blank line led the dropped entry, so it went with it.
        assert!(
            out.starts_with("# head\n- rolearn:   arn:aws:iam::1:role/keep   # odd spacing\n  username: 'k'\n- rolearn: arn:aws:iam::111122223333:role/new\n"),
            "{out}"
        );
        assert!(out.contains("username: \"no\""));
        assert!(!out.contains("drop"));
    }

    #[test]
    fn rewrite_follows_indentation_and_crlf() {
        let text = "  - rolearn: a\r\n    username: a\r\n";
        let section = Section::parse(SectionName::MapRoles, Some(text)).unwrap();
        let out = rewrite(&section, &[true], &[mapping("b", "b", &["g"])]).unwrap();
        assert!(out.starts_with(text));
        assert!(
            out.contains("\r\n  - rolearn: b\r\n    username: b\r\n"),
            "{out:?}"
        );
    }

    #[test]
    fn flow_sections_become_block_lists_with_entries_verbatim() {
        let text = "[{\"rolearn\": \"a\", \"username\": \"a\"}, {\"rolearn\": \"b\"}]";
        let section = Section::parse(SectionName::MapRoles, Some(text)).unwrap();
        let out = rewrite(&section, &[true, false], &[mapping("c", "c", &[])]).unwrap();
        assert!(
            out.starts_with("- {\"rolearn\": \"a\", \"username\": \"a\"}\n- rolearn: c\n"),
            "{out}"
        );
    }

    #[test]
    fn irregular_sections_are_not_rewritten() {
        let section = Section::parse(
            SectionName::MapAccounts,
            Some("- \"111122223333\" \n- - x\n"),
        )
        .err();
        assert!(section.is_some(), "nested lists are not accounts");
    }

    #[test]
    fn accounts_are_written_quoted() {
        let section = Section::parse(SectionName::MapAccounts, None).unwrap();
        let out = rewrite(
            &section,
            &[],
            &[ItemValue::Account("012345678901".to_owned())],
        )
        .unwrap();
        assert_eq!(out, "- \"012345678901\"\n");
    }
}
