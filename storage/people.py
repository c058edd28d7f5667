"""People's time: Slack time zones and statuses, and declared time off."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.orm import Session

from storage.models import Person, TeamMember
from storage.queries import dialect_insert


def people_of(*, session: Session, team_id: str, user_ids: Iterable[str]) -> dict[str, Person]:
    """These people's rows (someone Crossfeed knows nothing of yet is simply missing)."""
    ids = sorted(set(user_ids))
    found: dict[str, Person] = {}
    for start in range(0, len(ids), 500):  # keep IN lists small enough for any database
        found.update((row.user_id, row) for row in session.scalars(
            select(Person).where(Person.team_id == team_id, Person.user_id.in_(ids[start:start + 500]))))
    return found


def save_profile(*, session: Session, team_id: str, user_id: str, timezone: str | None, status_text: str | None,
                 status_emoji: str | None, status_expires_at: datetime | None, now: datetime) -> None:
    """What Slack says of the person now (zone and status); their declared time off is kept."""
    values = dict(timezone=timezone, status_text=status_text, status_emoji=status_emoji,
                  status_expires_at=status_expires_at, profile_checked_at=now)
    session.execute(dialect_insert(session, Person).values(team_id=team_id, user_id=user_id, **values)
                    .on_conflict_do_update(index_elements=["team_id", "user_id"], set_=values))


def save_away_until(*, session: Session, team_id: str, user_id: str, away_until: date | None) -> None:
    """Declared time off through `away_until` (None: back)."""
    session.execute(dialect_insert(session, Person).values(team_id=team_id, user_id=user_id, away_until=away_until)
                    .on_conflict_do_update(index_elements=["team_id", "user_id"], set_=dict(away_until=away_until)))


def unchecked_since(*, session: Session, team_id: str, user_ids: Iterable[str], since: datetime) -> list[str]:
    """Of these people, those whose zone and status Slack hasn't told us since `since` (or ever)."""
    ids = sorted(set(user_ids))
    fresh: set[str] = set()
    for start in range(0, len(ids), 500):
        fresh.update(session.scalars(select(Person.user_id).where(
            Person.team_id == team_id, Person.user_id.in_(ids[start:start + 500]),
            Person.profile_checked_at.is_not(None), Person.profile_checked_at >= since)))
    return [user_id for user_id in ids if user_id not in fresh]


def forget_person(*, session: Session, team_id: str, user_id: str) -> int:
    """Delete the person's zone, status and time off; how many rows went (0 or 1)."""
    return session.execute(delete(Person).where(Person.team_id == team_id, Person.user_id == user_id)).rowcount


def away_declared(*, session: Session, team_id: str, on_or_after: date) -> list[Person]:
    """People whose declared time off runs to `on_or_after` or later, or whose status may say they're away."""
    return list(session.scalars(select(Person).where(
        Person.team_id == team_id,
        or_(Person.away_until >= on_or_after, Person.status_text.is_not(None), Person.status_emoji.is_not(None)))))


def is_known(*, session: Session, team_id: str, user_id: str) -> bool:
    """Whether Crossfeed keeps this person's time: they are in a team, or already have a row."""
    return bool(session.scalar(select(or_(
        exists().where(TeamMember.team_id == team_id, TeamMember.user_id == user_id),
        exists().where(Person.team_id == team_id, Person.user_id == user_id)))))
