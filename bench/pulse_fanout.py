"""How long a pulse round takes to reach everyone when Slack allows N chat.postMessage calls a second.

For each rate N it opens one round for `--members` people (half sales, half marketing) on a fresh
database (a temporary SQLite file, or a throwaway schema of `--database-url` PostgreSQL), then times
Crossfeed's real outbox and WebClient delivering every prompt DM to a fake Slack Web API on loopback.
The fake allows N posts in each fixed one-second window and answers the rest with HTTP 429 and
`Retry-After: 1` (whole seconds, as Slack does); it skips Block Kit validation per call so the
timing is ours, and checks one sample post after the run instead.

Reading the table (one row per rate, after an unprinted warm-up run; "unlimited" comes first):
  ideal     members ÷ N: the time Slack's limit alone imposes.
  ratio     elapsed ÷ ideal. 1.00 means the outbox kept Slack's allowance fully used; anything above
            is time lost to 429s (each pauses the workspace for Retry-After, whole seconds), to a pace
            learned below N, or to our own per-message work when that is slower than 1/N s.
            The "unlimited" row has no 429s, so its time is all ours: if its busy ms/msg exceeds
            1000/N, one sender cannot reach ratio 1.00 at rate N.
  429s      rejected posts the fake answered (the outbox pauses the workspace and sends them later).
  retries   messages the WebClient gave up on, rescheduled by the outbox with backoff; that backoff
            is skipped on the outbox's clock, not waited out, so it is not in `elapsed`.
  then where the time went, in seconds: enqueue (opening the round and queueing every DM), compose
  (rendering the DM with the reads it needs), http (each post: slack-sdk serialisation, the loopback
  round trip, the fake's own work), pace wait (waiting for a workspace's paced slot or a 429's pause to
  end), db+loop (the rest: the claim and mark-sent transactions and the loop); busy ms/msg is
  (elapsed - pace wait) ÷ members.

    python bench/pulse_fanout.py                      # 5,000 members: unlimited, then 50, 100, 200 a second
    python bench/pulse_fanout.py --quick              # 1,000 members
    python bench/pulse_fanout.py --rate 20 50 --members 2000 --latency-ms 30
    python bench/pulse_fanout.py --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `tests` is not an installed package

from slack_sdk.oauth.installation_store.models.installation import Installation  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from bench.databases import fresh_database  # noqa: E402
from bot.container import Crossfeed  # noqa: E402
from bot.outbox import PAUSE_WAIT_MAX  # noqa: E402
from bot.pulse import open_due_round, queue_due_prompts  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.working_time import WEEKDAYS  # noqa: E402
from storage import teams as teams_store  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.installations import WorkspaceInstallationStore  # noqa: E402
from storage.models import OutboxMessage  # noqa: E402
from storage.outbox import QUEUED  # noqa: E402
from tests.fake_slack import KeepAliveHandler, KeepAliveServer, check_blocks  # noqa: E402
from tests.helpers import OPENING, make_teams  # noqa: E402

RETRIES = 10  # the WebClient's 429 retries per call (Settings allows at most 10)
MAX_PASSES = 100  # deliver_due() runs per fan-out before the bench gives up
WARM_UP = 200  # members of an unprinted first fan-out
ROOT = Path(__file__).resolve().parents[1]
CLIENT_ID = "1111.2222"  # many-workspace mode installs each workspace as OAuth would


# --- a fake Slack that rate-limits chat.postMessage ------------------------------------------------


class RateLimitedSlack(KeepAliveServer):
    """auth.test, views.publish and chat.postMessage; at most `rate` posts per one-second window (None: no
    limit)."""

    request_queue_size = 64

    def __init__(self, rate: int | None, latency: float = 0.0):
        super().__init__(RateLimitedHandler)
        self.rate, self.latency = rate, latency
        self.lock = threading.Lock()
        self.posts: Counter[str] = Counter()  # channel -> successful posts
        self.limited = 0
        self.sample: dict | None = None  # the first accepted post, for one Block Kit check after the run
        self._windows: dict[str, tuple[int, int]] = {}  # token (a workspace) → (its window, posts used in it)
        self.by_workspace: Counter[tuple[str, str]] = Counter()  # (token, channel) -> successful posts
        self._ts = itertools.count(1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/"

    def admit(self, params: dict, token: str = "") -> str | None:
        """The new message's ts, or None when this second's allowance of the token's workspace is used up (each
        workspace has an allowance of its own, as Slack's limits are per workspace)."""
        with self.lock:
            window = int(time.monotonic())
            start, used = self._windows.get(token, (window, 0))
            if start != window:
                used = 0
            if self.rate is not None and used >= self.rate:
                self.limited += 1
                return None
            self._windows[token] = (window, used + 1)
            self.posts[params.get("channel")] += 1
            self.by_workspace[(token, params.get("channel"))] += 1
            if self.sample is None:
                self.sample = params
            return f"1700000000.{next(self._ts):06d}"


