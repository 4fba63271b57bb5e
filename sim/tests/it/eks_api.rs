//! The EKS API through the real aws-sdk-eks client (AWS_ENDPOINT_URL_EKS style): clusters
//! with a working HTTPS endpoint and PEM CA, one-way authentication-mode upgrades, the
//! access-entry calls with EKS's validation errors, and pagination.

use aws_sdk_eks::Client;
use aws_sdk_eks::types::{
    AccessScope, AccessScopeType, AuthenticationMode, CreateAccessConfigRequest,
    UpdateAccessConfigRequest, VpcConfigRequest,
};
use base64::Engine as _;
use eks_sim::RunningSim;
use eks_sim::cluster::AuthMode;

use crate::support::{self, AWS_AUTH, Kube, quick_token};

const ADMIN_POLICY: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";

pub async fn client(sim: &RunningSim) -> Client {
    let creds = aws_sdk_eks::config::Credentials::new(
        support::ADMIN_AK,
        support::ADMIN_SK,
        None,
        None,
        "test",
    );
    let config = aws_sdk_eks::Config::builder()
        .behavior_version(aws_sdk_eks::config::BehaviorVersion::latest())
        .region(aws_sdk_eks::config::Region::new(support::REGION))
        .credentials_provider(creds)
        .endpoint_url(&sim.eks_endpoint)
        .build();
    Client::from_conf(config)
}

fn code<E: aws_sdk_eks::error::ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("none").to_owned()
}

#[tokio::test]
async fn describe_cluster_gives_a_working_endpoint_and_pem_ca() {
    let sim = support::sim(AuthMode::ApiAndConfigMap).await;
    let eks = client(&sim).await;
    let c = eks
        .describe_cluster()
        .name("demo")
        .send()
        .await
        .unwrap()
        .cluster
        .unwrap();
    assert_eq!(c.status.unwrap().as_str(), "ACTIVE");
    assert_eq!(
        c.endpoint.as_deref(),
        sim.cluster_endpoint("demo").as_deref()
    );
    let pem = base64::engine::general_purpose::STANDARD
        .decode(c.certificate_authority.unwrap().data.unwrap())
        .unwrap();
    assert_eq!(String::from_utf8(pem).unwrap(), sim.ca_pem());
    assert_eq!(
        c.access_config.unwrap().authentication_mode.unwrap(),
        AuthenticationMode::ApiAndConfigMap
    );
    let e = eks
        .describe_cluster()
        .name("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "ResourceNotFoundException");
}

#[tokio::test]
async fn create_cluster_serves_a_new_kubernetes_api_for_its_creator() {
    let sim = support::sim(AuthMode::ApiAndConfigMap).await;
    let eks = client(&sim).await;
    let vpc = VpcConfigRequest::builder().build();
    let made = eks
        .create_cluster()
        .name("second")
        .role_arn("arn:aws:iam::123456789012:role/eks")
        .resources_vpc_config(vpc.clone())
        .access_config(
            CreateAccessConfigRequest::builder()
                .authentication_mode(AuthenticationMode::ConfigMap)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(made.cluster.unwrap().name.as_deref(), Some("second"));
    let names = eks.list_clusters().send().await.unwrap().clusters.unwrap();
    assert_eq!(names, vec!["demo", "second"]);
    let dup = eks
        .create_cluster()
        .name("second")
        .role_arn("r")
        .resources_vpc_config(vpc)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&dup.into_service_error()), "ResourceInUseException");
    // The SDK signed with the admin's key: the admin created it and is its hidden admin.
    let kube = Kube::new(&sim, "second");
    let token = eks_sim::token::mint(
        &support::admin(),
        "second",
        support::REGION,
        jiff::Timestamp::now(),
    );
    assert_eq!(
        kube.call("GET", AWS_AUTH, &token, None).await.0,
        404,
        "authenticated, no aws-auth yet"
    );
    let dev = eks_sim::token::mint(
        &support::dev(),
        "second",
        support::REGION,
        jiff::Timestamp::now(),
    );
    assert_eq!(kube.call("GET", AWS_AUTH, &dev, None).await.0, 401);
}

#[tokio::test]
async fn authentication_mode_upgrades_are_one_way() {
    let sim = support::sim(AuthMode::ConfigMap).await;
    let eks = client(&sim).await;
    let to = |m: AuthenticationMode| {
        UpdateAccessConfigRequest::builder()
            .authentication_mode(m)
            .build()
    };
    let e = eks
        .create_access_entry()
        .cluster_name("demo")
        .principal_arn("arn:aws:iam::123456789012:role/Dev")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e.into_service_error()),
        "InvalidRequestException",
        "CONFIG_MAP mode has no access entries"
    );
    let e = eks
        .update_cluster_config()
        .name("demo")
        .access_config(to(AuthenticationMode::Api))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e.into_service_error()),
        "InvalidParameterException",
        "no skipping a step"
    );
    let u = eks
        .update_cluster_config()
        .name("demo")
        .access_config(to(AuthenticationMode::ApiAndConfigMap))
        .send()
        .await
        .unwrap();
    let id = u.update.unwrap().id.unwrap();
    let done = eks
        .describe_update()
        .name("demo")
        .update_id(id)
        .send()
        .await
        .unwrap();
    assert_eq!(done.update.unwrap().status.unwrap().as_str(), "Successful");
    let e = eks
        .update_cluster_config()
        .name("demo")
        .access_config(to(AuthenticationMode::ConfigMap))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e.into_service_error()),
        "InvalidParameterException",
        "no downgrade"
    );
    // On upgrade the creator got its admin access entry.
    let entries = eks
        .list_access_entries()
        .cluster_name("demo")
        .send()
        .await
        .unwrap();
    assert_eq!(entries.access_entries.unwrap(), vec![support::ADMIN_ARN]);
}

