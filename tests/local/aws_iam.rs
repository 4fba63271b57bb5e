//! `aws::iam::IamDirectory` on the real `aws_sdk_iam::Client`: aws-smithy-mocks for
//! pagination, missing entities, throttling and AccessDenied (moto cannot paginate or
//! throttle), and one run against moto through `AWS_ENDPOINT_URL`.

use crate::token_support;

/// This module's test `name` as `--exact` takes it.
fn child_test(name: &str) -> String {
    token_support::child_test_in(module_path!(), name)
}

use std::process::Command;
use std::time::Duration;

use aws_sdk_iam::Client;
use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::error::ErrorMetadata;
use aws_sdk_iam::operation::get_group::{GetGroupError, GetGroupOutput};
use aws_sdk_iam::operation::get_user::{GetUserError, GetUserOutput};
use aws_sdk_iam::operation::list_groups_for_user::{
    ListGroupsForUserError, ListGroupsForUserOutput,
};
use aws_sdk_iam::operation::list_roles::{ListRolesError, ListRolesOutput};
use aws_sdk_iam::primitives::DateTime;
use aws_sdk_iam::types::error::NoSuchEntityException;
use aws_sdk_iam::types::{Group, Role, User};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use eks_iam_sync::aws::iam::{IamDirectory, IamError, IamUser, PAGE_SIZE, SSO_ROLE_PATH_PREFIX};

const ACCOUNT: &str = "111122223333";

fn user(name: &str) -> User {
    User::builder()
        .path("/")
        .user_name(name)
        .user_id(format!("AIDA{}", name.to_uppercase()))
        .arn(format!("arn:aws:iam::{ACCOUNT}:user/{name}"))
        .create_date(DateTime::from_secs(0))
        .build()
        .unwrap()
}

fn group(name: &str) -> Group {
    Group::builder()
        .path("/")
        .group_name(name)
        .group_id(format!("AGPA{}", name.to_uppercase()))
        .arn(format!("arn:aws:iam::{ACCOUNT}:group/{name}"))
        .create_date(DateTime::from_secs(0))
        .build()
        .unwrap()
}

fn sso_role(name: &str) -> Role {
    Role::builder()
        .path(format!("{SSO_ROLE_PATH_PREFIX}eu-west-3/"))
        .role_name(name)
        .role_id(format!("AROA{}", name.len()))
        .arn(format!(
            "arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-3/{name}"
        ))
        .create_date(DateTime::from_secs(0))
        .build()
        .unwrap()
}

fn group_page(names: &[&str], next: Option<&str>) -> GetGroupOutput {
    GetGroupOutput::builder()
        .group(group("eks-admins"))
        .set_users(Some(names.iter().map(|n| user(n)).collect()))
        .is_truncated(next.is_some())
        .set_marker(next.map(str::to_owned))
        .build()
        .unwrap()
}

/// A GetGroup rule answering only the request with `marker`.
fn group_page_rule(
    marker: Option<&'static str>,
    names: &'static [&'static str],
    next: Option<&'static str>,
) -> Rule {
    mock!(Client::get_group)
        .match_requests(move |req| req.group_name() == Some("eks-admins") && req.marker() == marker)
        .then_output(move || group_page(names, next))
}

/// IAM's query-protocol error document, as the service sends it.
fn iam_error_xml(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>\
         <Code>{code}</Code><Message>{message}</Message></Error><RequestId>4d5e6f</RequestId></ErrorResponse>"
    )
}

/// The SDK's standard retry mode (3 attempts), with millisecond backoff so tests are quick.
fn fast_retries(config: aws_sdk_iam::config::Builder) -> aws_sdk_iam::config::Builder {
    config.retry_config(
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1))
            .with_max_backoff(Duration::from_millis(5)),
    )
}

fn names(users: &[IamUser]) -> Vec<&str> {
    users.iter().map(|u| u.name.as_str()).collect()
}

