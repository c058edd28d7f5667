"""Lead handoff: what the intake service returns, and the lead as its DM card and claim post show it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

# The `leads` columns' lengths: a field longer than its column is refused, never cut.
CRM_ID_MAX = 200
NAME_MAX = 200
COMPANY_MAX = 200
EMAIL_MAX = 320
SOURCE_MAX = 75
CAMPAIGN_MAX = 150
URL_MAX = 500
OWNER_MAX = 320

LEAD_CARD = "lead_card"  # the owner's DM card: lead-card:{lead_id}:{owner_user_id}
LEAD_CLAIM = "lead_claim"  # the sales channel's claim post: lead-claim:{lead_id}


def lead_card_key(lead_id: int, owner_user_id: str) -> str:
    return f"lead-card:{lead_id}:{owner_user_id}"


def lead_claim_key(lead_id: int) -> str:
    return f"lead-claim:{lead_id}"


@dataclass(frozen=True)
class ReceivedLead:
    """What `POST /hooks/leads` answers: the CRM id, and whether it was new or a resend that updated it."""

    lead_id: int
    crm_id: str
    status: Literal["received", "updated"]


@dataclass(frozen=True)
class HandedOffLead:
    """A lead as the card and the claim post show it."""

    id: int
    crm_id: str
    name: str | None
    company: str | None
    email: str | None
    source: str | None  # the source's label, or the text the CRM sent when it matches none
    campaign: str | None
    score: int | None
    url: str | None
    status: str  # unassigned | assigned | accepted
    owner_user_id: str | None
    due_at: datetime
    accepted_at: datetime | None


CardState = Literal["waiting", "accepted", "passed_back", "claimed_by_other"]


@dataclass(frozen=True)
class LeadCard:
    """The DM card of one person who was handed the lead, as things stand now."""

    lead: HandedOffLead
    owner_user_id: str  # whose card this is
    state: CardState
    minutes_left: float  # working minutes until the lead is due (0 when overdue)
    overdue: bool


@dataclass(frozen=True)
class ClaimOutcome:
    """A click on Claim: whether this person won it, and who holds the lead now."""

    won: bool
    crm_id: str
    claimed_by: str | None


@dataclass(frozen=True)
class ImportedRow:
    """One row of `python -m bot import-leads`: its line in the file, and what became of it."""

    line: int
    crm_id: str | None
    status: Literal["imported", "updated", "refused"]
    problem: str | None = None
