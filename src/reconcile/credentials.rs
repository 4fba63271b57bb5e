//! Who we are on a cluster: the EKS token source per cluster (cached for the life of the
//! reconciler, so a warm Lambda re-signs only near expiry) and the identity that must never
//! lose access (the assumed role, else our own caller identity, read once).
//!
//! This module mints and remembers; it does not talk to Kubernetes or decide anything.

use std::sync::Arc;

use aws_sdk_sts::error::{DisplayErrorContext, SdkError};
use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;

use crate::core::names::{ArnError, account_of, canonical_principal_arn};
use crate::core::settings::Cluster;
use crate::token_source::{TokenSource, TokenSourceError};

use super::Reconciler;

/// Why no token source could be set up for a cluster.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("no AWS credentials are configured")]
    NoCredentials,
    /// The cluster's region cannot be signed for (no known STS host).
    #[error("{0}")]
    Region(#[source] TokenSourceError),
}

/// Why our own identity (the one guards protect) is unknown.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("sts:GetCallerIdentity: {}", DisplayErrorContext(&.0))]
    CallerIdentity(#[source] Box<SdkError<GetCallerIdentityError>>),
    #[error("sts:GetCallerIdentity returned no ARN")]
    NoArn,
    /// STS returned an ARN that is not a principal we can protect.
    #[error("{0}")]
    Arn(#[source] ArnError),
}

impl Reconciler {
    /// The cluster's token source, signing as the cluster's EKS client does; made once per
    /// cluster and kept.
    pub(super) async fn token_source(
        &self,
        cluster: &Cluster,
    ) -> Result<Arc<TokenSource>, SignerError> {
        let mut tokens = self.tokens.lock().await;
        if let Some(source) = tokens.get(&cluster.name) {
            return Ok(source.clone());
        }
        let credentials = self
            .eks
            .credentials_for(cluster)
            .ok_or(SignerError::NoCredentials)?;
        let source = Arc::new(
            TokenSource::from_provider(credentials, &cluster.region)
                .map_err(SignerError::Region)?,
        );
        tokens.insert(cluster.name.clone(), source.clone());
        Ok(source)
    }

    /// The identity that must never lose access on `cluster`: the assumed role when there is
    /// one, else our own (sts:GetCallerIdentity, canonicalized).
    pub(super) async fn protected_identity(
        &self,
        cluster: &Cluster,
    ) -> Result<String, IdentityError> {
        if let Some(role) = &cluster.assume_role_arn {
            return Ok(role.as_str().to_owned());
        }
        self.own_identity().await
    }

    /// Our own identity (sts:GetCallerIdentity, canonicalized), read once per reconciler:
    /// for the CLI, the operator's, which the change history records as the actor.
    pub async fn own_identity(&self) -> Result<String, IdentityError> {
        self.identity
            .get_or_try_init(|| async {
                let arn = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| IdentityError::CallerIdentity(Box::new(e)))?
                    .arn
                    .ok_or(IdentityError::NoArn)?;
                canonical_principal_arn(&arn)
                    .map(|c| c.arn)
                    .map_err(IdentityError::Arn)
            })
            .await
            .cloned()
    }

    /// The function's own account: that of our caller identity (sts:GetCallerIdentity, read
    /// at most once per reconciler and shared with the identity guards protect). Event routing
    /// compares events' accounts with it.
    pub async fn own_account(&self) -> Result<String, IdentityError> {
        let arn = self.own_identity().await?;
        Ok(account_of(&arn).unwrap_or_default().to_owned())
    }
}
