//! `aws::access_entries::AccessEntryStore` on the real `aws_sdk_eks::Client` with
//! aws-smithy-mocks: pagination and policy scopes read into `CurrentEntry`, calls counted,
//! EKS validation errors failing one entry, a removal that finds nothing done, throttling
//! failing the read instead of reading as "no entries".

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_eks::Client;
use aws_sdk_eks::config::retry::RetryConfig;
use aws_sdk_eks::operation::describe_access_entry::DescribeAccessEntryOutput;
use aws_sdk_eks::operation::list_access_entries::ListAccessEntriesOutput;
use aws_sdk_eks::operation::list_associated_access_policies::ListAssociatedAccessPoliciesOutput;
use aws_sdk_eks::types::{AccessEntry, AccessScope, AccessScopeType, AssociatedAccessPolicy};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use eks_iam_sync::aws::access_entries::{AccessEntryCalls, AccessEntryError, AccessEntryStore};
use eks_iam_sync::core::access_entries::{MANAGED_TAG, Operation, Policy, Scope};

const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const NODES: &str = "arn:aws:iam::111122223333:role/nodes";
const VIEW: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy";

fn fast_retries(config: aws_sdk_eks::config::Builder) -> aws_sdk_eks::config::Builder {
    config.retry_config(
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1))
            .with_max_backoff(Duration::from_millis(5)),
    )
}

fn store(client: Client) -> (AccessEntryStore, Arc<AccessEntryCalls>) {
    let calls = Arc::new(AccessEntryCalls::default());
    (AccessEntryStore::new(client, "prod", calls.clone()), calls)
}

