//! Where EKS bearer tokens come from at run time: AWS credentials in, cached tokens out.
//!
//! [`TokenSource`] is what the reconciler and the `token` command call. It resolves
//! credentials from aws-config's standard chain (environment, profile, web identity,
//! container, instance metadata), optionally assumes a role first (cross-account clusters),
//! mints the token with the pure [`crate::core::token::mint`], and caches one token per
//! (cluster, credential identity) so a reconcile loop does not sign on every request.
//!
//! Timing rules (aws-facts §3): the server accepts a token for 15 minutes after signing and
//! a client may advertise 14. A cached token is handed out only while it is younger than
//! [`REUSE_FOR`] (12 minutes), so every token returned has at least 3 minutes left on the
//! server, and never past its credentials' own expiry. The clock is injected ([`Clock`]) so
//! these rules are testable without waiting.
//!
//! Nothing here logs a token, a signature or a secret; values that hold them have redacting
//! `Debug` implementations.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_sts::error::{DisplayErrorContext, SdkError};
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use tokio::sync::Mutex;

use crate::aws::timeouts::AwsTimeouts;
use crate::core::token::{self, EksToken, TOKEN_LIFETIME, TokenError};

/// A cached token is reused while younger than this; then a new one is signed.
pub const REUSE_FOR: Duration = Duration::from_secs(12 * 60);
/// Credentials closer than this to their expiry are fetched again before signing.
pub const CREDENTIALS_MARGIN: Duration = Duration::from_secs(5 * 60);
/// Credentials without an expiry (static keys) are re-read from the chain this often.
pub const UNDATED_CREDENTIALS_TTL: Duration = Duration::from_secs(15 * 60);
/// A token is handed out only with at least this long left before its advertised expiry.
const MIN_REMAINING: Duration = TOKEN_LIFETIME.saturating_sub(REUSE_FOR);
/// Prefix of the AssumeRole session name, so CloudTrail shows who assumed the role.
pub const SESSION_NAME_PREFIX: &str = "eks-iam-sync-";

/// The time, injected so the cache rules can be tested.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> SystemTime;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Why no token could be produced.
#[derive(Debug, thiserror::Error)]
pub enum TokenSourceError {
    #[error("no AWS region: pass --region, or set AWS_REGION or `region` in the AWS profile")]
    NoRegion,
    #[error(
        "no AWS credentials found (environment, profile, web identity, container or instance metadata): {}",
        one_line(.0)
    )]
    NoCredentials(#[source] CredentialsError),
    #[error("could not assume role {role_arn}: {}", DisplayErrorContext(.source))]
    AssumeRole {
        role_arn: String,
        #[source]
        source: Box<SdkError<AssumeRoleError>>,
    },
    #[error("AssumeRole for {role_arn} returned no credentials")]
    AssumeRoleWithoutCredentials { role_arn: String },
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// An error and its sources on one line (provider chains nest several).
fn one_line(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.replace('\n', " ")
}

/// A token handed out by [`TokenSource::token`]. `Debug` never shows the token.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    token: EksToken,
    expires_at: SystemTime,
}

impl IssuedToken {
    /// The bearer token for the `Authorization: Bearer` header.
    pub fn token(&self) -> &str {
        self.token.as_str()
    }

    /// When it was signed.
    pub fn signed_at(&self) -> SystemTime {
        self.token.signed_at()
    }

    /// The expiry to advertise: signing time + 14 minutes, or the credentials' expiry if
    /// that comes first (STS rejects a URL signed with expired credentials).
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }
}

/// Where credentials come from: the chain itself, or a role assumed with it.
#[derive(Debug)]
enum Principal {
    Chain(SharedCredentialsProvider),
    Role {
        sts: aws_sdk_sts::Client,
        role_arn: String,
    },
}

#[derive(Debug)]
struct FetchedCredentials {
    credentials: Credentials,
    fetched_at: SystemTime,
}

#[derive(Debug)]
struct CachedToken {
    /// The access key id the token was signed with: the credential identity.
    identity: String,
    issued: IssuedToken,
}

#[derive(Debug, Default)]
struct State {
    credentials: Option<FetchedCredentials>,
    /// One entry per cluster; an entry signed by other credentials is stale.
    tokens: HashMap<String, CachedToken>,
}

/// Mints and caches EKS bearer tokens for one AWS identity (optionally an assumed role)
/// in one region. Cheap to share behind an `Arc`; concurrent callers wait for one refresh.
#[derive(Debug)]
pub struct TokenSource {
    region: String,
    principal: Principal,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl TokenSource {
    /// Loads aws-config's standard chain (region, credentials, endpoint overrides), with the
    /// default [`AwsTimeouts`] on its STS calls, and builds a source; `region` overrides the
    /// configured region.
    ///
    /// # Errors
    /// [`TokenSourceError::NoRegion`] when no region is given or configured.
    /// Missing credentials are only detected by the first [`TokenSource::token`] call.
    pub async fn from_env(
        region: Option<String>,
        role_arn: Option<String>,
    ) -> Result<TokenSource, TokenSourceError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(AwsTimeouts::default().sdk_config());
        if let Some(region) = region {
            loader = loader.region(Region::new(region));
        }
        let config = loader.load().await;
        TokenSource::new(&config, role_arn)
    }

