"""Lead handoff: a lead arrives from the CRM and reaches an owner in Slack.

`receive_lead` stores the lead and starts its follow-up clock in one transaction; it never talks to Slack.
The commit that stored a new lead wakes a background routing pass (`LeadRouter`, like the outbox's after-commit
wake), and the clock's `leads` job sweeps up whatever a crash left. Routing resolves the owner (a Slack
user id as given, an email through `users.lookupByEmail`, cached) and then, in one transaction, clears the lead's
`routing_pending` with a conditional UPDATE and queues the owner's DM card or the sales channel's claim post: two
processes routing the same lead queue one message between them.
"""

from __future__ import annotations

import csv
import logging
import math
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from slack_sdk.errors import SlackApiError
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import NotFound
from bot.follow_up import workspace_calendar
from bot.installs import WorkspaceNotInstalled
from bot.leads import lead_source
from bot.results.handoff import (
    CAMPAIGN_MAX,
    COMPANY_MAX,
    CRM_ID_MAX,
    EMAIL_MAX,
    LEAD_CARD,
    LEAD_CLAIM,
    NAME_MAX,
    OWNER_MAX,
    SOURCE_MAX,
    URL_MAX,
    ClaimOutcome,
    HandedOffLead,
    ImportedRow,
    LeadCard,
    ReceivedLead,
    lead_card_key,
    lead_claim_key,
)
from bot.text import at_most, lead_key, web_address
from storage import handoff as store
from storage import outbox
from storage.db import reading
from storage.models import Lead
from storage.outbox import Message
from storage.teams import workspace_config

if TYPE_CHECKING:
    from bot.container import ClientFor

logger = logging.getLogger(__name__)

ROUTING_QUEUED = "crossfeed.leads.routing_queued"  # Session.info: this transaction stored a lead to route
ROUTING_BATCH = 200
# A score is stored as a whole number in an INTEGER column (PostgreSQL's is 32-bit).
SCORE_LIMIT = 1_000_000_000
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,31}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


# --- what the CRM sends ---------------------------------------------------------------------------------------


class InvalidLead(ValueError):
    """A lead the webhook or the CSV import refuses; the message names the field and what is wrong with it."""


def _text(value: Any, limit: int, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string")
    return at_most(" ".join(value.split()), limit, field)


_TEXT_MAX = {"name": NAME_MAX, "company": COMPANY_MAX, "source": SOURCE_MAX, "campaign": CAMPAIGN_MAX}


class LeadInput(BaseModel):
    """A lead as the CRM sends it (`POST /hooks/leads` JSON, or a CSV row): only `id` is required.

    Text longer than its column is refused, not cut; fields the CRM adds beyond these are ignored."""

    model_config = ConfigDict(extra="ignore")

    id: str
    name: str | None = None
    company: str | None = None
    email: str | None = None
    source: str | None = None
    campaign: str | None = None
    score: int | None = None
    url: str | None = None
    owner: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _crm_id(cls, value: Any) -> str:
        # CRMs number their records (HubSpot's ids are numbers): a number is taken as its digits.
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ValueError("id must be a string or a whole number")
        crm_id = at_most(" ".join(value.split()), CRM_ID_MAX, "id")
        if not crm_id:
            raise ValueError("id is empty: give the CRM's id of the lead")
        return crm_id

    @field_validator("name", "company", "source", "campaign", mode="before")
    @classmethod
    def _capped_text(cls, value: Any, info: ValidationInfo) -> str | None:
        return _text(value, _TEXT_MAX[info.field_name], info.field_name)

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, value: Any) -> str | None:
        email = _text(value, EMAIL_MAX, "email")
        if email and not _EMAIL.fullmatch(email):
            raise ValueError("email is not an email address")
        return email

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, value: Any) -> str | None:
        if value is not None and not isinstance(value, str):
            raise ValueError("url must be a string")
        return web_address(value, URL_MAX, "url")

    @field_validator("score", mode="before")
    @classmethod
    def _score(cls, value: Any) -> int | None:
        if isinstance(value, str):  # CSV cells, and CRMs that send every property as text
            text = value.strip()
            if not text:
                return None
            try:
                value = float(text)
            except ValueError:
                raise ValueError("score must be a number") from None
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("score must be a number")
        if not math.isfinite(value) or abs(value) >= SCORE_LIMIT:
            raise ValueError(f"score must be a number between -{SCORE_LIMIT:,} and {SCORE_LIMIT:,}")
        return round(value)

    @field_validator("owner", mode="before")
    @classmethod
    def _owner(cls, value: Any) -> str | None:
        owner = _text(value, OWNER_MAX, "owner")
        if owner is None or _SLACK_USER.fullmatch(owner):
            return owner
        if _EMAIL.fullmatch(owner):
            return owner.casefold()
        raise ValueError("owner must be a Slack user id (U…) or an email address")

    @property
    def owner_email(self) -> str | None:
        return self.owner if self.owner and "@" in self.owner else None

    @classmethod
    def parse(cls, data: Any) -> LeadInput:
        """Validate, or InvalidLead naming each bad field ("missing id", "score must be a number")."""
        if not isinstance(data, dict):
            raise InvalidLead("the lead must be a JSON object")
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            problems = []
            for item in error.errors():
                field = str(item["loc"][0]) if item["loc"] else "lead"
                if item["type"] == "missing":
                    problems.append(f"missing {field}")
                else:
                    problems.append(item["msg"].removeprefix("Value error, "))
            raise InvalidLead("; ".join(problems)) from None


