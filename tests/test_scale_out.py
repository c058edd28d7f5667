"""Many processes on PostgreSQL: outbox workers sharing one outbox, and two clocks of which one runs the jobs.

The workers are the real entry point (the Procfile's `python -m schedules worker`), each its own process with its
own bot token (so the fake Slack tells who sent what), against the fake Slack and one database; one of them is
killed (SIGKILL) right after Slack posted one of its messages. The clocks are the real `run_clock` loop, each with
its own engine and lock connection as separate processes have, the first of them cut off by PostgreSQL ending its
connection; and two real `python -m schedules` processes, the active one killed.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import event, text

from bot.container import Crossfeed
from bot.outbox import LEASE
from schedules import clock, jobs, worker
from schedules.clock import configure, run_clock
from storage import outbox as store
from storage.coordination import CLOCK_LOCK_ID, ClockLock, OutboxWakeups
from storage.db import make_engine
from storage.models import OutboxMessage
from tests import fake_slack as fake_module
from tests.helpers import ROOT, environment, make_settings, make_teams, open_round, run
from tests.helpers import outbox as outbox_rows
from tests.test_settings_and_entrypoints import procfile_command

SALES = [f"US{i:03d}" for i in range(150)]
MARKETING = [f"UM{i:03d}" for i in range(150)]
EVERYONE = SALES + MARKETING


@pytest.fixture
def pg_url(postgresql_database) -> str:
    """A migrated PostgreSQL database with nothing in it (skipped without TEST_DATABASE_URL)."""
    postgresql_database.empty()
    return postgresql_database.url


def wait_until(condition, timeout: float = 30, every: float = 0.05, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(every)


# --- The claim: two workers never take one row ----------------------------------------------------------------


def test_a_workers_claim_skips_the_rows_another_worker_is_claiming_instead_of_taking_or_waiting_for_them(
        pg_url, fake_slack):
    queuer = Crossfeed.start(make_settings(pg_url, fake_slack, outbox_workers=True), apply_migrations=False)
    try:
        make_teams(queuer, sales=SALES[:10], marketing=MARKETING[:10])
        open_round(queuer)  # 20 pulse DMs queued (nobody has a Home tab to refresh); this process sends none
        assert [m.status for m in outbox_rows(queuer)] == ["pending"] * 20
        statements = []
        threading_lock = threading.Lock()

        def record(conn, cursor, statement, *args):
            with threading_lock:
                statements.append(statement)

        event.listen(queuer.engine, "before_cursor_execute", record)
        now = datetime.now(UTC)
        first, second = queuer.sessions(), queuer.sessions()
        with first.begin(), second.begin():
            # The first worker's claim is not committed yet: its rows are locked, and the second skips them.
            mine = store.claim_due(session=first, now=now, lease=LEASE, limit=worker.WORKER_BATCH // 2)
            theirs = store.claim_due(session=second, now=now, lease=LEASE, limit=worker.WORKER_BATCH // 2)
        event.remove(queuer.engine, "before_cursor_execute", record)
    finally:
        queuer.close()

    assert len(mine) == len(theirs) == 10
    assert not {m.id for m in mine} & {m.id for m in theirs}
    [claim, _] = [s for s in statements if "UPDATE outbox SET" in s]  # the same statement, run by each
    assert "FOR UPDATE SKIP LOCKED" in claim


# --- Three worker processes, one killed mid-batch --------------------------------------------------------------


def start_worker(name: str, pg_url: str, fake_slack, tmp_path) -> subprocess.Popen:
    env = environment({"SLACK_BOT_TOKEN": f"xoxb-{name}", "SLACK_API_URL": fake_slack.url, "DATABASE_URL": pg_url,
                       "OUTBOX_WORKERS": "1", "PYTHONPATH": str(ROOT)})
    log = (tmp_path / f"{name}.log").open("w")
    [python, *args] = procfile_command("worker").split()  # the Procfile's worker line, run by this Python
    assert python == "python"
    return subprocess.Popen([sys.executable, *args], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)


def sender(call) -> str:
    return call.auth.removeprefix("Bearer xoxb-")


def test_three_worker_processes_send_each_of_300_dms_once_though_one_is_killed_right_after_a_post(
        pg_url, fake_slack, tmp_path, monkeypatch):
    queuer = Crossfeed.start(make_settings(pg_url, fake_slack, outbox_workers=True), apply_migrations=False)
    make_teams(queuer, sales=SALES, marketing=MARKETING)
    open_round(queuer)  # 300 pulse DMs queued (nobody has a Home tab to refresh), and a NOTIFY nobody heard yet
    assert Counter((m.kind, m.status) for m in outbox_rows(queuer)) == {("pulse_prompt", "pending"): 300}

    workers = {name: start_worker(name, pg_url, fake_slack, tmp_path) for name in ("w1", "w2", "w3")}
    victim, posted_by_victim = workers["w1"], []
    real_post = fake_module.ANSWERS["chat.postMessage"]

    def post_then_kill_the_victim(server, params):
        answer = real_post(server, params)  # the DM lands in the conversation
        [call] = [c for c in server.calls if c.params is params]
        if sender(call) == "w1":
            posted_by_victim.append(params["channel"])
            if len(posted_by_victim) == 5:
                victim.send_signal(signal.SIGKILL)  # before Slack's answer reaches it: the post is in doubt
                victim.wait(10)
        return answer

    monkeypatch.setitem(fake_module.ANSWERS, "chat.postMessage", post_then_kill_the_victim)
    try:
        wait_until(lambda: victim.poll() is not None, what="the first worker to post five DMs")

        def unsent() -> list[OutboxMessage]:
            return [m for m in outbox_rows(queuer) if m.status != "sent"]

        def left_to_the_lease() -> bool:
            """Nothing is pending, and what is still being sent stays so for two polls: the dead worker's claim."""
            before = [(m.id, m.status) for m in unsent()]
            time.sleep(2 * worker.POLL)
            return all(status == "sending" for _, status in before) and before == [(m.id, m.status) for m in unsent()]

        # The two others send everything but what the dead worker held: nobody takes it before its lease ran out.
        wait_until(left_to_the_lease, what="the other workers")
        held = unsent()
        assert 0 < len(held) <= worker.WORKER_BATCH, "the dead worker's batch"
        assert posted_by_victim[-1] in {m.channel for m in held}, "its last post, which Slack never answered"
        with queuer.transaction() as session:  # five minutes later, without waiting them
            session.execute(text("UPDATE outbox SET claimed_at = claimed_at - make_interval(secs => :lease) "
                                 "WHERE status = 'sending'"), {"lease": LEASE.total_seconds()})
        wait_until(lambda: not unsent(), what="the held messages to be sent after their lease")
    finally:
        for process in workers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        stopped = {name: process.wait(20) for name, process in workers.items()}
        rows = outbox_rows(queuer)
        queuer.close()

    assert stopped["w2"] == stopped["w3"] == 0, "SIGTERM ends a worker cleanly"
    for name in ("w2", "w3"):
        log = (tmp_path / f"{name}.log").read_text()
        assert "outbox worker stopped" in log and "Traceback" not in log, log
    # Every person has one DM, and the row of each says so, with that DM's ts.
    landed = {user: fake_slack.history.get("D" + user, []) for user in EVERYONE}
    assert Counter(len(dms) for dms in landed.values()) == {1: 300}
    prompts = [m for m in rows if m.kind == "pulse_prompt"]
    assert all((m.status, m.slack_ts) == ("sent", landed[m.payload["user_id"]][0]["ts"]) for m in prompts)
    assert {m.status for m in rows} == {"sent"}
    # One post per message: the victim's five unanswered posts were found in the DMs, not made again.
    posts = fake_slack.calls_to("chat.postMessage")
    assert Counter(call.params["channel"] for call in posts) == Counter({user: 1 for user in EVERYONE})
    reads = {read.params["channel"] for read in fake_slack.calls_to("conversations.history")}
    assert reads == {"D" + m.channel for m in held if m.kind == "pulse_prompt"}, \
        "only the posts the dead worker held are read back (Home publishes are idempotent)"
    by_worker = Counter(sender(call) for call in posts)
    assert by_worker["w1"] == 5 and by_worker["w2"] and by_worker["w3"], by_worker


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_commit_that_queues_a_message_wakes_a_waiting_worker(database_url, fake_slack, start_app, monkeypatch):
    monkeypatch.setattr(worker, "POLL", 120)  # no poll comes in the test's time: only the commit's NOTIFY
    web = start_app(outbox_workers=True, lead_feed_channel="C_FEED")
    delivering = Crossfeed.start(make_settings(database_url, fake_slack, outbox_workers=True,
                                               slack_bot_token="xoxb-worker"), apply_migrations=False)
    wakeups, stopping = OutboxWakeups(delivering.engine), threading.Event()
    wakeups.wait(0)  # listening from now on
    thread = threading.Thread(target=worker.run_worker, args=(delivering.outbox, wakeups, stopping))
    thread.start()
    try:
        web.slack.command("/leadfeedback", "ACME-1 1 spam")
        [post] = fake_slack.wait_for("chat.postMessage", timeout=10)
        [home] = fake_slack.wait_for("views.publish", timeout=10)  # the rater's Home refresh
    finally:
        stopping.set()
        thread.join(10)
        wakeups.close()
        delivering.close()

    assert (post.params["channel"], sender(post)) == ("C_FEED", "worker"), "the worker posts it, not the web process"
    assert [m.status for m in outbox_rows(web.crossfeed) if m.kind == "lead_feed"] == ["sent"]
    assert (home.params["user_id"], sender(home)) == ("U1", "worker")


