//! One cluster's ConfigMaps: create, get, list, replace, merge-patch and delete with the
//! API server's rules: `resourceVersion` optimistic concurrency (409 Conflict), 404,
//! AlreadyExists, 422 validation (names, keys, the 1 MiB limit, immutable), no-op updates
//! that keep the resourceVersion, and dry runs that validate without persisting.
//!
//! It knows nothing of HTTP or of who is calling; [`crate::kube_api`] does that.
//!
//! The store and its verbs are here; a PATCH body is applied by `patch` (RFC 7386 merge patch,
//! RFC 6902 JSON patch) and a body is checked by `validation` (the API server's rules).

mod patch;
mod validation;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::kube_status::KubeError;
use validation::{check_body, validate};

pub use patch::{Patch, json_patch, merge_patch};

/// The stored ConfigMaps of one cluster, by (namespace, name).
#[derive(Debug, Default, Clone)]
pub struct ConfigMapStore {
    objects: BTreeMap<(String, String), Value>,
    /// The last resourceVersion handed out (cluster-wide, like etcd's revision).
    revision: u64,
    uids: u64,
}

/// The fields a change is judged by (a PUT that changes none of them is a no-op).
fn content(obj: &Value) -> Value {
    json!([
        obj["data"],
        obj["binaryData"],
        obj["immutable"],
        obj["metadata"]["labels"],
        obj["metadata"]["annotations"],
        obj["metadata"]["finalizers"],
        obj["metadata"]["ownerReferences"],
    ])
}

