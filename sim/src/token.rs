//! EKS bearer-token verification, rule by rule as aws-iam-authenticator (`pkg/token`
//! Verify) and STS do it: the `k8s-aws-v1.` prefix, the 4096-byte limit, unpadded
//! base64url, an https presigned GetCallerIdentity URL for an STS host of the partition,
//! path `/`, only the whitelisted query keys each once, a signed `x-k8s-aws-id`, the
//! 15-minute validity from X-Amz-Date, and finally the SigV4 signature recomputed from the
//! credential table with THIS cluster's name as the `x-k8s-aws-id` value.
//!
//! It returns who the caller is (STS's answer); mapping that to a Kubernetes user is
//! [`crate::identity`]'s job.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::{SignedDuration, Timestamp};
use percent_encoding::percent_decode_str;
use thiserror::Error;

use crate::credentials::{Credentials, TestCredential};
use crate::sigv4;

/// The token prefix of `aws eks get-token` and aws-iam-authenticator.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The authenticator's limit on the whole token, prefix included.
pub const MAX_TOKEN_BYTES: usize = 4096;
/// How long a presigned URL is accepted after its X-Amz-Date, whatever X-Amz-Expires says.
pub const VALIDITY: SignedDuration = SignedDuration::from_secs(15 * 60);
/// The query keys the authenticator allows (compared in lower case).
const ALLOWED_KEYS: [&str; 9] = [
    "action",
    "version",
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-security-token",
    "x-amz-signature",
    "x-amz-signedheaders",
];

/// Every way a token is refused. All of them become 401 Unauthorized.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("no Authorization header")]
    MissingHeader,
    #[error("Authorization scheme is not Bearer")]
    Scheme,
    #[error("token does not start with {TOKEN_PREFIX}")]
    Prefix,
    #[error("token is {0} bytes, more than {MAX_TOKEN_BYTES}")]
    TooLong(usize),
    #[error("token is not unpadded base64url: {0}")]
    Base64(String),
    #[error("presigned URL does not parse: {0}")]
    Url(String),
    #[error("presigned URL scheme is {0:?}, not https")]
    NotHttps(String),
    #[error("presigned URL host {0:?} is not an STS host of the aws partition")]
    Host(String),
    #[error("presigned URL path is {0:?}, not /")]
    Path(String),
    #[error("presigned URL has a fragment or user info")]
    Extras,
    #[error("query does not parse: {0}")]
    Query(String),
    #[error("non-whitelisted query parameter {0:?}")]
    NotWhitelisted(String),
    #[error("query parameter {0:?} appears more than once")]
    Duplicate(String),
    #[error("unexpected Action parameter {0:?}")]
    Action(String),
    #[error("unexpected Version parameter {0:?}")]
    Version(String),
    #[error("client did not sign the x-k8s-aws-id header")]
    ClusterHeaderNotSigned,
    #[error("invalid X-Amz-Expires {0:?}")]
    Expires(String),
    #[error("X-Amz-Date missing or malformed: {0:?}")]
    Date(String),
    #[error("X-Amz-Date {0} is expired (15 minute validity)")]
    Expired(String),
    #[error("X-Amz-Date {0} is in the future")]
    NotYetValid(String),
    #[error("unsupported X-Amz-Algorithm {0:?}")]
    Algorithm(String),
    #[error("malformed X-Amz-Credential {0:?}")]
    Credential(String),
    #[error("credential scope {0:?} does not match the date, the host's region or service sts")]
    Scope(String),
    #[error("the security token included in the request is invalid (unknown access key {0})")]
    UnknownAccessKey(String),
    #[error("session token missing, unexpected or wrong for access key {0}")]
    SessionToken(String),
    #[error("signature does not match (wrong secret, cluster name or signed content)")]
    Signature,
}

/// The caller, as STS GetCallerIdentity would answer for a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCaller {
    pub access_key_id: String,
    pub arn: String,
    pub ec2_private_dns_name: Option<String>,
}

/// Extracts the token from an `Authorization: Bearer …` header value.
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, TokenError> {
    let value = authorization.ok_or(TokenError::MissingHeader)?;
    let (scheme, token) = value.split_once(' ').ok_or(TokenError::Scheme)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(TokenError::Scheme);
    }
    Ok(token.trim())
}

