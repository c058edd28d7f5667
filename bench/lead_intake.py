"""Lead intake under load: the webhook's latency beside a bare endpoint, and how fast owners get their DMs.

1. Latency: the Procfile's web line (gunicorn -c python:bot.gunicorn_config, gthread, 8 threads; one worker on
   SQLite) serving Crossfeed, then a bare endpoint (bench/bare_lead_endpoint.py: signature check and JSON parse,
   nothing stored) on the same server. Each gets `--leads` signed leads (default 10,000) at concurrency 8 and
   32 from keep-alive clients, every lead with an owner of its own (a Slack user id), and the fake Slack on
   loopback answers without limit. Prints req/s, p50, p99, Crossfeed ÷ bare, and how many owners' DMs had
   been delivered by the last answer (routing and delivery run in the worker, beside the requests).
2. Delivery: a fresh server and database, a fake Slack that allows `--rate` chat.postMessage calls a second
   (HTTP 429 with Retry-After: 1 beyond that, as bench/pulse_fanout.py's), and `--dm-leads` leads (default
   10,000) with as many distinct owners, posted at concurrency 8. Prints the time from the first lead sent to
   the last owner's DM delivered, beside the bound the rate limit alone imposes (leads ÷ rate): the ratio is
   elapsed ÷ bound, 1.00 being Slack's allowance fully used.

The load generator shares the machine's cores with the server, so absolute figures are pessimistic.

    python bench/lead_intake.py                 # SQLite, 10,000 leads per level, delivery of 10,000 DMs at 100/s
    python bench/lead_intake.py --quick         # 2,000 leads per level, 2,000 DMs
    python bench/lead_intake.py --postgres      # PostgreSQL (BENCH_POSTGRES_URL, default local `test`), 2 workers
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tests.fake_slack  # noqa: E402
from bench.ack_latency import (  # noqa: E402
    DEFAULT_POSTGRES,
    GUNICORN,
    Result,
    free_port,
    sqlite_database,
    start_server,
    stop,
)
from bench.databases import fresh_database  # noqa: E402
from bench.pulse_fanout import RateLimitedSlack  # noqa: E402
from tests.fake_slack import FakeSlackServer  # noqa: E402

LEAD_SECRET = "bench-lead-secret"
SALES_CHANNEL = "C_SALES"
LEVELS = (8, 32)


def signed_lead(lead: dict) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(lead)
    timestamp = str(int(time.time()))
    digest = hmac.new(LEAD_SECRET.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return body.encode(), {"Content-Type": "application/json", "X-Crossfeed-Request-Timestamp": timestamp,
                           "X-Crossfeed-Signature": f"v0={digest}"}


def lead(tag: str, number: int) -> dict:
    return {"id": f"BENCH-{tag}-{number}", "name": f"Lead {number}", "company": "Acme", "email": "lead@acme.example",
            "source": "webinar", "campaign": "Q4 ROI webinar", "score": number % 100,
            "url": f"https://crm.example/leads/{number}", "owner": f"U{tag.upper()}{number:06d}"}


def post_leads(port: int, *, concurrency: int, count: int, tag: str) -> Result:
    """Send `count` signed leads from `concurrency` keep-alive clients; every lead has an owner of its own."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    per_client = count // concurrency

    def client(number: int) -> None:
        nonlocal errors
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, failed = [], 0
        for i in range(per_client):
            body, headers = signed_lead(lead(tag, number * per_client + i))
            started = time.perf_counter()
            connection.request("POST", "/hooks/leads", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append((time.perf_counter() - started) * 1000)
            failed += response.status != 202
        connection.close()
        with lock:
            latencies.extend(mine)
            errors += failed

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(client, range(concurrency)))
    return Result(per_client * concurrency, errors, time.perf_counter() - started, latencies)


def dms(fake: FakeSlackServer) -> int:
    return sum(call.method == "chat.postMessage" and call.ok for call in list(fake.calls))


def wait_for(count: callable, expected: int, timeout: float) -> float:
    """Seconds until count() reaches `expected` (or the timeout)."""
    started = time.perf_counter()
    while count() < expected and time.perf_counter() - started < timeout:
        time.sleep(0.01)
    return time.perf_counter() - started


def environment(url: str, slack_url: str, workers: int) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": "bench-signing-secret",
            "SLACK_API_URL": slack_url, "LEAD_WEBHOOK_SECRET": LEAD_SECRET, "SALES_CHANNEL": SALES_CHANNEL,
            "RUN_SCHEDULER": "0", "LOG_LEVEL": "WARNING", "WEB_CONCURRENCY": str(workers), "DATABASE_URL": url,
            "SLACK_MAX_RATE_LIMIT_RETRIES": "10"}


