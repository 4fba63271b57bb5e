//! Serving Lambda invocations: set up once per instance, then handle events.
//!
//! The configuration (and fleet mode's settings) are validated before any AWS call; an
//! invalid one stops the instance at init with every problem logged. A configuration kept in
//! SSM or S3 is read at init too, then checked once per invocation and read again when its
//! version changed ([`crate::live_config`]). SDK clients, the
//! DescribeCluster cache and the token cache live as long as the instance, so warm
//! invocations skip that work. Building them is [`crate::handler::Handler::from_env`]'s job,
//! handling one event [`crate::handler`]'s; the runtime is `main`'s.
//!
//! Each invocation runs until its deadline (the runtime API's `Lambda-Runtime-Deadline-Ms`):
//! the reconciler starts no cluster close to it ([`reconcile::until_deadline`]).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use crate::handler::Handler;
use crate::reconcile;
use crate::{app, build_info};

/// Runs the Lambda runtime loop until the environment shuts the instance down.
pub async fn serve() -> Result<(), lambda_runtime::Error> {
    tracing::info!(
        version = build_info::VERSION,
        commit = build_info::GIT_COMMIT,
        "eks-iam-sync starting"
    );
    let env = app::environment(None);
    let handler = match Handler::from_env(&env).await {
        Ok(handler) => Arc::new(handler),
        Err(error) => {
            tracing::error!(error = %error, "invalid configuration; not serving");
            return Err(error.into());
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = handler.clone();
        let deadline = live_deadline(event.context.deadline());
        async move {
            match deadline {
                Some(deadline) => {
                    reconcile::until_deadline(deadline, handler.handle(&event.payload)).await
                }
                None => {
                    tracing::warn!("the runtime's deadline had passed before the invocation began (a local emulator?): running without one");
                    handler.handle(&event.payload).await
                }
            }
        }
    }))
    .await
}

/// The instant of this process's clock at wall-clock time `deadline`, or None when it has
/// already passed as the invocation begins. Lambda never hands out such a deadline, but
/// `cargo lambda watch` sends `Lambda-Runtime-Deadline-Ms: 600000` (1970): taken at its word,
/// no cluster would ever start under the emulator (the README's demo).
fn live_deadline(deadline: SystemTime) -> Option<Instant> {
    let left = deadline.duration_since(SystemTime::now()).ok()?;
    Some(Instant::now() + left)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_deadline_becomes_the_same_time_left_on_the_monotonic_clock() {
        let left =
            live_deadline(SystemTime::now() + Duration::from_secs(300)).unwrap() - Instant::now();
        assert!(
            left > Duration::from_secs(299) && left <= Duration::from_secs(300),
            "{left:?}"
        );
        let past = live_deadline(SystemTime::now() - Duration::from_secs(60));
        assert_eq!(past, None, "a deadline already past is no deadline");
        let emulator = live_deadline(SystemTime::UNIX_EPOCH + Duration::from_millis(600_000));
        assert_eq!(emulator, None, "cargo lambda watch's fixed 600000 ms");
    }
}
