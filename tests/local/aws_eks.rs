//! `aws::eks::EksClusters` on the real `aws_sdk_eks::Client`: aws-smithy-mocks for the cache,
//! the CA checks, the authentication mode and the error mapping; moto for region routing,
//! `AWS_ENDPOINT_URL_EKS` / `AWS_ENDPOINT_URL_STS` and the cross-account role.

use crate::token_support;

/// This module's test `name` as `--exact` takes it.
fn child_test(name: &str) -> String {
    token_support::child_test_in(module_path!(), name)
}

use std::process::Command;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_eks::Client;
use aws_sdk_eks::config::retry::RetryConfig;
use aws_sdk_eks::error::ErrorMetadata;
use aws_sdk_eks::operation::describe_cluster::{DescribeClusterError, DescribeClusterOutput};
use aws_sdk_eks::types::error::ResourceNotFoundException;
use aws_sdk_eks::types::{
    AccessConfigResponse, AuthenticationMode as SdkMode, Certificate, ClusterStatus,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use base64::Engine as _;
use eks_iam_sync::aws::eks::{AuthenticationMode, EksClusters, EksError};

/// An answer this old is taken from the cache.
const EVENT_MAX_AGE: Duration = Duration::from_secs(300);
use eks_iam_sync::core::names::IamArn;
use eks_iam_sync::core::settings::{Backend, Cluster};

/// A real (self-signed, P-256) CA certificate.
const CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBgTCCASegAwIBAgIURkT0CGVPnWCqb5ws1tDs1fxQq+EwCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKa3ViZXJuZXRlczAgFw0yNjExMjIxMjM3MDZaGA8yMTI2MTAy
OTEyMzcwNlowFTETMBEGA1UEAwwKa3ViZXJuZXRlczBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABDJKoh8JSyRL7HO0G9XReAWN6aH46W9KyYM6hld3uphD3xs7Loac
e2aciLkTCgWEMQ2urlhV/TPO2AN0dtEbpEWjUzBRMB0GA1UdDgQWBBQnurwHnKX9
9f5eMKP+L9dQhflz0DAfBgNVHSMEGDAWgBQnurwHnKX99f5eMKP+L9dQhflz0DAP
BgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQCfoFA8ijUqn3f/jQEs
6WYounbGJveaV5KyGvNLX7WxaQIge0+B680LJQk/lojZu2I1q6NKBwNmgF6/7DRy
yPg3H9I=
-----END CERTIFICATE-----
";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn cluster(name: &str, region: &str) -> Cluster {
    Cluster {
        name: name.to_owned(),
        region: region.to_owned(),
        assume_role_arn: None,
        backend: Backend::Auto,
    }
}

/// What DescribeCluster returns for an ACTIVE cluster, before the test's changes.
fn described(name: &str) -> aws_sdk_eks::types::builders::ClusterBuilder {
    aws_sdk_eks::types::Cluster::builder()
        .name(name)
        .arn(format!("arn:aws:eks:eu-west-3:111122223333:cluster/{name}"))
        .endpoint("https://0123456789ABCDEF0123456789ABCDEF.gr7.eu-west-3.eks.amazonaws.com")
        .status(ClusterStatus::Active)
        .certificate_authority(Certificate::builder().data(b64(CA_PEM.as_bytes())).build())
}

fn describe_rule(
    name: &'static str,
    edit: fn(
        aws_sdk_eks::types::builders::ClusterBuilder,
    ) -> aws_sdk_eks::types::builders::ClusterBuilder,
) -> Rule {
    mock!(Client::describe_cluster)
        .match_requests(move |req| req.name() == Some(name))
        .then_output(move || {
            DescribeClusterOutput::builder()
                .cluster(edit(described(name)).build())
                .build()
        })
}

