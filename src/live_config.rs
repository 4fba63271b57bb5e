//! The configuration of a Lambda instance (or a CLI run) when it is kept in AWS
//! (`EKS_IAM_SYNC_CONFIG=ssm:/...` or `s3://...`): read once, then checked once per run and
//! read again only when its version changed.
//!
//! # Expected flow
//! Each run asks [`LiveConfig::current`]: one version check ([`ConfigStore::probe`]: SSM
//! GetParameter, S3 HeadObject); when the version is the one loaded, the loaded outcome is
//! used without parsing; when it changed ([`needs_reread`]), the text is read (S3 GetObject;
//! SSM's probe already brought it), parsed and validated, and replaces the loaded one.
//!
//! # Guarantees
//! - A run never uses a configuration older than the version the source reports: when the
//!   new version is invalid, or the source cannot be read (deleted, denied, throttled), the
//!   run fails with the error naming the source, and the previous configuration is *not*
//!   used to make writes. Whoever changed the configuration may have revoked access; going
//!   on with the old one would grant it again. The error is kept with its version, so an
//!   unchanged invalid version is not parsed again either; the next version is.
//! - At most one version check per run, and one read when the version changed.
//!
//! # Errors
//! [`LiveError`]: the store's error (`ssm:/x: ParameterNotFound`) or the configuration's
//! (`s3://b/k (YAML): line 3 column 5: ...`, every validation problem).

use std::sync::Arc;

use crate::aws::config_store::{ConfigStore, StoreError};
use crate::config::{self, ConfigError, Remote, Version, needs_reread};
use crate::core::settings::Settings;

/// Why a run has no configuration to work with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The source's current version does not parse or validate.
    #[error(transparent)]
    Invalid(Arc<ConfigError>),
}

impl LiveError {
    /// Trying again later may help (throttling, timeouts); an invalid configuration will not.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LiveError::Store(StoreError::Call {
                retryable: true,
                ..
            })
        )
    }
}

/// The configuration of this run, and whether it differs from the previous run's.
#[derive(Debug, Clone)]
pub struct Current {
    pub settings: Arc<Settings>,
    /// A new version was read (always true on the first read).
    pub changed: bool,
}

/// One version of the source and what it gave.
#[derive(Debug)]
struct Loaded {
    version: Version,
    outcome: Result<Arc<Settings>, Arc<ConfigError>>,
}

/// A remote configuration source and the version of it this instance has loaded.
#[derive(Debug)]
pub struct LiveConfig {
    remote: Remote,
    store: ConfigStore,
    loaded: tokio::sync::Mutex<Option<Loaded>>,
}

impl LiveConfig {
    /// Nothing is read until the first [`LiveConfig::current`].
    pub fn new(remote: Remote, store: ConfigStore) -> LiveConfig {
        LiveConfig {
            remote,
            store,
            loaded: tokio::sync::Mutex::new(None),
        }
    }

    /// The source, as written (`ssm:/x`, `s3://b/k`).
    pub fn remote(&self) -> &Remote {
        &self.remote
    }

    /// This run's configuration (see the module's flow and guarantees).
    pub async fn current(&self) -> Result<Current, LiveError> {
        let mut loaded = self.loaded.lock().await;
        let probe = self.store.probe(&self.remote).await?;
        if let Some(same) = loaded
            .as_ref()
            .filter(|l| !needs_reread(Some(&l.version), &probe.version))
        {
            return match &same.outcome {
                Ok(settings) => Ok(Current {
                    settings: settings.clone(),
                    changed: false,
                }),
                Err(error) => Err(LiveError::Invalid(error.clone())),
            };
        }
        let (version, text) = match probe.text {
            Some(text) => (probe.version, text),
            None => self.store.fetch(&self.remote).await?,
        };
        let outcome = self.parse(&text);
        tracing::info!(source = %self.remote, %version, valid = outcome.is_ok(), "configuration read");
        let result = match &outcome {
            Ok(settings) => Ok(Current {
                settings: settings.clone(),
                changed: true,
            }),
            Err(error) => Err(LiveError::Invalid(error.clone())),
        };
        *loaded = Some(Loaded { version, outcome });
        result
    }

