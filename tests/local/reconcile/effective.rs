//! Effective access across aws-auth and access entries, judged the way EKS decides it: a
//! member removed in IAM loses every store's grant in one run, a mode change on a warm
//! instance is seen by the next run and reported, and shadowed grants are listed.

use eks_sim::cluster::AuthMode;

use super::support::{Calls, Setup, admins, event, iam};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_removed_in_iam_loses_the_access_entry_and_the_aws_auth_mapping() {
    let s = Setup::cluster(AuthMode::ConfigMap, "auto", admins())
        .iam(vec![
            iam::get_group("eks-admins", &["alice", "vic"]),
            iam::get_group("eks-admins", &["alice", "vic"]),
            iam::get_group("eks-admins", &["alice"]),
        ])
        .start()
        .await;
    let vic = iam::user_arn("vic");

    let first = s.handle(&event("scheduled_event", None)).await.unwrap();
    assert_eq!(first["clusters"][0]["outcome"], "applied", "{first:#}");
    assert!(s.aws_auth()["mapUsers"].contains(&vic));
    assert!(s.identity_of(&vic).is_some_and(|i| i.is_admin()));

    // The cluster moves to API_AND_CONFIG_MAP: the warm instance sees it on its next run,
    // grants through access entries and reports the aws-auth mappings they shadow.
    s.change_mode(AuthMode::ApiAndConfigMap);
    let second = s.handle(&event("scheduled_event", None)).await.unwrap();
    let cluster = &second["clusters"][0];
    assert_eq!(cluster["backend"], "access-entries", "{second:#}");
    assert_eq!(cluster["authenticationMode"], "API_AND_CONFIG_MAP");
    assert_eq!(cluster["modeChanged"], "CONFIG_MAP -> API_AND_CONFIG_MAP");
    assert_eq!(cluster["added"].as_array().unwrap().len(), 2, "{second:#}");
    assert!(
        cluster["added"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["store"] == "access-entries"),
        "{second:#}"
    );
    let shadowed = cluster["shadowed"].as_array().expect("shadowed grants");
    assert!(
        shadowed
            .iter()
            .any(|s| s.as_str().unwrap().starts_with(&format!("mapUsers {vic}"))),
        "{second:#}"
    );
    assert!(s.access_entries().contains(&vic));

    // vic leaves the group: both grants go in one run, and EKS no longer knows vic.
    let third = s.handle(&event("scheduled_event", None)).await.unwrap();
    let cluster = &third["clusters"][0];
    assert_eq!(cluster["outcome"], "applied", "{third:#}");
    assert!(cluster.get("modeChanged").is_none(), "{third:#}");
    let removed: Vec<(&str, &str)> = cluster["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["store"].as_str().unwrap(), e["key"].as_str().unwrap()))
        .collect();
    assert_eq!(
        removed,
        [("aws-auth", vic.as_str()), ("access-entries", vic.as_str())],
        "{third:#}"
    );
    assert!(!s.aws_auth()["mapUsers"].contains(&vic));
    assert!(!s.access_entries().contains(&vic));
    assert!(s.identity_of(&vic).is_none(), "vic is refused (401)");
    assert!(
        s.identity_of(&iam::user_arn("alice"))
            .is_some_and(|i| i.is_admin())
    );
    s.verify(
        Calls::none()
            .iam(&["GetGroup", "GetGroup", "GetGroup"])
            .caller_identity()
            .eks(&[
                ("DescribeCluster", 3),
                ("ListAccessEntries", 2),
                ("DescribeAccessEntry", 4),
                ("ListAssociatedAccessPolicies", 4),
                ("CreateAccessEntry", 2),
                ("AssociateAccessPolicy", 2),
                ("DeleteAccessEntry", 1),
            ])
            .kube(&[("get", 3), ("create", 1), ("update", 1)]),
    );
    s.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_instance_grants_through_access_entries_after_a_switch_to_api() {
    let s = Setup::cluster(AuthMode::ApiAndConfigMap, "auto", admins())
        .iam(vec![
            iam::get_group("eks-admins", &["alice"]),
            iam::list_groups_for_user("bob", &["eks-admins"]),
            iam::get_user("bob"),
        ])
        .start()
        .await;
    s.handle(&event("scheduled_event", None)).await.unwrap();
    s.change_mode(AuthMode::Api);

    let added = s
        .handle(&event(
            "add_user_to_group",
            Some(serde_json::json!({"groupName": "eks-admins", "userName": "bob"})),
        ))
        .await
        .unwrap();
    let cluster = &added["clusters"][0];
    assert_eq!(
        cluster["modeChanged"], "API_AND_CONFIG_MAP -> API",
        "{added:#}"
    );
    assert_eq!(cluster["backend"], "access-entries");
    assert_eq!(cluster["added"][0]["store"], "access-entries", "{added:#}");
    assert!(
        s.identity_of(&iam::user_arn("bob"))
            .is_some_and(|i| i.is_admin()),
        "bob's own token is let in"
    );
}