/// The signing region of an STS host of the aws partition, or `None` if it is not one.
fn sts_host_region(host: &str) -> Option<String> {
    if host == "sts.amazonaws.com" {
        return Some("us-east-1".to_owned());
    }
    let rest = host
        .strip_prefix("sts.")
        .or_else(|| host.strip_prefix("sts-fips."))?;
    let region = rest.strip_suffix(".amazonaws.com")?;
    let parts: Vec<&str> = region.split('-').collect();
    let well_formed = parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty();
    // China, GovCloud and ISO regions belong to other partitions.
    let other_partition =
        parts[0] == "cn" || (parts.len() > 1 && parts[1] == "gov") || region.starts_with("us-iso");
    (well_formed && !other_partition).then(|| region.to_owned())
}

fn decode_component(s: &str) -> Result<String, TokenError> {
    let bytes = s.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return Err(TokenError::Query(format!("invalid escape in {s:?}")));
        }
    }
    let plus_as_space = s.replace('+', " ");
    percent_decode_str(&plus_as_space)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|e| TokenError::Query(e.to_string()))
}

/// Parses a raw query like Go's `url.ParseQuery`: `&`-separated, `;` refused.
fn parse_query(raw: &str) -> Result<Vec<(String, String)>, TokenError> {
    if raw.contains(';') {
        return Err(TokenError::Query("invalid semicolon separator".to_owned()));
    }
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode_component(k)?, decode_component(v)?))
        })
        .collect()
}

fn parse_amz_date(s: &str) -> Result<Timestamp, TokenError> {
    let bad = || TokenError::Date(s.to_owned());
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i32, TokenError> {
        let part = &s[r];
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse().map_err(|_| bad())
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, sec) = (num(9..11)?, num(11..13)?, num(13..15)?);
    let dt = jiff::civil::DateTime::new(
        i16::try_from(y).map_err(|_| bad())?,
        i8::try_from(mo).map_err(|_| bad())?,
        i8::try_from(d).map_err(|_| bad())?,
        i8::try_from(h).map_err(|_| bad())?,
        i8::try_from(mi).map_err(|_| bad())?,
        i8::try_from(sec).map_err(|_| bad())?,
        0,
    )
    .map_err(|_| bad())?;
    dt.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .map_err(|_| bad())
}

/// A token's presigned GetCallerIdentity request, checked in everything but the signature.
struct Presigned {
    host: String,
    region: String,
    pairs: Vec<(String, String)>,
    /// Query keys in lower case.
    seen: std::collections::BTreeMap<String, String>,
    signed_headers: Vec<String>,
    amz_date: String,
    scope: String,
    access_key_id: String,
}

impl Presigned {
    fn get(&self, key: &str) -> &str {
        self.seen.get(key).map(String::as_str).unwrap_or_default()
    }

    fn session_token(&self) -> Option<&str> {
        self.seen.get("x-amz-security-token").map(String::as_str)
    }
}

/// Verifies `token` for the cluster named `cluster_name` at time `now`.
pub fn verify(
    token: &str,
    cluster_name: &str,
    credentials: &Credentials,
    now: Timestamp,
) -> Result<VerifiedCaller, TokenError> {
    let p = presigned(token, now)?;
    let access_key_id = p.access_key_id.as_str();
    let cred: &TestCredential = credentials
        .get(access_key_id)
        .ok_or_else(|| TokenError::UnknownAccessKey(access_key_id.to_owned()))?;
    if p.session_token() != cred.session_token.as_deref() {
        return Err(TokenError::SessionToken(access_key_id.to_owned()));
    }
    let mut headers = Vec::with_capacity(p.signed_headers.len());
    for name in &p.signed_headers {
        let value = match name.as_str() {
            "host" => p.host.clone(),
            "x-k8s-aws-id" => cluster_name.to_owned(),
            // The authenticator forwards only these two headers to STS.
            _ => return Err(TokenError::Signature),
        };
        headers.push((name.clone(), value));
    }
    let unsigned: Vec<(String, String)> = p
        .pairs
        .iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .cloned()
        .collect();
    let query = sigv4::canonical_query(&unsigned);
    let amz_date = p.amz_date.as_str();
    let key = sigv4::signing_key(&cred.secret_access_key, &amz_date[..8], &p.region, "sts");
    let presented = p.get("x-amz-signature");
    let matches = [sigv4::UNSIGNED_PAYLOAD, sigv4::EMPTY_PAYLOAD_SHA256]
        .iter()
        .any(|payload| {
            let creq = sigv4::canonical_request("GET", "/", &query, &headers, payload);
            let sts = sigv4::string_to_sign(amz_date, &p.scope, &creq);
            sigv4::constant_time_eq(&sigv4::signature(&key, &sts), presented)
        });
    if !matches {
        return Err(TokenError::Signature);
    }
    Ok(VerifiedCaller {
        access_key_id: access_key_id.to_owned(),
        arn: cred.arn.clone(),
        ec2_private_dns_name: cred.ec2_private_dns_name.clone(),
    })
}