#[tokio::test]
async fn group_members_reads_all_three_pages_and_counts_each_page() {
    let first = group_page_rule(None, &["alice", "bob"], Some("m1"));
    let second = group_page_rule(Some("m1"), &["carol"], Some("m2"));
    let third = group_page_rule(Some("m2"), &["dave"], None);
    let client = mock_client!(aws_sdk_iam, RuleMode::Sequential, [&first, &second, &third]);
    let iam = IamDirectory::new(client);

    let members = iam.group_members("eks-admins").await.unwrap().unwrap();

    assert_eq!(names(&members), ["alice", "bob", "carol", "dave"]);
    assert_eq!(
        members[2],
        IamUser {
            name: "carol".into(),
            arn: format!("arn:aws:iam::{ACCOUNT}:user/carol"),
            user_id: "AIDACAROL".into(),
        }
    );
    assert_eq!(iam.calls(), 3);
    assert_eq!(
        (first.num_calls(), second.num_calls(), third.num_calls()),
        (1, 1, 1)
    );
}

/// GetGroup as IAM pages it (moto answers in one page whatever is asked): page `page` of
/// `PAGE_SIZE` members out of `total`, answered only to a request asking for
/// `MaxItems = PAGE_SIZE` with the marker of that page.
fn thousand_member_page_rule(page: usize, total: usize) -> Rule {
    let size = usize::try_from(PAGE_SIZE).unwrap();
    let marker = (page > 0).then(|| format!("page-{page}"));
    let start = page * size;
    let end = total.min(start + size);
    let next = (end < total).then(|| format!("page-{}", page + 1));
    mock!(Client::get_group)
        .match_requests(move |req| {
            req.group_name() == Some("eks-admins")
                && req.max_items() == Some(PAGE_SIZE)
                && req.marker() == marker.as_deref()
        })
        .then_output(move || {
            let names: Vec<String> = (start..end).map(|i| format!("user{i:04}")).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            group_page(&names, next.as_deref())
        })
}

#[tokio::test]
async fn a_group_is_read_in_pages_of_1000_so_2500_members_take_three_calls() {
    // (members, calls): the figures of BENCHMARKS.md "IAM paging".
    for (total, calls) in [(1000, 1), (1001, 2), (2500, 3)] {
        let pages: Vec<Rule> = (0..calls)
            .map(|page| thousand_member_page_rule(page, total))
            .collect();
        let client = mock_client!(aws_sdk_iam, RuleMode::Sequential, &pages);
        let iam = IamDirectory::new(client);

        let members = iam.group_members("eks-admins").await.unwrap().unwrap();

        assert_eq!(members.len(), total);
        assert_eq!(members[0].name, "user0000");
        assert_eq!(members[total - 1].name, format!("user{:04}", total - 1));
        assert_eq!(iam.calls(), calls as u64, "{total} members");
        let answered: Vec<usize> = pages.iter().map(Rule::num_calls).collect();
        assert_eq!(
            answered,
            vec![1; calls],
            "each page asked for once, with MaxItems=1000 ({total} members)"
        );
    }
}

#[tokio::test]
async fn groups_for_user_and_sso_roles_follow_their_markers() {
    let groups_1 = mock!(Client::list_groups_for_user)
        .match_requests(|req| {
            req.user_name() == Some("alice")
                && req.marker().is_none()
                && req.max_items() == Some(PAGE_SIZE)
        })
        .then_output(|| {
            ListGroupsForUserOutput::builder()
                .groups(group("eks-admins"))
                .is_truncated(true)
                .marker("g1")
                .build()
                .unwrap()
        });
    let groups_2 = mock!(Client::list_groups_for_user)
        .match_requests(|req| {
            req.user_name() == Some("alice")
                && req.marker() == Some("g1")
                && req.max_items() == Some(PAGE_SIZE)
        })
        .then_output(|| {
            ListGroupsForUserOutput::builder()
                .groups(group("developers"))
                .is_truncated(false)
                .build()
                .unwrap()
        });
    let roles_1 = mock!(Client::list_roles)
        .match_requests(|req| {
            req.path_prefix() == Some("/aws-reserved/sso.amazonaws.com/")
                && req.marker().is_none()
                && req.max_items() == Some(PAGE_SIZE)
        })
        .then_output(|| {
            ListRolesOutput::builder()
                .roles(sso_role("AWSReservedSSO_Admin_0123456789abcdef"))
                .is_truncated(true)
                .marker("r1")
                .build()
                .unwrap()
        });
    let roles_2 = mock!(Client::list_roles)
        .match_requests(|req| {
            req.path_prefix() == Some("/aws-reserved/sso.amazonaws.com/")
                && req.marker() == Some("r1")
                && req.max_items() == Some(PAGE_SIZE)
        })
        .then_output(|| {
            ListRolesOutput::builder()
                .roles(sso_role("AWSReservedSSO_ReadOnly_fedcba9876543210"))
                .is_truncated(false)
                .build()
                .unwrap()
        });
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::Sequential,
        [&groups_1, &groups_2, &roles_1, &roles_2]
    );
    let iam = IamDirectory::new(client);

    let groups = iam.groups_for_user("alice").await.unwrap().unwrap();
    assert_eq!(groups, ["eks-admins", "developers"]);
    let roles = iam.sso_roles().await.unwrap();
    assert_eq!(
        roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        [
            "AWSReservedSSO_Admin_0123456789abcdef",
            "AWSReservedSSO_ReadOnly_fedcba9876543210"
        ]
    );
    assert!(
        roles[0]
            .arn
            .ends_with("/eu-west-3/AWSReservedSSO_Admin_0123456789abcdef")
    );
    assert_eq!(iam.calls(), 4);
}

