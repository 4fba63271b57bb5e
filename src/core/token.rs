//! The EKS bearer token: a presigned STS `GetCallerIdentity` URL, wrapped as `k8s-aws-v1.`.
//!
//! This module owns the pure part of cluster authentication, exactly what `aws eks get-token`
//! and aws-iam-authenticator produce (aws-facts §3): credentials, region, cluster name and
//! signing time in, URL and token out. Signing is done by `aws-sigv4` (presigned query
//! signing); nothing here reads the clock, the environment or the network.
//!
//! It deliberately does not know about SDK endpoint overrides (`AWS_ENDPOINT_URL_STS`, VPC
//! endpoints): the token is verified by the cluster, never fetched by us, so it always names
//! the partition's regional STS host, the one EKS accepts. Fetching credentials, assuming
//! roles and caching tokens belong to the adapter in `crate::token_source`.

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SessionTokenMode, SignableBody, SignableRequest, SignatureLocation, SigningError,
    SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::core::names::{Partition, is_cluster_name, partition_of_region};

/// Every EKS token starts with this prefix, followed by the unpadded base64url URL.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The header naming the cluster; it is signed, so a token only works for its cluster.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// `X-Amz-Expires` of the presigned URL, as awscli writes it (the server ignores it).
pub const URL_EXPIRES_IN: Duration = Duration::from_secs(60);
/// How long the server accepts a token after its `X-Amz-Date`.
pub const SERVER_VALIDITY: Duration = Duration::from_secs(15 * 60);
/// The lifetime a client may advertise (ExecCredential `expirationTimestamp`).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);
/// The largest token the server accepts.
pub const MAX_TOKEN_LEN: usize = 4096;

const STS_QUERY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
const SIGNING_SERVICE: &str = "sts";

/// SigV4 query encoding: everything but the RFC 3986 unreserved characters is escaped.
const SIGV4_QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Why no token could be minted (or a string is not a token).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{region:?} is not an AWS region name")]
    InvalidRegion { region: String },
    #[error(
        "region {region} is in partition {partition}, whose STS host eks-iam-sync does not know"
    )]
    UnsupportedPartition {
        region: String,
        partition: &'static str,
    },
    #[error(
        "{cluster:?} is not an EKS cluster name (1-100 letters, digits, '-' or '_', starting with a letter or digit)"
    )]
    InvalidClusterName { cluster: String },
    #[error("the signing parameters were rejected")]
    SigningParams(#[source] v4::signing_params::BuildError),
    #[error("signing the STS GetCallerIdentity request failed")]
    Sign(#[source] SigningError),
    #[error("the token is {len} bytes, more than the {MAX_TOKEN_LEN} the server accepts")]
    TooLong { len: usize },
    #[error("not an EKS token (expected {TOKEN_PREFIX} followed by unpadded base64url)")]
    NotAToken,
}

/// The partition a region belongs to, from the region's name alone (the table is
/// [`crate::core::names::PARTITIONS`]).
///
/// # Errors
/// [`TokenError::InvalidRegion`] for a string that is not shaped like a region,
/// [`TokenError::UnsupportedPartition`] for the aws-iso-e/-f and EU sovereign cloud
/// partitions, whose STS host names this crate does not vouch for.
pub fn partition_of(region: &str) -> Result<&'static Partition, TokenError> {
    let partition = partition_of_region(region).ok_or_else(|| TokenError::InvalidRegion {
        region: region.to_owned(),
    })?;
    match partition.dns_suffix() {
        Some(_) => Ok(partition),
        None => Err(TokenError::UnsupportedPartition {
            region: region.to_owned(),
            partition: partition.name(),
        }),
    }
}

/// The regional STS host a token for `region` must name, e.g. `sts.eu-west-1.amazonaws.com`.
///
/// # Errors
/// As [`partition_of`].
pub fn sts_host(region: &str) -> Result<String, TokenError> {
    let partition = partition_of(region)?;
    let suffix = partition.dns_suffix().unwrap_or_default();
    Ok(format!("sts.{region}.{suffix}"))
}

/// Checks a cluster name (or an Outposts local cluster id) against EKS's naming rule
/// ([`is_cluster_name`]).
///
/// # Errors
/// [`TokenError::InvalidClusterName`] when it breaks the rule.
pub fn validate_cluster_name(cluster: &str) -> Result<(), TokenError> {
    if is_cluster_name(cluster) {
        Ok(())
    } else {
        Err(TokenError::InvalidClusterName {
            cluster: cluster.to_owned(),
        })
    }
}

/// A minted EKS bearer token. Its `Debug` output never shows the token or the URL.
#[derive(Clone, PartialEq, Eq)]
pub struct EksToken {
    token: String,
    url: String,
    signed_at: SystemTime,
}

impl EksToken {
    /// The bearer token, `k8s-aws-v1.<base64url>`.
    pub fn as_str(&self) -> &str {
        &self.token
    }

    /// The presigned STS URL inside the token.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The signing time (`X-Amz-Date`).
    pub fn signed_at(&self) -> SystemTime {
        self.signed_at
    }

    /// When the server stops accepting the token (`X-Amz-Date` + 15 minutes).
    pub fn server_expiry(&self) -> SystemTime {
        self.signed_at + SERVER_VALIDITY
    }
}

impl fmt::Debug for EksToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EksToken")
            .field(
                "token",
                &format_args!("** redacted ({} bytes) **", self.token.len()),
            )
            .field("signed_at", &self.signed_at)
            .finish()
    }
}

