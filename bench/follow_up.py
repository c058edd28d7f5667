"""What lead follow-up costs the digest and Home over two years of history.

Seeds the history of bench/digest.py (lead ratings, pulse, messaging) plus handed-off leads spread over the
same 104 weeks (a third of them rated, most accepted, some late, some open), then times, for the last
complete week or as of now:

  follow-up section   the digest's "Follow-up" (totals, breaches by source, waits; the talking point's waits)
  digest              the whole digest without the 12-week trend, with the section
  sources, 4 weeks    marketers' Home: follow-up by source over the last 4 weeks (one statement)
  open leads          a rep's Home: their open leads with the working time left (one statement)

Each figure is the median of several warm runs. Runs on SQLite, and on PostgreSQL too when one answers on
127.0.0.1:5432 (or --database-url), in a throwaway schema.

    python bench/follow_up.py            # 1,000,000 ratings and 200 leads a week
    python bench/follow_up.py --quick    # a tenth of the ratings
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from bench.databases import fresh_database  # noqa: E402
from bench.digest import NOW, TEAM, ZONE, chunks, median_ms, postgres_url, seed, typed  # noqa: E402
from bot.container import Crossfeed  # noqa: E402
from bot.digest import build_weekly_digest, last_complete_week  # noqa: E402
from bot.follow_up_stats import follow_up_by_source, follow_up_section, open_leads  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage import teams  # noqa: E402

WEEKS = 104


def seed_leads(crossfeed: Crossfeed, *, per_week: int, ratings: int) -> int:
    """Leads received over WEEKS weeks ending at NOW: a third name a rated lead, 85% accepted (a fifth of those
    late), the rest open. Returns how many."""
    rng = random.Random(7)
    start = NOW - timedelta(weeks=WEEKS)
    with crossfeed.engine.begin() as connection:
        sources = [r[0] for r in connection.execute(text("SELECT id FROM lead_sources WHERE team_id = :t"),
                                                    {"t": TEAM})]
    owners = [f"US{i:03d}" for i in range(200)]
    sql = typed(
        "INSERT INTO leads (team_id, crm_id, lead_key, source_id, owner_user_id, status, routing_pending, "
        "received_at, updated_at, sla_minutes, remind_at, due_at, assigned_at, accepted_at, accept_minutes) "
        "VALUES (:t, :c, :c, :s, :o, :status, :f, :at, :at, 60, :remind, :due, :at, :accepted, :minutes)",
        "at", "remind", "due", "accepted")

    def rows():
        for n in range(per_week * WEEKS):
            at = start + timedelta(seconds=rng.random() * timedelta(weeks=WEEKS).total_seconds())
            crm = f"lead-{rng.randrange(ratings)}" if n % 3 == 0 else f"crm-{uuid.UUID(int=rng.getrandbits(128))}"
            accepted = rng.random() < 0.85
            minutes = rng.choice((5, 15, 30, 45, 59, 90, 240)) if accepted else None
            yield dict(t=TEAM, c=crm, s=rng.choice(sources), o=rng.choice(owners),
                       status="accepted" if accepted else "assigned", f=False, at=at,
                       remind=at + timedelta(minutes=30), due=at + timedelta(hours=1),
                       accepted=at + timedelta(minutes=minutes) if accepted else None, minutes=minutes)

    seen: set[str] = set()
    for batch in chunks(rows(), 5_000):
        batch = [row for row in batch if not (row["c"] in seen or seen.add(row["c"]))]  # one lead per CRM id
        with crossfeed.engine.begin() as connection:
            connection.execute(sql, batch)
    with crossfeed.engine.begin() as connection:
        if crossfeed.engine.dialect.name == "sqlite":
            connection.execute(text("ANALYZE"))
    if crossfeed.engine.dialect.name == "postgresql":
        with crossfeed.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    return len(seen)


def measure(crossfeed: Crossfeed, runs: int) -> dict[str, float]:
    week = last_complete_week(NOW, ZONE)
    with crossfeed.transaction() as session:
        config = teams.workspace_config(session=session, team_id=TEAM)
        busiest = session.execute(text(
            "SELECT owner_user_id FROM leads WHERE status = 'assigned' GROUP BY owner_user_id "
            "ORDER BY count(*) DESC LIMIT 1")).scalar()

        def section():
            return follow_up_section(session=session, team_id=TEAM, week=week, now=NOW)

        return {
            "follow-up section": median_ms(section, runs),
            "digest": median_ms(lambda: build_weekly_digest(session=session, team_id=TEAM, week=week,
                                                            with_trend=False, now=NOW), runs),
            "sources, 4 weeks": median_ms(lambda: follow_up_by_source(session=session, team_id=TEAM, now=NOW), runs),
            "open leads": median_ms(lambda: open_leads(session=session, team_id=TEAM, user_id=busiest,
                                                       config=config, zone=ZONE, now=NOW, limit=5), runs),
        }


def run(database_url: str, *, ratings: int, per_week: int, runs: int, label: str) -> None:
    crossfeed = Crossfeed.start(Settings(_env_file=None, slack_bot_token="x", slack_signing_secret="x",
                                         database_url=database_url))
    try:
        seed(crossfeed, ratings=ratings, pulse_answers=ratings // 5, messaging_answers=ratings // 10, weeks=WEEKS)
        leads = seed_leads(crossfeed, per_week=per_week, ratings=ratings)
        figures = measure(crossfeed, runs)
    finally:
        crossfeed.close()
    print(f"{label}: {ratings:,} ratings, {leads:,} leads ({per_week} a week)")
    for name, ms in figures.items():
        print(f"  {name:<20} {ms:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the ratings")
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: 127.0.0.1:5432/test when it answers)")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    ratings, per_week = (100_000 if args.quick else 1_000_000), 200
    with tempfile.TemporaryDirectory() as folder:
        run(f"sqlite:///{folder}/bench.db", ratings=ratings, per_week=per_week, runs=args.runs, label="SQLite")
    postgres = postgres_url(args.database_url)
    if postgres:
        with fresh_database(postgres) as url:
            run(url, ratings=ratings, per_week=per_week, runs=args.runs, label="PostgreSQL")
    else:
        print("PostgreSQL: not answering on 127.0.0.1:5432, skipped")


if __name__ == "__main__":
    main()
