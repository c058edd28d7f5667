"""What a one-line rating costs Crossfeed: SQL statements per rating, and latency beside a bare Bolt app.

Two parts, both with many distinct people rating (per-person work, such as the Home refresh, hides when
one user is repeated):

1. Statements, in-process: the real app (tests-like settings, a fake Slack on loopback, the lead feed
   configured) serves signed `/leadfeedback` requests over HTTP; a `before_cursor_execute` listener on its
   engine counts the statements run on the request's thread and, once background delivery has gone idle,
   all the statements the rating caused (the lead-feed post and the Home refresh included). Printed for a
   person's first rating and for a re-rate. The issue's budget: at most 8 in the request, 15 in all.
2. Latency: the Procfile's web line (gunicorn -c python:bot.gunicorn_config, gthread, 8 threads) serving
   Crossfeed, then a bare Bolt app whose /leadfeedback only acks (bench/bare_bolt_app.py) on the same server
   and database, driven by the same keep-alive clients at 1, 8 and 32 concurrent; prints req/s, p50, p99
   and Crossfeed ÷ bare Bolt. SQLite runs one worker; PostgreSQL runs 2 and 4 workers. The bare app in
   Bolt's default mode (ack polled every 10 ms) is shown on SQLite for reference.

The load generator shares the machine's cores with the server, so absolute figures are pessimistic;
compare rows, not machines.

    python bench/ack_latency.py                    # SQLite: statements, then latency
    python bench/ack_latency.py --postgres         # PostgreSQL (BENCH_POSTGRES_URL, default local `test`)
    python bench/ack_latency.py --quick            # fewer requests
    python bench/ack_latency.py --statements-only --show   # list each rating's statements
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from socketserver import ThreadingMixIn
from urllib.parse import urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from slack_sdk.signature import SignatureVerifier  # noqa: E402
from sqlalchemy import Engine, event  # noqa: E402

import tests.fake_slack  # noqa: E402
from bench.databases import fresh_database  # noqa: E402
from tests.fake_slack import FakeSlackServer  # noqa: E402

SECRET = "bench-signing-secret"
FEED_CHANNEL = "C_FEED"
# The Procfile's web line; gunicorn takes its worker count from WEB_CONCURRENCY.
GUNICORN = ["-c", "python:bot.gunicorn_config", "--worker-class", "gthread", "--threads", "8", "--timeout", "30"]
LEVELS = (1, 8, 32)
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
RATING = '{lead} 2 no-budget wrong-contact "only wanted pricing"'
RE_RATING = "{lead} 1"
# Background work after a rating may start late (before the outbox took the Home refresh, it waited on a
# 0.5 s timer): counting ends when nothing ran for this long and background delivery is idle.
QUIET = 0.6


# --- counting statements --------------------------------------------------------------------------


class StatementCounter:
    """Counts the SQL statements an engine runs: all of them, and those on a thread serving an HTTP request."""

    def __init__(self, engine: Engine):
        self._serving = threading.local()
        self._lock = threading.Lock()
        self.statements: list[tuple[bool, str, str]] = []  # (on the request thread, thread name, SQL)
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _connection, _cursor, statement, _parameters, _context, _executemany) -> None:
        if statement.startswith("BEGIN"):
            # Transaction control is not counted: SQLite's BEGIN passes through here, PostgreSQL's never does
            # (psycopg opens transactions itself), and both databases should count the same work.
            return
        on_request = getattr(self._serving, "request", False)
        with self._lock:
            self.statements.append((on_request, threading.current_thread().name, " ".join(statement.split())))

    def serving(self, app: Callable) -> Callable:
        """Wrap a WSGI app so statements run while it handles a request count as the request's."""

        def counted(environ, start_response):
            self._serving.request = True
            try:
                return list(app(environ, start_response))
            finally:
                self._serving.request = False

        return counted

    def take(self) -> list[tuple[bool, str, str]]:
        """The statements seen since the last take()."""
        with self._lock:
            seen, self.statements = self.statements, []
        return seen


