//! `eks-iam-sync review` end to end (issue 22): three clusters, one per authentication mode,
//! with managed grants and everything an access review must find: a hand-written mapping
//! of a deleted user, a path-role `system:masters` mapping EKS never matches, a hand-made
//! ClusterAdmin access entry, an access entry for a role deleted and recreated since, an
//! aws-auth mapping an access entry shadows, and IAM drift. The JSON and CSV reports are
//! read field by field, the simulator's counters show that the review wrote nothing, and
//! the HTML report is opened in a real headless Chromium.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{Stack, TestCluster, private_stack};

use crate::access_entries::{ACCOUNT, TRUST, associate, role_arn};

const CLUSTER_ADMIN: &str = "AmazonEKSClusterAdminPolicy";
const VIEW: &str = "AmazonEKSViewPolicy";

fn user_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{name}")
}

fn create_role(on: &Stack, name: &str, path: &str) {
    on.aws(&[
        "iam",
        "create-role",
        "--role-name",
        name,
        "--path",
        path,
        "--assume-role-policy-document",
        TRUST,
    ]);
}

/// A hand-made access entry for `principal`, with `policy` at cluster scope.
fn hand_made_entry(t: &TestCluster, principal: &str, policy: &str) {
    let on = t.on();
    on.aws(&[
        "eks",
        "create-access-entry",
        "--cluster-name",
        &t.name,
        "--principal-arn",
        principal,
    ]);
    associate(t, principal, policy, "type=cluster");
}

/// The three clusters and their history, ready to be reviewed.
struct Fleet {
    on: &'static Stack,
    cm: TestCluster,
    api: TestCluster,
    both: TestCluster,
    dir: tempfile::TempDir,
}

impl Fleet {
    fn review(&self, args: &[&str]) -> crate::support::Run {
        let mut all = vec!["review"];
        all.extend_from_slice(args);
        self.cm.sync(&all)
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

fn fleet() -> Fleet {
    // A private stack: the simulator's EKS counters are not per cluster.
    let on = std::panic::catch_unwind(|| private_stack("rv"))
        .unwrap_or_else(|_| private_stack("rv-retry"));
    let cm = TestCluster::with_mode_on(on, "rv-cm", "CONFIG_MAP");
    let api = TestCluster::with_mode_on(on, "rv-api", "API");
    let both = TestCluster::with_mode_on(on, "rv-both", "API_AND_CONFIG_MAP");
    for group in ["rv-admins", "rv-devs"] {
        on.aws(&["iam", "create-group", "--group-name", group]);
    }
    on.add_member("rv-admins", "rv-alice");
    on.add_member("rv-devs", "rv-bob");
    on.add_member("rv-devs", "rv-carol");
    on.aws(&["iam", "create-user", "--user-name", "rv-ghost"]);
    create_role(on, "rv-ops-admin", "/team/");
    for role in ["rv-breakglass", "rv-shadow", "rv-rebuilt"] {
        create_role(on, role, "/");
    }

    // Hand-written aws-auth entries, there before eks-iam-sync first runs.
    cm.create_aws_auth(&[
        (
            "mapUsers",
            &format!(
                "- userarn: {}\n  username: ghost\n  groups:\n    - viewers\n",
                user_arn("rv-ghost")
            ),
        ),
        (
            "mapRoles",
            &format!(
                "- rolearn: arn:aws:iam::{ACCOUNT}:role/team/rv-ops-admin\n  username: ops-admin\n  groups:\n    - system:masters\n"
            ),
        ),
    ]);
    both.create_aws_auth(&[(
        "mapRoles",
        &format!(
            "- rolearn: {}\n  username: shadow\n  groups:\n    - viewers\n",
            role_arn("rv-shadow")
        ),
    )]);
    hand_made_entry(&api, &role_arn("rv-breakglass"), CLUSTER_ADMIN);
    hand_made_entry(&api, &role_arn("rv-rebuilt"), VIEW);
    hand_made_entry(&both, &role_arn("rv-shadow"), VIEW);

    let config = format!(
        "clusters:\n{}groups:\n  - iamGroup: rv-admins\n    kubernetesGroups: [system:masters]\n  - iamGroup: rv-devs\n    kubernetesGroups: [developers]\n",
        [&cm, &api, &both]
            .iter()
            .map(|t| format!(
                "  - name: {}\n    region: us-east-1\n    backend: auto\n",
                t.name
            ))
            .collect::<String>()
    );
    cm.configure_all(&config);
    let applied = cm.sync(&["apply"]);
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);

    // Since then: ghost left the company, rebuilt was deleted and recreated (its entry is
    // older than the role now), carol left devs and dave joined.
    on.aws(&["iam", "delete-user", "--user-name", "rv-ghost"]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    on.aws(&["iam", "delete-role", "--role-name", "rv-rebuilt"]);
    create_role(on, "rv-rebuilt", "/");
    on.aws(&[
        "iam",
        "remove-user-from-group",
        "--group-name",
        "rv-devs",
        "--user-name",
        "rv-carol",
    ]);
    on.add_member("rv-devs", "rv-dave");
    on.admin("DELETE", "/counters", None);
    Fleet {
        on,
        cm,
        api,
        both,
        dir: tempfile::tempdir().unwrap(),
    }
}

/// The principal objects of `cluster` for `arn` in `store`.
fn principal<'a>(cluster: &'a Value, arn: &str, store: &str) -> &'a Value {
    cluster["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["arn"] == arn && p["store"] == store)
        .unwrap_or_else(|| panic!("{arn} in {store} not in {cluster:#}"))
}

fn findings<'a>(cluster: &'a Value, kind: &str) -> Vec<&'a str> {
    cluster["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == kind)
        .map(|f| f["principal"].as_str().unwrap())
        .collect()
}

