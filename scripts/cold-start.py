#!/usr/bin/env python3
"""Cold start of the Lambda binary under a tiny fake Lambda Runtime API.

Usage: cold-start.py BINARY [--ready-only] [--runs N]

Starts BINARY N times (default 20) as Lambda would (AWS_LAMBDA_RUNTIME_API and friends) and
measures, from exec:
  * the first `GET …/invocation/next` (the runtime is ready to serve), and
  * unless --ready-only, the first response to a scheduled event, which needs the stack's
    environment (scripts/bench.sh starts it; the function reconciles every configured cluster).
With --ready-only the process runs with a small configuration and offline AWS settings and is
killed as soon as it asks for its first event, so no stack or credentials are needed. Used by scripts/bench.sh and scripts/package-size.sh.
"""
import argparse
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("binary")
parser.add_argument("--ready-only", action="store_true")
parser.add_argument("--runs", type=int, default=20)
args = parser.parse_args()
marks = {}


class Api(http.server.BaseHTTPRequestHandler):
    def log_message(self, *_):
        pass

    def do_GET(self):
        if not self.path.endswith("/invocation/next"):
            self.send_error(404)
            return
        marks.setdefault("next", time.monotonic())
        if "response" in marks or args.ready_only:  # hold later polls until the process is stopped
            time.sleep(30)
            return
        body = json.dumps({"version": "0", "id": "bench", "detail-type": "Scheduled Event",
                           "source": "aws.events", "account": "123456789012",
                           "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
                           "resources": [], "detail": {}}).encode()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-1")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 300000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                         "arn:aws:lambda:us-east-1:123456789012:function:eks-iam-sync")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except BrokenPipeError:  # the runtime gave up this poll and opened another
            pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        marks["response" if self.path.endswith("/response") else "error"] = time.monotonic()
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()
env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_port}",
           AWS_LAMBDA_FUNCTION_NAME="eks-iam-sync", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128",
           AWS_LAMBDA_FUNCTION_VERSION="$LATEST", AWS_LAMBDA_LOG_STREAM_NAME="bench",
           AWS_LAMBDA_LOG_GROUP_NAME="bench", RUST_LOG="warn")
if args.ready_only:  # a valid configuration and an offline AWS setup: nothing is called
    env.update(EKS_IAM_SYNC_CONFIG='{"clusters": [{"name": "bench", "region": "us-east-1"}], '
               '"groups": [{"iamGroup": "g", "kubernetesGroups": ["viewers"]}]}',
               AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="AKIDOFFLINEEXAMPLE",
               AWS_SECRET_ACCESS_KEY="offline", AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
done_mark = "next" if args.ready_only else "response"
ready, first = [], []
for _ in range(args.runs):
    marks.clear()
    start = time.monotonic()
    proc = subprocess.Popen([args.binary], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = start + 60
    while done_mark not in marks and "error" not in marks and time.monotonic() < deadline:
        time.sleep(0.001)
    proc.kill()
    proc.wait()
    if "next" not in marks:
        sys.exit("the function never asked the Runtime API for an event")
    ready.append((marks["next"] - start) * 1000)
    if not args.ready_only:
        if "response" not in marks:
            sys.exit("the function did not answer its first invocation")
        first.append((marks["response"] - start) * 1000)


def quantile(xs, p):
    return sorted(xs)[int(len(xs) * p)]


n = args.runs
print(f"exec → first GET /invocation/next (ready to serve): median {statistics.median(ready):.1f} ms, "
      f"p90 {quantile(ready, 0.9):.1f} ms ({n} runs)")
if first:
    print(f"exec → first response (a scheduled event, every bench cluster, cold caches): "
          f"median {statistics.median(first):.1f} ms, p90 {quantile(first, 0.9):.1f} ms")
