//! Who holds temporary credentials the simulator was not given: STS GetCallerIdentity, asked
//! of the STS endpoint named by `--sts-endpoint` (moto in the tests), as aws-iam-authenticator
//! asks STS. The product assumes a cluster's role at moto (AssumeRole) at run time, so eks-sim
//! cannot know those keys in advance; their holder decides which account's clusters an EKS
//! caller sees and who a Kubernetes caller is.
//!
//! Only keys that come with a session token are asked about, and only an assumed role is
//! accepted as the answer (STS returns one for AssumeRole credentials); long-term keys must be
//! registered (flags, file or `POST /_sim/credentials`). eks-sim does not have the secret of
//! such a key, so it cannot check a signature made with it; neither does moto. Answers are
//! kept per access key for the life of the simulator.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use thiserror::Error;

/// Why STS could not say who holds a key.
#[derive(Debug, Error)]
pub enum StsError {
    #[error("--sts-endpoint {0:?} is not an http://HOST:PORT URL")]
    Endpoint(String),
    #[error("STS at {endpoint}: {message}")]
    Unreachable { endpoint: String, message: String },
    #[error("STS at {endpoint} answered {status}: {body}")]
    Refused {
        endpoint: String,
        status: u16,
        body: String,
    },
    #[error("STS at {endpoint} says access key {access_key} is {arn}, not an assumed role")]
    NotAssumedRole {
        endpoint: String,
        access_key: String,
        arn: String,
    },
}

/// The STS endpoint and what it answered so far.
#[derive(Debug)]
pub struct Sts {
    endpoint: String,
    /// `host:port` to connect to.
    authority: String,
    known: Mutex<HashMap<String, String>>,
}

impl Sts {
    /// `endpoint`: `http://127.0.0.1:PORT` (plain HTTP, as moto serves).
    pub fn new(endpoint: &str) -> Result<Sts, StsError> {
        let bad = || StsError::Endpoint(endpoint.to_owned());
        let url = url::Url::parse(endpoint).map_err(|_| bad())?;
        if url.scheme() != "http" {
            return Err(bad());
        }
        let host = url.host_str().ok_or_else(bad)?;
        let port = url.port_or_known_default().ok_or_else(bad)?;
        Ok(Sts {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            authority: format!("{host}:{port}"),
            known: Mutex::new(HashMap::new()),
        })
    }

    /// The assumed-role ARN (`arn:aws:sts::A:assumed-role/ROLE/SESSION`) of temporary
    /// credentials, asked of STS once per key.
    pub async fn caller_arn(
        &self,
        access_key: &str,
        session_token: &str,
    ) -> Result<String, StsError> {
        if let Some(arn) = self.lock().get(access_key) {
            return Ok(arn.clone());
        }
        let body = self.get_caller_identity(access_key, session_token).await?;
        let arn = xml_text(&body, "Arn").unwrap_or_default().to_owned();
        if !arn.contains(":assumed-role/") {
            return Err(StsError::NotAssumedRole {
                endpoint: self.endpoint.clone(),
                access_key: access_key.to_owned(),
                arn,
            });
        }
        self.lock().insert(access_key.to_owned(), arn.clone());
        Ok(arn)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// POST `Action=GetCallerIdentity` naming the key in a SigV4 Authorization header (whose
    /// signature eks-sim cannot compute: it has no secret).
    async fn get_caller_identity(
        &self,
        access_key: &str,
        session_token: &str,
    ) -> Result<String, StsError> {
        let unreachable = |message: String| StsError::Unreachable {
            endpoint: self.endpoint.clone(),
            message,
        };
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        tokio::spawn(connection);
        let date = jiff::Timestamp::now().strftime("%Y%m%d").to_string();
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={access_key}/{date}/us-east-1/sts/aws4_request, SignedHeaders=host, Signature={}",
            "0".repeat(64)
        );
        let request = hyper::Request::post("/")
            .header(hyper::header::HOST, &self.authority)
            .header(
                hyper::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(hyper::header::AUTHORIZATION, authorization)
            .header("x-amz-security-token", session_token)
            .body(Full::new(Bytes::from_static(
                b"Action=GetCallerIdentity&Version=2011-06-15",
            )))
            .map_err(|e| unreachable(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| unreachable(e.to_string()))?
            .to_bytes();
        let body = String::from_utf8_lossy(&body).into_owned();
        if status != 200 {
            return Err(StsError::Refused {
                endpoint: self.endpoint.clone(),
                status,
                body,
            });
        }
        Ok(body)
    }
}

/// The text of the first `<tag>…</tag>` of an XML answer.
fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..end].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arn_is_read_from_a_get_caller_identity_answer() {
        let xml = "<GetCallerIdentityResponse><GetCallerIdentityResult><UserId>AROA:s</UserId><Arn>arn:aws:sts::222233334444:assumed-role/r/s</Arn><Account>222233334444</Account></GetCallerIdentityResult></GetCallerIdentityResponse>";
        assert_eq!(
            xml_text(xml, "Arn"),
            Some("arn:aws:sts::222233334444:assumed-role/r/s")
        );
        assert_eq!(xml_text(xml, "Missing"), None);
    }

    #[test]
    fn only_plain_http_endpoints_are_accepted() {
        assert!(Sts::new("http://127.0.0.1:5000").is_ok());
        for bad in ["https://127.0.0.1:5000", "127.0.0.1:5000", "http://"] {
            assert!(Sts::new(bad).is_err(), "{bad}");
        }
    }
}
