"""How long a pulse round takes to reach everyone when Slack allows N messages a second.

Opens a round for 5,000 team members (half sales, half marketing) on a temporary SQLite database
and delivers the DMs through Crossfeed's real outbox and WebClient to a fake Slack on loopback that
allows N chat.postMessage calls per second and answers the rest with HTTP 429 and a Retry-After
header, as Slack does. It prints the elapsed time beside the ideal members ÷ N seconds: a ratio of
1.00 means Crossfeed kept Slack's pipe full; above 1 is time lost to waiting out 429s (slack-sdk's
RateLimitErrorRetryHandler sleeps Retry-After plus a random 0–1 s) or to our own per-message work,
which the "unlimited" row shows alone. It also checks that every member got exactly one DM.

    python bench/pulse_fanout.py                   # 5,000 members at 50 and 100 per second, and unlimited
    python bench/pulse_fanout.py --quick           # 1,000 members
    python bench/pulse_fanout.py --rate 20 --members 2000
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import Crossfeed  # noqa: E402
from bot.pulse import open_due_round  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage import teams  # noqa: E402

OPENING = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # a Wednesday, 10:00 in New York


class RateLimitedSlack(ThreadingHTTPServer):
    """Answers auth.test and chat.postMessage; allows `rate` posts per one-second window (None: no limit)."""

    daemon_threads = True

    def __init__(self, rate: int | None):
        super().__init__(("127.0.0.1", 0), RateLimitedHandler)
        self.rate = rate
        self.lock = threading.Lock()
        self.window, self.in_window = 0, 0
        self.delivered: Counter[str] = Counter()
        self.limited = 0
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/"

    def admit(self) -> float | None:
        """None if this post may go now, else how many seconds until the next window."""
        if self.rate is None:
            return None
        with self.lock:
            now = time.monotonic()
            window = int(now)
            if window != self.window:
                self.window, self.in_window = window, 0
            if self.in_window < self.rate:
                self.in_window += 1
                return None
            self.limited += 1
            return window + 1 - now


class RateLimitedHandler(BaseHTTPRequestHandler):
    server: RateLimitedSlack

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        params = json.loads(raw) if raw.startswith("{") else dict(parse_qsl(raw))
        method = self.path.rsplit("/", 1)[-1]
        headers = {}
        if method == "chat.postMessage":
            wait = self.server.admit()
            if wait is not None:
                headers["Retry-After"] = str(max(1, math.ceil(wait)))
                return self.reply(429, {"ok": False, "error": "ratelimited"}, headers)
            with self.server.lock:
                self.server.delivered[params["channel"]] += 1
            return self.reply(200, {"ok": True, "channel": params["channel"], "ts": f"{time.time():.6f}"})
        return self.reply(200, {"ok": True, "user_id": "UBOT", "team_id": "T1", "bot_id": "B1"})

    def reply(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


def fan_out(members: int, rate: int | None) -> dict:
    slack = RateLimitedSlack(rate)
    with tempfile.TemporaryDirectory() as tmp:
        crossfeed = Crossfeed.start(Settings(
            _env_file=None, slack_bot_token="xoxb-bench", slack_signing_secret="x", slack_api_url=slack.url,
            database_url=f"sqlite:///{tmp}/fanout.db", slack_max_rate_limit_retries=10,
        ))
        try:
            people = [f"U{i:05d}" for i in range(members)]
            with crossfeed.transaction() as session:
                teams.workspace_config(session=session, team_id="T1").timezone = "America/New_York"
                teams.put_members(session=session, team_id="T1", user_ids=people[::2], side="sales", origin="explicit")
                teams.put_members(session=session, team_id="T1", user_ids=people[1::2], side="marketing",
                                  origin="explicit")
            started = time.monotonic()
            # The outbox compares due times with its clock: run it from the opening, in real time.
            crossfeed.outbox.clock = lambda: OPENING + timedelta(seconds=time.monotonic() - started)
            with crossfeed.transaction() as session:
                opened = open_due_round(session=session, team_id="T1", now=OPENING)
            queued = time.monotonic() - started
            passes = 0
            while sum(slack.delivered.values()) < opened.asked and passes < 50:
                crossfeed.outbox.deliver_due()
                passes += 1
            elapsed = time.monotonic() - started
        finally:
            crossfeed.close()
            slack.shutdown()
            slack.server_close()
    exact = set(slack.delivered) == set(people) and set(slack.delivered.values()) == {1}
    return dict(elapsed=elapsed, queued=queued, limited=slack.limited, passes=passes, exact=exact,
                delivered=sum(slack.delivered.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--rate", type=int, action="append", help="allowed posts per second (repeatable)")
    parser.add_argument("--quick", action="store_true", help="1,000 members")
    args = parser.parse_args()
    members = 1000 if args.quick else args.members
    rates: list[int | None] = [*(args.rate or [50, 100]), None]

    print(f"{members} members, SQLite, one outbox worker")
    print(f"{'allowed/s':>9} {'elapsed s':>10} {'ideal s':>8} {'ratio':>6} {'429s':>6} {'enqueue s':>9}"
          "  every member once")
    for rate in rates:
        run = fan_out(members, rate)
        ideal = members / rate if rate else None
        ratio = f"{run['elapsed'] / ideal:>6.2f}" if ideal else f"{'-':>6}"
        print(f"{rate or 'unlimited':>9} {run['elapsed']:>10.1f} {ideal or 0:>8.1f} {ratio} {run['limited']:>6}"
              f" {run['queued']:>9.2f}  {'OK' if run['exact'] else 'NO: ' + str(run['delivered'])}")


if __name__ == "__main__":
    main()
