//! An `API_AND_CONFIG_MAP` cluster with `backend: auto` grants through access entries; EKS
//! reads aws-auth there too, so aws-auth is read (one GET) to keep its managed entries in step.

use super::support::{Calls, Setup, admins, event, iam};
use eks_sim::cluster::AuthMode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_creates_an_access_entry_per_member() {
    let s = Setup::cluster(AuthMode::ApiAndConfigMap, "auto", admins())
        .iam(vec![iam::get_group("eks-admins", &["alice"])])
        .start()
        .await;

    let response = s
        .handle(&event("scheduled_event", None))
        .await
        .expect("the run succeeds");
    let cluster = &response["clusters"][0];
    assert_eq!(cluster["backend"], "access-entries", "{response:#}");
    assert_eq!(cluster["outcome"], "applied", "{response:#}");
    assert_eq!(cluster["added"][0]["key"], iam::user_arn("alice"));
    s.verify(
        Calls::none()
            .iam(&["GetGroup"])
            .caller_identity()
            .eks(&[
                ("DescribeCluster", 1),
                ("ListAccessEntries", 1),
                ("DescribeAccessEntry", 1),
                ("ListAssociatedAccessPolicies", 1),
                ("CreateAccessEntry", 1),
                ("AssociateAccessPolicy", 1),
            ])
            .kube(&[("get", 1)]),
    );
    s.finish();
}
