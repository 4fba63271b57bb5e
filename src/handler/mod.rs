//! The Lambda handler: an invocation payload in, a JSON response out.
//!
//! The payload is classified (pure, [`crate::events`]) into what to do: acknowledge at once
//! with no cluster call, reconcile one user's entries, or reconcile whole clusters. The
//! invocation fails — so EventBridge retries and, in the end, dead-letters it — only when
//! some cluster failed; a guard refusal is reported, not retried, since retrying cannot
//! change the verdict.
//!
//! # Map
//! - here: [`Handler`] (built once per instance) and the routing of one payload;
//! - `dispatch`: fleet mode's fan-out of an event onto the work queue;
//! - `batch`: an SQS batch from the work queue, each record in place, partial batch response;
//! - `accounts`: IAM events narrowed to the account they come from (many accounts);
//! - `review`: `{"action": "review"}`, the access review written to the `review` bucket.
//!
//! # Routing
//! | Payload | In place (no queue) | Fleet mode ([`crate::fleet::QUEUE_URL_ENV`]) |
//! |---|---|---|
//! | SQS event (`Records[]`, `eventSource` `aws:sqs`) | refused ([`HandlerError::NoWorkQueue`]): no queue feeds this function | each record in place: a record never fans out |
//! | scheduled event, IAM event that matters | reconcile | one message per cluster |
//! | event that cannot matter | acknowledge | acknowledge, nothing sent |
//! | direct invoke | reconcile | reconcile (in place) |
//! | `{"action": "review"}` | review, reports to S3 | review, reports to S3 (in place) |

mod accounts;
mod batch;
mod dispatch;
mod review;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::{Value, json};

use crate::app;
use crate::aws::timeouts::{AwsTimeouts, TimeoutsError};
use crate::config::ConfigError;
use crate::events::{Action, ClassifyError, classify};
use crate::fleet::{FleetSettings, FleetSettingsError, WorkQueue, messages_for};
use crate::live_config::{LiveConfig, LiveError};
use crate::reconcile::{Reconciler, RunSummary};
use crate::telemetry::{MetricDimensions, metric_counts, metric_line};

