"""Lead quality by source and by campaign over the last 4 or 12 weeks, with each one's reasons and trend.

The window is the last N × 7 days up to now (not whole ISO weeks), so a Monday morning reads as many days as a
Friday afternoon; the trend compares the window with the N × 7 days before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.errors import InvalidInput
from bot.leads import CodeList, workspace_sources
from bot.results.lead_stats import (
    DEFAULT_WEEKS,
    WINDOW_WEEKS,
    LeadStats,
    QualityLine,
    ReasonCount,
    Unranked,
)
from bot.text import escape_mrkdwn, truncate
from storage import lead_stats as store

STATS_USAGE = ("`/leadfeedback stats [4|12] [source or campaign]`, e.g. `/leadfeedback stats`, "
               "`/leadfeedback stats 12 webinar` or `/leadfeedback stats \"Q4 ROI webinar\"`")
NO_SOURCE = "No source"
CAMPAIGNS_NAMED = 5  # campaigns suggested when a filter matches nothing
_WEEKS = re.compile(r"(\d+)\s*(?:w|weeks?)?(?:\s+|$)", re.IGNORECASE)


@dataclass(frozen=True)
class StatsRequest:
    weeks: int = DEFAULT_WEEKS
    about: str | None = None  # a source (code, label or alias) or a campaign, as typed
    only: str | None = None  # "source" or "campaign" when typed as `source:x` / `campaign:x`


def parse_stats_request(words: str) -> StatsRequest:
    """What follows `/leadfeedback stats`: an optional 4 or 12 (`12w` and `12 weeks` too), then an optional source
    or campaign (`source:x` or `campaign:x` to say which; quotes around it are dropped)."""
    words = " ".join(words.split())
    weeks = DEFAULT_WEEKS
    if match := _WEEKS.match(words):
        weeks = int(match[1])
        if weeks not in WINDOW_WEEKS:
            raise InvalidInput({"weeks": f"Stats cover the last 4 or 12 weeks, not {weeks}."}, usage=STATS_USAGE)
        words = words[match.end():]
    kind, colon, value = words.partition(":")
    only = kind.casefold() if colon and kind.casefold() in ("source", "campaign") else None
    about = (value if only else words).strip().strip('"').strip() or None
    return StatsRequest(weeks=weeks, about=about, only=only if about else None)


def _line(row: store.GroupRow | None, label: str, reasons: list[store.ReasonRow]) -> QualityLine:
    if row is None:
        return QualityLine(label, 0, None, 0, 0, (), 0, None)
    return QualityLine(
        label=label, ratings=row.ratings, average=round(row.average, 2) if row.average is not None else None,
        good=row.good, bad=row.bad, reasons=tuple(ReasonCount(r.label, r.count) for r in reasons),
        previous_ratings=row.previous_ratings,
        previous_average=round(row.previous_average, 2) if row.previous_average is not None else None,
    )


def _best_first(lines: list[QualityLine]) -> tuple[QualityLine, ...]:
    return tuple(sorted(lines, key=lambda line: (-(line.average or 0), -line.ratings, line.label.casefold())))


def lead_stats(*, session: Session, team_id: str, now: datetime, request: StatsRequest = StatsRequest()) -> LeadStats:
    """Lead quality over the last `request.weeks` weeks, by source and campaign (ranked from
    MIN_RANKED_RATINGS ratings), or for the one source or campaign asked for.

    One statement for the figures; naming a source or campaign adds one for the workspace's sources.
    """
    length = timedelta(weeks=request.weeks)
    start = now - length
    found = store.window_stats(session=session, team_id=team_id, start=start, end=now, previous_start=start - length)
    reasons: dict[tuple[str, str], list[store.ReasonRow]] = {}
    for reason in found.reasons:
        reasons.setdefault((reason.kind, reason.key), []).append(reason)
    lines: dict[str, dict[str, QualityLine]] = {"source": {}, "campaign": {}}
    total = _line(None, "All sources", [])
    for row in found.groups:
        if row.kind == "all":
            total = _line(row, "All sources", [])
        else:
            label = row.label or NO_SOURCE
            lines[row.kind][row.key] = _line(row, label, reasons.get((row.kind, row.key), []))

    def ranked(kind: str) -> tuple[tuple[QualityLine, ...], Unranked]:
        current = [line for line in lines[kind].values() if line.ratings]
        thin = [line for line in current if not line.ranked]
        return _best_first([line for line in current if line.ranked]), Unranked(len(thin), sum(t.ratings for t in thin))

    sources, unranked_sources = ranked("source")
    campaigns, unranked_campaigns = ranked("campaign")
    stats = LeadStats(weeks=request.weeks, start=start, end=now, total=total, sources=sources, campaigns=campaigns,
                      unranked_sources=unranked_sources, unranked_campaigns=unranked_campaigns)
    if request.about is None:
        return stats
    kind, key, label = _meant(session, team_id, request, lines["campaign"], stats)
    focus = lines[kind].get(key)
    return replace(stats, focus=focus, focus_kind=kind, focus_label=focus.label if focus else label)


def _meant(session: Session, team_id: str, request: StatsRequest, campaigns: dict[str, QualityLine],
           stats: LeadStats) -> tuple[str, str, str]:
    """(kind, key, label) of the source or campaign asked for: a source by code, label or alias first, else a
    campaign rated in either window, matched case-insensitively."""
    typed = request.about or ""
    known = workspace_sources(session=session, team_id=team_id)
    if request.only != "campaign":
        source = CodeList(known, what="source").find(typed, prefixes=False)
        if source is not None:
            return "source", str(source.id), source.label
    if request.only != "source":
        key = " ".join(typed.split()).casefold()
        for campaign_key, line in campaigns.items():
            if " ".join(campaign_key.split()).casefold() == key:
                return "campaign", campaign_key, line.label
    shown = escape_mrkdwn(truncate(typed, 60))
    lately = f"rated in the last {stats.weeks * 2} weeks"
    problem = {"source": f"“{shown}” isn't a source here.",
               "campaign": f"No campaign called “{shown}” was {lately}."}.get(
        request.only or "", f"“{shown}” isn't a source here, nor a campaign {lately}.")
    active = CodeList([code for code in known if not code.retired], what="source").codes()
    rated = sorted(campaigns.values(), key=lambda line: -line.ratings)[:CAMPAIGNS_NAMED]
    named = ", ".join(f"“{escape_mrkdwn(truncate(line.label, 40))}”" for line in rated)
    message = f"{problem} Sources: {active}."
    if named:
        message += f" Campaigns rated lately: {named}."
    raise InvalidInput({"about": message}, usage=STATS_USAGE)