#[tokio::test]
async fn access_entries_follow_eks_validation_rules() {
    let sim = support::sim(AuthMode::ApiAndConfigMap).await;
    let eks = client(&sim).await;
    let dev = "arn:aws:iam::123456789012:role/team/Dev";
    let create = || eks.create_access_entry().cluster_name("demo");
    for (what, req) in [
        ("system: group", create().principal_arn(dev).kubernetes_groups("system:masters")),
        ("reserved username", create().principal_arn(dev).username("aws:me")),
        ("STS session ARN", create().principal_arn(support::DEV_ARN)),
        ("service-linked role", create().principal_arn("arn:aws:iam::123456789012:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS")),
        ("node type with groups", create().principal_arn(dev).r#type("EC2_LINUX").kubernetes_groups("a")),
        ("node role of another account", create().principal_arn("arn:aws:iam::999999999999:role/node").r#type("EC2_LINUX")),
    ] {
        let e = req.send().await.unwrap_err();
        assert_eq!(code(&e.into_service_error()), "InvalidParameterException", "{what}");
    }
    let made = create()
        .principal_arn(dev)
        .kubernetes_groups("devs")
        .send()
        .await
        .unwrap()
        .access_entry
        .unwrap();
    assert_eq!(
        made.username.as_deref(),
        Some("arn:aws:sts::123456789012:assumed-role/Dev/{{SessionName}}")
    );
    assert_eq!(made.r#type.as_deref(), Some("STANDARD"));
    let e = create().principal_arn(dev).send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "ResourceInUseException");

    let updated = eks
        .update_access_entry()
        .cluster_name("demo")
        .principal_arn(dev)
        .kubernetes_groups("ops")
        .send()
        .await
        .unwrap();
    assert_eq!(
        updated.access_entry.unwrap().kubernetes_groups.unwrap(),
        vec!["ops"]
    );

    let ns_scope = AccessScope::builder()
        .r#type(AccessScopeType::Namespace)
        .build();
    let e = eks
        .associate_access_policy()
        .cluster_name("demo")
        .principal_arn(dev)
        .policy_arn(ADMIN_POLICY)
        .access_scope(ns_scope)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e.into_service_error()),
        "InvalidParameterException",
        "namespace scope needs namespaces"
    );
    let cluster_scope = AccessScope::builder()
        .r#type(AccessScopeType::Cluster)
        .build();
    let e = eks
        .associate_access_policy()
        .cluster_name("demo")
        .principal_arn(dev)
        .policy_arn("arn:aws:eks::aws:cluster-access-policy/Nope")
        .access_scope(cluster_scope.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e.into_service_error()),
        "InvalidParameterException",
        "unknown policy"
    );
    eks.associate_access_policy()
        .cluster_name("demo")
        .principal_arn(dev)
        .policy_arn(ADMIN_POLICY)
        .access_scope(cluster_scope)
        .send()
        .await
        .unwrap();
    let listed = eks
        .list_associated_access_policies()
        .cluster_name("demo")
        .principal_arn(dev)
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.associated_access_policies.unwrap()[0]
            .policy_arn
            .as_deref(),
        Some(ADMIN_POLICY)
    );
    let filtered = eks
        .list_access_entries()
        .cluster_name("demo")
        .associated_policy_arn(ADMIN_POLICY)
        .send()
        .await
        .unwrap();
    assert_eq!(filtered.access_entries.unwrap().len(), 2, "creator and dev");

    // The entry makes the (path-less) assumed-role caller an admin of the cluster.
    let kube = Kube::new(&sim, "demo");
    assert_eq!(
        kube.call(
            "GET",
            "/api/v1/namespaces/kube-system/configmaps",
            &quick_token(&support::dev()),
            None
        )
        .await
        .0,
        200
    );

    eks.disassociate_access_policy()
        .cluster_name("demo")
        .principal_arn(dev)
        .policy_arn(ADMIN_POLICY)
        .send()
        .await
        .unwrap();
    let e = eks
        .disassociate_access_policy()
        .cluster_name("demo")
        .principal_arn(dev)
        .policy_arn(ADMIN_POLICY)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "ResourceNotFoundException");
    eks.delete_access_entry()
        .cluster_name("demo")
        .principal_arn(dev)
        .send()
        .await
        .unwrap();
    let e = eks
        .describe_access_entry()
        .cluster_name("demo")
        .principal_arn(dev)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "ResourceNotFoundException");
    assert_eq!(
        kube.call(
            "GET",
            "/api/v1/namespaces/default/configmaps",
            &quick_token(&support::dev()),
            None
        )
        .await
        .0,
        401
    );
}

#[tokio::test]
async fn lists_paginate() {
    let sim = support::sim(AuthMode::Api).await;
    let eks = client(&sim).await;
    for i in 0..5 {
        eks.create_access_entry()
            .cluster_name("demo")
            .principal_arn(format!("arn:aws:iam::123456789012:user/u{i}"))
            .send()
            .await
            .unwrap();
    }
    let mut all = Vec::new();
    let mut pages = eks
        .list_access_entries()
        .cluster_name("demo")
        .max_results(2)
        .into_paginator()
        .send();
    let mut count = 0;
    while let Some(page) = pages.next().await {
        all.extend(page.unwrap().access_entries.unwrap());
        count += 1;
    }
    assert_eq!((all.len(), count), (6, 3));
    let policies = eks
        .list_access_policies()
        .send()
        .await
        .unwrap()
        .access_policies
        .unwrap();
    assert!(
        policies
            .iter()
            .any(|p| p.arn.as_deref() == Some(ADMIN_POLICY))
    );
}
