"""Does the web worker's memory stay flat under a long run of mixed and hostile requests?

Starts the production server as `bench/ack_latency.py` does (gunicorn, gthread, the Procfile's web
settings, SQLite in a temporary directory, the tests' fake Slack on loopback), then sends `--requests`
correctly signed requests from many distinct people, from `--clients` concurrent clients:

  one-line ratings with notes of varied size (a few ~100 kB), `/leadfeedback help` and `mine`,
  `/pulse`, `/messaging`, `/messaging results`, block actions (pulse answers, Edit, messaging
  reactions), and fuzzed texts for every command (random unicode, control characters, the word
  "payload", huge strings, bad quoting), some in fuzzed channel and user names.

Every 5,000 requests (`--every`) it prints the resident memory (VmRSS) of each gunicorn worker, then the count
of answers by HTTP status. Loopback only; it stops after `--requests` or `--max-minutes`.

    python bench/soak.py                      # 50,000 requests
    python bench/soak.py --requests 20000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ack_latency import GUNICORN, free_port, stop  # noqa: E402
from tests.fake_slack import FakeSlackServer  # noqa: E402
from tests.helpers import SlackDriver  # noqa: E402

SECRET = "soak-signing-secret"
REPORT_EVERY = 5_000
PEOPLE = 3_000
COMMANDS = ("/leadfeedback", "/pulse", "/messaging", "/alignment")
REASONS = ("no-budget", "wrong-contact", "great-fit", "not-icp", "timing", "competitor")
NASTY = ("payload", "payload=", '"', "'", "\\", "\x00", "\x1b[31m", "\r\n", "\t", "<!channel>", "<@U1>",
         "&amp;", "%00", "%", "{", "}", "source:", "campaign:", "#12", "@", "\u202e", "\ufeff", "😀", "\U0010ffff")


def random_unicode(rng: random.Random, length: int) -> str:
    # Mostly printable, some control characters and lone high code points (no surrogates: they can't be sent).
    chars = []
    for _ in range(length):
        roll = rng.random()
        if roll < 0.6:
            chars.append(chr(rng.randint(0x20, 0x7E)))
        elif roll < 0.7:
            chars.append(chr(rng.randint(0, 0x1F)))
        elif roll < 0.9:
            chars.append(chr(rng.randint(0xA0, 0xD7FF)))
        else:
            chars.append(chr(rng.randint(0xE000, 0x10FFFF)))
    return "".join(chars)


def fuzz_text(rng: random.Random) -> str:
    pieces = []
    for _ in range(rng.randint(1, 8)):
        roll = rng.random()
        if roll < 0.35:
            pieces.append(rng.choice(NASTY))
        elif roll < 0.75:
            pieces.append(random_unicode(rng, rng.randint(1, 30)))
        elif roll < 0.9:
            pieces.append(rng.choice(("help", "mine", "results", "ask", "ACME-1", "3", "5", "team", "setup")))
        elif roll < 0.97:
            pieces.append(rng.choice(("", '"')) + "x" * rng.randint(100, 5_000))
        else:
            pieces.append(random_unicode(rng, rng.randint(10_000, 60_000)))  # a huge string
    return rng.choice((" ", "", '"')).join(pieces)


def note(rng: random.Random) -> str:
    size = rng.choice((0, 10, 80, 400, 2_000)) if rng.random() > 0.02 else 100_000
    return "".join(rng.choice("abcdefghij klmnop,.") for _ in range(size)).replace('"', "")


class Traffic:
    """Builds one request at a time, as Slack would send it, for a person picked at random."""

    def __init__(self, driver: SlackDriver, seed: int):
        self.driver = driver
        self.rng = random.Random(seed)
        self.serial = 0

    def next(self) -> str:
        rng, driver = self.rng, self.driver
        self.serial += 1
        user = f"U{rng.randrange(PEOPLE):05d}"
        roll = rng.random()
        if roll < 0.30:
            text = f'SOAK-{self.serial} {rng.randint(1, 5)} {" ".join(rng.sample(REASONS, rng.randint(0, 2)))}'
            words = note(rng)
            return driver.command_body("/leadfeedback", f'{text} "{words}"' if words else text, user=user)
        if roll < 0.38:
            return driver.command_body("/leadfeedback", rng.choice(("help", "mine")), user=user)
        if roll < 0.44:
            return driver.command_body("/pulse", rng.choice(("", "results")), user=user)
        if roll < 0.50:
            return driver.command_body("/messaging", rng.choice(("", "results", f"results #{rng.randint(1, 50)}")),
                                       user=user)
        if roll < 0.62:
            return self.block_action(user)
        if roll < 0.67:
            body = driver.command_body(rng.choice(COMMANDS), fuzz_text(rng), user=user)
            return body.replace("channel_name=sales", "channel_name=payload-launch").replace(
                f"user_name={user.lower()}", "user_name=payload.pete")
        return driver.command_body(rng.choice(COMMANDS), fuzz_text(rng), user=user)

    def block_action(self, user: str) -> str:
        rng = self.rng
        action_id, value = rng.choice((
            (f"pulse.answer.{rng.randint(1, 9)}.{rng.randint(1, 5)}", str(rng.randint(1, 99))),
            ("leadfeedback.edit", str(rng.randint(1, 5_000))),
            ("messaging.react.resonated", str(rng.randint(1, 50))),
            ("messaging.react.flat", fuzz_text(rng)[:200]),
        ))
        payload = {
            "type": "block_actions", "team": {"id": "T1", "domain": "acme"}, "user": {"id": user, "team_id": "T1"},
            "api_app_id": "A1", "trigger_id": "13345.trigger", "response_url": self.driver.fake.response_url("soak"),
            "actions": [{"type": "button", "action_id": action_id, "block_id": "b1", "action_ts": "1.2",
                         "value": value, "text": {"type": "plain_text", "text": "Button"}}],
            "container": {"type": "message", "message_ts": "1.1", "channel_id": "D1", "is_ephemeral": False},
            "channel": {"id": "D1"}, "message": {"ts": "1.1", "type": "message", "text": "", "blocks": []},
        }
        return urlencode({"payload": json.dumps(payload)})


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    """The Procfile's web line (settings checked in the master, gthread) on loopback, as ack_latency starts it.

    Its log goes to a file: a pipe nobody reads would fill and block the server."""
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:bot.gunicorn_config", "bot.wsgi:application",
         "--bind", f"127.0.0.1:{port}", *GUNICORN],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=log.open("w"),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server did not start:\n{log.read_text()}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not answer within 30 s")


def worker_pids(master: int) -> list[int]:
    pids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(master):
            pids.append(int(status.parent.name))
    return sorted(pids)


def rss_mb(pid: int) -> float:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:  # the worker has just exited
        return 0.0
    for line in lines:
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50_000, help="how many requests to send (50,000)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (8)")
    parser.add_argument("--max-minutes", type=float, default=60, help="stop sending after this long (60)")
    parser.add_argument("--every", type=int, default=REPORT_EVERY, help="print RSS every so many requests (5,000)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    fake = FakeSlackServer().start()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"SLACK_BOT_TOKEN": "xoxb-soak", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.url,
               "DATABASE_URL": f"sqlite:///{tmp}/soak.db", "RUN_SCHEDULER": "0", "LOG_LEVEL": "WARNING"}
        port = free_port()
        log = Path(tmp) / "server.log"
        server = start_server(env, port, log)
        driver = SlackDriver(app_url=f"http://127.0.0.1:{port}", secret=SECRET, fake=fake)
        traffic, statuses, lock = Traffic(driver, args.seed), Counter(), threading.Lock()
        refused_blocks = 0
        deadline = time.monotonic() + args.max_minutes * 60
        print(f"server: gunicorn {' '.join(GUNICORN)}   clients: {args.clients}   people: {PEOPLE}")
        print(f"{'requests':>9} {'seconds':>8}  worker RSS (MB)")
        started, sent = time.monotonic(), 0

        def send(body: str) -> None:
            try:
                status = driver.post(body).status
            except OSError as error:
                status = type(error).__name__
            with lock:
                statuses[status] += 1

        def report() -> None:
            workers = worker_pids(server.pid)
            figures = "  ".join(f"{pid}: {rss_mb(pid):.0f}" for pid in workers)
            print(f"{sent:>9} {time.monotonic() - started:>8.0f}  {figures}", flush=True)

        try:
            report()
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                while sent < args.requests and time.monotonic() < deadline:
                    batch = min(args.every, args.requests - sent)
                    list(pool.map(send, (traffic.next() for _ in range(batch))))
                    sent += batch
                    fake.reset()  # the fake keeps every call; the bench measures the server, not itself
                    with fake.lock:
                        refused_blocks += len(fake.problems)
                        fake.problems.clear()
                    report()
                    if server.poll() is not None:
                        print(f"the server exited ({server.returncode}); stopped sending")
                        break
        finally:
            stop(server)
            fake.stop()
            log_lines = log.read_text(errors="replace").splitlines()
        if sent < args.requests:
            print(f"stopped after {args.max_minutes:g} minutes")
        print("answers by status:", ", ".join(f"{status}: {count}" for status, count in sorted(
            statuses.items(), key=lambda item: str(item[0]))))
        print(f"Slack calls the fake refused (invalid blocks): {refused_blocks}   server log lines: {len(log_lines)}")
        for line in log_lines[-5:]:
            print("  log:", line[:200])


if __name__ == "__main__":
    main()
