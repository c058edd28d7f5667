"""What the clock's pulse work costs now that each person is prompted at their own local time.

Seeds 200 workspaces × 100 members (20,000 people) spread over eight time zones from Sydney to San Francisco, each
person's zone already read from Slack (so no Slack call is made), and a few people away. Then, at chosen moments,
runs the steps the clock's `pulse` and `reminders` jobs run each minute (schedules/jobs.py: open due rounds, queue
due prompts, seal closed rounds; queue due reminders), passing the moment in instead of reading the clock:

  idle     Monday: nothing due anywhere (median of 20 runs: the every-minute cost)
  open     the first zone's 10:00 on Wednesday: every workspace's round opens (ledger written for everyone, with
           each person's own prompt and reminder time) and the first zone's people are prompted
  wave     each later zone's 10:00: that zone's people prompted (median and max over the waves)
  quiet    a minute after a wave: nothing new due (median of 20 runs)
  remind   each zone's reminder time (24 hours after its opening): that zone's reminders
  seal     after the close: every round's answers rewritten in key order (with 30 answers per workspace)

Runs on SQLite, and on PostgreSQL too when one answers on 127.0.0.1:5432 (or --database-url), in a throwaway
database. Slack is not called: the jobs only queue; delivery is the outbox's (bench/pulse_fanout.py).

    python bench/pulse_clock.py
    python bench/pulse_clock.py --workspaces 50 --members 40
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from bot.pulse import open_due_round, queue_due_prompts, queue_due_reminders, seal_closed_rounds  # noqa: E402
from storage import teams  # noqa: E402
from storage.db import make_engine, migrate  # noqa: E402
from storage.models import OutboxMessage, Person, PulseAnswer, PulseRound, TeamMember  # noqa: E402

ZONES = ["Australia/Sydney", "Asia/Tokyo", "Asia/Kolkata", "Europe/Berlin", "Europe/London", "America/New_York",
         "America/Chicago", "America/Los_Angeles"]
WEDNESDAY = date(2026, 12, 9)
SECRET = b"bench-secret-0123456789abcdef0123"


def opening(zone: str) -> datetime:
    return datetime.combine(WEDNESDAY, datetime.min.time().replace(hour=10), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def seed(sessions, workspaces: int, members: int) -> list[str]:
    team_ids = [f"T{n:04d}" for n in range(workspaces)]
    with sessions.begin() as session:
        for team in team_ids:
            config = teams.workspace_config(session=session, team_id=team)
            config.timezone = "America/New_York"
    checked = datetime(2026, 12, 7, tzinfo=UTC)
    people, zones = [], []
    for team in team_ids:
        for n in range(members):
            user = f"U{team[1:]}{n:03d}"
            people.append(dict(team_id=team, user_id=user, side="sales" if n % 2 else "marketing",
                               origin="explicit", added_at=checked))
            away = n % 37 == 0  # a few on holiday, declared or by status
            zones.append(dict(team_id=team, user_id=user, timezone=ZONES[n % len(ZONES)], profile_checked_at=checked,
                              away_until=WEDNESDAY + timedelta(days=7) if away and n % 2 else None,
                              status_text="Vacationing" if away and not n % 2 else None))
    with sessions.begin() as session:
        session.execute(insert(TeamMember), people)
        session.execute(insert(Person), zones)
    return team_ids


def pulse_step(sessions, team_ids: list[str], now: datetime) -> int:
    """What the `pulse` job does in one run (without reading profiles from Slack: all are fresh)."""
    opened = 0
    for team in team_ids:
        with sessions.begin() as session:
            opened += open_due_round(session=session, team_id=team, now=now) is not None
    with sessions.begin() as session:
        prompted = queue_due_prompts(session=session, now=now, secret=SECRET)
    with sessions.begin() as session:
        seal_closed_rounds(session=session, now=now)
    return prompted


def reminders_step(sessions, now: datetime) -> int:
    with sessions.begin() as session:
        return queue_due_reminders(session=session, now=now, secret=SECRET)


def timed(step, *args) -> tuple[float, object]:
    begun = time.perf_counter()
    result = step(*args)
    return time.perf_counter() - begun, result


def measure(url: str, label: str, workspaces: int, members: int) -> None:
    engine = make_engine(url)
    migrate(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    team_ids = seed(sessions, workspaces, members)
    print(f"{label}: {workspaces} workspaces × {members} members in {len(ZONES)} zones")

    idle = [timed(pulse_step, sessions, team_ids, datetime(2026, 12, 7, 12, tzinfo=UTC))[0] for _ in range(20)]
    print(f"{label}: idle (Monday, nothing due) median {statistics.median(idle) * 1000:.0f} ms, "
          f"max {max(idle) * 1000:.0f} ms")

    waves = sorted(opening(zone) for zone in ZONES)
    took, prompted = timed(pulse_step, sessions, team_ids, waves[0])
    with sessions() as session:
        rounds = session.scalar(select(func.count()).select_from(PulseRound))
    print(f"{label}: open (first zone's 10:00) {took * 1000:.0f} ms: {rounds} rounds opened, {prompted} prompted")
    wave_times, quiet = [], []
    for moment in waves[1:]:
        took, prompted = timed(pulse_step, sessions, team_ids, moment)
        wave_times.append((took, prompted))
        quiet.append(timed(pulse_step, sessions, team_ids, moment + timedelta(minutes=1))[0])
    print(f"{label}: wave (a zone's 10:00) median {statistics.median(t for t, _ in wave_times) * 1000:.0f} ms, "
          f"max {max(t for t, _ in wave_times) * 1000:.0f} ms, {sum(p for _, p in wave_times)} prompted in all")
    print(f"{label}: quiet (a minute after a wave) median {statistics.median(quiet) * 1000:.0f} ms")
    remind = [timed(reminders_step, sessions, moment + timedelta(hours=24)) for moment in waves]
    print(f"{label}: remind (a zone's reminder time) median {statistics.median(t for t, _ in remind) * 1000:.0f} ms, "
          f"max {max(t for t, _ in remind) * 1000:.0f} ms, {sum(r for _, r in remind)} reminded in all")

    with sessions.begin() as session:
        round_ids = list(session.scalars(select(PulseRound.id)))
        session.execute(insert(PulseAnswer), [
            dict(team_id=team, round_id=round_id, respondent=f"{round_id:06d}{n:026d}", question=q, side="sales",
                 score=1 + (n + q) % 5)
            for round_id, team in zip(round_ids, team_ids, strict=False) for n in range(30) for q in range(2)])
    took, _ = timed(pulse_step, sessions, team_ids, waves[-1] + timedelta(days=4))
    print(f"{label}: seal (after the close, {len(round_ids)} rounds × 60 answers) {took * 1000:.0f} ms")
    with sessions() as session:
        queued = session.scalar(select(func.count()).select_from(OutboxMessage))
    print(f"{label}: {queued:,} outbox rows queued (prompts, reminders, Home refreshes)")
    engine.dispose()


def postgres_answers(host: str = "127.0.0.1", port: int = 5432) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--workspaces", type=int, default=200)
    parser.add_argument("--members", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        measure(f"sqlite:///{folder}/bench.db", "SQLite", args.workspaces, args.members)
    if args.database_url and postgres_answers():
        name = f"cf_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            measure(admin.url.set(database=name).render_as_string(hide_password=False), "PostgreSQL",
                    args.workspaces, args.members)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
