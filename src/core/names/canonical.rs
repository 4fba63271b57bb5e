//! IAM principal ARNs in the canonical form EKS compares callers with.
//!
//! EKS matches the caller's *canonical* ARN (STS `assumed-role/NAME/SESSION` becomes
//! `role/NAME`, without the role's path), so a `rolearn` written with a path never matches
//! anyone. User ARNs are matched with their path, because STS returns them that way.
//! This module owns those rules; it does not look anything up.

use super::arn::{ArnParts, split_arn};
use super::partition::PARTITIONS;
use super::{PrincipalKind, is_account_id, is_partition};

/// A principal ARN in the canonical form EKS compares against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalArn {
    pub kind: PrincipalKind,
    /// The canonical ARN text (`arn:aws:iam::ACCT:role/NAME` or `...:user/PATH/NAME`).
    pub arn: String,
    /// Set when the input had to be rewritten to reach the canonical form.
    pub rewritten_from: Option<String>,
}

/// Why an ARN has no canonical principal form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    #[error("`{0}` is not an ARN (expected arn:PARTITION:iam::ACCOUNT:role/NAME or user/NAME)")]
    NotAnArn(String),
    #[error(
        "`{arn}` has unknown partition `{partition}` (expected one of {})",
        partition_names()
    )]
    UnknownPartition { arn: String, partition: String },
    #[error("`{arn}` has account id `{account}`; account ids are exactly 12 digits")]
    BadAccount { arn: String, account: String },
    #[error("`{arn}` names a {found}, but a {expected} ARN is needed here")]
    WrongKind {
        arn: String,
        expected: PrincipalKind,
        found: String,
    },
    #[error("`{0}` has an empty principal name")]
    EmptyName(String),
}

fn partition_names() -> String {
    let names: Vec<&str> = PARTITIONS.iter().map(|p| p.name()).collect();
    names.join(", ")
}

/// Splits an ARN, validating partition and account.
fn split(arn: &str) -> Result<ArnParts<'_>, ArnError> {
    let parts = split_arn(arn).ok_or_else(|| ArnError::NotAnArn(arn.to_owned()))?;
    if !is_partition(parts.partition) {
        return Err(ArnError::UnknownPartition {
            arn: arn.to_owned(),
            partition: parts.partition.to_owned(),
        });
    }
    if !is_account_id(parts.account) {
        return Err(ArnError::BadAccount {
            arn: arn.to_owned(),
            account: parts.account.to_owned(),
        });
    }
    Ok(parts)
}

/// Canonicalizes a role ARN for aws-auth: the path is dropped (`role/a/b/NAME` → `role/NAME`,
/// SSO roles included) and an STS assumed-role ARN becomes the role's ARN.
pub fn canonical_role_arn(arn: &str) -> Result<CanonicalArn, ArnError> {
    let parts = split(arn)?;
    let (partition, account) = (parts.partition, parts.account);
    let name = match (parts.service, parts.resource.split_once('/')) {
        ("iam", Some(("role", path_and_name))) if parts.region.is_empty() => {
            path_and_name.rsplit('/').next()
        }
        ("sts", Some(("assumed-role", name_and_session))) => name_and_session.split('/').next(),
        (_, Some((kind, _))) => {
            return Err(ArnError::WrongKind {
                arn: arn.to_owned(),
                expected: PrincipalKind::Role,
                found: kind.to_owned(),
            });
        }
        _ => return Err(ArnError::NotAnArn(arn.to_owned())),
    };
    let name = name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ArnError::EmptyName(arn.to_owned()))?;
    let canonical = format!("arn:{partition}:iam::{account}:role/{name}");
    let rewritten_from = (canonical != arn).then(|| arn.to_owned());
    Ok(CanonicalArn {
        kind: PrincipalKind::Role,
        arn: canonical,
        rewritten_from,
    })
}

/// Validates a user ARN for aws-auth. User ARNs keep their path: STS returns it.
pub fn canonical_user_arn(arn: &str) -> Result<CanonicalArn, ArnError> {
    let ArnParts {
        service,
        region,
        resource,
        ..
    } = split(arn)?;
    match (service, resource.split_once('/')) {
        ("iam", Some(("user", path_and_name))) if region.is_empty() => {
            if path_and_name.rsplit('/').next().is_none_or(str::is_empty) {
                return Err(ArnError::EmptyName(arn.to_owned()));
            }
            Ok(CanonicalArn {
                kind: PrincipalKind::User,
                arn: arn.to_owned(),
                rewritten_from: None,
            })
        }
        (_, Some((kind, _))) => Err(ArnError::WrongKind {
            arn: arn.to_owned(),
            expected: PrincipalKind::User,
            found: kind.to_owned(),
        }),
        _ => Err(ArnError::NotAnArn(arn.to_owned())),
    }
}

