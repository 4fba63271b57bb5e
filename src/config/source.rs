//! Where the configuration comes from, as a value: the `EKS_IAM_SYNC_CONFIG` string parsed
//! into a [`Source`], and the rule that decides when a remote one is read again.
//!
//! Pure: no I/O, no SDK. The SSM and S3 calls are [`crate::aws::config_store`]'s; keeping the
//! configuration of a warm Lambda instance current is [`crate::live_config`]'s.
//!
//! # The forms (in this order)
//! 1. Starts (after blanks) with `{` or contains a newline: inline YAML/JSON ([`is_inline`]).
//! 2. `ssm:NAME` (normally `ssm:/parameter/name`): an SSM parameter, String or SecureString,
//!    read with decryption.
//! 3. `s3://BUCKET/KEY`: an S3 object.
//! 4. Anything else: a file path.

use std::fmt;
use std::path::PathBuf;

use super::is_inline;

/// Where a configuration text is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The environment variable's value is the configuration.
    Inline(String),
    /// A local file.
    File(PathBuf),
    /// Read from AWS (SSM or S3), needing credentials.
    Remote(Remote),
}

/// A configuration kept in AWS.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Remote {
    /// An SSM parameter, by name (`/eks-iam-sync/config`).
    Ssm { name: String },
    /// An S3 object.
    S3 { bucket: String, key: String },
}

impl fmt::Display for Remote {
    /// The form it was written in (`ssm:/x`, `s3://b/k`): errors name the source this way.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Remote::Ssm { name } => write!(f, "ssm:{name}"),
            Remote::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

/// A source string that names SSM or S3 but not well enough to read it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value}: {why}")]
pub struct SourceError {
    pub value: String,
    pub why: &'static str,
}

/// The [`Source`] an `EKS_IAM_SYNC_CONFIG` value names (see the module's forms).
pub fn parse_source(value: &str) -> Result<Source, SourceError> {
    if is_inline(value) {
        return Ok(Source::Inline(value.to_owned()));
    }
    let value = value.trim();
    let bad = |why| SourceError {
        value: value.to_owned(),
        why,
    };
    if let Some(name) = value.strip_prefix("ssm:") {
        if name.is_empty() {
            return Err(bad(
                "no parameter name after `ssm:` (write ssm:/parameter/name)",
            ));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
        {
            return Err(bad(
                "not an SSM parameter name (letters, digits, `_`, `.`, `-`, `/`)",
            ));
        }
        return Ok(Source::Remote(Remote::Ssm {
            name: name.to_owned(),
        }));
    }
    if let Some(rest) = value.strip_prefix("s3://") {
        return match rest.split_once('/') {
            Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => {
                Ok(Source::Remote(Remote::S3 {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                }))
            }
            _ => Err(bad(
                "not s3://BUCKET/KEY (both a bucket and a key are needed)",
            )),
        };
    }
    Ok(Source::File(PathBuf::from(value)))
}

/// What identifies one content of a remote configuration: an SSM parameter's version, an S3
/// object's ETag. Equal versions mean the same text, so it is not read or parsed again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    Ssm(i64),
    S3(String),
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Ssm(version) => write!(f, "version {version}"),
            Version::S3(etag) => write!(f, "ETag {etag}"),
        }
    }
}

/// Whether the configuration must be read (and parsed) again: nothing loaded yet, or the
/// source now reports another version than the one loaded.
pub fn needs_reread(loaded: Option<&Version>, current: &Version) -> bool {
    loaded != Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssm(name: &str) -> Source {
        Source::Remote(Remote::Ssm {
            name: name.to_owned(),
        })
    }

    #[test]
    fn ssm_names_a_parameter() {
        assert_eq!(
            parse_source("ssm:/eks-iam-sync/config"),
            Ok(ssm("/eks-iam-sync/config"))
        );
        assert_eq!(parse_source(" ssm:plain "), Ok(ssm("plain")));
        let Source::Remote(remote) = ssm("/x") else {
            unreachable!()
        };
        assert_eq!(remote.to_string(), "ssm:/x");
    }

    #[test]
    fn s3_names_a_bucket_and_a_key() {
        let source = parse_source("s3://configs/eks/iam-sync.yaml").unwrap();
        let Source::Remote(remote) = &source else {
            panic!("{source:?}")
        };
        assert_eq!(
            remote,
            &Remote::S3 {
                bucket: "configs".into(),
                key: "eks/iam-sync.yaml".into()
            }
        );
        assert_eq!(remote.to_string(), "s3://configs/eks/iam-sync.yaml");
    }

    #[test]
    fn incomplete_remote_sources_say_what_is_missing() {
        for (value, why) in [
            ("ssm:", "no parameter name"),
            ("ssm:/a b", "not an SSM parameter name"),
            ("s3://bucket", "both a bucket and a key"),
            ("s3://bucket/", "both a bucket and a key"),
            ("s3:///key", "both a bucket and a key"),
        ] {
            let error = parse_source(value).unwrap_err();
            assert_eq!(error.value, value.trim());
            assert!(error.to_string().contains(why), "{value}: {error}");
            assert!(error.to_string().starts_with(&format!("{value}: ")));
        }
    }

    #[test]
    fn files_and_inline_documents_keep_today_s_rule() {
        assert_eq!(
            parse_source("/etc/eks-iam-sync.yaml"),
            Ok(Source::File("/etc/eks-iam-sync.yaml".into()))
        );
        assert_eq!(
            parse_source("config.json"),
            Ok(Source::File("config.json".into()))
        );
        let yaml = "clusters:\n  - name: ssm:/x\n";
        assert_eq!(parse_source(yaml), Ok(Source::Inline(yaml.into())));
        let json = r#"{"clusters": [{"name": "s3://b/k"}]}"#;
        assert_eq!(parse_source(json), Ok(Source::Inline(json.into())));
    }

    #[test]
    fn a_version_change_triggers_a_reread_an_unchanged_version_does_not() {
        assert!(needs_reread(None, &Version::Ssm(1)), "first read");
        assert!(!needs_reread(Some(&Version::Ssm(3)), &Version::Ssm(3)));
        assert!(needs_reread(Some(&Version::Ssm(3)), &Version::Ssm(4)));
        let etag = |e: &str| Version::S3(e.to_owned());
        assert!(needs_reread(None, &etag("\"a\"")), "first read");
        assert!(!needs_reread(Some(&etag("\"a\"")), &etag("\"a\"")));
        assert!(needs_reread(Some(&etag("\"a\"")), &etag("\"b\"")));
    }
}