/// The access key and session token of a token that passes every check [`verify`] makes
/// before looking the key up: for temporary credentials eks-sim was not given, whose holder
/// STS names ([`crate::sts`]) and whose signature eks-sim cannot check (it has no secret).
pub fn unverified_credentials(
    token: &str,
    now: Timestamp,
) -> Result<(String, Option<String>), TokenError> {
    let p = presigned(token, now)?;
    Ok((
        p.access_key_id.clone(),
        p.session_token().map(str::to_owned),
    ))
}

/// Every check of `token` up to the credential lookup: prefix, size, URL, query, dates, scope.
fn presigned(token: &str, now: Timestamp) -> Result<Presigned, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLong(token.len()));
    }
    let encoded = token.strip_prefix(TOKEN_PREFIX).ok_or(TokenError::Prefix)?;
    let raw = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|e| TokenError::Base64(e.to_string()))?;
    let url_text = String::from_utf8(raw).map_err(|e| TokenError::Url(e.to_string()))?;
    let url = url::Url::parse(&url_text).map_err(|e| TokenError::Url(e.to_string()))?;
    if url.scheme() != "https" {
        return Err(TokenError::NotHttps(url.scheme().to_owned()));
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(TokenError::Extras);
    }
    let host = url.host_str().unwrap_or_default().to_owned();
    let region = match (sts_host_region(&host), url.port()) {
        (Some(r), None) => r,
        _ => return Err(TokenError::Host(host)),
    };
    if url.path() != "/" {
        return Err(TokenError::Path(url.path().to_owned()));
    }
    let pairs = parse_query(url.query().unwrap_or_default())?;
    let mut seen = std::collections::BTreeMap::<String, String>::new();
    for (k, v) in &pairs {
        let lower = k.to_ascii_lowercase();
        if !ALLOWED_KEYS.contains(&lower.as_str()) {
            return Err(TokenError::NotWhitelisted(k.clone()));
        }
        if seen.insert(lower, v.clone()).is_some() {
            return Err(TokenError::Duplicate(k.clone()));
        }
    }
    let get = |k: &str| seen.get(k).map(String::as_str).unwrap_or_default();
    if get("action") != "GetCallerIdentity" {
        return Err(TokenError::Action(get("action").to_owned()));
    }
    if get("version") != "2011-06-15" {
        return Err(TokenError::Version(get("version").to_owned()));
    }
    let signed_headers: Vec<String> = get("x-amz-signedheaders")
        .split(';')
        .map(str::to_owned)
        .collect();
    if !signed_headers.iter().any(|h| h == "x-k8s-aws-id") {
        return Err(TokenError::ClusterHeaderNotSigned);
    }
    let expires = get("x-amz-expires");
    match expires.parse::<i64>() {
        Ok(n) if (0..=900).contains(&n) => {}
        _ => return Err(TokenError::Expires(expires.to_owned())),
    }
    let amz_date = get("x-amz-date");
    let signed_at = parse_amz_date(amz_date)?;
    if now > signed_at + VALIDITY {
        return Err(TokenError::Expired(amz_date.to_owned()));
    }
    if signed_at > now + VALIDITY {
        return Err(TokenError::NotYetValid(amz_date.to_owned()));
    }
    // From here on, STS's part: the signature.
    if get("x-amz-algorithm") != "AWS4-HMAC-SHA256" {
        return Err(TokenError::Algorithm(get("x-amz-algorithm").to_owned()));
    }
    let credential = get("x-amz-credential");
    let (access_key_id, scope) = credential
        .split_once('/')
        .ok_or_else(|| TokenError::Credential(credential.to_owned()))?;
    let scope_parts: Vec<&str> = scope.split('/').collect();
    if scope_parts.len() != 4
        || scope_parts[0] != &amz_date[..8]
        || scope_parts[1] != region
        || scope_parts[2] != "sts"
        || scope_parts[3] != "aws4_request"
    {
        return Err(TokenError::Scope(scope.to_owned()));
    }
    Ok(Presigned {
        host,
        region,
        pairs,
        signed_headers,
        amz_date: amz_date.to_owned(),
        scope: scope.to_owned(),
        access_key_id: access_key_id.to_owned(),
        seen,
    })
}

