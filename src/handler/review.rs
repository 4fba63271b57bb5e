//! `{"action": "review"}`: the access review (issue 22) of the named clusters, written to the
//! configured `review` bucket as JSON and HTML, and the response saying where.
//!
//! Each review is kept under its date, `{prefix}YYYY/MM/DD/HHMMSSZ-review.{json,html}`, and
//! copied to `{prefix}latest.{json,html}` for a stable link. The review itself writes nothing
//! to any cluster; a cluster it could not read is a finding in the report, not a failure. The
//! invocation fails only when a report cannot be written (it names the bucket and key).

use jiff::tz::TimeZone;
use serde_json::{Value, json};

use super::HandlerError;
use crate::aws::bucket::Bucket;
use crate::reconcile::Reconciler;
use crate::review_report::{Format, ReviewReport};

/// Reviews `clusters` and writes the reports.
pub(super) async fn review_to_bucket(
    reconciler: &Reconciler,
    clusters: &[String],
) -> Result<Value, HandlerError> {
    let Some(settings) = reconciler.settings().review.clone() else {
        // Classification refuses the action without the section; kept as an error here too.
        return Err(HandlerError::Payload(
            crate::events::ClassifyError::ReviewNotConfigured,
        ));
    };
    let review = reconciler.review(clusters).await;
    let now = jiff::Timestamp::now();
    let report = ReviewReport::new(review.clusters, now);
    let stamp = now.to_zoned(TimeZone::UTC).strftime("%Y/%m/%d/%H%M%SZ");
    let bucket = Bucket::new(reconciler.s3().clone(), &settings.bucket);
    let mut objects = Vec::new();
    for (format, extension, content_type) in [
        (Format::Json, "json", "application/json"),
        (Format::Html, "html", "text/html; charset=utf-8"),
    ] {
        let body = report
            .render(format)
            .map_err(|e| HandlerError::ReviewNotWritten(e.to_string()))?
            .into_bytes();
        for key in [
            format!("{}{stamp}-review.{extension}", settings.prefix),
            format!("{}latest.{extension}", settings.prefix),
        ] {
            bucket
                .put(&key, body.clone(), content_type)
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "review report not written");
                    HandlerError::ReviewNotWritten(e.to_string())
                })?;
            objects.push(key);
        }
    }
    let findings = report.finding_count();
    tracing::info!(
        clusters = report.clusters.len(),
        findings,
        bucket = %settings.bucket,
        iam_calls = review.iam_calls,
        eks_calls = review.eks_calls,
        "review written"
    );
    Ok(json!({
        "review": {
            "bucket": settings.bucket,
            "objects": objects,
            "clusters": report.clusters.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
            "findings": findings,
            "generatedAt": report.generated_at,
        },
        "iamCalls": review.iam_calls,
        "eksCalls": review.eks_calls,
    }))
}
