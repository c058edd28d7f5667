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
    PREVIOUS = "messaging.previous"  # the ask modal's "New version of" select
    CHANGE = "messaging.change"  # the summary's "Post what we changed" button; value: the ask's id
    CHANGE_MODAL = "messaging.change_modal"
    CHANGE_NOTE = "messaging.change_note"
    CHANGE_LINK = "messaging.change_link"


# AskInput / AnswerInput field → the modal block that shows its error.
ASK_FORM_BLOCKS: dict[str, str] = {
    "name": MessagingIds.NAME, "link": MessagingIds.LINK, "description": MessagingIds.DESCRIPTION,
    "channel_id": MessagingIds.CHANNEL, "user_ids": MessagingIds.PEOPLE, "usergroup_id": MessagingIds.GROUP,
    "days": MessagingIds.DAYS, "previous_ask_id": MessagingIds.PREVIOUS,
}
CHANGE_FORM_BLOCKS: dict[str, str] = {"note": MessagingIds.CHANGE_NOTE, "link": MessagingIds.CHANGE_LINK}
ANSWER_FORM_BLOCKS: dict[str, str] = {
    "reaction": MessagingIds.REACTION, "used_in": MessagingIds.USED_IN, "stage": MessagingIds.STAGE,
    "quote": MessagingIds.QUOTE, "suggestion": MessagingIds.SUGGESTION,
}


class AlignmentIds(StrEnum):
    FORGET_CONFIRM = "alignment.forget_confirm"
    FORGET_CANCEL = "alignment.forget_cancel"


class SetupIds(StrEnum):
    """The setup modal; each input's block_id and action_id are the same, and name a SetupForm field."""

    MODAL = "setup.modal"
    DIGEST_CHANNELS = "digest_channels"
    SALES_CHANNEL = "sales_channel"
    LEAD_FEED_CHANNEL = "lead_feed_channel"
    SALES_USERGROUP = "sales_usergroup"
    MARKETING_USERGROUP = "marketing_usergroup"
    SALES_MEMBERS = "sales_members"
    MARKETING_MEMBERS = "marketing_members"
    LEADERS = "leaders"
    PULSE_CADENCE = "pulse_cadence"
    PULSE_DAY = "pulse_day"
    PULSE_TIME = "pulse_time"
    PULSE_QUESTIONS = "pulse_questions"
    DIGEST_DAY = "digest_day"
    DIGEST_TIME = "digest_time"
    TIMEZONE = "timezone"
    ANONYMITY_THRESHOLD = "anonymity_threshold"
    BAD_REASONS = "bad_reasons"
    GOOD_REASONS = "good_reasons"
    SOURCES = "sources"
    ALLOW_NEW_SOURCES = "allow_new_sources"
    ASK_REMINDER_HOURS = "ask_reminder_hours"
    LEAD_SLA_MINUTES = "lead_sla_minutes"
    WORK_START = "work_start"
    WORK_END = "work_end"
    WORK_DAYS = "work_days"
    HOLIDAYS = "holidays"
    LEAD_ESCALATION_USER = "lead_escalation_user_id"
    LEAD_RATE_AFTER_DAYS = "lead_rate_after_days"
    QUALIFIED_LEAD_DEFINITION = "qualified_lead_definition"
    PULSE_REMINDER_HOURS = "pulse_reminder_hours"
    SKIPPED_PULSE_WEEKS = "skipped_pulse_weeks"
    ASK_OPEN_DAYS = "ask_open_days"
    ALIGNMENT_TARGET = "alignment_target"
    LEAD_QUALITY_TARGET = "lead_quality_target"


class HomeIds(StrEnum):
    ACTIONS = "home.actions"
    ANSWER_PULSE = "home.answer_pulse"
    ASK = "home.ask"  # + "." + the ask's id: the block holding that ask's reaction buttons
    # Admins: a source typed by reps. TYPED_SOURCE + "." + its key (bot.typed_sources) is the block holding its
    # Approve button (whose value is the key too) and its Merge into… select (whose options' values are source ids).
    TYPED_SOURCE = "home.typed_source"
    APPROVE_SOURCE = "home.typed_source.approve"
    MERGE_SOURCE = "home.typed_source.merge"


class ReplyIds(StrEnum):
    """Marketing's reply to feedback: the buttons on a lead-feed or field-intel post, and the modal they open.

    A button's action_id is OPEN + "." + the status (reply.open.on_it, .fixed, .wont_fix, .replied); its value
    is the subject, "rating:42" or "intel:7" (bot.results.replies.Subject).
    """

    OPEN = "reply.open"
    MODAL = "reply.modal"
    STATUS = "reply.status"
    NOTE = "reply.note"
    LINK = "reply.link"


class ActionIds(StrEnum):
    """Actions: the "Log action" button any surface carries (value: bot.results.actions.ActionPrompt.to_value())."""

    NEW = "action.new"
    MODAL = "action.modal"
    TITLE = "action.title"
    OWNER = "action.owner"
    DUE = "action.due"
    DONE = "action.done"  # value: the action's id; opens the outcome modal
    DROP = "action.drop"  # value: the action's id
    DONE_MODAL = "action.done_modal"
    OUTCOME = "action.outcome"


class IntelIds(StrEnum):
    SHORTCUT = "intel.shortcut"  # the message shortcut's callback_id (manifest.yml)
    MODAL = "intel.modal"
    KIND = "intel.kind"
    TOPIC = "intel.topic"  # an external select: options come from known competitors and topics
    TEXT = "intel.text"
    LINK = "intel.link"


# IntelInput field → the modal block that shows its error.
INTEL_FORM_BLOCKS: dict[str, str] = {
    "kind": IntelIds.KIND, "topic": IntelIds.TOPIC, "text": IntelIds.TEXT, "link": IntelIds.LINK,
}


class LeadIds(StrEnum):
    """Lead handoff: the owner's DM card, the sales channel's claim post, and the follow-up DMs.

    Every button's value is the lead's id (leads.id)."""

    ACCEPT = "lead.accept"
    NOT_MINE = "lead.not_mine"
    RATE = "lead.rate"  # opens the rating modal prefilled with the lead, its source and campaign
    CLAIM = "lead.claim"
    DEFINITION = "lead.definition"  # opens the workspace's definition of a qualified lead