    /// Builds a source from an already loaded SDK configuration. With `role_arn`, the
    /// configuration's credentials are used only to call STS AssumeRole (through the
    /// configuration's STS endpoint); tokens are signed with the role's credentials.
    ///
    /// # Errors
    /// [`TokenSourceError::NoRegion`] when the configuration has no region, and
    /// [`TokenSourceError::NoCredentials`] when it has no credentials provider at all.
    pub fn new(
        config: &SdkConfig,
        role_arn: Option<String>,
    ) -> Result<TokenSource, TokenSourceError> {
        let region = config
            .region()
            .map(|r| r.as_ref().to_owned())
            .filter(|r| !r.is_empty())
            .ok_or(TokenSourceError::NoRegion)?;
        token::sts_host(&region)?;
        let principal = match role_arn {
            Some(role_arn) => Principal::Role {
                sts: aws_sdk_sts::Client::new(config),
                role_arn,
            },
            None => Principal::Chain(config.credentials_provider().ok_or_else(|| {
                TokenSourceError::NoCredentials(CredentialsError::not_loaded_no_source())
            })?),
        };
        Ok(TokenSource {
            region,
            principal,
            clock: Arc::new(SystemClock),
            state: Mutex::new(State::default()),
        })
    }

    /// A source signing with whatever `provider` returns, in `region`.
    ///
    /// # Errors
    /// A region without a known STS host.
    pub fn from_provider(
        provider: SharedCredentialsProvider,
        region: &str,
    ) -> Result<TokenSource, TokenSourceError> {
        token::sts_host(region)?;
        Ok(TokenSource {
            region: region.to_owned(),
            principal: Principal::Chain(provider),
            clock: Arc::new(SystemClock),
            state: Mutex::new(State::default()),
        })
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> TokenSource {
        self.clock = clock;
        self
    }

    /// The region whose STS host the tokens name.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// A token for `cluster`: the cached one while it is fresh, otherwise a new one.
    ///
    /// # Errors
    /// No credentials, a failed AssumeRole, or an invalid cluster name.
    pub async fn token(&self, cluster: &str) -> Result<IssuedToken, TokenSourceError> {
        token::validate_cluster_name(cluster)?;
        let mut state = self.state.lock().await;
        let now = self.clock.now();
        let credentials = self.credentials(&mut state, now).await?;
        if let Some(cached) = state.tokens.get(cluster)
            && cached.identity == credentials.access_key_id()
            && reusable(&cached.issued, now)
        {
            return Ok(cached.issued.clone());
        }
        let minted = token::mint(&credentials, &self.region, cluster, now)?;
        let mut expires_at = now + TOKEN_LIFETIME;
        if let Some(expiry) = credentials.expiry() {
            expires_at = expires_at.min(expiry);
        }
        let issued = IssuedToken {
            token: minted,
            expires_at,
        };
        tracing::debug!(cluster, region = %self.region, "signed a new EKS token");
        state.tokens.insert(
            cluster.to_owned(),
            CachedToken {
                identity: credentials.access_key_id().to_owned(),
                issued: issued.clone(),
            },
        );
        Ok(issued)
    }

    /// The credentials to sign with: the cached ones while comfortably valid.
    async fn credentials(
        &self,
        state: &mut State,
        now: SystemTime,
    ) -> Result<Credentials, TokenSourceError> {
        if let Some(fetched) = &state.credentials
            && credentials_fresh(fetched, now)
        {
            return Ok(fetched.credentials.clone());
        }
        let credentials = match &self.principal {
            Principal::Chain(provider) => provider
                .provide_credentials()
                .await
                .map_err(TokenSourceError::NoCredentials)?,
            Principal::Role { sts, role_arn } => assume_role(sts, role_arn, now).await?,
        };
        state.credentials = Some(FetchedCredentials {
            credentials: credentials.clone(),
            fetched_at: now,
        });
        Ok(credentials)
    }
}

/// The AssumeRole session name: recognisable, and unique per assumption.
pub fn session_name(now: SystemTime) -> String {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    format!("{SESSION_NAME_PREFIX}{secs}")
}

async fn assume_role(
    sts: &aws_sdk_sts::Client,
    role_arn: &str,
    now: SystemTime,
) -> Result<Credentials, TokenSourceError> {
    let session = session_name(now);
    tracing::debug!(role_arn, session = %session, "assuming role for EKS tokens");
    let output = sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session)
        .send()
        .await
        .map_err(|source| TokenSourceError::AssumeRole {
            role_arn: role_arn.to_owned(),
            source: Box::new(source),
        })?;
    let role =
        output
            .credentials()
            .ok_or_else(|| TokenSourceError::AssumeRoleWithoutCredentials {
                role_arn: role_arn.to_owned(),
            })?;
    let expiry = SystemTime::try_from(*role.expiration()).ok();
    Ok(Credentials::new(
        role.access_key_id(),
        role.secret_access_key(),
        Some(role.session_token().to_owned()),
        expiry,
        "AssumeRole",
    ))
}

fn credentials_fresh(fetched: &FetchedCredentials, now: SystemTime) -> bool {
    match fetched.credentials.expiry() {
        Some(expiry) => now + CREDENTIALS_MARGIN < expiry,
        None => now >= fetched.fetched_at && now < fetched.fetched_at + UNDATED_CREDENTIALS_TTL,
    }
}

fn reusable(issued: &IssuedToken, now: SystemTime) -> bool {
    let signed = issued.signed_at();
    now >= signed && now < signed + REUSE_FOR && now + MIN_REMAINING < issued.expires_at
}
