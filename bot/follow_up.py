"""A handed-off lead's follow-up once it has an owner: Accept, Not mine and Rate on the owner's card, and the
clock that reminds, escalates and asks for a rating.

The clock is set when the lead arrives (bot/handoff.py): `remind_at` at half the SLA, `due_at` at all of it, in
working time. The `leads` job claims each message before queueing it (storage/follow_up.py), so it is sent once
whatever number of clocks run; a DM to a person is then held until their own working time (bot/people.py).
Messages render the lead as it is when they are delivered: a reminder that finds the lead accepted is not sent,
one already posted shows it accepted.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from bot.errors import CrossfeedError, NotAllowed, NotFound
from bot.leads import lead_form_options, rating_for_edit
from bot.people import held_for_working_time
from bot.results.follow_up import (
    FollowUpAnswer,
    FollowUpCounts,
    LeadEscalation,
    LeadRatePrompt,
    LeadRatingForm,
    LeadReminder,
    LeadShown,
)
from bot.results.leads import RatingStart
from bot.working_time import WorkingCalendar
from bot.zones import workspace_zone
from storage import follow_up as store
from storage import outbox
from storage import teams as team_store
from storage.models import Lead, WorkspaceConfig
from storage.outbox import Message, home_refresh

logger = logging.getLogger(__name__)

CARD = "lead_card"  # the owner's DM card (bot/handoff.py renders it)
CLAIM = "lead_claim"  # the sales channel's post with a Claim button (bot/handoff.py renders it)
REMINDER = "lead_reminder"
ESCALATION = "lead_escalation"
RATE = "lead_rate"
RATE_REMINDER = "lead_rate_reminder"


class AlreadyAccepted(CrossfeedError):
    pass


def card_key(lead_id: int, owner_user_id: str) -> str:
    return f"lead-card:{lead_id}:{owner_user_id}"


def claim_key(lead_id: int) -> str:
    return f"lead-claim:{lead_id}"


def workspace_calendar(config: WorkspaceConfig, default_zone: str | None = None) -> WorkingCalendar:
    """The workspace's working week as setup stores it, in its time zone: every working-time figure uses it."""
    return WorkingCalendar.of_workspace(config, workspace_zone(config, default_zone))


def _calendar(session: Session, team_id: str, default_zone: str | None) -> WorkingCalendar:
    return workspace_calendar(team_store.workspace_config(session=session, team_id=team_id), default_zone)


def lead_shown(row: Lead, *, calendar: WorkingCalendar, now: datetime, rated: bool = False) -> LeadShown:
    return LeadShown(
        id=row.id, crm_id=row.crm_id, name=row.name, company=row.company,
        source=row.source_text or (row.source.label if row.source else None),
        campaign=row.campaign, url=row.url, owner_user_id=row.owner_user_id, status=row.status,
        received_at=row.received_at, due_at=row.due_at, accepted_at=row.accepted_at,
        accept_minutes=row.accept_minutes, minutes_left=round(calendar.minutes_between(now, row.due_at)),
        rated=rated,
    )


def sales_channel_of(config: WorkspaceConfig, default_sales_channel: str | None) -> str | None:
    return config.sales_channel or default_sales_channel


# --- the owner's buttons --------------------------------------------------------------------------------------

def _owned(session: Session, team_id: str, user_id: str, lead_id: int) -> Lead:
    """The lead, if it is this person's to act on; else the friendly reason it isn't."""
    row = store.lead(session=session, team_id=team_id, lead_id=lead_id)
    if row is None:
        raise NotFound("That lead is no longer in Crossfeed: nothing to do.")
    if row.owner_user_id is None:
        raise NotAllowed("This lead was passed back to the sales channel: whoever claims it there follows it up.")
    if row.owner_user_id != user_id:
        raise NotAllowed(f"This lead is <@{row.owner_user_id}>'s now: only they can accept it, pass it back or "
                         "rate it from this card.")
    return row


def _resync(session: Session, team_id: str, keys: list[str]) -> list[Message]:
    """The messages under these keys that exist, queued again: the outbox updates the posted ones in place."""
    found = [outbox.outbox_message_for(session=session, team_id=team_id, dedupe_key=key) for key in keys]
    return [Message(kind=row.kind, dedupe_key=row.dedupe_key, channel=row.channel, payload=row.payload)
            for row in found if row is not None]