/// Canonicalizes any principal ARN the way EKS canonicalizes a caller (roles lose their
/// path and session; users are kept as they are).
pub fn canonical_principal_arn(arn: &str) -> Result<CanonicalArn, ArnError> {
    canonical_role_arn(arn).or_else(|role_err| match role_err {
        ArnError::WrongKind { .. } => canonical_user_arn(arn),
        other => Err(other),
    })
}

/// The account id inside an ARN, if it is one.
pub fn account_of(arn: &str) -> Option<&str> {
    split(arn).ok().map(|parts| parts.account)
}

/// Lowercase canonical ARN: how principals are matched (EKS compares roles without their
/// path, and any ARN case-insensitively). An ARN that does not parse is its own key, in
/// lower case, so such entries are compared textually.
pub fn principal_key(arn: &str) -> String {
    canonical_principal_arn(arn)
        .map(|c| c.arn)
        .unwrap_or_else(|_| arn.to_owned())
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_path_is_dropped() {
        let c = canonical_role_arn("arn:aws:iam::111122223333:role/team/x/deploy").unwrap();
        assert_eq!(c.arn, "arn:aws:iam::111122223333:role/deploy");
        assert_eq!(
            c.rewritten_from.as_deref(),
            Some("arn:aws:iam::111122223333:role/team/x/deploy")
        );
    }

    #[test]
    fn sso_roles_lose_the_reserved_path_with_or_without_region() {
        for arn in [
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123abcd",
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123abcd",
        ] {
            assert_eq!(
                canonical_role_arn(arn).unwrap().arn,
                "arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_0123abcd"
            );
        }
    }

    #[test]
    fn assumed_role_becomes_role() {
        let c = canonical_role_arn("arn:aws-cn:sts::111122223333:assumed-role/deploy/session-1")
            .unwrap();
        assert_eq!(c.arn, "arn:aws-cn:iam::111122223333:role/deploy");
        assert!(c.rewritten_from.is_some());
    }

    #[test]
    fn plain_role_is_unchanged() {
        let c = canonical_role_arn("arn:aws-us-gov:iam::111122223333:role/node").unwrap();
        assert_eq!(c.arn, "arn:aws-us-gov:iam::111122223333:role/node");
        assert_eq!(c.rewritten_from, None);
    }

    #[test]
    fn user_keeps_its_path() {
        let c = canonical_user_arn("arn:aws:iam::111122223333:user/division/alice").unwrap();
        assert_eq!(c.arn, "arn:aws:iam::111122223333:user/division/alice");
    }

    #[test]
    fn principal_canonicalization_handles_both_kinds() {
        assert_eq!(
            canonical_principal_arn("arn:aws:sts::111122223333:assumed-role/r/s")
                .unwrap()
                .kind,
            PrincipalKind::Role
        );
        assert_eq!(
            canonical_principal_arn("arn:aws:iam::111122223333:user/u")
                .unwrap()
                .kind,
            PrincipalKind::User
        );
    }

    #[test]
    fn bad_arns_are_rejected_with_the_reason() {
        assert!(matches!(
            canonical_role_arn("role/x"),
            Err(ArnError::NotAnArn(_))
        ));
        assert!(matches!(
            canonical_role_arn("arn:azure:iam::111122223333:role/x"),
            Err(ArnError::UnknownPartition { .. })
        ));
        assert!(matches!(
            canonical_role_arn("arn:aws:iam::12345:role/x"),
            Err(ArnError::BadAccount { .. })
        ));
        assert!(matches!(
            canonical_role_arn("arn:aws:iam::111122223333:user/x"),
            Err(ArnError::WrongKind { .. })
        ));
        assert!(matches!(
            canonical_user_arn("arn:aws:iam::111122223333:role/x"),
            Err(ArnError::WrongKind { .. })
        ));
        assert!(matches!(
            canonical_role_arn("arn:aws:iam::111122223333:role/"),
            Err(ArnError::EmptyName(_))
        ));
    }
}
