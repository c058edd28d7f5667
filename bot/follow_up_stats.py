"""How fast handed-off leads are followed up: the digest's "Follow-up", marketers' sources and reps' open leads.

Every time is working time (bot.working_time, in the workspace's hours, days, holidays and zone): the minutes
to accept are those stored with each lead when it was accepted, and the time left on an open lead is counted
in the same calendar.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.results.digest import Week
from bot.results.follow_up_stats import (
    FollowUpSection,
    OpenLead,
    SourceBreaches,
    SourceFollowUpLine,
    SourceWait,
)
from bot.results.home import Listed
from bot.working_time import WorkingCalendar
from storage import follow_up_stats as store
from storage.models import WorkspaceConfig
from storage.teams import workspace_config

MIN_SOURCE_LEADS = 3  # a source's wait is named in a talking point only from this many leads
HOME_WEEKS = 4
NO_SOURCE = "No source"


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `share` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def follow_up_section(*, session: Session, team_id: str, week: Week, now: datetime) -> FollowUpSection | None:
    """The follow-up of the leads handed off in `week`, as of `now`; None when the week had none."""
    as_of = now
    totals = store.totals(session=session, team_id=team_id, start=week.start, end=week.end, as_of=as_of)
    if not totals.handed_off:
        return None
    rows = store.waits(session=session, team_id=team_id, start=week.start, end=week.end)
    # The median and 90th percentile are taken in Python over one week's accepted leads (a few hundred numbers
    # at most): SQLite has no percentile function, and the same rows give each source's wait below.
    accepted = [minutes for _, minutes, _ in rows if minutes is not None]
    breaches = store.breaches_by_source(session=session, team_id=team_id, start=week.start, end=week.end,
                                        as_of=as_of)
    return FollowUpSection(
        handed_off=totals.handed_off,
        accepted=totals.accepted,
        within_sla=totals.within_sla,
        decided=totals.decided,
        median_minutes=float(statistics.median(accepted)) if accepted else None,
        p90_minutes=float(percentile(accepted, 0.9)) if accepted else None,
        breaches=tuple(SourceBreaches(label or NO_SOURCE, leads, breached) for label, leads, breached in breaches),
        rated=totals.rated,
        still_open=totals.still_open,
        slowest=_slowest(rows, WorkingCalendar.of_workspace(workspace_config(session=session, team_id=team_id),
                                                            week.zone), as_of),
    )


def _slowest(rows: list[tuple[str | None, int | None, datetime]], calendar: WorkingCalendar,
             as_of: datetime) -> SourceWait | None:
    """The source with at least MIN_SOURCE_LEADS leads whose median wait is longest (more leads, then the label,
    break ties); a lead still open has waited the working minutes from its arrival until `as_of`, so a source
    nobody takes up is not left out for having no acceptances."""
    waits: dict[str, list[float]] = defaultdict(list)
    still_open: dict[str, int] = defaultdict(int)
    for label, minutes, received_at in rows:
        source = label or NO_SOURCE
        if minutes is None:
            still_open[source] += 1
            minutes = calendar.minutes_between(received_at, as_of)
        waits[source].append(minutes)
    judged = [SourceWait(label, len(values), still_open[label], float(statistics.median(values)))
              for label, values in waits.items() if len(values) >= MIN_SOURCE_LEADS]
    return max(judged, key=lambda s: (s.median_minutes, s.leads, s.label)) if judged else None


def follow_up_by_source(*, session: Session, team_id: str, now: datetime,
                        weeks: int = HOME_WEEKS) -> tuple[SourceFollowUpLine, ...]:
    """Each source's follow-up over the last `weeks` × 7 days up to now (like `/leadfeedback stats`), slowest
    median first (sources with no acceptance yet first of all)."""
    rows = store.by_source(session=session, team_id=team_id, start=now - timedelta(weeks=weeks), end=now,
                           as_of=now)
    lines = [SourceFollowUpLine(row.label or NO_SOURCE, row.leads, row.within_sla, row.decided, row.median_minutes)
             for row in rows]
    return tuple(sorted(lines, key=lambda line: (line.median_minutes is not None, -(line.median_minutes or 0),
                                                 -line.leads, line.label)))


def open_leads(*, session: Session, team_id: str, user_id: str, config: WorkspaceConfig, zone: ZoneInfo,
               now: datetime, limit: int) -> Listed[OpenLead]:
    """The leads waiting for this person to accept them, soonest due first, with the working time left."""
    rows = store.open_leads(session=session, team_id=team_id, user_id=user_id, limit=limit)
    calendar = WorkingCalendar.of_workspace(config, zone)
    shown = tuple(
        OpenLead(id=row.id, crm_id=row.crm_id, name=row.name, company=row.company, source=row.source, url=row.url,
                 received_at=row.received_at, due_at=row.due_at,
                 minutes_left=calendar.minutes_between(now, row.due_at) if row.due_at > now
                 else -calendar.minutes_between(row.due_at, now))
        for row in rows)
    return Listed(shown, rows[0].total if rows else 0)


def qualified_lead_definition(*, session: Session, team_id: str) -> str | None:
    """The workspace's definition of a qualified lead, or None when it has none (blank counts as none)."""
    definition = store.qualified_lead_definition(session=session, team_id=team_id)
    return definition if definition and definition.strip() else None
