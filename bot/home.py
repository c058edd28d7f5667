"""The App Home tab: what waits for one person, what they did lately, and what each of their roles needs."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.digest import (
    Week,
    build_weekly_digest,
    by_average,
    last_complete_week,
    ranked_campaigns,
    week_of,
)
from bot.follow_up_stats import HOME_WEEKS, follow_up_by_source, open_leads
from bot.lead_stats import lead_stats
from bot.leads import my_recent_ratings
from bot.loop import heard_back, open_actions_owned, week_actions
from bot.messaging import AskView, view_of
from bot.people import away_now
from bot.pulse import answered_rounds
from bot.results.home import (
    AnsweredAsk,
    HeardBack,
    HomeSummary,
    LeadQuality,
    Listed,
    PulseRecord,
    PulseTurn,
    Roles,
)
from bot.typed_sources import typed_source_queue
from bot.zones import workspace_zone
from storage import digest as digest_store
from storage import home as store
from storage.teams import workspace_config

LIST_MAX = 5
SOURCES_MAX = 8


def home_summary(*, session: Session, team_id: str, user_id: str, now: datetime,
                 configured_admins: frozenset[str] = frozenset(), default_zone: str | None = None,
                 pulse_secret: bytes | None = None, limit: int = LIST_MAX) -> HomeSummary:
    """Build one person's Home: the parts for everyone, then those for marketers and for leaders and admins.

    The parts for everyone take four statements: who they are (with their pulse rounds), their ratings,
    the asks around them, and which of their unmarked rounds they answered.
    """
    since = now - timedelta(weeks=HOME_WEEKS)  # marketers' follow-up by source covers these weeks
    found = store.person(session=session, team_id=team_id, user_id=user_id, now=now, since=since)
    if found is None:  # a workspace without a configuration yet: it gets its defaults
        workspace_config(session=session, team_id=team_id)
        found = store.person(session=session, team_id=team_id, user_id=user_id, now=now, since=since)
    config = found.config
    zone = workspace_zone(config, default_zone)
    roles = Roles(side=found.side,
                  team_name={"sales": config.sales_name, "marketing": config.marketing_name}.get(found.side),
                  leader=user_id in (config.leader_user_ids or []),
                  admin=found.admin or user_id in configured_admins)
    ratings, rated = my_recent_ratings(session=session, team_id=team_id, user_id=user_id, limit=limit)
    # Asks are for the sales team: a marketer or leader is not offered one to answer.
    asks = store.person_asks(session=session, team_id=team_id, user_id=user_id, now=now, limit=limit,
                             waiting=found.in_sales_team, mine=roles.marketer)
    waiting, record = _pulse(session, found, user_id, now, limit, pulse_secret)
    return HomeSummary(
        user_id=user_id,
        set_up=found.set_up,
        has_admins=found.any_admin or bool(configured_admins),
        roles=roles,
        pulse_closes_at=waiting,
        asks_to_answer=_listed_asks(asks.waiting, now),
        ratings=Listed(tuple(ratings), rated),
        answers=Listed(tuple(AnsweredAsk(row.ask.id, row.ask.name, row.reaction, row.answered_at)
                             for row in asks.answered[0]), asks.answered[1]),
        pulse_record=record,
        my_open_asks=_listed_asks(asks.mine, now) if roles.marketer else None,
        lead_quality=lead_quality(session=session, team_id=team_id, week=week_of(now, zone))
        if roles.marketer else None,
        lead_stats=lead_stats(session=session, team_id=team_id, now=now) if roles.marketer else None,
        digest=build_weekly_digest(session=session, team_id=team_id, week=last_complete_week(now, zone), now=now)
        if roles.reads_digest else None,
        # Read only when the statement above found something to show: a rep's Home stays within its statements.
        heard_back=_heard_back(session, found, team_id, user_id, limit)
        if found.in_sales_team or found.heard_back else None,
        my_actions=open_actions_owned(session=session, team_id=team_id, user_id=user_id, limit=limit)
        if found.owns_open_actions else Listed((), 0) if roles.marketer else None,
        week_actions=week_actions(session=session, team_id=team_id, week=week_of(now, zone), now=now, limit=limit)
        if roles.reads_digest else None,
        today=now.astimezone(zone).date(),
        # Each read only when the statement above found rows for it: Home stays within its statements.
        open_leads=open_leads(session=session, team_id=team_id, user_id=user_id, config=config, zone=zone, now=now,
                              limit=limit) if found.owns_open_leads else None,
        follow_up_sources=follow_up_by_source(session=session, team_id=team_id, now=now)
        if roles.marketer and found.leads_lately else None,
        away=away_now(found.time, default_zone=zone, now=now),
        typed_sources=typed_source_queue(session=session, team_id=team_id, limit=limit) if roles.admin else None,
    )


def _heard_back(session: Session, found: store.PersonRow, team_id: str, user_id: str,
                limit: int) -> Listed[HeardBack]:
    if not found.heard_back:
        return Listed((), 0)
    return heard_back(session=session, team_id=team_id, user_id=user_id, limit=limit)


def _listed_asks(page: tuple[list[store.AskRow], int], now: datetime) -> Listed[AskView]:
    rows, total = page
    return Listed(tuple(view_of(row.ask, row.tally, now) for row in rows), total)


def _pulse(session: Session, found: store.PersonRow, user_id: str, now: datetime, limit: int,
           secret: bytes | None) -> tuple[datetime | None, PulseRecord]:
    """When the open round closes if it waits for this person's answer, and their record of rounds.

    The ledger marks answers in batches (or never, for a round's last few): for the rounds it doesn't mark,
    the answers themselves say whether this person answered.
    """
    unmarked = [turn.round_id for turn in found.turns if not turn.marked]
    also = answered_rounds(session=session, secret=secret, user_id=user_id, round_ids=unmarked) if unmarked else set()
    answered = {turn.round_id for turn in found.turns if turn.marked} | also
    open_turn = next((turn for turn in found.turns if turn.round_id == found.open_round_id), None)
    # It waits for them from their own opening time, unless they were away when it went out.
    waiting = (open_turn.closes_at if open_turn is not None and open_turn.round_id not in answered
               and not open_turn.away and (open_turn.prompt_at is None or open_turn.prompt_at <= now) else None)
    asked = [turn for turn in found.turns if not turn.away or turn.round_id in answered]
    return waiting, PulseRecord(
        turns=tuple(PulseTurn(turn.period, turn.closes_at, turn.round_id in answered,
                              turn.opens_at <= now < turn.closes_at, away=turn.away and turn.round_id not in answered)
                    for turn in found.turns[:limit]),
        asked=len(asked), answered=len(answered),
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
