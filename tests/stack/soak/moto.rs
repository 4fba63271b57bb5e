//! IAM query API calls straight to moto, for the thousands of IAM changes of a soak.

use crate::support::Stack;

/// An IAM query API call straight to moto (awscli starts Python for every call: too slow for
/// thousands of changes). moto routes by the credential scope and does not check signatures.
pub(super) fn iam(stack: &Stack, action: &str, params: &[(&str, &str)]) -> (u16, String) {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-s", "-w", "\n%{http_code}", "-X", "POST"])
        .arg(format!("{}/", stack.var("AWS_ENDPOINT_URL")))
        .args([
            "-H",
            "authorization: AWS4-HMAC-SHA256 Credential=AKIASOAK/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        ])
        .args(["--data-urlencode", &format!("Action={action}")])
        .args(["--data-urlencode", "Version=2010-05-08"]);
    for (k, v) in params {
        cmd.args(["--data-urlencode", &format!("{k}={v}")]);
    }
    let out = cmd.output().expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

pub(super) fn iam_ok(stack: &Stack, action: &str, params: &[(&str, &str)]) {
    let (code, body) = iam(stack, action, params);
    assert_eq!(code, 200, "IAM {action} {params:?}: {body}");
}
