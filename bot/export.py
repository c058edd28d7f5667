"""CSV export: lead ratings, messaging answers and pulse aggregates (never individual pulse answers)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.pulse import round_results
from storage import export as store

MAX_WEEKS = 520


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # a spreadsheet must not run typed text as a formula
    return value


def _csv(header: list[str], rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return buffer.getvalue()


def export_csvs(*, session: Session, team_id: str, now: datetime, weeks: int) -> dict[str, str]:
    """filename → CSV text for the last `weeks` weeks."""
    since = now - timedelta(weeks=weeks)
    pulse_rows = []
    for pulse_round in store.rounds_since(session=session, team_id=team_id, since=since):
        results = round_results(session=session, pulse_round=pulse_round)
        for team in results.teams:
            for question, score in team.scores:
                pulse_rows.append((results.period, team.name, question, team.asked, team.answered,
                                   f"{score:.2f}" if score is not None else "hidden (below the anonymity threshold)"))
    return {
        "lead_ratings.csv": _csv(
            ["rated_at", "updated_at", "rater_user_id", "lead", "rating", "reasons", "source", "campaign", "note"],
            store.lead_rating_rows(session=session, team_id=team_id, since=since)),
        "messaging_answers.csv": _csv(
            ["ask_id", "ask", "asker_user_id", "rep_user_id", "reaction", "used_in", "buyer_stage", "buyer_quote",
             "suggestion", "answered_at", "updated_at"],
            store.messaging_answer_rows(session=session, team_id=team_id, since=since)),
        "pulse_aggregates.csv": _csv(["period", "team", "question", "asked", "answered", "average"], pulse_rows),
    }


def export_weeks(text: str) -> int:
    """The `[weeks]` of `/alignment export [weeks]`: 12 by default."""
    from bot.errors import InvalidInput

    word = text.strip() or "12"
    if not word.isdigit() or not 1 <= int(word) <= MAX_WEEKS:
        raise InvalidInput({"weeks": f"Give a number of weeks from 1 to {MAX_WEEKS}, e.g. `/alignment export 26`."})
    return int(word)
