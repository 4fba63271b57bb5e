//! Lambda's advanced logging controls, read from the environment: the log level and format
//! the function's `LoggingConfig` sets, as `AWS_LAMBDA_LOG_LEVEL` (TRACE, DEBUG, INFO, WARN,
//! ERROR, FATAL) and `AWS_LAMBDA_LOG_FORMAT` (JSON, Text).
//!
//! Precedence of the level: `RUST_LOG` when set and not empty (a tracing filter, e.g.
//! `eks_iam_sync=debug`: the finer tool, which an operator sets on purpose), else
//! `AWS_LAMBDA_LOG_LEVEL`, else the mode's default (`info` in Lambda, `warn` for the CLI).
//! FATAL has no tracing level and means ERROR. The format: `AWS_LAMBDA_LOG_FORMAT` when set,
//! else JSON in Lambda and text on a terminal.
//!
//! This module only decides; [`crate::telemetry::init`] installs the subscriber.
//! (lambda_runtime's `init_default_subscriber` reads the same variables, but maps FATAL to
//! INFO, writes to stdout, where our metric lines go, and reads the process environment, so
//! its choices cannot be tested.)

use std::collections::HashMap;

/// Lambda's application log level.
pub const LOG_LEVEL_ENV: &str = "AWS_LAMBDA_LOG_LEVEL";
/// Lambda's log format.
pub const LOG_FORMAT_ENV: &str = "AWS_LAMBDA_LOG_FORMAT";
/// The tracing filter, which overrides [`LOG_LEVEL_ENV`].
pub const RUST_LOG_ENV: &str = "RUST_LOG";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (CloudWatch Logs Insights can query its fields).
    Json,
    /// Human-readable lines.
    Text,
}

/// The logging this process uses: a tracing filter and a format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogControls {
    /// A tracing `EnvFilter` directive string (`info`, `eks_iam_sync=debug,warn`).
    pub filter: String,
    pub format: LogFormat,
    /// Settings that were set but not understood, to be logged once the subscriber is up.
    pub ignored: Vec<String>,
}

impl LogControls {
    /// The controls from `env`; `in_lambda` chooses the defaults.
    pub fn from_env(env: &HashMap<String, String>, in_lambda: bool) -> LogControls {
        let mut ignored = Vec::new();
        let set = |name: &str| {
            env.get(name)
                .map(|value| value.trim())
                .filter(|value| !value.is_empty())
        };
        let lambda_level = set(LOG_LEVEL_ENV).and_then(|value| {
            let level = tracing_level(value);
            if level.is_none() {
                ignored.push(format!(
                    "{LOG_LEVEL_ENV}={value}: not one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL"
                ));
            }
            level
        });
        let default_level = if in_lambda { "info" } else { "warn" };
        let filter = set(RUST_LOG_ENV)
            .or(lambda_level)
            .unwrap_or(default_level)
            .to_owned();
        let default_format = if in_lambda {
            LogFormat::Json
        } else {
            LogFormat::Text
        };
        let format = match set(LOG_FORMAT_ENV) {
            None => default_format,
            Some(value) if value.eq_ignore_ascii_case("json") => LogFormat::Json,
            Some(value) if value.eq_ignore_ascii_case("text") => LogFormat::Text,
            Some(value) => {
                ignored.push(format!("{LOG_FORMAT_ENV}={value}: not JSON or Text"));
                default_format
            }
        };
        LogControls {
            filter,
            format,
            ignored,
        }
    }
}

/// The tracing level of one of Lambda's log levels (any case); None for anything else.
fn tracing_level(lambda_level: &str) -> Option<&'static str> {
    match lambda_level.to_ascii_uppercase().as_str() {
        "TRACE" => Some("trace"),
        "DEBUG" => Some("debug"),
        "INFO" => Some("info"),
        "WARN" => Some("warn"),
        "ERROR" | "FATAL" => Some("error"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn controls(vars: &[(&str, &str)], in_lambda: bool) -> LogControls {
        let env = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LogControls::from_env(&env, in_lambda)
    }

    #[test]
    fn without_settings_lambda_logs_json_at_info_and_the_cli_text_at_warn() {
        let lambda = controls(&[], true);
        assert_eq!(
            (lambda.filter.as_str(), lambda.format),
            ("info", LogFormat::Json)
        );
        let cli = controls(&[], false);
        assert_eq!((cli.filter.as_str(), cli.format), ("warn", LogFormat::Text));
        assert!(lambda.ignored.is_empty() && cli.ignored.is_empty());
    }

    #[test]
    fn every_lambda_log_level_maps_to_a_tracing_level_fatal_to_error() {
        for (lambda, tracing) in [
            ("TRACE", "trace"),
            ("DEBUG", "debug"),
            ("INFO", "info"),
            ("WARN", "warn"),
            ("ERROR", "error"),
            ("FATAL", "error"),
            ("debug", "debug"),
        ] {
            let got = controls(&[(LOG_LEVEL_ENV, lambda)], true);
            assert_eq!(got.filter, tracing, "{LOG_LEVEL_ENV}={lambda}");
            assert!(got.ignored.is_empty());
        }
    }

    #[test]
    fn rust_log_overrides_the_lambda_level_unless_empty() {
        let both = controls(
            &[
                (LOG_LEVEL_ENV, "ERROR"),
                (RUST_LOG_ENV, "eks_iam_sync=debug"),
            ],
            true,
        );
        assert_eq!(both.filter, "eks_iam_sync=debug");
        let empty = controls(&[(LOG_LEVEL_ENV, "DEBUG"), (RUST_LOG_ENV, " ")], true);
        assert_eq!(empty.filter, "debug");
    }

    #[test]
    fn the_lambda_log_format_chooses_json_or_text_in_any_mode() {
        let text = controls(&[(LOG_FORMAT_ENV, "Text")], true);
        assert_eq!(text.format, LogFormat::Text);
        let json = controls(&[(LOG_FORMAT_ENV, "JSON")], false);
        assert_eq!(json.format, LogFormat::Json);
    }

    #[test]
    fn an_unknown_level_or_format_keeps_the_default_and_is_reported() {
        let got = controls(&[(LOG_LEVEL_ENV, "LOUD"), (LOG_FORMAT_ENV, "xml")], true);
        assert_eq!((got.filter.as_str(), got.format), ("info", LogFormat::Json));
        assert_eq!(
            got.ignored,
            [
                "AWS_LAMBDA_LOG_LEVEL=LOUD: not one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL",
                "AWS_LAMBDA_LOG_FORMAT=xml: not JSON or Text",
            ]
        );
    }
}
