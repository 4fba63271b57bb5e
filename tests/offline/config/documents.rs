//! The example documents (YAML, JSON, the README's), the builders, and the defaults they resolve.

use eks_iam_sync::config::{Format, RawConfig, from_text};
use eks_iam_sync::core::names::PrincipalKind;
use eks_iam_sync::core::settings::{Backend, DEFAULT_MAX_REMOVAL_FRACTION};

use super::{read_fixture, repo_file};

#[test]
fn example_yaml_resolves_every_default() {
    let s = from_text(&read_fixture("example.yaml"), "example.yaml", None).unwrap();
    assert_eq!(s.cluster_names(), ["prod", "staging"]);
    let prod = s.cluster("prod").unwrap();
    assert_eq!(
        (prod.backend, prod.assume_role_arn.is_none()),
        (Backend::Auto, true)
    );
    let staging = s.cluster("staging").unwrap();
    assert_eq!(staging.backend, Backend::AwsAuth);
    assert_eq!(
        staging.assume_role_arn.as_ref().unwrap().account_id(),
        "222233334444"
    );
    // Omitted `clusters` means every cluster; omitted prefix means "".
    assert_eq!(s.groups[0].clusters, ["prod", "staging"]);
    assert_eq!(s.groups[0].username_prefix, "");
    assert_eq!(s.groups[1].clusters, ["staging"]);
    assert_eq!(s.groups[1].username_prefix, "dev-");
    assert_eq!(s.users[0].arn.path(), "/ops/");
    assert_eq!(s.users[0].arn.kind(), PrincipalKind::User);
    assert_eq!(s.roles[0].username, "system:node:{{EC2PrivateDNSName}}");
    assert_eq!(s.sso_permission_sets[0].clusters, ["prod", "staging"]);
    assert_eq!(s.accounts, ["111122223333"]);
    assert_eq!(s.guards.max_removal_fraction, 0.25);
}

#[test]
fn json_and_yaml_fixtures_give_the_same_settings() {
    let from_yaml = from_text(&read_fixture("example.yaml"), "y", None).unwrap();
    let from_json = from_text(&read_fixture("example.json"), "j", None).unwrap();
    let forced_json = from_text(&read_fixture("example.json"), "j", Some(Format::Json)).unwrap();
    assert_eq!(from_yaml, from_json);
    assert_eq!(from_json, forced_json);
}

#[test]
fn the_readme_example_is_valid() {
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    let section = readme
        .split("\n## Configuration\n")
        .nth(1)
        .expect("README has a Configuration section");
    let example = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a yaml block");
    let s = from_text(example, "README.md", None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.cluster_names(), ["prod"]);
    assert_eq!(
        (
            s.groups.len(),
            s.users.len(),
            s.roles.len(),
            s.sso_permission_sets.len()
        ),
        (1, 1, 1, 1)
    );
}

#[test]
fn builders_give_the_same_settings_as_a_file() {
    let built = RawConfig::default()
        .cluster("prod", "us-east-1")
        .group("eks-admins", &["system:masters"])
        .settings()
        .unwrap();
    assert_eq!(
        built,
        from_text(&read_fixture("minimal.yaml"), "minimal.yaml", None).unwrap()
    );
    let err = RawConfig::default()
        .cluster("prod", "us-east-1")
        .user("arn:aws:iam::111122223333:role/x", "x", &[])
        .account("1")
        .settings()
        .unwrap_err();
    assert_eq!(err.problems().len(), 2, "{err}");
    let full = RawConfig::default()
        .cluster("prod", "eu-west-3")
        .user("arn:aws:iam::111122223333:user/a", "a", &["g"])
        .role("arn:aws:iam::111122223333:role/r", "r", &[])
        .sso_permission_set("Admin", "admin", &["system:masters"])
        .account("111122223333")
        .settings()
        .unwrap();
    assert_eq!(
        (
            full.users.len(),
            full.roles.len(),
            full.sso_permission_sets.len()
        ),
        (1, 1, 1)
    );
}

#[test]
fn guards_default_to_half() {
    let s = from_text(&read_fixture("minimal.yaml"), "minimal.yaml", None).unwrap();
    assert_eq!(s.guards.max_removal_fraction, DEFAULT_MAX_REMOVAL_FRACTION);
    assert_eq!(s.guards.max_removal_fraction, 0.5);
}
