"""Block Kit identifiers, one enum per surface; renderers, handlers and tests share them."""

from enum import StrEnum


class LeadFeedbackIds(StrEnum):
    MODAL = "leadfeedback.modal"
    LEAD = "leadfeedback.lead"
    RATING = "leadfeedback.rating"
    REASONS = "leadfeedback.reasons"
    SOURCE = "leadfeedback.source"
    CAMPAIGN = "leadfeedback.campaign"
    NOTE = "leadfeedback.note"
    EDIT = "leadfeedback.edit"
    RATE_ANOTHER = "leadfeedback.rate_another"


# Form field (as services name it) → the modal block that shows its error.
LEAD_FORM_BLOCKS: dict[str, str] = {
    "lead": LeadFeedbackIds.LEAD,
    "rating": LeadFeedbackIds.RATING,
    "reasons": LeadFeedbackIds.REASONS,
    "source": LeadFeedbackIds.SOURCE,
    "source_id": LeadFeedbackIds.SOURCE,
    "new_source": LeadFeedbackIds.SOURCE,
    "campaign": LeadFeedbackIds.CAMPAIGN,
    "note": LeadFeedbackIds.NOTE,
}


class PulseIds(StrEnum):
    ANSWER = "pulse.answer"
    COMMENT = "pulse.comment"
    COMMENT_MODAL = "pulse.comment_modal"
    COMMENT_TEXT = "pulse.comment_text"
    FORM = "pulse.form"
    QUESTION = "pulse.q"  # + the question's index: pulse.q0, pulse.q1, …


class MessagingIds(StrEnum):
    ASK_MODAL = "messaging.ask_modal"
    NAME = "messaging.name"
    LINK = "messaging.link"
    DESCRIPTION = "messaging.description"
    CHANNEL = "messaging.channel"
    PEOPLE = "messaging.people"
    GROUP = "messaging.group"
    DAYS = "messaging.days"
    REACT = "messaging.react"  # + "." + the reaction: messaging.react.resonated, …
    ANSWER_MODAL = "messaging.answer_modal"
    REACTION = "messaging.reaction"
    USED_IN = "messaging.used_in"
    STAGE = "messaging.stage"
    QUOTE = "messaging.quote"
    SUGGESTION = "messaging.suggestion"


# AskInput / AnswerInput field → the modal block that shows its error.
ASK_FORM_BLOCKS: dict[str, str] = {
    "name": MessagingIds.NAME, "link": MessagingIds.LINK, "description": MessagingIds.DESCRIPTION,
    "channel_id": MessagingIds.CHANNEL, "user_ids": MessagingIds.PEOPLE, "usergroup_id": MessagingIds.GROUP,
    "days": MessagingIds.DAYS,
}
ANSWER_FORM_BLOCKS: dict[str, str] = {
    "reaction": MessagingIds.REACTION, "used_in": MessagingIds.USED_IN, "stage": MessagingIds.STAGE,
    "quote": MessagingIds.QUOTE, "suggestion": MessagingIds.SUGGESTION,
}


class AlignmentIds(StrEnum):
    FORGET_CONFIRM = "alignment.forget_confirm"
    FORGET_CANCEL = "alignment.forget_cancel"
