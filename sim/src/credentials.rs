//! The simulator's table of test credentials: access key id → secret, optional session
//! token and the principal ARN that STS GetCallerIdentity would return for it.
//!
//! This plays the part of STS for token verification. It does not talk to moto: the harness
//! registers the identities it creates there (flags, a JSON file or `POST /_sim/credentials`);
//! temporary credentials made at run time (AssumeRole) are [`crate::sts`]'s.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::arn::{ArnError, PrincipalArn};

/// One set of test credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCredential {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Present for temporary credentials; a token signed with these must carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    /// What GetCallerIdentity returns: `arn:aws:iam::A:user/..` or
    /// `arn:aws:sts::A:assumed-role/NAME/SESSION`.
    pub arn: String,
    /// The value of `{{EC2PrivateDNSName}}` for node roles (EKS looks it up in EC2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2_private_dns_name: Option<String>,
}

/// Why a credential cannot be registered.
#[derive(Debug, Error)]
pub enum CredentialError {
    #[error("credential {0:?}: expected ACCESS_KEY_ID:SECRET_ACCESS_KEY:PRINCIPAL_ARN")]
    Format(String),
    #[error("credential {access_key_id}: access key id and secret must not be empty")]
    Empty { access_key_id: String },
    #[error("credential {access_key_id}: bad principal ARN")]
    Arn {
        access_key_id: String,
        #[source]
        source: ArnError,
    },
    #[error(
        "credential {access_key_id}: principal must be a user, assumed role or root, not a role ARN (STS never returns one)"
    )]
    RoleArn { access_key_id: String },
}

impl TestCredential {
    /// Parses the `--credential ACCESS_KEY_ID:SECRET_ACCESS_KEY:PRINCIPAL_ARN` flag form.
    pub fn parse_flag(s: &str) -> Result<Self, CredentialError> {
        let mut parts = s.splitn(3, ':');
        let (Some(ak), Some(sk), Some(arn)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CredentialError::Format(s.to_owned()));
        };
        let cred = Self {
            access_key_id: ak.to_owned(),
            secret_access_key: sk.to_owned(),
            session_token: None,
            arn: arn.to_owned(),
            ec2_private_dns_name: None,
        };
        cred.validate()?;
        Ok(cred)
    }

    /// Checks the fields; the ARN must be one STS could return as a caller.
    pub fn validate(&self) -> Result<(), CredentialError> {
        if self.access_key_id.is_empty() || self.secret_access_key.is_empty() {
            return Err(CredentialError::Empty {
                access_key_id: self.access_key_id.clone(),
            });
        }
        let arn = PrincipalArn::parse(&self.arn).map_err(|source| CredentialError::Arn {
            access_key_id: self.access_key_id.clone(),
            source,
        })?;
        if arn.kind == crate::arn::PrincipalKind::Role {
            return Err(CredentialError::RoleArn {
                access_key_id: self.access_key_id.clone(),
            });
        }
        Ok(())
    }
}

/// All registered credentials, by access key id. Registering a key again replaces it.
#[derive(Debug, Default, Clone)]
pub struct Credentials {
    by_key: BTreeMap<String, TestCredential>,
}

impl Credentials {
    pub fn insert(&mut self, cred: TestCredential) -> Result<(), CredentialError> {
        cred.validate()?;
        self.by_key.insert(cred.access_key_id.clone(), cred);
        Ok(())
    }

    pub fn get(&self, access_key_id: &str) -> Option<&TestCredential> {
        self.by_key.get(access_key_id)
    }

    pub fn remove(&mut self, access_key_id: &str) -> Option<TestCredential> {
        self.by_key.remove(access_key_id)
    }

    pub fn all(&self) -> impl Iterator<Item = &TestCredential> {
        self.by_key.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_form_keeps_colons_of_the_arn() {
        let c =
            TestCredential::parse_flag("AKIA1:s3cr/et:arn:aws:iam::012345678901:user/a").unwrap();
        assert_eq!(c.arn, "arn:aws:iam::012345678901:user/a");
        assert_eq!(c.secret_access_key, "s3cr/et");
    }

    #[test]
    fn role_arns_and_garbage_are_rejected() {
        assert!(TestCredential::parse_flag("AKIA1:s:arn:aws:iam::012345678901:role/r").is_err());
        assert!(TestCredential::parse_flag("AKIA1:s").is_err());
        assert!(TestCredential::parse_flag("AKIA1::arn:aws:iam::012345678901:user/a").is_err());
    }
}