#[tokio::test]
async fn no_such_entity_is_none_for_groups_and_users_modeled_or_from_the_wire() {
    let missing_group = mock!(Client::get_group).then_error(|| {
        GetGroupError::NoSuchEntityException(
            NoSuchEntityException::builder()
                .message("The group with name eks-admins cannot be found.")
                .build(),
        )
    });
    let missing_user_groups = mock!(Client::list_groups_for_user)
        .sequence()
        .http_status(
            404,
            Some(iam_error_xml(
                "NoSuchEntity",
                "The user with name ghost cannot be found.",
            )),
        )
        .build();
    let missing_user = mock!(Client::get_user).then_error(|| {
        GetUserError::NoSuchEntityException(NoSuchEntityException::builder().build())
    });
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::Sequential,
        [&missing_group, &missing_user_groups, &missing_user]
    );
    let iam = IamDirectory::new(client);

    assert_eq!(iam.group_members("eks-admins").await.unwrap(), None);
    assert_eq!(iam.groups_for_user("ghost").await.unwrap(), None);
    assert_eq!(iam.get_user("ghost").await.unwrap(), None);
    assert_eq!(iam.calls(), 3);
}

#[tokio::test]
async fn get_user_returns_the_user() {
    let rule = mock!(Client::get_user)
        .match_requests(|req| req.user_name() == Some("alice"))
        .then_output(|| GetUserOutput::builder().user(user("alice")).build());
    let iam = IamDirectory::new(mock_client!(aws_sdk_iam, [&rule]));
    let alice = iam.get_user("alice").await.unwrap().unwrap();
    assert_eq!(alice.arn, format!("arn:aws:iam::{ACCOUNT}:user/alice"));
    assert_eq!(alice.user_id, "AIDAALICE");
}

#[tokio::test]
async fn http_400_throttling_is_retried_by_the_client_and_then_succeeds() {
    let rule = mock!(Client::get_group)
        .sequence()
        .http_status(400, Some(iam_error_xml("Throttling", "Rate exceeded")))
        .times(2)
        .output(|| group_page(&["alice"], None))
        .build();
    let client = mock_client!(aws_sdk_iam, RuleMode::Sequential, [&rule], fast_retries);
    let iam = IamDirectory::new(client);

    let members = iam.group_members("eks-admins").await.unwrap().unwrap();

    assert_eq!(names(&members), ["alice"]);
    assert_eq!(
        rule.num_calls(),
        3,
        "two throttled attempts, then the answer"
    );
    assert_eq!(iam.calls(), 1, "retries inside one request count once");
}