/// Why the handler could not be built: nothing is served.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Fleet(#[from] FleetSettingsError),
    #[error(transparent)]
    Timeouts(#[from] TimeoutsError),
    #[error(transparent)]
    Remote(#[from] LiveError),
}

/// What serves invocations: the reconciler, the work queue in fleet mode, the dimensions
/// of the metric lines, and, when the configuration is kept in SSM or S3, its source.
#[derive(Debug)]
pub struct Handler {
    reconciler: RwLock<Arc<Reconciler>>,
    live: Option<Live>,
    queue: Option<WorkQueue>,
    dimensions: MetricDimensions,
}

/// A configuration kept in AWS, and how to build the reconciler of a new version of it.
#[derive(Debug)]
struct Live {
    config: LiveConfig,
    sdk: aws_config::SdkConfig,
    env: HashMap<String, String>,
    cluster_concurrency: usize,
}

impl Handler {
    /// A handler reconciling through `reconciler`, fanning out on `queue` when given, with
    /// dimensionless metric lines.
    pub fn new(reconciler: Reconciler, queue: Option<WorkQueue>) -> Handler {
        Handler {
            reconciler: RwLock::new(Arc::new(reconciler)),
            live: None,
            queue,
            dimensions: MetricDimensions::default(),
        }
    }

    /// The same handler, its metric lines under `dimensions`.
    pub fn with_metric_dimensions(mut self, dimensions: MetricDimensions) -> Handler {
        self.dimensions = dimensions;
        self
    }

    /// The handler `env` describes: the reconciler of [`app::reconciler_for`] with the
    /// cluster concurrency of [`FleetSettings`], and the work queue when fleet mode is on.
    /// Every local setting is validated before any AWS call; a configuration kept in SSM or
    /// S3 is read here once, and checked again at each invocation ([`Handler::handle`]).
    pub async fn from_env(env: &HashMap<String, String>) -> Result<Handler, StartError> {
        let fleet = FleetSettings::from_env(env)?;
        let resolved = crate::config::resolve(env)?;
        let timeouts = AwsTimeouts::from_env(env)?;
        // One SDK configuration for every client (loaded once: it resolves credentials and
        // region from the environment).
        let sdk = app::load_sdk_config(timeouts).await;
        let (settings, live) = app::configuration(resolved, &sdk).await?;
        let queue = fleet.queue(&sdk);
        let reconciler = Reconciler::new(settings, sdk.clone(), app::ownership_for(env))
            .with_cluster_concurrency(fleet.cluster_concurrency);
        let mut handler =
            Handler::new(reconciler, queue).with_metric_dimensions(MetricDimensions::from_env(env));
        handler.live = live.map(|config| Live {
            config,
            sdk,
            env: env.clone(),
            cluster_concurrency: fleet.cluster_concurrency,
        });
        Ok(handler)
    }

    /// The reconciler of the configuration loaded last.
    pub fn reconciler(&self) -> Arc<Reconciler> {
        self.reconciler
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Handles one invocation (see the module's routing table), after checking that a
    /// configuration kept in AWS is still the version loaded (see [`crate::live_config`]: a
    /// new version is read; one that cannot be read or is invalid fails the invocation, and
    /// nothing is written with the old one).
    pub async fn handle(&self, payload: &Value) -> Result<Value, HandlerError> {
        let reconciler = self.current_reconciler().await?;
        route(&reconciler, self.queue.as_ref(), &self.dimensions, payload).await
    }

    async fn current_reconciler(&self) -> Result<Arc<Reconciler>, HandlerError> {
        let Some(live) = &self.live else {
            return Ok(self.reconciler());
        };
        let current = live.config.current().await.inspect_err(|error| {
            tracing::error!(error = %error, "configuration unavailable; nothing is done");
        })?;
        if !current.changed {
            return Ok(self.reconciler());
        }
        tracing::info!(source = %live.config.remote(), "configuration changed; new version in use");
        // A new reconciler for the new settings (the clients, caches and tokens of the old
        // one may depend on what changed: clusters, roles, the IAM account).
        let reconciler = Arc::new(
            Reconciler::new(
                current.settings,
                live.sdk.clone(),
                app::ownership_for(&live.env),
            )
            .with_cluster_concurrency(live.cluster_concurrency),
        );
        *self
            .reconciler
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = reconciler.clone();
        Ok(reconciler)
    }
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("{0}")]
    Payload(#[from] ClassifyError),
    /// The configuration kept in SSM or S3 could not be read, or its new version is invalid.
    #[error("{0}")]
    Config(#[from] LiveError),
    /// An SQS event while fleet mode is off: no work queue feeds this function, so the
    /// records are someone's invoke dressed as queue work; nothing is run.
    #[error(
        "an SQS event, but fleet mode is off ({} is not set): this function reads no work queue, so its records are not run",
        crate::fleet::QUEUE_URL_ENV
    )]
    NoWorkQueue,
    #[error("{failed} of {total} clusters failed: {summary}")]
    ClustersFailed {
        failed: usize,
        total: usize,
        summary: Value,
    },
    /// Fleet mode: some messages could not be queued (the event is retried; the messages
    /// that were queued deduplicate).
    #[error("{unsent} of {total} messages could not be queued: {response}")]
    DispatchFailed {
        unsent: usize,
        total: usize,
        response: Value,
    },
    /// The review was made, but its reports could not be written to the bucket.
    #[error("the review's reports could not be written: {0}")]
    ReviewNotWritten(String),
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(error: HandlerError) -> lambda_runtime::Diagnostic {
        let error_type = match &error {
            HandlerError::Payload(_) | HandlerError::NoWorkQueue => "InvalidPayload",
            HandlerError::Config(_) => "ConfigurationUnavailable",
            HandlerError::ClustersFailed { .. } => "ClustersFailed",
            HandlerError::DispatchFailed { .. } => "DispatchFailed",
            HandlerError::ReviewNotWritten(_) => "ReviewNotWritten",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// Handles one invocation in place (no work queue, dimensionless metrics): SQS batches and
/// every event are reconciled by this invocation.
pub async fn handle(reconciler: &Reconciler, payload: &Value) -> Result<Value, HandlerError> {
    route(reconciler, None, &MetricDimensions::default(), payload).await
}

/// Routes one payload: an SQS batch to its records, an event to the queue when there is one
/// and the event fans out, anything else in place.
async fn route(
    reconciler: &Reconciler,
    queue: Option<&WorkQueue>,
    dimensions: &MetricDimensions,
    payload: &Value,
) -> Result<Value, HandlerError> {
    if let Some(records) = crate::events::sqs_records(payload) {
        let Some(queue) = queue else {
            return Err(HandlerError::NoWorkQueue);
        };
        // Boxed: the batch and dispatch futures are deep, and the runtime's is deeper still.
        let batch = batch::handle_batch(reconciler, queue, dimensions, records);
        return Ok(Box::pin(batch).await);
    }
    let decision = classify(payload, reconciler.settings())?;
    let decision = Box::pin(accounts::route_event(decision, reconciler)).await;
    tracing::info!(trigger = ?decision.trigger, reason = %decision.reason, "invocation classified");
    let fan_out = queue
        .and_then(|queue| {
            Some((
                queue,
                messages_for(
                    &decision,
                    &crate::events::event_key(&decision.trigger, payload),
                )?,
            ))
        })
        .filter(|(_, messages)| !messages.is_empty());
    if let Some((queue, messages)) = fan_out {
        return Box::pin(dispatch::dispatch(queue, &decision, &messages)).await;
    }
    let cause = decision.trigger.cause();
    let summary = match &decision.action {
        Action::Acknowledge => {
            return Ok(json!({"acknowledged": true, "reason": decision.reason, "clusters": []}));
        }
        Action::Review { clusters } => {
            return Box::pin(review::review_to_bucket(reconciler, clusters)).await;
        }
        Action::Reconcile { clusters, dry_run } => {
            reconciler
                .reconcile(clusters, *dry_run, &decision.reason, &cause)
                .await
        }
        Action::SyncUser(sync) => {
            reconciler
                .user_event(sync, false, &decision.reason, &cause)
                .await
        }
    };
    in_place_response(&summary, dimensions)
}

/// The in-place response: the run's summary, or [`HandlerError::ClustersFailed`] carrying it.
fn in_place_response(
    summary: &RunSummary,
    dimensions: &MetricDimensions,
) -> Result<Value, HandlerError> {
    report(summary, dimensions);
    let failed = summary
        .clusters
        .iter()
        .filter(|c| c.error.is_some())
        .count();
    let value = serde_json::to_value(summary).unwrap_or_else(|e| json!({"error": e.to_string()}));
    if summary.failed() {
        return Err(HandlerError::ClustersFailed {
            failed,
            total: summary.clusters.len(),
            summary: value,
        });
    }
    Ok(value)
}

/// Logs each cluster's outcome and prints the run's metric line under `dimensions`.
fn report(summary: &RunSummary, dimensions: &MetricDimensions) {
    for cluster in &summary.clusters {
        tracing::info!(
            cluster = %cluster.cluster,
            outcome = ?cluster.outcome,
            added = cluster.added.len(),
            changed = cluster.changed.len(),
            removed = cluster.removed.len(),
            refusals = cluster.refusals.len(),
            error = cluster.error.as_deref().unwrap_or(""),
            dry_run = summary.dry_run,
            "cluster reconciled"
        );
    }
    // Lambda sends stdout and stderr to the same log stream; stderr keeps `invoke`'s stdout pure JSON.
    eprintln!(
        "{}",
        metric_line(
            &metric_counts(summary),
            dimensions,
            std::time::SystemTime::now()
        )
    );
}
