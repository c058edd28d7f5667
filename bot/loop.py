"""Where people see the loop close: "You said, we did" in the digest, and what came of feedback on Home."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.leads import FEED_KEY
from bot.results.digest import ActionLine, LoopSection, Week
from bot.results.home import HeardBack, Listed, WeekActions
from storage import loop as store
from storage.models import Action

WORKING_DAYS_TO_ANSWER = 2
# Feedback whose two working days run out on a Monday was given as early as the Thursday before (Mon–Fri).
_LOOK_BACK = timedelta(days=5)


def answer_due_by(given_at: datetime, zone: ZoneInfo, working_days: int = WORKING_DAYS_TO_ANSWER) -> datetime:
    """When feedback given at `given_at` has waited `working_days` working days (Mon–Fri in `zone`): Friday 15:00
    is due Tuesday 15:00; a weekend's feedback counts from Monday 00:00, so Saturday's is due Wednesday 00:00."""
    local = given_at.astimezone(zone)
    day, wall = local.date(), local.time().replace(tzinfo=None)
    if day.weekday() >= 5:
        day, wall = day + timedelta(days=7 - day.weekday()), time.min
    for _ in range(working_days):
        day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
    # Built from the local date and wall time, so a DST change in between moves nothing.
    return datetime.combine(day, wall, tzinfo=zone)


def action_line(action: Action) -> ActionLine:
    return ActionLine(id=action.id, title=action.title, owner_user_id=action.owner_user_id, due_on=action.due_on,
                      status=action.status, prompt_kind=action.prompt_kind, prompt_label=action.prompt_label,
                      outcome=action.outcome)


def you_said_we_did(*, session: Session, team_id: str, week: Week, now: datetime) -> LoopSection | None:
    """The week's "You said, we did", or None when it has nothing to say.

    Judged as of the week's end (or now, for a week in progress): actions done in the week, actions due before that
    day and still open then, and the lead flags and intel items whose two working days to an answer ran out by then.
    """
    as_of = min(now, week.end)
    done = store.done_actions(session=session, team_id=team_id, start=week.start, end=as_of)
    overdue = store.overdue_actions(session=session, team_id=team_id, due_before=as_of.astimezone(week.zone).date(),
                                    as_of=as_of)
    items = store.feedback_items(session=session, team_id=team_id, start=week.start - _LOOK_BACK, end=as_of,
                                 feed_key_prefix=FEED_KEY)
    due = [(item, answer_due_by(item.given_at, week.zone)) for item in items]
    judged = [(item, by) for item, by in due if week.start <= by < week.end and by <= as_of]
    section = LoopSection(
        done=tuple(action_line(a) for a in done),
        overdue=tuple(action_line(a) for a in overdue),
        answer_due=len(judged),
        answered_in_time=sum(1 for item, by in judged if item.first_replied_at is not None
                             and item.first_replied_at <= by),
    )
    return None if section.empty else section


def heard_back(*, session: Session, team_id: str, user_id: str, limit: int) -> Listed[HeardBack]:
    """What came of a rep's ratings, intel and ask answers: replies to them, the actions they prompted and what
    changed after the asks, newest first."""
    rows, total = store.heard_back(session=session, team_id=team_id, user_id=user_id, limit=limit)
    return Listed(tuple(HeardBack(what=row.what, subject_kind=row.subject_kind, subject=row.subject or "",
                                  status=row.status, by=row.by, note=row.note, link=row.link, title=row.title,
                                  due_on=row.due_on, at=row.at) for row in rows), total)


def open_actions_owned(*, session: Session, team_id: str, user_id: str, limit: int) -> Listed[ActionLine]:
    actions, total = store.open_actions_owned(session=session, team_id=team_id, user_id=user_id, limit=limit)
    return Listed(tuple(action_line(a) for a in actions), total)


def week_actions(*, session: Session, team_id: str, week: Week, now: datetime, limit: int) -> WeekActions:
    """This week's actions so far, for leaders: how many were logged, which were done, which are overdue now."""
    today = now.astimezone(week.zone).date()
    done = store.done_actions(session=session, team_id=team_id, start=week.start, end=now)
    overdue = store.overdue_actions(session=session, team_id=team_id, due_before=today, as_of=now)
    return WeekActions(
        week=week.label,
        logged=store.actions_logged(session=session, team_id=team_id, start=week.start, end=now),
        done=Listed(tuple(action_line(a) for a in done[:limit]), len(done)),
        overdue=Listed(tuple(action_line(a) for a in overdue[:limit]), len(overdue)),
        today=today,
    )

