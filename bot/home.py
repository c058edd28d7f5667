"""The App Home tab: what waits for one person, what they did lately, and what each of their roles needs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.digest import (
    Week,
    build_weekly_digest,
    by_average,
    last_complete_week,
    ranked_campaigns,
    week_of,
)
from bot.leads import my_recent_ratings
from bot.messaging import AskView, view_of
from bot.pulse import answered_rounds, workspace_zone
from bot.results.home import (
    AnsweredAsk,
    HomeSummary,
    LeadQuality,
    Listed,
    PulseRecord,
    PulseTurn,
    Roles,
)
from storage import digest as digest_store
from storage import home as store
from storage import messaging as messaging_store
from storage import pulse as pulse_store
from storage.teams import admin_ids, workspace_config

LIST_MAX = 5
SOURCES_MAX = 8
def home_summary(*, session: Session, team_id: str, user_id: str, now: datetime,
                 configured_admins: frozenset[str] = frozenset(), default_zone: str | None = None,
                 pulse_secret: bytes | None = None, limit: int = LIST_MAX) -> HomeSummary:
    """Build one person's Home: the parts for everyone, then those for marketers and for leaders and admins."""
    config = workspace_config(session=session, team_id=team_id)
    zone = workspace_zone(config, default_zone)
    admins = set(admin_ids(session=session, team_id=team_id)) | configured_admins
    side = messaging_store.side_of(session=session, team_id=team_id, user_id=user_id)
    roles = Roles(side=side, team_name={"sales": config.sales_name, "marketing": config.marketing_name}.get(side),
                  leader=user_id in (config.leader_user_ids or []), admin=user_id in admins)
    ratings, rated = my_recent_ratings(session=session, team_id=team_id, user_id=user_id, limit=limit)
    asks, waiting = [], 0
    if messaging_store.in_sales_team(session=session, team_id=team_id, user_id=user_id):
        # Asks are for the sales team: a marketer or leader is not offered one to answer.
        asks, waiting = store.asks_to_answer(session=session, team_id=team_id, user_id=user_id, now=now, limit=limit)
    answers, answered = store.recent_answers(session=session, team_id=team_id, user_id=user_id, limit=limit)
    return HomeSummary(
        user_id=user_id,
        set_up=bool(store.team_sizes(session=session, team_id=team_id)),
        has_admins=bool(admins),
        roles=roles,
        pulse_closes_at=_pulse_waiting(session, team_id, user_id, now, pulse_secret),
        asks_to_answer=Listed(tuple(_with_tallies(session, asks, now)), waiting),
        ratings=Listed(tuple(ratings), rated),
        answers=Listed(tuple(AnsweredAsk(*row) for row in answers), answered),
        pulse_record=_pulse_record(session, team_id, user_id, now, limit, pulse_secret),
        my_open_asks=_my_open_asks(session, team_id, user_id, now, limit) if roles.marketer else None,
        lead_quality=lead_quality(session=session, team_id=team_id, week=week_of(now, zone))
        if roles.marketer else None,
        digest=build_weekly_digest(session=session, team_id=team_id, week=last_complete_week(now, zone))
        if roles.reads_digest else None,
    )


def _with_tallies(session: Session, asks: list, now: datetime) -> list[AskView]:
    if not asks:
        return []
    tallies = messaging_store.tallies(session=session, ask_ids=[ask.id for ask in asks])
    return [view_of(ask, tallies[ask.id], now) for ask in asks]


def _my_open_asks(session: Session, team_id: str, user_id: str, now: datetime, limit: int) -> Listed[AskView]:
    asks, total = store.open_asks_by(session=session, team_id=team_id, user_id=user_id, now=now, limit=limit)
    return Listed(tuple(_with_tallies(session, asks, now)), total)


def _pulse_waiting(session: Session, team_id: str, user_id: str, now: datetime,
                   secret: bytes | None) -> datetime | None:
    """When the open round closes, if this person was asked in it and hasn't answered."""
    pulse_round = pulse_store.open_round(session=session, team_id=team_id, now=now)
    if pulse_round is None:
        return None
    ledger = pulse_store.participation(session=session, round_id=pulse_round.id, user_id=user_id)
    if ledger is None or ledger.answered_via is not None:
        return None
    # The ledger marks answers in batches; the answers themselves say whether this person answered.
    answered = answered_rounds(session=session, secret=secret, user_id=user_id, round_ids=[pulse_round.id])
    return None if answered else pulse_round.closes_at


def _pulse_record(session: Session, team_id: str, user_id: str, now: datetime, limit: int,
                  secret: bytes | None) -> PulseRecord:
    turns, asked, answered = store.pulse_turns(session=session, team_id=team_id, user_id=user_id, limit=limit)
    # Answers whose ledger mark isn't written yet (it is written in batches, or never for a round's last few).
    unmarked = pulse_store.asked_rounds(session=session, team_id=team_id, user_id=user_id, unmarked=True)
    also = answered_rounds(session=session, secret=secret, user_id=user_id, round_ids=unmarked)
    periods = pulse_store.periods(session=session, round_ids=also)
    return PulseRecord(
        turns=tuple(PulseTurn(period, closes_at, done or period in periods, opens_at <= now < closes_at)
                    for period, opens_at, closes_at, done in turns),
        asked=asked, answered=answered + len(also),
    )


def lead_quality(*, session: Session, team_id: str, week: Week, limit: int = SOURCES_MAX) -> LeadQuality:
    """The week's lead ratings by source, best average first, from the digest's own aggregations."""
    count, raters, average, good, bad = digest_store.lead_totals(
        session=session, team_id=team_id, start=week.start, end=week.end)
    sources = by_average(digest_store.lead_sources(session=session, team_id=team_id, start=week.start,
                                                   end=week.end))
    campaigns = ranked_campaigns(session=session, team_id=team_id, week=week)
    return LeadQuality(
        week=week.label, ratings=count, raters=raters, average=round(average, 2) if average is not None else None,
        good_share=good / count if count else None, bad_share=bad / count if count else None,
        sources=Listed(tuple(sources[:limit]), len(sources)),
        campaigns=Listed(tuple(campaigns[:limit]), len(campaigns)),
    )
