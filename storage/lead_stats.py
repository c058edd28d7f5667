"""Lead quality by source and by campaign over a window and the window before it: one statement, in SQL.

The statement reads the ratings of both windows from the (team, rated_at, …) indexes and returns only
aggregated rows: one per source, one per campaign, one for all ratings, and the top reasons of each source and
campaign. A few thousand ratings come back as a few dozen rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import (
    Float,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from storage.models import LeadRating, LeadRatingReason, LeadSource, ReasonCode, UTCDateTime

TOP_REASONS = 3


@dataclass(frozen=True)
class GroupRow:
    """A source, a campaign, or all ratings ("all"): its figures in the window and in the window before."""

    kind: str  # "source" | "campaign" | "all"
    key: str  # the source's id ("" for no source), the campaign as matched (trimmed, lower case), or ""
    label: str | None  # the source's label (None: no source), the campaign as first typed, or None
    ratings: int
    average: float | None
    good: int  # rated 4–5
    bad: int  # rated 1–2
    previous_ratings: int
    previous_average: float | None


@dataclass(frozen=True)
class ReasonRow:
    kind: str  # "source" | "campaign"
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class WindowStats:
    groups: list[GroupRow]
    reasons: list[ReasonRow]  # at most TOP_REASONS per source and campaign, most given first


def _campaign_key():
    # Campaigns are typed by reps: case and surrounding spaces don't split one campaign in two (as in the digest).
    return func.lower(func.trim(LeadRating.campaign))


def _has_campaign():
    return and_(LeadRating.campaign.is_not(None), func.trim(LeadRating.campaign) != "")


@cache
def _window_statement() -> Select:
    # Built once, with bound parameters (as the Home's statements are).
    team_id = bindparam("team_id")
    start = bindparam("start", type_=UTCDateTime())
    previous_start = bindparam("previous_start", type_=UTCDateTime())
    end = bindparam("end", type_=UTCDateTime())
    in_window = LeadRating.rated_at >= start
    before = LeadRating.rated_at < start

    def figures():
        return (
            func.count(case((in_window, 1))).label("ratings"),
            cast(func.avg(case((in_window, LeadRating.rating))), Float).label("average"),
            func.count(case((and_(in_window, LeadRating.rating >= 4), 1))).label("good"),
            func.count(case((and_(in_window, LeadRating.rating <= 2), 1))).label("bad"),
            func.count(case((before, 1))).label("previous_ratings"),
            cast(func.avg(case((before, LeadRating.rating))), Float).label("previous_average"),
            cast(null(), String).label("reason"),
            cast(null(), Integer).label("reason_count"),
        )

    both_windows = and_(LeadRating.team_id == team_id, LeadRating.rated_at >= previous_start,
                        LeadRating.rated_at < end)
    source_key = func.coalesce(cast(LeadRating.source_id, String), "")
    sources = (
        select(literal("source").label("kind"), source_key.label("key"), func.min(LeadSource.label).label("label"),
               *figures())
        .select_from(LeadRating).outerjoin(LeadSource, LeadSource.id == LeadRating.source_id)
        .where(both_windows).group_by(source_key)
    )
    campaigns = (
        select(literal("campaign").label("kind"), _campaign_key().label("key"),
               func.min(func.trim(LeadRating.campaign)).label("label"), *figures())
        .where(both_windows, _has_campaign()).group_by(_campaign_key())
    )
    everything = select(literal("all").label("kind"), literal("").label("key"), cast(null(), String).label("label"),
                        *figures()).where(both_windows)

    def top_reasons(kind: str, key, *where):
        counted = (
            select(key.label("key"), ReasonCode.label.label("reason"), func.count().label("reason_count"),
                   func.row_number().over(partition_by=key, order_by=(func.count().desc(), ReasonCode.label))
                   .label("place"))
            .select_from(LeadRatingReason)
            .join(LeadRating, LeadRating.id == LeadRatingReason.rating_id)
            .join(ReasonCode, ReasonCode.id == LeadRatingReason.reason_id)
            .where(LeadRatingReason.team_id == team_id, LeadRatingReason.rated_at >= start,
                   LeadRatingReason.rated_at < end, *where)
            .group_by(key, ReasonCode.label)
            .subquery()
        )
        nothing = cast(null(), Integer)
        return select(literal(f"{kind}_reason").label("kind"), counted.c.key, cast(null(), String).label("label"),
                      nothing, cast(null(), Float), nothing, nothing, nothing, cast(null(), Float),
                      counted.c.reason, counted.c.reason_count).where(counted.c.place <= TOP_REASONS)

    return union_all(sources, campaigns, everything, top_reasons("source", source_key),
                     top_reasons("campaign", _campaign_key(), _has_campaign()))


def window_stats(*, session: Session, team_id: str, start: datetime, end: datetime,
                 previous_start: datetime) -> WindowStats:
    """Ratings from `start` to `end`, against those from `previous_start` to `start`, by source and by campaign,
    with each one's top reasons (of the window): one statement."""
    rows = session.execute(_window_statement(), dict(team_id=team_id, start=start, end=end,
                                                      previous_start=previous_start)).all()
    groups, reasons = [], []
    for row in rows:
        if row.kind.endswith("_reason"):
            reasons.append(ReasonRow(row.kind.removesuffix("_reason"), row.key, row.reason, int(row.reason_count)))
        else:
            groups.append(GroupRow(row.kind, row.key, row.label, int(row.ratings or 0), row.average, int(row.good or 0),
                                   int(row.bad or 0), int(row.previous_ratings or 0), row.previous_average))
    reasons.sort(key=lambda r: (r.kind, r.key, -r.count, r.label))
    return WindowStats(groups=groups, reasons=reasons)