#[tokio::test]
async fn throttling_exception_then_success_on_list_roles() {
    let rule = mock!(Client::list_roles)
        .sequence()
        .error(|| {
            ListRolesError::generic(
                ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .message("Rate exceeded")
                    .build(),
            )
        })
        .output(|| {
            ListRolesOutput::builder()
                .roles(sso_role("AWSReservedSSO_Admin_0123456789abcdef"))
                .is_truncated(false)
                .build()
                .unwrap()
        })
        .build();
    let client = mock_client!(aws_sdk_iam, RuleMode::Sequential, [&rule], fast_retries);
    let roles = IamDirectory::new(client).sso_roles().await.unwrap();
    assert_eq!(roles.len(), 1);
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn persistent_throttling_is_a_retryable_throttled_error_naming_operation_and_group() {
    let rule = mock!(Client::get_group)
        .sequence()
        .http_status(400, Some(iam_error_xml("Throttling", "Rate exceeded")))
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_iam, RuleMode::Sequential, [&rule], fast_retries);
    let iam = IamDirectory::new(client);

    let err = iam.group_members("eks-admins").await.unwrap_err();

    assert!(
        matches!(&err, IamError::Throttled { operation: "GetGroup", entity, .. } if entity == "group eks-admins"),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(rule.num_calls(), 3, "the client's 3 attempts were all made");
    let line = err.to_string();
    assert!(
        line.contains("GetGroup") && line.contains("group eks-admins"),
        "{line}"
    );
}

#[tokio::test]
async fn throttling_on_a_later_page_fails_the_read_instead_of_returning_part_of_it() {
    let first = group_page_rule(None, &["alice"], Some("m1"));
    let second = mock!(Client::get_group)
        .match_requests(|req| req.marker() == Some("m1"))
        .sequence()
        .http_status(400, Some(iam_error_xml("Throttling", "Rate exceeded")))
        .repeatedly()
        .build();
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::Sequential,
        [&first, &second],
        fast_retries
    );
    let iam = IamDirectory::new(client);

    let err = iam.group_members("eks-admins").await.unwrap_err();

    assert!(matches!(err, IamError::Throttled { .. }), "{err:?}");
    assert_eq!(iam.calls(), 2);
}

#[tokio::test]
async fn access_denied_is_an_error_with_the_message_never_an_empty_group() {
    let message = "User: arn:aws:sts::111122223333:assumed-role/eks-iam-sync/fn is not authorized \
                   to perform: iam:GetGroup on resource: group eks-admins";
    let rule = mock!(Client::get_group)
        .sequence()
        .http_status(403, Some(iam_error_xml("AccessDenied", message)))
        .build();
    let client = mock_client!(aws_sdk_iam, RuleMode::Sequential, [&rule], fast_retries);
    let iam = IamDirectory::new(client);

    let err = iam.group_members("eks-admins").await.unwrap_err();

    match &err {
        IamError::AccessDenied {
            operation,
            entity,
            message: got,
        } => {
            assert_eq!(*operation, "GetGroup");
            assert_eq!(entity, "group eks-admins");
            assert!(
                got.contains("not authorized to perform: iam:GetGroup"),
                "{got}"
            );
        }
        other => panic!("expected AccessDenied, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(rule.num_calls(), 1, "AccessDenied is not retried");
}

#[tokio::test]
async fn access_denied_on_list_groups_for_user_and_list_roles_is_an_error() {
    let groups = mock!(Client::list_groups_for_user).then_error(|| {
        ListGroupsForUserError::generic(ErrorMetadata::builder().code("AccessDenied").build())
    });
    let roles = mock!(Client::list_roles).then_error(|| {
        ListRolesError::generic(ErrorMetadata::builder().code("AccessDenied").build())
    });
    let iam = IamDirectory::new(mock_client!(
        aws_sdk_iam,
        RuleMode::Sequential,
        [&groups, &roles]
    ));
    assert!(matches!(
        iam.groups_for_user("alice").await,
        Err(IamError::AccessDenied {
            operation: "ListGroupsForUser",
            ..
        })
    ));
    assert!(matches!(
        iam.sso_roles().await,
        Err(IamError::AccessDenied {
            operation: "ListRoles",
            ..
        })
    ));
}

#[tokio::test]
async fn a_truncated_page_without_a_new_marker_is_an_error() {
    let no_marker = mock!(Client::get_group).then_output(|| {
        GetGroupOutput::builder()
            .group(group("eks-admins"))
            .users(user("alice"))
            .is_truncated(true)
            .build()
            .unwrap()
    });
    let same_marker = mock!(Client::list_roles).then_output(|| {
        ListRolesOutput::builder()
            .roles(sso_role("AWSReservedSSO_Admin_0123456789abcdef"))
            .is_truncated(true)
            .marker("again")
            .build()
            .unwrap()
    });
    let iam = IamDirectory::new(mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [&no_marker, &same_marker]
    ));
    assert!(matches!(
        iam.group_members("eks-admins").await,
        Err(IamError::BadPage {
            operation: "GetGroup",
            ..
        })
    ));
    assert!(matches!(
        iam.sso_roles().await,
        Err(IamError::BadPage {
            operation: "ListRoles",
            ..
        })
    ));
    assert_eq!(
        same_marker.num_calls(),
        2,
        "stops at the first repeated marker"
    );
}

/// IAM says where the list ends with IsTruncated; the SDK's paginator looks only at the Marker
/// and would ask again. The last page is the last request, whatever Marker it carries.
#[tokio::test]
async fn a_page_that_is_not_truncated_is_the_last_even_with_a_marker() {
    let last = mock!(Client::get_group).then_output(|| {
        GetGroupOutput::builder()
            .group(group("eks-admins"))
            .users(user("alice"))
            .is_truncated(false)
            .marker("stale")
            .build()
            .unwrap()
    });
    let iam = IamDirectory::new(mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&last]));
    let members = iam.group_members("eks-admins").await.unwrap().unwrap();
    assert_eq!(names(&members), ["alice"]);
    assert_eq!(last.num_calls(), 1);
    assert_eq!(iam.calls(), 1);
}

