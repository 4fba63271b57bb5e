//! `eks-iam-sync check-config [FILE]`: validates a configuration offline, and
//! `check-config --schema` prints its JSON Schema.
//!
//! No AWS call is made, so no credentials are needed: the file is parsed and validated
//! exactly as `plan`, `apply` and the Lambda do ([`crate::config`]). Every problem is one line
//! on stdout, `path: value: why` (`groups[2].kubernetesGroups[0]: "": must not be empty`),
//! followed by a count on stderr. A syntax or shape error (bad YAML, an unknown key) stops
//! parsing, so it is the one message, on stderr.
//!
//! Without FILE, `$EKS_IAM_SYNC_CONFIG` is checked when it is a file path or an inline
//! document (or the iam-eks-user-mapper variables, when they are the configuration). An
//! `ssm:` or `s3://` source is not fetched: reading it needs AWS credentials, which this
//! command never uses; save it to a file and check that.
//!
//! Exit 0 when valid (or the schema was printed), 1 when invalid or unreadable.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use crate::config::{self, ConfigError, Format};
use crate::core::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct CheckConfigArgs {
    /// The configuration file, YAML or JSON (`-` for stdin); defaults to $EKS_IAM_SYNC_CONFIG.
    #[arg(value_name = "FILE", conflicts_with = "schema")]
    pub file: Option<String>,
    /// Print the configuration's JSON Schema (generated from its types) instead.
    #[arg(long)]
    pub schema: bool,
}

/// Checks the configuration (or prints the schema); returns the exit code.
pub fn run(args: &CheckConfigArgs) -> ExitCode {
    if args.schema {
        print!("{}", config::schema_json());
        return ExitCode::SUCCESS;
    }
    let (origin, checked) = match args.file.as_deref() {
        Some("-") => ("stdin".to_owned(), from_stdin()),
        Some(file) => (file.to_owned(), config::from_file(Path::new(file))),
        None => (
            config::CONFIG_ENV.to_owned(),
            config::load(&std::env::vars().collect()),
        ),
    };
    match checked {
        Ok(settings) => {
            println!("{origin}: valid ({})", counts(&settings));
            ExitCode::SUCCESS
        }
        Err(ConfigError::Invalid { origin, problems }) => {
            for problem in &problems.0 {
                println!("{problem}");
            }
            eprintln!("error: {origin}: {} problem(s)", problems.0.len());
            ExitCode::FAILURE
        }
        // FILE was named here, not by the variable: say so without the variable's name.
        Err(ConfigError::Read { path, source, .. }) if args.file.is_some() => {
            eprintln!("error: {}: cannot read: {source}", path.display());
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn from_stdin() -> Result<Settings, ConfigError> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|source| ConfigError::Read {
            path: "-".into(),
            hint: "",
            source,
        })?;
    config::from_text(&text, "stdin", None::<Format>)
}

/// What the configuration holds, in a few words.
fn counts(settings: &Settings) -> String {
    format!(
        "{} cluster(s), {} group(s), {} user(s), {} role(s), {} permission set(s), {} account(s)",
        settings.clusters.len(),
        settings.groups.len(),
        settings.users.len(),
        settings.roles.len(),
        settings.sso_permission_sets.len(),
        settings.accounts.len(),
    )
}
