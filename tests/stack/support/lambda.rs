//! One warm `eks-iam-sync` Lambda process behind a minimal Lambda Runtime API (the
//! `2018-06-01` paths the runtime client uses: `invocation/next`, `…/response`, `…/error`),
//! so a test can send it several events in turn, as Lambda does to a warm instance.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::TestCluster;

/// How long one invocation may take before the test gives up.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(180);

/// The running process and the Runtime API's two queues.
pub struct WarmLambda {
    child: Child,
    events: Sender<(String, Value)>,
    responses: Receiver<Value>,
    invocations: usize,
}

impl TestCluster {
    /// Starts the binary as Lambda would (`AWS_LAMBDA_RUNTIME_API` and friends), with this
    /// cluster's configuration and the stack's environment.
    pub fn warm_lambda(&self) -> WarmLambda {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (events, pending) = channel::<(String, Value)>();
        let (answered, responses) = channel::<Value>();
        let pending = Arc::new(Mutex::new(pending));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (pending, answered) = (pending.clone(), answered.clone());
                std::thread::spawn(move || serve(stream, &pending, &answered));
            }
        });
        let child = self
            .stack
            .command(env!("CARGO_BIN_EXE_eks-iam-sync"))
            .env("AWS_LAMBDA_RUNTIME_API", address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "eks-iam-sync")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "test")
            .env("EKS_IAM_SYNC_CONFIG", &self.config)
            .envs(&self.extra_env)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        WarmLambda {
            child,
            events,
            responses,
            invocations: 0,
        }
    }
}

impl WarmLambda {
    /// One invocation of the warm process: its response (`{"error": …}` when it reported an
    /// error instead).
    pub fn invoke(&mut self, event: &Value) -> Value {
        self.invocations += 1;
        let id = format!("test-{}", self.invocations);
        self.events.send((id, event.clone())).unwrap();
        self.responses
            .recv_timeout(INVOCATION_TIMEOUT)
            .expect("the warm Lambda answers")
    }
}

impl Drop for WarmLambda {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One keep-alive connection of the runtime client: `next` waits for an event, a response or
/// an error is handed to the test.
fn serve(stream: TcpStream, pending: &Mutex<Receiver<(String, Value)>>, answered: &Sender<Value>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = request.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let reply = if method == "GET" && path.ends_with("/invocation/next") {
            let Ok((id, event)) = pending.lock().unwrap().recv() else {
                return;
            };
            let event = event.to_string();
            format!(
                "HTTP/1.1 200 OK\r\nlambda-runtime-aws-request-id: {id}\r\nlambda-runtime-deadline-ms: {}\r\nlambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:eks-iam-sync\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{event}",
                deadline_ms(),
                event.len()
            )
        } else {
            let text = String::from_utf8_lossy(&body).into_owned();
            let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            if path.ends_with("/response") {
                let _ = answered.send(value);
            } else if path.ends_with("/error") {
                let _ = answered.send(json!({ "error": value }));
            }
            "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n".to_owned()
        };
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// Five minutes from now, in Unix milliseconds.
fn deadline_ms() -> u128 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    (now + Duration::from_secs(300)).as_millis()
}
