//! Fault injection and request counters. A fault rule matches requests by API (`kube` or
//! `eks`), optionally a cluster, and a verb (Kubernetes: get, list, create, update, patch,
//! delete, discovery; EKS: the operation name, e.g. CreateAccessEntry), and then answers
//! 400, 409, 429, 500 or 503, drops the connection, or only adds latency, for the next N matches
//! (`count`), a deterministic fraction of them (`fraction`), or every match. Counters
//! count every request received, per API, cluster and verb, faulted or not.
//!
//! Rendering an injected error is the API module's job; dropping the connection is
//! [`crate::server`]'s.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Which API a request or rule belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    Kube,
    Eks,
}

/// What an injected fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum FaultAction {
    /// Answer 400: the request itself is rejected (Kubernetes: BadRequest Status; EKS:
    /// InvalidParameterException, as EKS answers a principal it will not grant).
    #[serde(rename = "400")]
    Rejected,
    /// Answer 409 (Kubernetes: Conflict Status; EKS: ResourceInUseException).
    #[serde(rename = "409")]
    Conflict,
    /// Answer 429 (Kubernetes: TooManyRequests with Retry-After; EKS: ThrottlingException).
    #[serde(rename = "429")]
    Throttle,
    /// Answer 500 (Kubernetes: InternalError; EKS: ServerException).
    #[serde(rename = "500")]
    ServerError,
    /// Answer 503 (Kubernetes: ServiceUnavailable; EKS: ServiceUnavailableException).
    #[serde(rename = "503")]
    Unavailable,
    /// Close the connection without an answer.
    #[serde(rename = "drop")]
    Drop,
    /// No error: only the latency.
    #[default]
    #[serde(rename = "none")]
    None,
}

/// One fault rule (the JSON body of `POST /_sim/faults`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    pub api: Api,
    /// Kubernetes requests only: the cluster; all clusters when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The verb or EKS operation; any when absent or `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verb: Option<String>,
    #[serde(default)]
    pub action: FaultAction,
    /// Apply to the next N matching requests, then the rule is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Apply to this fraction (0..=1) of matching requests, spread evenly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraction: Option<f64>,
    /// Added delay before answering, when the rule applies.
    #[serde(default)]
    pub latency_ms: u64,
    /// Matching requests seen so far (for `fraction`).
    #[serde(default, skip_deserializing)]
    pub seen: u64,
}

/// A bad fault specification.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FaultSpecError {
    #[error(
        "fault {0:?}: expected API[/CLUSTER]:VERB:ACTION[:count=N][:fraction=F][:latency=MS] with API kube|eks and ACTION 400|409|429|500|503|drop|none"
    )]
    Format(String),
    #[error("fault {0:?}: fraction must be within 0..=1")]
    Fraction(String),
    #[error("fault {0:?}: count and fraction exclude each other")]
    CountAndFraction(String),
}

impl FaultRule {
    /// Parses the `--fault` flag form, e.g. `kube:update:409:count=2`,
    /// `eks:CreateAccessEntry:429:fraction=0.5`, `kube/prod:*:none:latency=200`.
    pub fn parse_spec(spec: &str) -> Result<Self, FaultSpecError> {
        let bad = || FaultSpecError::Format(spec.to_owned());
        let parts: Vec<&str> = spec.split(':').collect();
        if parts.len() < 3 {
            return Err(bad());
        }
        let (api, cluster) = match parts[0].split_once('/') {
            Some((a, c)) if !c.is_empty() => (a, Some(c.to_owned())),
            Some(_) => return Err(bad()),
            None => (parts[0], None),
        };
        let api = match api {
            "kube" => Api::Kube,
            "eks" => Api::Eks,
            _ => return Err(bad()),
        };
        let verb = (parts[1] != "*" && !parts[1].is_empty()).then(|| parts[1].to_owned());
        let action: FaultAction =
            serde_json::from_value(serde_json::Value::String(parts[2].to_owned()))
                .map_err(|_| bad())?;
        let mut rule = Self {
            api,
            cluster,
            verb,
            action,
            count: None,
            fraction: None,
            latency_ms: 0,
            seen: 0,
        };
        for opt in &parts[3..] {
            match opt.split_once('=') {
                Some(("count", n)) => rule.count = Some(n.parse().map_err(|_| bad())?),
                Some(("fraction", f)) => rule.fraction = Some(f.parse().map_err(|_| bad())?),
                Some(("latency", ms)) => rule.latency_ms = ms.parse().map_err(|_| bad())?,
                _ => return Err(bad()),
            }
        }
        rule.validate(spec)?;
        Ok(rule)
    }

    /// Checks the numbers; `what` names the rule in the error.
    pub fn validate(&self, what: &str) -> Result<(), FaultSpecError> {
        if self.count.is_some() && self.fraction.is_some() {
            return Err(FaultSpecError::CountAndFraction(what.to_owned()));
        }
        if self.fraction.is_some_and(|f| !(0.0..=1.0).contains(&f)) {
            return Err(FaultSpecError::Fraction(what.to_owned()));
        }
        Ok(())
    }

