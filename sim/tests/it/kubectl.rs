//! Real kubectl against a simulated cluster, authenticating through an exec plugin that
//! runs `aws eks get-token` (so awscli's tokens are proven too): create, get -o yaml,
//! replace with a stale resourceVersion (kubectl's conflict error), merge and JSON patches,
//! `auth whoami`, delete, NotFound.

use std::path::Path;

use eks_sim::RunningSim;
use eks_sim::cluster::AuthMode;

use crate::support;

fn write_kubeconfig(sim: &RunningSim, dir: &Path) -> std::path::PathBuf {
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, sim.ca_pem()).unwrap();
    let aws = support::require_tool("aws");
    let kubeconfig = dir.join("kubeconfig");
    let text = format!(
        r#"apiVersion: v1
kind: Config
clusters:
- name: demo
  cluster:
    server: {server}
    certificate-authority: {ca}
users:
- name: admin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: {aws}
      args: [eks, get-token, --cluster-name, demo, --region, us-east-1]
      interactiveMode: Never
      env:
      - {{name: AWS_ACCESS_KEY_ID, value: "{ak}"}}
      - {{name: AWS_SECRET_ACCESS_KEY, value: "{sk}"}}
      - {{name: AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, value: "true"}}
      - {{name: AWS_CONFIG_FILE, value: /dev/null}}
      - {{name: AWS_SHARED_CREDENTIALS_FILE, value: /dev/null}}
contexts:
- name: demo
  context: {{cluster: demo, user: admin}}
current-context: demo
"#,
        server = sim.cluster_endpoint("demo").unwrap(),
        ca = ca.display(),
        aws = aws.display(),
        ak = support::ADMIN_AK,
        sk = support::ADMIN_SK,
    );
    std::fs::write(&kubeconfig, text).unwrap();
    kubeconfig
}

struct Kubectl {
    bin: std::path::PathBuf,
    kubeconfig: std::path::PathBuf,
}

impl Kubectl {
    async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = tokio::process::Command::new(&self.bin)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .output()
            .await
            .expect("kubectl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_get_replace_conflict_delete() {
    let sim = support::sim(AuthMode::ApiAndConfigMap).await;
    let dir = tempfile::tempdir().unwrap();
    let kubectl = Kubectl {
        bin: support::require_tool("kubectl"),
        kubeconfig: write_kubeconfig(&sim, dir.path()),
    };
    let manifest = dir.path().join("aws-auth.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aws-auth\n  namespace: kube-system\ndata:\n  mapRoles: |\n    - rolearn: arn:aws:iam::123456789012:role/node\n      username: system:node:{{EC2PrivateDNSName}}\n      groups: [system:bootstrappers, system:nodes]\n",
    )
    .unwrap();
    let m = manifest.to_str().unwrap();
    let (ok, out, err) = kubectl.run(&["create", "-f", m]).await;
    assert!(ok, "create: {out}{err}");
    assert!(out.contains("configmap/aws-auth created"), "{out}");

    let (ok, who, err) = kubectl.run(&["auth", "whoami", "-o", "json"]).await;
    assert!(ok, "whoami: {err}");
    let who: serde_json::Value = serde_json::from_str(&who).unwrap();
    assert_eq!(
        who["status"]["userInfo"]["username"],
        support::ADMIN_ARN,
        "creator's access entry"
    );
    let (ok, _, err) = kubectl
        .run(&[
            "patch",
            "cm",
            "aws-auth",
            "-n",
            "kube-system",
            "--type",
            "json",
            "-p",
            r#"[{"op":"add","path":"/data/j","value":"1"}]"#,
        ])
        .await;
    assert!(ok, "json patch: {err}");

    let (ok, yaml, err) = kubectl
        .run(&["get", "cm", "aws-auth", "-n", "kube-system", "-o", "yaml"])
        .await;
    assert!(ok, "get: {err}");
    assert!(
        yaml.contains("resourceVersion:") && yaml.contains("system:node:{{EC2PrivateDNSName}}"),
        "{yaml}"
    );
    let fetched = dir.path().join("fetched.yaml");
    std::fs::write(&fetched, &yaml).unwrap();

    let (ok, _, err) = kubectl
        .run(&[
            "patch",
            "cm",
            "aws-auth",
            "-n",
            "kube-system",
            "--type",
            "merge",
            "-p",
            r#"{"data":{"touched":"yes"}}"#,
        ])
        .await;
    assert!(ok, "patch: {err}");
    let (ok, _, err) = kubectl
        .run(&["replace", "-f", fetched.to_str().unwrap()])
        .await;
    assert!(!ok, "a stale replace must fail");
    assert!(
        err.contains("Error from server (Conflict)")
            && err.contains("Operation cannot be fulfilled on configmaps \"aws-auth\": the object has been modified; please apply your changes to the latest version and try again"),
        "{err}"
    );

    let (ok, out, err) = kubectl.run(&["delete", "-f", m]).await;
    assert!(ok && out.contains("deleted"), "delete: {out}{err}");
    let (ok, _, err) = kubectl
        .run(&["get", "cm", "aws-auth", "-n", "kube-system"])
        .await;
    assert!(!ok);
    assert!(
        err.contains("Error from server (NotFound): configmaps \"aws-auth\" not found"),
        "{err}"
    );
}
