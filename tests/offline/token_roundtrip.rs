//! Round trip: mint a token, then check it the way the cluster does (aws-facts §3).
//!
//! `verify` below is a test-side model of aws-iam-authenticator's `Verify` plus STS's
//! signature check, written from the rules, not from our signer: decode, https only, an STS
//! host of the partition, path `/`, only the allowed query keys each once
//! (case-insensitively), Action, signed `x-k8s-aws-id`, 0 ≤ X-Amz-Expires ≤ 900, X-Amz-Date
//! no older than 15 minutes, and a signature recomputed with the *server's* cluster id.
//! The model is itself tested against tampered tokens so it cannot pass vacuously.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eks_iam_sync::core::token::{self, MAX_TOKEN_LEN};
use proptest::prelude::*;

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const ALLOWED: [&str; 9] = [
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

#[derive(Debug, PartialEq)]
enum Reject {
    Encoding,
    NotHttps,
    Host(String),
    Path,
    UnknownKey(String),
    DuplicateKey(String),
    Action,
    ClusterHeaderNotSigned,
    Expires,
    Date,
    Expired,
    Signature,
}

fn decode_query_value(v: &str) -> String {
    percent_encoding::percent_decode_str(v)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

fn sts_suffix_of_partition(partition: &str) -> &'static str {
    match partition {
        "aws" | "aws-us-gov" => ".amazonaws.com",
        "aws-cn" => ".amazonaws.com.cn",
        _ => unreachable!(),
    }
}

/// The server's view: `cluster` is the server's own cluster id, `now` its clock.
fn verify(
    token: &str,
    partition: &str,
    cluster: &str,
    now: SystemTime,
    session_token: Option<&str>,
) -> Result<(), Reject> {
    let encoded = token.strip_prefix("k8s-aws-v1.").ok_or(Reject::Encoding)?;
    let url = URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(Reject::Encoding)?;
    let rest = url.strip_prefix("https://").ok_or(Reject::NotHttps)?;
    let (authority, path_query) = rest.split_at(rest.find('/').ok_or(Reject::Path)?);
    if !(authority.starts_with("sts.")
        && authority.ends_with(sts_suffix_of_partition(partition))
        && authority
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'))
    {
        return Err(Reject::Host(authority.to_owned()));
    }
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    if path != "/" {
        return Err(Reject::Path);
    }
    let mut params: Vec<(String, String)> = Vec::new();
    for kv in query.split('&') {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let key = decode_query_value(k);
        let lower = key.to_ascii_lowercase();
        if !ALLOWED.contains(&lower.as_str()) {
            return Err(Reject::UnknownKey(key));
        }
        if params.iter().any(|(k, _)| k.eq_ignore_ascii_case(&key)) {
            return Err(Reject::DuplicateKey(key));
        }
        params.push((key, decode_query_value(v)));
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if get("Action") != Some("GetCallerIdentity") {
        return Err(Reject::Action);
    }
    let signed = get("X-Amz-SignedHeaders").unwrap_or_default();
    if !signed.split(';').any(|h| h == "x-k8s-aws-id") {
        return Err(Reject::ClusterHeaderNotSigned);
    }
    let expires: i64 = get("X-Amz-Expires")
        .and_then(|e| e.parse().ok())
        .ok_or(Reject::Expires)?;
    if !(0..=900).contains(&expires) {
        return Err(Reject::Expires);
    }
    let date = get("X-Amz-Date").ok_or(Reject::Date)?;
    let signed_at = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", date)
        .map_err(|_| Reject::Date)?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|_| Reject::Date)?
        .timestamp();
    let signed_at = SystemTime::from(signed_at);
    if now > signed_at + Duration::from_secs(15 * 60) {
        return Err(Reject::Expired);
    }

    // STS: recompute the signature with the credential scope of the URL and the server's
    // own x-k8s-aws-id header.
    let credential = get("X-Amz-Credential").ok_or(Reject::Signature)?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [akid, _day, region, "sts", "aws4_request"] = scope[..] else {
        return Err(Reject::Signature);
    };
    if get("X-Amz-Security-Token") != session_token {
        return Err(Reject::Signature);
    }
    let creds = Credentials::new(akid, SECRET, session_token.map(str::to_owned), None, "sts");
    let identity = creds.into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(expires.unsigned_abs()));
    let params_v4 = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(signed_at)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let base = format!("https://{authority}/?Action=GetCallerIdentity&Version=2011-06-15");
    let request = SignableRequest::new(
        "GET",
        base.as_str(),
        std::iter::once(("x-k8s-aws-id", cluster)),
        SignableBody::Bytes(&[]),
    )
    .unwrap();
    let (_, expected) = sign(request, &params_v4).unwrap().into_parts();
    if get("X-Amz-Signature") != Some(expected.as_str()) {
        return Err(Reject::Signature);
    }
    Ok(())
}

fn at(rfc3339: &str) -> SystemTime {
    SystemTime::from(rfc3339.parse::<jiff::Timestamp>().unwrap())
}

fn creds(session: Option<&str>) -> Credentials {
    Credentials::new(AKID, SECRET, session.map(str::to_owned), None, "test")
}

/// A session token shaped like STS's: long base64 with '/', '+' and '='.
fn session_token(len: usize) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s: String = (0..len - 2)
        .map(|i| alphabet[(i * 7 + 3) % alphabet.len()] as char)
        .collect();
    s.push_str("==");
    s
}

