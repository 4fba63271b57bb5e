//! How long an AWS call may take: the time limits every SDK client (IAM, EKS, STS, SQS) is
//! built with, so a stalled answer fails the call instead of holding the run until Lambda
//! kills it.
//!
//! Three limits, as the SDK applies them (aws-smithy-types `timeout::TimeoutConfig`):
//! - connect: establishing the connection ([`CONNECT_TIMEOUT`], or the attempt limit if that
//!   is shorter);
//! - attempt: one request, sent and answered ([`ATTEMPT_TIMEOUT`] unless
//!   [`ATTEMPT_TIMEOUT_ENV`] says otherwise). A timed-out attempt is retried by the SDK's
//!   retry strategy like any transient failure;
//! - operation: every attempt of one call together, retries and their backoff included
//!   ([`OPERATION_TIMEOUT`] unless [`OPERATION_TIMEOUT_ENV`] says otherwise).
//!
//! A call that runs out of time is a timeout error, which the adapters classify as a passing
//! failure (`aws::Failure::Transient`): the cluster that needed it fails with a message
//! saying so, and the next invocation tries again.
//!
//! The Kubernetes client uses the same connect and attempt limits
//! ([`crate::kubernetes`]).

use std::collections::HashMap;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;

/// How long connecting to an AWS endpoint (or a cluster's API server) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one request may take, unless [`ATTEMPT_TIMEOUT_ENV`] is set.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one call may take with its retries, unless [`OPERATION_TIMEOUT_ENV`] is set.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
/// The attempt timeout in seconds (a decimal number: `2.5`).
pub const ATTEMPT_TIMEOUT_ENV: &str = "EKS_IAM_SYNC_AWS_ATTEMPT_TIMEOUT";
/// The operation timeout in seconds (a decimal number: `20`).
pub const OPERATION_TIMEOUT_ENV: &str = "EKS_IAM_SYNC_AWS_OPERATION_TIMEOUT";
/// The longest accepted timeout: Lambda's longest function timeout.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(900);

/// Why the timeouts of the environment are invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeoutsError {
    #[error("{name}: {value:?} is not a number of seconds above 0 and at most 900")]
    NotSeconds { name: &'static str, value: String },
    #[error(
        "{ATTEMPT_TIMEOUT_ENV} ({attempt:?}) is longer than {OPERATION_TIMEOUT_ENV} ({operation:?}): no attempt could finish"
    )]
    AttemptLongerThanOperation {
        attempt: Duration,
        operation: Duration,
    },
}

/// The time limits of every AWS call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsTimeouts {
    /// One request.
    pub attempt: Duration,
    /// One call, retries included.
    pub operation: Duration,
}

impl Default for AwsTimeouts {
    fn default() -> AwsTimeouts {
        AwsTimeouts {
            attempt: ATTEMPT_TIMEOUT,
            operation: OPERATION_TIMEOUT,
        }
    }
}

impl AwsTimeouts {
    /// Reads [`ATTEMPT_TIMEOUT_ENV`] and [`OPERATION_TIMEOUT_ENV`]; empty values count as unset.
    pub fn from_env(env: &HashMap<String, String>) -> Result<AwsTimeouts, TimeoutsError> {
        let defaults = AwsTimeouts::default();
        let timeouts = AwsTimeouts {
            attempt: seconds(env, ATTEMPT_TIMEOUT_ENV)?.unwrap_or(defaults.attempt),
            operation: seconds(env, OPERATION_TIMEOUT_ENV)?.unwrap_or(defaults.operation),
        };
        if timeouts.attempt > timeouts.operation {
            return Err(TimeoutsError::AttemptLongerThanOperation {
                attempt: timeouts.attempt,
                operation: timeouts.operation,
            });
        }
        Ok(timeouts)
    }

    /// The SDK's form of these limits, for `aws_config`'s loader or a client's config builder.
    pub fn sdk_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT.min(self.attempt))
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
}

/// The duration in seconds `name` holds, `None` when unset or empty.
fn seconds(
    env: &HashMap<String, String>,
    name: &'static str,
) -> Result<Option<Duration>, TimeoutsError> {
    let Some(value) = env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    value
        .parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .filter(|d| !d.is_zero() && *d <= MAX_TIMEOUT)
        .map(Some)
        .ok_or_else(|| TimeoutsError::NotSeconds {
            name,
            value: value.to_owned(),
        })
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
    fn unset_or_empty_variables_give_ten_seconds_an_attempt_and_thirty_a_call() {
        let timeouts = AwsTimeouts::from_env(&env(&[(ATTEMPT_TIMEOUT_ENV, " ")])).unwrap();
        assert_eq!(timeouts.attempt, Duration::from_secs(10));
        assert_eq!(timeouts.operation, Duration::from_secs(30));
        let sdk = timeouts.sdk_config();
        assert_eq!(sdk.connect_timeout(), Some(CONNECT_TIMEOUT));
        assert_eq!(sdk.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(sdk.operation_timeout(), Some(OPERATION_TIMEOUT));
    }

    #[test]
    fn the_variables_set_the_limits_and_connecting_never_outlasts_an_attempt() {
        let timeouts = AwsTimeouts::from_env(&env(&[
            (ATTEMPT_TIMEOUT_ENV, "0.25"),
            (OPERATION_TIMEOUT_ENV, "2"),
        ]))
        .unwrap();
        let sdk = timeouts.sdk_config();
        assert_eq!(sdk.connect_timeout(), Some(Duration::from_millis(250)));
        assert_eq!(
            sdk.operation_attempt_timeout(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(sdk.operation_timeout(), Some(Duration::from_secs(2)));
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        for bad in ["0", "-1", "ten", "901", "NaN"] {
            assert_eq!(
                AwsTimeouts::from_env(&env(&[(OPERATION_TIMEOUT_ENV, bad)])),
                Err(TimeoutsError::NotSeconds {
                    name: OPERATION_TIMEOUT_ENV,
                    value: bad.to_owned()
                }),
                "{bad}"
            );
        }
        let error = AwsTimeouts::from_env(&env(&[(ATTEMPT_TIMEOUT_ENV, "40")])).unwrap_err();
        assert_eq!(
            error,
            TimeoutsError::AttemptLongerThanOperation {
                attempt: Duration::from_secs(40),
                operation: OPERATION_TIMEOUT
            }
        );
    }
}