def test_sigterm_ends_a_worker_after_the_message_in_hand_and_gives_the_rest_of_its_batch_back(
        pg_url, fake_slack, tmp_path, monkeypatch):
    queuer = Crossfeed.start(make_settings(pg_url, fake_slack, outbox_workers=True), apply_migrations=False)
    make_teams(queuer, sales=SALES[:30], marketing=[])
    open_round(queuer)  # 30 DMs: more than one batch
    real_post = fake_module.ANSWERS["chat.postMessage"]
    draining = start_worker("w1", pg_url, fake_slack, tmp_path)

    def post_then_stop_the_worker(server, params):
        if len(server.calls_to("chat.postMessage")) == 3:
            draining.send_signal(signal.SIGTERM)  # as the platform stops it, while this post is in hand
            time.sleep(0.2)
        return real_post(server, params)

    monkeypatch.setitem(fake_module.ANSWERS, "chat.postMessage", post_then_stop_the_worker)
    try:
        exit_status = draining.wait(20)
        rows = outbox_rows(queuer)
    finally:
        queuer.close()

    assert exit_status == 0
    posted = [call.params["channel"] for call in fake_slack.calls_to("chat.postMessage")]
    assert len(posted) == 3, "the message in hand is finished, no other is started"
    prompts = [m for m in rows if m.kind == "pulse_prompt"]
    assert {m.channel for m in prompts if m.status == "sent"} == set(posted)
    assert Counter(m.status for m in prompts) == {"sent": 3, "pending": 27}
    assert {m.status for m in rows} == {"sent", "pending"}, "nothing left claimed"
    assert all(m.attempts == 0 for m in rows if m.status == "pending"), "given back as if never tried"
    assert "outbox worker stopped" in (tmp_path / "w1.log").read_text()