/// Replaces the decoded URL inside a token (for tampering).
fn retoken(url: &str) -> String {
    format!("k8s-aws-v1.{}", URL_SAFE_NO_PAD.encode(url))
}

#[test]
fn minted_tokens_pass_every_server_rule_in_every_partition() {
    let now = at("2026-01-02T03:04:05Z");
    let session = session_token(1200);
    for (region, partition) in [
        ("us-east-1", "aws"),
        ("ap-southeast-2", "aws"),
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
    ] {
        for cluster in ["prod", "team-a_staging-01", &"c".repeat(100)] {
            for session in [None, Some(session.as_str())] {
                let t = token::mint(&creds(session), region, cluster, now).unwrap();
                assert!(t.as_str().len() <= MAX_TOKEN_LEN);
                assert!(!t.as_str().contains('='), "padding in {region}");
                verify(t.as_str(), partition, cluster, now, session)
                    .unwrap_or_else(|r| panic!("{region} {cluster}: {r:?}"));
            }
        }
    }
}

#[test]
fn the_url_has_exactly_the_documented_shape() {
    let t = token::mint(
        &creds(None),
        "eu-west-1",
        "prod",
        at("2026-01-02T03:04:05Z"),
    )
    .unwrap();
    assert_eq!(
        t.url(),
        "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15\
         &X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIDEXAMPLE%2F20260102%2Feu-west-1%2Fsts%2Faws4_request\
         &X-Amz-Date=20260102T030405Z&X-Amz-Expires=60\
         &X-Amz-SignedHeaders=host%3Bx-k8s-aws-id\
         &X-Amz-Signature="
            .to_owned()
            + t.url().rsplit_once('=').unwrap().1
    );
    assert_eq!(token::decode(t.as_str()).unwrap(), t.url());
}

#[test]
fn a_token_for_one_cluster_is_rejected_by_another() {
    let now = at("2026-01-02T03:04:05Z");
    let t = token::mint(&creds(None), "us-east-1", "prod", now).unwrap();
    assert_eq!(
        verify(t.as_str(), "aws", "staging", now, None),
        Err(Reject::Signature)
    );
}

#[test]
fn tokens_are_accepted_for_fifteen_minutes_after_signing() {
    let signed = at("2026-01-02T03:04:05Z");
    let t = token::mint(&creds(None), "us-east-1", "prod", signed).unwrap();
    let fifteen = Duration::from_secs(15 * 60);
    assert_eq!(t.server_expiry(), signed + fifteen);
    verify(t.as_str(), "aws", "prod", signed + fifteen, None).unwrap();
    assert_eq!(
        verify(
            t.as_str(),
            "aws",
            "prod",
            signed + fifteen + Duration::from_secs(1),
            None
        ),
        Err(Reject::Expired)
    );
}

