//! The review's report (`eks-iam-sync review`, and the Lambda's scheduled review): one
//! [`ReviewReport`] rendered as a terminal summary, JSON, CSV or a self-contained HTML page.
//!
//! Pure: the report is a value, each format a function of it. The JSON field names, the CSV
//! columns and the finding kinds are a contract (acceptance checks and people's scripts read
//! them): extend them, never rename them.

mod csv;
mod html;
mod table;

use serde::Serialize;

use crate::build_info;
use crate::core::review::ClusterReview;

/// The whole review: `{generatedAt, version, clusters}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewReport {
    /// RFC 3339, UTC.
    pub generated_at: String,
    /// The eks-iam-sync version that made it.
    pub version: &'static str,
    /// In configuration order.
    pub clusters: Vec<ClusterReview>,
}

/// A report format (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable summary per cluster.
    Table,
    Json,
    /// One row per (cluster, principal, store).
    Csv,
    /// One self-contained page for a browser.
    Html,
}

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the JSON report could not be written: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the CSV report could not be written: {0}")]
    Csv(#[from] ::csv::Error),
}

impl ReviewReport {
    /// The report of `clusters`, made at `generated_at` (epoch seconds).
    pub fn new(clusters: Vec<ClusterReview>, generated_at: jiff::Timestamp) -> ReviewReport {
        ReviewReport {
            generated_at: generated_at
                .round(jiff::Unit::Second)
                .unwrap_or(generated_at)
                .to_string(),
            version: build_info::VERSION,
            clusters,
        }
    }

    /// Findings over every cluster.
    pub fn finding_count(&self) -> usize {
        self.clusters.iter().map(|c| c.findings.len()).sum()
    }

    /// The report in `format`.
    pub fn render(&self, format: Format) -> Result<String, RenderError> {
        Ok(match format {
            Format::Table => table::render(self),
            Format::Json => serde_json::to_string_pretty(self)? + "\n",
            Format::Csv => csv::render(self)?,
            Format::Html => html::render(self),
        })
    }
}

#[cfg(test)]
mod tests;
