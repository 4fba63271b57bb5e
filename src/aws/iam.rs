//! IAM reads: members of a group, a user's groups, one user, the SSO permission-set roles.
//!
//! [`IamDirectory`] wraps an `aws_sdk_iam::Client` and only reads; it never writes to IAM.
//! Every paginated call asks for [`PAGE_SIZE`] items a page (`MaxItems`; IAM's default is 100,
//! which made ten times the calls at 1,000 members) and is followed to its last page
//! (iam-eks-user-mapper's single GetGroup silently lost everyone after the first) through the
//! SDK's paginators (`into_paginator()`), read by `aws::paging`. A page that
//! says "truncated" without a usable marker is an error, not a short list: the paginators
//! would end quietly on a missing marker (they never read `IsTruncated`) and on a repeated one,
//! so those checks, and the page limit, stay here (see `aws::paging`).
//!
//! `Ok(None)` means IAM said the entity does not exist (`NoSuchEntity`); any other failure is
//! an [`IamError`] naming the operation and the entity. The caller decides what a missing
//! group means (the reconciler counts it as empty, with a warning); this module never turns a
//! failed read into "no members".
//!
//! [`IamDirectory::calls`] counts requests sent by this adapter (one per page); retries made
//! by the SDK client inside one request are not counted separately.
//!
//! Many accounts: [`IamDirectory::in_account`] gives the directory of another account's IAM
//! (a cluster's, read through its role's credentials), made once per account and kept for the
//! life of the directory, sharing its call counter.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_iam::Client;
use aws_sdk_iam::config::Region;
use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::operation::get_group::{GetGroupError, GetGroupOutput};
use aws_sdk_iam::operation::get_role::GetRoleError;
use aws_sdk_iam::operation::get_user::GetUserError;
use aws_sdk_iam::operation::list_groups_for_user::{
    ListGroupsForUserError, ListGroupsForUserOutput,
};
use aws_sdk_iam::operation::list_roles::{ListRolesError, ListRolesOutput};
use aws_sdk_iam::operation::list_users::{ListUsersError, ListUsersOutput};
use futures::Stream;
use futures::stream::poll_fn;

use super::paging::{Page, PagingError, read_pages};
use super::{Failure, classify};
use crate::core::review::Known;

/// Items asked for per page (`MaxItems`) on every paginated IAM read: IAM's largest page.
pub const PAGE_SIZE: i32 = 1000;

/// The IAM path under which IAM Identity Center creates permission-set roles.
pub const SSO_ROLE_PATH_PREFIX: &str = "/aws-reserved/sso.amazonaws.com/";

/// An IAM user as the reconciler needs it. `arn` keeps the user's path (STS does too).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IamUser {
    pub name: String,
    pub arn: String,
    /// The unique id (`AIDA...`): changes when a user is deleted and re-created.
    pub user_id: String,
}

impl From<&aws_sdk_iam::types::User> for IamUser {
    fn from(user: &aws_sdk_iam::types::User) -> IamUser {
        IamUser {
            name: user.user_name().to_owned(),
            arn: user.arn().to_owned(),
            user_id: user.user_id().to_owned(),
        }
    }
}

/// An IAM role. `arn` is IAM's, path included (`role/aws-reserved/sso.amazonaws.com/...`);
/// aws-auth needs it canonicalised (`core::names`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IamRole {
    pub name: String,
    pub arn: String,
    /// The unique id (`AROA...`).
    pub role_id: String,
}

impl From<&aws_sdk_iam::types::Role> for IamRole {
    fn from(role: &aws_sdk_iam::types::Role) -> IamRole {
        IamRole {
            name: role.role_name().to_owned(),
            arn: role.arn().to_owned(),
            role_id: role.role_id().to_owned(),
        }
    }
}

/// A failed IAM read. `operation` is the IAM API name, `entity` what it was about
/// (`group eks-admins`, `user alice`, `roles under /aws-reserved/sso.amazonaws.com/`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IamError {
    #[error("IAM {operation} for {entity} was throttled and the SDK's retries ran out: {message}")]
    Throttled {
        operation: &'static str,
        entity: String,
        message: String,
    },
    #[error("IAM {operation} for {entity} was denied: {message}")]
    AccessDenied {
        operation: &'static str,
        entity: String,
        message: String,
    },
    #[error(
        "IAM {operation} for {entity} failed (timeout, connection or service error): {message}"
    )]
    Unavailable {
        operation: &'static str,
        entity: String,
        message: String,
    },
    #[error("IAM {operation} for {entity} returned a broken page: {why}")]
    BadPage {
        operation: &'static str,
        entity: String,
        why: String,
    },
    #[error("IAM {operation} for {entity} failed: {message}")]
    Other {
        operation: &'static str,
        entity: String,
        message: String,
    },
}

