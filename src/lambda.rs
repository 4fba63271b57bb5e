//! Serving Lambda invocations: set up once per instance, then handle events.
//!
//! The configuration is validated before any AWS call; an invalid one stops the instance at
//! init with every problem logged. SDK clients, the DescribeCluster cache and the token cache
//! live as long as the instance, so warm invocations skip that work.

use std::collections::HashMap;
use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use crate::config::{self, IAM_EKS_USER_MAPPER_VARS};
use crate::core::aws_auth::OwnershipRules;
use crate::handler::handle;
use crate::reconcile::Reconciler;

/// The mark Qovery's iam-eks-user-mapper puts on its entries.
pub const MAPPER_MARK: (&str, &str) = ("syncedBy", "iam-eks-user-mapper");

/// Ownership for this configuration: when it came from iam-eks-user-mapper's variables, that
/// tool's entries are adopted as ours.
pub fn ownership_for(env: &HashMap<String, String>) -> OwnershipRules {
    let migrating = IAM_EKS_USER_MAPPER_VARS
        .iter()
        .any(|v| env.contains_key(*v));
    OwnershipRules {
        adopted_marks: if migrating {
            vec![(MAPPER_MARK.0.to_owned(), MAPPER_MARK.1.to_owned())]
        } else {
            Vec::new()
        },
    }
}

/// Builds the reconciler from the environment (configuration + AWS SDK configuration).
pub async fn reconciler_from_env(
    env: &HashMap<String, String>,
) -> Result<Reconciler, config::ConfigError> {
    let settings = config::load(env)?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Ok(Reconciler::new(Arc::new(settings), sdk, ownership_for(env)))
}

/// Runs the Lambda runtime loop until the environment shuts the instance down.
pub async fn serve() -> Result<(), lambda_runtime::Error> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let reconciler = match reconciler_from_env(&env).await {
        Ok(reconciler) => Arc::new(reconciler),
        Err(error) => {
            tracing::error!(error = %error, "invalid configuration; not serving");
            return Err(error.into());
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let reconciler = reconciler.clone();
        async move { handle(&reconciler, &event.payload).await }
    }))
    .await
}
