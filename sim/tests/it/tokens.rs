//! Every token rule of aws-facts §3 has a rejecting case, each built from a token that
//! botocore signed (the independent reference) and then mutated or minted wrong; the
//! unmutated control is accepted, so a 401 can only come from the rule under test.

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use eks_sim::cluster::AuthMode;
use eks_sim::credentials::TestCredential;

use crate::support::{self, KUBE_SYSTEM_CMS, Kube, Mint};

fn decode(token: &str) -> String {
    let b64 = token.strip_prefix("k8s-aws-v1.").expect("prefix");
    String::from_utf8(URL_SAFE_NO_PAD.decode(b64).expect("base64")).expect("utf8")
}

fn encode(url: &str) -> String {
    format!("k8s-aws-v1.{}", URL_SAFE_NO_PAD.encode(url))
}

async fn status(kube: &Kube, token: &str) -> u16 {
    kube.call("GET", KUBE_SYSTEM_CMS, token, None).await.0
}

#[tokio::test]
async fn botocore_tokens_are_accepted_and_every_rule_has_a_rejecting_case() {
    let sim = support::sim(AuthMode::ApiAndConfigMap).await;
    let kube = Kube::new(&sim, support::CLUSTER);
    let admin = Mint::for_cred(&support::admin());
    let good = admin.token();
    assert_eq!(
        status(&kube, &good).await,
        200,
        "control: a botocore token is accepted"
    );
    let url = decode(&good);

    let mut cases: Vec<(&str, String)> = vec![
        (
            "wrong scheme",
            encode(&url.replacen("https://", "http://", 1)),
        ),
        (
            "wrong path",
            encode(&url.replacen(".amazonaws.com/?", ".amazonaws.com/x?", 1)),
        ),
        ("extra query key", encode(&format!("{url}&Foo=bar"))),
        (
            "duplicate query key",
            encode(&format!("{url}&Action=GetCallerIdentity")),
        ),
        (
            "case-insensitive duplicate",
            encode(&format!("{url}&action=GetCallerIdentity")),
        ),
        (
            "other action",
            encode(&url.replacen("GetCallerIdentity", "GetSessionToken", 1)),
        ),
        ("padded base64", {
            // Trailing `&`s change nothing signed but make standard base64 need padding.
            let mut u = url.clone();
            while u.len().is_multiple_of(3) {
                u.push('&');
            }
            let unpadded = encode(&u);
            assert_eq!(status(&kube, &unpadded).await, 200, "control for padding");
            format!("k8s-aws-v1.{}", URL_SAFE.encode(&u))
        }),
        (
            "wrong prefix",
            good.replacen("k8s-aws-v1.", "k8s-aws-v2.", 1),
        ),
        ("tampered signature", {
            let i = url.find("X-Amz-Signature=").expect("signature") + 16;
            let mut u = url.clone();
            let c = if &u[i..=i] == "0" { "1" } else { "0" };
            u.replace_range(i..=i, c);
            encode(&u)
        }),
    ];
    let minted = [
        (
            "wrong host",
            Mint {
                host: Some("sts.amazonaws.com.evil.example".into()),
                ..admin.clone()
            },
        ),
        (
            "host of another partition",
            Mint {
                host: Some("sts.cn-north-1.amazonaws.com.cn".into()),
                region: "cn-north-1".into(),
                ..admin.clone()
            },
        ),
        (
            "missing signed x-k8s-aws-id",
            Mint {
                cluster: None,
                ..admin.clone()
            },
        ),
        (
            "expired (16 minutes old)",
            Mint {
                at: Some(jiff::Timestamp::now().as_second() - 16 * 60),
                ..admin.clone()
            },
        ),
        (
            "wrong cluster",
            Mint {
                cluster: Some("other".into()),
                ..admin.clone()
            },
        ),
        (
            "wrong secret",
            Mint {
                secret: "not-the-secret".into(),
                ..admin.clone()
            },
        ),
        (
            "unknown access key",
            Mint {
                access_key: "AKIAUNKNOWN000000000".into(),
                ..admin.clone()
            },
        ),
        (
            "missing session token",
            Mint {
                session_token: None,
                ..Mint::for_cred(&support::dev())
            },
        ),
    ];
    for (name, m) in minted {
        cases.push((name, m.token()));
    }
    for (name, token) in &cases {
        assert_eq!(status(&kube, token).await, 401, "{name} must be refused");
    }
    let fourteen = Mint {
        at: Some(jiff::Timestamp::now().as_second() - 14 * 60),
        ..admin.clone()
    };
    assert_eq!(
        status(&kube, &fourteen.token()).await,
        200,
        "14 minutes old is still valid"
    );

    for header in [format!("Basic {good}"), good.clone(), "Bearer".to_owned()] {
        let r = kube
            .send("GET", KUBE_SYSTEM_CMS, Some(&header), None, None)
            .await
            .unwrap();
        assert_eq!(r.0, 401, "Authorization {header:.20}… must be refused");
    }
    assert_eq!(
        kube.send("GET", KUBE_SYSTEM_CMS, None, None, None)
            .await
            .unwrap()
            .0,
        401
    );
}