# --- receiving a lead -------------------------------------------------------------------------------------------


def receive_lead(*, session: Session, team_id: str, lead: LeadInput, now: datetime,
                 default_zone: str | None = None) -> ReceivedLead:
    """Store a lead from the CRM, or update the one with its CRM id (a resend changes details it carries, never the
    clock).

    A new lead's clock is set with the SLA in force now, in working time: the reminder at half of it, due at all
    of it. Its routing starts once this transaction commits."""
    config = workspace_config(session=session, team_id=team_id)
    source = lead_source(session=session, team_id=team_id, typed=lead.source)
    details = dict(name=lead.name, company=lead.company, email=lead.email, source_id=source.source_id,
                   source_text=source.source_text, campaign=lead.campaign, score=lead.score, url=lead.url)
    calendar = workspace_calendar(config, default_zone)
    sla = config.lead_sla_minutes
    lead_id = store.insert_lead(session=session, values=dict(
        team_id=team_id, crm_id=lead.id, lead_key=lead_key(lead.id)[:CRM_ID_MAX], owner_given=lead.owner,
        status="unassigned", routing_pending=True, received_at=now, updated_at=now, sla_minutes=sla,
        remind_at=calendar.add(now, sla / 2), due_at=calendar.add(now, sla), **details))
    if lead_id is not None:
        session.info[ROUTING_QUEUED] = True
        return ReceivedLead(lead_id=lead_id, crm_id=lead.id, status="received")
    # A resend changes what it carries: a field it leaves out keeps its value (a CSV's empty cell, a CRM that sends
    # only what changed); one sent as null clears it.
    sent = lead.model_fields_set
    given = {name: value for name, value in details.items() if name in sent}
    if "source" in sent:
        given.update(source_id=source.source_id, source_text=source.source_text)
    if "owner" in sent:
        given["owner_given"] = lead.owner
    lead_id = store.update_lead_details(session=session, team_id=team_id, crm_id=lead.id, details=given, now=now)
    return ReceivedLead(lead_id=lead_id, crm_id=lead.id, status="updated")


# --- importing a CSV file ---------------------------------------------------------------------------------------

LEAD_FIELDS = tuple(LeadInput.model_fields)


class UnreadableFile(ValueError):
    """A CSV file the import can't read as leads at all (no `id` column)."""


