"""Pulse checks: when rounds open, anonymous answers and comments, reminders, results."""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session

from bot.errors import CrossfeedError, InvalidInput, NotAllowed, NotFound
from bot.people import mark_back, people_times
from bot.results.people import BackMarked
from bot.results.pulse import (
    AWAY_TEXT,
    COMMENT_MAX,
    SCALE,
    PulseButtonValue,
    PulseFormState,
    PulsePrompt,
    PulseResults,
    TeamPulse,
)
from bot.results.setup import THRESHOLD_MIN
from bot.zones import workspace_zone, zone_named
from storage import outbox
from storage import pulse as store
from storage.models import PulseParticipation, PulseRound, WorkspaceConfig
from storage.outbox import Message, home_refresh
from storage.teams import team_members, workspace_config, workspace_configs

DEFAULT_QUESTIONS = (
    "How aligned do you feel with {other team} this week?",
    "How useful was {other team}'s work to you this week?",
)
COMMENT_PROMPT = "One thing {other team} did well or could do better"


class RoundClosed(CrossfeedError):
    pass


class PulseKeyMissing(CrossfeedError):
    pass


# Domain separation: the respondent key is never the Slack secret itself, nor usable as one.
RESPONDENT_KEY_LABEL = b"crossfeed pulse respondent key v1"


def respondent_secret(*, pulse_key: str | None, slack_signing_secret: str | None,
                      slack_app_token: str | None = None) -> bytes | None:
    """The key behind respondent keys: from PULSE_KEY, else derived from a Slack secret; never in the database."""
    for material in (pulse_key, slack_signing_secret, slack_app_token):
        if material:
            return hmac.new(material.encode(), RESPONDENT_KEY_LABEL, hashlib.sha256).digest()
    return None


def secret_of(settings) -> bytes | None:
    return respondent_secret(
        pulse_key=settings.pulse_key.get_secret_value() if settings.pulse_key else None,
        slack_signing_secret=settings.slack_signing_secret, slack_app_token=settings.slack_app_token,
    )


