//! Shared helpers for the token tests: a moto server (STS stand-in) on a free local port,
//! a hand-set clock, and the fixed static credentials. Nothing here reaches the network
//! beyond 127.0.0.1.

#![allow(dead_code)] // each test binary uses a different subset

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use eks_iam_sync::token_source::Clock;

pub const AKID: &str = "AKIDTOKENTEST0000001";
pub const SECRET: &str = "tokenTestSecretKey/DoNotLog+0123456789abcd";
pub const SESSION: &str = "tokenTestSessionToken//DoNotLog+IQoJb3JpZ2luX2VjEXAMPLE==";

/// A clock the test moves by hand.
#[derive(Debug)]
pub struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    pub fn at(rfc3339: &str) -> ManualClock {
        ManualClock(Mutex::new(SystemTime::from(
            rfc3339.parse::<jiff::Timestamp>().unwrap(),
        )))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }

    pub fn rewind(&self, by: Duration) {
        *self.0.lock().unwrap() -= by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
}

/// The full name of test `name` of the calling module, as the test binary's `--exact` filter
/// takes it (`aws_eks::moto_child_routes_eks`): a test that re-runs the binary for one child.
#[track_caller]
pub fn child_test_in(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_, path)) => format!("{path}::{name}"),
        None => name.to_owned(),
    }
}

/// `moto_server`, found once per test process (several tests may start moto at once; the
/// venv is made at most once).
fn moto_bin() -> PathBuf {
    static MOTO: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    MOTO.get_or_init(find_moto_bin).clone()
}

/// The directory holding `moto_server`: on PATH (scripts/test.sh puts the venv there), or
/// the project venv made by scripts/python-env.sh.
fn find_moto_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("moto_server").is_file() {
                return dir.join("moto_server");
            }
        }
    }
    let out = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/python-env.sh"
    ))
    .stderr(Stdio::inherit())
    .output()
    .expect("scripts/python-env.sh runs");
    assert!(out.status.success(), "scripts/python-env.sh failed");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()).join("moto_server")
}

/// A moto server on 127.0.0.1, stopped on drop.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    pub endpoint: String,
    port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(moto_bin())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
        }
    }

    /// The ARN moto reports for the caller owning `access_key_id` (moto identifies callers
    /// by the access key in the Authorization header and does not check signatures).
    pub fn caller_arn(&self, access_key_id: &str) -> String {
        use std::io::{Read, Write};
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "GET /?Action=GetCallerIdentity&Version=2011-06-15 HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential={access_key_id}/20260101/us-east-1/sts/aws4_request, \
             SignedHeaders=host, Signature=0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let arn = response
            .split_once("<Arn>")
            .and_then(|(_, rest)| rest.split_once("</Arn>"))
            .unwrap_or_else(|| panic!("no Arn in moto's answer: {response}"));
        arn.0.to_owned()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The query parameters of a presigned URL, decoded.
pub fn query(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').unwrap().1;
    query
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            let v = percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .unwrap();
            (k.to_owned(), v.into_owned())
        })
        .collect()
}

pub fn param(url: &str, name: &str) -> Option<String> {
    query(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}
