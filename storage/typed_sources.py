"""Sources typed by reps (and sent by the CRM) that match none of the workspace's: the admins' queue, and filing
them under a source. All SQL lives here.

A typed source is kept as text (`source_text`) on a rating or a handed-off lead, counted under "other".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, literal, select, union_all, update
from sqlalchemy.orm import Session

from storage.models import Lead, LeadRating, LeadSource


@dataclass(frozen=True)
class TypedSourceUse:
    """One typed text, exactly as stored, and how many ratings and handed-off leads name it."""

    text: str
    ratings: int
    leads: int


def typed_source_uses(*, session: Session, team_id: str) -> list[TypedSourceUse]:
    """Every distinct typed text on the workspace's ratings and leads, with how many of each name it: one
    statement. Spellings are told apart here; the service decides which of them are one source."""
    ratings = select(LeadRating.source_text.label("text"), literal(1).label("rating"), literal(0).label("lead")) \
        .where(LeadRating.team_id == team_id, LeadRating.source_text.is_not(None))
    leads = select(Lead.source_text.label("text"), literal(0).label("rating"), literal(1).label("lead")) \
        .where(Lead.team_id == team_id, Lead.source_text.is_not(None))
    typed = union_all(ratings, leads).subquery()
    rows = session.execute(
        select(typed.c.text, func.sum(typed.c.rating), func.sum(typed.c.lead)).group_by(typed.c.text)
    ).all()
    return [TypedSourceUse(text, int(rated), int(handed)) for text, rated, handed in rows]


@dataclass(frozen=True)
class Moved:
    """What filing typed sources moved: how many ratings and leads, and whose Home shows them (the ratings'
    raters, the leads' owners)."""

    ratings: int = 0
    leads: int = 0
    people: frozenset[str] = frozenset()

    def __add__(self, other: Moved) -> Moved:
        return Moved(self.ratings + other.ratings, self.leads + other.leads, self.people | other.people)


def file_typed(*, session: Session, team_id: str, texts: Sequence[str], source_id: int) -> Moved:
    """Count the ratings and leads whose typed source is one of `texts` (exactly) under the source, the typed
    text done with."""
    if not texts:
        return Moved()
    raters = session.scalars(
        update(LeadRating).where(LeadRating.team_id == team_id, LeadRating.source_text.in_(list(texts)))
        .values(source_id=source_id, source_text=None).returning(LeadRating.rater_user_id)
        .execution_options(synchronize_session=False)
    ).all()
    owners = session.scalars(
        update(Lead).where(Lead.team_id == team_id, Lead.source_text.in_(list(texts)))
        .values(source_id=source_id, source_text=None).returning(Lead.owner_user_id)
        .execution_options(synchronize_session=False)
    ).all()
    return Moved(len(raters), len(owners), frozenset(raters) | {owner for owner in owners if owner})


def sources_of(*, session: Session, team_id: str) -> Sequence[LeadSource]:
    """Every source of the workspace, retired ones too, in list order."""
    return session.scalars(
        select(LeadSource).where(LeadSource.team_id == team_id).order_by(LeadSource.position, LeadSource.id)
    ).all()


def source_to_change(*, session: Session, team_id: str, source_id: int) -> LeadSource | None:
    """The source, locked until the transaction ends (two admins adding aliases to it at once lose neither)."""
    return session.scalar(
        select(LeadSource).where(LeadSource.team_id == team_id, LeadSource.id == source_id).with_for_update()
    )