// ---------------------------------------------------------------------------------------------
// moto: the adapter on a client loaded by aws-config from the environment (AWS_ENDPOINT_URL).
// The environment is set on a child process running `moto_child_reads_iam` (a test cannot
// set its own environment without `unsafe`).
// ---------------------------------------------------------------------------------------------

const CHILD_MARKER: &str = "EKS_IAM_SYNC_AWS_IAM_CHILD";

#[test]
fn iam_reads_back_what_was_created_in_moto_through_aws_endpoint_url() {
    let moto = token_support::Moto::start();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &child_test("moto_child_reads_iam"),
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_MARKER, "1")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDAWSIAMTEST000001")
        .env("AWS_SECRET_ACCESS_KEY", "awsIamTestSecret")
        .env("AWS_CONFIG_FILE", "/nonexistent/eks-iam-sync/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/eks-iam-sync/credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ENDPOINT_URL_IAM")
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

#[tokio::test]
#[ignore = "run by iam_reads_back_what_was_created_in_moto_through_aws_endpoint_url"]
async fn moto_child_reads_iam() {
    assert!(
        std::env::var_os(CHILD_MARKER).is_some(),
        "run by its parent test, which sets AWS_ENDPOINT_URL to a moto server"
    );
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = Client::new(&config);
    client
        .create_group()
        .group_name("eks-admins")
        .send()
        .await
        .unwrap();
    for (name, path) in [("alice", "/"), ("bob", "/division/"), ("carol", "/")] {
        client
            .create_user()
            .user_name(name)
            .path(path)
            .send()
            .await
            .unwrap();
    }
    for name in ["alice", "bob"] {
        client
            .add_user_to_group()
            .group_name("eks-admins")
            .user_name(name)
            .send()
            .await
            .unwrap();
    }
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    for (name, path) in [
        (
            "AWSReservedSSO_Admin_0123456789abcdef",
            "/aws-reserved/sso.amazonaws.com/eu-west-3/",
        ),
        ("karpenter-node", "/"),
    ] {
        client
            .create_role()
            .role_name(name)
            .path(path)
            .assume_role_policy_document(trust)
            .send()
            .await
            .unwrap();
    }

    let iam = IamDirectory::new(client);
    let mut members = iam.group_members("eks-admins").await.unwrap().unwrap();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(names(&members), ["alice", "bob"]);
    assert!(
        members[1].arn.ends_with(":user/division/bob"),
        "user ARNs keep their path: {}",
        members[1].arn
    );
    assert!(!members[0].user_id.is_empty(), "{:?}", members[0]);
    assert_ne!(members[0].user_id, members[1].user_id);
    assert_eq!(
        iam.groups_for_user("bob").await.unwrap().unwrap(),
        ["eks-admins"]
    );
    assert_eq!(
        iam.groups_for_user("carol").await.unwrap().unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(iam.get_user("ghost").await.unwrap(), None);
    assert_eq!(iam.group_members("nobody").await.unwrap(), None);
    let roles = iam.sso_roles().await.unwrap();
    assert_eq!(
        roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["AWSReservedSSO_Admin_0123456789abcdef"]
    );
    assert_eq!(iam.calls(), 6);
}
