//! Validation of the two S3 locations of the configuration: `review` (issue 22) and `history`
//! (issue 23). Each problem names its key, as the rest of validation does.

use super::validate::Validator;
use super::{RawHistory, RawReview};
use crate::core::settings::{
    DEFAULT_HISTORY_PREFIX, DEFAULT_REVIEW_PREFIX, DEFAULT_REVIEW_SCHEDULE, HistorySettings,
    ReviewSettings,
};

pub(super) fn review(v: &mut Validator, raw: &RawReview) -> ReviewSettings {
    let schedule = match raw.schedule.as_deref().map(str::trim) {
        None => DEFAULT_REVIEW_SCHEDULE.to_owned(),
        Some(text) if is_schedule(text) => text.to_owned(),
        Some(text) => {
            v.push(
                "review.schedule",
                Some(text),
                "an EventBridge schedule: rate(1 day), rate(12 hours) or cron(0 6 * * ? *)",
            );
            DEFAULT_REVIEW_SCHEDULE.to_owned()
        }
    };
    ReviewSettings {
        bucket: bucket(v, "review", &raw.bucket),
        prefix: prefix(v, "review", raw.prefix.as_deref(), DEFAULT_REVIEW_PREFIX),
        schedule,
    }
}

pub(super) fn history(v: &mut Validator, raw: &RawHistory) -> HistorySettings {
    let event_bus = raw.event_bus.as_deref().and_then(|bus| {
        if is_event_bus(bus) {
            Some(bus.to_owned())
        } else {
            v.push(
                "history.eventBus",
                Some(bus),
                "an EventBridge bus name (letters, digits, . _ - /, at most 256) or its ARN (arn:aws:events:REGION:ACCOUNT:event-bus/NAME)",
            );
            None
        }
    });
    HistorySettings {
        bucket: bucket(v, "history", &raw.bucket),
        prefix: prefix(v, "history", raw.prefix.as_deref(), DEFAULT_HISTORY_PREFIX),
        event_bus,
    }
}

fn bucket(v: &mut Validator, key: &str, name: &str) -> String {
    if name.is_empty() {
        v.push(
            format!("{key}.bucket"),
            None,
            "required: the S3 bucket name",
        );
    } else if let Err(why) = check_bucket_name(name) {
        v.push(format!("{key}.bucket"), Some(name), why);
    }
    name.to_owned()
}

fn prefix(v: &mut Validator, key: &str, prefix: Option<&str>, default: &str) -> String {
    let Some(prefix) = prefix else {
        return default.to_owned();
    };
    let why = if prefix.starts_with('/') {
        Some("must not start with / (S3 keys have no leading slash)")
    } else if !prefix.is_empty() && !prefix.ends_with('/') {
        Some("must end with / (the objects are listed by date folders under it)")
    } else if prefix.len() > 512 {
        Some("at most 512 characters")
    } else if prefix.chars().any(char::is_control) {
        Some("no control characters")
    } else {
        None
    };
    if let Some(why) = why {
        v.push(format!("{key}.prefix"), Some(prefix), why);
    }
    prefix.to_owned()
}

/// S3's rules for a bucket name (general purpose buckets).
fn check_bucket_name(name: &str) -> Result<(), &'static str> {
    let bytes = name.as_bytes();
    if !(3..=63).contains(&bytes.len()) {
        return Err("an S3 bucket name has 3 to 63 characters");
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
    {
        return Err("an S3 bucket name has only lowercase letters, digits, . and -");
    }
    let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !edge(bytes[0]) || !edge(bytes[bytes.len() - 1]) {
        return Err("an S3 bucket name starts and ends with a letter or digit");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return Err("an S3 bucket name has no .. and no . next to -");
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Err("an S3 bucket name is not an IP address");
    }
    Ok(())
}

fn is_schedule(text: &str) -> bool {
    let inner = |prefix: &str| {
        text.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(')'))
            .is_some_and(|inner| !inner.trim().is_empty())
    };
    inner("rate(") || inner("cron(")
}

fn is_event_bus(text: &str) -> bool {
    let name = match text.strip_prefix("arn:") {
        Some(arn) => {
            let parts: Vec<&str> = arn.splitn(5, ':').collect();
            match parts.as_slice() {
                [partition, "events", region, account, resource]
                    if partition.starts_with("aws")
                        && !region.is_empty()
                        && crate::core::names::is_account_id(account) =>
                {
                    match resource.strip_prefix("event-bus/") {
                        Some(name) => name,
                        None => return false,
                    }
                }
                _ => return false,
            }
        }
        None => text,
    };
    (1..=256).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_s_rules() {
        for good in ["reports", "my-bucket.eu", "a1b"] {
            assert_eq!(check_bucket_name(good), Ok(()), "{good}");
        }
        for bad in [
            "ab",
            "My-Bucket",
            "-bucket",
            "bucket-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "under_score",
        ] {
            assert!(check_bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn schedules_are_rate_or_cron_expressions() {
        assert!(is_schedule("rate(1 day)"));
        assert!(is_schedule("cron(0 6 * * ? *)"));
        assert!(!is_schedule("daily"));
        assert!(!is_schedule("rate()"));
    }

    #[test]
    fn event_buses_are_names_or_arns() {
        assert!(is_event_bus("default"));
        assert!(is_event_bus("security/access"));
        assert!(is_event_bus(
            "arn:aws:events:eu-west-1:111122223333:event-bus/audit"
        ));
        assert!(!is_event_bus("arn:aws:sns:eu-west-1:111122223333:topic"));
        assert!(!is_event_bus("has space"));
        assert!(!is_event_bus(""));
    }

    #[test]
    fn defaults_fill_the_prefix_and_schedule() {
        let mut v = Validator::default();
        let review = review(
            &mut v,
            &RawReview {
                bucket: "reports".into(),
                ..RawReview::default()
            },
        );
        assert!(v.problems.is_empty());
        assert_eq!(review.prefix, DEFAULT_REVIEW_PREFIX);
        assert_eq!(review.schedule, DEFAULT_REVIEW_SCHEDULE);
    }

    #[test]
    fn every_problem_names_its_key() {
        let mut v = Validator::default();
        history(
            &mut v,
            &RawHistory {
                bucket: String::new(),
                prefix: Some("/audit".into()),
                event_bus: Some("no spaces allowed".into()),
            },
        );
        let paths: Vec<&str> = v.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            ["history.eventBus", "history.bucket", "history.prefix"]
        );
    }
}