class RateLimitedHandler(KeepAliveHandler):
    server: RateLimitedSlack

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        params = json.loads(raw) if raw.startswith("{") else dict(parse_qsl(raw))
        method = self.path.rsplit("/", 1)[-1]
        if self.server.latency:
            time.sleep(self.server.latency)  # a network round trip, if asked for
        if method == "auth.test":
            return self.reply(200, {"ok": True, "user_id": "UBOT", "bot_id": "B1", "team_id": "T1"})
        if method == "views.publish":  # each person's Home, refreshed with their prompt (its own tier: no limit here)
            return self.reply(200, {"ok": True, "view": {"id": "V1"}})
        if method != "chat.postMessage":
            return self.reply(404, {"ok": False, "error": "unknown_method"})
        ts = self.server.admit(params, self.headers.get("Authorization", "").removeprefix("Bearer "))
        if ts is None:
            # The window resets within a second and Slack's header is whole seconds: always 1.
            return self.reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
        return self.reply(200, {"ok": True, "channel": params.get("channel"), "ts": ts,
                                "message": {"text": params.get("text")}})

    def reply(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def fake_slack(rate: int | None, latency: float) -> Iterator[RateLimitedSlack]:
    server = RateLimitedSlack(rate, latency)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- a fresh database per run --------------------------------------------------------------------


# --- timing the parts ----------------------------------------------------------------------------


@dataclass
class Stopwatch:
    """Total time spent inside the functions it wraps."""

    seconds: float = 0.0

    def wrap(self, function: Callable) -> Callable:
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        return timed


@dataclass
class Stopwatches:
    compose: Stopwatch = field(default_factory=Stopwatch)  # render the DM, with the reads it needs
    slack: Stopwatch = field(default_factory=Stopwatch)  # chat_postMessage, 429 sleeps included
    sleep: Stopwatch = field(default_factory=Stopwatch)  # the retry handler's sleeps after 429s


class BenchClock:
    """The outbox's clock: the round's opening plus real time elapsed plus backoff skipped."""

    def __init__(self, start: datetime):
        self.start, self.origin = start, time.monotonic()
        self.skipped, self.jumps = 0.0, 0

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.origin + self.skipped)

    def skip_to(self, when: datetime) -> None:
        gap = (when - self()).total_seconds()
        if gap > 0:
            self.skipped += gap
            self.jumps += 1


def start_crossfeed(slack_url: str, database_url: str, *, watches: Stopwatches) -> Crossfeed:
    crossfeed = Crossfeed.start(Settings(
        _env_file=None, slack_bot_token="xoxb-bench", slack_signing_secret="x", slack_api_url=slack_url,
        database_url=database_url, slack_max_rate_limit_retries=RETRIES,
    ))
    outbox = crossfeed.outbox
    outbox.wait = watches.sleep.wrap(outbox.wait)  # a paced slot, or a 429's pause, within a pass
    outbox._send = watches.slack.wrap(outbox._send)  # each post: slack-sdk, the round trip, the fake's work
    outbox.composers = {kind: watches.compose.wrap(composer) for kind, composer in outbox.composers.items()}
    outbox.claim_composers = {kind: watches.compose.wrap(composer) for kind, composer in outbox.claim_composers.items()}
    return crossfeed


# --- one fan-out ---------------------------------------------------------------------------------


@dataclass
class Run:
    rate: int | None
    members: int
    elapsed: float = 0.0
    enqueue: float = 0.0
    limited: int = 0
    retries: int = 0  # outbox-level failed attempts, rescheduled with backoff
    paused: int = 0  # 429s the outbox answered by pausing the workspace for Retry-After
    skipped: float = 0.0  # backoff seconds skipped on the outbox clock
    watches: Stopwatches = field(default_factory=Stopwatches)
    problems: list[str] = field(default_factory=list)

    @property
    def ideal(self) -> float | None:
        return self.members / self.rate if self.rate else None