@dataclass
class Cost:
    """The statements one rating ran: on its request's thread, and in all once background work was done."""

    what: str
    statements: list[tuple[bool, str, str]] = field(default_factory=list)

    @property
    def in_request(self) -> int:
        return sum(on_request for on_request, _, _ in self.statements)

    @property
    def in_all(self) -> int:
        return len(self.statements)


def settle(crossfeed, counter: StatementCounter, quiet: float = QUIET) -> None:
    """Wait until background work is idle and no statement has run for `quiet` seconds."""
    while True:
        assert crossfeed.wait_idle(10), "background work did not finish"
        seen = len(counter.statements)
        time.sleep(quiet)
        if len(counter.statements) == seen and crossfeed.wait_idle(0):
            return


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


def rating_costs(database_url: str, *, people: int = 5) -> list[Cost]:
    """Each of `people` new raters rates a lead, then rates it again, through the real app over HTTP."""
    from bot.app import create_app
    from bot.container import Crossfeed
    from bot.server import CrossfeedWSGI
    from bot.settings import Settings

    fake = FakeSlackServer().start()
    settings = Settings(_env_file=None, slack_bot_token="xoxb-bench", slack_signing_secret=SECRET,
                        slack_api_url=fake.url, database_url=database_url, lead_feed_channel=FEED_CHANNEL,
                        run_scheduler=False, log_level="WARNING")
    crossfeed = Crossfeed.start(settings)
    counter = StatementCounter(crossfeed.engine)
    app = CrossfeedWSGI(create_app(settings, crossfeed=crossfeed), crossfeed)
    server = make_server("127.0.0.1", 0, counter.serving(app), server_class=_ThreadingWSGIServer,
                         handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    port = server.server_address[1]
    costs: list[Cost] = []
    try:
        # The workspace exists (someone rated before): its creation is a one-off, not a rating's cost.
        rate(port, RATING.format(lead="WARM-UP"), "UWARM")
        settle(crossfeed, counter)
        counter.take()
        for what, template in (("first rating by a new person", RATING), ("re-rate of the same lead", RE_RATING)):
            for number in range(people):
                rate(port, template.format(lead=f"COST-{number}"), f"UCOST{number:03d}")
                settle(crossfeed, counter)
                costs.append(Cost(what, counter.take()))
    finally:
        server.shutdown()
        server.server_close()
        crossfeed.close()
        fake.stop()
    return costs


def rate(port: int, text_: str, user: str) -> None:
    body, headers = signed_command(text_, user)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/slack/events", body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        if response.status != 200 or not confirmed(payload):
            raise SystemExit(f"the rating failed: {response.status} {payload[:300]!r}")
    finally:
        connection.close()


def confirmed(payload: bytes) -> bool:
    """The answer confirms a rating (a new one, or an update of the person's earlier one)."""
    return b'"text": "Rated ' in payload or b'"text": "Updated your rating' in payload


def print_costs(costs: list[Cost], database: str, *, show: bool) -> None:
    print(f"SQL statements per one-line rating ({database}; budget: 8 in the request, 15 in all)")
    print(f"  {'rating':<30} {'in request':>10} {'in all':>7}")
    for what in dict.fromkeys(cost.what for cost in costs):
        mine = [cost for cost in costs if cost.what == what]
        print(f"  {what:<30} {max(c.in_request for c in mine):>10} {max(c.in_all for c in mine):>7}"
              f"   (max of {len(mine)} people; min {min(c.in_request for c in mine)} / "
              f"{min(c.in_all for c in mine)})")
        if show:
            for on_request, thread, statement in mine[0].statements:
                print(f"      {'request' if on_request else thread:<16} {statement[:150]}")


# --- latency ----------------------------------------------------------------------------------------


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    # What reached Slack: the share of the ratings' feed posts and Home refreshes sent by the last answer,
    # and how long after it the rest took (delivery runs beside the requests, on the same cores).
    delivered_share: float | None = None
    drained_ms: float | None = None

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
        [sys.executable, "-m", "gunicorn", *GUNICORN, app, "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its own process group: stop() can end workers a killed master left behind
    )
    deadline = time.monotonic() + 60
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
    raise SystemExit(f"{app} did not answer within 60 s")


def stop(server: subprocess.Popen) -> None:
    """Stop the server and its workers; they first finish the background work the load left queued."""
    server.terminate()
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)