# --- On SQLite: no worker, and no OUTBOX_WORKERS -----------------------------------------------------------------


def test_the_worker_refuses_to_start_on_sqlite_saying_what_delivers_there(tmp_path):
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "PYTHONPATH": str(ROOT)}

    result = run(["-m", "schedules", "worker"], env, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.startswith("crossfeed: the outbox worker needs PostgreSQL")
    assert "python -m bot" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_outbox_workers_on_sqlite_is_refused_as_a_setting(tmp_path, monkeypatch, capsys):
    from bot.settings import load_settings

    monkeypatch.chdir(tmp_path)
    for name, value in {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "OUTBOX_WORKERS": "1"}.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(SystemExit):
        load_settings()

    assert capsys.readouterr().err.startswith("crossfeed: invalid setting OUTBOX_WORKERS: outbox workers need "
                                              "PostgreSQL")


# --- Two clocks --------------------------------------------------------------------------------------------------


class ProbedClock:
    """`run_clock` in a thread with its own engine (its own lock connection), as a second process has. Its job
    table is the test's (`probe_jobs`): one job, every 50 ms, given the clock's name as its runtime."""

    def __init__(self, name: str, pg_url: str):
        self.engine = make_engine(pg_url, pool_size=1)
        self.lock = ClockLock(self.engine)
        self.stopping = threading.Event()

        def start(holds_lock):
            scheduler = BackgroundScheduler()
            configure(scheduler, name, holds_lock=holds_lock)
            scheduler.start()
            return scheduler

        self.thread = threading.Thread(target=run_clock, args=(name, self.lock, self.stopping, start))

    def start(self) -> ProbedClock:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(10)
        self.engine.dispose()


def lock_holder_pid(pg_url: str) -> int | None:
    engine = make_engine(pg_url)
    with engine.connect() as connection:
        pid = connection.scalar(text(  # this database's clock lock (each test process has a database of its own)
            "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' "
            "AND l.granted AND d.datname = current_database() AND l.objid = (:id & 4294967295)"), {"id": CLOCK_LOCK_ID})
    engine.dispose()
    return pid


def test_of_two_clocks_one_runs_the_jobs_and_the_other_takes_over_when_its_connection_ends(pg_url, monkeypatch):
    monkeypatch.setattr(clock, "STANDBY_RETRY", 0.2)
    monkeypatch.setattr(clock, "LOCK_CHECK", 0.2)
    runs: list[tuple[str, float]] = []

    def probe(clock_name: str) -> str:
        runs.append((clock_name, time.monotonic()))
        return "probe"

    monkeypatch.setattr(jobs, "JOBS", {"probe": probe})
    monkeypatch.setitem(clock.EVERY, "probe", (0.05, 60))
    first = ProbedClock("first", pg_url).start()
    second = None
    try:
        wait_until(lambda: runs, what="the first clock's jobs")
        second = ProbedClock("second", pg_url).start()
        time.sleep(0.5)
        assert {name for name, _ in runs} == {"first"}, "the second clock stands by"

        # PostgreSQL ends the first clock's lock connection (a crash, a network cut, a failover of the database).
        engine = make_engine(pg_url)
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": lock_holder_pid(pg_url)})
        engine.dispose()
        cut = time.monotonic()
        wait_until(lambda: any(name == "second" for name, _ in runs), timeout=5, what="the second clock")
        took_over = min(t for name, t in runs if name == "second") - cut
        time.sleep(0.5)

        second.stop()  # and when the second one stops, the first (standing by since) takes over again
        wait_until(lambda: runs[-1][0] == "first", timeout=5, what="the first clock again")
    finally:
        first.stop()
        if second is not None:
            second.stop()

    assert took_over < clock.STANDBY_RETRY + 1
    # One clock at a time: the runs are the first clock's, then the second's, then the first's, never mixed.
    assert [name for name, _ in itertools.groupby(name for name, _ in sorted(runs, key=lambda r: r[1]))] == \
        ["first", "second", "first"]


def test_the_clock_process_stands_by_while_another_is_active_and_takes_over_when_it_is_killed(
        pg_url, fake_slack, tmp_path):
    env = environment({"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": fake_slack.url, "DATABASE_URL": pg_url,
                       "PYTHONPATH": str(ROOT)})

    def start_clock(name: str) -> subprocess.Popen:
        log = (tmp_path / f"{name}.log").open("w")
        return subprocess.Popen([sys.executable, "-m", "schedules"], env=env, cwd=tmp_path, stdout=log,
                                stderr=subprocess.STDOUT)

    def said(name: str, line: str) -> bool:
        return line in (tmp_path / f"{name}.log").read_text()

    first = start_clock("first")
    second = None
    try:
        wait_until(lambda: said("first", "clock active"), what="the first clock")
        second = start_clock("second")
        wait_until(lambda: said("second", "clock on standby"), what="the second clock")
        assert not said("second", "clock running")

        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed = time.monotonic()
        wait_until(lambda: said("second", "clock running"), timeout=10, what="the second clock to take over")
        took_over = time.monotonic() - killed
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                assert process.wait(20) == 0
    assert took_over < clock.STANDBY_RETRY + 2
    output = (tmp_path / "second.log").read_text()
    assert output.index("clock on standby") < output.index("clock active") < output.index("clock running")
    assert "Traceback" not in output


def test_a_clock_on_sqlite_runs_its_jobs_without_a_lock(tmp_path, fake_slack):
    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    lock = ClockLock(engine)
    assert lock.try_acquire() and lock.held() and ClockLock(engine).try_acquire(), "one process: nothing to share"
    lock.release()
    engine.dispose()
