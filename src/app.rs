//! Building the application from its environment: the validated [`Settings`], the AWS SDK
//! configuration (with the time limits of [`AwsTimeouts`]) and clients, and the ownership
//! rules. The Lambda and every CLI command that
//! reconciles get their [`Reconciler`] here, so they cannot drift apart.
//!
//! A local configuration (a file, an inline document, the iam-eks-user-mapper variables) is
//! validated before any AWS call (an invalid one is every problem at once, as
//! [`ConfigError`]); one kept in SSM or S3 is read right after the SDK configuration is
//! loaded, through a [`LiveConfig`] that later runs of a warm instance check again. The async runtime and the TLS provider are not set up here:
//! `main` does that once for the whole process.
//!
//! [`Settings`]: crate::core::settings::Settings

use std::collections::HashMap;
use std::sync::Arc;

use crate::aws::config_store::ConfigStore;
use crate::aws::timeouts::{AwsTimeouts, TimeoutsError};
use crate::config::{self, CONFIG_ENV, ConfigError, IAM_EKS_USER_MAPPER_VARS, Resolved};
use crate::core::aws_auth::OwnershipRules;
use crate::core::settings::Settings;
use crate::live_config::{LiveConfig, LiveError};
use crate::reconcile::Reconciler;

/// The mark Qovery's iam-eks-user-mapper puts on its entries.
pub const MAPPER_MARK: (&str, &str) = ("syncedBy", "iam-eks-user-mapper");

/// The process environment, with `config` (a CLI's `--config`: a file, inline, `ssm:/...`
/// or `s3://...`) overriding `EKS_IAM_SYNC_CONFIG`.
pub fn environment(config: Option<&str>) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = std::env::vars().collect();
    if let Some(path) = config {
        env.insert(CONFIG_ENV.to_owned(), path.to_owned());
    }
    env
}

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

/// Why the application cannot be built from its environment.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Timeouts(#[from] TimeoutsError),
    #[error(transparent)]
    Remote(#[from] LiveError),
}

/// Builds the reconciler from `env`: configuration and timeouts first, then the AWS SDK
/// configuration ([`load_sdk_config`]), then the configuration when it is kept in AWS.
pub async fn reconciler_from_env(env: &HashMap<String, String>) -> Result<Reconciler, SetupError> {
    let resolved = config::resolve(env)?;
    let timeouts = AwsTimeouts::from_env(env)?;
    let sdk = load_sdk_config(timeouts).await;
    let (settings, _) = configuration(resolved, &sdk).await?;
    Ok(Reconciler::new(settings, sdk, ownership_for(env)))
}

/// The settings of a [`Resolved`] configuration: as they are when local; read through a new
/// [`LiveConfig`] (returned, to be asked again on later runs) when kept in SSM or S3.
pub async fn configuration(
    resolved: Resolved,
    sdk: &aws_config::SdkConfig,
) -> Result<(Arc<Settings>, Option<LiveConfig>), LiveError> {
    match resolved {
        Resolved::Settings(settings) => Ok((Arc::new(*settings), None)),
        Resolved::Remote(remote) => {
            let live = LiveConfig::new(remote, ConfigStore::new(sdk));
            let current = live.current().await?;
            Ok((current.settings, Some(live)))
        }
    }
}

/// The reconciler of validated `settings`, with the ownership rules `env` implies, talking
/// through clients built from `sdk`.
pub fn reconciler_for(
    settings: Settings,
    env: &HashMap<String, String>,
    sdk: aws_config::SdkConfig,
) -> Reconciler {
    Reconciler::new(Arc::new(settings), sdk, ownership_for(env))
}

/// The AWS SDK configuration, loaded once per process: aws-config's default chain, so
/// endpoint overrides such as `AWS_ENDPOINT_URL_EKS` apply, with `timeouts` on every call of
/// every client made from it.
pub async fn load_sdk_config(timeouts: AwsTimeouts) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts.sdk_config())
        .load()
        .await
}