/// Mints the token `aws eks get-token --cluster-name <cluster> --region <region>` would
/// produce with these credentials at `signing_time`.
///
/// # Errors
/// An invalid region or cluster name, a partition without a known STS host, a signing
/// failure, or a token over 4096 bytes (a session token far larger than STS issues).
pub fn mint(
    credentials: &Credentials,
    region: &str,
    cluster: &str,
    signing_time: SystemTime,
) -> Result<EksToken, TokenError> {
    let host = sts_host(region)?;
    validate_cluster_name(cluster)?;
    let base = format!("https://{host}/?{STS_QUERY}");

    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(URL_EXPIRES_IN);
    // botocore signs X-Amz-Security-Token as part of the canonical query.
    settings.session_token_mode = SessionTokenMode::Include;
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SIGNING_SERVICE)
        .time(signing_time)
        .settings(settings)
        .build()
        .map_err(TokenError::SigningParams)?
        .into();
    let request = SignableRequest::new(
        "GET",
        base.as_str(),
        std::iter::once((CLUSTER_ID_HEADER, cluster)),
        SignableBody::Bytes(&[]),
    )
    .map_err(TokenError::Sign)?;
    // aws-sigv4 traces the canonical request, whose query holds X-Amz-Security-Token in
    // presigned mode: silence tracing for the signing call so no secret reaches a log.
    let signed =
        tracing::dispatcher::with_default(&tracing::Dispatch::none(), || sign(request, &params))
            .map_err(TokenError::Sign)?;
    let (instructions, _signature) = signed.into_parts();

    // Same order as botocore (signature last), so our tokens equal awscli's byte for byte.
    let mut query: Vec<_> = instructions.params().iter().collect();
    query.sort_by_key(|(name, _)| *name == "X-Amz-Signature");
    let mut url = base;
    for (name, value) in query {
        url.push('&');
        url.push_str(name);
        url.push('=');
        url.extend(utf8_percent_encode(value, SIGV4_QUERY_VALUE));
    }
    let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(url.as_bytes()));
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLong { len: token.len() });
    }
    Ok(EksToken {
        token,
        url,
        signed_at: signing_time,
    })
}

/// The presigned URL inside a token: strips `k8s-aws-v1.` and decodes the base64url, as
/// the server does before checking it.
///
/// # Errors
/// [`TokenError::NotAToken`] when the prefix is missing or the rest is not unpadded
/// base64url of UTF-8 text.
pub fn decode(token: &str) -> Result<String, TokenError> {
    let encoded = token
        .strip_prefix(TOKEN_PREFIX)
        .ok_or(TokenError::NotAToken)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| TokenError::NotAToken)?;
    String::from_utf8(bytes).map_err(|_| TokenError::NotAToken)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::new("AKIDEXAMPLE", "secret", None, None, "test")
    }

    #[test]
    fn partitions_follow_the_region_name() {
        let cases = [
            ("us-east-1", "sts.us-east-1.amazonaws.com"),
            ("ap-southeast-7", "sts.ap-southeast-7.amazonaws.com"),
            ("cn-north-1", "sts.cn-north-1.amazonaws.com.cn"),
            ("us-gov-west-1", "sts.us-gov-west-1.amazonaws.com"),
            ("us-iso-east-1", "sts.us-iso-east-1.c2s.ic.gov"),
            ("us-isob-east-1", "sts.us-isob-east-1.sc2s.sgov.gov"),
        ];
        for (region, host) in cases {
            assert_eq!(sts_host(region).unwrap(), host, "{region}");
        }
    }

    #[test]
    fn unknown_partitions_and_malformed_regions_are_typed_errors() {
        for region in ["eu-isoe-west-1", "us-isof-south-1", "eusc-de-east-1"] {
            assert!(
                matches!(
                    partition_of(region),
                    Err(TokenError::UnsupportedPartition { .. })
                ),
                "{region}"
            );
        }
        for region in [
            "",
            "us-east",
            "US-EAST-1",
            "us_east_1",
            "us-east-1a",
            "x-east-1",
            "us--1",
        ] {
            assert!(
                matches!(partition_of(region), Err(TokenError::InvalidRegion { .. })),
                "{region:?}"
            );
        }
    }

    #[test]
    fn cluster_names_follow_the_eks_rule() {
        for ok in ["a", "prod", "team-a_01", &"x".repeat(100)] {
            validate_cluster_name(ok).unwrap();
        }
        for bad in ["", "-prod", "_x", "a b", "a/b", "ä", &"x".repeat(101)] {
            assert!(validate_cluster_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_output_hides_the_token() {
        let token = mint(&creds(), "us-east-1", "prod", SystemTime::UNIX_EPOCH).unwrap();
        let debug = format!("{token:?}");
        assert!(!debug.contains(TOKEN_PREFIX), "{debug}");
        assert!(!debug.contains("X-Amz-Signature"), "{debug}");
    }

    #[test]
    fn oversized_session_tokens_are_refused() {
        let huge = Credentials::new("AKID", "secret", Some("t".repeat(3000)), None, "test");
        let err = mint(&huge, "us-east-1", "prod", SystemTime::UNIX_EPOCH).unwrap_err();
        assert!(matches!(err, TokenError::TooLong { len } if len > MAX_TOKEN_LEN));
    }

    #[test]
    fn decode_inverts_the_encoding_and_rejects_other_strings() {
        let token = mint(&creds(), "eu-west-1", "prod", SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(decode(token.as_str()).unwrap(), token.url());
        assert!(decode("Bearer abc").is_err());
        assert!(decode("k8s-aws-v1.!!!").is_err());
    }
}