def import_leads(*, lines: TextIO, transaction: Callable[[], AbstractContextManager[Session]], team_id: str,
                 now: Callable[[], datetime], default_zone: str | None = None) -> Iterator[ImportedRow]:
    """Each row of a CSV file whose headers are the webhook's field names, validated and stored as the webhook
    does, one transaction per row; an empty cell is a field not given."""
    reader = csv.DictReader(lines)
    headers = [name.strip() for name in reader.fieldnames or []]
    if "id" not in headers:
        raise UnreadableFile(f"no `id` column: the first line must name the columns ({', '.join(LEAD_FIELDS)})")
    reader.fieldnames = headers
    for row in reader:
        line = reader.line_num
        given = {name: value for name, value in row.items() if name in LEAD_FIELDS and value and value.strip()}
        try:
            lead = LeadInput.parse(given)
        except InvalidLead as invalid:
            yield ImportedRow(line=line, crm_id=given.get("id"), status="refused", problem=str(invalid))
            continue
        with transaction() as session:
            received = receive_lead(session=session, team_id=team_id, lead=lead, now=now(), default_zone=default_zone)
        yield ImportedRow(line=line, crm_id=received.crm_id,
                          status="imported" if received.status == "received" else "updated")


# --- routing ----------------------------------------------------------------------------------------------------


_RETRY = "retry"  # a lookup that failed for now (rate limit, Slack unavailable): the lead waits for the next pass


@dataclass
class RoutingReport:
    assigned: int = 0  # DM cards queued for owners
    to_claim: int = 0  # claim posts queued in the sales channel
    waiting: int = 0  # left for a later pass (an owner lookup failed for now, or no sales channel yet)
    lookups: int = 0  # users.lookupByEmail calls made


def route_pending_leads(*, sessions: sessionmaker[Session], client_for: ClientFor,
                        default_sales_channel: str | None, now: Callable[[], datetime] | None = None,
                        received_before: datetime | None = None) -> RoutingReport:
    """Route every lead still to be routed (received before `received_before`, if given); safe from any number
    of processes at once: a lead is routed by whoever clears its `routing_pending` first."""
    clock = now or (lambda: datetime.now(UTC))
    report = RoutingReport()
    reads = reading(sessions)  # reads take no write lock (SQLite's one writer is for the requests)
    after_id = 0
    while True:
        with reads.begin() as session:
            pending = [lead for lead in store.pending_leads(session=session, limit=ROUTING_BATCH,
                                                            before=received_before, after_id=after_id)]
        if not pending:
            return report
        after_id = pending[-1].id
        by_team: dict[str, list[store.PendingLead]] = {}
        for lead in pending:
            by_team.setdefault(lead.team_id, []).append(lead)
        for team_id, leads in by_team.items():
            try:
                owners = _owners(sessions=sessions, reads=reads, client_for=client_for, team_id=team_id,
                                 leads=leads, now=clock(), report=report)
            except WorkspaceNotInstalled:  # it uninstalled Crossfeed: its leads wait, and go with its data
                report.waiting += len(leads)
                continue
            _route(sessions=sessions, team_id=team_id, leads=leads, owners=owners,
                   default_sales_channel=default_sales_channel, now=clock(), report=report)
        if len(pending) < ROUTING_BATCH:
            return report


