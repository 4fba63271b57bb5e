//! Direct invokes (`{"action": "reconcile", "dryRun": true, "clusters": ["prod"]}`, and
//! `{"action": "review"}`), read strictly: unknown fields, an unknown action, unknown or no
//! clusters, a review without `review` in the configuration, a review with `dryRun` are
//! errors. It does not read EventBridge envelopes (`envelope`).

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
    let review = match invoke.action.as_str() {
        "reconcile" => false,
        "review" if settings.review.is_none() => return Err(ClassifyError::ReviewNotConfigured),
        "review" if invoke.dry_run => {
            return Err(ClassifyError::Invoke(
                "\"dryRun\" is for reconcile: a review never writes to a cluster".to_owned(),
            ));
        }
        "review" => true,
        _ => return Err(ClassifyError::UnknownAction(invoke.action)),
    };
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
    if review {
        return Ok(Decision {
            trigger: Trigger::Invoke,
            reason: format!("direct invoke: review {}", clusters.join(", ")),
            action: Action::Review { clusters },
        });
    }
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
