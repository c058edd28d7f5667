"""Claims: the one way a piece of work gets exactly one taker, whatever number of processes race for it.

A claim is a single atomic statement, never a read followed by a write: a conditional UPDATE that moves
rows out of the state the condition asks for (ask closed, reminders queued, a message taken for sending
with a lease), or an INSERT … ON CONFLICT DO NOTHING of the row that stands for the work (a digest post).
Whoever the statement returns rows to has won them; everyone else gets nothing. RETURNING, not rowcount,
says who won: psycopg reports -1 for some statements run through the ORM session.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, select, update
from sqlalchemy.orm import Session

from storage.queries import dialect_insert


def claim_rows(
    session: Session,
    model,
    *,
    where: ColumnElement[bool],
    values: dict[str, Any],
    returning: Sequence[Any] = (),
    order_by: Sequence[Any] = (),
    limit: int | None = None,
) -> list[Row]:
    """Set `values` on the rows matching `where` (at most `limit` of them, in `order_by`); the rows this caller won.

    With a limit, the candidates are picked by a subquery that skips rows another transaction holds
    (PostgreSQL's FOR UPDATE SKIP LOCKED), and `where` is checked again on each row as it is updated,
    so two workers claiming at once split the rows instead of both taking them. On PostgreSQL the candidates are
    a MATERIALIZED CTE, picked once: as a plain `IN (subquery)` the planner may rescan the subquery for each row
    (a nested-loop semi-join), and each rescan skips the rows this UPDATE already changed and locks the next
    `limit`, so one claim took every due row (40 for a limit of 10, tests/test_scale_out.py).
    """
    target = where
    if limit is not None:
        candidates = select(model.id).where(where).order_by(*order_by).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            picked = candidates.with_for_update(skip_locked=True).cte("candidates").prefix_with("MATERIALIZED")
            target = model.id.in_(select(picked.c.id)) & where
        else:
            target = model.id.in_(candidates.scalar_subquery()) & where
    statement = update(model).where(target).values(**values).returning(*(returning or (model.id,)))
    return list(session.execute(statement).all())


def claim_one(session: Session, model, *, where: ColumnElement[bool], values: dict[str, Any]) -> bool:
    """The conditional UPDATE of one row (`where` names it): True for the one caller that changed it."""
    return bool(claim_rows(session, model, where=where, values=values))


def claim_new(session: Session, model, *, values: dict[str, Any], unique: Sequence[str]) -> int | None:
    """Insert the row standing for a piece of work; its id for the one caller that inserted it, else None."""
    return session.scalar(
        dialect_insert(session, model).values(**values).on_conflict_do_nothing(index_elements=list(unique))
        .returning(model.id)
    )


def lease_expired(claimed_at, now: datetime, lease: timedelta) -> ColumnElement[bool]:
    """A claim whose holder has had `lease` to finish and hasn't: it died or hung, and the work is free again."""
    return claimed_at <= now - lease
