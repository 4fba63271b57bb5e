//! Direct invokes (`{"action": "reconcile", "dryRun": true, "clusters": ["prod"]}`), read
//! strictly: unknown fields, an unknown action, unknown or no clusters are errors. It does not
//! read EventBridge envelopes (`envelope`).

use serde::Deserialize;
use serde_json::Value;

use super::{Action, ClassifyError, Decision, Trigger};
use crate::core::settings::Settings;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Invoke {
    action: String,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    clusters: Option<Vec<String>>,
}

pub(super) fn classify_invoke(
    payload: &Value,
    settings: &Settings,
) -> Result<Decision, ClassifyError> {
    let invoke = Invoke::deserialize(payload).map_err(|e| ClassifyError::Invoke(e.to_string()))?;
    if invoke.action != "reconcile" {
        return Err(ClassifyError::UnknownAction(invoke.action));
    }
    let configured = settings.cluster_names();
    let clusters = match invoke.clusters {
        None => configured,
        Some(names) if names.is_empty() => return Err(ClassifyError::EmptyClusters),
        Some(names) => {
            let mut unknown: Vec<String> = Vec::new();
            for name in names.iter().filter(|n| !configured.contains(n)) {
                if !unknown.contains(name) {
                    unknown.push(name.clone());
                }
            }
            if !unknown.is_empty() {
                return Err(ClassifyError::UnknownClusters {
                    unknown,
                    configured,
                });
            }
            configured
                .into_iter()
                .filter(|c| names.contains(c))
                .collect()
        }
    };
    let mode = if invoke.dry_run {
        " (dry run: plan only, no write)"
    } else {
        ""
    };
    Ok(Decision {
        trigger: Trigger::Invoke,
        reason: format!("direct invoke: reconcile {}{mode}", clusters.join(", ")),
        action: Action::Reconcile {
            clusters,
            dry_run: invoke.dry_run,
        },
    })
}
