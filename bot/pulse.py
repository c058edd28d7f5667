"""Pulse checks: when rounds open, anonymous answers and comments, reminders, results."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from bot.errors import CrossfeedError, InvalidInput, NotAllowed, NotFound
from storage import pulse as store
from storage import queries
from storage.models import PulseRound, WorkspaceConfig
from storage.teams import team_members, workspace_config

DEFAULT_QUESTIONS = (
    "How aligned do you feel with {other team} this week?",
    "How useful was {other team}'s work to you this week?",
)
COMMENT_PROMPT = "One thing {other team} did well or could do better"
COMMENT_MAX = 500
SCALE = {1: "Not at all", 2: "A little", 3: "Somewhat", 4: "Mostly", 5: "Completely"}


class RoundClosed(CrossfeedError):
    pass


class PulseButtonValue(BaseModel):
    """A DM button's value: the round, the question and score, and the respondent's random token."""

    r: int
    t: str = Field(min_length=8, max_length=32)
    q: int | None = None
    s: int | None = Field(default=None, ge=1, le=5)


def new_respondent_token() -> str:
    """A random token that lives only in one person's DM buttons; the database never learns whose it is."""
    return secrets.token_urlsafe(12)


def other_side(side: str) -> str:
    return "marketing" if side == "sales" else "sales"


def team_name(pulse_round: PulseRound, side: str) -> str:
    return pulse_round.sales_name if side == "sales" else pulse_round.marketing_name


def phrase(template: str, pulse_round: PulseRound, side: str) -> str:
    """A question as `side` reads it: "{other team}" becomes the other team's name."""
    return template.replace("{other team}", team_name(pulse_round, other_side(side)))


def workspace_zone(config: WorkspaceConfig, default: str | None) -> ZoneInfo:
    for name in (config.timezone, default, "UTC"):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


@dataclass(frozen=True)
class PulseSchedule:
    period: str
    opens_at: datetime
    remind_at: datetime
    closes_at: datetime


