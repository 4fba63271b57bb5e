//! Failures: an IAM read that fails fails the cluster before any cluster call, and is never
//! taken for "no members" (nothing is written).

use super::support::{Calls, Setup, event, iam};
use eks_iam_sync::handler::HandlerError;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_group_read_fails_the_cluster_without_touching_it() {
    let s = Setup::admins_on_aws_auth()
        .iam(vec![iam::get_group_denied("eks-admins")])
        .start()
        .await;

    let error = s
        .handle(&event("scheduled_event", None))
        .await
        .expect_err("a failed cluster fails the invocation");
    s.verify(Calls::none().iam(&["GetGroup"]));
    let HandlerError::ClustersFailed {
        failed,
        total,
        summary,
    } = error
    else {
        panic!("expected ClustersFailed, got {error:?}");
    };
    assert_eq!((failed, total), (1, 1));
    let cluster = &summary["clusters"][0];
    assert_eq!(cluster["outcome"], "failed");
    let message = cluster["error"].as_str().unwrap();
    assert!(
        message.starts_with(
            "IAM read failed (group eks-admins): IAM GetGroup for group eks-admins was denied"
        ),
        "{message}"
    );
    super::support::snapshot!("group_read_denied", summary);
    assert!(s.aws_auth().is_empty(), "nothing was written");
    s.finish();
}