    fn matches(&self, api: Api, cluster: Option<&str>, verb: &str) -> bool {
        self.api == api
            && self.cluster.as_deref().is_none_or(|c| Some(c) == cluster)
            && self
                .verb
                .as_deref()
                .is_none_or(|v| v == "*" || v.eq_ignore_ascii_case(verb))
    }
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decision {
    pub action: FaultAction,
    pub latency: Duration,
}

/// The active fault rules.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<FaultRule>>,
}

impl Faults {
    pub fn add(&self, rule: FaultRule) {
        self.rules.lock().expect("faults lock").push(rule);
    }

    pub fn clear(&self) {
        self.rules.lock().expect("faults lock").clear();
    }

    pub fn list(&self) -> Vec<FaultRule> {
        self.rules.lock().expect("faults lock").clone()
    }

    /// Decides for one request; the first matching rule that fires wins.
    pub fn decide(&self, api: Api, cluster: Option<&str>, verb: &str) -> Decision {
        let mut rules = self.rules.lock().expect("faults lock");
        let mut decision = Decision::default();
        let mut exhausted = None;
        for (i, rule) in rules.iter_mut().enumerate() {
            if !rule.matches(api, cluster, verb) {
                continue;
            }
            let n = rule.seen;
            rule.seen += 1;
            let fires = match (rule.count, rule.fraction) {
                (Some(0), _) => false,
                (Some(c), _) => {
                    rule.count = Some(c - 1);
                    if c == 1 {
                        exhausted = Some(i);
                    }
                    true
                }
                (None, Some(f)) => ((n + 1) as f64 * f).floor() > (n as f64 * f).floor(),
                (None, None) => true,
            };
            if fires {
                decision = Decision {
                    action: rule.action,
                    latency: Duration::from_millis(rule.latency_ms),
                };
                break;
            }
        }
        if let Some(i) = exhausted {
            rules.remove(i);
        }
        decision
    }
}

/// Per-API, per-cluster, per-verb request counts.
#[derive(Debug, Default)]
pub struct Counters {
    eks: Mutex<BTreeMap<String, u64>>,
    kube: Mutex<BTreeMap<String, BTreeMap<String, u64>>>,
}

impl Counters {
    pub fn record(&self, api: Api, cluster: Option<&str>, verb: &str) {
        match api {
            Api::Eks => {
                *self
                    .eks
                    .lock()
                    .expect("counters")
                    .entry(verb.to_owned())
                    .or_default() += 1
            }
            Api::Kube => {
                *self
                    .kube
                    .lock()
                    .expect("counters")
                    .entry(cluster.unwrap_or_default().to_owned())
                    .or_default()
                    .entry(verb.to_owned())
                    .or_default() += 1;
            }
        }
    }

    /// `{"eks": {"Operation": n}, "kube": {"cluster": {"verb": n}}}`.
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "eks": *self.eks.lock().expect("counters"),
            "kube": *self.kube.lock().expect("counters"),
        })
    }

    pub fn reset(&self) {
        self.eks.lock().expect("counters").clear();
        self.kube.lock().expect("counters").clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_rules_fire_n_times_then_vanish() {
        let f = Faults::default();
        f.add(FaultRule::parse_spec("kube:update:409:count=2").unwrap());
        let d = |v| f.decide(Api::Kube, Some("c"), v).action;
        assert_eq!(d("get"), FaultAction::None);
        assert_eq!(d("update"), FaultAction::Conflict);
        assert_eq!(d("update"), FaultAction::Conflict);
        assert_eq!(d("update"), FaultAction::None);
        assert!(f.list().is_empty());
    }

    #[test]
    fn fractions_are_spread_evenly() {
        let f = Faults::default();
        f.add(FaultRule::parse_spec("eks:*:500:fraction=0.25").unwrap());
        let fired = (0..100)
            .filter(|_| {
                f.decide(Api::Eks, None, "ListAccessEntries").action == FaultAction::ServerError
            })
            .count();
        assert_eq!(fired, 25);
    }

    #[test]
    fn bad_specs_are_refused() {
        for s in [
            "kube:get",
            "k8s:get:409",
            "kube:get:418",
            "kube:get:409:count=x",
            "eks:*:500:fraction=2",
            "eks:*:500:count=1:fraction=0.5",
        ] {
            assert!(FaultRule::parse_spec(s).is_err(), "{s}");
        }
    }
}

/// Marks a response that must not be sent: the server closes the connection instead.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// A response the server turns into a dropped connection.
pub fn drop_connection() -> axum::response::Response {
    let mut resp = axum::response::Response::new(axum::body::Body::empty());
    resp.extensions_mut().insert(DropConnection);
    resp
}
