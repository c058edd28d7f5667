"""What the clock's `leads` job costs: every minute when nothing is due, and in a minute when much is.

Seeds 100,000 handed-off leads over 20 workspaces (a year of history: almost all accepted and rated), then times
the `leads` job (schedules/jobs.py, the function the clock runs):

  idle   nothing due: the minute-by-minute cost (median of 30 runs)
  burst  3,000 follow-ups due at once (1,000 reminders, 1,000 escalations, 1,000 rating prompts): claimed and
         queued in the outbox, one transaction per workspace (one run), then the next run, which finds nothing

Runs on SQLite, and on PostgreSQL too when one answers on 127.0.0.1:5432 (or --database-url), in a throwaway
database. Slack is not called: the job only queues; delivery is the outbox's (bench/pulse_fanout.py).

    python bench/follow_up_clock.py
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from bot.settings import Settings  # noqa: E402
from schedules.jobs import JobRuntime, follow_up_leads  # noqa: E402
from storage import teams  # noqa: E402
from storage.db import make_engine, migrate  # noqa: E402
from storage.models import Lead, LeadRating, OutboxMessage  # noqa: E402

NOW = datetime.now(UTC)  # real time: freezegun would freeze the timer too
TEAMS = [f"T{n:02d}" for n in range(20)]
HISTORY, DUE_EACH = 100_000, 1_000


def seed(sessions) -> None:
    with sessions.begin() as session:
        for team in TEAMS:
            config = teams.workspace_config(session=session, team_id=team)
            config.timezone, config.sales_channel = "America/New_York", "C0SALES"
    leads, rated = [], []
    for n in range(HISTORY):
        team, received = TEAMS[n % len(TEAMS)], NOW - timedelta(days=2 + n % 365, minutes=n % 600)
        key = f"hist-{n}"
        leads.append(dict(team_id=team, crm_id=key, lead_key=key, owner_user_id=f"U{n % 300}", status="accepted",
                          routing_pending=False, received_at=received, updated_at=received, sla_minutes=60,
                          remind_at=received + timedelta(minutes=30), due_at=received + timedelta(hours=1),
                          assigned_at=received, accepted_at=received + timedelta(minutes=20), accept_minutes=20,
                          rate_prompt_at=received + timedelta(days=1),
                          rate_prompted_at=received + timedelta(days=1),
                          rate_reminded_at=received + timedelta(days=2)))
        rated.append(dict(team_id=team, rater_user_id=f"U{n % 300}", lead_ref=key, lead_key=key, rating=3,
                          rated_at=received, updated_at=received))
    with sessions.begin() as session:
        session.execute(insert(Lead), leads)
        session.execute(insert(LeadRating), rated)


def seed_due(sessions) -> None:
    """1,000 leads past half their time, 1,000 past all of it, 1,000 accepted a working day ago and unrated."""
    received = NOW - timedelta(minutes=45)
    rows = []
    for n in range(3 * DUE_EACH):
        kind, key = n // DUE_EACH, f"due-{n}"
        row = dict(team_id=TEAMS[n % len(TEAMS)], crm_id=key, lead_key=key, owner_user_id=f"U{n % 300}",
                   status="assigned", routing_pending=False, received_at=received, updated_at=received,
                   sla_minutes=60, remind_at=received + timedelta(minutes=30), due_at=received + timedelta(hours=1),
                   assigned_at=received)
        if kind == 1:
            row.update(received_at=NOW - timedelta(minutes=70), remind_at=NOW - timedelta(minutes=40),
                       due_at=NOW - timedelta(minutes=10), reminded_at=NOW - timedelta(minutes=40))
        if kind == 2:
            row.update(status="accepted", received_at=NOW - timedelta(days=2), accepted_at=NOW - timedelta(days=2),
                       accept_minutes=10, rate_prompt_at=NOW - timedelta(minutes=1), reminded_at=None)
        rows.append(row)
    with sessions.begin() as session:
        session.execute(insert(Lead), rows)


def measure(url: str, label: str) -> None:
    engine = make_engine(url)
    migrate(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    settings = Settings(_env_file=None, slack_bot_token="xoxb-bench", slack_signing_secret="s", database_url=url)
    runtime = JobRuntime(settings=settings, sessions=sessions, outbox=None, client_for=None)
    started = time.perf_counter()
    seed(sessions)
    print(f"{label}: seeded {HISTORY:,} leads and ratings in {time.perf_counter() - started:.1f} s")
    idle = []
    for _ in range(30):
        begun = time.perf_counter()
        follow_up_leads(runtime)
        idle.append(time.perf_counter() - begun)
    seed_due(sessions)
    begun = time.perf_counter()
    summary = follow_up_leads(runtime)
    burst = time.perf_counter() - begun
    begun = time.perf_counter()
    again = follow_up_leads(runtime)
    after = time.perf_counter() - begun
    with sessions() as session:
        queued = session.scalar(select(func.count()).select_from(OutboxMessage))
    print(f"{label}: idle run (nothing due) median {statistics.median(idle) * 1000:.1f} ms, "
          f"max {max(idle) * 1000:.1f} ms")
    print(f"{label}: burst run {burst * 1000:.0f} ms for {summary!r}; {queued:,} messages queued")
    print(f"{label}: next run {after * 1000:.1f} ms: {again!r}")
    engine.dispose()


def postgres_answers(host: str = "127.0.0.1", port: int = 5432) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        measure(f"sqlite:///{folder}/bench.db", "SQLite")
    if args.database_url and postgres_answers():
        name = f"cf_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            measure(admin.url.set(database=name).render_as_string(hide_password=False), "PostgreSQL")
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
