"""How long the weekly digest takes to build over two years of history.

Seeds a database with 1,000,000 lead ratings, 200,000 pulse answers and 100,000 messaging answers
spread over 104 weeks (plus the reasons, sources, rounds and asks they hang off), then times, for
the last complete week:

  floor         one hand-written SQL query for the lead section's headline numbers (count, raters,
                average, good/bad) over the covering index: the least any digest could cost
  lead section  Crossfeed's lead section (this week and last, sources, reasons)
  digest        the whole digest without the 12-week trend (what `/alignment digest` previews)
  digest+trend  the whole digest with the 12-week trend (what the Monday post builds)

Each figure is the median of several warm runs. It then doubles the history (same rows a week)
and times the digest again: if the cost follows the week's rows, not the whole history, the two
figures stay close. Runs on SQLite, and on PostgreSQL too when one answers on 127.0.0.1:5432
(or --database-url), in a throwaway schema.

    python bench/digest.py            # full size
    python bench/digest.py --quick    # a tenth of the rows
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import bindparam, text  # noqa: E402

from bench.databases import fresh_database  # noqa: E402
from bot.container import Crossfeed  # noqa: E402
from bot.digest import _lead_section, build_weekly_digest, last_complete_week  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage import teams  # noqa: E402
from storage.models import UTCDateTime  # noqa: E402
from storage.queries import ensure_workspace  # noqa: E402

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
ZONE = ZoneInfo("America/New_York")
TEAM = "T1"
CHUNK = 20_000


def typed(sql: str, *times: str):
    """Raw SQL whose time parameters are stored exactly as the models store them (UTC, same format)."""
    return text(sql).bindparams(*(bindparam(name, type_=UTCDateTime()) for name in times))


FLOOR_SQL = typed(
    "SELECT count(*), count(DISTINCT rater_user_id), avg(rating), "
    "sum(CASE WHEN rating >= 4 THEN 1 ELSE 0 END), sum(CASE WHEN rating <= 2 THEN 1 ELSE 0 END) "
    "FROM lead_ratings WHERE team_id = :team AND rated_at >= :start AND rated_at < :end",
    "start", "end",
)


def chunks(rows, size=CHUNK):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def seed(crossfeed: Crossfeed, *, ratings: int, pulse_answers: int, messaging_answers: int, weeks: int,
         end: datetime = NOW) -> None:
    """Bulk-insert a realistic history of `weeks` ending at `end` (plain executemany; the ORM would dominate)."""
    rng = random.Random(end.timestamp())
    span = timedelta(weeks=weeks).total_seconds()
    start = end - timedelta(weeks=weeks)
    sales = [f"US{i:03d}" for i in range(200)]
    marketing = [f"UM{i:03d}" for i in range(100)]
    with crossfeed.transaction() as session:
        ensure_workspace(session=session, team_id=TEAM)
        teams.workspace_config(session=session, team_id=TEAM).timezone = ZONE.key
        teams.put_members(session=session, team_id=TEAM, user_ids=sales, side="sales", origin="explicit")
        teams.put_members(session=session, team_id=TEAM, user_ids=marketing, side="marketing", origin="explicit")
    with crossfeed.engine.begin() as connection:
        sources = [r[0] for r in connection.execute(text("SELECT id FROM lead_sources WHERE team_id = :t"),
                                                    {"t": TEAM})]
        bad = [r[0] for r in connection.execute(text(
            "SELECT id FROM reason_codes WHERE team_id = :t AND polarity = 'bad'"), {"t": TEAM})]
        offset = connection.execute(text("SELECT coalesce(max(id), 0) FROM lead_ratings")).scalar()
    rating_sql = typed(
        "INSERT INTO lead_ratings (id, team_id, rater_user_id, lead_ref, lead_key, rating, source_id, rated_at, "
        "updated_at) VALUES (:id, :team, :rater, :ref, :ref, :rating, :source, :at, :at)", "at")
    reason_sql = typed("INSERT INTO lead_rating_reasons (team_id, rating_id, reason_id, rated_at, rating) "
                       "VALUES (:team, :rating, :reason, :at, :score)", "at")

    def rating_rows():
        for i in range(ratings):
            at = start + timedelta(seconds=rng.random() * span)
            yield dict(id=offset + i + 1, team=TEAM, rater=rng.choice(sales), ref=f"lead-{offset + i}",
                       rating=rng.choices((1, 2, 3, 4, 5), (15, 20, 25, 25, 15))[0], source=rng.choice(sources), at=at)

    for batch in chunks(rating_rows()):
        reasons = [dict(team=TEAM, rating=row["id"], reason=reason, at=row["at"], score=row["rating"])
                   for row in batch if row["rating"] <= 2
                   for reason in rng.sample(bad, rng.choice((1, 1, 2)))]
        with crossfeed.engine.begin() as connection:
            connection.execute(rating_sql, batch)
            connection.execute(reason_sql, reasons)

    with crossfeed.engine.begin() as connection:
        for week in range(weeks):
            opened = start + timedelta(weeks=week, days=2)
            local = opened.astimezone(ZONE).date()
            monday = local - timedelta(days=local.weekday())
            year, number, _ = monday.isocalendar()
            connection.execute(typed(
                "INSERT INTO pulse_rounds (team_id, period, opens_at, remind_at, closes_at, questions, sales_name, "
                "marketing_name, reminded_through) VALUES (:t, :p, :o, :o, :c, :q, 'Sales', 'Marketing', :c)",
                "o", "c"),
                dict(t=TEAM, p=f"{year}-W{number:02d}", o=opened, c=opened + timedelta(days=3),
                     q='["How aligned?", "How useful?"]'))
        rounds = [r[0] for r in connection.execute(
            typed("SELECT id FROM pulse_rounds WHERE opens_at >= :s AND opens_at < :e ORDER BY id", "s", "e"),
            dict(s=start, e=end))]
        connection.execute(text(
            "INSERT INTO pulse_participation (team_id, round_id, user_id, side, answered_via) "
            "VALUES (:t, :r, :u, :s, 'dm')"),
            [dict(t=TEAM, r=r, u=u, s="sales" if u in sales else "marketing")
             for r in rounds for u in sales + marketing])
    per_round = max(1, pulse_answers // (2 * len(rounds)))
    answers = ({"t": TEAM, "r": r, "p": uuid.UUID(int=rng.getrandbits(128)).hex[:16], "q": q,
                "s": "sales" if n % 3 else "marketing", "score": rng.randint(1, 5)}
               for r in rounds for n in range(per_round) for q in (0, 1))
    for batch in chunks(answers):
        with crossfeed.engine.begin() as connection:
            connection.execute(text("INSERT INTO pulse_answers (team_id, round_id, respondent, question, side, score) "
                                    "VALUES (:t, :r, :p, :q, :s, :score)"), batch)

    asks_per_week = 5
    with crossfeed.engine.begin() as connection:
        for week in range(weeks):
            for n in range(asks_per_week):
                opened = start + timedelta(weeks=week, hours=n * 7)
                connection.execute(typed(
                    "INSERT INTO messaging_asks (team_id, asker_user_id, name, audience, channel_id, recipients, "
                    "opened_at, closes_at, closed_at, submission_key) VALUES (:t, :a, :n, 'channel', 'C1', '[]', "
                    ":o, :c, :c, :k)", "o", "c"),
                    dict(t=TEAM, a=rng.choice(marketing), n=f"Talk track {week}-{n}", o=opened,
                         c=opened + timedelta(days=14), k=f"bench-{opened.isoformat()}"))
        asks = [(r[0], r[1]) for r in connection.execute(
            typed("SELECT id, opened_at FROM messaging_asks WHERE opened_at >= :s AND opened_at < :e", "s", "e"),
            dict(s=start, e=end))]
    per_ask = min(len(sales), max(1, messaging_answers // len(asks)))
    reactions = ("resonated", "mixed", "flat", "not_used")

    def answer_rows():
        for ask_id, opened in asks:
            opened = datetime.fromisoformat(str(opened))
            opened = opened if opened.tzinfo else opened.replace(tzinfo=UTC)
            for rep in rng.sample(sales, per_ask):
                at = opened + timedelta(hours=rng.random() * 300)
                yield dict(t=TEAM, a=ask_id, r=rep, x=rng.choice(reactions), q=rng.choice((None, None, "Loved it")),
                           at=at)

    for batch in chunks(answer_rows()):
        with crossfeed.engine.begin() as connection:
            connection.execute(typed(
                "INSERT INTO messaging_answers (team_id, ask_id, rep_user_id, reaction, buyer_quote, answered_at, "
                "updated_at) VALUES (:t, :a, :r, :x, :q, :at, :at)", "at"), batch)
    with crossfeed.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO messaging_usage (team_id, answer_id, used_in) "
            "SELECT team_id, id, 'call' FROM messaging_answers WHERE reaction <> 'not_used' "
            "AND id NOT IN (SELECT answer_id FROM messaging_usage)"))
        if crossfeed.engine.dialect.name == "sqlite":
            connection.execute(text("ANALYZE"))
    if crossfeed.engine.dialect.name == "postgresql":
        # As autovacuum would: statistics, and a visibility map so index-only scans skip the heap.
        with crossfeed.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))


def median_ms(work, runs: int) -> float:
    work()  # warm caches
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def measure(crossfeed: Crossfeed, runs: int) -> dict[str, float]:
    week = last_complete_week(NOW, ZONE)

    def floor():
        with crossfeed.engine.connect() as connection:
            connection.execute(FLOOR_SQL, dict(team=TEAM, start=week.start, end=week.end)).one()

    def lead_section():
        with crossfeed.sessions() as session:
            _lead_section(session, TEAM, week)

    def digest(with_trend: bool):
        with crossfeed.sessions() as session:
            build_weekly_digest(session=session, team_id=TEAM, week=week, with_trend=with_trend)

    return {
        "floor": median_ms(floor, runs),
        "lead section": median_ms(lead_section, runs),
        "digest": median_ms(lambda: digest(False), runs),
        "digest+trend": median_ms(lambda: digest(True), runs),
    }


def week_rows(crossfeed: Crossfeed) -> int:
    week = last_complete_week(NOW, ZONE)
    with crossfeed.engine.connect() as connection:
        return connection.execute(typed("SELECT count(*) FROM lead_ratings WHERE rated_at >= :s AND rated_at < :e",
                                        "s", "e"), dict(s=week.start, e=week.end)).scalar()


def plan(crossfeed: Crossfeed) -> str:
    week = last_complete_week(NOW, ZONE)
    params = dict(team=TEAM, start=week.start, end=week.end)
    with crossfeed.engine.connect() as connection:
        if crossfeed.engine.dialect.name == "sqlite":
            rows = connection.execute(typed("EXPLAIN QUERY PLAN " + FLOOR_SQL.text, "start", "end"), params).all()
            return "; ".join(str(r[-1]) for r in rows)
        rows = connection.execute(typed("EXPLAIN " + FLOOR_SQL.text, "start", "end"), params).all()
        return " / ".join(r[0].strip() for r in rows[:3])


def run(label: str, url: str, sizes: dict[str, int], runs: int) -> None:
    crossfeed = Crossfeed.start(Settings(_env_file=None, slack_bot_token="x", slack_signing_secret="x",
                                         database_url=url))
    try:
        started = time.perf_counter()
        seed(crossfeed, **sizes)
        seeded = time.perf_counter() - started
        first = measure(crossfeed, runs)
        rows = week_rows(crossfeed)
        # Double the history, same density: the week's rows stay, the history grows.
        seed(crossfeed, **sizes, end=NOW - timedelta(weeks=sizes["weeks"]))
        doubled = measure(crossfeed, runs)
        print(f"\n{label}: {sizes['ratings']:,} ratings, {sizes['pulse_answers']:,} pulse answers, "
              f"{sizes['messaging_answers']:,} messaging answers over {sizes['weeks']} weeks "
              f"(seeded in {seeded:.0f} s)")
        print(f"  the week: {rows:,} lead ratings; floor query plan: {plan(crossfeed)}")
        print(f"  {'':<14} {'history':>10} {'2× history':>11} {'× floor':>8}")
        for name in first:
            print(f"  {name:<14} {first[name]:>8.1f}ms {doubled[name]:>9.1f}ms {first[name] / first['floor']:>8.1f}")
    finally:
        crossfeed.close()


def postgres_url(given: str | None) -> str | None:
    """The PostgreSQL to measure on: the one given, else the local one when it answers."""
    if given:
        return given
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        return None
    return "postgresql://postgres@127.0.0.1:5432/test"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows")
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: 127.0.0.1:5432/test when it answers)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    sizes = dict(ratings=1_000_000 // scale, pulse_answers=200_000 // scale, messaging_answers=100_000 // scale,
                 weeks=104)
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{tmp}/digest.db", sizes, args.runs)
    postgres = postgres_url(args.database_url)
    if postgres:
        with fresh_database(postgres) as url:
            run("PostgreSQL", url, sizes, args.runs)
    else:
        print("\nPostgreSQL: not answering on 127.0.0.1:5432, skipped")


if __name__ == "__main__":
    main()