#[tokio::test]
async fn max_age_zero_describes_again_and_a_mode_change_is_handed_back_once() {
    let mode = |m: SdkMode| {
        move || {
            DescribeClusterOutput::builder()
                .cluster(
                    described("prod")
                        .access_config(
                            AccessConfigResponse::builder()
                                .authentication_mode(m.clone())
                                .build(),
                        )
                        .build(),
                )
                .build()
        }
    };
    let before = mock!(Client::describe_cluster).then_output(mode(SdkMode::ConfigMap));
    let after = mock!(Client::describe_cluster).then_output(mode(SdkMode::Api));
    let again = mock!(Client::describe_cluster).then_output(mode(SdkMode::Api));
    let client = mock_client!(aws_sdk_eks, RuleMode::Sequential, [&before, &after, &again]);
    let eks = clusters_on(&client);
    let prod = cluster("prod", "eu-west-3");

    let first = eks.describe(&prod, Duration::ZERO).await.unwrap();
    assert_eq!(first.authentication_mode, AuthenticationMode::ConfigMap);
    assert_eq!(first.previous_mode, None, "nothing was seen before");
    let cached = eks.describe(&prod, EVENT_MAX_AGE).await.unwrap();
    assert_eq!(cached.authentication_mode, AuthenticationMode::ConfigMap);
    assert_eq!(eks.calls(), 1, "a caller may accept a recent answer");

    let switched = eks.describe(&prod, Duration::ZERO).await.unwrap();
    assert_eq!(eks.calls(), 2, "max_age zero always asks EKS");
    assert_eq!(switched.authentication_mode, AuthenticationMode::Api);
    assert_eq!(switched.previous_mode, Some(AuthenticationMode::ConfigMap));
    let cached = eks.describe(&prod, EVENT_MAX_AGE).await.unwrap();
    assert_eq!(cached.previous_mode, None, "the change is handed back once");
    let steady = eks.describe(&prod, Duration::ZERO).await.unwrap();
    assert_eq!(steady.previous_mode, None);
    assert_eq!(eks.calls(), 3);
}

fn fast_retries(config: aws_sdk_eks::config::Builder) -> aws_sdk_eks::config::Builder {
    config.retry_config(
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1))
            .with_max_backoff(Duration::from_millis(5)),
    )
}

/// EksClusters whose clients all start from the mocked client's config.
fn clusters_on(client: &Client) -> EksClusters {
    let base = SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    EksClusters::with_eks_config(base, client.config().clone())
}

#[tokio::test]
async fn describe_decodes_the_cluster_and_a_second_describe_makes_no_call() {
    let rule = describe_rule("prod", |c| {
        c.access_config(
            AccessConfigResponse::builder()
                .authentication_mode(SdkMode::ApiAndConfigMap)
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&rule]);
    let eks = clusters_on(&client);
    let prod = cluster("prod", "eu-west-3");

    let info = eks.describe(&prod, EVENT_MAX_AGE).await.unwrap();
    assert_eq!(info.name, "prod");
    assert_eq!(info.arn, "arn:aws:eks:eu-west-3:111122223333:cluster/prod");
    assert!(info.endpoint.starts_with("https://"));
    assert_eq!(info.ca_pem, CA_PEM.as_bytes());
    assert_eq!(info.ca_der().len(), 1);
    assert_eq!(
        info.authentication_mode,
        AuthenticationMode::ApiAndConfigMap
    );
    assert_eq!(info.status, "ACTIVE");
    assert_eq!(eks.calls(), 1);

    let again = eks.describe(&prod, EVENT_MAX_AGE).await.unwrap();
    assert_eq!(again, info);
    assert_eq!(
        eks.calls(),
        1,
        "the second describe is served from the cache"
    );
    assert_eq!(rule.num_calls(), 1);

    eks.forget(&prod);
    eks.describe(&prod, EVENT_MAX_AGE).await.unwrap();
    assert_eq!(
        eks.calls(),
        2,
        "after forget, DescribeCluster is called again"
    );
}

#[tokio::test]
async fn the_cache_key_includes_the_region_and_the_client_uses_the_cluster_region() {
    let rule = describe_rule("prod", |c| c);
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&rule]);
    let eks = clusters_on(&client);
    let paris = cluster("prod", "eu-west-3");
    let virginia = cluster("prod", "us-east-1");

    eks.describe(&paris, EVENT_MAX_AGE).await.unwrap();
    eks.describe(&virginia, EVENT_MAX_AGE).await.unwrap();
    eks.describe(&paris, EVENT_MAX_AGE).await.unwrap();

    assert_eq!(eks.calls(), 2);
    let region = |c: &Cluster| eks.client_for(c).config().region().map(|r| r.to_string());
    assert_eq!(region(&paris).as_deref(), Some("eu-west-3"));
    assert_eq!(region(&virginia).as_deref(), Some("us-east-1"));
}

