//! kubectl against a test's cluster as its creator, a fast merge-patch writer and a raw
//! whole-object client of aws-auth (the "human" writers), and reading or creating aws-auth.

use std::collections::HashMap;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::{Run, TestCluster, run_output};

impl TestCluster {
    /// kubectl against this cluster as its creator (an admin).
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut cmd = self.stack.command("kubectl");
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        {
            use std::io::Write;
            let mut input = child.stdin.take().unwrap();
            if let Some(text) = stdin {
                input.write_all(text.as_bytes()).unwrap();
            }
        }
        run_output(child.wait_with_output().unwrap())
    }

    /// A fast writer for races: a merge patch of aws-auth with curl, authenticated with a
    /// token minted beforehand (kubectl's exec plugin starts Python for every call).
    pub fn patcher(&self) -> impl Fn(&Value) + '_ {
        let minted = self.sync(&["token", "--cluster", &self.name]);
        assert_eq!(minted.code, 0, "{}", minted.stderr);
        let token = minted.json()["status"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        move |patch: &Value| {
            let url = format!(
                "{}/api/v1/namespaces/kube-system/configmaps/aws-auth",
                self.endpoint
            );
            let out = Command::new("curl")
                .args(["-sf", "--cacert"])
                .arg(&self.ca_file)
                .args([
                    "-X",
                    "PATCH",
                    &url,
                    "-H",
                    "content-type: application/merge-patch+json",
                ])
                .args([
                    "-H",
                    &format!("authorization: Bearer {token}"),
                    "-d",
                    &patch.to_string(),
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "PATCH aws-auth failed: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }

    /// A raw client of aws-auth for a "human" writer that reads and writes whole objects:
    /// `(method, body)` → `Some((HTTP status, body))`, `None` when the connection failed.
    /// Authenticated as the cluster creator whatever [`TestCluster::run_as`] says.
    #[allow(dead_code)]
    pub fn raw_api(&self) -> impl Fn(&str, Option<&str>) -> Option<(u16, String)> + '_ {
        // Minted as the stack's identity (not `run_as`'s), again after 10 minutes (EKS takes 15).
        let mint = || {
            let out = self
                .stack
                .command(env!("CARGO_BIN_EXE_eks-iam-sync"))
                .args(["token", "--cluster", &self.name])
                .output()
                .unwrap();
            let minted = run_output(out);
            assert_eq!(minted.code, 0, "{}", minted.stderr);
            let token = minted.json()["status"]["token"]
                .as_str()
                .unwrap()
                .to_owned();
            (std::time::Instant::now(), token)
        };
        let cached = std::sync::Mutex::new(mint());
        move |method: &str, body: Option<&str>| {
            let token = {
                let mut cached = cached.lock().unwrap();
                if cached.0.elapsed() > std::time::Duration::from_secs(600) {
                    *cached = mint();
                }
                cached.1.clone()
            };
            let url = format!(
                "{}/api/v1/namespaces/kube-system/configmaps/aws-auth",
                self.endpoint
            );
            let mut cmd = Command::new("curl");
            cmd.args(["-s", "--max-time", "30", "-w", "\n%{http_code}", "--cacert"])
                .arg(&self.ca_file)
                .args(["-X", method, &url])
                .args(["-H", &format!("authorization: Bearer {token}")]);
            if let Some(body) = body {
                cmd.args([
                    "-H",
                    "content-type: application/json",
                    "--data-binary",
                    body,
                ]);
            }
            let out = cmd.output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let (body, code) = text.rsplit_once('\n')?;
            let code: u16 = code.trim().parse().ok()?;
            (out.status.success() && code != 0).then(|| (code, body.to_owned()))
        }
    }

    /// aws-auth's `data`, read with kubectl (empty when it does not exist).
    pub fn aws_auth(&self) -> HashMap<String, String> {
        let run = self.kubectl(
            &[
                "get",
                "configmap",
                "aws-auth",
                "-n",
                "kube-system",
                "-o",
                "json",
            ],
            None,
        );
        if run.code != 0 {
            assert!(
                run.stderr.contains("NotFound"),
                "kubectl get failed: {}",
                run.stderr
            );
            return HashMap::new();
        }
        let object: Value = serde_json::from_str(&run.stdout).unwrap();
        serde_json::from_value(object["data"].clone()).unwrap_or_default()
    }

    /// Creates aws-auth by hand (a "human" writer) from the given data sections.
    pub fn create_aws_auth(&self, data: &[(&str, &str)]) {
        let data: serde_json::Map<String, Value> = data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect();
        let manifest = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "aws-auth", "namespace": "kube-system"},
            "data": data,
        });
        let run = self.kubectl(&["create", "-f", "-"], Some(&manifest.to_string()));
        assert_eq!(run.code, 0, "kubectl create: {}", run.stderr);
    }
}

impl TestCluster {
    /// What the cluster answers a person listing ConfigMaps in `default` with their OWN token:
    /// minted by awscli (`aws eks get-token`, botocore's signer, independent of the product)
    /// from their access key, sent with curl. 200 when EKS would let them in, 401 when not.
    pub fn status_as(&self, access_key: &str, secret: &str) -> u16 {
        let minted = self
            .stack
            .command("aws")
            .args(["eks", "get-token", "--cluster-name", &self.name])
            .args(["--region", "us-east-1", "--output", "json"])
            .env("AWS_ACCESS_KEY_ID", access_key)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            // Presigned for the real STS host, as a person's kubectl would (no call is made).
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_ENDPOINT_URL_STS")
            .output()
            .unwrap();
        let minted = run_output(minted);
        assert_eq!(minted.code, 0, "aws eks get-token: {}", minted.stderr);
        let token = minted.json()["status"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let url = format!("{}/api/v1/namespaces/default/configmaps", self.endpoint);
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(&self.ca_file)
            .args([&url, "-H", &format!("authorization: Bearer {token}")])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }
}
