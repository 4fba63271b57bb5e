//! A ConfigMap body checked as the API server checks it: the name (a DNS subdomain), the data
//! keys, binaryData's base64, the 1 MiB limit, and that kind, apiVersion, namespace and name
//! fit the URL. It does not store anything (the store does).

use base64::Engine as _;
use serde_json::Value;

use crate::kube_status::{KubeError, MAX_CONFIGMAP_BYTES};

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn is_config_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 253
        && k != "."
        && k != ".."
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Checks a ConfigMap body as the API server's validation does.
pub(super) fn validate(obj: &Value) -> Result<(), KubeError> {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        return Err(KubeError::invalid(
            name,
            "metadata.name",
            "FieldValueRequired",
            "Required value: name or generateName is required",
        ));
    }
    if !is_dns_subdomain(name) {
        return Err(KubeError::invalid(
            name,
            "metadata.name",
            "FieldValueInvalid",
            &format!(
                "Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
            ),
        ));
    }
    let mut total = 0usize;
    for (field, decode) in [("data", false), ("binaryData", true)] {
        match &obj[field] {
            Value::Null => {}
            Value::Object(m) => {
                for (k, v) in m {
                    if !is_config_key(k) {
                        return Err(KubeError::invalid(
                            name,
                            &format!("{field}[{k}]"),
                            "FieldValueInvalid",
                            &format!(
                                "Invalid value: \"{k}\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
                            ),
                        ));
                    }
                    let Some(s) = v.as_str() else {
                        return Err(KubeError::bad_request(format!(
                            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal {v} into Go struct field ConfigMap.{field} of type string"
                        )));
                    };
                    let len = if decode {
                        base64::engine::general_purpose::STANDARD
                            .decode(s)
                            .map_err(|e| {
                                KubeError::bad_request(format!(
                                    "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: illegal base64 data in binaryData[{k}]: {e}"
                                ))
                            })?
                            .len()
                    } else {
                        s.len()
                    };
                    total += k.len() + len;
                }
            }
            other => {
                return Err(KubeError::bad_request(format!(
                    "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: {field} must be an object, got {other}"
                )));
            }
        }
    }
    if total > MAX_CONFIGMAP_BYTES {
        return Err(KubeError::invalid(
            name,
            "[]",
            "FieldValueTooLong",
            &format!("Too long: must have at most {MAX_CONFIGMAP_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Checks kind/apiVersion if given and that the body's name and namespace fit the URL.
pub(super) fn check_body(
    obj: &Value,
    namespace: &str,
    url_name: Option<&str>,
) -> Result<(), KubeError> {
    if !obj.is_object() {
        return Err(KubeError::bad_request(
            "the body of the request is not a JSON object",
        ));
    }
    for (field, want) in [("kind", "ConfigMap"), ("apiVersion", "v1")] {
        if let Some(got) = obj.get(field).and_then(Value::as_str)
            && got != want
        {
            return Err(KubeError::bad_request(format!(
                "the API version or kind in the request ({got}) does not match the ConfigMap v1 endpoint"
            )));
        }
    }
    if let Some(ns) = obj["metadata"]["namespace"].as_str()
        && !ns.is_empty()
        && ns != namespace
    {
        return Err(KubeError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if let Some(url_name) = url_name {
        let body_name = obj["metadata"]["name"].as_str().unwrap_or_default();
        if body_name != url_name {
            return Err(KubeError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({url_name})"
            )));
        }
    }
    Ok(())
}