#[tokio::test]
async fn a_cluster_without_access_config_is_config_map_and_api_mode_is_read() {
    let old = describe_rule("old", |c| c);
    let api = describe_rule("api", |c| {
        c.access_config(
            AccessConfigResponse::builder()
                .authentication_mode(SdkMode::Api)
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&old, &api]);
    let eks = clusters_on(&client);
    let mode = |info: eks_iam_sync::aws::eks::ClusterInfo| info.authentication_mode;
    assert_eq!(
        mode(
            eks.describe(&cluster("old", "eu-west-3"), EVENT_MAX_AGE)
                .await
                .unwrap()
        ),
        AuthenticationMode::ConfigMap
    );
    assert_eq!(
        mode(
            eks.describe(&cluster("api", "eu-west-3"), EVENT_MAX_AGE)
                .await
                .unwrap()
        ),
        AuthenticationMode::Api
    );
}

#[tokio::test]
async fn a_bad_certificate_authority_is_bad_certificate_naming_the_cluster_and_is_not_cached() {
    let not_base64 = describe_rule("a", |c| {
        c.certificate_authority(Certificate::builder().data("not base64 at all!").build())
    });
    let not_pem = describe_rule("b", |c| {
        c.certificate_authority(Certificate::builder().data(b64(b"hello, world")).build())
    });
    let broken_pem = describe_rule("c", |c| {
        c.certificate_authority(
            Certificate::builder()
                .data(b64(
                    b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
                ))
                .build(),
        )
    });
    let missing = describe_rule("d", |c| {
        c.certificate_authority(Certificate::builder().build())
    });
    let client = mock_client!(
        aws_sdk_eks,
        RuleMode::MatchAny,
        [&not_base64, &not_pem, &broken_pem, &missing]
    );
    let eks = clusters_on(&client);
    for name in ["a", "b", "c", "d"] {
        let err = eks
            .describe(&cluster(name, "eu-west-3"), EVENT_MAX_AGE)
            .await
            .unwrap_err();
        match &err {
            EksError::BadCertificate { cluster, why } => {
                assert_eq!(cluster, name);
                assert!(!why.is_empty());
            }
            other => panic!("{name}: expected BadCertificate, got {other:?}"),
        }
        assert!(
            err.to_string().contains(&format!("cluster {name} ")),
            "{err}"
        );
    }
    eks.describe(&cluster("a", "eu-west-3"), EVENT_MAX_AGE)
        .await
        .unwrap_err();
    assert_eq!(eks.calls(), 5, "a failed description is not cached");
}

#[tokio::test]
async fn resource_not_found_is_not_found_with_cluster_and_region() {
    let rule = mock!(Client::describe_cluster).then_error(|| {
        DescribeClusterError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .message("No cluster found for name: prod.")
                .build(),
        )
    });
    let eks = clusters_on(&mock_client!(aws_sdk_eks, [&rule]));
    assert_eq!(
        eks.describe(&cluster("prod", "eu-west-3"), EVENT_MAX_AGE)
            .await
            .unwrap_err(),
        EksError::NotFound {
            cluster: "prod".into(),
            region: "eu-west-3".into()
        }
    );
}