def latency(url_of, workers: int, count: int) -> None:
    tests.fake_slack.check_blocks = lambda method, params: []  # Slack checks blocks on its servers, not our cores
    fake = FakeSlackServer().start()
    runs: dict[str, dict[int, Result]] = {"crossfeed": {}, "bare endpoint": {}}
    delivered: dict[int, tuple[float, float]] = {}
    try:
        for name, app in (("crossfeed", "bot.wsgi:application"),
                          ("bare endpoint", "bench.bare_lead_endpoint:application")):
            with url_of() as url:
                port = free_port()
                server = start_server(app, environment(url, fake.url, workers), port)
                try:
                    warm_up = post_leads(port, concurrency=4, count=200, tag=f"{name[0]}w")
                    if warm_up.errors:
                        raise SystemExit(f"{name}: {warm_up.errors} of the warm-up's leads were refused")
                    wait_for(lambda: dms(fake), 200 if name == "crossfeed" else 0, 60)
                    for level in LEVELS:
                        before = dms(fake)
                        result = post_leads(port, concurrency=level, count=count, tag=f"{name[0]}{level}")
                        runs[name][level] = result
                        if name == "crossfeed":
                            share = (dms(fake) - before) / result.requests
                            rest = wait_for(lambda: dms(fake) - before, result.requests, 300)  # noqa: B023
                            delivered[level] = (share, rest)
                finally:
                    stop(server)
    finally:
        fake.stop()
    print(f"\nPOST /hooks/leads: gunicorn {' '.join(GUNICORN)}, {workers} worker(s), {os.cpu_count()} cores, "
          f"{count} leads per level, each with its own owner")
    print(f"{'concurrency':>11}  {'server':<24} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for level in LEVELS:
        for name, results in runs.items():
            r = results[level]
            print(f"{level:>11}  {name:<24} {r.rps:>8.0f} {r.percentile(50):>8.2f} {r.percentile(99):>8.2f}"
                  f" {r.errors:>6}")
        ours, bare = runs["crossfeed"][level], runs["bare endpoint"][level]
        print(f"{'':>11}  {'ratio crossfeed ÷ bare':<24} {ours.rps / bare.rps:>8.2f}"
              f" {ours.percentile(50) / bare.percentile(50):>8.2f} {ours.percentile(99) / bare.percentile(99):>8.2f}")
        share, rest = delivered[level]
        print(f"{'':>11}  {'owners DMed':<24} {share:>8.0%} by the last answer; all {rest:.1f} s after it")
    sys.stdout.flush()


def delivery(url_of, workers: int, count: int, rate: int) -> None:
    slack = RateLimitedSlack(rate)
    threading.Thread(target=slack.serve_forever, daemon=True).start()
    try:
        with url_of() as url:
            port = free_port()
            server = start_server("bot.wsgi:application", environment(url, slack.url, workers), port)
            try:
                started = time.perf_counter()
                sent = post_leads(port, concurrency=8, count=count, tag="d")
                total = lambda: sum(slack.posts.values())  # noqa: E731
                wait_for(total, sent.requests, 20 * count / rate + 120)
                elapsed = time.perf_counter() - started
            finally:
                stop(server)
    finally:
        slack.shutdown()
        slack.server_close()
    bound = sent.requests / rate
    print(f"\nOwners' DMs through a fake Slack allowing {rate} chat.postMessage a second: {sent.requests} leads, "
          f"{len(slack.posts)} distinct owners")
    print(f"  leads posted in {sent.seconds:.1f} s ({sent.errors} errors); every DM delivered {elapsed:.1f} s after "
          f"the first lead; bound {bound:.1f} s; ratio {elapsed / bound:.2f}; "
          f"{total()} DMs, {slack.limited} answered 429")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 leads per level and 2,000 DMs")
    parser.add_argument("--leads", type=int, help="leads per concurrency level (default 10,000)")
    parser.add_argument("--dm-leads", type=int, help="leads (and owners) in the delivery run (default 10,000)")
    parser.add_argument("--rate", type=int, default=100, help="chat.postMessage calls a second (default 100)")
    parser.add_argument("--postgres", nargs="?", const=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
                        metavar="URL", help=f"PostgreSQL instead of SQLite (default {DEFAULT_POSTGRES})")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-delivery", action="store_true")
    args = parser.parse_args()
    count = args.leads or (2_000 if args.quick else 10_000)
    dm_count = args.dm_leads or (2_000 if args.quick else 10_000)
    if args.postgres:
        url_of, workers, database = (lambda: fresh_database(args.postgres)), 2, "PostgreSQL"
    else:
        url_of, workers, database = sqlite_database, 1, "SQLite (WAL)"
    print(f"{database}")
    if not args.skip_latency:
        latency(url_of, workers, count)
    if not args.skip_delivery:
        delivery(url_of, workers, dm_count, args.rate)


if __name__ == "__main__":
    main()
