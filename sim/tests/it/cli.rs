//! The `eks-sim` binary itself: `--help` documents the flags and the admin API, bad flags
//! fail at start with exit code 2 and a reason, and a started process prints its ready
//! line and serves until terminated.

use std::io::BufRead as _;
use std::process::{Command, Stdio};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_eks-sim")
}

#[test]
fn help_documents_flags_and_the_admin_api() {
    let out = Command::new(bin()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--cluster",
        "--cluster-creator",
        "--credential",
        "--credentials-file",
        "--fault",
        "--ready-file",
        "--ca-out",
        "--listen",
        "/_sim/faults",
        "/_sim/counters",
        "/_sim/credentials",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
}

#[test]
fn bad_flags_fail_with_a_clear_reason() {
    for (args, reason) in [
        (&["--listen", "0.0.0.0:0"][..], "loopback only"),
        (&["--cluster", "demo:SOMETIMES"], "MODE CONFIG_MAP"),
        (
            &["--credential", "AKIA:only-two"],
            "ACCESS_KEY_ID:SECRET_ACCESS_KEY:PRINCIPAL_ARN",
        ),
        (
            &["--fault", "kube:get:418"],
            "ACTION 400|409|429|500|503|drop|none",
        ),
        (
            &["--credentials-file", "/nonexistent/creds.json"],
            "cannot read",
        ),
    ] {
        let out = Command::new(bin()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(reason), "{args:?}: {err}");
    }
}

#[test]
fn a_started_binary_prints_its_endpoints_and_serves() {
    let mut child = Command::new(bin())
        .args([
            "--cluster",
            "demo",
            "--credential",
            "AKIA1:s:arn:aws:iam::123456789012:user/a",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).expect("ready line is JSON");
    let eks = ready["eks_endpoint"].as_str().unwrap();
    assert!(eks.starts_with("http://127.0.0.1:"));
    assert!(
        ready["clusters"]["demo"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    let addr = eks.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    use std::io::{Read as _, Write as _};
    write!(
        s,
        "GET /_sim/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    child.kill().unwrap();
    child.wait().unwrap();
}
