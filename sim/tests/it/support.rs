//! Shared test support: an in-process simulator with known credentials, an HTTPS client
//! that trusts its CA, tokens minted by botocore (the independent reference), and the
//! external tools (aws, kubectl, python with botocore), which must be present: a missing
//! tool fails the test with a clear message, never skips it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use eks_sim::cluster::AuthMode;
use eks_sim::credentials::TestCredential;
use eks_sim::state::{ClusterSeed, SimConfig};
use eks_sim::{RunningSim, spawn};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
pub const CLUSTER: &str = "demo";
pub const ADMIN_AK: &str = "AKIAADMIN00000000001";
pub const ADMIN_SK: &str = "admin/secret+key";
pub const ADMIN_ARN: &str = "arn:aws:iam::123456789012:user/admin";
pub const DEV_AK: &str = "ASIADEV0000000000001";
pub const DEV_SK: &str = "dev-secret";
pub const DEV_TOKEN: &str = "FwoGZXIvYXdzEDev//session+token=";
pub const DEV_ARN: &str = "arn:aws:sts::123456789012:assumed-role/Dev/alice@example.com";

pub fn admin() -> TestCredential {
    TestCredential {
        access_key_id: ADMIN_AK.into(),
        secret_access_key: ADMIN_SK.into(),
        session_token: None,
        arn: ADMIN_ARN.into(),
        ec2_private_dns_name: None,
    }
}

pub fn dev() -> TestCredential {
    TestCredential {
        access_key_id: DEV_AK.into(),
        secret_access_key: DEV_SK.into(),
        session_token: Some(DEV_TOKEN.into()),
        arn: DEV_ARN.into(),
        ec2_private_dns_name: None,
    }
}

/// A simulator with one cluster `demo` (the given mode) created by the admin user, and the
/// admin and dev credentials registered.
pub async fn sim(mode: AuthMode) -> RunningSim {
    let config = SimConfig {
        credentials: vec![admin(), dev()],
        clusters: vec![ClusterSeed {
            name: CLUSTER.into(),
            auth_mode: mode,
            creator_arn: Some(ADMIN_ARN.into()),
        }],
        ..SimConfig::default()
    };
    spawn(config).await.expect("simulator starts")
}

/// Looks a tool up on PATH; panics with how to get it.
pub fn require_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not on PATH. Run the tests through scripts/test.sh, or first: \
                 export PATH=\"$(scripts/python-env.sh):$PATH\"; scripts/ensure-kubectl.sh"
            )
        })
}

/// A python that can import botocore: the one next to `aws` (the project venv).
pub fn python() -> PathBuf {
    let aws = require_tool("aws");
    let dir = aws.parent().expect("aws has a directory");
    let candidate = dir.join("python3");
    let py = if candidate.is_file() {
        candidate
    } else {
        require_tool("python3")
    };
    let ok = Command::new(&py)
        .args(["-c", "import botocore"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} cannot import botocore: put the project venv first on PATH \
         (export PATH=\"$(scripts/python-env.sh):$PATH\")",
        py.display()
    );
    py
}

/// Parameters for a botocore-minted token.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Mint {
    pub access_key: String,
    pub secret: String,
    pub session_token: Option<String>,
    pub region: String,
    pub cluster: Option<String>,
    pub host: Option<String>,
    pub at: Option<i64>,
}

impl Mint {
    pub fn for_cred(c: &TestCredential) -> Self {
        Self {
            access_key: c.access_key_id.clone(),
            secret: c.secret_access_key.clone(),
            session_token: c.session_token.clone(),
            region: REGION.into(),
            cluster: Some(CLUSTER.into()),
            host: None,
            at: None,
        }
    }

    /// Runs botocore's signer.
    pub fn token(&self) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/mint_token.py");
        let out = Command::new(python())
            .arg(script)
            .arg(serde_json::to_string(self).expect("json"))
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "mint_token.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf8")
            .trim()
            .to_owned()
    }
}

/// An HTTPS client for one cluster endpoint, trusting the simulator's CA.
#[derive(Debug, Clone)]
pub struct Kube {
    base: String,
    client: Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        Full<Bytes>,
    >,
}

/// A status and the parsed body (Null when not JSON).
pub type Reply = (u16, Value);

impl Kube {
    pub fn new(sim: &RunningSim, cluster: &str) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        let pem = sim.ca_pem();
        let der = pem_to_der(&pem);
        roots
            .add(rustls::pki_types::CertificateDer::from(der))
            .expect("CA parses");
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_only()
            .enable_http1()
            .build();
        Self {
            base: sim.cluster_endpoint(cluster).expect("cluster exists"),
            client: Client::builder(TokioExecutor::new()).build(https),
        }
    }

    /// Sends a request; `auth` is the whole Authorization header value.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        content_type: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Reply, hyper_util::client::legacy::Error> {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let resp = self
            .client
            .request(req.body(Full::new(body)).expect("request"))
            .await?;
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    pub async fn call(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> Reply {
        let ct = match method {
            "PATCH" => Some("application/merge-patch+json"),
            _ => body.map(|_| "application/json"),
        };
        self.send(method, path, Some(&format!("Bearer {token}")), ct, body)
            .await
            .expect("request completes")
    }
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("PEM body is base64")
}

pub const AWS_AUTH: &str = "/api/v1/namespaces/kube-system/configmaps/aws-auth";
pub const KUBE_SYSTEM_CMS: &str = "/api/v1/namespaces/kube-system/configmaps";

/// A token for `cred` for cluster `demo`, from this crate's own signer (fast; used where
/// the token's origin is not what the test is about).
pub fn quick_token(cred: &TestCredential) -> String {
    eks_sim::token::mint(cred, CLUSTER, REGION, jiff::Timestamp::now())
}

/// Calls the admin API.
pub async fn admin_call(sim: &RunningSim, method: &str, path: &str, body: Option<Value>) -> Reply {
    let client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let req = hyper::Request::builder()
        .method(method)
        .uri(format!("{}{path}", sim.eks_endpoint))
        .header("content-type", "application/json")
        .body(Full::new(
            body.map(|b| Bytes::from(b.to_string())).unwrap_or_default(),
        ))
        .expect("request");
    let resp = client.request(req).await.expect("admin call");
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}
