//! IAM principal ARNs as aws-auth needs them: parsing, validation and canonical form.
//!
//! EKS matches the caller's *canonical* ARN (STS `assumed-role/NAME/SESSION` becomes
//! `role/NAME`, without the role's path), so a `rolearn` written with a path never matches
//! anyone. User ARNs are matched with their path, because STS returns them that way.
//! This module owns those rules; it does not look anything up.

use std::fmt;

/// The partitions whose IAM ARNs we accept.
const PARTITIONS: &[&str] = &[
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
];

/// What kind of principal an ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PrincipalKind {
    Role,
    User,
}

impl fmt::Display for PrincipalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PrincipalKind::Role => "role",
            PrincipalKind::User => "user",
        })
    }
}

/// A principal ARN in the canonical form EKS compares against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalArn {
    pub kind: PrincipalKind,
    /// The canonical ARN text (`arn:aws:iam::ACCT:role/NAME` or `...:user/PATH/NAME`).
    pub arn: String,
    /// Set when the input had to be rewritten to reach the canonical form.
    pub rewritten_from: Option<String>,
}

/// Why an ARN was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    #[error("`{0}` is not an ARN (expected arn:PARTITION:iam::ACCOUNT:role/NAME or user/NAME)")]
    NotAnArn(String),
    #[error("`{arn}` has unknown partition `{partition}` (expected one of {})", PARTITIONS.join(", "))]
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

/// Splits `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, validating partition and account.
fn split(arn: &str) -> Result<[&str; 5], ArnError> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(ArnError::NotAnArn(arn.to_owned()));
    };
    if !PARTITIONS.contains(&partition) {
        return Err(ArnError::UnknownPartition {
            arn: arn.to_owned(),
            partition: partition.to_owned(),
        });
    }
    if !is_account_id(account) {
        return Err(ArnError::BadAccount {
            arn: arn.to_owned(),
            account: account.to_owned(),
        });
    }
    Ok([partition, service, region, account, resource])
}

/// True for a 12-digit AWS account id.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Canonicalizes a role ARN for aws-auth: the path is dropped (`role/a/b/NAME` → `role/NAME`,
/// SSO roles included) and an STS assumed-role ARN becomes the role's ARN.
pub fn canonical_role_arn(arn: &str) -> Result<CanonicalArn, ArnError> {
    let [partition, service, region, account, resource] = split(arn)?;
    let name = match (service, resource.split_once('/')) {
        ("iam", Some(("role", path_and_name))) if region.is_empty() => {
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
    let [_, service, region, _, resource] = split(arn)?;
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
    split(arn).ok().map(|[_, _, _, account, _]| account)
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

    #[test]
    fn account_ids_are_twelve_digits() {
        assert!(is_account_id("012345678901"));
        assert!(!is_account_id("12345678901"));
        assert!(!is_account_id("01234567890a"));
    }
}
