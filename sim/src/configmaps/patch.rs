//! PATCH bodies: RFC 7386 JSON merge patch (also strategic merge, the same for ConfigMaps) and
//! RFC 6902 JSON patch with RFC 6901 pointers. They change a JSON value; the store judges the
//! result (validation, resourceVersion).

use serde_json::{Map, Value};

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().expect("just made an object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// A PATCH body, by content type.
#[derive(Debug, Clone, PartialEq)]
pub enum Patch {
    /// `application/merge-patch+json` (and strategic merge, the same for ConfigMaps).
    Merge(Value),
    /// `application/json-patch+json` (RFC 6902).
    Json(Value),
}

/// Resolves an RFC 6901 pointer to (parent, last token).
fn pointer_parent<'a>(root: &'a mut Value, path: &str) -> Result<(&'a mut Value, String), String> {
    let tokens: Vec<String> = path
        .strip_prefix('/')
        .ok_or_else(|| format!("path {path:?} does not start with /"))?
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let (last, parents) = tokens.split_last().expect("split yields one token");
    let mut cur = root;
    for t in parents {
        cur = match cur {
            Value::Object(m) => m.get_mut(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| format!("path {path:?} does not exist"))?;
    }
    Ok((cur, last.clone()))
}

fn pointer_remove(root: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, last) = pointer_parent(root, path)?;
    match parent {
        Value::Object(m) => m.remove(&last),
        Value::Array(a) => last
            .parse::<usize>()
            .ok()
            .filter(|i| *i < a.len())
            .map(|i| a.remove(i)),
        _ => None,
    }
    .ok_or_else(|| format!("path {path:?} does not exist"))
}

fn pointer_add(root: &mut Value, path: &str, value: Value, replace: bool) -> Result<(), String> {
    let (parent, last) = pointer_parent(root, path)?;
    match parent {
        Value::Object(m) => {
            if replace && !m.contains_key(&last) {
                return Err(format!("path {path:?} does not exist"));
            }
            m.insert(last, value);
        }
        Value::Array(a) => {
            let i = if last == "-" {
                a.len()
            } else {
                last.parse::<usize>()
                    .map_err(|_| format!("bad index in {path:?}"))?
            };
            if replace {
                *a.get_mut(i)
                    .ok_or_else(|| format!("path {path:?} does not exist"))? = value;
            } else if i <= a.len() {
                a.insert(i, value);
            } else {
                return Err(format!("index out of range in {path:?}"));
            }
        }
        _ => return Err(format!("path {path:?} has no container")),
    }
    Ok(())
}

/// RFC 6902 JSON patch: add, remove, replace, move, copy, test.
pub fn json_patch(target: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or("a JSON patch must be a list of operations")?;
    for op in ops {
        let path = op["path"].as_str().ok_or("operation without path")?;
        match op["op"].as_str() {
            Some("add") => pointer_add(target, path, op["value"].clone(), false)?,
            Some("replace") => pointer_add(target, path, op["value"].clone(), true)?,
            Some("remove") => {
                pointer_remove(target, path)?;
            }
            Some("test") => {
                if target.pointer(path) != Some(&op["value"]) {
                    return Err(format!("test of {path:?} failed"));
                }
            }
            Some(kind @ ("move" | "copy")) => {
                let from = op["from"].as_str().ok_or("move/copy without from")?;
                let v = if kind == "move" {
                    pointer_remove(target, from)?
                } else {
                    target
                        .pointer(from)
                        .cloned()
                        .ok_or_else(|| format!("path {from:?} does not exist"))?
                };
                pointer_add(target, path, v, false)?;
            }
            other => return Err(format!("unsupported operation {other:?}")),
        }
    }
    Ok(())
}
