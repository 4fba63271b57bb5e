//! Direct invokes and payloads that are neither an event nor an invoke.

use eks_iam_sync::events::{Action, ClassifyError, classify};
use serde_json::{Value, json};

use super::{decide, settings};

#[test]
fn direct_invoke_defaults_to_every_cluster_and_a_real_run() {
    let d = decide(&json!({"action": "reconcile"}));
    assert_eq!(
        d.action,
        Action::Reconcile {
            clusters: vec!["prod".into(), "staging".into()],
            dry_run: false
        }
    );
    assert_eq!(d.reason, "direct invoke: reconcile prod, staging");
}

#[test]
fn direct_invoke_dry_run_of_named_clusters_keeps_configuration_order() {
    let d = decide(
        &json!({"action": "reconcile", "dryRun": true, "clusters": ["staging", "prod", "staging"]}),
    );
    assert_eq!(
        d.action,
        Action::Reconcile {
            clusters: vec!["prod".into(), "staging".into()],
            dry_run: true
        }
    );
    assert_eq!(
        d.reason,
        "direct invoke: reconcile prod, staging (dry run: plan only, no write)"
    );
}

#[test]
fn direct_invoke_errors_name_what_is_wrong() {
    let s = settings();
    let err = classify(
        &json!({"action": "reconcile", "clusters": ["prod", "qa", "dev", "qa"]}),
        &s,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ClassifyError::UnknownClusters {
            unknown: vec!["qa".into(), "dev".into()],
            configured: vec!["prod".into(), "staging".into()]
        }
    );
    assert_eq!(
        err.to_string(),
        "direct invoke: unknown cluster(s) qa, dev (configured: prod, staging)"
    );

    let err = classify(&json!({"action": "reconcile", "clusters": []}), &s).unwrap_err();
    assert_eq!(
        err.to_string(),
        "direct invoke: \"clusters\" is empty; omit it to reconcile every cluster"
    );

    let err = classify(&json!({"action": "apply"}), &s).unwrap_err();
    assert_eq!(
        err.to_string(),
        "direct invoke: unknown action \"apply\" (the actions are \"reconcile\" and \"review\")"
    );

    // A typo must not silently turn a dry run into a write.
    let err = classify(&json!({"action": "reconcile", "dryrun": true}), &s).unwrap_err();
    assert!(
        matches!(&err, ClassifyError::Invoke(m) if m.contains("unknown field `dryrun`")),
        "{err}"
    );

    let err = classify(&json!({"action": "reconcile", "dryRun": "yes"}), &s).unwrap_err();
    assert!(matches!(err, ClassifyError::Invoke(_)));
}

#[test]
fn payloads_that_are_neither_event_nor_invoke_are_errors() {
    let s = settings();
    assert_eq!(
        classify(&json!({}), &s).unwrap_err().to_string(),
        "unrecognized payload (an empty object): expected an EventBridge event (with \"detail-type\") or a direct invoke {\"action\": \"reconcile\"}"
    );
    assert!(
        matches!(classify(&json!({"foo": 1}), &s), Err(ClassifyError::Unrecognized(m)) if m == "keys: foo")
    );
    assert!(
        matches!(classify(&json!([1, 2]), &s), Err(ClassifyError::Unrecognized(m)) if m == "a JSON array, not an object")
    );
    assert!(matches!(
        classify(&Value::Null, &s),
        Err(ClassifyError::Unrecognized(_))
    ));
}

#[test]
fn a_review_invoke_needs_the_review_section_and_takes_no_dry_run() {
    let mut s = settings();
    let err = classify(&json!({"action": "review"}), &s).unwrap_err();
    assert!(matches!(err, ClassifyError::ReviewNotConfigured), "{err}");
    assert!(err.to_string().contains("review: {bucket: NAME}"), "{err}");

    s.review = Some(eks_iam_sync::core::settings::ReviewSettings {
        bucket: "reports".into(),
        prefix: "eks-iam-sync/reviews/".into(),
        schedule: "rate(1 day)".into(),
    });
    let d = classify(&json!({"action": "review"}), &s).unwrap();
    assert_eq!(
        d.action,
        Action::Review {
            clusters: vec!["prod".into(), "staging".into()]
        }
    );
    assert_eq!(d.reason, "direct invoke: review prod, staging");
    let d = classify(&json!({"action": "review", "clusters": ["staging"]}), &s).unwrap();
    assert_eq!(
        d.action,
        Action::Review {
            clusters: vec!["staging".into()]
        }
    );
    let err = classify(&json!({"action": "review", "dryRun": true}), &s).unwrap_err();
    assert!(err.to_string().contains("a review never writes"), "{err}");
    let err = classify(&json!({"action": "review", "clusters": ["nope"]}), &s).unwrap_err();
    assert!(
        matches!(err, ClassifyError::UnknownClusters { .. }),
        "{err}"
    );
}