impl IamError {
    /// Whether the same read may succeed later (throttling, timeouts, service errors).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            IamError::Throttled { .. } | IamError::Unavailable { .. }
        )
    }

    /// The IAM operation that failed (`GetGroup`, ...).
    pub fn operation(&self) -> &'static str {
        match self {
            IamError::Throttled { operation, .. }
            | IamError::AccessDenied { operation, .. }
            | IamError::Unavailable { operation, .. }
            | IamError::BadPage { operation, .. }
            | IamError::Other { operation, .. } => operation,
        }
    }

    fn from_sdk<E>(operation: &'static str, entity: &str, err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let entity = entity.to_owned();
        match classify(err) {
            Failure::Throttled(message) => IamError::Throttled {
                operation,
                entity,
                message,
            },
            Failure::Denied(message) => IamError::AccessDenied {
                operation,
                entity,
                message,
            },
            Failure::Transient(message) => IamError::Unavailable {
                operation,
                entity,
                message,
            },
            Failure::Other(message) => IamError::Other {
                operation,
                entity,
                message,
            },
        }
    }
}

/// Reads IAM. Cheap to clone; clones share the client, the call counter and the directories
/// of other accounts.
#[derive(Debug, Clone)]
pub struct IamDirectory {
    client: Client,
    calls: Arc<AtomicU64>,
    /// The account this directory reads, when it was made for one ([`IamDirectory::in_account`]).
    account: Option<String>,
    /// Directories of other accounts, by account id.
    accounts: Arc<Mutex<HashMap<String, IamDirectory>>>,
}

impl IamDirectory {
    pub fn new(client: Client) -> Self {
        IamDirectory {
            client,
            calls: Arc::new(AtomicU64::new(0)),
            account: None,
            accounts: Arc::default(),
        }
    }

    /// The directory of `account`'s IAM, read with `credentials` (the role of a cluster in
    /// that account) in `region`'s partition, otherwise configured as this one (endpoint,
    /// retries, interceptors). Made on first use and kept; it shares this directory's call
    /// counter, so a run's summary counts its calls too.
    pub fn in_account(
        &self,
        account: &str,
        region: &str,
        credentials: SharedCredentialsProvider,
    ) -> IamDirectory {
        let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        accounts
            .entry(account.to_owned())
            .or_insert_with(|| {
                let config = self
                    .client
                    .config()
                    .to_builder()
                    .region(Region::new(region.to_owned()))
                    .credentials_provider(credentials)
                    .build();
                IamDirectory {
                    client: Client::from_conf(config),
                    calls: self.calls.clone(),
                    account: Some(account.to_owned()),
                    accounts: self.accounts.clone(),
                }
            })
            .clone()
    }

    /// `what`, with the account when this directory reads another account's IAM (for errors).
    fn entity(&self, what: String) -> String {
        match self.account.as_deref() {
            Some("") => format!("{what} in the function's own account"),
            Some(account) => format!("{what} in account {account}"),
            None => what,
        }
    }

    /// API calls made so far (each page counts as one).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Members of an IAM group, every page (GetGroup with Marker). `Ok(None)` when the group
    /// does not exist (NoSuchEntity).
    ///
    /// # Errors
    /// Any other failure, including one on a later page: a partial member list is never
    /// returned.
    pub async fn group_members(&self, group: &str) -> Result<Option<Vec<IamUser>>, IamError> {
        let mut pages = self
            .client
            .get_group()
            .group_name(group)
            .max_items(PAGE_SIZE)
            .into_paginator()
            .send();
        let mut members = Vec::new();
        let found = self
            .read_all(
                "GetGroup",
                &format!("group {group}"),
                poll_fn(move |cx| pages.poll_next(cx)),
                GetGroupError::is_no_such_entity_exception,
                |page: GetGroupOutput| members.extend(page.users().iter().map(IamUser::from)),
            )
            .await?;
        Ok(found.then_some(members))
    }

    /// The names of the groups a user belongs to, every page (ListGroupsForUser).
    /// `Ok(None)` when the user does not exist.
    pub async fn groups_for_user(&self, user: &str) -> Result<Option<Vec<String>>, IamError> {
        let mut pages = self
            .client
            .list_groups_for_user()
            .user_name(user)
            .max_items(PAGE_SIZE)
            .into_paginator()
            .send();
        let mut groups = Vec::new();
        let found = self
            .read_all(
                "ListGroupsForUser",
                &format!("user {user}"),
                poll_fn(move |cx| pages.poll_next(cx)),
                ListGroupsForUserError::is_no_such_entity_exception,
                |page: ListGroupsForUserOutput| {
                    groups.extend(page.groups().iter().map(|g| g.group_name().to_owned()));
                },
            )
            .await?;
        Ok(found.then_some(groups))
    }

