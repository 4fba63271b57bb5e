#!/usr/bin/env python3
"""Fleet benchmark (issue 14, BENCHMARKS.md "Fleet"): a full reconcile of N simulated clusters
in place vs fanned out on an SQS FIFO queue (moto) and drained by W worker processes, the way
Lambda's SQS event source mapping drains it (receive up to BATCH messages, one invocation with
them as an SQS event, delete the records not named in batchItemFailures).

Run through scripts/bench-fleet.sh (it builds the release binaries and the Python venv):
    scripts/bench-fleet.sh 10 500            # fleet sizes; workers 1 2 4 8
    BENCH_WORKERS="1 2" scripts/bench-fleet.sh 10

Every measured run makes one change on every cluster (a user joins or leaves the group), so
each cluster costs DescribeCluster + GET + PUT, the same in both paths. Each invocation is a
fresh `eks-iam-sync invoke` process (a cold Lambda instance: SDK set-up and DescribeCluster
are not cached between invocations), which is the pessimistic side for fleet mode.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import boto3

BATCH = 10
# CPU seconds (user + system) of every invocation, in order; a run reads the ones it added.
CPU_TIMES = []
ACCOUNT = "123456789012"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ["EKS_IAM_SYNC_BIN"]
WORKERS = [int(w) for w in os.environ.get("BENCH_WORKERS", "1 2 4 8").split()]


def stack_env(state_dir):
    out = subprocess.run(
        [os.path.join(ROOT, "scripts/local-stack.sh"), "start"],
        env={**os.environ, "EKS_IAM_SYNC_STACK_DIR": state_dir, "STACK_CLUSTER": "base"},
        check=True, capture_output=True, text=True,
    ).stdout
    env = {}
    for line in out.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            env[key] = value.strip("'\"")
    return env


def admin(env, method, path):
    req = urllib.request.Request(env["EKS_SIM_ADMIN_URL"] + path, method=method)
    with urllib.request.urlopen(req) as r:
        body = r.read()
    return json.loads(body) if body else None


def timed_invoke(env, event_path, extra):
    """One invocation as a fresh process: (seconds, peak RSS MB of that child alone, exit
    code, stdout, stderr)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [BIN, "invoke", "--event", event_path],
        env={**env, "RUST_LOG": "warn", **extra},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    CPU_TIMES.append(rusage.ru_utime + rusage.ru_stime)
    return time.monotonic() - started, rusage.ru_maxrss / 1024, proc.returncode, out, err


def iam_calls(stderr):
    return sum(int(n) for n in re.findall(r'"IamCalls":\s*(\d+)', stderr))


def cluster_calls(env):
    counters = admin(env, "GET", "/counters")
    eks = sum(counters.get("eks", {}).values())
    kube = sum(sum(v.values()) for v in counters.get("kube", {}).values())
    return eks, kube


