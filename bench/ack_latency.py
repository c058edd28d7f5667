"""How fast Crossfeed answers Slack, beside a bare Bolt app on the same production server.

Starts the real production server (gunicorn with the Procfile's web settings) twice — once with
Crossfeed (`bot.wsgi:application`, SQLite in a temporary directory, a fake Slack on loopback) and
once with a bare Bolt app whose /leadfeedback only acks — then sends correctly signed one-line
`/leadfeedback` requests at fixed concurrency and prints requests/s and p50/p99 latency.

The ratio column is Crossfeed ÷ bare Bolt in the same Bolt mode (process_before_response=True):
it is what validating, storing the rating and rendering the confirmation cost on top of Bolt
itself. The bare app in Bolt's default mode is shown too: there every request waits for ack() by
polling every 10 ms. The load generator runs on the same 2 cores as the server, so absolute
figures are pessimistic; compare rows, not machines.

    python bench/ack_latency.py            # 1, 8 and 32 concurrent clients
    python bench/ack_latency.py --quick    # fewer requests
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from slack_sdk.signature import SignatureVerifier  # noqa: E402

from tests.fake_slack import FakeSlackServer  # noqa: E402

SECRET = "bench-signing-secret"
# The Procfile's web line; gunicorn takes its worker count from WEB_CONCURRENCY, 1 when unset.
GUNICORN = ["--worker-class", "gthread", "--threads", "8", "--timeout", "30"]
LEVELS = (1, 8, 32)


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(app: str, env: dict[str, str], port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}", *GUNICORN, "--log-level", "warning"],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"{app} did not start:\n{server.stderr.read()}")
        try:
            # The bare app has no /healthz: any HTTP answer means it is up.
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except urllib.error.HTTPError:
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit(f"{app} did not answer within 30 s")


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()


def signed_command(text: str, user: str) -> tuple[bytes, dict[str, str]]:
    body = urlencode({
        "token": "x", "team_id": "T1", "team_domain": "bench", "channel_id": "C1", "channel_name": "sales",
        "user_id": user, "user_name": user.lower(), "command": "/leadfeedback", "text": text,
        "api_app_id": "A1", "response_url": "http://127.0.0.1:9/unused", "trigger_id": "1.2.3",
    })
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=body)
    return body.encode(), {"Content-Type": "application/x-www-form-urlencoded",
                           "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


def load(port: int, *, concurrency: int, requests: int, tag: str) -> Result:
    """Send `requests` signed one-line ratings from `concurrency` keep-alive clients."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    per_client = requests // concurrency

    def client(number: int) -> None:
        nonlocal errors
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, failed = [], 0
        for i in range(per_client):
            text = f'BENCH-{tag}-{number}-{i} 2 no-budget wrong-contact "only wanted pricing"'
            body, headers = signed_command(text, f"U{number % 20:03d}")
            started = time.perf_counter()
            connection.request("POST", "/slack/events", body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            mine.append((time.perf_counter() - started) * 1000)
            if response.status != 200 or (b"Rated" not in payload and payload):
                failed += 1
        connection.close()
        with lock:
            latencies.extend(mine)
            errors += failed

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(client, range(concurrency)))
    return Result(per_client * concurrency, errors, time.perf_counter() - started, latencies)


def measure(name: str, app: str, env: dict[str, str], counts: dict[int, int]) -> dict[int, Result]:
    port = free_port()
    server = start_server(app, env, port)
    try:
        load(port, concurrency=4, requests=80, tag=f"{name}-warmup")
        return {level: load(port, concurrency=level, requests=counts[level], tag=f"{name}-{level}")
                for level in LEVELS}
    finally:
        stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer requests per level")
    args = parser.parse_args()
    counts = {1: 100, 8: 400, 32: 640} if args.quick else {1: 400, 8: 1600, 32: 1600}

    fake = FakeSlackServer().start()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.url,
               "DATABASE_URL": f"sqlite:///{tmp}/bench.db", "RUN_SCHEDULER": "0", "LOG_LEVEL": "WARNING"}
        try:
            runs = {
                "crossfeed": measure("crossfeed", "bot.wsgi:application", env, counts),
                "bare bolt (same mode)": measure("bare", "bench.bare_bolt_app:application",
                                                 {**env, "BARE_PROCESS_BEFORE_RESPONSE": "1"}, counts),
                "bare bolt (default mode)": measure("default", "bench.bare_bolt_app:application",
                                                    {**env, "BARE_PROCESS_BEFORE_RESPONSE": "0"}, counts),
            }
        finally:
            fake.stop()

    workers = os.environ.get("WEB_CONCURRENCY", "1")
    print(f"cores: {os.cpu_count()}   server: gunicorn {' '.join(GUNICORN)}, {workers} worker(s)   "
          "database: SQLite (WAL)")
    print(f"{'concurrency':>11}  {'server':<25} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for level in LEVELS:
        for name, results in runs.items():
            r = results[level]
            print(f"{level:>11}  {name:<25} {r.rps:>8.0f} {r.percentile(50):>8.2f} {r.percentile(99):>8.2f}"
                  f" {r.errors:>6}")
        ours, bare = runs["crossfeed"][level], runs["bare bolt (same mode)"][level]
        print(f"{'':>11}  {'ratio crossfeed ÷ bare':<25} {ours.rps / bare.rps:>8.2f}"
              f" {ours.percentile(50) / bare.percentile(50):>8.2f} {ours.percentile(99) / bare.percentile(99):>8.2f}")
    print("ratio: req/s below 1 and latency above 1 is what Crossfeed's own work costs on top of Bolt.")


if __name__ == "__main__":
    main()