    /// GetUser. `Ok(None)` when the user does not exist.
    pub async fn get_user(&self, user: &str) -> Result<Option<IamUser>, IamError> {
        self.count();
        let response = self.client.get_user().user_name(user).send().await;
        one_entity(
            "GetUser",
            &format!("user {user}"),
            response,
            GetUserError::is_no_such_entity_exception,
            |output| output.user().map(IamUser::from),
            "User",
        )
    }

    /// GetRole. `Ok(None)` when the role does not exist.
    pub async fn get_role(&self, role: &str) -> Result<Option<IamRole>, IamError> {
        self.count();
        let response = self.client.get_role().role_name(role).send().await;
        one_entity(
            "GetRole",
            &self.entity(format!("role {role}")),
            response,
            GetRoleError::is_no_such_entity_exception,
            |output| output.role().map(IamRole::from),
            "Role",
        )
    }

    /// Every SSO permission-set role: ListRoles with PathPrefix [`SSO_ROLE_PATH_PREFIX`],
    /// every page. No SSO roles at all is `Ok(vec![])`.
    pub async fn sso_roles(&self) -> Result<Vec<IamRole>, IamError> {
        let mut pages = self
            .client
            .list_roles()
            .path_prefix(SSO_ROLE_PATH_PREFIX)
            .max_items(PAGE_SIZE)
            .into_paginator()
            .send();
        let mut roles = Vec::new();
        self.read_all(
            "ListRoles",
            &self.entity(format!("roles under {SSO_ROLE_PATH_PREFIX}")),
            poll_fn(move |cx| pages.poll_next(cx)),
            |_: &ListRolesError| false,
            |page: ListRolesOutput| roles.extend(page.roles().iter().map(IamRole::from)),
        )
        .await?;
        Ok(roles)
    }

    /// Every user and role of the account (ListUsers and ListRoles, every page), by ARN,
    /// with unique id and creation time: what the review checks entries against.
    pub async fn every_principal(&self) -> Result<Vec<(String, Known)>, IamError> {
        let mut users = self
            .client
            .list_users()
            .max_items(PAGE_SIZE)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        self.read_all(
            "ListUsers",
            &self.entity("users".to_owned()),
            poll_fn(move |cx| users.poll_next(cx)),
            |_: &ListUsersError| false,
            |page: ListUsersOutput| {
                found.extend(page.users().iter().map(|u| {
                    let known = Known {
                        id: u.user_id().to_owned(),
                        created: Some(u.create_date().secs()),
                    };
                    (u.arn().to_owned(), known)
                }));
            },
        )
        .await?;
        let mut roles = self
            .client
            .list_roles()
            .max_items(PAGE_SIZE)
            .into_paginator()
            .send();
        self.read_all(
            "ListRoles",
            &self.entity("roles".to_owned()),
            poll_fn(move |cx| roles.poll_next(cx)),
            |_: &ListRolesError| false,
            |page: ListRolesOutput| {
                found.extend(page.roles().iter().map(|r| {
                    let known = Known {
                        id: r.role_id().to_owned(),
                        created: Some(r.create_date().secs()),
                    };
                    (r.arn().to_owned(), known)
                }));
            },
        )
        .await?;
        Ok(found)
    }

    /// Gives every page of one paginated read to `take`, counting each request.
    /// `Ok(false)` when a page failed with an error `is_missing` accepts (NoSuchEntity).
    async fn read_all<P, E>(
        &self,
        operation: &'static str,
        entity: &str,
        pages: impl Stream<Item = Result<P, SdkError<E, HttpResponse>>>,
        is_missing: impl Fn(&E) -> bool,
        take: impl FnMut(P),
    ) -> Result<bool, IamError>
    where
        P: Page,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match read_pages(pages, || self.count(), take).await {
            Ok(()) => Ok(true),
            Err(PagingError::Request(err)) if err.as_service_error().is_some_and(&is_missing) => {
                Ok(false)
            }
            Err(PagingError::Request(err)) => Err(IamError::from_sdk(operation, entity, &err)),
            Err(PagingError::Broken(why)) => Err(IamError::BadPage {
                operation,
                entity: entity.to_owned(),
                why,
            }),
        }
    }
}

/// The entity of a Get* response: `Ok(None)` when IAM said it does not exist (`is_missing`),
/// [`IamError::BadPage`] when the response lacks `field`.
fn one_entity<O, T, E>(
    operation: &'static str,
    entity: &str,
    response: Result<O, SdkError<E, HttpResponse>>,
    is_missing: impl Fn(&E) -> bool,
    pick: impl FnOnce(&O) -> Option<T>,
    field: &str,
) -> Result<Option<T>, IamError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match response {
        Ok(output) => match pick(&output) {
            Some(found) => Ok(Some(found)),
            None => Err(IamError::BadPage {
                operation,
                entity: entity.to_owned(),
                why: format!("the response has no {field}"),
            }),
        },
        Err(err) if err.as_service_error().is_some_and(&is_missing) => Ok(None),
        Err(err) => Err(IamError::from_sdk(operation, entity, &err)),
    }
}