#[test]
fn review_reports_every_principal_and_finding_across_modes_and_writes_nothing() {
    let f = fleet();
    let json_file = f.file("review.json");
    let run = f.review(&["--format", "json", "--output", &json_file]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_file).unwrap()).unwrap();
    assert!(report["generatedAt"].as_str().unwrap().ends_with('Z'));
    assert!(report["version"].is_string());
    let clusters = report["clusters"].as_array().unwrap();
    let names: Vec<&str> = clusters
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [&f.cm.name, &f.api.name, &f.both.name]);
    let (cm, api, both) = (&clusters[0], &clusters[1], &clusters[2]);
    for (c, mode) in [
        (cm, "CONFIG_MAP"),
        (api, "API"),
        (both, "API_AND_CONFIG_MAP"),
    ] {
        assert_eq!(c["authenticationMode"], mode);
        assert_eq!(c["region"], "us-east-1");
        assert_eq!(c["account"], ACCOUNT);
    }

    // CONFIG_MAP: the managed admin with why, the hand-written mappings with what is wrong.
    let alice = principal(cm, &user_arn("rv-alice"), "aws-auth");
    assert_eq!(alice["kind"], "user");
    assert_eq!(alice["username"], "rv-alice");
    assert_eq!(alice["groups"], serde_json::json!(["system:masters"]));
    assert_eq!(alice["effective"], true);
    assert_eq!(alice["managed"], true);
    assert_eq!(alice["admin"], true);
    assert_eq!(alice["because"], "member of IAM group rv-admins");
    assert_eq!(alice["findings"], serde_json::json!([]));
    let ghost = principal(cm, &user_arn("rv-ghost"), "aws-auth");
    assert_eq!(ghost["managed"], false);
    assert_eq!(ghost["because"], "");
    assert_eq!(ghost["findings"], serde_json::json!(["stale-principal"]));
    let path_role = format!("arn:aws:iam::{ACCOUNT}:role/team/rv-ops-admin");
    let ops = principal(cm, &path_role, "aws-auth");
    assert_eq!(ops["kind"], "role");
    assert_eq!(ops["effective"], false);
    assert_eq!(ops["admin"], false, "EKS never matches it: no admin");
    assert_eq!(ops["findings"], serde_json::json!(["never-matched"]));
    assert_eq!(findings(cm, "never-matched"), [path_role.as_str()]);
    assert_eq!(findings(cm, "stale-principal"), [user_arn("rv-ghost")]);
    // IAM drift: carol goes, dave comes.
    let mut drift = findings(cm, "drift");
    drift.sort();
    assert_eq!(drift, [user_arn("rv-carol"), user_arn("rv-dave")]);
    assert!(findings(cm, "unmanaged-admin").is_empty(), "{cm:#}");

    // API: access entries only; the hand-made ClusterAdmin and the creator's bootstrap entry
    // are unmanaged admins; the recreated role's entry is stale.
    assert!(
        api["principals"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["store"] == "access-entries")
    );
    let breakglass = principal(api, &role_arn("rv-breakglass"), "access-entries");
    assert_eq!(breakglass["admin"], true);
    assert_eq!(breakglass["managed"], false);
    assert_eq!(
        breakglass["accessPolicies"],
        serde_json::json!([{"policy": "AmazonEKSClusterAdminPolicy", "namespaces": []}])
    );
    assert_eq!(
        breakglass["findings"],
        serde_json::json!(["unmanaged-admin"])
    );
    let unmanaged_admins = findings(api, "unmanaged-admin");
    assert!(
        unmanaged_admins.contains(&role_arn("rv-breakglass").as_str()),
        "{api:#}"
    );
    assert_eq!(
        unmanaged_admins.len(),
        2,
        "breakglass and the creator's bootstrap entry: {api:#}"
    );
    let alice = principal(api, &user_arn("rv-alice"), "access-entries");
    assert_eq!(
        (alice["managed"].clone(), alice["admin"].clone()),
        (true.into(), true.into())
    );
    assert_eq!(alice["because"], "member of IAM group rv-admins");
    let bob = principal(api, &user_arn("rv-bob"), "access-entries");
    assert_eq!(bob["groups"], serde_json::json!(["developers"]));
    assert_eq!(bob["admin"], false);
    assert_eq!(bob["because"], "member of IAM group rv-devs");
    assert_eq!(findings(api, "stale-principal"), [role_arn("rv-rebuilt")]);
    let mut drift = findings(api, "drift");
    drift.sort();
    assert_eq!(drift, [user_arn("rv-carol"), user_arn("rv-dave")]);

    // API_AND_CONFIG_MAP: the hand-written mapping is outranked by the hand-made entry.
    let mapping = principal(both, &role_arn("rv-shadow"), "aws-auth");
    assert_eq!(mapping["effective"], false);
    assert_eq!(mapping["findings"], serde_json::json!(["shadowed"]));
    let entry = principal(both, &role_arn("rv-shadow"), "access-entries");
    assert_eq!(entry["effective"], true);
    assert_eq!(findings(both, "shadowed"), [role_arn("rv-shadow")]);
    assert!(findings(both, "unreadable").is_empty());

    // Read-only: not one write of any kind reached EKS or Kubernetes.
    let counters = f.on.admin("GET", "/counters", None);
    for (operation, _) in counters["eks"].as_object().unwrap() {
        assert!(
            [
                "DescribeCluster",
                "ListAccessEntries",
                "DescribeAccessEntry",
                "ListAssociatedAccessPolicies"
            ]
            .contains(&operation.as_str()),
            "review called {operation}: {counters}"
        );
    }
    for t in [&f.cm, &f.api, &f.both] {
        for (verb, _) in counters["kube"][&t.name].as_object().into_iter().flatten() {
            assert_eq!(verb, "get", "{}: {counters}", t.name);
        }
    }

    // CSV: one row per (cluster, principal, store), the same facts.
    let csv_file = f.file("review.csv");
    let run = f.review(&["--format", "csv", "--output", &csv_file]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut reader = csv::Reader::from_path(&csv_file).unwrap();
    let headers = reader.headers().unwrap().clone();
    for column in [
        "cluster",
        "account",
        "authenticationMode",
        "principal",
        "kind",
        "username",
        "groups",
        "accessPolicies",
        "store",
        "effective",
        "managed",
        "admin",
        "because",
        "findings",
    ] {
        assert!(
            headers.iter().any(|h| h == column),
            "{column} missing: {headers:?}"
        );
    }
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let principals: usize = clusters
        .iter()
        .map(|c| c["principals"].as_array().unwrap().len())
        .sum();
    assert_eq!(rows.len(), principals);
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let row = |cluster: &str, arn: &str, store: &str| {
        rows.iter()
            .find(|r| {
                &r[col("cluster")] == cluster
                    && &r[col("principal")] == arn
                    && &r[col("store")] == store
            })
            .unwrap_or_else(|| panic!("no row for {arn} in {cluster} {store}"))
    };
    let breakglass = row(&f.api.name, &role_arn("rv-breakglass"), "access-entries");
    assert_eq!(&breakglass[col("admin")], "true");
    assert_eq!(&breakglass[col("managed")], "false");
    assert_eq!(
        &breakglass[col("accessPolicies")],
        "AmazonEKSClusterAdminPolicy"
    );
    assert_eq!(&breakglass[col("findings")], "unmanaged-admin");
    assert_eq!(&breakglass[col("authenticationMode")], "API");
    assert_eq!(&breakglass[col("account")], ACCOUNT);
    let ghost = row(&f.cm.name, &user_arn("rv-ghost"), "aws-auth");
    assert_eq!(&ghost[col("findings")], "stale-principal");
    assert_eq!(&ghost[col("kind")], "user");
    assert_eq!(&ghost[col("groups")], "viewers");
    let alice = row(&f.cm.name, &user_arn("rv-alice"), "aws-auth");
    assert_eq!(&alice[col("because")], "member of IAM group rv-admins");
    assert_eq!(&alice[col("effective")], "true");

    // --fail-on-findings: the same report, exit 2.
    let strict = f.review(&["--format", "json", "--fail-on-findings"]);
    assert_eq!(strict.code, 2, "{}", strict.stderr);
    assert!(strict.json()["clusters"].is_array());

    html_report_renders_in_a_real_browser(&f);
}

