//! One S3 bucket the function writes its own objects to: the review's reports (issue 22) and
//! the change history (issue 23). PutObject, ListObjectsV2 under a prefix, GetObject.
//!
//! It decides nothing (what to write, when a failure matters: the callers'). Errors name the
//! bucket and the key (`s3://bucket/key: AccessDenied: ...`), so a failed run says where.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_s3::primitives::ByteStream;

use super::{Failure, classify};

/// Why a bucket call failed: `s3://bucket/key: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("s3://{bucket}/{key}: {message}")]
pub struct BucketError {
    pub bucket: String,
    /// The key, or the prefix of a listing.
    pub key: String,
    pub message: String,
}

/// An S3 bucket and the calls made to it.
#[derive(Debug, Clone)]
pub struct Bucket {
    s3: aws_sdk_s3::Client,
    name: String,
    calls: Arc<AtomicU64>,
}

/// An S3 client from the process's configuration, with path-style addresses when an endpoint
/// override is set (`AWS_ENDPOINT_URL`: a local S3 such as moto has no bucket hostnames).
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

impl Bucket {
    /// `name` through `s3`.
    pub fn new(s3: aws_sdk_s3::Client, name: &str) -> Bucket {
        Bucket {
            s3,
            name: name.to_owned(),
            calls: Arc::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// S3 calls made so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    fn error<E>(
        &self,
        key: &str,
        error: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> BucketError
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        let message = match classify(error) {
            Failure::Throttled(m)
            | Failure::Transient(m)
            | Failure::Denied(m)
            | Failure::Other(m) => m,
        };
        BucketError {
            bucket: self.name.clone(),
            key: key.to_owned(),
            message,
        }
    }

    /// Writes `body` at `key` (server-side encrypted with the bucket's default key).
    pub async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), BucketError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.s3
            .put_object()
            .bucket(&self.name)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| self.error(key, &e))?;
        Ok(())
    }

    /// Every key under `prefix`, in S3's (lexicographic) order.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, BucketError> {
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.name)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            self.calls.fetch_add(1, Ordering::Relaxed);
            let page = page.map_err(|e| self.error(prefix, &e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        Ok(keys)
    }

    /// The object at `key`.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, BucketError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let object = self
            .s3
            .get_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
            .map_err(|e| self.error(key, &e))?;
        let bytes = object.body.collect().await.map_err(|e| BucketError {
            bucket: self.name.clone(),
            key: key.to_owned(),
            message: format!("the object's body could not be read: {e}"),
        })?;
        Ok(bytes.into_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
    use aws_sdk_s3::operation::put_object::{PutObjectError, PutObjectOutput};
    use aws_sdk_s3::types::Object;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    #[tokio::test]
    async fn a_listing_follows_every_page() {
        let first = mock!(aws_sdk_s3::Client::list_objects_v2)
            .match_requests(|r| r.continuation_token().is_none() && r.prefix() == Some("h/prod/"))
            .then_output(|| {
                ListObjectsV2Output::builder()
                    .contents(Object::builder().key("h/prod/a.json").build())
                    .is_truncated(true)
                    .next_continuation_token("t")
                    .build()
            });
        let second = mock!(aws_sdk_s3::Client::list_objects_v2)
            .match_requests(|r| r.continuation_token() == Some("t"))
            .then_output(|| {
                ListObjectsV2Output::builder()
                    .contents(Object::builder().key("h/prod/b.json").build())
                    .is_truncated(false)
                    .build()
            });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&first, &second]);
        let bucket = Bucket::new(s3, "audit");
        assert_eq!(
            bucket.list("h/prod/").await.unwrap(),
            ["h/prod/a.json", "h/prod/b.json"]
        );
        assert_eq!(bucket.calls(), 2);
    }

    #[tokio::test]
    async fn a_failed_put_names_the_bucket_and_key() {
        let put = mock!(aws_sdk_s3::Client::put_object).then_error(|| {
            PutObjectError::generic(
                aws_sdk_s3::error::ErrorMetadata::builder()
                    .code("NoSuchBucket")
                    .message("The specified bucket does not exist")
                    .build(),
            )
        });
        let bucket = Bucket::new(mock_client!(aws_sdk_s3, [&put]), "audit");
        let error = bucket
            .put("h/k.json", b"{}".to_vec(), "application/json")
            .await;
        assert_eq!(
            error.unwrap_err().to_string(),
            "s3://audit/h/k.json: NoSuchBucket: The specified bucket does not exist"
        );
        let ok = mock!(aws_sdk_s3::Client::put_object)
            .match_requests(|r| r.content_type() == Some("application/json"))
            .then_output(|| PutObjectOutput::builder().build());
        let bucket = Bucket::new(mock_client!(aws_sdk_s3, [&ok]), "audit");
        bucket
            .put("k", b"{}".to_vec(), "application/json")
            .await
            .unwrap();
    }
}
