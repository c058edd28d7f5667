"""Block Kit for a handed-off lead's follow-up: the owner's reminder, the escalation and the rating prompts."""

from __future__ import annotations

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, ContextBlock, SectionBlock

from bot.blocks.common import link, local_time, mrkdwn, user_text
from bot.blocks.ids import LeadIds as Ids
from bot.results.follow_up import LeadEscalation, LeadRatePrompt, LeadReminder, LeadShown


def working_time(minutes: int) -> str:
    """Working minutes as people say them: "45 min", "1 h", "2 h 05 min"."""
    hours, rest = divmod(max(minutes, 0), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest:02d} min" if rest else "")


def lead_name(lead: LeadShown) -> str:
    """The lead as its owner recognises it: who, at which company, and its CRM id (linked to the CRM)."""
    who = " · ".join(user_text(part, 200) for part in (lead.name, lead.company) if part)
    crm = link(lead.url, lead.crm_id, 200) if lead.url else f"`{user_text(lead.crm_id, 200)}`"
    return f"*{who}* ({crm})" if who else crm


def _details(lead: LeadShown) -> str:
    parts = [f"Source: {user_text(lead.source, 100)}" if lead.source else "",
             f"Campaign: {user_text(lead.campaign, 150)}" if lead.campaign else ""]
    return " · ".join(part for part in parts if part)


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[mrkdwn(text)])


def _buttons(lead: LeadShown, *ids: Ids) -> ActionsBlock:
    labels = {Ids.ACCEPT: "Accept", Ids.NOT_MINE: "Not mine", Ids.RATE: "Rate"}
    return ActionsBlock(block_id=f"lead.follow_up.{lead.id}", elements=[
        ButtonElement(action_id=action_id, text=labels[action_id], value=str(lead.id),
                      style="primary" if action_id in (Ids.ACCEPT, Ids.RATE) else None)
        for action_id in ids])


def lead_reminder_message(reminder: LeadReminder) -> tuple[str, list[Block]]:
    """The owner's one reminder at half the follow-up time; once accepted or passed on, without buttons."""
    lead = reminder.lead
    if not reminder.still_theirs:
        state = "accepted" if lead.accepted else "no longer yours"
        text = f"Lead {lead.crm_id}: {state}."
        return text, [SectionBlock(text=mrkdwn(f":white_check_mark: {lead_name(lead)}: {state}."))]
    left = (f"{working_time(lead.minutes_left)} of working time left" if lead.minutes_left > 0
            else "its follow-up time is up")
    text = f"Reminder: lead {lead.crm_id} is waiting for you to accept it ({left})."
    blocks: list[Block] = [
        SectionBlock(text=mrkdwn(f":hourglass_flowing_sand: *Reminder:* {lead_name(lead)} is waiting for you: "
                                 f"{left}, due {local_time(lead.due_at)}.")),
    ]
    if details := _details(lead):
        blocks.append(_context(details))
    blocks.append(_buttons(lead, Ids.ACCEPT, Ids.NOT_MINE))
    return text, blocks


def lead_escalation_message(escalation: LeadEscalation) -> tuple[str, list[Block]]:
    """The breach, to the escalation manager or the sales channel: the lead, its owner, how long it waited."""
    lead = escalation.lead
    waited = working_time(escalation.waited_minutes)
    who = f"<@{lead.owner_user_id}> hasn't accepted it" if lead.owner_user_id else "nobody claimed it"
    text = f"Lead {lead.crm_id} passed its follow-up time: {who} after {waited} of working time."
    blocks: list[Block] = [SectionBlock(text=mrkdwn(
        f":rotating_light: *Follow-up time passed:* {lead_name(lead)} has waited {waited} of working time "
        f"since it arrived {local_time(lead.received_at)}, and {who}."))]
    if details := _details(lead):
        blocks.append(_context(details))
    if lead.accepted:
        blocks.append(_context(f"Accepted since, by <@{lead.owner_user_id}>."))
    return text, blocks


def lead_rate_message(prompt: LeadRatePrompt) -> tuple[str, list[Block]]:
    """The owner's nudge to rate a lead they accepted (and its one reminder); once rated, without the button."""
    lead = prompt.lead
    if lead.rated:
        return f"Lead {lead.crm_id}: rated, thank you.", [
            SectionBlock(text=mrkdwn(f":white_check_mark: {lead_name(lead)}: rated, thank you."))]
    opening = ":bell: *Reminder:* how" if prompt.reminder else ":star: How"
    accepted = f" You accepted it {local_time(lead.accepted_at)}." if lead.accepted_at else ""
    text = f"{'Reminder: how' if prompt.reminder else 'How'} good was lead {lead.crm_id}? Rate it in 10 seconds."
    blocks: list[Block] = [SectionBlock(text=mrkdwn(
        f"{opening} good was {lead_name(lead)}?{accepted} Your rating tells marketing which leads to send more of."))]
    if details := _details(lead):
        blocks.append(_context(details))
    blocks.append(_buttons(lead, Ids.RATE))
    return text, blocks
