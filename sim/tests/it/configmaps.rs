//! The Kubernetes side over real HTTPS with real tokens: optimistic concurrency with the
//! API server's 409 text, 404/422/AlreadyExists Status objects, dry runs, authorization
//! (403 on kube-system for non-admins, 401 for the unmapped), and lockouts: a principal
//! removed from aws-auth, or whose section breaks, is refused on its very next call.

use eks_sim::cluster::AuthMode;
use serde_json::{Value, json};

use crate::support::{self, AWS_AUTH, KUBE_SYSTEM_CMS, Kube, quick_token};

fn aws_auth(map_roles: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "aws-auth", "namespace": "kube-system"},
        "data": {"mapRoles": map_roles},
    })
}

const DEV_ROLE: &str = "arn:aws:iam::123456789012:role/Dev";

#[tokio::test]
async fn stale_resource_version_gets_the_real_409() {
    let sim = support::sim(AuthMode::ConfigMap).await;
    let kube = Kube::new(&sim, support::CLUSTER);
    let admin = quick_token(&support::admin());
    let (s, created) = kube
        .call("POST", KUBE_SYSTEM_CMS, &admin, Some(&aws_auth("")))
        .await;
    assert_eq!(s, 201);
    let (s, _) = kube
        .call(
            "PATCH",
            AWS_AUTH,
            &admin,
            Some(&json!({"data": {"x": "1"}})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, status) = kube.call("PUT", AWS_AUTH, &admin, Some(&created)).await;
    assert_eq!(s, 409);
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(
        status["message"],
        "Operation cannot be fulfilled on configmaps \"aws-auth\": the object has been modified; please apply your changes to the latest version and try again"
    );
    // A patch carrying a stale resourceVersion is a precondition too.
    let stale = json!({"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}, "data": {"y": "2"}});
    assert_eq!(
        kube.call("PATCH", AWS_AUTH, &admin, Some(&stale)).await.0,
        409
    );
    let (_, current) = kube.call("GET", AWS_AUTH, &admin, None).await;
    let mut fresh = current.clone();
    fresh["data"]["z"] = json!("3");
    let (s, replaced) = kube.call("PUT", AWS_AUTH, &admin, Some(&fresh)).await;
    assert_eq!(s, 200);
    assert_ne!(
        replaced["metadata"]["resourceVersion"],
        current["metadata"]["resourceVersion"]
    );
}

#[tokio::test]
async fn errors_are_status_objects_and_dry_runs_do_not_persist() {
    let sim = support::sim(AuthMode::ConfigMap).await;
    let kube = Kube::new(&sim, support::CLUSTER);
    let admin = quick_token(&support::admin());
    let (s, st) = kube.call("GET", AWS_AUTH, &admin, None).await;
    assert_eq!((s, st["reason"].as_str()), (404, Some("NotFound")));
    assert_eq!(st["message"], "configmaps \"aws-auth\" not found");

    let dry = format!("{KUBE_SYSTEM_CMS}?dryRun=All");
    let (s, obj) = kube.call("POST", &dry, &admin, Some(&aws_auth(""))).await;
    assert_eq!(
        (s, obj["metadata"]["name"].as_str()),
        (201, Some("aws-auth"))
    );
    assert_eq!(
        kube.call("GET", AWS_AUTH, &admin, None).await.0,
        404,
        "dry run persisted"
    );

    assert_eq!(
        kube.call("POST", KUBE_SYSTEM_CMS, &admin, Some(&aws_auth("")))
            .await
            .0,
        201
    );
    let (s, st) = kube
        .call("POST", KUBE_SYSTEM_CMS, &admin, Some(&aws_auth("")))
        .await;
    assert_eq!((s, st["reason"].as_str()), (409, Some("AlreadyExists")));

    let big = json!({"data": {"mapRoles": "x".repeat(1024 * 1024)}});
    let (s, st) = kube.call("PATCH", AWS_AUTH, &admin, Some(&big)).await;
    assert_eq!((s, st["reason"].as_str()), (422, Some("Invalid")));
    assert!(
        st["message"]
            .as_str()
            .unwrap()
            .contains("must have at most 1048576 bytes")
    );

    let (s, _) = kube
        .call(
            "PATCH",
            &format!("{AWS_AUTH}?dryRun=All"),
            &admin,
            Some(&json!({"data": {"k": "v"}})),
        )
        .await;
    assert_eq!(s, 200);
    assert!(
        kube.call("GET", AWS_AUTH, &admin, None).await.1["data"]
            .get("k")
            .is_none()
    );

    let typo = json!({"metadata": {"name": "typo"}, "dta": {}});
    let strict = format!("{KUBE_SYSTEM_CMS}?fieldValidation=Strict");
    let (s, st) = kube.call("POST", &strict, &admin, Some(&typo)).await;
    assert_eq!(
        (s, st["message"].as_str()),
        (400, Some("strict decoding error: unknown field \"dta\""))
    );

    let (s, st) = kube.call("DELETE", AWS_AUTH, &admin, None).await;
    assert_eq!((s, st["status"].as_str()), (200, Some("Success")));
    assert_eq!(kube.call("DELETE", AWS_AUTH, &admin, None).await.0, 404);
}

#[tokio::test]
async fn non_admins_get_403_on_kube_system_and_unmapped_callers_401() {
    let sim = support::sim(AuthMode::ConfigMap).await;
    let kube = Kube::new(&sim, support::CLUSTER);
    let admin = quick_token(&support::admin());
    let dev = quick_token(&support::dev());
    assert_eq!(
        kube.call("GET", KUBE_SYSTEM_CMS, &dev, None).await.0,
        401,
        "unmapped"
    );
    let roles = format!(
        "- rolearn: {DEV_ROLE}\n  username: \"dev:{{{{SessionName}}}}\"\n  groups: [developers]\n"
    );
    kube.call("POST", KUBE_SYSTEM_CMS, &admin, Some(&aws_auth(&roles)))
        .await;
    let (s, st) = kube.call("GET", AWS_AUTH, &dev, None).await;
    assert_eq!(s, 403);
    assert_eq!(
        st["message"],
        "configmaps \"aws-auth\" is forbidden: User \"dev:alice-example.com\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"kube-system\""
    );
    assert_eq!(
        kube.call("GET", "/api/v1/namespaces/default/configmaps", &dev, None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_principal_removed_from_aws_auth_is_locked_out_on_its_next_call() {
    let sim = support::sim(AuthMode::ConfigMap).await;
    let kube = Kube::new(&sim, support::CLUSTER);
    let admin = quick_token(&support::admin());
    let dev = quick_token(&support::dev());
    let roles = format!("- rolearn: {DEV_ROLE}\n  username: dev\n  groups: [system:masters]\n");
    kube.call("POST", KUBE_SYSTEM_CMS, &admin, Some(&aws_auth(&roles)))
        .await;
    let (s, current) = kube.call("GET", AWS_AUTH, &dev, None).await;
    assert_eq!(s, 200, "dev is an admin through aws-auth");
    // Dev removes its own mapping, with its own (still valid) token...
    let mut without = current.clone();
    without["data"]["mapRoles"] = json!("[]");
    assert_eq!(
        kube.call("PUT", AWS_AUTH, &dev, Some(&without)).await.0,
        200
    );
    // ...and the very next call with the same token is refused.
    assert_eq!(kube.call("GET", AWS_AUTH, &dev, None).await.0, 401);
    // Demoted instead of removed: 403.
    let demoted = format!("- rolearn: {DEV_ROLE}\n  username: dev\n  groups: [viewers]\n");
    kube.call(
        "PATCH",
        AWS_AUTH,
        &admin,
        Some(&json!({"data": {"mapRoles": demoted}})),
    )
    .await;
    assert_eq!(
        kube.call("PUT", AWS_AUTH, &dev, Some(&without)).await.0,
        403
    );
}

#[tokio::test]
async fn one_typo_in_map_roles_drops_every_role_mapping() {
    let sim = support::sim(AuthMode::ConfigMap).await;
    let kube = Kube::new(&sim, support::CLUSTER);
    let admin = quick_token(&support::admin());
    let dev = quick_token(&support::dev());
    let good = format!("- rolearn: {DEV_ROLE}\n  username: dev\n  groups: [system:masters]\n");
    kube.call("POST", KUBE_SYSTEM_CMS, &admin, Some(&aws_auth(&good)))
        .await;
    assert_eq!(kube.call("GET", AWS_AUTH, &dev, None).await.0, 200);
    // An unquoted template is a YAML flow mapping: the whole section fails to parse.
    let typo = format!(
        "{good}- rolearn: arn:aws:iam::123456789012:role/Other\n  username: {{{{SessionName}}}}\n"
    );
    kube.call(
        "PATCH",
        AWS_AUTH,
        &admin,
        Some(&json!({"data": {"mapRoles": typo}})),
    )
    .await;
    assert_eq!(kube.call("GET", AWS_AUTH, &dev, None).await.0, 401);
    let (s, view) = support::admin_call(&sim, "GET", "/_sim/clusters/demo/aws-auth", None).await;
    assert_eq!(s, 200);
    assert_eq!(view["dropped"][0]["section"], "mapRoles");
    // The creator stays admin in CONFIG_MAP mode whatever aws-auth says.
    assert_eq!(kube.call("GET", AWS_AUTH, &admin, None).await.0, 200);
}

#[tokio::test]
async fn access_entries_win_over_aws_auth_and_api_mode_ignores_it() {
    let sim = support::sim(AuthMode::ApiAndConfigMap).await;
    let kube = Kube::new(&sim, support::CLUSTER);
    let admin = quick_token(&support::admin());
    let dev = quick_token(&support::dev());
    let roles = format!("- rolearn: {DEV_ROLE}\n  username: dev\n  groups: [system:masters]\n");
    assert_eq!(
        kube.call("POST", KUBE_SYSTEM_CMS, &admin, Some(&aws_auth(&roles)))
            .await
            .0,
        201
    );
    assert_eq!(kube.call("GET", AWS_AUTH, &dev, None).await.0, 200);
    {
        let mut world = sim.state.world();
        let c = world.clusters.get_mut(support::CLUSTER).unwrap();
        let body = json!({"principalArn": DEV_ROLE, "kubernetesGroups": ["viewers"]});
        let (new, p) =
            eks_sim::access_entries::NewEntry::from_request(&body, support::ACCOUNT).unwrap();
        c.access_entries
            .create(new, p, "demo", "us-east-1", support::ACCOUNT)
            .unwrap();
    }
    assert_eq!(
        kube.call("GET", AWS_AUTH, &dev, None).await.0,
        403,
        "the entry wins"
    );
    {
        let mut world = sim.state.world();
        let c = world.clusters.get_mut(support::CLUSTER).unwrap();
        c.access_entries.delete(DEV_ROLE).unwrap();
        c.change_auth_mode(AuthMode::Api).unwrap();
    }
    assert_eq!(
        kube.call("GET", AWS_AUTH, &dev, None).await.0,
        401,
        "API mode ignores aws-auth"
    );
    assert_eq!(
        kube.call("GET", AWS_AUTH, &admin, None).await.0,
        200,
        "creator entry"
    );
}