def accept_lead(*, session: Session, team_id: str, user_id: str, lead_id: int, now: datetime,
                default_zone: str | None = None) -> FollowUpAnswer:
    """The owner accepts (first touch): time to accept in working minutes, and when to ask for a rating."""
    row = _owned(session, team_id, user_id, lead_id)
    config = team_store.workspace_config(session=session, team_id=team_id)
    calendar = workspace_calendar(config, default_zone)
    if row.status == "accepted":
        raise AlreadyAccepted("You've already accepted this lead: nothing more to do here. You'll be asked to rate "
                              "it once you've had time to talk to them.")
    changed = store.accept(session=session, team_id=team_id, lead_id=lead_id, owner_user_id=user_id, now=now,
                           accept_minutes=round(calendar.minutes_between(row.received_at, now)),
                           rate_prompt_at=calendar.next_working_day(now, config.lead_rate_after_days))
    session.refresh(row)
    if changed:
        # The card, and the reminder and escalation if they went out, show it accepted.
        messages = _resync(session, team_id, [card_key(lead_id, user_id), f"lead-reminder:{lead_id}",
                                              f"lead-escalation:{lead_id}"])
        outbox.enqueue(session=session, team_id=team_id, now=now, messages=[*messages, home_refresh(user_id)])
    return FollowUpAnswer(lead=lead_shown(row, calendar=calendar, now=now), changed=changed)


def pass_back_lead(*, session: Session, team_id: str, user_id: str, lead_id: int, now: datetime,
                   default_zone: str | None = None, default_sales_channel: str | None = None) -> FollowUpAnswer:
    """Not mine: the lead loses its owner and goes (back) to the sales channel's claim post."""
    row = _owned(session, team_id, user_id, lead_id)
    if row.status == "accepted":
        raise AlreadyAccepted("You've accepted this lead, so it stays yours. If it really belongs to someone else, "
                              "tell them and they can rate it when they've followed it up.")
    config = team_store.workspace_config(session=session, team_id=team_id)
    claim = outbox.outbox_message_for(session=session, team_id=team_id, dedupe_key=claim_key(lead_id))
    channel = claim.channel if claim is not None else sales_channel_of(config, default_sales_channel)
    if channel is None:
        raise NotAllowed("There's no sales channel to pass this lead back to yet: an admin can pick one in "
                         "`/alignment setup`. Until then, tell whoever should have it.")
    changed = store.pass_back(session=session, team_id=team_id, lead_id=lead_id, owner_user_id=user_id, now=now)
    session.refresh(row)
    if changed:
        post = Message(kind=CLAIM, dedupe_key=claim_key(lead_id), channel=channel,
                       payload=claim.payload if claim is not None else {"lead_id": lead_id})
        messages = _resync(session, team_id, [card_key(lead_id, user_id), f"lead-reminder:{lead_id}"])
        outbox.enqueue(session=session, team_id=team_id, now=now, messages=[*messages, post, home_refresh(user_id)])
    return FollowUpAnswer(lead=lead_shown(row, calendar=workspace_calendar(config, default_zone), now=now),
                          changed=changed)


def lead_rating_form(*, session: Session, team_id: str, user_id: str, lead_id: int) -> LeadRatingForm:
    """Rate: the rating modal for this lead (the owner's earlier rating of it, to edit, if there is one)."""
    row = _owned(session, team_id, user_id, lead_id)
    options = lead_form_options(session=session, team_id=team_id)
    rating_id = store.rating_id_by(session=session, team_id=team_id, lead_key=row.lead_key, user_id=user_id)
    if rating_id is not None:
        return LeadRatingForm(options=options, start=None,
                              rating=rating_for_edit(session=session, team_id=team_id, user_id=user_id,
                                                     rating_id=rating_id))
    return LeadRatingForm(options=options, rating=None, start=RatingStart(
        lead_ref=row.crm_id, source_id=row.source_id, source=row.source.label if row.source else None,
        source_text=row.source_text, campaign=row.campaign))


# --- the clock (the `leads` job) ------------------------------------------------------------------------------

def teams_with_follow_ups_due(*, session: Session, now: datetime) -> list[str]:
    return store.teams_with_follow_ups_due(session=session, now=now)


def _unrated(session: Session, rows: list[Lead]) -> list[Lead]:
    rated = store.rated_by_their_owner(session=session, lead_ids=[row.id for row in rows])
    return [row for row in rows if row.id not in rated and row.owner_user_id]


