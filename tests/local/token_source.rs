//! The token source: cache rules under a hand-set clock, credential refresh, and role
//! assumption against moto (STS stand-in on 127.0.0.1).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::token_support::{AKID, ManualClock, Moto, SECRET, param};
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use eks_iam_sync::core::token;
use eks_iam_sync::token_source::{REUSE_FOR, TokenSource, TokenSourceError};

const MIN: Duration = Duration::from_secs(60);

/// Hands out `AKID<n>` on the n-th call, each expiring `lifetime` after `clock`'s now.
#[derive(Debug)]
struct CountingProvider {
    calls: Arc<Calls>,
    clock: Arc<ManualClock>,
    lifetime: Option<Duration>,
    fail: bool,
}

/// How often the provider was asked, readable after the provider moved into the source.
#[derive(Debug, Default)]
struct Calls(AtomicUsize);

impl Calls {
    fn calls(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl ProvideCredentials for CountingProvider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let n = self.calls.0.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            return future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(
                "nothing configured",
            )));
        }
        use eks_iam_sync::token_source::Clock;
        let expiry = self.lifetime.map(|l| self.clock.now() + l);
        future::ProvideCredentials::ready(Ok(Credentials::new(
            format!("AKID{n}"),
            SECRET,
            None,
            expiry,
            "counting",
        )))
    }
}

fn setup(lifetime: Option<Duration>) -> (TokenSource, Arc<Calls>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::at("2026-01-02T03:04:05Z"));
    let calls = Arc::new(Calls::default());
    let provider = CountingProvider {
        calls: calls.clone(),
        clock: clock.clone(),
        lifetime,
        fail: false,
    };
    let source = TokenSource::from_provider(SharedCredentialsProvider::new(provider), "eu-west-1")
        .unwrap()
        .with_clock(clock.clone());
    (source, calls, clock)
}

