"""Block Kit for lead handoff: the owner's DM card, the sales channel's claim post, the late claimer's answer."""

from __future__ import annotations

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, ContextBlock, SectionBlock

from bot.blocks.common import link, local_time, mrkdwn, user_text
from bot.blocks.ids import LeadIds as Ids
from bot.results.handoff import ClaimOutcome, HandedOffLead, LeadCard


def working_duration(minutes: float) -> str:
    """"1 h 30 min", "45 min": a span of working time as people say it."""
    whole = max(0, round(minutes))
    hours, rest = divmod(whole, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"


def lead_title(lead: HandedOffLead) -> str:
    """"*Dana Reyes* at Acme" (escaped), or the CRM id when the CRM sent no name."""
    title = f"*{user_text(lead.name or lead.crm_id, 200)}*"
    return f"{title} at {user_text(lead.company, 200)}" if lead.company else title


def _fields(lead: HandedOffLead) -> list[str]:
    fields = [f"*CRM id*\n{user_text(lead.crm_id, 200)}"]
    if lead.source:
        fields.append(f"*Source*\n{user_text(lead.source, 100)}")
    if lead.campaign:
        fields.append(f"*Campaign*\n{user_text(lead.campaign, 200)}")
    if lead.score is not None:
        fields.append(f"*Score*\n{lead.score}")
    if lead.email:
        fields.append(f"*Email*\n{user_text(lead.email, 320)}")
    if lead.url:
        fields.append(f"*CRM link*\n{link(lead.url, 'Open in the CRM')}")
    return fields


def _lead_blocks(headline: str, lead: HandedOffLead) -> list[Block]:
    return [SectionBlock(text=mrkdwn(f"{headline}: {lead_title(lead)}")),
            SectionBlock(fields=[mrkdwn(field) for field in _fields(lead)])]


def lead_card_message(card: LeadCard) -> tuple[str, list[Block]]:
    """The DM to the lead's owner: the lead, the working time left to accept it, and Accept / Not mine / Rate."""
    lead, value = card.lead, str(card.lead.id)
    text = f"New lead for you: {user_text(lead.name or lead.crm_id, 200)}"
    blocks = _lead_blocks(":inbox_tray: *New lead for you*", lead)
    if card.state == "waiting":
        due = local_time(lead.due_at)
        status = (f":warning: Overdue: it was due {due}" if card.overdue else
                  f":stopwatch: {working_duration(card.minutes_left)} of working time left to accept it (due {due})")
        blocks.append(ContextBlock(elements=[mrkdwn(status)]))
        blocks.append(ActionsBlock(block_id="lead.card", elements=[
            ButtonElement(action_id=Ids.ACCEPT, text="Accept", style="primary", value=value),
            ButtonElement(action_id=Ids.NOT_MINE, text="Not mine", value=value),
            ButtonElement(action_id=Ids.RATE, text="Rate", value=value),
        ]))
    elif card.state == "accepted":
        when = local_time(lead.accepted_at) if lead.accepted_at else ""
        blocks.append(ContextBlock(elements=[mrkdwn(f":white_check_mark: You accepted it {when}".rstrip())]))
        blocks.append(ActionsBlock(block_id="lead.card", elements=[
            ButtonElement(action_id=Ids.RATE, text="Rate", value=value)]))
    elif card.state == "passed_back":
        blocks.append(ContextBlock(elements=[mrkdwn(
            ":leftwards_arrow_with_hook: You passed it back: it is in the sales channel for someone to claim")]))
    else:
        blocks.append(ContextBlock(elements=[mrkdwn(f":handshake: <@{lead.owner_user_id}> has it now")]))
    return text, blocks


def claim_post_message(lead: HandedOffLead) -> tuple[str, list[Block]]:
    """The sales channel's post of a lead with no owner: a Claim button until someone claims it, then who did."""
    if lead.owner_user_id is None:
        text = f"A lead needs an owner: {user_text(lead.name or lead.crm_id, 200)}"
        blocks = _lead_blocks(":raising_hand: *A lead needs an owner*", lead)
        blocks.append(ActionsBlock(block_id="lead.claim", elements=[
            ButtonElement(action_id=Ids.CLAIM, text="Claim", style="primary", value=str(lead.id))]))
        return text, blocks
    text = f"Lead {user_text(lead.name or lead.crm_id, 200)}: claimed by <@{lead.owner_user_id}>"
    blocks = _lead_blocks(":handshake: *Lead claimed*", lead)
    blocks.append(ContextBlock(elements=[mrkdwn(f"Claimed by <@{lead.owner_user_id}>")]))
    return text, blocks


def claim_taken_message(outcome: ClaimOutcome, user_id: str) -> tuple[str, list[Block]]:
    """The private answer to a Claim click that did not win (or a second click by the one who did)."""
    crm_id = user_text(outcome.crm_id, 200)
    if outcome.claimed_by == user_id:
        text = f"Lead {crm_id} is yours: its card is in your DMs with Crossfeed."
    elif outcome.claimed_by:
        text = f"<@{outcome.claimed_by}> claimed lead {crm_id} first."
    else:
        text = f"Lead {crm_id} can't be claimed right now."
    return text, [SectionBlock(text=mrkdwn(text))]
