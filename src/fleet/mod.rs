//! Fleet mode: fanning clusters out on an SQS FIFO queue instead of reconciling them all in
//! one invocation, and the settings that choose between the two.
//!
//! # Expected flow
//! With [`QUEUE_URL_ENV`] set, the scheduled event and IAM events are *dispatched*: each
//! affected cluster becomes one message ([`message`]) sent to the queue ([`queue`]). Lambda's
//! SQS event source mapping then invokes the same function with batches of those messages;
//! each record runs in place for its cluster, and the records whose cluster failed are named
//! in the partial batch response, so only they are retried (about a minute later at most,
//! [`retry`]) and, in the end, dead-lettered.
//! Without the variable everything runs in place, [`CLUSTER_CONCURRENCY_ENV`] clusters at a
//! time.
//!
//! # Guarantees
//! - One cluster's messages share a `MessageGroupId`: writes to one cluster stay serialised.
//! - A delivered-twice event queues its work once (deduplication ids come from the event).
//! - A record never fans out again: the worker path has no queue.
//!
//! This module does not route invocations (the handler does) and does not reconcile.

pub mod message;
pub mod queue;
pub mod retry;

use std::collections::HashMap;

pub use message::{SyncUserBody, SyncUserBodyError, WorkMessage, messages_for};
pub use queue::{Retry, SendReport, VisibilityUnchanged, WorkQueue};

use crate::reconcile::CLUSTER_CONCURRENCY;

/// The URL of the SQS FIFO queue to fan out on; unset means in place.
pub const QUEUE_URL_ENV: &str = "EKS_IAM_SYNC_QUEUE_URL";
/// How many clusters an invocation reconciles at the same time (default
/// [`CLUSTER_CONCURRENCY`]); in fleet mode, how many records of a batch run at once.
pub const CLUSTER_CONCURRENCY_ENV: &str = "EKS_IAM_SYNC_CLUSTER_CONCURRENCY";
/// The largest accepted [`CLUSTER_CONCURRENCY_ENV`].
pub const MAX_CLUSTER_CONCURRENCY: usize = 64;

/// Why the fleet settings are invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FleetSettingsError {
    #[error(
        "{QUEUE_URL_ENV}: {url:?} is not an SQS FIFO queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME.fifo)"
    )]
    NotFifo { url: String },
    #[error(
        "{CLUSTER_CONCURRENCY_ENV}: {value:?} is not a whole number from 1 to {MAX_CLUSTER_CONCURRENCY}"
    )]
    Concurrency { value: String },
}

/// Where clusters are reconciled, read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSettings {
    /// The work queue's URL in fleet mode; `None` in place.
    pub queue_url: Option<String>,
    /// Clusters (or, for a batch, records) handled at the same time.
    pub cluster_concurrency: usize,
}

impl FleetSettings {
    /// Reads [`QUEUE_URL_ENV`] and [`CLUSTER_CONCURRENCY_ENV`]; empty values count as unset.
    pub fn from_env(env: &HashMap<String, String>) -> Result<FleetSettings, FleetSettingsError> {
        let set = |name: &str| env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let queue_url = match set(QUEUE_URL_ENV) {
            None => None,
            Some(url) if url.starts_with("http") && url.ends_with(".fifo") => Some(url.to_owned()),
            Some(url) => {
                return Err(FleetSettingsError::NotFifo {
                    url: url.to_owned(),
                });
            }
        };
        let cluster_concurrency = match set(CLUSTER_CONCURRENCY_ENV) {
            None => CLUSTER_CONCURRENCY,
            Some(value) => value
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_CLUSTER_CONCURRENCY).contains(n))
                .ok_or_else(|| FleetSettingsError::Concurrency {
                    value: value.to_owned(),
                })?,
        };
        Ok(FleetSettings {
            queue_url,
            cluster_concurrency,
        })
    }

    /// The work queue, with an SQS client from `sdk`, in fleet mode.
    pub fn queue(&self, sdk: &aws_config::SdkConfig) -> Option<WorkQueue> {
        self.queue_url
            .as_ref()
            .map(|url| WorkQueue::new(aws_sdk_sqs::Client::new(sdk), url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn without_the_variables_everything_runs_in_place_four_at_a_time() {
        let s = FleetSettings::from_env(&env(&[(QUEUE_URL_ENV, " ")])).unwrap();
        assert_eq!(s.queue_url, None);
        assert_eq!(s.cluster_concurrency, CLUSTER_CONCURRENCY);
    }

    #[test]
    fn a_fifo_queue_url_turns_fleet_mode_on() {
        let url = "https://sqs.us-east-1.amazonaws.com/111122223333/eks-iam-sync.fifo";
        let s = FleetSettings::from_env(&env(&[
            (QUEUE_URL_ENV, url),
            (CLUSTER_CONCURRENCY_ENV, "8"),
        ]))
        .unwrap();
        assert_eq!(s.queue_url.as_deref(), Some(url));
        assert_eq!(s.cluster_concurrency, 8);
    }

    #[test]
    fn a_standard_queue_or_a_bad_concurrency_is_refused_with_the_variable_named() {
        let standard = "https://sqs.us-east-1.amazonaws.com/111122223333/q";
        let e = FleetSettings::from_env(&env(&[(QUEUE_URL_ENV, standard)])).unwrap_err();
        assert!(e.to_string().starts_with(QUEUE_URL_ENV), "{e}");
        for bad in ["0", "-1", "many", "65"] {
            let e = FleetSettings::from_env(&env(&[(CLUSTER_CONCURRENCY_ENV, bad)])).unwrap_err();
            assert!(e.to_string().starts_with(CLUSTER_CONCURRENCY_ENV), "{e}");
        }
    }
}
