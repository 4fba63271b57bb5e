//! Reading a configuration kept in AWS: an SSM parameter (GetParameter with decryption, so a
//! SecureString works) or an S3 object (HeadObject for its ETag, GetObject for its text).
//!
//! It decides nothing: [`ConfigStore::probe`] says which version the source holds now (for
//! SSM that one call brings the text too), [`ConfigStore::fetch`] reads the text. Whether to
//! read again is [`crate::config::needs_reread`]'s, keeping the instance's copy
//! [`crate::live_config`]'s. Errors name the source as it was written
//! (`ssm:/x: ParameterNotFound`, `s3://b/k: NoSuchKey`).

use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_ssm::operation::get_parameter::GetParameterError;

use super::{Failure, classify};
use crate::config::{Remote, Version};

/// Why a remote configuration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The call failed (not found, denied, throttled...): `source: Code: message`.
    #[error("{remote}: {message}")]
    Call {
        remote: Remote,
        message: String,
        /// Trying again later may work (throttling, a timeout, a 5xx).
        retryable: bool,
    },
    /// The answer had no version or no text, or the text is not UTF-8.
    #[error("{remote}: {why}")]
    Answer { remote: Remote, why: &'static str },
}

/// What [`ConfigStore::probe`] learned: the version, and the text when the same call gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub version: Version,
    pub text: Option<String>,
}

/// The SSM and S3 clients a remote configuration is read through.
#[derive(Debug, Clone)]
pub struct ConfigStore {
    ssm: aws_sdk_ssm::Client,
    s3: aws_sdk_s3::Client,
}

impl ConfigStore {
    /// Clients from the process's configuration (S3's as [`super::bucket::s3_client`] builds
    /// it).
    pub fn new(sdk: &aws_config::SdkConfig) -> ConfigStore {
        ConfigStore::with_clients(aws_sdk_ssm::Client::new(sdk), super::bucket::s3_client(sdk))
    }

    /// A store talking through these clients (tests pass mocked ones).
    pub fn with_clients(ssm: aws_sdk_ssm::Client, s3: aws_sdk_s3::Client) -> ConfigStore {
        ConfigStore { ssm, s3 }
    }

    /// The version `remote` holds now: one GetParameter (which also gives the text) or one
    /// HeadObject.
    pub async fn probe(&self, remote: &Remote) -> Result<Probe, StoreError> {
        match remote {
            Remote::Ssm { name } => {
                let (version, text) = self.parameter(remote, name).await?;
                Ok(Probe {
                    version,
                    text: Some(text),
                })
            }
            Remote::S3 { bucket, key } => {
                let head = self
                    .s3
                    .head_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| call_error(remote, &e, head_not_found(e.as_service_error())))?;
                let etag = head.e_tag.ok_or(StoreError::Answer {
                    remote: remote.clone(),
                    why: "HeadObject returned no ETag",
                })?;
                Ok(Probe {
                    version: Version::S3(etag),
                    text: None,
                })
            }
        }
    }

    /// The text of `remote` and its version (GetParameter, or GetObject).
    pub async fn fetch(&self, remote: &Remote) -> Result<(Version, String), StoreError> {
        match remote {
            Remote::Ssm { name } => self.parameter(remote, name).await,
            Remote::S3 { bucket, key } => {
                let object = self
                    .s3
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| call_error(remote, &e, get_not_found(e.as_service_error())))?;
                let answer = |why| StoreError::Answer {
                    remote: remote.clone(),
                    why,
                };
                let etag = object.e_tag.ok_or(answer("GetObject returned no ETag"))?;
                let bytes = object
                    .body
                    .collect()
                    .await
                    .map_err(|_| answer("the object's body could not be read"))?
                    .into_bytes();
                let text = String::from_utf8(bytes.to_vec())
                    .map_err(|_| answer("the object is not UTF-8 text"))?;
                Ok((Version::S3(etag), text))
            }
        }
    }

    async fn parameter(
        &self,
        remote: &Remote,
        name: &str,
    ) -> Result<(Version, String), StoreError> {
        let answer = self
            .ssm
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| call_error(remote, &e, parameter_not_found(e.as_service_error())))?;
        let missing = |why| StoreError::Answer {
            remote: remote.clone(),
            why,
        };
        let parameter = answer
            .parameter
            .ok_or(missing("GetParameter returned no parameter"))?;
        let text = parameter
            .value
            .ok_or(missing("the parameter has no value"))?;
        Ok((Version::Ssm(parameter.version), text))
    }
}

/// Named by the variant, so the message does not depend on the error's metadata.
fn parameter_not_found(error: Option<&GetParameterError>) -> Option<&'static str> {
    matches!(error, Some(GetParameterError::ParameterNotFound(_)))
        .then_some("ParameterNotFound: no such parameter")
}

