//! `aws::iam::IamDirectory::in_account` on the real `aws_sdk_iam::Client` (aws-smithy-mocks):
//! another account's IAM (a cluster's, read through its role, issue 14) counts its calls with
//! the synced account's and names its account in errors.

use aws_sdk_iam::Client;
use aws_sdk_iam::error::ErrorMetadata;
use aws_sdk_iam::operation::list_roles::{ListRolesError, ListRolesOutput};
use aws_sdk_iam::primitives::DateTime;
use aws_sdk_iam::types::Role;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use eks_iam_sync::aws::iam::{IamDirectory, SSO_ROLE_PATH_PREFIX};

fn sso_role(name: &str) -> Role {
    Role::builder()
        .path(SSO_ROLE_PATH_PREFIX)
        .role_name(name)
        .role_id("AROAMEMBER")
        .arn(format!(
            "arn:aws:iam::222233334444:role/aws-reserved/sso.amazonaws.com/{name}"
        ))
        .create_date(DateTime::from_secs(0))
        .build()
        .unwrap()
}

#[tokio::test]
async fn another_accounts_directory_shares_the_call_count_and_names_its_account_in_errors() {
    let roles = mock!(Client::list_roles)
        .sequence()
        .output(|| {
            ListRolesOutput::builder()
                .roles(sso_role("AWSReservedSSO_Dev_00aa"))
                .build()
                .unwrap()
        })
        .error(|| ListRolesError::generic(ErrorMetadata::builder().code("AccessDenied").build()))
        .build();
    let iam = IamDirectory::new(mock_client!(aws_sdk_iam, RuleMode::Sequential, [&roles]));
    let credentials = aws_credential_types::provider::SharedCredentialsProvider::new(
        aws_credential_types::Credentials::new(
            "ASIAMEMBER",
            "secret",
            Some("token".into()),
            None,
            "test",
        ),
    );
    let member = iam.in_account("222233334444", "eu-west-3", credentials.clone());
    assert_eq!(member.sso_roles().await.unwrap().len(), 1);
    assert_eq!(
        iam.calls(),
        1,
        "the member directory's call counts on the synced one"
    );
    // The same account again (the mocked answers go on in sequence).
    let again = iam.in_account("222233334444", "eu-west-3", credentials);
    let denied = again.sso_roles().await.unwrap_err().to_string();
    assert!(
        denied.contains("roles under /aws-reserved/sso.amazonaws.com/ in account 222233334444"),
        "{denied}"
    );
    assert_eq!((iam.calls(), member.calls()), (2, 2));
    assert_eq!(roles.num_calls(), 2);
}