def _owners(*, sessions: sessionmaker[Session], reads: sessionmaker[Session], client_for: ClientFor, team_id: str,
            leads: list[store.PendingLead], now: datetime, report: RoutingReport) -> dict[int, str | None]:
    """Each lead's owner in Slack: the user id given, the user an email belongs to (looked up once per email and
    cached), None when there is none or Slack knows no one by it, or _RETRY when a lookup failed for now."""
    emails = {lead.owner_given for lead in leads if lead.owner_given and "@" in lead.owner_given}
    known: dict[str, str | None] = {}
    if emails:
        with reads.begin() as session:
            known = store.cached_emails(session=session, team_id=team_id, emails=emails)
    looked_up: dict[str, str | None] = {}
    failed: set[str] = set()
    if emails - known.keys():
        client = client_for(team_id)
        for email in sorted(emails - known.keys()):
            report.lookups += 1
            try:
                user = client.users_lookupByEmail(email=email)["user"]
                looked_up[email] = None if user.get("deleted") or user.get("is_bot") else user["id"]
            except SlackApiError as error:
                reason = error.response.get("error") if error.response is not None else None
                status = error.response.status_code if error.response is not None else 0
                if reason == "users_not_found":
                    looked_up[email] = None
                elif status == 429 or status >= 500:
                    failed.add(email)
                else:  # e.g. a missing scope: not worth retrying, and not cached as anyone
                    logger.warning("could not look up a lead owner's email in %s: %s", team_id, reason)
                    known[email] = None
            except OSError as error:  # Slack unreachable (URLError is an OSError)
                logger.warning("could not reach Slack to look up a lead owner in %s: %s", team_id, error)
                failed.add(email)
        if looked_up:
            with sessions.begin() as session:
                store.cache_emails(session=session, team_id=team_id, found=looked_up, now=now)
    resolved = {**known, **looked_up}
    owners: dict[int, str | None] = {}
    for lead in leads:
        given = lead.owner_given
        if given and "@" in given:
            owners[lead.id] = _RETRY if given in failed else resolved.get(given)
        else:
            owners[lead.id] = given or None
    return owners


def _route(*, sessions: sessionmaker[Session], team_id: str, leads: list[store.PendingLead],
           owners: dict[int, str | None], default_sales_channel: str | None, now: datetime,
           report: RoutingReport) -> None:
    """Route each lead whose owner is settled and queue its card or claim post, in one transaction."""
    with sessions.begin() as session:
        channel = workspace_config(session=session, team_id=team_id).sales_channel or default_sales_channel
        messages = []
        for lead in leads:
            owner = owners[lead.id]
            if owner == _RETRY or owner is None and channel is None:
                report.waiting += 1
                continue
            if not store.route_lead(session=session, lead_id=lead.id, owner_user_id=owner, now=now):
                continue  # another process routed it
            if owner is not None:
                messages.append(card_message(lead.id, owner))
                report.assigned += 1
            else:
                messages.append(claim_message(lead.id, channel))
                report.to_claim += 1
        outbox.enqueue(session=session, team_id=team_id, messages=messages, now=now)
    if any(owners[lead.id] is None for lead in leads) and channel is None:
        logger.warning("leads without an owner in %s wait for a sales channel (set one in /alignment setup)",
                       team_id)


def card_message(lead_id: int, owner_user_id: str) -> Message:
    """The lead's DM card for `owner_user_id`; queued again, it updates the card in place."""
    return Message(kind=LEAD_CARD, dedupe_key=lead_card_key(lead_id, owner_user_id), channel=owner_user_id,
                   payload={"lead_id": lead_id, "owner_user_id": owner_user_id})


def claim_message(lead_id: int, channel: str) -> Message:
    """The lead's post in the sales channel (Claim, or who claimed it); queued again, it updates the post in place."""
    return Message(kind=LEAD_CLAIM, dedupe_key=lead_claim_key(lead_id), channel=channel, payload={"lead_id": lead_id})