/// The HTML report of the same fleet, opened in headless Chromium: a screenshot that is not
/// blank (`EKS_IAM_SYNC_REVIEW_SCREENSHOT=FILE` keeps it, for the README).
fn html_report_renders_in_a_real_browser(f: &Fleet) {
    let html = f.file("review.html");
    let run = f.review(&["--format", "html", "--output", &html]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.contains("Principal x cluster") && text.contains(&f.both.name));
    let png = f.file("review.png");
    screenshot(&html, &png);
    let (distinct, non_white) = colours(Path::new(&png));
    assert!(distinct > 8, "a blank page: {distinct} colours");
    assert!(non_white > 0.02, "almost all white: {non_white}");
    // The unknown cluster is an error, naming it; nothing is written.
    let out = f.file("none.html");
    let unknown = f.review(&["--cluster", "nope", "--format", "html", "--output", &out]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown
            .stderr
            .contains("--cluster nope is not in the configuration"),
        "{}",
        unknown.stderr
    );
    assert!(!Path::new(&out).exists());
    if let Ok(keep) = std::env::var("EKS_IAM_SYNC_REVIEW_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }
}

/// Opens `html` in headless Chromium and saves a screenshot at `png`.
fn screenshot(html: &str, png: &str) {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("no Chromium on PATH: scripts/ensure-chromium.sh installs it");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1400,1000",
            &format!("--screenshot={png}"),
            &format!("file://{html}"),
        ])
        .output()
        .unwrap();
    assert!(
        Path::new(png).exists(),
        "chromium made no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Distinct colours, and the share of pixels that are not white.
fn colours(png: &Path) -> (usize, f64) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let step = info.color_type.samples();
    let mut seen = std::collections::BTreeSet::new();
    let mut non_white = 0usize;
    let total = bytes.len() / step;
    for px in bytes.chunks(step) {
        let rgb = (px[0], px[1], px[2]);
        seen.insert(rgb);
        if rgb != (255, 255, 255) {
            non_white += 1;
        }
    }
    (seen.len(), non_white as f64 / total as f64)
}
