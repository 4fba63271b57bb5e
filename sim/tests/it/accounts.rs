//! Clusters per account: the EKS caller's account (its registered identity, or what STS says
//! of temporary credentials eks-sim was not given) decides which clusters it sees and where
//! the clusters it creates live; tokens of such credentials are the assumed role STS names.
//! STS here is a stand-in answering GetCallerIdentity by the Authorization header's key, as
//! moto does (the stack tests use moto itself).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_eks::Client;
use aws_sdk_eks::types::VpcConfigRequest;
use bytes::Bytes;
use eks_sim::cluster::AuthMode;
use eks_sim::credentials::TestCredential;
use eks_sim::state::{ClusterSeed, SimConfig};
use eks_sim::{RunningSim, spawn};
use http_body_util::Full;

use crate::support::{self, AWS_AUTH, Kube};

const MEMBER: &str = "333344445555";
const MEMBER_AK: &str = "ASIAMEMBER0000000001";
const MEMBER_SK: &str = "member-secret";
const MEMBER_TOKEN: &str = "FwoGZXIvYXdzEMember//token=";

/// A GetCallerIdentity stand-in: `MEMBER_AK` is an assumed role of `MEMBER`, any other key
/// moto's default user. Counts its calls.
async fn fake_sts() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let counter = calls.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = counter.clone();
            let service = hyper::service::service_fn(move |req: hyper::Request<_>| {
                counter.fetch_add(1, Ordering::Relaxed);
                let auth = req
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                let arn = if auth.contains(&format!("Credential={MEMBER_AK}/")) {
                    format!("arn:aws:sts::{MEMBER}:assumed-role/deployer/s")
                } else {
                    "arn:aws:sts::123456789012:user/moto".to_owned()
                };
                let xml = format!(
                    "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>{arn}</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>"
                );
                async move {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from(
                        xml,
                    ))))
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    (endpoint, calls)
}

async fn sim_with_sts(sts: &str) -> RunningSim {
    spawn(SimConfig {
        credentials: vec![support::admin()],
        clusters: vec![ClusterSeed {
            name: support::CLUSTER.into(),
            auth_mode: AuthMode::ConfigMap,
            creator_arn: Some(support::ADMIN_ARN.into()),
        }],
        sts_endpoint: Some(sts.to_owned()),
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts")
}

fn member() -> TestCredential {
    TestCredential {
        access_key_id: MEMBER_AK.into(),
        secret_access_key: MEMBER_SK.into(),
        session_token: Some(MEMBER_TOKEN.into()),
        arn: format!("arn:aws:sts::{MEMBER}:assumed-role/deployer/s"),
        ec2_private_dns_name: None,
    }
}

fn client_as(sim: &RunningSim, who: &TestCredential) -> Client {
    let creds = aws_sdk_eks::config::Credentials::new(
        &who.access_key_id,
        &who.secret_access_key,
        who.session_token.clone(),
        None,
        "test",
    );
    Client::from_conf(
        aws_sdk_eks::Config::builder()
            .behavior_version(aws_sdk_eks::config::BehaviorVersion::latest())
            .region(aws_sdk_eks::config::Region::new(support::REGION))
            .credentials_provider(creds)
            .endpoint_url(&sim.eks_endpoint)
            .build(),
    )
}

#[tokio::test]
async fn each_account_sees_only_its_own_clusters() {
    let (sts, calls) = fake_sts().await;
    let sim = sim_with_sts(&sts).await;
    let (home, member_eks) = (
        client_as(&sim, &support::admin()),
        client_as(&sim, &member()),
    );
    let made = member_eks
        .create_cluster()
        .name("member")
        .role_arn(format!("arn:aws:iam::{MEMBER}:role/eks"))
        .resources_vpc_config(VpcConfigRequest::builder().build())
        .send()
        .await
        .unwrap();
    let arn = made.cluster.unwrap().arn.unwrap();
    assert_eq!(
        arn,
        format!("arn:aws:eks:us-east-1:{MEMBER}:cluster/member")
    );

    let names =
        |c: Client| async move { c.list_clusters().send().await.unwrap().clusters.unwrap() };
    assert_eq!(names(member_eks.clone()).await, vec!["member"]);
    assert_eq!(names(home.clone()).await, vec![support::CLUSTER]);
    let hidden = home
        .describe_cluster()
        .name("member")
        .send()
        .await
        .unwrap_err();
    let code = hidden.into_service_error().meta().code().map(str::to_owned);
    assert_eq!(code.as_deref(), Some("ResourceNotFoundException"));
    let taken = home
        .create_cluster()
        .name("member")
        .role_arn("arn:aws:iam::123456789012:role/eks")
        .resources_vpc_config(VpcConfigRequest::builder().build())
        .send()
        .await
        .unwrap_err();
    let message = taken
        .into_service_error()
        .meta()
        .message()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains(&format!("in account {MEMBER}")),
        "{message}"
    );
    assert_eq!(
        calls.load(Ordering::Relaxed),
        1,
        "STS is asked once per key"
    );
}

#[tokio::test]
async fn a_token_of_unregistered_temporary_credentials_is_the_role_sts_names() {
    let (sts, _) = fake_sts().await;
    let sim = sim_with_sts(&sts).await;
    client_as(&sim, &member())
        .create_cluster()
        .name("member")
        .role_arn(format!("arn:aws:iam::{MEMBER}:role/eks"))
        .resources_vpc_config(VpcConfigRequest::builder().build())
        .send()
        .await
        .unwrap();
    let kube = Kube::new(&sim, "member");
    let now = jiff::Timestamp::now();
    // The creator (an assumed role STS vouched for) is the member cluster's admin.
    let token = eks_sim::token::mint(&member(), "member", support::REGION, now);
    assert_eq!(kube.call("GET", AWS_AUTH, &token, None).await.0, 404);
    // Unregistered long-term keys, and temporary ones STS says are no assumed role, are not.
    let mut stranger = member();
    stranger.access_key_id = "ASIASTRANGER00000001".into();
    let token = eks_sim::token::mint(&stranger, "member", support::REGION, now);
    assert_eq!(kube.call("GET", AWS_AUTH, &token, None).await.0, 401);
    stranger.session_token = None;
    let token = eks_sim::token::mint(&stranger, "member", support::REGION, now);
    assert_eq!(kube.call("GET", AWS_AUTH, &token, None).await.0, 401);
}
