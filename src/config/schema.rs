//! The configuration's JSON Schema, generated from the serde types of [`RawConfig`] (schemars
//! follows their `rename_all`, `deny_unknown_fields` and defaults), for editors and for the CI
//! of a configuration repository. `eks-iam-sync check-config --schema` prints it; the copy at
//! `config.schema.json` is checked to be current by `tests/check_config.rs`.
//!
//! It describes the shape (keys, types, enums), not every rule: names, ARNs, references
//! between clusters and mappings are `check-config`'s (see [`super::validate`]).

use super::RawConfig;

/// The schema as pretty-printed JSON, ending with a newline (the committed file's form).
pub fn schema_json() -> String {
    let mut schema = schemars::schema_for!(RawConfig);
    schema.insert("title".into(), "eks-iam-sync configuration".into());
    let mut text = serde_json::to_string_pretty(&sorted(schema.to_value())).unwrap_or_default();
    text.push('\n');
    text
}

/// `value` with every object's keys in sorted order, whether serde_json keeps insertion order
/// or not (its `preserve_order` feature is on in some builds of the workspace, off in others),
/// so the text is the same in every build.
fn sorted(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_follows_the_serde_attributes() {
        let schema: serde_json::Value = serde_json::from_str(&schema_json()).unwrap();
        assert_eq!(schema["additionalProperties"], false, "deny_unknown_fields");
        let properties = schema["properties"].as_object().unwrap();
        assert!(properties.contains_key("ssoPermissionSets"), "camelCase");
        assert!(!properties.contains_key("sso_permission_sets"));
        assert_eq!(schema.get("required"), None, "every key has a default");
        let backend = &schema["$defs"]["Backend"];
        let names: Vec<&str> = backend["enum"]
            .as_array()
            .map(|v| v.iter().filter_map(|n| n.as_str()).collect())
            .unwrap_or_default();
        assert!(
            names.contains(&"access-entries") || backend.to_string().contains("access-entries"),
            "kebab-case backend: {backend}"
        );
        assert_eq!(schema["$defs"]["AccountId"]["pattern"], "^[0-9]{12}$");
    }
}