def signed_command(text_: str, user: str) -> tuple[bytes, dict[str, str]]:
    body = urlencode({
        "token": "x", "team_id": "T1", "team_domain": "bench", "channel_id": "C1", "channel_name": "sales",
        "user_id": user, "user_name": user.lower(), "command": "/leadfeedback", "text": text_,
        "api_app_id": "A1", "response_url": "http://127.0.0.1:9/unused", "trigger_id": "1.2.3",
    })
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=body)
    return body.encode(), {"Content-Type": "application/x-www-form-urlencoded",
                           "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


def load(port: int, *, concurrency: int, requests: int, tag: str) -> Result:
    """Send `requests` signed one-line ratings from `concurrency` keep-alive clients, each from another person."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    per_client = requests // concurrency

    def client(number: int) -> None:
        nonlocal errors
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, failed = [], 0
        for i in range(per_client):
            text_ = RATING.format(lead=f"BENCH-{tag}-{number}-{i}")
            # Every request from a person of its own: per-person work (their Home tab) is never shared.
            body, headers = signed_command(text_, f"U{tag}{number:02d}{i:04d}")
            started = time.perf_counter()
            connection.request("POST", "/slack/events", body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            mine.append((time.perf_counter() - started) * 1000)
            if response.status != 200 or (payload and not confirmed(payload)):
                failed += 1
        connection.close()
        with lock:
            latencies.extend(mine)
            errors += failed

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(client, range(concurrency)))
    return Result(per_client * concurrency, errors, time.perf_counter() - started, latencies)


SENT = ("chat.postMessage", "views.publish")  # a rating's feed post (it rates a lead 2: bad) and Home refresh


def sent(fake) -> int:
    return sum(call.method in SENT for call in list(fake.calls))


def measure(name: str, app: str, env: dict[str, str], counts: dict[int, int], fake) -> dict[int, Result]:
    port = free_port()
    server = start_server(app, env, port)
    try:
        load(port, concurrency=4, requests=80, tag=f"{name[:1]}w")
        results = {}
        for level in LEVELS:
            drained(fake, expected=None)
            before = sent(fake)
            result = load(port, concurrency=level, requests=counts[level], tag=f"{name[:1]}{level}")
            if name == "crossfeed":
                expected = before + len(SENT) * result.requests
                result.delivered_share = (sent(fake) - before) / (expected - before)
                result.drained_ms = drained(fake, expected=expected)
            results[level] = result
        return results
    finally:
        stop(server)


def drained(fake, *, expected: int | None, timeout: float = 120) -> float:
    """Milliseconds until the fake has seen `expected` sends (or, with None, until sends stop for 0.5 s)."""
    started, last, quiet_since = time.perf_counter(), sent(fake), time.perf_counter()
    while time.perf_counter() - started < timeout:
        now = sent(fake)
        if expected is not None and now >= expected:
            break
        if expected is None:
            if now != last:
                last, quiet_since = now, time.perf_counter()
            elif time.perf_counter() - quiet_since > 0.5:
                break
        time.sleep(0.005)
    return (time.perf_counter() - started) * 1000


def print_latency(runs: dict[str, dict[int, Result]], heading: str) -> None:
    print(heading)
    print(f"{'concurrency':>11}  {'server':<25} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for level in LEVELS:
        for name, results in runs.items():
            r = results[level]
            print(f"{level:>11}  {name:<25} {r.rps:>8.0f} {r.percentile(50):>8.2f} {r.percentile(99):>8.2f}"
                  f" {r.errors:>6}")
        ours, bare = runs["crossfeed"][level], runs["bare bolt (same mode)"][level]
        print(f"{'':>11}  {'ratio crossfeed ÷ bare':<25} {ours.rps / bare.rps:>8.2f}"
              f" {ours.percentile(50) / bare.percentile(50):>8.2f} {ours.percentile(99) / bare.percentile(99):>8.2f}")
        print(f"{'':>11}  {'crossfeed sends':<25} {ours.delivered_share:>8.0%} of the feed posts and Home refreshes"
              f" by the last answer; the rest {ours.drained_ms:.0f} ms later")
    sys.stdout.flush()


# --- databases --------------------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{tmp}/bench.db"


def latency(database: str, url_of: Callable[[], contextlib.AbstractContextManager[str]], workers: int,
            counts: dict[int, int], *, default_mode: bool) -> None:
    # Slack checks Block Kit on its own servers; here the fake shares the server's two cores, so it doesn't
    # (the tests check every block and view the app sends).
    tests.fake_slack.check_blocks = lambda method, params: []
    fake = FakeSlackServer().start()
    base = {"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.url,
            "RUN_SCHEDULER": "0", "LOG_LEVEL": "WARNING", "LEAD_FEED_CHANNEL": FEED_CHANNEL,
            "WEB_CONCURRENCY": str(workers)}
    runs: dict[str, dict[int, Result]] = {}
    try:
        with url_of() as url:
            runs["crossfeed"] = measure("crossfeed", "bot.wsgi:application", {**base, "DATABASE_URL": url}, counts,
                                          fake)
        with url_of() as url:
            runs["bare bolt (same mode)"] = measure("bare", "bench.bare_bolt_app:application",
                                                    {**base, "DATABASE_URL": url,
                                                     "BARE_PROCESS_BEFORE_RESPONSE": "1"}, counts, fake)
        if default_mode:
            with url_of() as url:
                runs["bare bolt (default mode)"] = measure("default", "bench.bare_bolt_app:application",
                                                           {**base, "DATABASE_URL": url,
                                                            "BARE_PROCESS_BEFORE_RESPONSE": "0"}, counts, fake)
    finally:
        fake.stop()
    print_latency(runs, f"\n{database}, gunicorn {' '.join(GUNICORN)}, {workers} worker(s), "
                        f"{os.cpu_count()} cores, many distinct people")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer requests per level")
    parser.add_argument("--postgres", nargs="?", const=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
                        metavar="URL", help=f"PostgreSQL instead of SQLite (default {DEFAULT_POSTGRES})")
    parser.add_argument("--workers", type=int, nargs="+", help="gunicorn workers (default: 1 on SQLite, 2 and 4 "
                                                                "on PostgreSQL)")
    parser.add_argument("--statements-only", action="store_true", help="count statements, skip the latency runs")
    parser.add_argument("--show", action="store_true", help="list the statements of one rating of each kind")
    args = parser.parse_args()
    counts = {1: 100, 8: 400, 32: 640} if args.quick else {1: 400, 8: 1600, 32: 1600}

    if args.postgres:
        database = "PostgreSQL"
        url_of = lambda: fresh_database(args.postgres)  # noqa: E731
        workers = args.workers or [2, 4]
    else:
        database = "SQLite (WAL)"
        url_of = sqlite_database
        workers = args.workers or [1]
    with url_of() as url:
        print_costs(rating_costs(url), database, show=args.show)
    sys.stdout.flush()
    if args.statements_only:
        return
    for count in workers:
        latency(database, url_of, count, counts, default_mode=not args.postgres)
    print("ratio: req/s below 1 and latency above 1 is what Crossfeed's own work costs on top of Bolt.")


if __name__ == "__main__":
    main()