def pending(crossfeed: Crossfeed) -> tuple[int, datetime | None]:
    """How many messages are still pending, and when the earliest of them is due."""
    with crossfeed.sessions() as session:
        count, due = session.execute(
            select(func.count(), func.min(OutboxMessage.next_attempt_at)).where(OutboxMessage.status == "pending")
        ).one()
    return count, due


def deliver_everything(crossfeed: Crossfeed, clock: BenchClock, run: Run) -> None:
    """deliver_due() until nothing is pending, skipping the clock over backoffs instead of sleeping."""
    for _ in range(MAX_PASSES):
        report = crossfeed.outbox.deliver_due()
        run.retries += report.failed
        run.paused += report.rate_limited
        count, due = pending(crossfeed)
        if count == 0:
            return
        if due is not None and (due - clock()).total_seconds() <= PAUSE_WAIT_MAX.total_seconds():
            # A workspace's pause (Slack's Retry-After): real time, since the fake's windows are real time.
            run.watches.sleep.wrap(time.sleep)(max(0.0, (due - clock()).total_seconds()))
        else:
            clock.skip_to(due)
    run.problems.append(f"still {pending(crossfeed)[0]} pending after {MAX_PASSES} passes")


def fan_out(members: int, rate: int | None, *, database_url: str | None, latency: float) -> Run:
    run = Run(rate=rate, members=members)
    people = [f"U{i:05d}" for i in range(members)]
    with fake_slack(rate, latency) as slack, fresh_database(database_url) as url:
        crossfeed = start_crossfeed(slack.url, url, watches=run.watches)
        try:
            make_teams(crossfeed, sales=people[::2], marketing=people[1::2])
            clock = BenchClock(OPENING)
            crossfeed.outbox.clock = clock
            with crossfeed.transaction() as session:  # what the clock's pulse job does at the opening
                opened = open_due_round(session=session, team_id="T1", now=OPENING)
                queue_due_prompts(session=session, now=OPENING)
                session.info.pop(QUEUED, None)  # no after-commit pass beside the bench's: one sender, timed
            run.enqueue = time.monotonic() - clock.origin
            deliver_everything(crossfeed, clock, run)
            run.elapsed = time.monotonic() - clock.origin
            run.skipped = clock.skipped
            statuses = outbox_statuses(crossfeed)
        finally:
            crossfeed.close()
        run.limited = slack.limited
        run.problems += check_delivery(people, slack, opened.asked if opened else 0, statuses)
    return run


def outbox_statuses(crossfeed: Crossfeed) -> Counter[str]:
    with crossfeed.sessions() as session:
        return Counter(dict(session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()))


def check_delivery(people: list[str], slack: RateLimitedSlack, asked: int, statuses: Counter[str]) -> list[str]:
    """Every member got exactly one DM, the outbox agrees, and a sample post is valid Block Kit."""
    problems = []
    if asked != len(people):
        problems.append(f"asked {asked} of {len(people)}")
    members = set(people)
    missing = len(members - set(slack.posts))
    extra = len(set(slack.posts) - members)
    twice = sum(1 for count in slack.posts.values() if count > 1)
    for label, count in (("missing", missing), ("got 2+", twice), ("not a member", extra)):
        if count:
            problems.append(f"{count} {label}")
    if set(statuses) - {"sent"}:
        problems.append("outbox " + ", ".join(f"{s}={n}" for s, n in sorted(statuses.items())))
    if slack.sample is not None:
        problems += check_blocks("chat.postMessage", slack.sample)
    return problems


# --- many workspaces: each rate-limited on its own, delivered by outbox worker processes ----------------


@dataclass
class ManyRun:
    workers: int
    workspaces: int
    members: int
    rate: int
    elapsed: float = 0.0
    lost: int = 0
    duplicates: int = 0
    limited: int = 0
    worker_cpu: float = 0.0  # CPU seconds the worker processes used, user + system
    slowest: float = 0.0  # when the last workspace's last prompt landed (s after the queueing commit)
    fastest: float = 0.0  # when the first workspace had all its prompts

    @property
    def ideal(self) -> float:
        return self.members / self.rate  # the slowest workspace's members ÷ its allowed rate


