//! AWS and IAM naming rules, in one place: ARNs (split, validated, canonicalised), partitions
//! and the region → partition rule, account ids, IAM names, EKS cluster names and IAM Identity
//! Center (SSO) role names.
//!
//! The configuration's validation, the desired set, the aws-auth lookup and the token signer
//! all ask this module; none of them carries a rule of its own. It only answers questions
//! about text: it looks nothing up.
//!
//! - [`arn`] splits an ARN and parses an IAM user or role ARN into its parts ([`IamArn`]).
//! - [`canonical`] gives the canonical form EKS compares callers with ([`CanonicalArn`]).
//! - [`partition`] holds the one table of partitions and the region rule.

pub mod arn;
pub mod canonical;
pub mod partition;

use std::fmt;

pub use arn::{ArnParts, IamArn, IamArnError, split_arn};
pub use canonical::{
    ArnError, CanonicalArn, account_of, canonical_principal_arn, canonical_role_arn,
    canonical_user_arn, principal_key,
};
pub use partition::{PARTITIONS, Partition, is_partition, partition_of_region, region_partition};

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

/// Exactly 12 ASCII digits.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// An IAM user, group or role name: 1–128 of letters, digits and `+=,.@_-`.
pub fn is_iam_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// An EKS cluster name (or an Outposts local cluster id): 1–100 letters, digits, `-` or `_`,
/// starting with a letter or digit.
pub fn is_cluster_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 100
        && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// How the names of the roles IAM Identity Center creates start.
pub const SSO_ROLE_NAME_PREFIX: &str = "AWSReservedSSO_";

/// The permission set name in an IAM Identity Center role name
/// (`AWSReservedSSO_<PermissionSet>_<hex suffix>`), or `None` for any other role.
pub fn sso_permission_set_of_role(role_name: &str) -> Option<&str> {
    let rest = role_name.strip_prefix(SSO_ROLE_NAME_PREFIX)?;
    let (name, suffix) = rest.rsplit_once('_')?;
    let hex = !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_hexdigit());
    (hex && !name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_twelve_digits() {
        assert!(is_account_id("012345678901"));
        assert!(!is_account_id("12345678901"));
        assert!(!is_account_id("01234567890a"));
    }

    #[test]
    fn sso_role_names() {
        assert_eq!(
            sso_permission_set_of_role("AWSReservedSSO_AdministratorAccess_0123456789abcdef"),
            Some("AdministratorAccess")
        );
        assert_eq!(
            sso_permission_set_of_role("AWSReservedSSO_Read_Only_53b82e109c5e2cac"),
            Some("Read_Only")
        );
        assert_eq!(sso_permission_set_of_role("AWSReservedSSO_Admin_xyz"), None);
        assert_eq!(sso_permission_set_of_role("AWSReservedSSO__abc"), None);
        assert_eq!(sso_permission_set_of_role("eks-admin"), None);
    }
}
