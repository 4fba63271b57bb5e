//! IAM gather benchmark on the local stack: a full reconcile of one cluster that 20 IAM
//! groups map to, with every IAM request slowed down by a fixed latency, so that the wall
//! time shows whether the groups are read one after another (≈ groups × latency) or
//! concurrently (≈ the slowest reads).
//!
//! moto answers in about a millisecond and has no latency setting, so this bench puts a small
//! HTTP/1.1 forwarder between the SDK and moto: it listens on `BENCH_IAM_PROXY` (the address
//! `AWS_ENDPOINT_URL_IAM` must point at), waits `BENCH_IAM_LATENCY_MS` (default 50) before
//! forwarding each request to `AWS_ENDPOINT_URL`, and counts how many requests it holds at
//! the same time. EKS and Kubernetes calls go straight to eks-sim.
//!
//! Needs the stack and the IAM set-up of `scripts/bench-iam-concurrency.sh`; without them
//! it says so and exits.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use eks_iam_sync::app::reconciler_from_env;
use eks_iam_sync::handler::handle;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Timed full reconciles after the first one (which writes every entry).
const RUNS: usize = 9;

/// Requests seen by the forwarder, and the most it held at once.
#[derive(Debug, Default)]
struct Counters {
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    requests: AtomicUsize,
}

impl Counters {
    fn reset(&self) {
        self.most_in_flight.store(0, Ordering::SeqCst);
        self.requests.store(0, Ordering::SeqCst);
    }
}

/// One HTTP/1.1 message: the head (start line and headers, without the blank line) and body.
struct Message {
    head: Vec<String>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.iter().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }

    /// The message with `Connection: close` (requests) or none (responses) and an exact
    /// Content-Length (bodies are forwarded whole, never chunked).
    fn to_bytes(&self, connection_close: bool) -> Vec<u8> {
        let mut out = String::new();
        for (i, line) in self.head.iter().enumerate() {
            let name = line.split_once(':').map_or("", |(k, _)| k.trim());
            let framing = ["content-length", "transfer-encoding", "connection"]
                .iter()
                .any(|h| name.eq_ignore_ascii_case(h));
            if i == 0 || !framing {
                out.push_str(line);
                out.push_str("\r\n");
            }
        }
        if connection_close {
            out.push_str("Connection: close\r\n");
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// Reads one message; `None` at a clean end of the stream before it starts. Without a length
/// or chunked framing, a response body runs to the end of the stream.
async fn read_message<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    is_response: bool,
) -> std::io::Result<Option<Message>> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let mut message = Message {
        head,
        body: Vec::new(),
    };
    if let Some(length) = message.header("content-length") {
        let length: usize = length.parse().map_err(std::io::Error::other)?;
        message.body.resize(length, 0);
        reader.read_exact(&mut message.body).await?;
    } else if message
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).await?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(std::io::Error::other)?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).await?;
            if size == 0 {
                break; // (no trailers from moto or the SDK)
            }
            message.body.extend_from_slice(&chunk[..size]);
        }
    } else if is_response {
        reader.read_to_end(&mut message.body).await?;
    }
    Ok(Some(message))
}

/// Serves one client connection: each request waits `latency`, then goes to `upstream` on a
/// connection of its own; the client's connection stays open for its next request.
async fn forward(
    client: TcpStream,
    upstream: String,
    latency: Duration,
    counters: Arc<Counters>,
) -> std::io::Result<()> {
    let mut client = BufReader::new(client);
    while let Some(request) = read_message(&mut client, false).await? {
        let now = counters.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        counters.most_in_flight.fetch_max(now, Ordering::SeqCst);
        counters.requests.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(latency).await;
        let mut server = TcpStream::connect(&upstream).await?;
        server.write_all(&request.to_bytes(true)).await?;
        let response = read_message(&mut BufReader::new(server), true).await?;
        counters.in_flight.fetch_sub(1, Ordering::SeqCst);
        let response = response.ok_or_else(|| std::io::Error::other("no response upstream"))?;
        client
            .get_mut()
            .write_all(&response.to_bytes(false))
            .await?;
    }
    Ok(())
}

async fn proxy(listen: &str, upstream: String, latency: Duration) -> Arc<Counters> {
    let listener = TcpListener::bind(listen)
        .await
        .unwrap_or_else(|e| panic!("binding the latency forwarder on {listen}: {e}"));
    let counters = Arc::new(Counters::default());
    let shared = counters.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (upstream, counters) = (upstream.clone(), shared.clone());
            tokio::spawn(async move {
                if let Err(e) = forward(client, upstream, latency, counters).await {
                    eprintln!("latency forwarder: {e}");
                }
            });
        }
    });
    counters
}

async fn run(listen: String, upstream: String, latency: Duration) {
    let counters = proxy(&listen, upstream, latency).await;
    let env: HashMap<String, String> = std::env::vars().collect();
    let reconciler = reconciler_from_env(&env)
        .await
        .expect("configuration loads");
    let groups = reconciler.settings().groups.len();
    let payload = json!({"action": "reconcile", "dryRun": false});
    let first = handle(&reconciler, &payload)
        .await
        .expect("first reconcile");
    let outcome = |summary: &serde_json::Value| {
        summary["clusters"][0]["outcome"]
            .as_str()
            .unwrap_or("?")
            .to_owned()
    };
    println!(
        "first full reconcile: {} ({} IAM calls)",
        outcome(&first),
        first["iamCalls"]
    );
    let mut times = Vec::with_capacity(RUNS);
    let (mut calls, mut most) = (0, 0);
    for _ in 0..RUNS {
        counters.reset();
        let start = Instant::now();
        let summary = handle(&reconciler, &payload).await.expect("reconcile");
        times.push(start.elapsed());
        assert_eq!(outcome(&summary), "unchanged", "{summary}");
        calls = counters.requests.load(Ordering::SeqCst);
        most = most.max(counters.most_in_flight.load(Ordering::SeqCst));
    }
    times.sort();
    println!(
        "full reconcile, steady state ({groups} groups, {} ms per IAM request): median {:.1?}, min {:.1?}, max {:.1?} ({RUNS} runs); {calls} IAM requests per run, at most {most} in flight",
        latency.as_millis(),
        times[RUNS / 2],
        times[0],
        times[RUNS - 1],
    );
}

fn main() {
    let (Ok(listen), Ok(upstream)) = (
        std::env::var("BENCH_IAM_PROXY"),
        std::env::var("AWS_ENDPOINT_URL"),
    ) else {
        println!(
            "benches/iam_gather.rs needs the local stack: run scripts/bench-iam-concurrency.sh"
        );
        return;
    };
    let upstream = upstream
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let latency = Duration::from_millis(
        std::env::var("BENCH_IAM_LATENCY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(50),
    );
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tokio::runtime::Runtime::new()
        .expect("tokio runtime")
        .block_on(run(listen, upstream, latency));
}
