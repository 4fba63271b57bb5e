//! Serving Lambda invocations: set up once per instance, then handle events.
//!
//! The configuration (and fleet mode's settings) are validated before any AWS call; an
//! invalid one stops the instance at init with every problem logged. SDK clients, the
//! DescribeCluster cache and the token cache live as long as the instance, so warm
//! invocations skip that work. Building them is [`crate::handler::Handler::from_env`]'s job,
//! handling one event [`crate::handler`]'s; the runtime is `main`'s.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use crate::app;
use crate::handler::Handler;

/// Runs the Lambda runtime loop until the environment shuts the instance down.
pub async fn serve() -> Result<(), lambda_runtime::Error> {
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
        async move { handler.handle(&event.payload).await }
    }))
    .await
}