#[tokio::test]
async fn a_creating_cluster_is_not_active_and_retryable_a_failed_one_is_not_retryable() {
    let creating = describe_rule("new", |c| c.status(ClusterStatus::Creating));
    let failed = describe_rule("dead", |c| c.status(ClusterStatus::Failed));
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&creating, &failed]);
    let eks = clusters_on(&client);
    let err = eks
        .describe(&cluster("new", "eu-west-3"), EVENT_MAX_AGE)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        EksError::NotActive {
            cluster: "new".into(),
            status: "CREATING".into()
        }
    );
    assert!(err.is_retryable());
    let err = eks
        .describe(&cluster("dead", "eu-west-3"), EVENT_MAX_AGE)
        .await
        .unwrap_err();
    assert!(matches!(&err, EksError::NotActive { status, .. } if status == "FAILED"));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn throttling_is_retried_then_succeeds_and_persistent_throttling_is_throttled() {
    let throttled = || {
        DescribeClusterError::generic(
            ErrorMetadata::builder()
                .code("ThrottlingException")
                .message("Rate exceeded")
                .build(),
        )
    };
    let recovers = mock!(Client::describe_cluster)
        .match_requests(|req| req.name() == Some("prod"))
        .sequence()
        .error(throttled)
        .times(2)
        .output(|| {
            DescribeClusterOutput::builder()
                .cluster(described("prod").build())
                .build()
        })
        .build();
    let never = mock!(Client::describe_cluster)
        .match_requests(|req| req.name() == Some("busy"))
        .sequence()
        .http_status(
            429,
            Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_owned()),
        )
        .repeatedly()
        .build();
    let client = mock_client!(
        aws_sdk_eks,
        RuleMode::MatchAny,
        [&recovers, &never],
        fast_retries
    );
    let eks = clusters_on(&client);

    eks.describe(&cluster("prod", "eu-west-3"), EVENT_MAX_AGE)
        .await
        .unwrap();
    assert_eq!(recovers.num_calls(), 3);

    let err = eks
        .describe(&cluster("busy", "eu-west-3"), EVENT_MAX_AGE)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EksError::Throttled { operation: "DescribeCluster", cluster, region, .. }
            if cluster == "busy" && region == "eu-west-3"),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(never.num_calls(), 3);
    assert_eq!(eks.calls(), 2);
}

