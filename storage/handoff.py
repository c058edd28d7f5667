"""Leads handed off from the CRM: storing them, the owner-email cache, and the claims that route them.

Exactly once is the database's: a lead is one row per (team, CRM id) (INSERT … ON CONFLICT), it is routed by
the one UPDATE that clears `routing_pending`, and claimed by the one UPDATE that finds it still unassigned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import case, delete, select, update
from sqlalchemy.orm import Session

from storage.claims import claim_one
from storage.models import Lead, SlackUserEmail
from storage.queries import dialect_insert, insert_for

# What a resend may change: the lead's details as the CRM has them now (never its clock, status or owner).
DETAILS = ("name", "company", "email", "source_id", "source_text", "campaign", "score", "url")


def insert_lead(*, session: Session, values: dict) -> int | None:
    """Store a lead the workspace hasn't had; its id, or None when this CRM id is already stored."""
    return session.execute(_insert_lead_statement(session.get_bind().dialect.name), values).scalar()


@cache
def _insert_lead_statement(dialect: str):
    # Built once per dialect on the Core table: the ORM's INSERT … ON CONFLICT was compiled anew for every lead.
    leads = Lead.__table__
    return insert_for(dialect, leads).on_conflict_do_nothing(index_elements=["team_id", "crm_id"]).returning(
        leads.c.id)


def update_lead_details(*, session: Session, team_id: str, crm_id: str, details: dict, now: datetime) -> int | None:
    """A resend: the details it carries (`details`, by column), and its `owner_given` too while the lead is still
    to be routed (once routed, who has it is Slack's business). The lead's id, or None if there is no such lead."""
    values = {name: value for name, value in details.items() if name in DETAILS}
    if "owner_given" in details:
        values["owner_given"] = case((Lead.routing_pending, details["owner_given"]), else_=Lead.owner_given)
    return session.scalar(
        update(Lead).where(Lead.team_id == team_id, Lead.crm_id == crm_id).values(**values, updated_at=now)
        .returning(Lead.id)
    )


@dataclass(frozen=True)
class PendingLead:
    id: int
    team_id: str
    owner_given: str | None


def pending_leads(*, session: Session, limit: int, before: datetime | None = None, after_id: int = 0
                  ) -> list[PendingLead]:
    """Leads still to be routed, oldest first, after `after_id` (and received before `before`, if given)."""
    # A lead waiting to be routed is still 'unassigned': the condition lets the (status, due_at) index find the few
    # such leads instead of every lead ever received being read on each pass.
    query = select(Lead.id, Lead.team_id, Lead.owner_given).where(
        Lead.status == "unassigned", Lead.routing_pending, Lead.id > after_id)
    if before is not None:
        query = query.where(Lead.received_at <= before)
    rows = session.execute(query.order_by(Lead.id).limit(limit)).all()
    return [PendingLead(id=row.id, team_id=row.team_id, owner_given=row.owner_given) for row in rows]


def cached_emails(*, session: Session, team_id: str, emails: Iterable[str]) -> dict[str, str | None]:
    """Emails already looked up in this workspace → the user id Slack gave (None: Slack knows no one by it)."""
    wanted = sorted(set(emails))
    if not wanted:
        return {}
    rows = session.execute(select(SlackUserEmail.email, SlackUserEmail.user_id).where(
        SlackUserEmail.team_id == team_id, SlackUserEmail.email.in_(wanted)))
    return {row.email: row.user_id for row in rows}


def cache_emails(*, session: Session, team_id: str, found: dict[str, str | None], now: datetime) -> None:
    """Remember what Slack said about each email (the latest answer wins)."""
    if not found:
        return
    insert = dialect_insert(session, SlackUserEmail)
    latest = dict(user_id=insert.excluded.user_id, looked_up_at=insert.excluded.looked_up_at)
    session.execute(
        insert.on_conflict_do_update(index_elements=["team_id", "email"], set_=latest),
        [dict(team_id=team_id, email=email, user_id=user_id, looked_up_at=now) for email, user_id in found.items()],
    )


def route_lead(*, session: Session, lead_id: int, owner_user_id: str | None, now: datetime) -> bool:
    """Route a pending lead to its owner (or, with none, to be claimed); True for the one caller that did."""
    owned = owner_user_id is not None
    return claim_one(session, Lead, where=(Lead.id == lead_id) & Lead.routing_pending, values=dict(
        routing_pending=False, owner_user_id=owner_user_id, status="assigned" if owned else "unassigned",
        assigned_at=now if owned else None))


def claim_lead(*, session: Session, team_id: str, lead_id: int, user_id: str, now: datetime) -> bool:
    """Give an unclaimed lead to `user_id`; True for the one click that got it."""
    return claim_one(session, Lead, where=(Lead.id == lead_id) & (Lead.team_id == team_id)
                     & (Lead.status == "unassigned") & ~Lead.routing_pending,
                     values=dict(owner_user_id=user_id, status="assigned", assigned_at=now, updated_at=now))


def lead_by_id(*, session: Session, team_id: str, lead_id: int) -> Lead | None:
    """The lead with its source (joined), or None if it isn't this workspace's."""
    lead = session.get(Lead, lead_id)
    return lead if lead is not None and lead.team_id == team_id else None


def forget_in_leads(*, session: Session, team_id: str, user_id: str) -> dict[str, int]:
    """Take a person out of the leads: the leads stay (they are the team's, and the digest's figures), without
    their user id or the email Slack resolved to them; a lead they had not yet accepted goes back to be routed
    (the clock's sweep posts it to the sales channel to be claimed)."""
    emails = select(SlackUserEmail.email).where(SlackUserEmail.team_id == team_id,
                                                SlackUserEmail.user_id == user_id)
    theirs = (Lead.team_id == team_id) & ((Lead.owner_user_id == user_id) | (Lead.owner_given == user_id)
                                          | Lead.owner_given.in_(emails.scalar_subquery()))
    waiting = session.execute(
        update(Lead).where(theirs, Lead.status != "accepted")
        .values(owner_user_id=None, owner_given=None, status="unassigned", assigned_at=None, routing_pending=True)
    ).rowcount
    accepted = session.execute(update(Lead).where(theirs).values(owner_user_id=None, owner_given=None)).rowcount
    looked_up = session.execute(delete(SlackUserEmail).where(SlackUserEmail.team_id == team_id,
                                                             SlackUserEmail.user_id == user_id)).rowcount
    return {"leads passed back to be claimed": waiting, "accepted leads without their owner": accepted,
            "owner emails": looked_up}
