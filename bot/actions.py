"""Actions: what a team commits to because of feedback, with an owner, a due date and an outcome.

This is the write side: logging an action (from a "Log action" button anywhere, the modal, or one line of
`/alignment action`), closing it (Done with an outcome, or Drop), listing open ones, and the owner's reminder
on the due date. The digest and Home read the same rows (storage/actions.py).

Every message about an action goes through the outbox under a key of its own (`action-assigned:{id}`,
`action-reminder:{id}`), so closing the action re-queues the ones already there and the outbox updates them in
place to show it is done. An action prompted by a rating or field intel leads back to whoever gave it: their Home
is refreshed when it is logged or closed, and they get one DM when it is done (`action-feedback-done:{id}:{user}`).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy.orm import Session

from bot.errors import CrossfeedError, InvalidInput, NotAllowed, NotFound
from bot.follow_up import workspace_calendar
from bot.people import working_calendars
from bot.results import record_id
from bot.results.actions import (
    DEFAULT_DUE_DAYS,
    MAX_DUE_DAYS,
    OUTCOME_MAX,
    TITLE_MAX,
    ActionForm,
    ActionList,
    ActionPrompt,
    ActionView,
    ClosedAction,
    LoggedAction,
)
from bot.text import at_most, escape_mrkdwn, is_user_id, truncate
from bot.zones import workspace_zone
from storage import actions as store
from storage import outbox
from storage import teams as team_store
from storage.models import Action
from storage.outbox import Message, home_refresh

ASSIGNED = "action_assigned"  # the owner's DM when someone else gives them an action
REMINDER = "action_reminder"  # the owner's DM on the due date
FEEDBACK_DONE = "action_feedback_done"  # the DM to whoever gave the feedback, once the action it prompted is done
GIVEN_BY_A_REP = ("rating", "intel")  # prompts that lead back to a person: the rater, the intel's sender
LISTED = 20  # open actions shown by `/alignment action list`


class AlreadyClosed(CrossfeedError):
    pass


class ActionInput(BaseModel):
    """An action as typed: what will be done, by whom, by when (the due date is checked against the
    workspace's calendar by the service)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    title: str
    owner_user_id: str
    due_on: date | None = None  # none given: a week ahead

    @field_validator("title", mode="before")
    @classmethod
    def _title(cls, value: str | None) -> str:
        value = " ".join((value or "").split())
        if not value:
            raise ValueError("Say what will be done, e.g. “Fix webinar targeting”.")
        return at_most(value, TITLE_MAX, "The title")

    @field_validator("owner_user_id", mode="before")
    @classmethod
    def _owner(cls, value: str | None) -> str:
        if not value:
            raise ValueError("Pick who owns it.")
        if not is_user_id(value):
            raise ValueError("Pick who owns it from the list of people.")
        return value

    @field_validator("due_on", mode="before")
    @classmethod
    def _due(cls, value: object) -> date | None:
        if value in (None, "") or isinstance(value, date):
            return value or None
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            raise ValueError(f"“{escape_mrkdwn(truncate(str(value), 20))}” isn't a date I can read: write it as "
                             "YYYY-MM-DD, e.g. 2026-12-15.") from None


class OutcomeInput(BaseModel):
    """Done needs one line of outcome; Drop may say why."""

    status: str
    outcome: str | None = None

    @field_validator("outcome", mode="before")
    @classmethod
    def _outcome(cls, value: str | None, info) -> str | None:
        value = at_most(" ".join((value or "").split()), OUTCOME_MAX, "The outcome")
        if not value and info.data.get("status") == "done":
            raise ValueError("Say in one line what came of it, e.g. “Webinar list now excludes students”.")
        return value


def command_key(*, trigger_id: str, user_id: str, text: str) -> str:
    """A slash command's submission key: the same request delivered again is the same action."""
    return "cmd:" + hashlib.sha256(f"{trigger_id}\n{user_id}\n{text}".encode()).hexdigest()[:40]


# --- who may --------------------------------------------------------------------------------------------------

def _is_admin(session: Session, team_id: str, user_id: str, configured_admins: frozenset[str]) -> bool:
    return user_id in configured_admins or user_id in team_store.admin_ids(session=session, team_id=team_id)


def require_logger(*, session: Session, team_id: str, user_id: str, configured_admins: frozenset[str]) -> None:
    """Members of either team and admins log actions (everyone, while no teams are set up)."""
    members = {m.user_id for m in team_store.team_members(session=session, team_id=team_id)}
    if not members or user_id in members or _is_admin(session, team_id, user_id, configured_admins):
        return
    raise NotAllowed("Actions are logged by the sales and marketing teams. If you're in one of them, ask an "
                     "admin to add you: `/alignment team add @you sales` (or `marketing`).")


def _may_close(session: Session, row: Action, user_id: str, configured_admins: frozenset[str]) -> bool:
    return user_id in (row.owner_user_id, row.created_by) or _is_admin(session, row.team_id, user_id,
                                                                         configured_admins)


# --- reading --------------------------------------------------------------------------------------------------

def local_today(*, session: Session, team_id: str, now: datetime, default_zone: str | None) -> date:
    """Today's date in the workspace's time zone: what "due today" and "past due" are measured against."""
    zone = workspace_zone(team_store.workspace_config(session=session, team_id=team_id), default_zone)
    return now.astimezone(zone).date()


def view_of(row: Action, *, today: date | None = None, can_close: bool = False) -> ActionView:
    return ActionView(
        id=row.id, title=row.title, owner_user_id=row.owner_user_id, due_on=row.due_on, status=row.status,
        prompt_kind=row.prompt_kind, prompt_label=row.prompt_label, outcome=row.outcome, created_by=row.created_by,
        created_at=row.created_at, closed_at=row.closed_at,
        overdue=row.status == "open" and today is not None and row.due_on < today, can_close=can_close,
    )


def action_view(*, session: Session, team_id: str, action_id: int, now: datetime,
                default_zone: str | None = None) -> ActionView | None:
    """One action as it stands (for its DMs); None if it no longer exists."""
    row = store.action(session=session, team_id=team_id, action_id=action_id)
    if row is None:
        return None
    return view_of(row, today=local_today(session=session, team_id=team_id, now=now, default_zone=default_zone))


def open_actions(*, session: Session, team_id: str, user_id: str, mine: bool, now: datetime,
                 configured_admins: frozenset[str] = frozenset(), default_zone: str | None = None) -> ActionList:
    """`/alignment action list [mine]`: the open actions (mine: those I own), with Done/Drop where I may."""
    rows, total = store.open_actions(session=session, team_id=team_id, owner_user_id=user_id if mine else None,
                                     limit=LISTED)
    today = local_today(session=session, team_id=team_id, now=now, default_zone=default_zone)
    return ActionList(actions=tuple(view_of(row, today=today,
                                            can_close=_may_close(session, row, user_id, configured_admins))
                                    for row in rows), total=total, mine=mine)


# --- logging --------------------------------------------------------------------------------------------------

# Prompts whose ref is a row id; the others name a code, a campaign or a pulse period ("2026-W48", "…:q0").
_ID_PROMPTS = ("rating", "intel", "ask")


def verified_prompt(*, session: Session, team_id: str, prompt: ActionPrompt) -> ActionPrompt:
    """The prompt as it may be stored: one naming an item this workspace doesn't have (tampered, from another
    workspace, deleted since) is no prompt (its suggested title, only text the person edits, stays).

    A talking point names no stored row: its label is the point as the digest said it, kept as carried."""
    if prompt.kind == "talking_point":
        return prompt
    nothing = ActionPrompt(title=prompt.title)
    if prompt.kind == "none" or not prompt.ref:
        return nothing
    ref: str | int | None = prompt.ref
    if prompt.kind in _ID_PROMPTS:
        ref = record_id(prompt.ref)
    elif prompt.kind == "pulse":
        ref = prompt.ref.partition(":")[0]
    if ref is None or not store.prompt_exists(session=session, team_id=team_id, kind=prompt.kind, ref=ref):
        return nothing
    return prompt


def action_form(*, session: Session, team_id: str, user_id: str, prompt: ActionPrompt, now: datetime,
                configured_admins: frozenset[str] = frozenset(), default_zone: str | None = None) -> ActionForm:
    """What the "Log action" modal opens with: the prompt's title, the clicker as owner, due a week ahead."""
    require_logger(session=session, team_id=team_id, user_id=user_id, configured_admins=configured_admins)
    today = local_today(session=session, team_id=team_id, now=now, default_zone=default_zone)
    return ActionForm(prompt=verified_prompt(session=session, team_id=team_id, prompt=prompt), owner_user_id=user_id,
                      due_on=today + timedelta(days=DEFAULT_DUE_DAYS),
                      earliest=today)


def log_action(*, session: Session, team_id: str, user_id: str, action: ActionInput, prompt: ActionPrompt,
               submission_key: str, now: datetime, configured_admins: frozenset[str] = frozenset(),
               default_zone: str | None = None) -> LoggedAction:
    """Store the action once per submission key; DM the owner when it isn't the creator; refresh both Homes."""
    require_logger(session=session, team_id=team_id, user_id=user_id, configured_admins=configured_admins)
    prompt = verified_prompt(session=session, team_id=team_id, prompt=prompt)
    today = local_today(session=session, team_id=team_id, now=now, default_zone=default_zone)
    due_on = action.due_on or today + timedelta(days=DEFAULT_DUE_DAYS)
    if due_on < today:
        raise InvalidInput({"due_on": f"{due_on:%b} {due_on.day}, {due_on.year} has passed. "
                                      "Pick today or a later day."})
    if due_on > today + timedelta(days=MAX_DUE_DAYS):
        raise InvalidInput({"due_on": "Pick a due date within a year; a later one can be logged nearer the time."})
    action_id, created = store.log_action(
        session=session, team_id=team_id, submission_key=submission_key, title=action.title,
        owner_user_id=action.owner_user_id, due_on=due_on, status="open", prompt_kind=prompt.kind,
        prompt_ref=prompt.ref or None, prompt_label=prompt.label or None, created_by=user_id, created_at=now,
    )
    if created:
        assigned = [Message(kind=ASSIGNED, dedupe_key=f"action-assigned:{action_id}", channel=action.owner_user_id,
                            payload={"action_id": action_id})] if action.owner_user_id != user_id else []
        # Whoever gave the feedback sees on Home what it led to.
        people = {user_id, action.owner_user_id, *_feedback_givers(session, team_id, action_id, prompt.kind)}
        outbox.enqueue(session=session, team_id=team_id, now=now,
                       messages=[*assigned, *(home_refresh(person) for person in sorted(people))])
    row = store.action(session=session, team_id=team_id, action_id=action_id)
    return LoggedAction(action=view_of(row, today=today, can_close=True), created=created)


def _feedback_givers(session: Session, team_id: str, action_id: int, prompt_kind: str) -> list[str]:
    # Only a rating or an intel item names a person: other prompts cost no query.
    if prompt_kind not in GIVEN_BY_A_REP:
        return []
    return store.feedback_givers(session=session, team_id=team_id, action_id=action_id)


# --- closing --------------------------------------------------------------------------------------------------

def _closable(session: Session, team_id: str, user_id: str, action_id: int,
              configured_admins: frozenset[str]) -> Action:
    row = store.action(session=session, team_id=team_id, action_id=action_id)
    if row is None:
        raise NotFound("That action no longer exists.")
    if not _may_close(session, row, user_id, configured_admins):
        owner = f"<@{row.owner_user_id}>" if row.owner_user_id else "its owner"
        raise NotAllowed(f"Only {owner}, whoever logged it, or an admin can close this action.")
    return row


def _closed_words(row: Action) -> str:
    return "done" if row.status == "done" else "dropped"


def closing_form(*, session: Session, team_id: str, user_id: str, action_id: int, now: datetime,
                 configured_admins: frozenset[str] = frozenset(), default_zone: str | None = None) -> ActionView:
    """The action whose Done or Drop was clicked, if this person may close it and it is still open."""
    row = _closable(session, team_id, user_id, action_id, configured_admins)
    if row.status != "open":
        raise AlreadyClosed(f"This action is already {_closed_words(row)}: nothing more to do.")
    today = local_today(session=session, team_id=team_id, now=now, default_zone=default_zone)
    return view_of(row, today=today, can_close=True)


def close_action(*, session: Session, team_id: str, user_id: str, action_id: int, outcome: OutcomeInput,
                 now: datetime, configured_admins: frozenset[str] = frozenset(),
                 default_zone: str | None = None) -> ClosedAction:
    """Mark the action done (with its outcome) or dropped, once; update its DMs in place, refresh the Homes (the
    owner's, its creator's, and those of whoever gave the feedback behind it, who are told by DM when it is done)."""
    _closable(session, team_id, user_id, action_id, configured_admins)
    changed = store.close_action(session=session, team_id=team_id, action_id=action_id, status=outcome.status,
                                 outcome=outcome.outcome, now=now)
    row = store.action(session=session, team_id=team_id, action_id=action_id)
    session.refresh(row)
    if changed:
        # Only the DMs that exist: queued again under their keys, the outbox updates the posted ones in place.
        resync = [Message(kind=kind, dedupe_key=key, channel=row.owner_user_id, payload={"action_id": action_id})
                  for kind, key in ((ASSIGNED, f"action-assigned:{action_id}"),
                                    (REMINDER, f"action-reminder:{action_id}"))
                  if outbox.outbox_message_for(session=session, team_id=team_id, dedupe_key=key) is not None]
        givers = _feedback_givers(session, team_id, action_id, row.prompt_kind)
        # Done: each person whose feedback prompted it is told once (one key per action and person); not the one
        # who marked it done, who knows.
        told = [Message(kind=FEEDBACK_DONE, dedupe_key=f"action-feedback-done:{action_id}:{giver}", channel=giver,
                        payload={"action_id": action_id})
                for giver in givers if row.status == "done" and giver != user_id]
        people = {user_id, row.owner_user_id, row.created_by, *givers} - {""}
        outbox.enqueue(session=session, team_id=team_id, now=now,
                       messages=[*resync, *told, *(home_refresh(person) for person in sorted(people))])
    today = local_today(session=session, team_id=team_id, now=now, default_zone=default_zone)
    return ClosedAction(action=view_of(row, today=today), changed=changed)


# --- the due-date reminder (the clock's `actions` job) --------------------------------------------------------

def queue_due_reminders(*, session: Session, now: datetime, default_zone: str | None = None) -> int:
    """Queue one reminder DM to the owner of each open action on its due date, once, when their working day starts
    in their own zone (the workspace's hours: 09:00 by default), or the first run after: the claim on
    `reminded_at` makes a second run, or a second clock, a no-op. An action past due that was never reminded
    (the clock was down) is reminded once, late."""
    queued = 0
    # A day ahead of UTC covers every time zone; each owner's own calendar decides below.
    through = now.date() + timedelta(days=1)
    for team_id in store.teams_with_reminders_due(session=session, through=through):
        calendar = workspace_calendar(team_store.workspace_config(session=session, team_id=team_id), default_zone)
        candidates = store.reminder_candidates(session=session, team_id=team_id, through=through)
        calendars = working_calendars(session=session, team_id=team_id, calendar=calendar,
                                      user_ids={owner for _, owner, _ in candidates if owner})
        # The due date's working start as the owner lives it, even when the date picked isn't a working day.
        due = [action_id for action_id, owner, due_on in candidates
               if calendars.get(owner, calendar).window(due_on)[0] <= now]
        claimed = store.claim_due_reminders(session=session, team_id=team_id, action_ids=due, now=now)
        reminders = [Message(kind=REMINDER, dedupe_key=f"action-reminder:{action_id}", channel=owner,
                             payload={"action_id": action_id}) for action_id, owner in claimed if owner]
        outbox.enqueue(session=session, team_id=team_id, messages=reminders, now=now)
        queued += len(reminders)
    return queued


# --- forgetting a person --------------------------------------------------------------------------------------

def forget_in_actions(*, session: Session, team_id: str, person: str, admin: str) -> dict[str, int]:
    """Actions are the team's: they stay, the person's user id goes; open ones they owned go to the admin."""
    counts = store.forget_in_actions(session=session, team_id=team_id, user_id=person,
                                     heir=admin if admin != person else None)
    return {name: count for name, count in counts.items() if count}
