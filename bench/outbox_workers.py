"""Outbox workers on PostgreSQL: messages a second with 1, 2 and 4 `python -m schedules worker` processes, and how
soon a message is sent after the commit that queued it, by the committing process itself (the default) or by an
idle worker woken by the commit's NOTIFY (OUTBOX_WORKERS=1).

Each run gets a throwaway schema of `--database-url` and the tests' fake Slack, which answers each post and Home
publish after `--latency` seconds (Slack's own answer takes about 0.1 s). A run opens one pulse round: each member
gets a DM and a Home refresh (two messages), queued in one commit while the workers wait; it is timed from that
commit until every message is sent, and the fake's calls are counted for lost and duplicate DMs.

    python bench/outbox_workers.py --database-url postgresql://postgres@127.0.0.1:5432/test
    python bench/outbox_workers.py --database-url … --members 2000 --latency 0.1 --workers 1 2 4 8
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `tests` is not an installed package

from sqlalchemy import func, select  # noqa: E402

from bench.databases import fresh_database  # noqa: E402
from bot.container import Crossfeed  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage import outbox as store  # noqa: E402
from storage.models import OutboxMessage  # noqa: E402
from storage.queries import ensure_workspace  # noqa: E402
from tests import fake_slack as fake_module  # noqa: E402
from tests.fake_slack import FakeSlackServer  # noqa: E402
from tests.helpers import make_teams, open_round  # noqa: E402


def slow_fake(latency: float) -> FakeSlackServer:
    """The fake Slack, answering posts and Home publishes after `latency` seconds (each request its own thread)."""
    for method in ("chat.postMessage", "views.publish"):
        answer = fake_module.ANSWERS[method]

        def slowly(server, params, answer=answer):
            time.sleep(latency)
            return answer(server, params)

        fake_module.ANSWERS[method] = slowly
    return FakeSlackServer().start()


def start(database_url: str, fake: FakeSlackServer, *, workers: bool) -> Crossfeed:
    return Crossfeed.start(Settings(_env_file=None, slack_bot_token="xoxb-bench", slack_signing_secret="x",
                                    slack_api_url=fake.url, database_url=database_url, outbox_workers=workers))


def start_workers(count: int, database_url: str, fake: FakeSlackServer, logs: Path) -> list[subprocess.Popen]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "OUTBOX_"))}
    env.update(SLACK_BOT_TOKEN="xoxb-bench", SLACK_API_URL=fake.url, DATABASE_URL=database_url, OUTBOX_WORKERS="1",
               LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    processes = [subprocess.Popen([sys.executable, "-m", "schedules", "worker"], env=env, cwd=ROOT,
                                  stdout=(logs / f"worker{n}.log").open("w"), stderr=subprocess.STDOUT)
                 for n in range(count)]
    time.sleep(3)  # started and listening
    return processes


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(30)


def throughput(url: str, fake: FakeSlackServer, members: int, workers: int, logs: Path) -> str:
    with fresh_database(url) as database_url:
        queuer = start(database_url, fake, workers=True)
        half = members // 2
        make_teams(queuer, sales=[f"US{i:05d}" for i in range(half)],
                   marketing=[f"UM{i:05d}" for i in range(members - half)])
        processes = start_workers(workers, database_url, fake, logs)
        calls_before = len(fake.calls)
        try:
            began = time.monotonic()
            open_round(queuer)  # one commit queues them all and wakes the workers
            while True:
                with queuer.sessions() as session:
                    left = session.scalar(select(func.count()).where(OutboxMessage.status != "sent"))
                if not left:
                    break
                time.sleep(0.05)
            elapsed = time.monotonic() - began
        finally:
            stop(processes)
            queuer.close()
    posts = Counter(call.params["channel"] for call in fake.calls[calls_before:] if call.method == "chat.postMessage")
    duplicates = sum(n - 1 for n in posts.values())
    return (f"{workers} worker(s): {2 * members} messages in {elapsed:5.2f} s = {2 * members / elapsed:6.0f}/s; "
            f"{members - len(posts)} DMs lost, {duplicates} duplicate")


def wake_latency(url: str, fake: FakeSlackServer, logs: Path, *, workers: bool, times: int = 20) -> str:
    """Seconds from a commit queueing one Home refresh to the fake receiving its views.publish."""
    waits = []
    with fresh_database(url) as database_url:
        app = start(database_url, fake, workers=workers)
        processes = start_workers(1, database_url, fake, logs) if workers else []
        try:
            with app.transaction() as session:
                ensure_workspace(session=session, team_id="T1")
            for n in range(times):
                seen = len(fake.calls_to("views.publish"))
                committed = time.monotonic()
                with app.transaction() as session:
                    store.queue_home_refresh(session=session, team_id="T1", user_ids=[f"U{n}"], now=datetime.now(UTC))
                while len(fake.calls_to("views.publish")) == seen:
                    time.sleep(0.001)
                waits.append(time.monotonic() - committed)
                time.sleep(0.1)
        finally:
            stop(processes)
            app.close()
    who = "an idle worker woken by NOTIFY" if workers else "the committing process"
    return (f"commit → sent by {who}: p50 {statistics.median(waits) * 1000:.0f} ms, "
            f"max {max(waits) * 1000:.0f} ms ({times} messages)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL URL; each run gets a throwaway schema")
    parser.add_argument("--members", type=int, default=1000, help="pulse members: two messages each (default 1000)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the fake takes to answer (default 0.05)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    fake = slow_fake(args.latency)
    with tempfile.TemporaryDirectory() as folder:
        logs = Path(folder)
        print(f"outbox workers on PostgreSQL, fake Slack answering in {args.latency * 1000:.0f} ms, {os.cpu_count()} "
              f"cores")
        print(wake_latency(args.database_url, fake, logs, workers=False))
        print(wake_latency(args.database_url, fake, logs, workers=True))
        for count in args.workers:
            print(throughput(args.database_url, fake, args.members, count, logs))
    fake.stop()


if __name__ == "__main__":
    main()
