//! IAM and AWS naming rules the configuration is checked against: principal ARNs (split and
//! validated, not canonicalised: `core::arn` owns the canonical aws-auth form and this can merge
//! into it), partitions, account ids, IAM names, regions, SSO role names, EKS cluster names.

use std::fmt;

const PARTITIONS: &[&str] = &["aws", "aws-cn", "aws-us-gov"];

/// Whether an ARN names a user or a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    User,
    Role,
}

impl fmt::Display for PrincipalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PrincipalKind::User => "user",
            PrincipalKind::Role => "role",
        })
    }
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
pub enum ArnError {
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
    pub fn parse(text: &str) -> Result<IamArn, ArnError> {
        let mut parts = text.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(res)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(ArnError::NotAnArn);
        };
        if !is_partition(partition) {
            return Err(ArnError::Partition(partition.to_owned()));
        }
        if let ("sts", Some(rest)) = (service, res.strip_prefix("assumed-role/")) {
            let role = rest.split('/').next().unwrap_or_default();
            return Err(ArnError::StsSession(format!(
                "arn:{partition}:iam::{account}:role/{role}"
            )));
        }
        if service != "iam" {
            return Err(ArnError::Service(service.to_owned()));
        }
        if !region.is_empty() {
            return Err(ArnError::Region(region.to_owned()));
        }
        if !is_account_id(account) {
            return Err(ArnError::Account(account.to_owned()));
        }
        let (kind, rest) = if let Some(rest) = res.strip_prefix("user/") {
            (PrincipalKind::User, rest)
        } else if let Some(rest) = res.strip_prefix("role/") {
            (PrincipalKind::Role, rest)
        } else {
            return Err(ArnError::Resource(
                res.split('/').next().unwrap_or_default().to_owned(),
            ));
        };
        let (path, name) = match rest.rfind('/') {
            Some(i) => (format!("/{}", &rest[..=i]), &rest[i + 1..]),
            None => ("/".to_owned(), rest),
        };
        if path.contains("//") {
            return Err(ArnError::Path(path));
        }
        if !is_iam_name(name) {
            return Err(ArnError::Name(name.to_owned()));
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
    pub fn parse_kind(text: &str, kind: PrincipalKind) -> Result<IamArn, ArnError> {
        let arn = IamArn::parse(text)?;
        if arn.kind != kind {
            return Err(ArnError::WrongKind {
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

/// `aws`, `aws-cn`, `aws-us-gov` or any `aws-iso*`.
pub fn is_partition(text: &str) -> bool {
    PARTITIONS.contains(&text)
        || text.strip_prefix("aws-iso").is_some_and(|rest| {
            rest.is_empty()
                || rest
                    .strip_prefix('-')
                    .is_some_and(|l| l.len() == 1 && l.bytes().all(|b| b.is_ascii_lowercase()))
        })
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

/// The permission set name in an IAM Identity Center role name
/// (`AWSReservedSSO_<PermissionSet>_<hex suffix>`), or `None` for any other role.
pub fn sso_permission_set_of_role(role_name: &str) -> Option<&str> {
    let rest = role_name.strip_prefix("AWSReservedSSO_")?;
    let (name, suffix) = rest.rsplit_once('_')?;
    let hex = !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_hexdigit());
    (hex && !name.is_empty()).then_some(name)
}

/// The partition a region belongs to, or `None` when `region` is not shaped like a region.
/// Shapes: `eu-west-3`, `us-gov-west-1`, `us-iso-east-1`, `us-isob-east-1`, `cn-north-1`.
pub fn region_partition(region: &str) -> Option<String> {
    let parts: Vec<&str> = region.split('-').collect();
    let letters = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let (country, qualifier, direction, number) = match parts.as_slice() {
        [c, d, n] => (*c, None, *d, *n),
        [c, q, d, n] => (*c, Some(*q), *d, *n),
        _ => return None,
    };
    let number_ok =
        !number.is_empty() && number.len() <= 2 && number.bytes().all(|b| b.is_ascii_digit());
    if country.len() != 2 || !letters(country) || !letters(direction) || !number_ok {
        return None;
    }
    match qualifier {
        None if country == "cn" => Some("aws-cn".to_owned()),
        None => Some("aws".to_owned()),
        Some("gov") => Some("aws-us-gov".to_owned()),
        Some("iso") => Some("aws-iso".to_owned()),
        Some(q) if q.len() == 4 && q.starts_with("iso") && letters(q) => {
            Some(format!("aws-iso-{}", &q[3..]))
        }
        Some(_) => None,
    }
}

pub(super) fn is_cluster_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 100
        && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_shapes() {
        assert_eq!(region_partition("eu-west-3").as_deref(), Some("aws"));
        assert_eq!(
            region_partition("us-gov-west-1").as_deref(),
            Some("aws-us-gov")
        );
        assert_eq!(region_partition("cn-north-1").as_deref(), Some("aws-cn"));
        assert_eq!(
            region_partition("us-iso-east-1").as_deref(),
            Some("aws-iso")
        );
        assert_eq!(
            region_partition("us-isob-east-1").as_deref(),
            Some("aws-iso-b")
        );
        for bad in [
            "eu-west",
            "EU-WEST-3",
            "eu-west-3a",
            "europe-west-3",
            "eu-xx-west-1",
            "",
            "eu--3",
        ] {
            assert_eq!(region_partition(bad), None, "{bad}");
        }
    }

    #[test]
    fn partitions() {
        for ok in [
            "aws",
            "aws-cn",
            "aws-us-gov",
            "aws-iso",
            "aws-iso-b",
            "aws-iso-f",
        ] {
            assert!(is_partition(ok), "{ok}");
        }
        for bad in ["", "AWS", "aws-eu", "aws-iso-bb", "aws-isob"] {
            assert!(!is_partition(bad), "{bad}");
        }
    }

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
            ("nope", ArnError::NotAnArn),
            (
                "arn:azure:iam::111122223333:user/a",
                ArnError::Partition("azure".into()),
            ),
            ("arn:aws:iam::1111:user/a", ArnError::Account("1111".into())),
            (
                "arn:aws:iam:eu-west-1:111122223333:user/a",
                ArnError::Region("eu-west-1".into()),
            ),
            (
                "arn:aws:s3::111122223333:user/a",
                ArnError::Service("s3".into()),
            ),
            (
                "arn:aws:iam::111122223333:group/a",
                ArnError::Resource("group".into()),
            ),
            (
                "arn:aws:iam::111122223333:user/",
                ArnError::Name(String::new()),
            ),
            (
                "arn:aws:iam::111122223333:user/a b",
                ArnError::Name("a b".into()),
            ),
            (
                "arn:aws:iam::111122223333:user//a",
                ArnError::Path("//".into()),
            ),
            (
                "arn:aws:sts::111122223333:assumed-role/admin/alice",
                ArnError::StsSession("arn:aws:iam::111122223333:role/admin".into()),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(IamArn::parse(text), Err(want), "{text}");
        }
        assert_eq!(
            IamArn::parse_kind("arn:aws:iam::111122223333:role/a", PrincipalKind::User),
            Err(ArnError::WrongKind {
                expected: PrincipalKind::User,
                found: PrincipalKind::Role
            })
        );
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
