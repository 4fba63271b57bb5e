//! ARNs split into their fields, and IAM user and role ARNs parsed into their parts.
//!
//! [`split_arn`] is the one ARN splitter; [`IamArn`] validates a user or role ARN the way the
//! configuration needs it (every fault named), and keeps the text as written. The canonical
//! form EKS compares with is [`super::canonical`]'s business, not this module's.

use std::fmt;

use super::{PrincipalKind, is_account_id, is_iam_name, is_partition};

/// The fields of `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, not validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArnParts<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

/// Splits an ARN into its six fields; `None` when it does not start with `arn:` or has fewer
/// than six. The resource keeps any further `:`.
pub fn split_arn(text: &str) -> Option<ArnParts<'_>> {
    let mut parts = text.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    Some(ArnParts {
        partition,
        service,
        region,
        account,
        resource,
    })
}

/// A validated IAM user or role ARN, split into its parts. The text is kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IamArn {
    text: String,
    partition: String,
    account_id: String,
    kind: PrincipalKind,
    /// `/` or `/a/b/`.
    path: String,
    name: String,
}

/// Why a string is not an IAM user or role ARN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IamArnError {
    #[error("not an ARN: expected arn:PARTITION:iam::ACCOUNT:user/NAME or role/NAME")]
    NotAnArn,
    #[error("unknown partition `{0}` (expected aws, aws-cn, aws-us-gov or aws-iso*)")]
    Partition(String),
    #[error("an STS session ARN is not a principal: use {0}")]
    StsSession(String),
    #[error("service `{0}` is not iam (expected arn:PARTITION:iam::...)")]
    Service(String),
    #[error("IAM ARNs have no region, found `{0}`")]
    Region(String),
    #[error("account id `{0}` is not 12 digits")]
    Account(String),
    #[error("names a `{0}`, not a user or a role")]
    Resource(String),
    #[error("name `{0}` is empty or has characters IAM does not allow (letters, digits, +=,.@_-)")]
    Name(String),
    #[error("path `{0}` must start and end with `/`")]
    Path(String),
    #[error("this is a {found} ARN; {expected} ARNs go here")]
    WrongKind {
        expected: PrincipalKind,
        found: PrincipalKind,
    },
}

impl IamArn {
    /// Parses `arn:PARTITION:iam::ACCOUNT:user|role/[PATH/]NAME`.
    pub fn parse(text: &str) -> Result<IamArn, IamArnError> {
        let ArnParts {
            partition,
            service,
            region,
            account,
            resource,
        } = split_arn(text).ok_or(IamArnError::NotAnArn)?;
        if !is_partition(partition) {
            return Err(IamArnError::Partition(partition.to_owned()));
        }
        if let ("sts", Some(rest)) = (service, resource.strip_prefix("assumed-role/")) {
            let role = rest.split('/').next().unwrap_or_default();
            return Err(IamArnError::StsSession(format!(
                "arn:{partition}:iam::{account}:role/{role}"
            )));
        }
        if service != "iam" {
            return Err(IamArnError::Service(service.to_owned()));
        }
        if !region.is_empty() {
            return Err(IamArnError::Region(region.to_owned()));
        }
        if !is_account_id(account) {
            return Err(IamArnError::Account(account.to_owned()));
        }
        let (kind, rest) = if let Some(rest) = resource.strip_prefix("user/") {
            (PrincipalKind::User, rest)
        } else if let Some(rest) = resource.strip_prefix("role/") {
            (PrincipalKind::Role, rest)
        } else {
            return Err(IamArnError::Resource(
                resource.split('/').next().unwrap_or_default().to_owned(),
            ));
        };
        let (path, name) = match rest.rfind('/') {
            Some(i) => (format!("/{}", &rest[..=i]), &rest[i + 1..]),
            None => ("/".to_owned(), rest),
        };
        if path.contains("//") {
            return Err(IamArnError::Path(path));
        }
        if !is_iam_name(name) {
            return Err(IamArnError::Name(name.to_owned()));
        }
        Ok(IamArn {
            text: text.to_owned(),
            partition: partition.to_owned(),
            account_id: account.to_owned(),
            kind,
            path,
            name: name.to_owned(),
        })
    }

    /// Parses and requires `kind`.
    pub fn parse_kind(text: &str, kind: PrincipalKind) -> Result<IamArn, IamArnError> {
        let arn = IamArn::parse(text)?;
        if arn.kind != kind {
            return Err(IamArnError::WrongKind {
                expected: kind,
                found: arn.kind,
            });
        }
        Ok(arn)
    }

    /// The ARN as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
    pub fn partition(&self) -> &str {
        &self.partition
    }
    pub fn account_id(&self) -> &str {
        &self.account_id
    }
    pub fn kind(&self) -> PrincipalKind {
        self.kind
    }
    /// The IAM path, `/` when there is none.
    pub fn path(&self) -> &str {
        &self.path
    }
    /// The user or role name (what CloudTrail calls `userName` / `roleName`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for IamArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_parts() {
        let arn = IamArn::parse("arn:aws:iam::111122223333:user/division/alice").unwrap();
        assert_eq!(
            (arn.kind(), arn.path(), arn.name(), arn.account_id()),
            (PrincipalKind::User, "/division/", "alice", "111122223333")
        );
        let arn = IamArn::parse("arn:aws-cn:iam::111122223333:role/x").unwrap();
        assert_eq!(
            (arn.kind(), arn.path(), arn.name(), arn.partition()),
            (PrincipalKind::Role, "/", "x", "aws-cn")
        );
    }

    #[test]
    fn arn_errors_name_the_fault() {
        let cases = [
            ("nope", IamArnError::NotAnArn),
            (
                "arn:azure:iam::111122223333:user/a",
                IamArnError::Partition("azure".into()),
            ),
            (
                "arn:aws:iam::1111:user/a",
                IamArnError::Account("1111".into()),
            ),
            (
                "arn:aws:iam:eu-west-1:111122223333:user/a",
                IamArnError::Region("eu-west-1".into()),
            ),
            (
                "arn:aws:s3::111122223333:user/a",
                IamArnError::Service("s3".into()),
            ),
            (
                "arn:aws:iam::111122223333:group/a",
                IamArnError::Resource("group".into()),
            ),
            (
                "arn:aws:iam::111122223333:user/",
                IamArnError::Name(String::new()),
            ),
            (
                "arn:aws:iam::111122223333:user/a b",
                IamArnError::Name("a b".into()),
            ),
            (
                "arn:aws:iam::111122223333:user//a",
                IamArnError::Path("//".into()),
            ),
            (
                "arn:aws:sts::111122223333:assumed-role/admin/alice",
                IamArnError::StsSession("arn:aws:iam::111122223333:role/admin".into()),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(IamArn::parse(text), Err(want), "{text}");
        }
        assert_eq!(
            IamArn::parse_kind("arn:aws:iam::111122223333:role/a", PrincipalKind::User),
            Err(IamArnError::WrongKind {
                expected: PrincipalKind::User,
                found: PrincipalKind::Role
            })
        );
    }
}