#[test]
fn session_token_realistic_sizes_fit_in_4096_bytes() {
    let now = at("2026-01-02T03:04:05Z");
    // Role-chained sessions with tags carry the longest tokens STS issues (~2 KB).
    let session = session_token(2000);
    let t = token::mint(
        &creds(Some(&session)),
        "us-gov-west-1",
        &"c".repeat(100),
        now,
    )
    .unwrap();
    assert!(t.as_str().len() <= MAX_TOKEN_LEN, "{}", t.as_str().len());
    verify(
        t.as_str(),
        "aws-us-gov",
        &"c".repeat(100),
        now,
        Some(&session),
    )
    .unwrap();
}

#[test]
fn the_server_model_rejects_tampered_tokens() {
    let now = at("2026-01-02T03:04:05Z");
    let t = token::mint(&creds(None), "us-east-1", "prod", now).unwrap();
    let url = t.url().to_owned();
    let cases: Vec<(String, Reject)> = vec![
        ("Bearer x".to_owned(), Reject::Encoding),
        (
            retoken(&url.replacen("https://", "http://", 1)),
            Reject::NotHttps,
        ),
        (
            retoken(&url.replacen("sts.us-east-1.amazonaws.com", "sts.evil.example", 1)),
            Reject::Host("sts.evil.example".to_owned()),
        ),
        (
            retoken(&url.replacen(
                "sts.us-east-1.amazonaws.com",
                "sts.cn-north-1.amazonaws.com.cn",
                1,
            )),
            Reject::Host("sts.cn-north-1.amazonaws.com.cn".to_owned()),
        ),
        (retoken(&url.replacen(".com/?", ".com/x?", 1)), Reject::Path),
        (
            retoken(&format!("{url}&Foo=1")),
            Reject::UnknownKey("Foo".to_owned()),
        ),
        (
            retoken(&format!("{url}&action=GetCallerIdentity")),
            Reject::DuplicateKey("action".to_owned()),
        ),
        (
            retoken(&url.replacen("GetCallerIdentity", "AssumeRole", 1)),
            Reject::Action,
        ),
        (
            retoken(&url.replacen("host%3Bx-k8s-aws-id", "host", 1)),
            Reject::ClusterHeaderNotSigned,
        ),
        (
            retoken(&url.replacen("X-Amz-Expires=60", "X-Amz-Expires=901", 1)),
            Reject::Expires,
        ),
        (
            retoken(&url.replacen("X-Amz-Date=20260102T030405Z", "X-Amz-Date=yesterday", 1)),
            Reject::Date,
        ),
        (
            retoken(&url.replacen(
                "X-Amz-Date=20260102T030405Z",
                "X-Amz-Date=20260102T030406Z",
                1,
            )),
            Reject::Signature,
        ),
    ];
    for (tampered, reject) in cases {
        assert_eq!(verify(&tampered, "aws", "prod", now, None), Err(reject));
    }
    verify(&retoken(&url), "aws", "prod", now, None).unwrap();
}

proptest! {
    #[test]
    fn minting_never_panics_and_valid_input_always_verifies(
        cluster in "[A-Za-z0-9][A-Za-z0-9_-]{0,99}|\\PC{0,120}",
        region in "(us|eu|cn|ap)-(east|west|gov-west|north)-[1-9]|\\PC{0,20}",
        secs in 0u64..4_000_000_000,
    ) {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        if let Ok(t) = token::mint(&creds(None), &region, &cluster, now) {
            let partition = match region.split('-').collect::<Vec<_>>()[..] {
                ["cn", ..] => "aws-cn",
                ["us", "gov", ..] => "aws-us-gov",
                _ => "aws",
            };
            prop_assert_eq!(verify(t.as_str(), partition, &cluster, now, None), Ok(()));
        }
    }
}
