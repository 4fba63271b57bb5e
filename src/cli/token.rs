//! `eks-iam-sync token`: prints an EKS bearer token as a kubectl ExecCredential.
//!
//! The same token the reconciler uses, for operators and for kubeconfigs (`users[].user.exec`
//! with `command: eks-iam-sync`, `args: [token, --cluster, NAME]`), so "can eks-iam-sync
//! reach this cluster?" can be checked with plain kubectl. It owns argument handling, the
//! ExecCredential document and the exit code; signing and caching live in
//! [`crate::token_source`]. The token goes to stdout only, never to stderr or a log.

use std::process::ExitCode;
use std::time::SystemTime;

use serde::Serialize;

use crate::token_source::{IssuedToken, TokenSource, TokenSourceError};

/// The apiVersion written when kubectl does not say which one it wants.
pub const DEFAULT_API_VERSION: &str = "client.authentication.k8s.io/v1beta1";
const KNOWN_API_VERSIONS: [&str; 3] = [
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
    "client.authentication.k8s.io/v1alpha1",
];

#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// Name of the EKS cluster; the token is valid for this cluster only.
    #[arg(long, value_name = "NAME")]
    pub cluster: String,
    /// Region of the cluster [default: AWS_REGION or the AWS profile's region].
    #[arg(long, value_name = "R")]
    pub region: Option<String>,
    /// Assume this IAM role (e.g. in the cluster's account) and sign with its credentials.
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
}

/// Mints a token and prints the ExecCredential; exit 1 with a one-line error otherwise.
pub async fn run(args: &TokenArgs) -> ExitCode {
    let issued = match issue(args).await {
        Ok(issued) => issued,
        Err(err) => {
            eprintln!("error: {}", one_line(&err.to_string()));
            return ExitCode::FAILURE;
        }
    };
    let exec_info = std::env::var("KUBERNETES_EXEC_INFO").ok();
    let (api_version, warning) = api_version(exec_info.as_deref());
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
    match exec_credential(&issued, &api_version) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Collapses line breaks and runs of spaces (provider chains report several lines).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn issue(args: &TokenArgs) -> Result<IssuedToken, TokenSourceError> {
    let region = args.region.clone().filter(|r| !r.is_empty());
    let source = TokenSource::from_env(region, args.role_arn.clone()).await?;
    source.token(&args.cluster).await
}

/// The apiVersion to answer with: the one kubectl announced in `KUBERNETES_EXEC_INFO`,
/// or v1beta1 (with a warning to print when the announcement is unusable).
pub fn api_version(exec_info: Option<&str>) -> (String, Option<String>) {
    let Some(raw) = exec_info.filter(|raw| !raw.trim().is_empty()) else {
        return (DEFAULT_API_VERSION.to_owned(), None);
    };
    let announced = serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| v.get("apiVersion")?.as_str().map(str::to_owned));
    match announced {
        Some(version) if KNOWN_API_VERSIONS.contains(&version.as_str()) => (version, None),
        Some(version) => (
            DEFAULT_API_VERSION.to_owned(),
            Some(format!(
                "unknown apiVersion {version:?} in KUBERNETES_EXEC_INFO, answering with {DEFAULT_API_VERSION}"
            )),
        ),
        None => (
            DEFAULT_API_VERSION.to_owned(),
            Some(format!(
                "KUBERNETES_EXEC_INFO has no readable apiVersion, answering with {DEFAULT_API_VERSION}"
            )),
        ),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExecCredential<'a> {
    kind: &'static str,
    api_version: &'a str,
    spec: serde_json::Map<String, serde_json::Value>,
    status: ExecCredentialStatus<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExecCredentialStatus<'a> {
    expiration_timestamp: String,
    token: &'a str,
}

/// The ExecCredential JSON for `issued`.
///
/// # Errors
/// An expiry outside the range RFC 3339 can express.
pub fn exec_credential(issued: &IssuedToken, api_version: &str) -> Result<String, jiff::Error> {
    let doc = ExecCredential {
        kind: "ExecCredential",
        api_version,
        spec: serde_json::Map::new(),
        status: ExecCredentialStatus {
            expiration_timestamp: rfc3339_utc(issued.expires_at())?,
            token: issued.token(),
        },
    };
    Ok(serde_json::to_string(&doc).expect("an ExecCredential always serializes"))
}

/// `2026-01-02T03:18:05Z`: whole seconds, rounded down, UTC.
fn rfc3339_utc(at: SystemTime) -> Result<String, jiff::Error> {
    let ts = jiff::Timestamp::try_from(at)?;
    Ok(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_version_follows_kubectl_or_falls_back_to_v1beta1() {
        assert_eq!(api_version(None), (DEFAULT_API_VERSION.to_owned(), None));
        assert_eq!(
            api_version(Some("")),
            (DEFAULT_API_VERSION.to_owned(), None)
        );
        let v1 = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#;
        assert_eq!(
            api_version(Some(v1)),
            ("client.authentication.k8s.io/v1".to_owned(), None)
        );
        for bad in ["not json", r#"{"apiVersion":"example.com/v9"}"#, "{}"] {
            let (version, warning) = api_version(Some(bad));
            assert_eq!(version, DEFAULT_API_VERSION, "{bad}");
            assert!(warning.is_some(), "{bad}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc_seconds() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_767_323_045_999);
        assert_eq!(rfc3339_utc(at).unwrap(), "2026-01-02T03:04:05Z");
    }
}