/// Builds a token exactly as `aws eks get-token` does, with this module's own signer.
/// For the simulator's unit tests and for tools that need a token without awscli; the
/// integration tests use botocore's tokens as the independent reference.
pub fn mint(cred: &TestCredential, cluster_name: &str, region: &str, at: Timestamp) -> String {
    let host = format!("sts.{region}.amazonaws.com");
    let amz_date = at.strftime("%Y%m%dT%H%M%SZ").to_string();
    let scope = format!("{}/{region}/sts/aws4_request", &amz_date[..8]);
    let mut pairs = vec![
        ("Action".to_owned(), "GetCallerIdentity".to_owned()),
        ("Version".to_owned(), "2011-06-15".to_owned()),
        ("X-Amz-Algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned()),
        (
            "X-Amz-Credential".to_owned(),
            format!("{}/{scope}", cred.access_key_id),
        ),
        ("X-Amz-Date".to_owned(), amz_date.clone()),
        ("X-Amz-Expires".to_owned(), "60".to_owned()),
        (
            "X-Amz-SignedHeaders".to_owned(),
            "host;x-k8s-aws-id".to_owned(),
        ),
    ];
    if let Some(t) = &cred.session_token {
        pairs.push(("X-Amz-Security-Token".to_owned(), t.clone()));
    }
    let query = sigv4::canonical_query(&pairs);
    let headers = vec![
        ("host".to_owned(), host.clone()),
        ("x-k8s-aws-id".to_owned(), cluster_name.to_owned()),
    ];
    let creq = sigv4::canonical_request("GET", "/", &query, &headers, sigv4::UNSIGNED_PAYLOAD);
    let key = sigv4::signing_key(&cred.secret_access_key, &amz_date[..8], region, "sts");
    let sig = sigv4::signature(&key, &sigv4::string_to_sign(&amz_date, &scope, &creq));
    let url = format!("https://{host}/?{query}&X-Amz-Signature={sig}");
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> (Credentials, TestCredential) {
        let cred = TestCredential {
            access_key_id: "AKIAEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: None,
            arn: "arn:aws:iam::012345678901:user/alice".into(),
            ec2_private_dns_name: None,
        };
        let mut creds = Credentials::default();
        creds.insert(cred.clone()).unwrap();
        (creds, cred)
    }

    #[test]
    fn own_token_round_trips_and_is_bound_to_the_cluster() {
        let (creds, cred) = table();
        let now = Timestamp::now();
        let t = mint(&cred, "one", "us-east-1", now);
        assert_eq!(verify(&t, "one", &creds, now).unwrap().arn, cred.arn);
        assert_eq!(verify(&t, "two", &creds, now), Err(TokenError::Signature));
    }

    #[test]
    fn tokens_expire_fifteen_minutes_after_signing() {
        let (creds, cred) = table();
        let at = Timestamp::now();
        let t = mint(&cred, "one", "us-east-1", at);
        let late = at + SignedDuration::from_secs(15 * 60 + 1);
        assert!(matches!(
            verify(&t, "one", &creds, late),
            Err(TokenError::Expired(_))
        ));
    }

    #[test]
    fn sts_hosts_of_other_partitions_and_lookalikes_are_refused() {
        assert_eq!(
            sts_host_region("sts.eu-west-1.amazonaws.com").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            sts_host_region("sts.amazonaws.com").as_deref(),
            Some("us-east-1")
        );
        assert_eq!(sts_host_region("sts.cn-north-1.amazonaws.com"), None);
        assert_eq!(sts_host_region("sts.us-gov-west-1.amazonaws.com"), None);
        assert_eq!(sts_host_region("sts.amazonaws.com.evil.com"), None);
        assert_eq!(sts_host_region("sts.evil.com"), None);
    }

    /// Each mutation must be refused by ITS rule, before the signature is looked at.
    #[test]
    fn each_rule_fires_on_its_own_mutation() {
        let (creds, cred) = table();
        let now = Timestamp::now();
        let url = String::from_utf8(
            URL_SAFE_NO_PAD
                .decode(
                    mint(&cred, "one", "us-east-1", now)
                        .strip_prefix(TOKEN_PREFIX)
                        .unwrap(),
                )
                .unwrap(),
        )
        .unwrap();
        let check = |u: String| {
            verify(
                &format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(u)),
                "one",
                &creds,
                now,
            )
            .unwrap_err()
        };
        assert!(matches!(
            check(url.replace("https://", "http://")),
            TokenError::NotHttps(_)
        ));
        assert!(matches!(
            check(url.replace(
                "sts.us-east-1.amazonaws.com",
                "sts.us-east-1.amazonaws.com:8443"
            )),
            TokenError::Host(_)
        ));
        assert!(matches!(
            check(url.replace(".com/?", ".com/x?")),
            TokenError::Path(_)
        ));
        assert!(matches!(
            check(format!("{url}&X=1")),
            TokenError::NotWhitelisted(_)
        ));
        assert!(matches!(
            check(format!("{url}&VERSION=2011-06-15")),
            TokenError::Duplicate(_)
        ));
        assert!(matches!(
            check(url.replace("X-Amz-Expires=60", "X-Amz-Expires=901")),
            TokenError::Expires(_)
        ));
        assert!(matches!(
            check(url.replace("X-Amz-Expires=60", "X-Amz-Expires=-1")),
            TokenError::Expires(_)
        ));
        assert!(matches!(
            check(url.replace("host%3Bx-k8s-aws-id", "host")),
            TokenError::ClusterHeaderNotSigned
        ));
        assert!(matches!(
            check(url.replace("X-Amz-Date=", "X-Amz-Datum=")),
            TokenError::NotWhitelisted(_)
        ));
        assert!(matches!(
            check(url.replace("GetCallerIdentity", "AssumeRole")),
            TokenError::Action(_)
        ));
        assert!(matches!(
            check(url.replace("us-east-1%2Fsts", "eu-west-1%2Fsts")),
            TokenError::Scope(_)
        ));
        assert!(matches!(check(format!("{url}#frag")), TokenError::Extras));
        assert!(matches!(check(format!("{url};")), TokenError::Query(_)));
        let future = mint(
            &cred,
            "one",
            "us-east-1",
            now + SignedDuration::from_secs(16 * 60),
        );
        assert!(matches!(
            verify(&future, "one", &creds, now),
            Err(TokenError::NotYetValid(_))
        ));
        let long = format!("{TOKEN_PREFIX}{}", "A".repeat(MAX_TOKEN_BYTES));
        assert!(matches!(
            verify(&long, "one", &creds, now),
            Err(TokenError::TooLong(_))
        ));
    }

    #[test]
    fn session_tokens_must_match_the_table() {
        let (mut creds, _) = table();
        let temp = TestCredential {
            access_key_id: "ASIATEMP".into(),
            secret_access_key: "s".into(),
            session_token: Some("tok".into()),
            arn: "arn:aws:sts::012345678901:assumed-role/R/s".into(),
            ec2_private_dns_name: None,
        };
        creds.insert(temp.clone()).unwrap();
        let now = Timestamp::now();
        assert!(verify(&mint(&temp, "one", "us-east-1", now), "one", &creds, now).is_ok());
        let wrong = TestCredential {
            session_token: Some("other".into()),
            ..temp.clone()
        };
        assert!(matches!(
            verify(&mint(&wrong, "one", "us-east-1", now), "one", &creds, now),
            Err(TokenError::SessionToken(_))
        ));
    }

    #[test]
    fn scheme_and_prefix_are_checked() {
        assert_eq!(bearer_token(Some("Basic abc")), Err(TokenError::Scheme));
        assert_eq!(bearer_token(Some("bearer abc")), Ok("abc"));
        let (creds, _) = table();
        assert_eq!(
            verify("k8s-aws-v2.abc", "one", &creds, Timestamp::now()),
            Err(TokenError::Prefix)
        );
    }
}
