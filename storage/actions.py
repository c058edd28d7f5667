"""Queries for actions: logging one per submission, closing once, and claiming the due-date reminders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import String, and_, cast, func, literal, or_, select, union, update
from sqlalchemy.orm import Session

from storage.claims import claim_new, claim_one, claim_rows
from storage.models import Action, FieldIntel, LeadRating, LeadSource, MessagingAsk, PulseRound, ReasonCode


def log_action(*, session: Session, team_id: str, submission_key: str, **values) -> tuple[int, bool]:
    """Insert the action once per submission (a re-submitted modal, a retried command); returns (id, created)."""
    created = claim_new(session, Action, values=dict(team_id=team_id, submission_key=submission_key, **values),
                        unique=["team_id", "submission_key"])
    if created is not None:
        return created, True
    existing = session.scalar(select(Action.id).where(Action.team_id == team_id,
                                                      Action.submission_key == submission_key))
    return existing, False


# What each kind of prompt names, by its ref: (the column that matches the ref, this workspace's rows).
_PROMPTED_BY = {
    "rating": (LeadRating.id, LeadRating.team_id), "intel": (FieldIntel.id, FieldIntel.team_id),
    "ask": (MessagingAsk.id, MessagingAsk.team_id), "source": (LeadSource.code, LeadSource.team_id),
    "reason": (ReasonCode.code, ReasonCode.team_id), "campaign": (LeadRating.campaign, LeadRating.team_id),
    "pulse": (PulseRound.period, PulseRound.team_id),
}


def prompt_exists(*, session: Session, team_id: str, kind: str, ref: str | int) -> bool:
    """Whether this workspace has the item a "Log action" prompt names (a rating or ask id, a source code, …)."""
    column, team = _PROMPTED_BY[kind]
    return session.scalar(select(column).where(team == team_id, column == ref).limit(1)) is not None


def action(*, session: Session, team_id: str, action_id: int) -> Action | None:
    return session.scalar(select(Action).where(Action.team_id == team_id, Action.id == action_id))


def open_actions(*, session: Session, team_id: str, owner_user_id: str | None = None,
                 limit: int) -> tuple[Sequence[Action], int]:
    """Open actions, soonest due first (of one owner, if given), and how many there are in all."""
    where = [Action.team_id == team_id, Action.status == "open"]
    if owner_user_id is not None:
        where.append(Action.owner_user_id == owner_user_id)
    total = session.scalar(select(func.count()).select_from(Action).where(*where))
    rows = session.scalars(select(Action).where(*where).order_by(Action.due_on, Action.id).limit(limit)).all()
    return rows, total


def feedback_givers(*, session: Session, team_id: str, action_id: int) -> list[str]:
    """Who gave the feedback behind an action: the rep who rated the lead (prompted by a rating) or sent the
    field intel (prompted by an intel item); none for other prompts, or once the feedback was deleted."""
    prompted = select(Action.prompt_kind, Action.prompt_ref).where(
        Action.team_id == team_id, Action.id == action_id).subquery()
    raters = (select(LeadRating.rater_user_id.label("user_id"))
              .join(prompted, and_(prompted.c.prompt_kind == literal("rating"),
                                   prompted.c.prompt_ref == cast(LeadRating.id, String)))
              .where(LeadRating.team_id == team_id))
    senders = (select(FieldIntel.user_id.label("user_id"))
               .join(prompted, and_(prompted.c.prompt_kind == literal("intel"),
                                    prompted.c.prompt_ref == cast(FieldIntel.id, String)))
               .where(FieldIntel.team_id == team_id))
    givers = union(raters, senders).subquery()
    return [user for user in session.scalars(select(givers.c.user_id).order_by(givers.c.user_id)) if user]


def close_action(*, session: Session, team_id: str, action_id: int, status: str, outcome: str | None,
                 now: datetime) -> bool:
    """Mark an open action done or dropped with its outcome; True for the one caller that closed it."""
    return claim_one(session, Action,
                     where=(Action.team_id == team_id) & (Action.id == action_id) & (Action.status == "open"),
                     values=dict(status=status, outcome=outcome, closed_at=now))


def teams_with_reminders_due(*, session: Session, through: date) -> list[str]:
    """Workspaces with an open action due by `through` whose owner hasn't been reminded yet."""
    return list(session.scalars(
        select(Action.team_id).distinct()
        .where(Action.status == "open", Action.reminded_at.is_(None), Action.due_on <= through)
        .order_by(Action.team_id)
    ))


def reminder_candidates(*, session: Session, team_id: str, through: date) -> list[tuple[int, str | None, date]]:
    """(id, owner, due date) of the workspace's open actions due by `through` whose owner hasn't been reminded:
    the owner's own calendar decides which are due now."""
    return [tuple(row) for row in session.execute(
        select(Action.id, Action.owner_user_id, Action.due_on)
        .where(Action.team_id == team_id, Action.status == "open", Action.reminded_at.is_(None),
               Action.due_on <= through)
        .order_by(Action.id))]


def claim_due_reminders(*, session: Session, team_id: str, action_ids: Sequence[int],
                        now: datetime) -> list[tuple[int, str]]:
    """Claim the reminders of these open actions: (id, owner) of each this caller won.

    An action is reminded once (its `reminded_at` is the claim), however many clocks run; one with no owner
    left (forgotten) is claimed too, so it isn't looked at again, and the caller sends it nothing.
    """
    if not action_ids:
        return []
    rows = claim_rows(session, Action,
                      where=(Action.team_id == team_id) & (Action.status == "open") & Action.reminded_at.is_(None)
                      & Action.id.in_(action_ids),
                      values=dict(reminded_at=now), returning=(Action.id, Action.owner_user_id))
    return [(row.id, row.owner_user_id) for row in rows]


def action_rows(*, session: Session, team_id: str, since: datetime) -> list[tuple]:
    """Actions for the CSV export: logged or closed since `since`, oldest first."""
    return [tuple(row) for row in session.execute(
        select(Action.created_at, Action.id, Action.title, Action.owner_user_id, Action.due_on, Action.status,
               Action.prompt_kind, Action.prompt_ref, Action.prompt_label, Action.outcome, Action.created_by,
               Action.closed_at)
        .where(Action.team_id == team_id, or_(Action.created_at >= since, Action.closed_at >= since))
        .order_by(Action.created_at, Action.id)
    )]


def forget_in_actions(*, session: Session, team_id: str, user_id: str, heir: str | None) -> dict[str, int]:
    """Keep the team's actions but not the person: open actions they own go to `heir` (the admin forgetting
    them), and their user id is blanked wherever else it is (creator, owner of a closed action)."""
    mine = (Action.team_id == team_id)
    handed = session.execute(update(Action).where(mine, Action.owner_user_id == user_id, Action.status == "open")
                             .values(owner_user_id=heir).returning(Action.id)).all() if heir else []
    blanked_owner = session.execute(update(Action).where(mine, Action.owner_user_id == user_id)
                                    .values(owner_user_id="").returning(Action.id)).all()
    blanked_creator = session.execute(update(Action).where(mine, Action.created_by == user_id)
                                      .values(created_by="").returning(Action.id)).all()
    return {"open actions handed to you": len(handed),
            "actions with their name removed": len({r.id for r in blanked_owner} | {r.id for r in blanked_creator})}
