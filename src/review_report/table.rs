//! The terminal summary: per cluster one heading line, its principals (admins first) in
//! aligned columns, then its findings and notes.

use std::fmt::Write;

use super::ReviewReport;
use super::csv::policy;
use crate::core::review::{ClusterReview, PrincipalAccess};

const HEADINGS: [&str; 6] = [
    "ACCESS",
    "STORE",
    "PRINCIPAL",
    "USERNAME",
    "GRANTS",
    "BECAUSE",
];

pub(super) fn render(report: &ReviewReport) -> String {
    let mut out = String::new();
    for cluster in &report.clusters {
        cluster_section(&mut out, cluster);
    }
    let findings = report.finding_count();
    let _ = writeln!(
        out,
        "{} cluster(s), {} finding(s)",
        report.clusters.len(),
        findings
    );
    out
}

fn cluster_section(out: &mut String, c: &ClusterReview) {
    let admins = c.principals.iter().filter(|p| p.admin).count();
    let _ = writeln!(
        out,
        "== {} ({}, account {}, {}): {} principal(s), {} admin(s), {} finding(s)",
        c.name,
        c.region,
        if c.account.is_empty() {
            "unknown"
        } else {
            &c.account
        },
        c.authentication_mode.unwrap_or("mode unknown"),
        c.principals.len(),
        admins,
        c.findings.len()
    );
    let rows: Vec<[String; 6]> = c.principals.iter().map(row).collect();
    if !rows.is_empty() {
        let mut widths = HEADINGS.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |out: &mut String, cells: &[&str]| {
            let mut text = String::from("  ");
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                if i + 1 == cells.len() {
                    text.push_str(cell);
                } else {
                    let _ = write!(text, "{cell:<w$}  ");
                }
            }
            let _ = writeln!(out, "{}", text.trim_end());
        };
        line(out, &HEADINGS);
        for row in &rows {
            let cells: Vec<&str> = row.iter().map(String::as_str).collect();
            line(out, &cells);
        }
    }
    for f in &c.findings {
        let about = if f.principal.is_empty() {
            f.store.map(|s| s.as_str()).unwrap_or("cluster")
        } else {
            &f.principal
        };
        let _ = writeln!(out, "  ! {} {}: {}", f.kind.as_str(), about, f.detail);
    }
    for note in &c.notes {
        let _ = writeln!(out, "  note: {note}");
    }
}

/// ACCESS, STORE, PRINCIPAL, USERNAME, GRANTS, BECAUSE.
fn row(p: &PrincipalAccess) -> [String; 6] {
    let access = p.access_level();
    let mut grants: Vec<String> = p.groups.clone();
    grants.extend(p.access_policies.iter().map(policy));
    let because = if p.because.is_empty() {
        if p.managed { "managed" } else { "not managed" }.to_owned()
    } else {
        p.because.clone()
    };
    let because = if p.note.is_empty() {
        because
    } else {
        format!("{because} ({})", p.note)
    };
    [
        access.to_owned(),
        p.store.as_str().to_owned(),
        p.arn.clone(),
        p.username.clone(),
        grants.join(","),
        because,
    ]
}