def queue_due_follow_ups(*, session: Session, team_id: str, now: datetime, default_zone: str | None = None,
                         default_sales_channel: str | None = None) -> FollowUpCounts:
    """Claim and queue the workspace's due follow-ups, each once: the owner's reminder at half the SLA, the
    escalation at the breach (to the escalation manager, else the sales channel), and for accepted leads not yet
    rated by their owner the rating prompt and, a working day later, its one reminder.

    The lead's clock runs in the workspace's working time; each DM is then held until its person's own working
    time (the owner's, the escalation manager's). A post to the sales channel goes when it is due."""
    config = team_store.workspace_config(session=session, team_id=team_id)
    calendar = workspace_calendar(config, default_zone)
    to_people: list[Message] = []
    to_channel: list[Message] = []

    reminded = store.claim_reminders(session=session, team_id=team_id, now=now)
    to_people += [Message(kind=REMINDER, dedupe_key=f"lead-reminder:{row.id}", channel=row.owner_user_id,
                          payload={"lead_id": row.id}) for row in reminded]

    escalated = store.claim_escalations(session=session, team_id=team_id, now=now)
    manager = config.lead_escalation_user_id
    target = manager or sales_channel_of(config, default_sales_channel)
    if escalated and target is None:
        logger.warning("%s lead(s) in %s passed their follow-up time with nobody to tell: no escalation manager "
                       "and no sales channel set up", len(escalated), team_id)
    escalations = [Message(kind=ESCALATION, dedupe_key=f"lead-escalation:{row.id}", channel=target,
                           payload={"lead_id": row.id}) for row in escalated if target]
    if manager:
        to_people += escalations
    else:
        to_channel += escalations

    # Leads their owner rated already are claimed too, and asked nothing.
    prompted = _unrated(session, store.claim_rate_prompts(session=session, team_id=team_id, now=now))
    to_people += [Message(kind=RATE, dedupe_key=f"lead-rate:{row.id}", channel=row.owner_user_id,
                          payload={"lead_id": row.id}) for row in prompted]

    due = [lead_id for lead_id, prompted_at in store.rate_reminder_candidates(session=session, team_id=team_id,
                                                                              now=now)
           if calendar.next_working_day(prompted_at) <= now]
    nudged = _unrated(session, store.claim_rate_reminders(session=session, team_id=team_id, lead_ids=due, now=now))
    to_people += [Message(kind=RATE_REMINDER, dedupe_key=f"lead-rate-reminder:{row.id}", channel=row.owner_user_id,
                          payload={"lead_id": row.id}) for row in nudged]

    held = held_for_working_time(to_people, session=session, team_id=team_id, calendar=calendar, now=now)
    outbox.enqueue(session=session, team_id=team_id, messages=[*held, *to_channel], now=now)
    return FollowUpCounts(reminders=len(reminded), escalations=len(escalated), rate_prompts=len(prompted),
                          rate_reminders=len(nudged))


# --- what the follow-up messages show, at delivery ------------------------------------------------------------

def _shown(session: Session, team_id: str, lead_id: int, now: datetime,
           default_zone: str | None) -> tuple[Lead, LeadShown] | None:
    row = store.lead(session=session, team_id=team_id, lead_id=lead_id)
    if row is None:
        return None
    rated = bool(row.owner_user_id) and store.is_rated_by(session=session, team_id=team_id, lead_key=row.lead_key,
                                                          user_id=row.owner_user_id)
    return row, lead_shown(row, calendar=_calendar(session, team_id, default_zone), now=now, rated=rated)


def reminder_view(*, session: Session, team_id: str, lead_id: int, owner_user_id: str, now: datetime,
                  default_zone: str | None = None) -> LeadReminder | None:
    found = _shown(session, team_id, lead_id, now, default_zone)
    if found is None:
        return None
    _, lead = found
    return LeadReminder(lead=lead, still_theirs=lead.status == "assigned" and lead.owner_user_id == owner_user_id)


def escalation_view(*, session: Session, team_id: str, lead_id: int, now: datetime,
                    default_zone: str | None = None) -> LeadEscalation | None:
    found = _shown(session, team_id, lead_id, now, default_zone)
    if found is None:
        return None
    row, lead = found
    calendar = _calendar(session, team_id, default_zone)
    # How long it had waited when the clock found it overdue: the same figure however late it is delivered.
    waited = calendar.minutes_between(row.received_at, row.escalated_at or now)
    return LeadEscalation(lead=lead, waited_minutes=round(waited))


def rate_prompt_view(*, session: Session, team_id: str, lead_id: int, now: datetime, reminder: bool,
                     default_zone: str | None = None) -> LeadRatePrompt | None:
    found = _shown(session, team_id, lead_id, now, default_zone)
    return LeadRatePrompt(lead=found[1], reminder=reminder) if found is not None else None