#[tokio::test]
async fn access_denied_is_access_denied_with_the_message_and_not_retried() {
    let rule = mock!(Client::describe_cluster)
        .sequence()
        .http_status(
            403,
            Some(
                r#"{"__type":"AccessDeniedException","message":"User: arn:aws:sts::111122223333:assumed-role/eks-iam-sync/fn is not authorized to perform: eks:DescribeCluster"}"#
                    .to_owned(),
            ),
        )
        .build();
    let eks = clusters_on(&mock_client!(
        aws_sdk_eks,
        RuleMode::Sequential,
        [&rule],
        fast_retries
    ));
    let err = eks
        .describe(&cluster("prod", "eu-west-3"), EVENT_MAX_AGE)
        .await
        .unwrap_err();
    match &err {
        EksError::AccessDenied {
            operation,
            cluster,
            message,
            ..
        } => {
            assert_eq!((*operation, cluster.as_str()), ("DescribeCluster", "prod"));
            assert!(message.contains("eks:DescribeCluster"), "{message}");
        }
        other => panic!("expected AccessDenied, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(rule.num_calls(), 1);
}

// ---------------------------------------------------------------------------------------------
// moto: EksClusters::new on a config loaded by aws-config from the environment, with only the
// service-specific overrides AWS_ENDPOINT_URL_EKS and AWS_ENDPOINT_URL_STS set. The environment
// is set on a child process running `moto_child_routes_eks` (a test cannot set its own
// environment without `unsafe`).
// ---------------------------------------------------------------------------------------------

const CHILD_MARKER: &str = "EKS_IAM_SYNC_AWS_EKS_CHILD";
const ROLE: &str = "arn:aws:iam::222233334444:role/eks-iam-sync";

#[test]
fn clients_keep_the_eks_and_sts_endpoint_overrides_per_region_and_assume_the_cluster_role() {
    let moto = token_support::Moto::start();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &child_test("moto_child_routes_eks"),
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_MARKER, "1")
        .env("AWS_ENDPOINT_URL_EKS", &moto.endpoint)
        .env("AWS_ENDPOINT_URL_STS", &moto.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDAWSEKSTEST000001")
        .env("AWS_SECRET_ACCESS_KEY", "awsEksTestSecret")
        .env("AWS_CONFIG_FILE", "/nonexistent/eks-iam-sync/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/eks-iam-sync/credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn create_in_moto(client: &Client, name: &str) {
    client
        .create_cluster()
        .name(name)
        .role_arn("arn:aws:iam::111122223333:role/eks-cluster")
        .resources_vpc_config(
            aws_sdk_eks::types::VpcConfigRequest::builder()
                .subnet_ids("subnet-0123456789abcdef0")
                .build(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test]
#[ignore = "run by clients_keep_the_eks_and_sts_endpoint_overrides_per_region_and_assume_the_cluster_role"]
async fn moto_child_routes_eks() {
    assert!(
        std::env::var_os(CHILD_MARKER).is_some(),
        "run by its parent test, which points AWS_ENDPOINT_URL_EKS/STS at a moto server"
    );
    let base = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let eks = EksClusters::new(base);
    let prod = cluster("prod", "eu-west-3");
    let mut shared = cluster("shared", "eu-west-3");
    shared.assume_role_arn = Some(IamArn::parse(ROLE).unwrap());

    // Same account, another region than the base config's: the override still applies.
    create_in_moto(&eks.client_for(&prod), "prod").await;
    let raw = eks
        .client_for(&prod)
        .describe_cluster()
        .name("prod")
        .send()
        .await
        .unwrap();
    let arn = raw.cluster().unwrap().arn().unwrap().to_owned();
    assert!(arn.starts_with("arn:aws:eks:eu-west-3:"), "{arn}");
    // moto's CA data is random text, so the adapter reaches the cluster and rejects its CA.
    assert!(
        matches!(eks.describe(&prod, EVENT_MAX_AGE).await, Err(EksError::BadCertificate { ref cluster, .. }) if cluster == "prod")
    );
    assert_eq!(
        eks.describe(&cluster("prod", "us-east-1"), EVENT_MAX_AGE)
            .await
            .unwrap_err(),
        EksError::NotFound {
            cluster: "prod".into(),
            region: "us-east-1".into()
        }
    );

    // Cross-account: the role is assumed through moto's STS, and moto files what the role
    // creates under the role's account.
    create_in_moto(&eks.client_for(&shared), "shared").await;
    let raw = eks
        .client_for(&shared)
        .describe_cluster()
        .name("shared")
        .send()
        .await
        .unwrap();
    let arn = raw.cluster().unwrap().arn().unwrap().to_owned();
    assert_eq!(arn, "arn:aws:eks:eu-west-3:222233334444:cluster/shared");
    assert!(matches!(
        eks.describe(&shared, EVENT_MAX_AGE).await,
        Err(EksError::BadCertificate { .. })
    ));
    assert!(matches!(
        eks.describe(&cluster("shared", "eu-west-3"), EVENT_MAX_AGE)
            .await,
        Err(EksError::NotFound { .. })
    ));
    use aws_credential_types::provider::ProvideCredentials as _;
    let role_credentials = eks
        .credentials_for(&shared)
        .unwrap()
        .provide_credentials()
        .await
        .unwrap();
    assert_ne!(role_credentials.access_key_id(), "AKIDAWSEKSTEST000001");
    assert!(role_credentials.session_token().is_some());
    assert_eq!(eks.calls(), 4);
}