impl ConfigMapStore {
    /// The current revision (a list's resourceVersion).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn get(&self, namespace: &str, name: &str) -> Result<Value, KubeError> {
        self.objects
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
            .ok_or_else(|| KubeError::not_found(name))
    }

    /// The `data` of a ConfigMap, if it exists.
    pub fn data(&self, namespace: &str, name: &str) -> Option<&Map<String, Value>> {
        self.objects
            .get(&(namespace.to_owned(), name.to_owned()))
            .and_then(|o| o["data"].as_object())
    }

    /// ConfigMaps in `namespace` (all namespaces when `None`), in name order.
    pub fn list(&self, namespace: Option<&str>) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((ns, _), _)| namespace.is_none_or(|n| n == ns))
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn stamp(&mut self, obj: &mut Value, namespace: &str, previous: Option<&Value>, dry_run: bool) {
        let meta = obj["metadata"].as_object_mut().expect("checked object");
        meta.insert("namespace".into(), json!(namespace));
        meta.remove("managedFields");
        match previous {
            Some(prev) => {
                meta.insert("uid".into(), prev["metadata"]["uid"].clone());
                meta.insert(
                    "creationTimestamp".into(),
                    prev["metadata"]["creationTimestamp"].clone(),
                );
            }
            None => {
                self.uids += u64::from(!dry_run);
                meta.insert(
                    "uid".into(),
                    json!(format!("00000000-0000-4000-8000-{:012x}", self.uids)),
                );
                meta.insert(
                    "creationTimestamp".into(),
                    json!(
                        jiff::Timestamp::now()
                            .strftime("%Y-%m-%dT%H:%M:%SZ")
                            .to_string()
                    ),
                );
            }
        }
        let rv = self.revision + 1;
        if !dry_run {
            self.revision = rv;
        }
        let meta = obj["metadata"].as_object_mut().expect("checked object");
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        let o = obj.as_object_mut().expect("checked object");
        o.insert("kind".into(), json!("ConfigMap"));
        o.insert("apiVersion".into(), json!("v1"));
    }

    pub fn create(
        &mut self,
        namespace: &str,
        mut obj: Value,
        dry_run: bool,
    ) -> Result<Value, KubeError> {
        check_body(&obj, namespace, None)?;
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        validate(&obj)?;
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let key = (namespace.to_owned(), name.clone());
        if self.objects.contains_key(&key) {
            return Err(KubeError::already_exists(&name));
        }
        obj["metadata"]
            .as_object_mut()
            .expect("object")
            .remove("resourceVersion");
        self.stamp(&mut obj, namespace, None, dry_run);
        if !dry_run {
            self.objects.insert(key, obj.clone());
        }
        Ok(obj)
    }

    /// PUT: `metadata.resourceVersion`, when given, must be the current one.
    pub fn replace(
        &mut self,
        namespace: &str,
        name: &str,
        mut obj: Value,
        dry_run: bool,
    ) -> Result<Value, KubeError> {
        check_body(&obj, namespace, Some(name))?;
        let key = (namespace.to_owned(), name.to_owned());
        let prev = self
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| KubeError::not_found(name))?;
        if let Some(rv) = obj["metadata"]
            .get("resourceVersion")
            .and_then(Value::as_str)
            && !rv.is_empty()
            && rv != prev["metadata"]["resourceVersion"]
        {
            return Err(KubeError::conflict(name));
        }
        self.write(key, prev, &mut obj, dry_run)?;
        Ok(obj)
    }

    /// PATCH with a merge patch (also used for strategic merge patches, identical for
    /// ConfigMap maps) or a JSON patch. A `metadata.resourceVersion` the patch sets is a
    /// precondition.
    pub fn patch(
        &mut self,
        namespace: &str,
        name: &str,
        patch: &Patch,
        dry_run: bool,
    ) -> Result<Value, KubeError> {
        let key = (namespace.to_owned(), name.to_owned());
        let prev = self
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| KubeError::not_found(name))?;
        let mut obj = prev.clone();
        match patch {
            Patch::Merge(p) => {
                if !p.is_object() {
                    return Err(KubeError::bad_request(
                        "a merge patch must be a JSON object",
                    ));
                }
                merge_patch(&mut obj, p);
            }
            Patch::Json(ops) => json_patch(&mut obj, ops).map_err(|e| {
                KubeError::invalid(
                    name,
                    "",
                    "FieldValueInvalid",
                    &format!("the JSON patch failed: {e}"),
                )
            })?,
        }
        if obj["metadata"]["resourceVersion"] != prev["metadata"]["resourceVersion"] {
            return Err(KubeError::conflict(name));
        }
        check_body(&obj, namespace, Some(name))?;
        self.write(key, prev, &mut obj, dry_run)?;
        Ok(obj)
    }

    fn write(
        &mut self,
        key: (String, String),
        prev: Value,
        obj: &mut Value,
        dry_run: bool,
    ) -> Result<(), KubeError> {
        validate(obj)?;
        if prev["immutable"] == json!(true)
            && (obj["data"] != prev["data"] || obj["binaryData"] != prev["binaryData"])
        {
            return Err(KubeError::invalid(
                &key.1,
                "data",
                "FieldValueForbidden",
                "Forbidden: field is immutable when `immutable` is set",
            ));
        }
        if content(obj) == content(&prev) {
            *obj = prev;
            return Ok(());
        }
        self.stamp(obj, &key.0, Some(&prev), dry_run);
        if !dry_run {
            self.objects.insert(key, obj.clone());
        }
        Ok(())
    }

    /// DELETE, with an optional resourceVersion precondition.
    pub fn delete(
        &mut self,
        namespace: &str,
        name: &str,
        precondition_rv: Option<&str>,
        dry_run: bool,
    ) -> Result<Value, KubeError> {
        let key = (namespace.to_owned(), name.to_owned());
        let prev = self
            .objects
            .get(&key)
            .ok_or_else(|| KubeError::not_found(name))?;
        if let Some(rv) = precondition_rv
            && rv != prev["metadata"]["resourceVersion"]
        {
            return Err(KubeError::conflict(name));
        }
        let uid = prev["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if !dry_run {
            self.objects.remove(&key);
            self.revision += 1;
        }
        Ok(crate::kube_status::deleted(name, &uid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube_status::MAX_CONFIGMAP_BYTES;

    fn cm(name: &str, data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
    }

    #[test]
    fn stale_resource_version_conflicts() {
        let mut s = ConfigMapStore::default();
        let created = s
            .create("kube-system", cm("aws-auth", json!({"a": "1"})), false)
            .unwrap();
        let mut stale = created.clone();
        s.patch(
            "kube-system",
            "aws-auth",
            &Patch::Merge(json!({"data": {"a": "2"}})),
            false,
        )
        .unwrap();
        stale["data"]["a"] = json!("3");
        assert_eq!(
            s.replace("kube-system", "aws-auth", stale, false)
                .unwrap_err()
                .reason,
            "Conflict"
        );
    }

    #[test]
    fn json_patch_ops_and_their_resource_version_test() {
        let mut s = ConfigMapStore::default();
        let c = s.create("ns", cm("x", json!({"a": "1"})), false).unwrap();
        let ops = json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": c["metadata"]["resourceVersion"]},
            {"op": "add", "path": "/data/b.c", "value": "2"},
            {"op": "replace", "path": "/data/a", "value": "3"},
        ]);
        let p = s
            .patch("ns", "x", &Patch::Json(ops.clone()), false)
            .unwrap();
        assert_eq!(p["data"], json!({"a": "3", "b.c": "2"}));
        let e = s.patch("ns", "x", &Patch::Json(ops), false).unwrap_err();
        assert_eq!(e.code, 422, "the test op sees the new resourceVersion");
        let bad = json!([{"op": "replace", "path": "/data/missing", "value": "x"}]);
        assert!(s.patch("ns", "x", &Patch::Json(bad), false).is_err());
    }

    #[test]
    fn dry_run_does_not_persist_or_bump() {
        let mut s = ConfigMapStore::default();
        s.create("ns", cm("x", json!({})), true).unwrap();
        assert_eq!(s.get("ns", "x").unwrap_err().code, 404);
        assert_eq!(s.revision(), 0);
    }

    #[test]
    fn over_one_mebibyte_is_invalid() {
        let mut s = ConfigMapStore::default();
        let big = "x".repeat(MAX_CONFIGMAP_BYTES);
        let e = s
            .create("ns", cm("x", json!({"k": big})), false)
            .unwrap_err();
        assert_eq!((e.code, e.reason), (422, "Invalid"));
    }

    #[test]
    fn unchanged_replace_keeps_resource_version() {
        let mut s = ConfigMapStore::default();
        let c = s.create("ns", cm("x", json!({"a": "1"})), false).unwrap();
        let r = s.replace("ns", "x", c.clone(), false).unwrap();
        assert_eq!(
            r["metadata"]["resourceVersion"],
            c["metadata"]["resourceVersion"]
        );
    }
}
