//! The report formats, from one hand-made review of two clusters.

use super::*;
use crate::core::aws_auth::OwnershipRules;
use crate::core::effective::{AuthenticationMode, Store};
use crate::core::review::{ClusterRead, Drift, Inventory, StoreRead, review_cluster};
use crate::fixtures::{
    ACCOUNT, DesiredBuilder, EntryBuilder, admin_policy, aws_auth_data, entry, managed_role,
    role_arn,
};

/// prod (CONFIG_MAP): our deploy role, a hand-written admin whose username needs quoting
/// and escaping; dev (API): a hand-made ClusterAdmin entry.
fn report() -> ReviewReport {
    let ownership = OwnershipRules::default();
    let inventory = Inventory::default();
    let users = "- userarn: arn:aws:iam::111122223333:user/mallory\n  username: \"<script>alert(1)</script>, \\\"x\\\"\"\n  groups:\n    - system:masters\n";
    let prod_data = aws_auth_data(&managed_role("deploy", &["devs"]), users, "");
    let desired = DesiredBuilder::new().named_role("deploy", &["devs"]);
    let prod = review_cluster(&ClusterRead {
        name: "prod",
        region: "eu-west-1",
        account: ACCOUNT,
        mode: Some(AuthenticationMode::ConfigMap),
        aws_auth: StoreRead::Read(Some(&prod_data)),
        entries: StoreRead::NotRead,
        desired: Some(&desired.0),
        drift: &[Drift {
            store: Store::AwsAuth,
            principal: role_arn("deploy"),
            change: "changed",
            reason: "member of IAM group devs".to_owned(),
        }],
        refusals: &[],
        error: None,
        ownership: &ownership,
        inventory: &inventory,
    });
    let dev_entries = [
        entry(&role_arn("ops"), "ops", &[]).with(admin_policy()),
        entry(&role_arn("deploy"), "deploy", &["devs"]).managed(),
    ];
    let dev = review_cluster(&ClusterRead {
        name: "dev",
        region: "us-east-1",
        account: ACCOUNT,
        mode: Some(AuthenticationMode::Api),
        aws_auth: StoreRead::NotRead,
        entries: StoreRead::Read(&dev_entries),
        desired: Some(&desired.0),
        drift: &[],
        refusals: &[],
        error: None,
        ownership: &ownership,
        inventory: &inventory,
    });
    let at: jiff::Timestamp = "2026-12-03T10:00:00Z".parse().unwrap();
    ReviewReport::new(vec![prod, dev], at)
}

#[test]
fn json_has_the_documented_top_level_fields() {
    let json: serde_json::Value =
        serde_json::from_str(&report().render(Format::Json).unwrap()).unwrap();
    assert_eq!(json["generatedAt"], "2026-12-03T10:00:00Z");
    assert_eq!(json["version"], crate::build_info::VERSION);
    assert_eq!(json["clusters"][0]["name"], "prod");
    assert_eq!(json["clusters"][1]["authenticationMode"], "API");
    assert_eq!(json["clusters"][0]["account"], ACCOUNT);
}

#[test]
fn csv_is_one_quoted_row_per_principal_and_store() {
    let text = report().render(Format::Csv).unwrap();
    let mut rows = ::csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = rows.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(headers, csv::COLUMNS);
    let records: Vec<::csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 4, "{text}");
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let mallory = records
        .iter()
        .find(|r| r[column("principal")].ends_with("user/mallory"))
        .unwrap();
    assert_eq!(
        &mallory[column("username")],
        "<script>alert(1)</script>, \"x\""
    );
    assert_eq!(&mallory[column("admin")], "true");
    assert_eq!(&mallory[column("findings")], "unmanaged-admin");
    assert_eq!(&mallory[column("store")], "aws-auth");
    let ops = records
        .iter()
        .find(|r| r[column("principal")].ends_with("role/ops"))
        .unwrap();
    assert_eq!(
        &ops[column("accessPolicies")],
        "AmazonEKSClusterAdminPolicy"
    );
    assert_eq!(&ops[column("cluster")], "dev");
    assert_eq!(&ops[column("authenticationMode")], "API");
    assert!(
        text.contains("\"<script>alert(1)</script>, \"\"x\"\"\""),
        "RFC 4180 quoting: {text}"
    );
    assert!(text.contains("\r\n"));
}

#[test]
fn csv_keeps_a_row_for_a_cluster_without_principals() {
    let ownership = OwnershipRules::default();
    let inventory = Inventory::default();
    let broken = review_cluster(&ClusterRead {
        name: "gone",
        region: "eu-west-1",
        account: "",
        mode: None,
        aws_auth: StoreRead::NotRead,
        entries: StoreRead::NotRead,
        desired: None,
        drift: &[],
        refusals: &[],
        error: Some("EKS DescribeCluster: no such cluster"),
        ownership: &ownership,
        inventory: &inventory,
    });
    let report = ReviewReport::new(vec![broken], jiff::Timestamp::UNIX_EPOCH);
    let text = report.render(Format::Csv).unwrap();
    let mut rows = ::csv::Reader::from_reader(text.as_bytes());
    let records: Vec<_> = rows.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 1);
    assert_eq!(&records[0][0], "gone");
    assert_eq!(records[0].iter().next_back(), Some("unreadable"));
}

#[test]
fn html_is_self_contained_and_escapes_everything() {
    let html = report().render(Format::Html).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script"), "a value was not escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    for remote in ["src=", "href=\"http", "@import", "url("] {
        assert!(!html.contains(remote), "{remote} fetches from the network");
    }
    assert!(
        html.contains("Principal x cluster"),
        "two clusters: the matrix"
    );
    assert!(html.contains("unmanaged-admin"));
    // Admins first in each cluster's table.
    let prod = &html[html.find("id=\"cluster-prod\"").unwrap()..];
    let mallory = prod.find("user/mallory").unwrap();
    let deploy = prod.find("role/deploy").unwrap();
    assert!(mallory < deploy);
}

#[test]
fn one_cluster_has_no_matrix() {
    let mut report = report();
    report.clusters.truncate(1);
    assert!(
        !report
            .render(Format::Html)
            .unwrap()
            .contains("Principal x cluster")
    );
}

#[test]
fn the_table_reads_as_a_summary() {
    insta::assert_snapshot!(report().render(Format::Table).unwrap());
}
