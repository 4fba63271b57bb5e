//! Principal ARNs as STS returns them and as EKS compares them: parsing and the canonical
//! form (`assumed-role/NAME/SESSION` → `role/NAME`, role paths dropped, user paths kept).
//!
//! It does not decide who a principal is mapped to; that is [`crate::identity`].

use thiserror::Error;

/// Why a string is not a principal ARN this simulator understands.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ArnError {
    #[error("{0:?} is not an ARN of the form arn:PARTITION:SERVICE::ACCOUNT:RESOURCE")]
    Malformed(String),
    #[error("{0:?} has an account id that is not 12 digits")]
    BadAccount(String),
    #[error("{0:?} is not an IAM user, IAM role, STS assumed-role or root ARN")]
    UnsupportedResource(String),
}

/// What kind of principal an ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    User,
    Role,
    AssumedRole,
    Root,
    FederatedUser,
}

/// A parsed principal ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalArn {
    pub partition: String,
    pub service: String,
    pub account_id: String,
    pub kind: PrincipalKind,
    /// The path between the resource type and the name (`/` when none), roles and users only.
    pub path: String,
    /// The user, role or federated-user name (last path segment).
    pub name: String,
    /// The session name of an assumed role.
    pub session_name: Option<String>,
}

impl PrincipalArn {
    /// Parses `arn:PARTITION:iam::ACCOUNT:user/...`, `role/...`, `root` and
    /// `arn:PARTITION:sts::ACCOUNT:assumed-role/NAME/SESSION` or `federated-user/NAME`.
    pub fn parse(arn: &str) -> Result<Self, ArnError> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        if parts.len() != 6 || parts[0] != "arn" || parts[1].is_empty() || !parts[3].is_empty() {
            return Err(ArnError::Malformed(arn.to_owned()));
        }
        let (partition, service, account, resource) = (parts[1], parts[2], parts[4], parts[5]);
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ArnError::BadAccount(arn.to_owned()));
        }
        let unsupported = || ArnError::UnsupportedResource(arn.to_owned());
        let (kind, path, name, session_name) = match (service, resource.split_once('/')) {
            ("iam", None) if resource == "root" => {
                (PrincipalKind::Root, "/".to_owned(), "root".to_owned(), None)
            }
            ("iam", Some((ty @ ("user" | "role"), rest))) if !rest.is_empty() => {
                let (path, name) = match rest.rsplit_once('/') {
                    Some((p, n)) => (format!("/{p}/"), n.to_owned()),
                    None => ("/".to_owned(), rest.to_owned()),
                };
                if name.is_empty() {
                    return Err(unsupported());
                }
                let kind = if ty == "user" {
                    PrincipalKind::User
                } else {
                    PrincipalKind::Role
                };
                (kind, path, name, None)
            }
            ("sts", Some(("assumed-role", rest))) => match rest.split_once('/') {
                Some((role, session)) if !role.is_empty() && !session.is_empty() => (
                    PrincipalKind::AssumedRole,
                    "/".to_owned(),
                    role.to_owned(),
                    Some(session.to_owned()),
                ),
                _ => return Err(unsupported()),
            },
            ("sts", Some(("federated-user", name))) if !name.is_empty() => (
                PrincipalKind::FederatedUser,
                "/".to_owned(),
                name.to_owned(),
                None,
            ),
            _ => return Err(unsupported()),
        };
        Ok(Self {
            partition: partition.to_owned(),
            service: service.to_owned(),
            account_id: account.to_owned(),
            kind,
            path,
            name,
            session_name,
        })
    }

    /// The canonical ARN the authenticator compares with aws-auth: roles (assumed or not)
    /// become `arn:P:iam::A:role/NAME` without path; users keep their path.
    pub fn canonical(&self) -> String {
        let (p, a) = (&self.partition, &self.account_id);
        match self.kind {
            PrincipalKind::Role | PrincipalKind::AssumedRole => {
                format!("arn:{p}:iam::{a}:role/{}", self.name)
            }
            PrincipalKind::User => format!("arn:{p}:iam::{a}:user{}{}", self.path, self.name),
            PrincipalKind::Root => format!("arn:{p}:iam::{a}:root"),
            PrincipalKind::FederatedUser => {
                format!("arn:{p}:sts::{a}:federated-user/{}", self.name)
            }
        }
    }

    /// Whether this is a role (assumed or not).
    pub fn is_role(&self) -> bool {
        matches!(self.kind, PrincipalKind::Role | PrincipalKind::AssumedRole)
    }

    /// Whether `self` (a caller) and `other` (an access entry's principal, path allowed)
    /// name the same IAM principal. Roles compare by account and name, users by full ARN,
    /// both case-insensitively.
    pub fn same_principal(&self, other: &PrincipalArn) -> bool {
        match (self.is_role(), other.is_role()) {
            (true, true) => {
                self.partition == other.partition
                    && self.account_id == other.account_id
                    && self.name.eq_ignore_ascii_case(&other.name)
            }
            (false, false) => self.canonical().eq_ignore_ascii_case(&other.canonical()),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assumed_role_canonicalizes_to_role_without_session() {
        let a = PrincipalArn::parse("arn:aws:sts::012345678901:assumed-role/Admin/alice@x.com")
            .unwrap();
        assert_eq!(a.canonical(), "arn:aws:iam::012345678901:role/Admin");
        assert_eq!(a.session_name.as_deref(), Some("alice@x.com"));
    }

    #[test]
    fn role_path_is_dropped_and_user_path_is_kept() {
        let r = PrincipalArn::parse("arn:aws:iam::012345678901:role/team/x/Deploy").unwrap();
        assert_eq!(r.canonical(), "arn:aws:iam::012345678901:role/Deploy");
        let u = PrincipalArn::parse("arn:aws:iam::012345678901:user/division/alice").unwrap();
        assert_eq!(
            u.canonical(),
            "arn:aws:iam::012345678901:user/division/alice"
        );
    }

    #[test]
    fn malformed_arns_are_rejected() {
        assert!(PrincipalArn::parse("arn:aws:iam::12345:user/a").is_err());
        assert!(PrincipalArn::parse("arn:aws:s3:::bucket").is_err());
        assert!(PrincipalArn::parse("arn:aws:iam::012345678901:group/g").is_err());
        assert!(PrincipalArn::parse("not-an-arn").is_err());
    }

    #[test]
    fn caller_matches_access_entry_role_with_path() {
        let caller =
            PrincipalArn::parse("arn:aws:sts::012345678901:assumed-role/Deploy/s").unwrap();
        let entry = PrincipalArn::parse("arn:aws:iam::012345678901:role/team/Deploy").unwrap();
        assert!(caller.same_principal(&entry));
    }
}