def install_workspaces(url: str, team_ids: list[str], members: int) -> None:
    """Each workspace installed (its own bot token, as OAuth stores it), with its teams, scheduled to open now."""
    engine = make_engine(url)
    store = WorkspaceInstallationStore(client_id=CLIENT_ID, engine=engine)
    now = datetime.now(UTC)
    for team in team_ids:
        store.save(Installation(app_id="A1", enterprise_id=None, team_id=team, bot_token=f"xoxb-{team}",
                                bot_id="B1", bot_user_id="UBOT", user_id="UINSTALLER"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as session:
        for team in team_ids:
            config = teams_store.workspace_config(session=session, team_id=team)
            config.timezone, config.pulse_day = "UTC", WEEKDAYS[now.weekday()]
            config.pulse_time = (now - timedelta(minutes=1)).strftime("%H:%M")
            people = [f"U{n:04d}" for n in range(members)]
            teams_store.put_members(session=session, team_id=team, user_ids=people[::2], side="sales",
                                    origin="explicit")
            teams_store.put_members(session=session, team_id=team, user_ids=people[1::2], side="marketing",
                                    origin="explicit")
    engine.dispose()


def fan_out_many(workers: int, workspaces: int, members: int, rate: int, database_url: str) -> ManyRun:
    """Open every workspace's round at once and time worker processes delivering every prompt."""
    run = ManyRun(workers=workers, workspaces=workspaces, members=members, rate=rate)
    team_ids = [f"T{n:04d}" for n in range(workspaces)]
    with fake_slack(rate, 0.0) as slack, fresh_database(database_url) as url:
        env = {**os.environ, "DATABASE_URL": url, "SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": "secret",
               "SLACK_SIGNING_SECRET": "x", "SLACK_API_URL": slack.url, "OUTBOX_WORKERS": "1", "LOG_LEVEL": "ERROR"}
        env.pop("SLACK_BOT_TOKEN", None)
        settings = Settings(_env_file=None, slack_bot_token=None, slack_client_id=CLIENT_ID,
                            slack_client_secret="secret", slack_signing_secret="x", slack_api_url=slack.url,
                            database_url=url, outbox_workers=True)
        crossfeed = Crossfeed.start(settings)  # migrates; queues only (OUTBOX_WORKERS): the workers deliver
        install_workspaces(url, team_ids, members)
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        procs = [subprocess.Popen([sys.executable, "-m", "schedules", "worker"], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(workers)]
        try:
            time.sleep(3)  # the workers are up and waiting
            now = datetime.now(UTC)
            with crossfeed.transaction() as session:
                for team in team_ids:
                    open_due_round(session=session, team_id=team, now=now)
                queue_due_prompts(session=session, now=now)
            begun = time.monotonic()
            expected = workspaces * members
            done_at: dict[str, float] = {}
            deadline = begun + max(600.0, 20 * run.ideal)
            while time.monotonic() < deadline:
                with slack.lock:
                    per_token = Counter(token for token, _ in slack.by_workspace)
                for team in team_ids:
                    if team not in done_at and per_token[f"xoxb-{team}"] >= members:
                        done_at[team] = time.monotonic() - begun
                if sum(per_token.values()) >= expected and len(done_at) == workspaces:
                    break
                time.sleep(0.05)
            run.elapsed = time.monotonic() - begun
            time.sleep(2)  # anything sent twice would land now
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            crossfeed.close()
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers have been waited for
        run.worker_cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
        with slack.lock:
            delivered = Counter(slack.by_workspace)
        wanted = {(f"xoxb-{team}", f"U{n:04d}") for team in team_ids for n in range(members)}
        run.lost = len(wanted - set(delivered))
        run.duplicates = sum(count - 1 for count in delivered.values() if count > 1)
        run.limited = slack.limited
        run.slowest = max(done_at.values(), default=run.elapsed)
        run.fastest = min(done_at.values(), default=run.elapsed)
    return run


def many_workspaces(args: argparse.Namespace) -> None:
    if not args.database_url:
        sys.exit("--workspaces needs --database-url (PostgreSQL): outbox workers share the outbox through it")
    print(f"{args.workspaces} workspaces × {args.members} members, each workspace allowed {args.workspace_rate} "
          f"chat.postMessage a second (fixed 1 s windows, Retry-After: 1), PostgreSQL, `python -m schedules worker`")
    print(f"{'workers':>7} {'elapsed s':>9} {'ideal s':>7} {'ratio':>5} {'first ws done':>13} {'429s':>6} "
          f"{'lost':>5} {'dup':>4} {'worker cpu ms/msg':>17}")
    failed = False
    for workers in args.workers:
        run = fan_out_many(workers, args.workspaces, args.members, args.workspace_rate, args.database_url)
        print(f"{run.workers:7d} {run.elapsed:9.1f} {run.ideal:7.1f} {run.elapsed / run.ideal:5.2f} "
              f"{run.fastest:13.1f} {run.limited:6d} {run.lost:5d} {run.duplicates:4d} "
              f"{run.worker_cpu * 1000 / (run.workspaces * run.members):17.2f}", flush=True)
        failed |= bool(run.lost or run.duplicates)
    if failed:
        sys.exit(1)


# --- the report ----------------------------------------------------------------------------------


def print_header(members: int, database_url: str | None, latency: float) -> None:
    database = "PostgreSQL (throwaway schema)" if database_url else "SQLite (temporary file)"
    print(f"{members} members, {database}, one outbox worker, "
          f"fixed 1 s windows, Retry-After: 1, {latency * 1000:.0f} ms added per call")
    print(f"{'allowed/s':>9} {'elapsed s':>9} {'ideal s':>7} {'ratio':>5} {'429s':>5} {'retries':>7}"
          f"  {'enqueue':>7} {'compose':>7} {'http':>6} {'pace wait':>9} {'db+loop':>7} {'busy ms/msg':>11}  check")


def print_run(run: Run) -> None:
    watches = run.watches
    http = watches.slack.seconds
    db_and_loop = run.elapsed - run.enqueue - watches.compose.seconds - http - watches.sleep.seconds
    busy = run.elapsed - watches.sleep.seconds
    ideal = f"{run.ideal:7.1f}" if run.ideal else f"{'-':>7}"
    ratio = f"{run.elapsed / run.ideal:5.2f}" if run.ideal else f"{'-':>5}"
    retries = f"{run.retries}" + (f" ({run.skipped:.0f}s skipped)" if run.skipped else "")
    check = "OK" if not run.problems else "; ".join(run.problems)
    print(f"{run.rate or 'unlimited':>9} {run.elapsed:9.1f} {ideal} {ratio} {run.limited:5d} {retries:>7}"
          f"  {run.enqueue:7.2f} {watches.compose.seconds:7.2f} {http:6.2f} {watches.sleep.seconds:9.2f}"
          f" {db_and_loop:7.2f} {busy / run.members * 1000:11.2f}  {check}", flush=True)


def print_ceiling(baseline: Run) -> None:
    per_message = baseline.elapsed / baseline.members
    print(f"unthrottled: {per_message * 1000:.2f} ms a message end to end, so one worker tops out near "
          f"{1 / per_message:.0f} posts/s; a rate above that cannot reach ratio 1.00", flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=5000, help="team members asked (default 5000)")
    parser.add_argument("--quick", action="store_true", help="1,000 members")
    parser.add_argument("--rate", type=int, nargs="+", default=[50, 100, 200], metavar="N",
                        help="allowed chat.postMessage calls per second (default 50 100 200)")
    parser.add_argument("--database-url", help="a PostgreSQL URL; each run gets a throwaway schema in it")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay the fake adds to every call")
    parser.add_argument("--workspaces", type=int, help="many-workspace mode: this many workspaces, each with "
                        "--members people (default 100), each rate-limited on its own, delivered by worker processes")
    parser.add_argument("--workspace-rate", type=int, default=1, metavar="N",
                        help="many-workspace mode: chat.postMessage calls each workspace is allowed a second (1)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4],
                        help="many-workspace mode: outbox worker processes (default 1 2 4)")
    args = parser.parse_args()
    if args.workspaces and "--members" not in sys.argv:
        args.members = 100
    if args.quick:
        args.members = 1000
    if args.members < 2 or any(rate < 1 for rate in args.rate):
        parser.error("--members needs at least 2 people and every --rate at least 1")
    if args.database_url and not args.database_url.startswith(("postgres://", "postgresql")):
        parser.error("--database-url must be PostgreSQL; the default is a temporary SQLite file")
    return args


def main() -> None:
    args = parse_args()
    if args.workspaces:
        return many_workspaces(args)
    logging.getLogger("bot.outbox").setLevel(logging.ERROR)  # retries are counted, not logged one by one
    latency = args.latency_ms / 1000
    print_header(args.members, args.database_url, latency)
    # Warm up imports, SQLAlchemy's statement cache and slack-sdk first, or the first row pays for them.
    fan_out(min(args.members, WARM_UP), None, database_url=args.database_url, latency=0.0)
    runs = []
    for rate in [None, *args.rate]:
        run = fan_out(args.members, rate, database_url=args.database_url, latency=latency)
        print_run(run)
        runs.append(run)
    print_ceiling(runs[0])
    if any(run.problems for run in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()