class LeadRouter:
    """Routes new leads in the background, started by the commit that stored them (never in the request)."""

    def __init__(self, *, sessions: sessionmaker[Session], client_for: ClientFor,
                 default_sales_channel: str | None):
        self.sessions = sessions
        self.client_for = client_for
        self.default_sales_channel = default_sales_channel
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lead-routing")
        self._lock = threading.Lock()
        self._requested = False
        self._running = False
        self._idle = threading.Event()
        self._idle.set()

    def route_after_commit(self) -> None:
        event.listen(self.sessions, "after_commit", self._after_commit)
        event.listen(self.sessions, "after_rollback", self._after_rollback)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(ROUTING_QUEUED, False):
            self.wake()

    @staticmethod
    def _after_rollback(session: Session) -> None:
        session.info.pop(ROUTING_QUEUED, None)

    def wake(self) -> None:
        with self._lock:
            self._requested = True
            if self._running:
                return  # the running pass goes round again
            self._running = True
            self._idle.clear()
        try:
            self._executor.submit(self._run_until_quiet)
        except RuntimeError:  # shutting down: the clock's sweep routes it
            self._quiet()

    def _run_until_quiet(self) -> None:
        while True:
            with self._lock:
                if not self._requested:
                    self._running = False
                    self._idle.set()
                    return
                self._requested = False
            try:
                self.route_pending()
            except Exception:
                logger.exception("lead routing failed; the leads stay pending for the next pass")
            except BaseException:
                self._quiet()
                raise

    def route_pending(self, *, received_before: datetime | None = None) -> RoutingReport:
        return route_pending_leads(sessions=self.sessions, client_for=self.client_for,
                                   default_sales_channel=self.default_sales_channel,
                                   received_before=received_before)

    def _quiet(self) -> None:
        with self._lock:
            self._running = False
            self._idle.set()

    def wait_idle(self, timeout: float = 5) -> bool:
        return self._idle.wait(timeout)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)


# --- claiming ---------------------------------------------------------------------------------------------------


def claim_lead(*, session: Session, team_id: str, lead_id: int, user_id: str, now: datetime,
               default_sales_channel: str | None = None) -> ClaimOutcome:
    """Claim a lead from the sales channel's post: the first click wins; the post then says who took it and the
    claimer gets the lead's DM card."""
    won = store.claim_lead(session=session, team_id=team_id, lead_id=lead_id, user_id=user_id, now=now)
    lead = store.lead_by_id(session=session, team_id=team_id, lead_id=lead_id)
    if lead is None:
        raise NotFound("That lead is no longer in Crossfeed.")
    if won:
        channel = workspace_config(session=session, team_id=team_id).sales_channel or default_sales_channel
        post = [claim_message(lead_id, channel)] if channel else []
        outbox.enqueue(session=session, team_id=team_id, now=now, messages=[*post, card_message(lead_id, user_id)])
    return ClaimOutcome(won=won, crm_id=lead.crm_id, claimed_by=lead.owner_user_id)


# --- what the card and the claim post show ----------------------------------------------------------------------


def handed_off(lead: Lead) -> HandedOffLead:
    return HandedOffLead(
        id=lead.id, crm_id=lead.crm_id, name=lead.name, company=lead.company, email=lead.email,
        source=lead.source_text or (lead.source.label if lead.source else None), campaign=lead.campaign,
        score=lead.score, url=lead.url, status=lead.status, owner_user_id=lead.owner_user_id, due_at=lead.due_at,
        accepted_at=lead.accepted_at)


def lead_card(*, session: Session, team_id: str, lead_id: int, owner_user_id: str, now: datetime,
              default_zone: str | None = None) -> LeadCard | None:
    """One person's DM card of a lead as things stand now (waiting, accepted, passed back, or claimed by
    someone else since), or None if the lead is gone."""
    lead = store.lead_by_id(session=session, team_id=team_id, lead_id=lead_id)
    if lead is None:
        return None
    if lead.owner_user_id != owner_user_id:
        state = "passed_back" if lead.owner_user_id is None else "claimed_by_other"
    else:
        state = "accepted" if lead.status == "accepted" else "waiting"
    calendar = workspace_calendar(workspace_config(session=session, team_id=team_id), default_zone)
    return LeadCard(lead=handed_off(lead), owner_user_id=owner_user_id, state=state,
                    minutes_left=calendar.minutes_between(now, lead.due_at), overdue=now >= lead.due_at)


def claim_post(*, session: Session, team_id: str, lead_id: int) -> HandedOffLead | None:
    """The sales channel's post of a lead: open to claim, or who claimed it."""
    lead = store.lead_by_id(session=session, team_id=team_id, lead_id=lead_id)
    return handed_off(lead) if lead is not None else None
