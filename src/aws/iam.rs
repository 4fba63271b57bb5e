//! IAM reads: members of a group, a user's groups, one user, the SSO permission-set roles.
//!
//! [`IamDirectory`] wraps an `aws_sdk_iam::Client` and only reads; it never writes to IAM.
//! Every paginated call is followed to its last page (IAM caps a page at 100 items by default
//! and 1000 at most; iam-eks-user-mapper's single GetGroup silently lost everyone after that).
//! A page that says "truncated" without a usable marker is an error, not a short list.
//!
//! `Ok(None)` means IAM said the entity does not exist (`NoSuchEntity`); any other failure is
//! an [`IamError`] naming the operation and the entity. The caller decides what a missing
//! group means (the reconciler counts it as empty, with a warning); this module never turns a
//! failed read into "no members".
//!
//! [`IamDirectory::calls`] counts requests sent by this adapter (one per page); retries made
//! by the SDK client inside one request are not counted separately.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_iam::Client;
use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};

use super::{Failure, classify};

/// The IAM path under which IAM Identity Center creates permission-set roles.
pub const SSO_ROLE_PATH_PREFIX: &str = "/aws-reserved/sso.amazonaws.com/";

/// More pages than this for one read means the service (or a stand-in) is looping.
const MAX_PAGES: u32 = 10_000;

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
/// aws-auth needs it canonicalised (`core::arn`).
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

/// Reads IAM. Cheap to clone; clones share the client and the call counter.
#[derive(Debug, Clone)]
pub struct IamDirectory {
    client: Client,
    calls: Arc<AtomicU64>,
}

impl IamDirectory {
    pub fn new(client: Client) -> Self {
        IamDirectory {
            client,
            calls: Arc::new(AtomicU64::new(0)),
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
        const OP: &str = "GetGroup";
        let entity = format!("group {group}");
        let mut members = Vec::new();
        let mut pages = Pages::new(OP, &entity);
        loop {
            self.count();
            let page = match self
                .client
                .get_group()
                .group_name(group)
                .set_marker(pages.marker())
                .send()
                .await
            {
                Ok(page) => page,
                Err(err) => {
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_no_such_entity_exception())
                    {
                        return Ok(None);
                    }
                    return Err(IamError::from_sdk(OP, &entity, &err));
                }
            };
            members.extend(page.users().iter().map(IamUser::from));
            if !pages.advance(page.is_truncated(), page.marker())? {
                return Ok(Some(members));
            }
        }
    }

    /// The names of the groups a user belongs to, every page (ListGroupsForUser).
    /// `Ok(None)` when the user does not exist.
    pub async fn groups_for_user(&self, user: &str) -> Result<Option<Vec<String>>, IamError> {
        const OP: &str = "ListGroupsForUser";
        let entity = format!("user {user}");
        let mut groups = Vec::new();
        let mut pages = Pages::new(OP, &entity);
        loop {
            self.count();
            let page = match self
                .client
                .list_groups_for_user()
                .user_name(user)
                .set_marker(pages.marker())
                .send()
                .await
            {
                Ok(page) => page,
                Err(err) => {
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_no_such_entity_exception())
                    {
                        return Ok(None);
                    }
                    return Err(IamError::from_sdk(OP, &entity, &err));
                }
            };
            groups.extend(page.groups().iter().map(|g| g.group_name().to_owned()));
            if !pages.advance(page.is_truncated(), page.marker())? {
                return Ok(Some(groups));
            }
        }
    }

    /// GetUser. `Ok(None)` when the user does not exist.
    pub async fn get_user(&self, user: &str) -> Result<Option<IamUser>, IamError> {
        const OP: &str = "GetUser";
        let entity = format!("user {user}");
        self.count();
        match self.client.get_user().user_name(user).send().await {
            Ok(output) => match output.user() {
                Some(found) => Ok(Some(IamUser::from(found))),
                None => Err(IamError::BadPage {
                    operation: OP,
                    entity,
                    why: "the response has no User".to_owned(),
                }),
            },
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_no_such_entity_exception()) =>
            {
                Ok(None)
            }
            Err(err) => Err(IamError::from_sdk(OP, &entity, &err)),
        }
    }

    /// GetRole. `Ok(None)` when the role does not exist.
    pub async fn get_role(&self, role: &str) -> Result<Option<IamRole>, IamError> {
        const OP: &str = "GetRole";
        let entity = format!("role {role}");
        self.count();
        match self.client.get_role().role_name(role).send().await {
            Ok(output) => match output.role() {
                Some(found) => Ok(Some(IamRole::from(found))),
                None => Err(IamError::BadPage {
                    operation: OP,
                    entity,
                    why: "the response has no Role".to_owned(),
                }),
            },
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_no_such_entity_exception()) =>
            {
                Ok(None)
            }
            Err(err) => Err(IamError::from_sdk(OP, &entity, &err)),
        }
    }

    /// Every SSO permission-set role: ListRoles with PathPrefix [`SSO_ROLE_PATH_PREFIX`],
    /// every page. No SSO roles at all is `Ok(vec![])`.
    pub async fn sso_roles(&self) -> Result<Vec<IamRole>, IamError> {
        const OP: &str = "ListRoles";
        let entity = format!("roles under {SSO_ROLE_PATH_PREFIX}");
        let mut roles = Vec::new();
        let mut pages = Pages::new(OP, &entity);
        loop {
            self.count();
            let page = self
                .client
                .list_roles()
                .path_prefix(SSO_ROLE_PATH_PREFIX)
                .set_marker(pages.marker())
                .send()
                .await
                .map_err(|err| IamError::from_sdk(OP, &entity, &err))?;
            roles.extend(page.roles().iter().map(IamRole::from));
            if !pages.advance(page.is_truncated(), page.marker())? {
                return Ok(roles);
            }
        }
    }
}

/// IAM's Marker/IsTruncated pagination, checked: a truncated page must carry a new marker.
struct Pages<'a> {
    operation: &'static str,
    entity: &'a str,
    marker: Option<String>,
    pages: u32,
}

impl<'a> Pages<'a> {
    fn new(operation: &'static str, entity: &'a str) -> Self {
        Pages {
            operation,
            entity,
            marker: None,
            pages: 0,
        }
    }

    fn marker(&self) -> Option<String> {
        self.marker.clone()
    }

    /// Records a page; `Ok(true)` when another page must be read.
    fn advance(&mut self, truncated: bool, marker: Option<&str>) -> Result<bool, IamError> {
        self.pages += 1;
        if !truncated {
            return Ok(false);
        }
        let why = match marker {
            None | Some("") => "IsTruncated is true but there is no Marker".to_owned(),
            Some(next) if self.marker.as_deref() == Some(next) => {
                format!(
                    "IsTruncated is true but the Marker did not change (page {})",
                    self.pages
                )
            }
            Some(_) if self.pages >= MAX_PAGES => format!("more than {MAX_PAGES} pages"),
            Some(next) => {
                self.marker = Some(next.to_owned());
                return Ok(true);
            }
        };
        Err(IamError::BadPage {
            operation: self.operation,
            entity: self.entity.to_owned(),
            why,
        })
    }
}