def scheduled_round(config: WorkspaceConfig, now: datetime, *, default_zone: str | None = None) -> PulseSchedule | None:
    """This week's round as the workspace's schedule has it (None in an off week of a biweekly cadence).

    The opening comes from a cron trigger in the workspace time zone, so 10:00 stays 10:00 local
    across a DST change.
    """
    zone = workspace_zone(config, default_zone)
    local = now.astimezone(zone)
    monday = datetime(local.year, local.month, local.day, tzinfo=zone) - timedelta(days=local.weekday())
    if config.pulse_cadence == "biweekly" and (monday.toordinal() // 7) % 2:
        return None
    hour, minute = (int(part) for part in config.pulse_time.split(":"))
    trigger = CronTrigger(day_of_week=config.pulse_day, hour=hour, minute=minute, timezone=zone)
    opens_at = trigger.get_next_fire_time(None, monday)
    year, week, _ = monday.isocalendar()
    return PulseSchedule(
        period=f"{year}-W{week:02d}",
        opens_at=opens_at,
        remind_at=opens_at + timedelta(hours=config.pulse_reminder_hours),
        closes_at=opens_at + timedelta(hours=config.pulse_open_hours),
    )


def next_opening(config: WorkspaceConfig, now: datetime, *, default_zone: str | None = None) -> datetime:
    """When the next round opens, for telling people."""
    for weeks in range(3):
        schedule = scheduled_round(config, now + timedelta(weeks=weeks), default_zone=default_zone)
        if schedule and schedule.opens_at > now:
            return schedule.opens_at
    return now


@dataclass(frozen=True)
class OpenedRound:
    round_id: int
    period: str
    asked: int


def open_due_round(*, session: Session, team_id: str, now: datetime, default_zone: str | None = None
                   ) -> OpenedRound | None:
    """Open this period's round if it is due and not open yet: enrol both teams and queue their DMs.

    The round is unique per workspace and period, so of two clocks racing only one enrols anyone;
    a round missed while the app was down opens once, late, as long as it would still be open.
    """
    config = workspace_config(session=session, team_id=team_id)
    schedule = scheduled_round(config, now, default_zone=default_zone)
    if schedule is None or not (schedule.opens_at <= now < schedule.closes_at):
        return None
    round_id = store.create_round(
        session=session, team_id=team_id, period=schedule.period, opens_at=schedule.opens_at,
        remind_at=schedule.remind_at, closes_at=schedule.closes_at,
        questions=list(config.pulse_questions or DEFAULT_QUESTIONS),
        sales_name=config.sales_name, marketing_name=config.marketing_name, reminders_queued=False,
    )
    if round_id is None:
        return None
    enrolled = store.enrol_team_members(session=session, team_id=team_id, round_id=round_id)
    for user_id in enrolled:
        queries.enqueue_outbox(session=session, team_id=team_id, kind="pulse_prompt",
                               dedupe_key=f"pulse:{round_id}:{user_id}", channel=user_id,
                               payload={"round_id": round_id, "user_id": user_id}, now=now)
    return OpenedRound(round_id=round_id, period=schedule.period, asked=len(enrolled))


def queue_due_reminders(*, session: Session, now: datetime) -> int:
    """Queue one reminder DM for each person who has not answered a round whose reminder time came."""
    queued = 0
    for pulse_round in store.rounds_due_for_reminders(session=session, now=now):
        if not store.claim_reminders(session=session, round_id=pulse_round.id):
            continue
        for user_id in store.non_responders(session=session, round_id=pulse_round.id):
            queries.enqueue_outbox(session=session, team_id=pulse_round.team_id, kind="pulse_reminder",
                                   dedupe_key=f"pulse-reminder:{pulse_round.id}:{user_id}", channel=user_id,
                                   payload={"round_id": pulse_round.id, "user_id": user_id}, now=now)
            queued += 1
    return queued


def reminder_state(*, session: Session, round_id: int, user_id: str, now: datetime) -> datetime | None:
    """When the round closes, if this person should still be reminded; None if they answered or it closed."""
    pulse_round = store.pulse_round(session=session, round_id=round_id)
    ledger = store.participation(session=session, round_id=round_id, user_id=user_id)
    if pulse_round is None or ledger is None or ledger.answered_via or now >= pulse_round.closes_at:
        return None
    return pulse_round.closes_at


@dataclass(frozen=True)
class PulsePrompt:
    """What one person's pulse DM shows."""

    round_id: int
    side: str
    token: str
    questions: tuple[str, ...]
    comment_prompt: str
    chosen: dict[int, int]
    has_comment: bool
    closes_at: datetime
    threshold: int
    answered_via_form: bool = False


def prompt_for(*, session: Session, round_id: int, user_id: str, token: str | None = None) -> PulsePrompt | None:
    """The DM for a person asked in this round (a fresh token unless one is given); None if not asked."""
    pulse_round = store.pulse_round(session=session, round_id=round_id)
    ledger = store.participation(session=session, round_id=round_id, user_id=user_id) if pulse_round else None
    if ledger is None:
        return None
    known = token is not None  # a fresh token has no answers yet: skip looking
    token = token or new_respondent_token()
    return PulsePrompt(
        round_id=round_id, side=ledger.side, token=token,
        questions=tuple(phrase(q, pulse_round, ledger.side) for q in pulse_round.questions),
        comment_prompt=phrase(COMMENT_PROMPT, pulse_round, ledger.side),
        chosen=store.answers_of(session=session, round_id=round_id, respondent=token) if known else {},
        has_comment=known and store.comment_of(session=session, round_id=round_id, respondent=token) is not None,
        closes_at=pulse_round.closes_at, answered_via_form=ledger.answered_via == "form",
        threshold=max(3, workspace_config(session=session, team_id=pulse_round.team_id).anonymity_threshold),
    )


def _open_round_for(*, session: Session, team_id: str, round_id: int, user_id: str, now: datetime):
    pulse_round = store.pulse_round(session=session, round_id=round_id)
    if pulse_round is None or pulse_round.team_id != team_id:
        raise NotFound("That pulse no longer exists.")
    if now >= pulse_round.closes_at:
        raise RoundClosed("This pulse has closed, so your answer wasn't recorded. Thanks all the same!")
    if now < pulse_round.opens_at:
        raise RoundClosed("This pulse hasn't opened yet.")
    ledger = store.participation(session=session, round_id=round_id, user_id=user_id)
    if ledger is None:
        raise NotAllowed("This pulse wasn't sent to you: it goes to the sales and marketing teams.")
    return pulse_round, ledger


def record_pulse_click(*, session: Session, team_id: str, user_id: str, value: PulseButtonValue,
                       now: datetime) -> PulsePrompt:
    """Store (or change) one answer from a DM button; a double click stays one answer."""
    pulse_round, ledger = _open_round_for(session=session, team_id=team_id, round_id=value.r,
                                          user_id=user_id, now=now)
    if value.q is None or value.s is None or not 0 <= value.q < len(pulse_round.questions):
        raise InvalidInput({"answer": "That button doesn't match a question of this pulse."})
    if not store.mark_answered(session=session, round_id=value.r, user_id=user_id, via="dm"):
        raise NotAllowed("You already answered this pulse with `/pulse`. Thanks!")
    store.save_answer(session=session, team_id=team_id, round_id=value.r, respondent=value.t,
                      question=value.q, side=ledger.side, score=value.s)
    return prompt_for(session=session, round_id=value.r, user_id=user_id, token=value.t)


def record_pulse_comment(*, session: Session, team_id: str, user_id: str, round_id: int, token: str,
                         text: str | None, now: datetime) -> PulsePrompt:
    """Store (or replace) the respondent's anonymous comment."""
    text = (text or "").strip()
    if not text:
        raise InvalidInput({"comment": "Write a comment, or close this window."})
    if len(text) > COMMENT_MAX:
        raise InvalidInput({"comment": f"Your comment is {len(text)} characters; keep it to {COMMENT_MAX}."})
    _, ledger = _open_round_for(session=session, team_id=team_id, round_id=round_id, user_id=user_id, now=now)
    if not store.mark_answered(session=session, round_id=round_id, user_id=user_id, via="dm"):
        raise NotAllowed("You already answered this pulse with `/pulse`. Thanks!")
    store.save_comment(session=session, team_id=team_id, round_id=round_id, respondent=token,
                       side=ledger.side, text=text)
    return prompt_for(session=session, round_id=round_id, user_id=user_id, token=token)


@dataclass(frozen=True)
class PulseFormState:
    """What `/pulse` can do for this person now."""

    status: str  # "not_set_up" | "none_open" | "not_asked" | "answered_in_dm" | "answered_in_form" | "open"
    prompt: PulsePrompt | None = None
    next_opening: datetime | None = None
    closes_at: datetime | None = None


def pulse_form_state(*, session: Session, team_id: str, user_id: str, now: datetime,
                     default_zone: str | None = None) -> PulseFormState:
    pulse_round = store.open_round(session=session, team_id=team_id, now=now)
    if pulse_round is None:
        config = workspace_config(session=session, team_id=team_id)
        if not team_members(session=session, team_id=team_id):
            return PulseFormState("not_set_up")
        return PulseFormState("none_open", next_opening=next_opening(config, now, default_zone=default_zone))
    ledger = store.participation(session=session, round_id=pulse_round.id, user_id=user_id)
    if ledger is None:
        return PulseFormState("not_asked", closes_at=pulse_round.closes_at)
    if ledger.answered_via:
        status = "answered_in_dm" if ledger.answered_via == "dm" else "answered_in_form"
        return PulseFormState(status, closes_at=pulse_round.closes_at)
    prompt = prompt_for(session=session, round_id=pulse_round.id, user_id=user_id)
    return PulseFormState("open", prompt=prompt, closes_at=pulse_round.closes_at)


def record_pulse_form(*, session: Session, team_id: str, user_id: str, round_id: int, scores: dict[int, int],
                      comment: str | None, now: datetime) -> None:
    """Store the answers given in the `/pulse` modal, under a fresh token; the DM is then re-synced."""
    pulse_round, ledger = _open_round_for(session=session, team_id=team_id, round_id=round_id,
                                          user_id=user_id, now=now)
    missing = [i for i in range(len(pulse_round.questions)) if scores.get(i) not in SCALE]
    if missing:
        raise InvalidInput({f"q{i}": "Pick a score from 1 to 5." for i in missing})
    comment = (comment or "").strip() or None
    if comment and len(comment) > COMMENT_MAX:
        raise InvalidInput({"comment": f"Your comment is {len(comment)} characters; keep it to {COMMENT_MAX}."})
    if not store.mark_answered(session=session, round_id=round_id, user_id=user_id, via="form"):
        raise NotAllowed("You already answered this pulse in your DM; change your answers there.")
    token = new_respondent_token()
    for question, score in scores.items():
        store.save_answer(session=session, team_id=team_id, round_id=round_id, respondent=token,
                          question=question, side=ledger.side, score=score)
    if comment:
        store.save_comment(session=session, team_id=team_id, round_id=round_id, respondent=token,
                           side=ledger.side, text=comment)
    # Re-sync the DM so its buttons can't add a second set of answers.
    queries.enqueue_outbox(session=session, team_id=team_id, kind="pulse_prompt",
                           dedupe_key=f"pulse:{round_id}:{user_id}", channel=user_id,
                           payload={"round_id": round_id, "user_id": user_id}, now=now)


@dataclass(frozen=True)
class TeamPulse:
    side: str
    name: str
    asked: int
    answered: int
    scores: tuple[tuple[str, float | None], ...]  # (question as this team read it, average or None if hidden)
    shown: bool
    comments: tuple[str, ...] | None  # None when below the comment threshold


@dataclass(frozen=True)
class PulseResults:
    period: str
    closes_at: datetime
    teams: tuple[TeamPulse, ...]
    gap: float | None  # sales' view of alignment minus marketing's, when both can be shown
    threshold: int
    comment_threshold: int


def pulse_results(*, session: Session, team_id: str, now: datetime) -> PulseResults | None:
    """The last closed round's aggregates, with every number below the anonymity threshold withheld."""
    pulse_round = store.last_closed_round(session=session, team_id=team_id, now=now)
    return round_results(session=session, pulse_round=pulse_round) if pulse_round else None


def round_results(*, session: Session, pulse_round: PulseRound) -> PulseResults:
    """A round's aggregates per team, with every number below the anonymity threshold withheld."""
    config = workspace_config(session=session, team_id=pulse_round.team_id)
    threshold = max(3, config.anonymity_threshold)
    comment_threshold = max(threshold, config.comment_threshold)
    averages = {(side, q): (n, avg) for side, q, n, avg in store.score_aggregates(session=session,
                                                                                  round_id=pulse_round.id)}
    respondents = store.respondents_by_side(session=session, round_id=pulse_round.id)
    ledger = store.participation_by_side(session=session, round_id=pulse_round.id)
    teams = []
    for side in ("sales", "marketing"):
        count = respondents.get(side, 0)
        shown = count >= threshold
        scores = tuple(
            (phrase(q, pulse_round, side),
             round(float(averages[(side, i)][1]), 2) if shown and (side, i) in averages
             and averages[(side, i)][0] >= threshold else None)
            for i, q in enumerate(pulse_round.questions)
        )
        asked, answered = ledger.get(side, (0, 0))
        comments = (tuple(store.comments(session=session, round_id=pulse_round.id, side=side))
                    if count >= comment_threshold else None)
        teams.append(TeamPulse(side=side, name=team_name(pulse_round, side), asked=asked, answered=answered,
                               scores=scores, shown=shown, comments=comments))
    alignment = [team.scores[0][1] if team.scores else None for team in teams]
    gap = round(alignment[0] - alignment[1], 2) if None not in alignment else None
    return PulseResults(period=pulse_round.period, closes_at=pulse_round.closes_at, teams=tuple(teams), gap=gap,
                        threshold=threshold, comment_threshold=comment_threshold)