fn access_key_of(issued_token: &str) -> String {
    let url = token::decode(issued_token).unwrap();
    let credential = param(&url, "X-Amz-Credential").unwrap();
    credential.split('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_token_is_reused_until_twelve_minutes_then_renewed() {
    let (source, provider, clock) = setup(None);
    let first = source.token("prod").await.unwrap();
    assert_eq!(first.expires_at(), first.signed_at() + 14 * MIN);

    clock.advance(REUSE_FOR - Duration::from_secs(1));
    let again = source.token("prod").await.unwrap();
    assert_eq!(again.token(), first.token(), "reused within 12 minutes");

    clock.advance(Duration::from_secs(1));
    let renewed = source.token("prod").await.unwrap();
    assert_ne!(renewed.token(), first.token(), "renewed at 12 minutes");
    assert_eq!(renewed.signed_at(), first.signed_at() + REUSE_FOR);
    assert!(REUSE_FOR < token::TOKEN_LIFETIME);
    assert_eq!(
        provider.calls(),
        1,
        "static credentials are read once per 15 minutes"
    );
}

#[tokio::test]
async fn each_cluster_has_its_own_token() {
    let (source, provider, _clock) = setup(None);
    let prod = source.token("prod").await.unwrap();
    let staging = source.token("staging").await.unwrap();
    assert_ne!(prod.token(), staging.token());
    assert_eq!(source.token("prod").await.unwrap().token(), prod.token());
    assert_eq!(provider.calls(), 1);
}

#[tokio::test]
async fn new_credentials_mean_a_new_token_even_inside_the_reuse_window() {
    // Credentials valid for 10 minutes are refreshed 5 minutes before they expire.
    let (source, provider, clock) = setup(Some(10 * MIN));
    let first = source.token("prod").await.unwrap();
    assert_eq!(access_key_of(first.token()), "AKID0");
    assert_eq!(
        first.expires_at(),
        first.signed_at() + 10 * MIN,
        "never advertised past the credentials' expiry"
    );

    clock.advance(4 * MIN);
    assert_eq!(source.token("prod").await.unwrap().token(), first.token());

    clock.advance(2 * MIN);
    let second = source.token("prod").await.unwrap();
    assert_eq!(provider.calls(), 2);
    assert_eq!(access_key_of(second.token()), "AKID1");
}

#[tokio::test]
async fn undated_credentials_are_reread_after_fifteen_minutes() {
    let (source, provider, clock) = setup(None);
    source.token("prod").await.unwrap();
    clock.advance(15 * MIN);
    let later = source.token("prod").await.unwrap();
    assert_eq!(provider.calls(), 2);
    assert_eq!(access_key_of(later.token()), "AKID1");
}

#[tokio::test]
async fn a_clock_that_jumps_back_gets_a_fresh_token() {
    let (source, _provider, clock) = setup(None);
    let first = source.token("prod").await.unwrap();
    clock.rewind(MIN);
    let second = source.token("prod").await.unwrap();
    assert_eq!(second.signed_at(), first.signed_at() - MIN);
}

#[tokio::test]
async fn tokens_name_the_regional_sts_host_and_the_cluster() {
    let (source, _provider, clock) = setup(None);
    let issued = source.token("prod").await.unwrap();
    let url = token::decode(issued.token()).unwrap();
    assert!(
        url.starts_with("https://sts.eu-west-1.amazonaws.com/?"),
        "{url}"
    );
    assert_eq!(param(&url, "X-Amz-Date").unwrap(), "20260102T030405Z");
    use eks_iam_sync::token_source::Clock;
    assert_eq!(issued.signed_at(), clock.now());
}

#[tokio::test]
async fn errors_are_typed_and_bad_cluster_names_fail_before_any_credentials_call() {
    let (source, provider, _clock) = setup(None);
    let err = source.token("not a cluster").await.unwrap_err();
    assert!(matches!(
        err,
        TokenSourceError::Token(token::TokenError::InvalidClusterName { .. })
    ));
    assert_eq!(provider.calls(), 0);

    let failing = CountingProvider {
        calls: Arc::default(),
        clock: Arc::new(ManualClock::at("2026-01-02T03:04:05Z")),
        lifetime: None,
        fail: true,
    };
    let source =
        TokenSource::from_provider(SharedCredentialsProvider::new(failing), "us-east-1").unwrap();
    let err = source.token("prod").await.unwrap_err();
    assert!(matches!(err, TokenSourceError::NoCredentials(_)), "{err:?}");
    assert!(
        err.to_string().starts_with("no AWS credentials found"),
        "{err}"
    );

    let err = TokenSource::from_provider(
        SharedCredentialsProvider::new(Credentials::for_tests()),
        "eu-isoe-west-1",
    )
    .unwrap_err();
    assert!(matches!(
        err,
        TokenSourceError::Token(token::TokenError::UnsupportedPartition { .. })
    ));
}

#[tokio::test]
async fn a_configuration_without_region_is_a_typed_error() {
    let config = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .credentials_provider(SharedCredentialsProvider::new(Credentials::for_tests()))
        .build();
    assert!(matches!(
        TokenSource::new(&config, None),
        Err(TokenSourceError::NoRegion)
    ));
}

#[tokio::test]
async fn role_assumption_signs_with_the_role_and_keeps_the_regional_sts_host() {
    let moto = Moto::start();
    let config = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            AKID, SECRET, None, None, "static",
        )))
        .build();
    let role = "arn:aws:iam::210987654321:role/eks-admin";
    let clock = Arc::new(ManualClock::at("2026-01-02T03:04:05Z"));
    let source = TokenSource::new(&config, Some(role.to_owned()))
        .unwrap()
        .with_clock(clock.clone());

    let issued = source.token("prod").await.unwrap();
    let url = token::decode(issued.token()).unwrap();
    assert!(
        url.starts_with("https://sts.us-west-2.amazonaws.com/?"),
        "the endpoint override must not leak into the token: {url}"
    );
    let role_key = access_key_of(issued.token());
    assert_ne!(role_key, AKID, "signed with the role's credentials");
    assert!(param(&url, "X-Amz-Security-Token").is_some());
    assert_eq!(
        moto.caller_arn(&role_key),
        "arn:aws:sts::210987654321:assumed-role/eks-admin/eks-iam-sync-1767323045"
    );

    // The role's credentials are cached with the token: no second AssumeRole.
    clock.advance(13 * MIN);
    let renewed = source.token("prod").await.unwrap();
    assert_ne!(renewed.token(), issued.token());
    assert_eq!(access_key_of(renewed.token()), role_key);

    // An STS that cannot be reached is a typed AssumeRole error naming the role.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = config
        .to_builder()
        .endpoint_url(format!("http://127.0.0.1:{closed_port}"))
        .build();
    let err = TokenSource::new(&unreachable, Some(role.to_owned()))
        .unwrap()
        .token("prod")
        .await
        .unwrap_err();
    assert!(
        matches!(err, TokenSourceError::AssumeRole { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(role), "{err}");
}
