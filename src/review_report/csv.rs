//! The CSV report: one row per (cluster, principal, store), RFC 4180 quoting, lists joined
//! with `;`. A cluster without principals still has one row (its findings, such as
//! `unreadable`, must not vanish from a spreadsheet).

use super::ReviewReport;
use crate::core::review::{PolicyGrant, PrincipalAccess};

/// The columns, in order (the contract: extend at the end, never rename).
pub(super) const COLUMNS: [&str; 17] = [
    "cluster",
    "region",
    "account",
    "authenticationMode",
    "principal",
    "principalAccount",
    "kind",
    "username",
    "groups",
    "accessPolicies",
    "store",
    "effective",
    "managed",
    "admin",
    "node",
    "because",
    "findings",
];

pub(super) fn render(report: &ReviewReport) -> Result<String, csv::Error> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    out.write_record(COLUMNS)?;
    for cluster in &report.clusters {
        let mode = cluster.authentication_mode.unwrap_or_default();
        let head = [
            cluster.name.as_str(),
            cluster.region.as_str(),
            cluster.account.as_str(),
            mode,
        ];
        if cluster.principals.is_empty() {
            let findings = join(cluster.findings.iter().map(|f| f.kind.as_str()));
            let mut row: Vec<String> = head.iter().map(|s| (*s).to_owned()).collect();
            row.resize(COLUMNS.len() - 1, String::new());
            row.push(findings);
            out.write_record(&row)?;
            continue;
        }
        for p in &cluster.principals {
            let mut row: Vec<String> = head.iter().map(|s| (*s).to_owned()).collect();
            row.extend(principal_cells(p));
            out.write_record(&row)?;
        }
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8(bytes).expect("the CSV writer writes the UTF-8 it is given"))
}

fn principal_cells(p: &PrincipalAccess) -> [String; 13] {
    let yes_no = |b: bool| if b { "true" } else { "false" }.to_owned();
    [
        p.arn.clone(),
        p.account.clone(),
        p.kind.as_str().to_owned(),
        p.username.clone(),
        join(p.groups.iter().map(String::as_str)),
        join(p.access_policies.iter().map(policy)),
        p.store.as_str().to_owned(),
        yes_no(p.effective),
        yes_no(p.managed),
        yes_no(p.admin),
        yes_no(p.node),
        p.because.clone(),
        join(p.findings.iter().map(|f| f.as_str())),
    ]
}

/// `AmazonEKSViewPolicy` at cluster scope, `AmazonEKSEditPolicy(team-a,team-b)` scoped.
pub(super) fn policy(p: &PolicyGrant) -> String {
    if p.namespaces.is_empty() {
        p.policy.clone()
    } else {
        format!("{}({})", p.policy, p.namespaces.join(","))
    }
}

fn join<S: AsRef<str>>(items: impl Iterator<Item = S>) -> String {
    items
        .map(|s| s.as_ref().to_owned())
        .collect::<Vec<_>>()
        .join(";")
}