#[tokio::test]
async fn tokens_over_4096_bytes_are_refused_even_when_validly_signed() {
    let sim = support::sim(AuthMode::ApiAndConfigMap).await;
    let kube = Kube::new(&sim, support::CLUSTER);
    // A session token sized so that the whole token lands just under / just over 4096.
    let base = Mint::for_cred(&support::admin());
    let probe_len = |n: usize| {
        let cred = TestCredential {
            access_key_id: format!("ASIALONG{n:012}"),
            secret_access_key: "s".into(),
            session_token: Some("A".repeat(n)),
            arn: support::ADMIN_ARN.into(),
            ec2_private_dns_name: None,
        };
        (
            cred.clone(),
            Mint {
                session_token: cred.session_token.clone(),
                access_key: cred.access_key_id.clone(),
                secret: "s".into(),
                ..base.clone()
            },
        )
    };
    let (_, m) = probe_len(2000);
    let overhead = m.token().len() - 2000 * 4 / 3;
    let mut n = (4096 - overhead) * 3 / 4;
    let mut under = None;
    let mut over = None;
    while under.is_none() || over.is_none() {
        let (cred, m) = probe_len(n);
        let t = m.token();
        if t.len() <= 4096 {
            under = Some((cred, t));
            n += 3;
        } else {
            over = Some((cred, t));
            n -= 3;
        }
        assert!(n > 1000 && n < 4000, "search diverged");
    }
    for (cred, t) in [under.clone().unwrap(), over.clone().unwrap()] {
        let (s, _) = support::admin_call(
            &sim,
            "POST",
            "/_sim/credentials",
            Some(serde_json::to_value(&cred).unwrap()),
        )
        .await;
        assert_eq!(s, 204);
        let expect = if t.len() <= 4096 { 200 } else { 401 };
        assert_eq!(
            status(&kube, &t).await,
            expect,
            "token of {} bytes",
            t.len()
        );
    }
}

#[tokio::test]
async fn awscli_get_token_is_accepted() {
    let sim = support::sim(AuthMode::ApiAndConfigMap).await;
    let kube = Kube::new(&sim, support::CLUSTER);
    let out = std::process::Command::new(support::require_tool("aws"))
        .args([
            "eks",
            "get-token",
            "--cluster-name",
            support::CLUSTER,
            "--region",
            support::REGION,
        ])
        .env("AWS_ACCESS_KEY_ID", support::ADMIN_AK)
        .env("AWS_SECRET_ACCESS_KEY", support::ADMIN_SK)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .expect("aws runs");
    assert!(
        out.status.success(),
        "aws eks get-token: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ExecCredential JSON");
    let token = v["status"]["token"].as_str().expect("token");
    assert_eq!(status(&kube, token).await, 200);
    // The same token is bound to its cluster: a second cluster refuses it.
    let other = eks_sim::cluster::Cluster::new(
        "other",
        support::REGION,
        support::ACCOUNT,
        "1.31",
        "arn:aws:iam::123456789012:role/x",
        AuthMode::ApiAndConfigMap,
        true,
        Some(support::ADMIN_ARN.into()),
        99,
    );
    eks_sim::server::start_cluster(&sim.state, other)
        .await
        .unwrap();
    let other_kube = Kube::new(&sim, "other");
    assert_eq!(status(&other_kube, token).await, 401);
}
