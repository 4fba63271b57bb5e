//! The HTML report: one self-contained page (inline CSS, no script, nothing fetched) that an
//! auditor opens in a browser. A summary of clusters and findings first, then each cluster's
//! principals (admins first) with findings highlighted, and, with several clusters, the
//! fleet-wide matrix "principal x cluster". maud escapes every value.

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::ReviewReport;
use super::csv::policy;
use crate::core::review::{ClusterReview, FindingKind, PrincipalAccess};

const CSS: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem;color:#1d2330;background:#fff}
h1{font-size:1.6rem;margin:0 0 .3rem}h2{font-size:1.25rem;margin:2rem 0 .5rem;border-bottom:2px solid #d0d5dd;padding-bottom:.2rem}
.meta{color:#5b6475;margin-bottom:1.5rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #d0d5dd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eef1f6}
td.arn{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
tr.admin td{background:#fff6e0}
tr.finding td{background:#fde8e8}
tr.ineffective td{color:#7a8294}
.badge{display:inline-block;border-radius:.6rem;padding:0 .45rem;font-size:.75rem;margin:0 .15rem .15rem 0;background:#e3e7ee}
.badge.finding{background:#c81e1e;color:#fff}
.badge.admin{background:#b45309;color:#fff}
.count{font-weight:600}.ok{color:#15803d}.bad{color:#c81e1e}
td.m-admin{background:#fbd38d;text-align:center}td.m-access{background:#c6f6d5;text-align:center}td.m-none{color:#a0a8b8;text-align:center}
ul.notes{color:#5b6475}
";

pub(super) fn render(report: &ReviewReport) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "EKS access review" }
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { "EKS access review" }
                p.meta {
                    "Generated " (report.generated_at) " by eks-iam-sync " (report.version)
                    ": " (report.clusters.len()) " cluster(s), "
                    (report.finding_count()) " finding(s)."
                }
                (summary(report))
                (all_findings(report))
                @if report.clusters.len() > 1 { (matrix(report)) }
                @for cluster in &report.clusters { (cluster_section(cluster)) }
            }
        }
    };
    page.into_string()
}

fn summary(report: &ReviewReport) -> Markup {
    html! {
        h2 { "Clusters" }
        table {
            tr {
                th { "Cluster" } th { "Region" } th { "Account" } th { "Authentication mode" }
                th { "Principals" } th { "Admins" } th { "Findings" }
            }
            @for c in &report.clusters {
                tr {
                    td { a href={ "#cluster-" (c.name) } { (c.name) } }
                    td { (c.region) }
                    td { (c.account) }
                    td { (c.authentication_mode.unwrap_or("unknown")) }
                    td.count { (c.principals.len()) }
                    td.count { (c.principals.iter().filter(|p| p.admin && p.effective).count()) }
                    td {
                        @if c.findings.is_empty() { span.ok { "none" } }
                        @for (kind, n) in finding_counts(c) {
                            span.badge.finding { (kind.as_str()) " " (n) }
                        }
                    }
                }
            }
        }
    }
}

fn finding_counts(c: &ClusterReview) -> BTreeMap<FindingKind, usize> {
    let mut counts = BTreeMap::new();
    for f in &c.findings {
        *counts.entry(f.kind).or_default() += 1;
    }
    counts
}

fn all_findings(report: &ReviewReport) -> Markup {
    html! {
        h2 { "Findings" }
        @if report.finding_count() == 0 {
            p.ok { "No findings." }
        } @else {
            table {
                tr { th { "Kind" } th { "Cluster" } th { "Store" } th { "Principal" } th { "Detail" } }
                @for c in &report.clusters {
                    @for f in &c.findings {
                        tr.finding {
                            td { (f.kind.as_str()) }
                            td { (c.name) }
                            td { (f.store.map(|s| s.as_str()).unwrap_or("")) }
                            td.arn { (f.principal) }
                            td { (f.detail) }
                        }
                    }
                }
            }
        }
    }
}

/// admin / access / none of each principal (by ARN, case-insensitively) on each cluster.
fn matrix(report: &ReviewReport) -> Markup {
    let mut rows: BTreeMap<String, (String, Vec<&'static str>)> = BTreeMap::new();
    let n = report.clusters.len();
    for (i, c) in report.clusters.iter().enumerate() {
        for p in c.principals.iter().filter(|p| p.effective) {
            let row = rows
                .entry(p.arn.to_ascii_lowercase())
                .or_insert_with(|| (p.arn.clone(), vec!["none"; n]));
            let level = if p.admin { "admin" } else { "access" };
            if row.1[i] != "admin" {
                row.1[i] = level;
            }
        }
    }
    html! {
        h2 { "Principal x cluster" }
        table {
            tr {
                th { "Principal" }
                @for c in &report.clusters { th { (c.name) } }
            }
            @for (arn, levels) in rows.values() {
                tr {
                    td.arn { (arn) }
                    @for level in levels {
                        td class={ "m-" (level) } { (level) }
                    }
                }
            }
        }
    }
}

fn cluster_section(c: &ClusterReview) -> Markup {
    html! {
        h2 id={ "cluster-" (c.name) } {
            (c.name) " (" (c.region) ", account " (c.account) ", "
            (c.authentication_mode.unwrap_or("mode unknown")) ")"
        }
        @if c.principals.is_empty() {
            p { "No principal EKS would authenticate was read." }
        } @else {
            table {
                tr {
                    th { "Access" } th { "Store" } th { "Principal" } th { "Account" } th { "Kind" }
                    th { "Username" } th { "Groups" } th { "Access policies" }
                    th { "Effective" } th { "Managed" } th { "Because" } th { "Findings" }
                }
                @for p in &c.principals { (principal_row(p)) }
            }
        }
        @if !c.findings.is_empty() {
            table {
                tr { th { "Finding" } th { "Store" } th { "Principal" } th { "Detail" } }
                @for f in &c.findings {
                    tr.finding {
                        td { (f.kind.as_str()) }
                        td { (f.store.map(|s| s.as_str()).unwrap_or("")) }
                        td.arn { (f.principal) }
                        td { (f.detail) }
                    }
                }
            }
        }
        @if !c.notes.is_empty() {
            ul.notes { @for note in &c.notes { li { (note) } } }
        }
    }
}

fn principal_row(p: &PrincipalAccess) -> Markup {
    let class = if !p.findings.is_empty() {
        "finding"
    } else if p.admin {
        "admin"
    } else if !p.effective {
        "ineffective"
    } else {
        ""
    };
    let access = p.access_level();
    html! {
        tr class=(class) {
            td {
                @if p.admin { span.badge.admin { (access) } } @else { (access) }
            }
            td { (p.store.as_str()) }
            td.arn { (p.arn) }
            td { (p.account) }
            td { (p.kind.as_str()) }
            td { (p.username) }
            td { @for g in &p.groups { span.badge { (g) } } }
            td { @for a in &p.access_policies { span.badge { (policy(a)) } } }
            td { (yes_no(p.effective)) @if !p.note.is_empty() { br; small { (p.note) } } }
            td { (yes_no(p.managed)) }
            td { (p.because) }
            td { @for f in &p.findings { span.badge.finding { (f.as_str()) } } }
        }
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
