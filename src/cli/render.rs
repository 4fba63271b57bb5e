//! `eks-iam-sync render`: the planner offline, for GitOps and review.
//!
//! `render --current FILE --desired FILE [--allow-mass-removal]` prints the new ConfigMap
//! manifest on stdout (usable with `kubectl replace -f -`) and the plan on stderr. Exit 0
//! when rendered (changed or not); 1 on invalid input or a guard refusal, with nothing on
//! stdout. Reading and planning are pure; this module only does the file and terminal I/O.

use std::io::{Read, Write};
use std::process::ExitCode;

use crate::core::aws_auth::manifest::Manifest;
use crate::core::aws_auth::plan::{PlanRequest, plan};
use crate::core::aws_auth::{LEDGER_ANNOTATION, OwnershipRules};
use crate::core::desired::DesiredSet;
use crate::core::guards::GuardSettings;

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The current aws-auth ConfigMap manifest, YAML or JSON (`-` for stdin). A file holding no
    /// ConfigMap document means the ConfigMap does not exist yet.
    #[arg(long, value_name = "FILE")]
    pub current: String,
    /// The complete desired managed set in aws-auth's shape: `mapRoles: [{rolearn, username,
    /// groups}]`, `mapUsers: [{userarn, username, groups}]`, `mapAccounts: ["..."]` (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub desired: String,
    /// Let this run remove more than the max removal fraction of the managed entries.
    #[arg(long)]
    pub allow_mass_removal: bool,
    /// Largest fraction of managed entries one run may remove (when there are at least 4).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.5, value_parser = parse_fraction)]
    pub max_removal_fraction: f64,
    /// A principal ARN that must keep its access (repeatable), e.g. the identity that applies it.
    #[arg(long = "protect", value_name = "ARN")]
    pub protected: Vec<String>,
}

fn parse_fraction(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if f > 0.0 && f <= 1.0 => Ok(f),
        _ => Err(format!("`{text}` is not a fraction in (0, 1]")),
    }
}

/// Why `render` stopped before printing anything.
#[derive(Debug, thiserror::Error)]
enum RenderError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("--current and --desired cannot both read stdin")]
    BothStdin,
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

pub fn run(args: &RenderArgs) -> ExitCode {
    match render(args) {
        Ok(rendered) => {
            eprint!("{}", rendered.plan_text);
            if let Some(manifest) = rendered.manifest {
                let mut stdout = std::io::stdout().lock();
                if stdout
                    .write_all(manifest.as_bytes())
                    .and_then(|()| stdout.flush())
                    .is_err()
                {
                    return ExitCode::FAILURE;
                }
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

struct Rendered {
    plan_text: String,
    /// `None` when a guard refused.
    manifest: Option<String>,
}

fn render(args: &RenderArgs) -> Result<Rendered, RenderError> {
    if args.current == "-" && args.desired == "-" {
        return Err(RenderError::BothStdin);
    }
    let current_text = read_input(&args.current)?;
    let desired_text = read_input(&args.desired)?;
    let invalid = |path: &str, message: String| RenderError::Invalid {
        path: path.to_owned(),
        message,
    };

    let manifest =
        Manifest::parse(&current_text).map_err(|e| invalid(&args.current, e.to_string()))?;
    let current = manifest
        .as_ref()
        .map(Manifest::config_map_data)
        .transpose()
        .map_err(|e| invalid(&args.current, e.to_string()))?;
    let desired = DesiredSet::from_aws_auth_shape(&desired_text)
        .map_err(|e| invalid(&args.desired, e.to_string()))?;

    let plan = plan(&PlanRequest {
        current: current.as_ref(),
        desired: &desired,
        guards: GuardSettings {
            max_removal_fraction: args.max_removal_fraction,
            allow_mass_removal: args.allow_mass_removal,
        },
        protected: &args.protected,
        ownership: &OwnershipRules::default(),
    });
    let mut plan_text = String::new();
    if let Some(m) = &manifest {
        plan_text.push_str(&format!("Plan for {} ({}):\n", m.name(), args.current));
    } else {
        plan_text.push_str(&format!(
            "Plan for kube-system/aws-auth ({} holds none: it would be created):\n",
            args.current
        ));
    }
    plan_text.push_str(&plan.describe());
    if plan.is_refused() {
        plan_text.push_str("error: nothing rendered\n");
        return Ok(Rendered {
            plan_text,
            manifest: None,
        });
    }
    let base = manifest.unwrap_or_else(Manifest::new_aws_auth);
    let out = match &plan.write {
        Some(write) => base.with_changes(
            &write.data,
            (
                LEDGER_ANNOTATION,
                write.annotations.get(LEDGER_ANNOTATION).map(String::as_str),
            ),
        ),
        None => base,
    };
    Ok(Rendered {
        plan_text,
        manifest: Some(out.to_yaml()),
    })
}

fn read_input(path: &str) -> Result<String, RenderError> {
    let mut text = String::new();
    let result = if path == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    result.map(|()| text).map_err(|source| RenderError::Read {
        path: path.to_owned(),
        source,
    })
}
