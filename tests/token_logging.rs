//! No token, signature or secret may reach a log. This binary installs a global tracing
//! subscriber at TRACE for every target (our code, aws-sigv4, aws-config, the SDK's HTTP
//! stack), mints tokens with a session token and through a role assumed at moto, and
//! searches the captured output for every secret value involved.
//!
//! It is one test in its own binary because the subscriber is process-global.

mod token_support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use eks_iam_sync::core::token;
use eks_iam_sync::token_source::TokenSource;
use token_support::{AKID, Moto, SECRET, SESSION, param};

const URL_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_never_contain_tokens_signatures_or_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let mut secrets: Vec<String> = vec![SECRET.to_owned(), SESSION.to_owned()];

    // The pure signer with a session token (aws-sigv4 traces its canonical request).
    let session_creds = Credentials::new(AKID, SECRET, Some(SESSION.to_owned()), None, "t");
    let minted = token::mint(&session_creds, "us-east-1", "prod", SystemTime::now()).unwrap();
    tracing::info!(?minted, "debug-formatted token value");
    secrets.push(minted.as_str().to_owned());
    secrets.push(param(minted.url(), "X-Amz-Signature").unwrap());

    // The token source, directly and through AssumeRole at moto.
    let direct = TokenSource::from_provider(
        SharedCredentialsProvider::new(session_creds.clone()),
        "eu-west-1",
    )
    .unwrap();
    let issued = direct.token("prod").await.unwrap();
    tracing::info!(?issued, "debug-formatted issued token");
    secrets.push(issued.token().to_owned());

    let moto = Moto::start();
    let config = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(SharedCredentialsProvider::new(session_creds))
        .build();
    let role = TokenSource::new(
        &config,
        Some("arn:aws:iam::210987654321:role/eks-admin".to_owned()),
    )
    .unwrap();
    let assumed = role.token("prod").await.unwrap();
    let url = token::decode(assumed.token()).unwrap();
    secrets.push(assumed.token().to_owned());
    secrets.push(param(&url, "X-Amz-Signature").unwrap());
    secrets.push(param(&url, "X-Amz-Security-Token").unwrap());

    let logs = captured.text();
    assert!(
        logs.contains("signed a new EKS token") && logs.contains("aws_smithy"),
        "the capture must see our events and the SDK's: {logs}"
    );
    for secret in &secrets {
        // Also look for the URL-encoded form: that is how a session token appears inside a
        // canonical query string (aws-sigv4 traces those).
        let encoded = percent_encoding::utf8_percent_encode(secret, URL_VALUE).to_string();
        for form in [secret.as_str(), encoded.as_str()] {
            assert!(
                !logs.contains(form),
                "a secret of {} bytes reached the logs",
                secret.len()
            );
        }
    }
    // The assumed role's secret key is only known to moto: its XML must not be logged.
    assert!(
        !logs.contains("SecretAccessKey>"),
        "AssumeRole response body logged"
    );
}
