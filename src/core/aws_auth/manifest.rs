//! ConfigMap manifests as files: what `kubectl get cm aws-auth -o yaml|json` prints and what
//! `kubectl replace -f` takes.
//!
//! The object is kept whole (metadata, resourceVersion, fields we do not know) so that a
//! rendered manifest replaces exactly the object that was read. Only `data` and our ledger
//! annotation are ever changed. Data strings are written as YAML block literals when that
//! keeps every byte, and double-quoted otherwise (CRLF, trailing blanks, ...).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::ConfigMapData;

/// A ConfigMap manifest that could not be read; the message names the place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("not valid YAML: {0}")]
    Yaml(String),
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("{path} must be {expected}")]
    Shape {
        path: String,
        expected: &'static str,
    },
    #[error("holds {0} ConfigMap documents; give exactly one")]
    Several(usize),
}

/// A ConfigMap object.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    object: Map<String, Value>,
}

impl Manifest {
    /// A new, empty `kube-system/aws-auth`.
    pub fn new_aws_auth() -> Manifest {
        let Value::Object(object) = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "aws-auth", "namespace": "kube-system"},
        }) else {
            unreachable!("a JSON object literal")
        };
        Manifest { object }
    }

    /// Reads a manifest file (YAML, several documents allowed, or JSON; a `kind: List` is
    /// searched too). `Ok(None)` when it holds no ConfigMap at all.
    pub fn parse(text: &str) -> Result<Option<Manifest>, ManifestError> {
        let documents: Vec<Value> = if text.trim_start().starts_with('{') {
            vec![serde_json::from_str(text).map_err(|e| ManifestError::Json(e.to_string()))?]
        } else {
            serde_saphyr::from_multiple(text).map_err(|e| ManifestError::Yaml(e.to_string()))?
        };
        let mut found: Vec<Map<String, Value>> = Vec::new();
        for document in documents {
            collect_configmaps(document, &mut found);
        }
        match found.len() {
            0 => Ok(None),
            1 => {
                let manifest = Manifest {
                    object: found.remove(0),
                };
                manifest.data()?;
                manifest.annotations()?;
                Ok(Some(manifest))
            }
            n => Err(ManifestError::Several(n)),
        }
    }

    /// `namespace/name`, for messages.
    pub fn name(&self) -> String {
        let meta = self.object.get("metadata");
        let field = |k| {
            meta.and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .unwrap_or("?")
        };
        format!("{}/{}", field("namespace"), field("name"))
    }

    pub fn data(&self) -> Result<BTreeMap<String, String>, ManifestError> {
        string_map(self.object.get("data"), "data")
    }

    pub fn annotations(&self) -> Result<BTreeMap<String, String>, ManifestError> {
        string_map(
            self.object
                .get("metadata")
                .and_then(|m| m.get("annotations")),
            "metadata.annotations",
        )
    }

    /// The fields eks-iam-sync works on.
    pub fn config_map_data(&self) -> Result<ConfigMapData, ManifestError> {
        Ok(ConfigMapData {
            data: self.data()?,
            annotations: self.annotations()?,
        })
    }

    /// Replaces `data` and sets (or removes, with `None`) one annotation.
    pub fn with_changes(
        mut self,
        data: &BTreeMap<String, String>,
        annotation: (&str, Option<&str>),
    ) -> Manifest {
        self.object.insert("data".to_owned(), json!(data));
        let metadata = self.object.entry("metadata").or_insert_with(|| json!({}));
        if let Value::Object(metadata) = metadata {
            let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
            if let Value::Object(annotations) = annotations {
                match annotation.1 {
                    Some(value) => {
                        annotations.insert(annotation.0.to_owned(), json!(value));
                    }
                    None => {
                        annotations.remove(annotation.0);
                    }
                }
                if annotations.is_empty() {
                    metadata.remove("annotations");
                }
            }
        }
        self
    }

    /// The manifest as YAML (keys sorted, as kubectl prints them).
    pub fn to_yaml(&self) -> String {
        // The default options write multi-line strings as block literals where that is exact.
        serde_saphyr::to_string(&self.object)
            .unwrap_or_else(|e| unreachable!("a JSON object always serializes: {e}"))
    }
}

fn collect_configmaps(document: Value, found: &mut Vec<Map<String, Value>>) {
    let Value::Object(object) = document else {
        return;
    };
    match object.get("kind").and_then(Value::as_str) {
        Some("ConfigMap") => found.push(object),
        Some("List" | "ConfigMapList") => {
            if let Some(Value::Array(items)) = object.get("items") {
                for item in items.clone() {
                    collect_configmaps(item, found);
                }
            }
        }
        _ => {}
    }
}

fn string_map(
    value: Option<&Value>,
    path: &str,
) -> Result<BTreeMap<String, String>, ManifestError> {
    match value {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(ManifestError::Shape {
                    path: format!("{path}.{k}"),
                    expected: "a string (quote it)",
                }),
            })
            .collect(),
        Some(_) => Err(ManifestError::Shape {
            path: path.to_owned(),
            expected: "a mapping of strings",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECTL_YAML: &str = "apiVersion: v1\ndata:\n  mapRoles: |\n    - rolearn: arn:aws:iam::111122223333:role/node\n      username: system:node:{{EC2PrivateDNSName}}\n      groups:\n        - system:nodes\nkind: ConfigMap\nmetadata:\n  name: aws-auth\n  namespace: kube-system\n  resourceVersion: \"42\"\n";

    #[test]
    fn reads_kubectl_yaml() {
        let m = Manifest::parse(KUBECTL_YAML).unwrap().unwrap();
        assert_eq!(m.name(), "kube-system/aws-auth");
        assert!(
            m.data().unwrap()["mapRoles"]
                .starts_with("- rolearn: arn:aws:iam::111122223333:role/node\n")
        );
    }

    #[test]
    fn reads_json_and_lists_and_finds_nothing_in_other_kinds() {
        let json = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"aws-auth"},"data":{"mapUsers":"[]"}}"#;
        assert!(Manifest::parse(json).unwrap().is_some());
        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: aws-auth}\n";
        assert!(Manifest::parse(list).unwrap().is_some());
        assert_eq!(Manifest::parse("").unwrap(), None);
        assert_eq!(Manifest::parse("kind: Secret\n").unwrap(), None);
    }

    #[test]
    fn non_string_data_is_an_error_naming_the_key() {
        let err = Manifest::parse("kind: ConfigMap\ndata:\n  mapAccounts: 12\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "data.mapAccounts must be a string (quote it)"
        );
    }

    #[test]
    fn yaml_round_trip_keeps_data_bytes() {
        let m = Manifest::parse(KUBECTL_YAML).unwrap().unwrap();
        let mut data = m.data().unwrap();
        data.insert(
            "mapUsers".into(),
            "- userarn: a\r\n  username: \"no\"  \n".into(),
        );
        data.insert("mapAccounts".into(), "  - \"012345678901\"\n\n\n".into());
        let out = m.with_changes(&data, ("x/y", Some("{\"v\":1}")));
        let back = Manifest::parse(&out.to_yaml()).unwrap().unwrap();
        assert_eq!(back.data().unwrap(), data);
        assert_eq!(back.annotations().unwrap()["x/y"], "{\"v\":1}");
    }
}