    fn parse(&self, text: &str) -> Result<Arc<Settings>, Arc<ConfigError>> {
        let format = match &self.remote {
            Remote::S3 { key, .. } => config::format_of_name(key),
            Remote::Ssm { .. } => None,
        };
        config::from_text(text, &self.remote.to_string(), format)
            .map(Arc::new)
            .map_err(Arc::new)
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::operation::get_object::GetObjectOutput;
    use aws_sdk_s3::operation::head_object::HeadObjectOutput;
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_ssm::operation::get_parameter::GetParameterOutput;
    use aws_sdk_ssm::types::Parameter;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    fn text(cluster: &str) -> String {
        format!("clusters:\n  - name: {cluster}\n    region: eu-west-3\n")
    }

    const INVALID: &str = "clusters:\n  - name: prod\n    region: eu-west-3a\n";

    fn parameter(value: String, version: i64) -> GetParameterOutput {
        GetParameterOutput::builder()
            .parameter(Parameter::builder().value(value).version(version).build())
            .build()
    }

    fn ssm_config(rule: &aws_smithy_mocks::Rule) -> LiveConfig {
        LiveConfig::new(
            Remote::Ssm { name: "/c".into() },
            ConfigStore::with_clients(
                mock_client!(aws_sdk_ssm, [rule]),
                mock_client!(aws_sdk_s3, []),
            ),
        )
    }

    fn cluster_of(current: &Current) -> &str {
        &current.settings.clusters[0].name
    }

    #[tokio::test]
    async fn ssm_a_new_version_is_taken_an_unchanged_one_is_kept() {
        let get = mock!(aws_sdk_ssm::Client::get_parameter)
            .sequence()
            .output(|| parameter(text("one"), 1))
            .output(|| parameter(text("ignored: same version"), 1))
            .output(|| parameter(text("two"), 2))
            .build();
        let live = ssm_config(&get);
        let first = live.current().await.unwrap();
        assert_eq!((cluster_of(&first), first.changed), ("one", true));
        let same = live.current().await.unwrap();
        assert_eq!(
            (cluster_of(&same), same.changed),
            ("one", false),
            "not re-parsed"
        );
        assert!(Arc::ptr_eq(&first.settings, &same.settings));
        let next = live.current().await.unwrap();
        assert_eq!((cluster_of(&next), next.changed), ("two", true));
        assert_eq!(get.num_calls(), 3, "one GetParameter per run");
    }

    #[tokio::test]
    async fn an_invalid_new_version_fails_the_run_and_the_old_one_is_not_used() {
        let get = mock!(aws_sdk_ssm::Client::get_parameter)
            .sequence()
            .output(|| parameter(text("one"), 1))
            .output(|| parameter(INVALID.to_owned(), 2))
            .output(|| parameter(INVALID.to_owned(), 2))
            .output(|| parameter(text("three"), 3))
            .build();
        let live = ssm_config(&get);
        live.current().await.unwrap();
        for _ in 0..2 {
            let error = live.current().await.unwrap_err();
            assert!(
                error.to_string().starts_with("ssm:/c: 1 problem(s)"),
                "{error}"
            );
            assert!(!error.is_retryable());
        }
        let fixed = live.current().await.unwrap();
        assert_eq!((cluster_of(&fixed), fixed.changed), ("three", true));
    }

    #[tokio::test]
    async fn a_source_that_cannot_be_read_fails_the_run() {
        let get = mock!(aws_sdk_ssm::Client::get_parameter)
            .sequence()
            .output(|| parameter(text("one"), 1))
            .error(|| {
                aws_sdk_ssm::operation::get_parameter::GetParameterError::ParameterNotFound(
                    aws_sdk_ssm::types::error::ParameterNotFound::builder().build(),
                )
            })
            .build();
        let live = ssm_config(&get);
        live.current().await.unwrap();
        let error = live.current().await.unwrap_err();
        assert!(
            error.to_string().starts_with("ssm:/c: ParameterNotFound"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn s3_one_head_object_per_run_and_get_object_only_when_the_etag_changed() {
        let head = mock!(aws_sdk_s3::Client::head_object)
            .sequence()
            .output(|| HeadObjectOutput::builder().e_tag("\"a\"").build())
            .output(|| HeadObjectOutput::builder().e_tag("\"a\"").build())
            .output(|| HeadObjectOutput::builder().e_tag("\"b\"").build())
            .build();
        let get = mock!(aws_sdk_s3::Client::get_object)
            .sequence()
            .output(|| {
                GetObjectOutput::builder()
                    .e_tag("\"a\"")
                    .body(ByteStream::from(text("one").into_bytes()))
                    .build()
            })
            .output(|| {
                GetObjectOutput::builder()
                    .e_tag("\"b\"")
                    .body(ByteStream::from(text("two").into_bytes()))
                    .build()
            })
            .build();
        let live = LiveConfig::new(
            Remote::S3 {
                bucket: "b".into(),
                key: "config.yaml".into(),
            },
            ConfigStore::with_clients(
                mock_client!(aws_sdk_ssm, []),
                mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&head, &get]),
            ),
        );
        assert_eq!(cluster_of(&live.current().await.unwrap()), "one");
        let same = live.current().await.unwrap();
        assert_eq!((cluster_of(&same), same.changed), ("one", false));
        assert_eq!(get.num_calls(), 1, "an unchanged ETag is not read again");
        assert_eq!(cluster_of(&live.current().await.unwrap()), "two");
        assert_eq!((head.num_calls(), get.num_calls()), (3, 2));
    }
}
