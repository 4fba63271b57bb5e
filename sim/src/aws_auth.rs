//! Reading `kube-system/aws-auth` the way EKS does (aws-iam-authenticator's configmap
//! mapper, YAML 1.1 via go-yaml then encoding/json): `mapRoles`, `mapUsers`, `mapAccounts`
//! are YAML strings holding lists; entry keys match case-insensitively (last spelling
//! wins), top-level data keys do not; unknown entry keys are ignored; a section that fails
//! to parse is dropped whole; a scalar `groups` yields no groups; lookups compare ARNs
//! case-insensitively and the LAST duplicate wins.
//!
//! Written independently of the product (serde-saphyr into a generic value, not
//! granit-parser), so it catches the product's mistakes instead of sharing them. It does
//! not decide precedence against access entries; that is [`crate::identity`].

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// A YAML value with mapping order and duplicate keys kept.
#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Seq(Vec<Yaml>),
    Map(Vec<(Yaml, Yaml)>),
}

impl<'de> Deserialize<'de> for Yaml {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Yaml;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Yaml, E> {
                Ok(Yaml::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Yaml, E> {
                Ok(Yaml::Number(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Yaml, E> {
                Ok(Yaml::Number(v.to_string()))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Yaml, E> {
                Ok(Yaml::Number(v.to_string()))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Yaml, E> {
                Ok(Yaml::Number(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Yaml, E> {
                Ok(Yaml::Number(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Yaml, E> {
                Ok(Yaml::String(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Yaml, E> {
                Ok(Yaml::String(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Yaml, E> {
                Ok(Yaml::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Yaml, E> {
                Ok(Yaml::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Yaml, D::Error> {
                Yaml::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Yaml, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(Yaml::Seq(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Yaml, A::Error> {
                let mut v = Vec::new();
                while let Some(kv) = a.next_entry()? {
                    v.push(kv);
                }
                Ok(Yaml::Map(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses YAML text into a [`Yaml`] value, duplicates kept (go-yaml v2 accepts them).
pub fn parse_yaml(text: &str) -> Result<Yaml, String> {
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::PassThrough,
    };
    serde_saphyr::from_str_with_options::<Option<Yaml>>(text, options)
        .map(|v| v.unwrap_or(Yaml::Null))
        .map_err(|e| e.to_string())
}

/// One entry of mapRoles (`arn` = rolearn) or mapUsers (`arn` = userarn).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub arn: String,
    pub username: String,
    pub groups: Vec<String>,
}

/// Which sections were dropped, and why: what an operator would find in the
/// authenticator's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedSection {
    pub section: &'static str,
    pub reason: String,
}

/// aws-auth as EKS sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsAuth {
    pub roles: Vec<Mapping>,
    pub users: Vec<Mapping>,
    pub accounts: Vec<String>,
    pub dropped: Vec<DroppedSection>,
}

/// The value of the entry key matching `name` case-insensitively; the last spelling wins,
/// as encoding/json does.
fn field<'a>(entry: &'a [(Yaml, Yaml)], name: &str) -> Option<&'a Yaml> {
    entry
        .iter()
        .rev()
        .find(|(k, _)| matches!(k, Yaml::String(s) if s.eq_ignore_ascii_case(name)))
        .map(|(_, v)| v)
}

fn string_field(entry: &[(Yaml, Yaml)], name: &str) -> Result<String, String> {
    match field(entry, name) {
        None | Some(Yaml::Null) => Ok(String::new()),
        Some(Yaml::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!("{name}: cannot unmarshal {other:?} into a string")),
    }
}

fn groups_field(entry: &[(Yaml, Yaml)]) -> Result<Vec<String>, String> {
    match field(entry, "groups") {
        None | Some(Yaml::Null) => Ok(Vec::new()),
        // A scalar where a list belongs silently yields no groups.
        Some(Yaml::String(_) | Yaml::Bool(_) | Yaml::Number(_)) => Ok(Vec::new()),
        Some(Yaml::Seq(items)) => items
            .iter()
            .map(|g| match g {
                Yaml::String(s) => Ok(s.clone()),
                other => Err(format!("groups: cannot unmarshal {other:?} into a string")),
            })
            .collect(),
        Some(Yaml::Map(_)) => Err("groups: cannot unmarshal a mapping into a list".to_owned()),
    }
}

/// The list a section holds: a missing key, `""`, `''`, a quoted `""` and `[]` are empty.
fn section_items(text: &str) -> Result<Vec<Yaml>, String> {
    match parse_yaml(text)? {
        Yaml::Null => Ok(Vec::new()),
        Yaml::String(s) if s.is_empty() => Ok(Vec::new()),
        Yaml::Seq(items) => Ok(items),
        other => Err(format!("section is not a list: {other:?}")),
    }
}

fn parse_mappings(text: &str, arn_key: &str) -> Result<Vec<Mapping>, String> {
    section_items(text)?
        .iter()
        .map(|item| match item {
            Yaml::Map(entry) => Ok(Mapping {
                arn: string_field(entry, arn_key)?,
                username: string_field(entry, "username")?,
                groups: groups_field(entry)?,
            }),
            other => Err(format!("entry is not a mapping: {other:?}")),
        })
        .collect()
}

fn parse_accounts(text: &str) -> Result<Vec<String>, String> {
    section_items(text)?
        .iter()
        .map(|item| match item {
            Yaml::String(s) => Ok(s.clone()),
            other => Err(format!("account id is not a string: {other:?}")),
        })
        .collect()
}

impl AwsAuth {
    /// Reads the `data` of an aws-auth ConfigMap (`None` when it does not exist).
    pub fn read(data: Option<&serde_json::Map<String, serde_json::Value>>) -> Self {
        let mut out = Self::default();
        let Some(data) = data else { return out };
        let text = |key: &str| data.get(key).and_then(|v| v.as_str()).unwrap_or("");
        match parse_mappings(text("mapRoles"), "rolearn") {
            Ok(v) => out.roles = v,
            Err(reason) => out.dropped.push(DroppedSection {
                section: "mapRoles",
                reason,
            }),
        }
        match parse_mappings(text("mapUsers"), "userarn") {
            Ok(v) => out.users = v,
            Err(reason) => out.dropped.push(DroppedSection {
                section: "mapUsers",
                reason,
            }),
        }
        match parse_accounts(text("mapAccounts")) {
            Ok(v) => out.accounts = v,
            Err(reason) => out.dropped.push(DroppedSection {
                section: "mapAccounts",
                reason,
            }),
        }
        out
    }

    /// The mapping for a canonical role ARN; the last duplicate wins.
    pub fn role(&self, canonical_arn: &str) -> Option<&Mapping> {
        self.roles
            .iter()
            .rev()
            .find(|m| m.arn.eq_ignore_ascii_case(canonical_arn))
    }

    /// The mapping for a canonical user ARN; the last duplicate wins.
    pub fn user(&self, canonical_arn: &str) -> Option<&Mapping> {
        self.users
            .iter()
            .rev()
            .find(|m| m.arn.eq_ignore_ascii_case(canonical_arn))
    }

    /// Whether mapAccounts lists `account_id`.
    pub fn has_account(&self, account_id: &str) -> bool {
        self.accounts.iter().any(|a| a == account_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: serde_json::Value) -> AwsAuth {
        AwsAuth::read(v.as_object())
    }

    const R: &str = "arn:aws:iam::012345678901:role/Admin";

    #[test]
    fn keys_match_case_insensitively_and_unknown_keys_are_ignored() {
        let a = read(json!({"mapRoles": format!(
            "- roleARN: {R}\n  UsErNaMe: admin\n  GROUPS: [system:masters]\n  owner: me\n")}));
        let m = a.role(&R.to_uppercase()).unwrap();
        assert_eq!(m.username, "admin");
        assert_eq!(m.groups, vec!["system:masters"]);
    }

    #[test]
    fn top_level_data_keys_are_case_sensitive() {
        let a = read(json!({"maproles": format!("- rolearn: {R}\n  username: a\n")}));
        assert!(a.role(R).is_none());
    }

    #[test]
    fn a_broken_section_is_dropped_whole_and_others_survive() {
        let a = read(json!({
            "mapRoles": format!("- rolearn: {R}\n  username: {{{{SessionName}}}}\n"),
            "mapUsers": "- userarn: arn:aws:iam::012345678901:user/u\n  username: u\n",
        }));
        assert!(a.roles.is_empty());
        assert_eq!(a.dropped.len(), 1);
        assert_eq!(a.dropped[0].section, "mapRoles");
        assert!(a.user("arn:aws:iam::012345678901:user/u").is_some());
    }

    #[test]
    fn last_duplicate_wins() {
        let a = read(json!({"mapRoles": format!(
            "- rolearn: {R}\n  username: first\n- rolearn: {R}\n  username: second\n")}));
        assert_eq!(a.role(R).unwrap().username, "second");
    }

    #[test]
    fn empty_spellings_mean_empty_lists() {
        for v in ["", "''", "\"\"", "[]"] {
            let a = read(json!({"mapRoles": v, "mapUsers": v, "mapAccounts": v}));
            assert!(a.dropped.is_empty(), "{v:?}: {:?}", a.dropped);
        }
    }

    #[test]
    fn yaml_1_1_booleans_and_numbers_are_not_strings() {
        let a = read(json!({"mapRoles": format!("- rolearn: {R}\n  username: yes\n")}));
        assert!(a.roles.is_empty());
        let b = read(json!({"mapAccounts": "- 123456789012\n"}));
        assert_eq!(b.dropped[0].section, "mapAccounts");
        let c = read(json!({"mapAccounts": "- \"012345678901\"\n"}));
        assert!(c.has_account("012345678901"));
    }

    #[test]
    fn scalar_or_missing_groups_yield_no_groups() {
        let a = read(json!({"mapRoles": format!(
            "- rolearn: {R}\n  username: a\n  groups: system:masters\n")}));
        assert!(a.role(R).unwrap().groups.is_empty());
        let b = read(json!({"mapRoles": format!("- rolearn: {R}\n  username: a\n")}));
        assert!(b.role(R).unwrap().groups.is_empty());
    }
}
