"""CSV export: lead ratings, messaging answers, field intel, pulse aggregates (never individual pulse answers),
actions, and handed-off leads with their follow-up."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.digest import Week, week_of, week_starting
from bot.pulse import round_results
from bot.zones import workspace_zone
from storage import export as store
from storage import follow_up_stats as follow_up_store
from storage import intel as intel_store
from storage.actions import action_rows
from storage.teams import workspace_config

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


def export_csvs(*, session: Session, team_id: str, now: datetime, weeks: int,
                default_zone: str | None = None) -> dict[str, str]:
    """filename → CSV text for the last `weeks` complete weeks plus the current week so far.

    Weeks are the digest's own (ISO weeks in the workspace's time zone), and every row says its week,
    so a week's rows in the export add up to that week's digest."""
    zone = workspace_zone(workspace_config(session=session, team_id=team_id), default_zone)
    current = week_of(now, zone)
    first = week_starting(current.start.astimezone(zone).date() - timedelta(weeks=weeks), zone)
    since = first.start

    def week(moment: datetime) -> str:
        return week_of(moment, zone).label

    pulse_rows = []
    for pulse_round in store.rounds_for_periods(session=session, team_id=team_id,
                                                periods=_labels(first, current, zone)):
        results = round_results(session=session, pulse_round=pulse_round)
        for team in results.teams:
            for question, score in team.scores:
                pulse_rows.append((results.period, team.name, question, team.asked, team.answered,
                                   f"{score:.2f}" if score is not None else "hidden (below the anonymity threshold)"))
    return {
        "lead_ratings.csv": _csv(
            ["week", "rated_at", "updated_at", "rater_user_id", "lead", "rating", "reasons", "source", "typed_source",
             "campaign", "note"],
            [(week(row[0]), *row) for row in store.lead_rating_rows(session=session, team_id=team_id, since=since)]),
        "messaging_answers.csv": _csv(
            ["week", "ask_id", "ask", "asker_user_id", "rep_user_id", "reaction", "used_in", "buyer_stage",
             "buyer_quote", "suggestion", "answered_at", "updated_at"],
            [(week(row[-1]), *row) for row in store.messaging_answer_rows(session=session, team_id=team_id,
                                                                            since=since)]),
        "field_intel.csv": _csv(
            ["week", "sent_at", "intel_id", "rep_user_id", "kind", "topic", "text", "link", "reply_status",
             "replied_by"],
            [(week(row[0]), *row) for row in intel_store.intel_rows(session=session, team_id=team_id, since=since)]),
        "pulse_aggregates.csv": _csv(["week", "team", "question", "asked", "answered", "average"], pulse_rows),
        "actions.csv": _csv(
            ["week", "created_at", "action_id", "title", "owner_user_id", "due_on", "status", "prompt_kind",
             "prompt_ref", "prompted_by", "outcome", "created_by", "closed_at"],
            [(week(row[0]), *row) for row in action_rows(session=session, team_id=team_id, since=since)]),
        "leads.csv": _csv(
            ["week", "received_at", "crm_id", "name", "company", "source", "typed_source", "campaign",
             "owner_user_id", "status", "sla_minutes", "due_at", "accepted_at", "accept_minutes", "within_sla",
             "escalated_at", "rated"],
            [_lead_row(week(row[0]), row, now)
             for row in follow_up_store.lead_rows(session=session, team_id=team_id, since=since)]),
    }


def _lead_row(week: str, row: tuple, now: datetime) -> tuple:
    """A handed-off lead as exported: within_sla is "yes" or "no" once its SLA is met or missed, blank before."""
    *fields, sla_minutes, due_at, accepted_at, accept_minutes, escalated_at, rated = row
    if accept_minutes is not None:
        within = "yes" if accept_minutes <= sla_minutes else "no"
    else:
        within = "no" if due_at <= now else ""
    return (week, *fields, sla_minutes, due_at, accepted_at, accept_minutes, within, escalated_at,
            "yes" if rated else "no")


def _labels(first: Week, last: Week, zone) -> list[str]:
    labels, week = [], first
    while week.start <= last.start:
        labels.append(week.label)
        week = week_starting(week.end.astimezone(zone).date(), zone)
    return labels