def respondent_key(secret: bytes | None, round_id: int, user_id: str) -> str:
    """The one key a person's answers in a round are stored under: HMAC(secret, round, person).

    The same person gets the same key however and however often they answer, so they have one
    answer set per round; without the secret, the key says nothing about who they are.
    """
    if not secret:
        raise PulseKeyMissing("Pulse answers can't be stored right now: the app has no pulse key "
                              "(PULSE_KEY). Please tell your Crossfeed admin.")
    return hmac.new(secret, f"{round_id}:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]


def other_side(side: str) -> str:
    return "marketing" if side == "sales" else "sales"


def team_name(pulse_round: PulseRound, side: str) -> str:
    return pulse_round.sales_name if side == "sales" else pulse_round.marketing_name


def phrase(template: str, pulse_round: PulseRound, side: str) -> str:
    """A question as `side` reads it: "{other team}" becomes the other team's name."""
    return template.replace("{other team}", team_name(pulse_round, other_side(side)))


@dataclass(frozen=True)
class PulseSchedule:
    """One workspace week's round: each person opens it at the schedule's day and time in their own zone.

    The round's window runs from the first person's opening to the last one's plus how long a round stays
    open, so everyone has at least that long; the period is the ISO week in the workspace's zone.
    """

    period: str
    monday: date  # the week's Monday, in the workspace's zone
    day: str
    at: time
    reminder: timedelta
    open_for: timedelta
    zones: tuple[ZoneInfo, ...]

    def opening_in(self, zone: ZoneInfo) -> datetime:
        """The schedule's day and time in `zone`, in this week: 10:00 stays 10:00 there across a DST change."""
        return _local_opening(self.monday, self.day, self.at, zone)

    def reminder_in(self, zone: ZoneInfo) -> datetime | None:
        """When someone in `zone` is reminded; None when that would be after the round closes."""
        remind_at = self.opening_in(zone) + self.reminder
        return remind_at if remind_at < self.closes_at else None

    @property
    def opens_at(self) -> datetime:
        return min(self.opening_in(zone) for zone in self.zones)

    @property
    def remind_at(self) -> datetime:
        return self.opens_at + self.reminder

    @property
    def closes_at(self) -> datetime:
        return max(self.opening_in(zone) for zone in self.zones) + self.open_for


@lru_cache(maxsize=4096)
def _local_opening(monday: date, day: str, at: time, zone: ZoneInfo) -> datetime:
    # Cached: a round's ledger asks it for every person, and a few zones cover a whole team.
    trigger = CronTrigger(day_of_week=day, hour=at.hour, minute=at.minute, timezone=zone)
    return trigger.get_next_fire_time(None, datetime.combine(monday, time(), tzinfo=zone))


def week_schedule(config: WorkspaceConfig, monday: date, zones: Iterable[ZoneInfo]) -> PulseSchedule | None:
    """The round of the week starting `monday` (workspace zone); None in a biweekly off week or a skipped week."""
    if config.pulse_cadence == "biweekly" and (monday.toordinal() // 7) % 2:
        return None
    year, week, _ = monday.isocalendar()
    period = f"{year}-W{week:02d}"
    if period in (config.skipped_pulse_weeks or ()):
        return None  # an admin skipped this week (a holiday week): no round opens
    return PulseSchedule(period=period, monday=monday, day=config.pulse_day, at=time.fromisoformat(config.pulse_time),
                         reminder=timedelta(hours=config.pulse_reminder_hours),
                         open_for=timedelta(hours=config.pulse_open_hours),
                         zones=tuple(sorted(set(zones), key=str)))


def scheduled_round(config: WorkspaceConfig, now: datetime, *, default_zone: str | None = None,
                    zones: Iterable[ZoneInfo] = ()) -> PulseSchedule | None:
    """The round open at `now`, else this week's (None in an off week), for people in these zones.

    With people east of the workspace, next week's round can open before this week ends locally (a Monday
    09:00 in Sydney is Sunday in San Francisco), so next week is asked too.
    """
    zone = workspace_zone(config, default_zone)
    zones = tuple(zones) or (zone,)
    local = now.astimezone(zone).date()
    monday = local - timedelta(days=local.weekday())
    this_week = week_schedule(config, monday, zones)
    for schedule in (this_week, week_schedule(config, monday + timedelta(weeks=1), zones)):
        if schedule is not None and schedule.opens_at <= now < schedule.closes_at:
            return schedule
    return this_week


def next_opening(config: WorkspaceConfig, now: datetime, *, default_zone: str | None = None,
                 zone: ZoneInfo | None = None) -> datetime:
    """When the next round opens for someone in `zone` (the workspace's by default), for telling people."""
    zones = (zone,) if zone else ()
    for weeks in range(4):
        schedule = scheduled_round(config, now + timedelta(weeks=weeks), default_zone=default_zone, zones=zones)
        if schedule and schedule.opens_at > now:
            return schedule.opens_at
    return now


@dataclass(frozen=True)
class OpenedRound:
    round_id: int
    period: str
    asked: int


def _zones(config: WorkspaceConfig, names: Iterable[str | None], default_zone: str | None) -> list[ZoneInfo]:
    fallback = workspace_zone(config, default_zone)
    return [zone_named(name) or fallback for name in names]


def open_due_round(*, session: Session, team_id: str, now: datetime, default_zone: str | None = None
                   ) -> OpenedRound | None:
    """Open this period's round once the first person's opening time has come: write its ledger, with each
    person's own prompt and reminder times (their prompts go out from `queue_due_prompts`).

    The round is unique per workspace and period, so of two clocks racing only one enrols anyone;
    a round missed while the app was down opens once, late, as long as it would still be open.
    """
    if store.open_round(session=session, team_id=team_id, now=now) is not None:
        # Open already: a round spans at most its 72 hours plus the day or so between the team's zones, so the
        # next one can't be due while this one is open (this saves the schedule's work every minute of a round).
        return None
    config = workspace_config(session=session, team_id=team_id)
    zones = _zones(config, store.member_zones(session=session, team_id=team_id), default_zone)
    schedule = scheduled_round(config, now, default_zone=default_zone, zones=zones)
    if schedule is None or not (schedule.opens_at <= now < schedule.closes_at):
        return None
    round_id = store.create_round(
        session=session, team_id=team_id, period=schedule.period, opens_at=schedule.opens_at,
        remind_at=schedule.remind_at, closes_at=schedule.closes_at,
        questions=list(config.pulse_questions or DEFAULT_QUESTIONS),
        sales_name=config.sales_name, marketing_name=config.marketing_name,
    )
    if round_id is None:
        return None
    members = store.members_with_zones(session=session, team_id=team_id)
    people = []
    for (user_id, side, _), zone in zip(members, _zones(config, (m[2] for m in members), default_zone), strict=True):
        people.append((user_id, side, schedule.opening_in(zone), schedule.reminder_in(zone)))
    store.enrol(session=session, team_id=team_id, round_id=round_id, people=people)
    return OpenedRound(round_id=round_id, period=schedule.period, asked=len(people))


def _prompts(session: Session, team_id: str, round_id: int, user_ids: Iterable[str]) -> list[Message]:
    """Each person's pulse DM, and for those with a Home tab already, a Home that shows the pulse waiting.

    Someone whose Home was never published gets it fresh when they first open it (app_home_opened), so refreshing
    it now would change nothing they can see; skipping it halves the work of a round's opening.
    """
    user_ids = list(user_ids)
    with_home = outbox.with_home(session=session, team_id=team_id, user_ids=user_ids)
    return [*(Message(kind="pulse_prompt", dedupe_key=f"pulse:{round_id}:{user_id}", channel=user_id,
                      payload={"round_id": round_id, "user_id": user_id}) for user_id in user_ids),
            *(home_refresh(user_id) for user_id in user_ids if user_id in with_home)]


def _people_due(session: Session, now: datetime, moment, default_zone: str | None):
    """Each open round with people whose prompt (or reminder) time came since the last run, claimed by this
    run: (round id, workspace, [(user id, marked away)], their times). Two clocks never get the same window."""
    for round_id, team_id, since in store.rounds_with_people_due(session=session, now=now, moment=moment):
        if not store.claim_people_due(session=session, round_id=round_id, since=since, now=now, moment=moment):
            continue
        due = store.people_due(session=session, round_id=round_id, since=since, now=now, moment=moment)
        zone = workspace_zone(workspace_config(session=session, team_id=team_id), default_zone)
        times = people_times(session=session, team_id=team_id, user_ids=[user for user, _ in due], default_zone=zone)
        yield round_id, team_id, due, times


def queue_due_prompts(*, session: Session, now: datetime, secret: bytes | None = None,
                      default_zone: str | None = None) -> int:
    """Queue the pulse DM of each person whose own opening time came; someone away then is marked away instead
    (no DM, not counted as asked). Whoever already answered (with `/pulse`, before their time) gets no DM."""
    queued = 0
    for round_id, team_id, due, times in _people_due(session, now, store.PROMPTS, default_zone):
        answered = answered_unmarked(session=session, secret=secret, round_id=round_id) if secret else set()
        away = [user for user, _ in due if user not in answered and times[user].is_away(now)]
        store.mark_away(session=session, round_id=round_id, user_ids=away)
        prompted = [user for user, _ in due if user not in answered and user not in away]
        outbox.enqueue(session=session, team_id=team_id, now=now,
                       messages=_prompts(session, team_id, round_id, prompted))
        queued += len(prompted)
    return queued


def seal_closed_rounds(*, session: Session, now: datetime) -> int:
    """Seal the answers of rounds that closed (storage.pulse.seal_answers says why); how many were sealed."""
    return sum(store.seal_answers(session=session, round_id=round_id)
               for round_id in store.rounds_to_seal(session=session, now=now))


def answered_unmarked(*, session: Session, secret: bytes, round_id: int) -> set[str]:
    """People who have answered the round but whose ledger row isn't marked yet (computed with the secret)."""
    keys = {respondent_key(secret, round_id, user_id): user_id
            for user_id in store.unmarked_participants(session=session, round_id=round_id)}
    return {keys[key] for key in store.respondents(session=session, round_id=round_id, among=keys)}


def flush_answered_marks(*, session: Session, secret: bytes | None, round_id: int) -> int:
    """Write the "has answered" marks once enough people are waiting for one; how many were marked.

    An answer's transaction never touches the ledger. Marks are written later, together, and only
    in a batch of at least the anonymity threshold (and 1/20 of the people asked, so a big round
    rewrites its ledger at most ~20 times): the most a database admin watching the ledger change
    can learn is that an answer came from one of the batch. A mark not yet written costs nothing:
    reminders and Home ask the answers, with the secret, as well as the ledger.
    """
    if not secret:
        return 0
    pulse_round = store.pulse_round(session=session, round_id=round_id)
    if pulse_round is None:
        return 0
    pending = answered_unmarked(session=session, secret=secret, round_id=round_id)
    asked = store.asked_count(session=session, round_id=round_id)
    batch = max(anonymity_threshold(session=session, team_id=pulse_round.team_id), math.ceil(asked / 20))
    if len(pending) < batch:
        return 0
    store.mark_answered(session=session, round_id=round_id, user_ids=pending)
    return len(pending)


def has_answered(*, session: Session, secret: bytes | None, round_id: int, user_id: str) -> bool:
    ledger = store.participation(session=session, round_id=round_id, user_id=user_id)
    if ledger is not None and ledger.answered_via:
        return True
    if not secret:
        return False
    key = respondent_key(secret, round_id, user_id)
    return bool(store.respondents(session=session, round_id=round_id, among=[key]))


def answered_rounds(*, session: Session, secret: bytes | None, user_id: str, round_ids: Iterable[int]) -> set[int]:
    """Of these rounds, the ones this person answered, marked in the ledger or not yet."""
    if not secret:
        return set()
    return store.answered_rounds(session=session,
                                 keys_by_round={r: respondent_key(secret, r, user_id) for r in round_ids})


def queue_due_reminders(*, session: Session, now: datetime, secret: bytes | None = None,
                        default_zone: str | None = None) -> int:
    """Queue one reminder DM to each person whose own reminder time came and who hasn't answered.

    Away is asked again then: someone away now is marked away (no reminder); someone who was away at their
    opening and is back gets the pulse itself, late, and counts as asked again.
    With the secret, whoever answered is skipped even if their mark isn't written yet (and a due
    batch of marks is written first); without it (a clock given no Slack secret or PULSE_KEY) only
    the ledger counts, so at most a batch's worth of people who answered get an extra reminder.
    """
    queued = 0
    for round_id, team_id, due, times in _people_due(session, now, store.REMINDERS, default_zone):
        flush_answered_marks(session=session, secret=secret, round_id=round_id)
        answered = answered_unmarked(session=session, secret=secret, round_id=round_id) if secret else set()
        waiting = [(user, was_away) for user, was_away in due if user not in answered]
        away = [user for user, was_away in waiting if not was_away and times[user].is_away(now)]
        back = [user for user, was_away in waiting if was_away and not times[user].is_away(now)]
        reminded = [user for user, was_away in waiting if not was_away and user not in away]
        store.mark_away(session=session, round_id=round_id, user_ids=away)
        store.mark_away(session=session, round_id=round_id, user_ids=back, away=False)
        reminders = [Message(kind="pulse_reminder", dedupe_key=f"pulse-reminder:{round_id}:{user_id}",
                             channel=user_id, payload={"round_id": round_id, "user_id": user_id})
                     for user_id in reminded]
        outbox.enqueue(session=session, team_id=team_id, now=now,
                       messages=[*reminders, *_prompts(session, team_id, round_id, back)])
        queued += len(reminders) + len(back)
    return queued


def come_back(*, session: Session, team_id: str, user_id: str, now: datetime,
              default_zone: str | None = None) -> BackMarked:
    """`/pulse back`: their declared time off ends now, and an open round that marked them away is theirs to
    answer again (its DM goes now), unless their Slack status still says they're away."""
    back = mark_back(session=session, team_id=team_id, user_id=user_id, now=now, default_zone=default_zone)
    if back.still_away is None and rejoin_open_round(session=session, team_id=team_id, user_id=user_id, now=now):
        return replace(back, pulse_sent=True)
    return back


def rejoin_open_round(*, session: Session, team_id: str, user_id: str, now: datetime) -> bool:
    """Someone back from time off (`/pulse back`) while a round is open that marked them away: they count as
    asked again and get the pulse now. True if they did."""
    pulse_round = store.open_round(session=session, team_id=team_id, now=now)
    ledger = store.participation(session=session, round_id=pulse_round.id, user_id=user_id) if pulse_round else None
    if ledger is None or not ledger.away:
        return False
    store.mark_away(session=session, round_id=pulse_round.id, user_ids=[user_id], away=False)
    outbox.enqueue(session=session, team_id=team_id, now=now,
                   messages=_prompts(session, team_id, pulse_round.id, [user_id]))
    return True


def reminder_state(*, session: Session, round_id: int, user_id: str, now: datetime,
                   secret: bytes | None = None) -> datetime | None:
    """When the round closes, if this person should still be reminded; None if they answered or it closed."""
    pulse_round = store.pulse_round(session=session, round_id=round_id)
    ledger = store.participation(session=session, round_id=round_id, user_id=user_id)
    if pulse_round is None or ledger is None or ledger.away or now >= pulse_round.closes_at:
        return None
    if has_answered(session=session, secret=secret, round_id=round_id, user_id=user_id):
        return None
    return pulse_round.closes_at


def anonymity_threshold(*, session: Session, team_id: str) -> int:
    return threshold_in_force(config=workspace_config(session=session, team_id=team_id))


def threshold_in_force(*, config: WorkspaceConfig) -> int:
    """The workspace's anonymity threshold, never below the floor."""
    return max(THRESHOLD_MIN, config.anonymity_threshold)


def prompt_for(*, session: Session, round_id: int, user_id: str, secret: bytes | None = None) -> PulsePrompt | None:
    """The pulse as this person sees it (their answers so far, given the secret); None if not asked."""
    pulse_round = store.pulse_round(session=session, round_id=round_id)
    ledger = store.participation(session=session, round_id=round_id, user_id=user_id) if pulse_round else None
    if ledger is None:
        return None
    key = respondent_key(secret, round_id, user_id) if secret else None
    return _prompt(pulse_round, ledger, threshold=anonymity_threshold(session=session, team_id=pulse_round.team_id),
                   chosen=store.answers_of(session=session, round_id=round_id, respondent=key) if key else {},
                   comment=store.comment_of(session=session, round_id=round_id, respondent=key) if key else None)


def fresh_prompts(*, session: Session, asked: Collection[tuple[int, str]]) -> dict[tuple[int, str], PulsePrompt]:
    """The pulse as each (round id, user id) asked first sees it, with no answers: read for a whole claim of prompt
    DMs in three queries rather than three for each. A pair no longer asked is left out."""
    rounds = store.pulse_rounds(session=session, round_ids={round_id for round_id, _ in asked})
    ledgers = store.participations(session=session, asked=[pair for pair in asked if pair[0] in rounds])
    configs = workspace_configs(session=session, team_ids={pulse_round.team_id for pulse_round in rounds.values()})
    thresholds = {team_id: threshold_in_force(config=config) for team_id, config in configs.items()}
    return {pair: _prompt(rounds[pair[0]], ledger, threshold=thresholds[rounds[pair[0]].team_id], chosen={},
                          comment=None)
            for pair, ledger in ledgers.items()}


def _prompt(pulse_round: PulseRound, ledger: PulseParticipation, *, threshold: int, chosen: dict[int, int],
            comment: str | None) -> PulsePrompt:
    return PulsePrompt(
        round_id=pulse_round.id, side=ledger.side, away=ledger.away,
        questions=tuple(phrase(q, pulse_round, ledger.side) for q in pulse_round.questions),
        comment_prompt=phrase(COMMENT_PROMPT, pulse_round, ledger.side),
        chosen=chosen, comment=comment, closes_at=pulse_round.closes_at, threshold=threshold,
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
    if ledger.away:
        # Away people aren't counted as asked, so an answer from them would count against nobody.
        raise NotAllowed(AWAY_TEXT)
    return pulse_round, ledger


# The record_* functions write answers and comments only: their transaction must name nobody (no
# ledger mark, no outbox row). Callers run flush_answered_marks in a transaction of its own afterwards.

def record_pulse_click(*, session: Session, secret: bytes | None, team_id: str, user_id: str,
                       value: PulseButtonValue, now: datetime) -> PulsePrompt:
    """Store (or change) one answer from a DM button; a double click stays one answer."""
    pulse_round, ledger = _open_round_for(session=session, team_id=team_id, round_id=value.r,
                                          user_id=user_id, now=now)
    if value.q is None or value.s is None or not 0 <= value.q < len(pulse_round.questions):
        raise InvalidInput({"answer": "That button doesn't match a question of this pulse."})
    store.save_answer(session=session, team_id=team_id, round_id=value.r,
                      respondent=respondent_key(secret, value.r, user_id),
                      question=value.q, side=ledger.side, score=value.s)
    return prompt_for(session=session, round_id=value.r, user_id=user_id, secret=secret)


def record_pulse_comment(*, session: Session, secret: bytes | None, team_id: str, user_id: str, round_id: int,
                         text: str | None, now: datetime) -> PulsePrompt:
    """Store (or replace) the respondent's anonymous comment."""
    text = (text or "").strip()
    if not text:
        raise InvalidInput({"comment": "Write a comment, or close this window."})
    if len(text) > COMMENT_MAX:
        raise InvalidInput({"comment": f"Your comment is {len(text)} characters; keep it to {COMMENT_MAX}."})
    _, ledger = _open_round_for(session=session, team_id=team_id, round_id=round_id, user_id=user_id, now=now)
    store.save_comment(session=session, team_id=team_id, round_id=round_id,
                       respondent=respondent_key(secret, round_id, user_id), side=ledger.side, text=text)
    return prompt_for(session=session, round_id=round_id, user_id=user_id, secret=secret)


def pulse_form_state(*, session: Session, team_id: str, user_id: str, now: datetime,
                     secret: bytes | None = None, default_zone: str | None = None) -> PulseFormState:
    pulse_round = store.open_round(session=session, team_id=team_id, now=now)
    if pulse_round is None:
        config = workspace_config(session=session, team_id=team_id)
        if not team_members(session=session, team_id=team_id):
            return PulseFormState("not_set_up")
        zone = people_times(session=session, team_id=team_id, user_ids=[user_id],
                            default_zone=workspace_zone(config, default_zone))[user_id].zone
        return PulseFormState("none_open", next_opening=next_opening(config, now, default_zone=default_zone,
                                                                     zone=zone))
    prompt = prompt_for(session=session, round_id=pulse_round.id, user_id=user_id, secret=secret)
    if prompt is None:
        return PulseFormState("not_asked", closes_at=pulse_round.closes_at)
    if prompt.away:
        return PulseFormState("away", closes_at=pulse_round.closes_at)
    return PulseFormState("open", prompt=prompt, closes_at=pulse_round.closes_at)


def record_pulse_form(*, session: Session, secret: bytes | None, team_id: str, user_id: str, round_id: int,
                      scores: dict[int, int], comment: str | None, now: datetime) -> None:
    """Store the `/pulse` modal's answers as the person's one answer set, replacing what they said before.

    The same submission delivered twice, or a second form, writes the same rows again.
    """
    pulse_round, ledger = _open_round_for(session=session, team_id=team_id, round_id=round_id,
                                          user_id=user_id, now=now)
    missing = [i for i in range(len(pulse_round.questions)) if scores.get(i) not in SCALE]
    if missing:
        raise InvalidInput({f"q{i}": "Pick a score from 1 to 5." for i in missing})
    comment = (comment or "").strip() or None
    if comment and len(comment) > COMMENT_MAX:
        raise InvalidInput({"comment": f"Your comment is {len(comment)} characters; keep it to {COMMENT_MAX}."})
    key = respondent_key(secret, round_id, user_id)
    for question in range(len(pulse_round.questions)):
        store.save_answer(session=session, team_id=team_id, round_id=round_id, respondent=key,
                          question=question, side=ledger.side, score=scores[question])
    if comment:
        store.save_comment(session=session, team_id=team_id, round_id=round_id, respondent=key,
                           side=ledger.side, text=comment)
    else:  # the form shows their comment; sending it empty takes the comment back
        store.delete_comment(session=session, round_id=round_id, respondent=key)


def sent_prompt(*, session: Session, team_id: str, round_id: int, user_id: str) -> tuple[str, str] | None:
    """(channel, ts) of the pulse DM this person got, to show a `/pulse` answer there too; read, never written."""
    message = outbox.outbox_message_for(session=session, team_id=team_id, dedupe_key=f"pulse:{round_id}:{user_id}")
    if message is None or not message.slack_ts or not message.channel:
        return None
    return message.channel, message.slack_ts


def pulse_results(*, session: Session, team_id: str, now: datetime) -> PulseResults | None:
    """The last closed round's aggregates, with every number below the anonymity threshold withheld."""
    pulse_round = store.last_closed_round(session=session, team_id=team_id, now=now)
    return round_results(session=session, pulse_round=pulse_round) if pulse_round else None


def round_results(*, session: Session, pulse_round: PulseRound) -> PulseResults:
    """A round's aggregates per team, with every number below the anonymity threshold withheld."""
    config = workspace_config(session=session, team_id=pulse_round.team_id)
    threshold = anonymity_threshold(session=session, team_id=pulse_round.team_id)
    comment_threshold = max(threshold, config.comment_threshold)
    averages = {(side, q): (n, avg) for side, q, n, avg in store.score_aggregates(session=session,
                                                                                  round_id=pulse_round.id)}
    respondents = store.respondents_by_side(session=session, round_id=pulse_round.id)
    asked_by_side = store.asked_by_side(session=session, round_id=pulse_round.id)
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
        (asked, away), answered = asked_by_side.get(side, (0, 0)), count  # answered: from the answers
        comments = (tuple(store.comments(session=session, round_id=pulse_round.id, side=side))
                    if count >= comment_threshold else None)
        teams.append(TeamPulse(side=side, name=team_name(pulse_round, side), asked=asked, answered=answered,
                               scores=scores, shown=shown, comments=comments, away=away))
    alignment = [team.scores[0][1] if team.scores else None for team in teams]
    gap = round(alignment[0] - alignment[1], 2) if None not in alignment else None
    return PulseResults(period=pulse_round.period, closes_at=pulse_round.closes_at, teams=tuple(teams), gap=gap,
                        threshold=threshold, comment_threshold=comment_threshold)