#[tokio::test]
async fn entries_are_read_across_pages_with_tags_and_policy_scopes() {
    let first = mock!(Client::list_access_entries)
        .match_requests(|r| r.next_token().is_none() && r.cluster_name() == Some("prod"))
        .then_output(|| {
            ListAccessEntriesOutput::builder()
                .access_entries(ALICE)
                .next_token("page-2")
                .build()
        });
    let second = mock!(Client::list_access_entries)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(|| {
            ListAccessEntriesOutput::builder()
                .access_entries(NODES)
                .build()
        });
    let describe = mock!(Client::describe_access_entry).then_output(|| {
        DescribeAccessEntryOutput::builder()
            .access_entry(
                AccessEntry::builder()
                    .principal_arn(ALICE)
                    .r#type("STANDARD")
                    .username("alice")
                    .kubernetes_groups("devs")
                    .set_tags(Some(HashMap::from([(
                        MANAGED_TAG.to_owned(),
                        "true".to_owned(),
                    )])))
                    .build(),
            )
            .build()
    });
    let policies = mock!(Client::list_associated_access_policies).then_output(|| {
        ListAssociatedAccessPoliciesOutput::builder()
            .associated_access_policies(
                AssociatedAccessPolicy::builder()
                    .policy_arn(VIEW)
                    .access_scope(
                        AccessScope::builder()
                            .r#type(AccessScopeType::Namespace)
                            .namespaces("dev")
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let client = mock_client!(
        aws_sdk_eks,
        RuleMode::MatchAny,
        [&first, &second, &describe, &policies]
    );
    let (store, calls) = store(client);
    let entries = store.list().await.unwrap();
    assert_eq!(entries.len(), 2);
    let alice = &entries[0];
    assert!(alice.is_managed());
    assert_eq!(alice.groups, ["devs"]);
    assert_eq!(
        alice.policies,
        [Policy {
            policy_arn: VIEW.to_owned(),
            scope: Scope::Namespaces(vec!["dev".to_owned()])
        }]
    );
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    assert_eq!(
        calls.snapshot(),
        (6, 0),
        "2 list pages + 2 × (describe + policies)"
    );
}

#[tokio::test]
async fn a_rejected_call_is_per_entry_and_not_retried() {
    let rejected = mock!(Client::create_access_entry)
        .sequence()
        .http_status(
            400,
            Some(
                r#"{"__type":"InvalidParameterException","message":"The principalArn is a service-linked role"}"#
                    .to_owned(),
            ),
        )
        .build();
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&rejected], fast_retries);
    let (store, calls) = store(client);
    let err = store
        .run(&Operation::Create {
            principal_arn: ALICE.to_owned(),
            entry_type: "STANDARD".to_owned(),
            username: Some("alice".to_owned()),
            groups: vec![],
            tags: Default::default(),
        })
        .await
        .unwrap_err();
    match &err {
        AccessEntryError::Rejected {
            operation,
            principal,
            message,
            ..
        } => {
            assert_eq!(*operation, "CreateAccessEntry");
            assert_eq!(principal, ALICE);
            assert!(message.contains("InvalidParameterException"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_per_entry());
    assert_eq!(rejected.num_calls(), 1, "a validation error is not retried");
    assert_eq!(calls.snapshot(), (0, 1));
}

/// Issue 20: a delete of an entry already gone counted as a rejection, and held back every
/// later revocation. Finding nothing to remove is what a removal is for.
#[tokio::test]
async fn a_removal_that_finds_nothing_is_done() {
    let not_found = || {
        Some(
            r#"{"__type":"ResourceNotFoundException","message":"The specified access entry resource is not found"}"#
                .to_owned(),
        )
    };
    let delete = mock!(Client::delete_access_entry)
        .sequence()
        .http_status(404, not_found())
        .build();
    let disassociate = mock!(Client::disassociate_access_policy)
        .sequence()
        .http_status(404, not_found())
        .build();
    let update = mock!(Client::update_access_entry)
        .sequence()
        .http_status(404, not_found())
        .build();
    let client = mock_client!(
        aws_sdk_eks,
        RuleMode::MatchAny,
        [&delete, &disassociate, &update],
        fast_retries
    );
    let (store, _) = store(client);
    let gone = Operation::Delete {
        principal_arn: NODES.to_owned(),
    };
    store.run(&gone).await.unwrap();
    store
        .run(&Operation::Disassociate {
            principal_arn: ALICE.to_owned(),
            policy_arn: VIEW.to_owned(),
        })
        .await
        .unwrap();
    let err = store
        .run(&Operation::Update {
            principal_arn: ALICE.to_owned(),
            username: None,
            groups: vec![],
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            AccessEntryError::Rejected {
                operation: "UpdateAccessEntry",
                ..
            }
        ),
        "an update that finds nothing did not do its job: {err:?}"
    );
}

#[tokio::test]
async fn throttling_fails_the_read_instead_of_reading_no_entries() {
    let throttled = mock!(Client::list_access_entries)
        .sequence()
        .http_status(
            429,
            Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_owned()),
        )
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&throttled], fast_retries);
    let (store, _) = store(client);
    let err = store.list().await.unwrap_err();
    assert!(
        matches!(&err, AccessEntryError::Throttled { operation: "ListAccessEntries", cluster, .. } if cluster == "prod"),
        "{err:?}"
    );
    assert!(!err.is_per_entry());
    assert_eq!(throttled.num_calls(), 3, "the SDK's retries ran first");
}

/// The SDK's paginator ends quietly when EKS repeats a nextToken; the store must not take the
/// pages read so far for every entry of the cluster.
#[tokio::test]
async fn a_repeated_next_token_is_an_error_not_a_short_list() {
    let looping = mock!(Client::list_access_entries).then_output(|| {
        ListAccessEntriesOutput::builder()
            .access_entries(ALICE)
            .next_token("again")
            .build()
    });
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&looping]);
    let (store, calls) = store(client);
    let err = store.list().await.unwrap_err();
    assert!(
        matches!(&err, AccessEntryError::BadPage { operation: "ListAccessEntries", cluster, why, .. }
            if cluster == "prod" && why.contains("nextToken did not change (page 2)")),
        "{err:?}"
    );
    assert!(!err.is_per_entry());
    assert_eq!(looping.num_calls(), 2, "stops at the first repeated token");
    assert_eq!(calls.snapshot(), (2, 0), "one read per page");
}
