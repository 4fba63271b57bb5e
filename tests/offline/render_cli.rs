//! `eks-iam-sync render` through the real binary: the contract's exit codes, stdout and
//! stderr for success, no-op, every guard and malformed input.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use tempfile::TempDir;

const CURRENT: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: aws-auth
  namespace: kube-system
  resourceVersion: "1234"
data:
  mapRoles: |
    # Node group role: managed by eksctl, not by us.
    - rolearn: arn:aws:iam::111122223333:role/eks-node
      username: system:node:{{EC2PrivateDNSName}}
      groups:
        - system:bootstrappers
        - system:nodes
    - rolearn: arn:aws:iam::111122223333:role/break-glass
      username: break-glass
      groups: [system:masters]
"#;

const DESIRED: &str = r#"mapRoles:
  - rolearn: arn:aws:iam::111122223333:role/ci/deployer
    username: deployer
    groups: [deployers]
mapUsers:
  - userarn: arn:aws:iam::111122223333:user/alice
    username: alice
    groups: [system:masters]
mapAccounts: ["012345678901"]
"#;

struct Files(TempDir);

impl Files {
    fn new() -> Self {
        Files(tempfile::tempdir().unwrap())
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

fn render(current: &Path, desired: &Path) -> Command {
    let mut cmd = Command::cargo_bin("eks-iam-sync").unwrap();
    cmd.arg("render")
        .arg("--current")
        .arg(current)
        .arg("--desired")
        .arg(desired);
    cmd
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.assert().success().get_output().stdout.clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn renders_a_replaceable_manifest_and_a_plan() {
    let f = Files::new();
    let out = render(&f.write("cur.yaml", CURRENT), &f.write("des.yaml", DESIRED))
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "+ mapRoles arn:aws:iam::111122223333:role/deployer",
        ))
        .stderr(predicate::str::contains(
            "+ mapUsers arn:aws:iam::111122223333:user/alice",
        ))
        .stderr(predicate::str::contains(
            "written as arn:aws:iam::111122223333:role/deployer",
        ))
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("resourceVersion: \"1234\""),
        "kept for kubectl replace:\n{out}"
    );
    assert!(out.contains("kind: ConfigMap"));
    assert!(out.contains("    # Node group role: managed by eksctl, not by us.\n    - rolearn: arn:aws:iam::111122223333:role/eks-node\n"));
    assert!(out.contains("eks-iam-sync/managed"));
}

#[test]
fn rendering_its_own_output_changes_nothing() {
    let f = Files::new();
    let desired = f.write("des.yaml", DESIRED);
    let first = stdout_of(&mut render(&f.write("cur.yaml", CURRENT), &desired));
    let again = render(&f.write("out.yaml", &first), &desired)
        .assert()
        .success()
        .stderr(predicate::str::contains("No changes"))
        .get_output()
        .stdout
        .clone();
    assert_eq!(String::from_utf8(again).unwrap(), first);
}

#[test]
fn reads_json_from_stdin_and_none_yet_from_an_empty_file() {
    let f = Files::new();
    let json = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"aws-auth","namespace":"kube-system"},"data":{"mapUsers":"[]"}}"#;
    let mut cmd = Command::cargo_bin("eks-iam-sync").unwrap();
    cmd.args(["render", "--current", "-", "--desired"])
        .arg(f.write("d.yaml", DESIRED))
        .write_stdin(json);
    assert!(stdout_of(&mut cmd).contains("userarn: arn:aws:iam::111122223333:user/alice"));

    let created = render(&f.write("empty.yaml", ""), &f.write("d.yaml", DESIRED))
        .assert()
        .success()
        .stderr(predicate::str::contains("would be created"))
        .get_output()
        .stdout
        .clone();
    let created = String::from_utf8(created).unwrap();
    assert!(created.contains("name: aws-auth") && created.contains("namespace: kube-system"));
}

#[test]
fn a_guard_refusal_exits_1_with_nothing_on_stdout() {
    let f = Files::new();
    let current = f.write("cur.yaml", CURRENT);
    let managed = stdout_of(&mut render(&current, &f.write("d.yaml", "mapUsers:\n  - userarn: arn:aws:iam::111122223333:user/alice\n    username: alice\n    groups: [system:masters]\n")));
    // Removing the node role cannot happen (unmanaged); removing our only masters user while
    // the unmanaged break-glass role keeps masters is fine; protect alice and it is not.
    render(&f.write("m.yaml", &managed), &f.write("none.yaml", ""))
        .arg("--protect")
        .arg("arn:aws:iam::111122223333:user/alice")
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(
            "refused by guard `protected-principal`",
        ));
}