/// HeadObject's 404 has no body, so no error code: it is called what GetObject would say.
fn head_not_found(error: Option<&HeadObjectError>) -> Option<&'static str> {
    matches!(error, Some(HeadObjectError::NotFound(_)))
        .then_some("NoSuchKey: no such object (or no such bucket)")
}

fn get_not_found(error: Option<&GetObjectError>) -> Option<&'static str> {
    matches!(error, Some(GetObjectError::NoSuchKey(_))).then_some("NoSuchKey: no such object")
}

fn call_error<E>(
    remote: &Remote,
    error: &aws_sdk_ssm::error::SdkError<E, aws_sdk_ssm::config::http::HttpResponse>,
    not_found: Option<&str>,
) -> StoreError
where
    E: aws_sdk_ssm::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let (message, retryable) = match classify(error) {
        Failure::Throttled(m) | Failure::Transient(m) => (m, true),
        Failure::Denied(m) | Failure::Other(m) => (m, false),
    };
    StoreError::Call {
        remote: remote.clone(),
        message: not_found.map_or(message, str::to_owned),
        retryable,
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::operation::head_object::HeadObjectOutput;
    use aws_sdk_ssm::operation::get_parameter::GetParameterOutput;
    use aws_sdk_ssm::types::Parameter;
    use aws_smithy_mocks::{mock, mock_client};

    use super::*;

    fn ssm(name: &str) -> Remote {
        Remote::Ssm { name: name.into() }
    }

    fn store(ssm: aws_sdk_ssm::Client, s3: aws_sdk_s3::Client) -> ConfigStore {
        ConfigStore::with_clients(ssm, s3)
    }

    fn no_s3() -> aws_sdk_s3::Client {
        mock_client!(aws_sdk_s3, [])
    }

    fn no_ssm() -> aws_sdk_ssm::Client {
        mock_client!(aws_sdk_ssm, [])
    }

    #[tokio::test]
    async fn ssm_probe_reads_the_decrypted_value_and_its_version() {
        let get = mock!(aws_sdk_ssm::Client::get_parameter)
            .match_requests(|r| {
                r.name() == Some("/eks/config") && r.with_decryption() == Some(true)
            })
            .then_output(|| {
                GetParameterOutput::builder()
                    .parameter(
                        Parameter::builder()
                            .value("clusters: []\n")
                            .version(7)
                            .build(),
                    )
                    .build()
            });
        let store = store(mock_client!(aws_sdk_ssm, [&get]), no_s3());
        let probe = store.probe(&ssm("/eks/config")).await.unwrap();
        assert_eq!(probe.version, Version::Ssm(7));
        assert_eq!(probe.text.as_deref(), Some("clusters: []\n"));
        assert_eq!(get.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_missing_parameter_is_named_with_its_code() {
        let get = mock!(aws_sdk_ssm::Client::get_parameter).then_error(|| {
            GetParameterError::ParameterNotFound(
                aws_sdk_ssm::types::error::ParameterNotFound::builder().build(),
            )
        });
        let store = store(mock_client!(aws_sdk_ssm, [&get]), no_s3());
        let error = store.probe(&ssm("/x")).await.unwrap_err();
        assert!(
            error.to_string().starts_with("ssm:/x: ParameterNotFound"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn s3_probe_is_one_head_object_giving_the_etag() {
        let head = mock!(aws_sdk_s3::Client::head_object)
            .match_requests(|r| r.bucket() == Some("b") && r.key() == Some("k.yaml"))
            .then_output(|| HeadObjectOutput::builder().e_tag("\"abc\"").build());
        let store = store(no_ssm(), mock_client!(aws_sdk_s3, [&head]));
        let remote = Remote::S3 {
            bucket: "b".into(),
            key: "k.yaml".into(),
        };
        let probe = store.probe(&remote).await.unwrap();
        assert_eq!(probe.version, Version::S3("\"abc\"".into()));
        assert_eq!(probe.text, None, "HeadObject brings no text");
    }

    #[tokio::test]
    async fn a_missing_object_is_no_such_key() {
        let head = mock!(aws_sdk_s3::Client::head_object).then_error(|| {
            HeadObjectError::NotFound(aws_sdk_s3::types::error::NotFound::builder().build())
        });
        let store = store(no_ssm(), mock_client!(aws_sdk_s3, [&head]));
        let remote = Remote::S3 {
            bucket: "b".into(),
            key: "k".into(),
        };
        let error = store.probe(&remote).await.unwrap_err();
        assert!(
            error.to_string().starts_with("s3://b/k: NoSuchKey"),
            "{error}"
        );
    }
}