class Fleet:
    def __init__(self, env, n, work):
        self.env, self.n, self.work = env, n, work
        self.names = [f"fleet{n}-{i}" for i in range(n)]
        eks = boto3.client("eks", endpoint_url=env["AWS_ENDPOINT_URL_EKS"], **creds(env))
        for name in self.names:
            eks.create_cluster(
                name=name, roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks",
                resourcesVpcConfig={"subnetIds": ["subnet-0123456789abcdef0"]},
                accessConfig={"authenticationMode": "CONFIG_MAP",
                              "bootstrapClusterCreatorAdminPermissions": True})
        self.iam = boto3.client("iam", endpoint_url=env["AWS_ENDPOINT_URL"], **creds(env))
        self.group = f"fleet{n}-admins"
        self.iam.create_group(GroupName=self.group)
        for user in [f"fleet{n}-u{i}" for i in range(5)] + [f"fleet{n}-toggler"]:
            self.iam.create_user(UserName=user)
        for user in [f"fleet{n}-u{i}" for i in range(5)]:
            self.iam.add_user_to_group(GroupName=self.group, UserName=user)
        self.toggled = False
        clusters = "".join(f"  - name: {c}\n    region: us-east-1\n    backend: aws-auth\n" for c in self.names)
        self.config = os.path.join(work, f"fleet{n}.yaml")
        with open(self.config, "w") as f:
            f.write(f"clusters:\n{clusters}groups:\n  - iamGroup: {self.group}\n"
                    "    kubernetesGroups: [system:masters]\n")
        self.sqs = boto3.client("sqs", endpoint_url=env["AWS_ENDPOINT_URL"], **creds(env))
        self.runs = 0

    def toggle(self):
        """One change for every cluster: the toggler joins or leaves the group."""
        user = f"fleet{self.n}-toggler"
        if self.toggled:
            self.iam.remove_user_from_group(GroupName=self.group, UserName=user)
        else:
            self.iam.add_user_to_group(GroupName=self.group, UserName=user)
        self.toggled = not self.toggled

    def schedule(self):
        self.runs += 1
        event = json.load(open(os.path.join(ROOT, "events/scheduled_event.json")))
        event["id"] = f"bench-{self.n}-{self.runs}-{time.time()}"
        path = os.path.join(self.work, f"schedule-{self.n}-{self.runs}.json")
        json.dump(event, open(path, "w"))
        return path

    def base_env(self):
        return {**self.env, "EKS_IAM_SYNC_CONFIG": self.config}

    def in_place(self, measured=True):
        if measured:
            self.toggle()
        admin(self.env, "DELETE", "/counters")
        secs, rss, code, out, err = timed_invoke(self.base_env(), self.schedule(), {})
        summary = json.loads(out)  # exit 1 when a cluster failed: counted below
        changed = sum(1 for c in summary["clusters"] if c["outcome"] == "applied")
        eks, kube = cluster_calls(self.env)
        failed = sum(1 for c in summary["clusters"] if c["outcome"] == "failed")
        return {"mode": "in place", "workers": 1, "wall": secs, "longest": secs, "rss": rss,
                "failed": failed, "errors": [], "median": secs, "cpu": CPU_TIMES[-1],
                "invocations": 1, "sqs_calls": 0, "iam": summary["iamCalls"], "eks": eks,
                "kube": kube, "changed": changed}

    def fanned_out(self, workers):
        self.toggle()
        queue = self.sqs.create_queue(
            QueueName=f"fleet{self.n}-w{workers}-{self.runs}.fifo",
            Attributes={"FifoQueue": "true", "VisibilityTimeout": "1800"})["QueueUrl"]
        env = {"EKS_IAM_SYNC_QUEUE_URL": queue}
        admin(self.env, "DELETE", "/counters")
        started = time.monotonic()
        secs, rss, code, out, err = timed_invoke(self.base_env(), self.schedule(), env)
        assert code == 0, err
        dispatched = json.loads(out)
        assert len(dispatched["sent"]) == self.n, dispatched
        lock = threading.Lock()
        first_worker = len(CPU_TIMES)
        stats = {"invocations": 0, "longest": 0.0, "rss": 0.0, "iam": 0, "failed": 0, "errors": [], "durations": [],
                 "dispatch": secs, "dispatch_rss": rss}

        def worker(index):
            while True:
                got = self.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=BATCH,
                                               AttributeNames=["All"]).get("Messages", [])
                if not got:
                    attrs = self.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=[
                        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
                    if int(attrs["ApproximateNumberOfMessages"]) == 0 and \
                            int(attrs["ApproximateNumberOfMessagesNotVisible"]) == 0:
                        return
                    time.sleep(0.05)
                    continue
                records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                            "body": m["Body"], "attributes": m["Attributes"],
                            "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                            "eventSource": "aws:sqs", "awsRegion": "us-east-1",
                            "eventSourceARN": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue.rsplit('/', 1)[-1]}"}
                           for m in got]
                path = os.path.join(self.work, f"batch-{self.n}-{workers}-{index}.json")
                json.dump({"Records": records}, open(path, "w"))
                secs, rss, code, out, err = timed_invoke(self.base_env(), path, env)
                assert code == 0, err
                failed = {f["itemIdentifier"] for f in json.loads(out)["batchItemFailures"]}
                done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(got) if m["MessageId"] not in failed]
                if done:
                    self.sqs.delete_message_batch(QueueUrl=queue, Entries=done)
                retry = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                         for i, m in enumerate(got) if m["MessageId"] in failed]
                if retry:
                    # The mapping would see them again after the visibility timeout; the
                    # benchmark retries at once (and counts them).
                    self.sqs.change_message_visibility_batch(QueueUrl=queue, Entries=retry)
                with lock:
                    stats["invocations"] += 1
                    stats["longest"] = max(stats["longest"], secs)
                    stats["durations"].append(secs)
                    stats["rss"] = max(stats["rss"], rss)
                    stats["iam"] += iam_calls(err)
                    stats["failed"] += len(failed)
                    stats["errors"] += [l for l in err.splitlines() if "record failed" in l]

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - started
        cpu = max(CPU_TIMES[first_worker:], default=0.0)
        eks, kube = cluster_calls(self.env)
        return {"mode": "fanned out", "workers": workers, "wall": wall,
                "longest": stats["longest"], "rss": stats["rss"],
                "invocations": stats["invocations"], "sqs_calls": dispatched["sqsCalls"],
                "iam": stats["iam"], "eks": eks, "kube": kube, "changed": None,
                "failed": stats["failed"], "errors": stats["errors"],
                "median": sorted(stats["durations"])[len(stats["durations"]) // 2], "cpu": cpu,
                "dispatch": stats["dispatch"], "dispatch_rss": stats["dispatch_rss"]}


def creds(env):
    return {"aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"], "region_name": "us-east-1"}


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [10, 500]
    state = tempfile.mkdtemp(prefix="eks-iam-sync-bench-fleet-")
    env = stack_env(state)
    rows = []
    try:
        for n in sizes:
            fleet = Fleet(env, n, state)
            fleet.in_place(measured=False)  # converge: every cluster gets its aws-auth
            rows.append((n, fleet.in_place()))
            for w in WORKERS:
                rows.append((n, fleet.fanned_out(w)))
                print(f"-- N={n} W={w} done", file=sys.stderr)
    finally:
        subprocess.run([os.path.join(ROOT, "scripts/local-stack.sh"), "stop"],
                       env={**os.environ, "EKS_IAM_SYNC_STACK_DIR": state}, capture_output=True)
    print("| N | mode | W | wall s | invocations | median / longest invocation s | longest invocation CPU s | peak RSS MB | "
          "SQS send calls | IAM/cluster | EKS/cluster | kube/cluster | failed records (retried) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n, r in rows:
        print(f"| {n} | {r['mode']} | {r['workers']} | {r['wall']:.2f} | {r['invocations']} | "
              f"{r['median']:.2f} / {r['longest']:.2f} | {r['cpu']:.3f} | {r['rss']:.1f} | {r['sqs_calls']} | {r['iam'] / n:.2f} | "
              f"{r['eks'] / n:.2f} | {r['kube'] / n:.2f} | {r['failed']} |")
    for n, r in rows:
        for line in r["errors"][:5]:
            print(f"N={n} W={r['workers']}: {line}", file=sys.stderr)
    for n, r in rows:
        if r["mode"] == "fanned out":
            print(f"dispatcher N={n} W={r['workers']}: {r['dispatch']:.2f} s, "
                  f"{r['dispatch_rss']:.1f} MB; workers after it: "
                  f"{r['wall'] - r['dispatch']:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