#[test]
fn a_masters_role_written_with_its_path_does_not_count_as_an_admin() {
    // EKS compares the caller's path-less role ARN, so `role/team/Admin` never matches: the
    // managed admin alice is the last admin EKS would authorize, and removing her is refused.
    let f = Files::new();
    let current = f.write(
        "cur.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aws-auth\n  namespace: kube-system\ndata:\n  mapRoles: |\n    - rolearn: arn:aws:iam::111122223333:role/team/Admin\n      username: admin\n      groups: [system:masters]\n  mapUsers: |\n    - userarn: arn:aws:iam::111122223333:user/alice\n      username: alice\n      groups: [system:masters]\n      managedBy: eks-iam-sync\n",
    );
    render(&current, &f.write("none.yaml", ""))
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(
            "refused by guard `last-cluster-admin`",
        ))
        .stderr(predicate::str::contains("user/alice"));
}

#[test]
fn each_guard_is_reported_by_name() {
    let f = Files::new();
    let managed = |names: &[&str], groups: &str| -> String {
        let roles: String = names
            .iter()
            .map(|n| format!("    - rolearn: arn:aws:iam::111122223333:role/{n}\n      username: {n}\n      groups: {groups}\n      managedBy: eks-iam-sync\n"))
            .collect();
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aws-auth\n  namespace: kube-system\ndata:\n  mapRoles: |\n{roles}"
        )
    };
    let none = f.write("none.yaml", "");
    let cases = [
        (managed(&["admin"], "[system:masters]"), "last-cluster-admin"),
        (managed(&["node"], "[system:bootstrappers, system:nodes]"), "node-role"),
        (managed(&["a", "b", "c", "d"], "[viewers]"), "mass-removal"),
        (
            "kind: ConfigMap\ndata:\n  mapRoles: |\n    - rolearn: x\n      username: {{SessionName}}\n".to_owned(),
            "unparsable-content",
        ),
    ];
    for (i, (current, guard)) in cases.iter().enumerate() {
        render(&f.write(&format!("c{i}.yaml"), current), &none)
            .assert()
            .code(1)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains(format!(
                "refused by guard `{guard}`"
            )));
    }
    // The override lifts the mass-removal guard, and only it.
    let mass = f.write("mass.yaml", &managed(&["a", "b", "c", "d"], "[viewers]"));
    render(&mass, &none)
        .arg("--allow-mass-removal")
        .assert()
        .success();
    let admins = f.write(
        "admins.yaml",
        &managed(&["a", "b", "c", "d"], "[system:masters]"),
    );
    render(&admins, &none)
        .arg("--allow-mass-removal")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("last-cluster-admin"));
}

#[test]
fn malformed_input_names_the_file_and_the_place() {
    let f = Files::new();
    let desired = f.write("d.yaml", DESIRED);
    let bad_yaml = f.write(
        "bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\ndata:\n  mapRoles: [unclosed\n",
    );
    render(&bad_yaml, &desired)
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(
            predicate::str::contains("bad.yaml: not valid YAML")
                .and(predicate::str::contains("line")),
        );

    let bad_section = f.write(
        "sec.yaml",
        "kind: ConfigMap\ndata:\n  mapUsers: |\n    - userarn: a\n      groups: [x\n",
    );
    render(&bad_section, &desired)
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(
            "data.mapUsers does not parse (line",
        ));

    let current = f.write("cur.yaml", CURRENT);
    let cases = [
        (
            "mapRoles:\n  - rolearn: arn:aws:iam::111122223333:user/not-a-role\n    username: x\n",
            "mapRoles[0]",
        ),
        (
            "mapUsers:\n  - userarn: arn:aws:iam::111122223333:user/x\n",
            "username",
        ),
        ("mapAccounts: [\"12345\"]\n", "mapAccounts[0]"),
        ("mapRole: []\n", "mapRole"),
        ("mapRoles: [\n", "line"),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let name = format!("bad-desired-{i}.yaml");
        render(&current, &f.write(&name, text))
            .assert()
            .code(1)
            .stdout(predicate::str::is_empty())
            .stderr(
                predicate::str::contains(name.as_str()).and(predicate::str::contains(*expected)),
            );
    }
    render(&f.0.path().join("missing.yaml"), &desired)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("missing.yaml"));
}

#[test]
fn non_string_data_in_the_manifest_is_rejected() {
    let f = Files::new();
    render(
        &f.write("c.yaml", "kind: ConfigMap\ndata:\n  mapAccounts: 5\n"),
        &f.write("d.yaml", DESIRED),
    )
    .assert()
    .code(1)
    .stderr(predicate::str::contains(
        "c.yaml: data.mapAccounts must be a string",
    ));
}
