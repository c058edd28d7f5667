"""Block Kit for field intel: the modal, its topic typeahead, the post for marketing, the sender's
confirmation and the digest's section."""

from __future__ import annotations

from pydantic import BaseModel, Field
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    ExternalDataSelectElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
    UrlInputElement,
)
from slack_sdk.models.views import View

from bot.blocks.common import SECTION_TEXT_MAX, local_time, mrkdwn, static_options, user_text, within_block_limit
from bot.blocks.ids import IntelIds as Ids
from bot.blocks.loop import reply_buttons
from bot.results.actions import PROMPT_LABEL_MAX, TITLE_MAX, ActionPrompt
from bot.results.intel import (
    INTEL_KINDS,
    TEXT_MAX,
    TOPIC_MAX,
    IntelItem,
    IntelPrefill,
    IntelReply,
    IntelSaved,
    IntelSection,
    TopicCount,
)
from bot.results.replies import Subject
from bot.text import escape_mrkdwn, truncate

KIND_EMOJI = {"competitor": ":crossed_swords:", "objection": ":raised_hand:", "trend": ":chart_with_upwards_trend:",
              "customer": ":handshake:", "product_gap": ":jigsaw:"}
REPLY_SHOWN = {"on_it": ":eyes: On it", "fixed": ":white_check_mark: Fixed", "wont_fix": ":no_entry_sign: Won't fix",
               "replied": ":speech_balloon: Replied"}


class IntelFormMetadata(BaseModel):
    """Carried in the modal's private_metadata: the message the shortcut was used on, and where to confirm."""

    # The message's conversation and ts (from the message shortcut), as long as the columns that keep them.
    channel: str | None = Field(default=None, max_length=32)
    ts: str | None = Field(default=None, max_length=32)
    response_url: str | None = Field(default=None, max_length=2000)
    link_pending: bool = False  # Slack didn't give the message's link when the modal opened: ask again on Send


# --- the modal ------------------------------------------------------------------------------------------


def topic_option(topic: TopicCount) -> Option:
    mentions = "1 mention" if topic.count == 1 else f"{topic.count} mentions"
    return Option(value=topic.topic, text=PlainTextObject(text=truncate(f"{topic.topic} ({mentions})", 75)))


def new_topic_option(typed: str) -> Option:
    """The typed text itself, as a new competitor or topic."""
    return Option(value=typed[:TOPIC_MAX], text=PlainTextObject(text=truncate(f"New: {typed}", 75)))


def intel_modal(prefill: IntelPrefill, metadata: IntelFormMetadata) -> View:
    """"Send as field intel": kind, competitor or topic, what was seen, the link."""
    blocks: list[Block] = [
        InputBlock(block_id=Ids.KIND, label="Kind",
                   element=StaticSelectElement(action_id=Ids.KIND, placeholder="Competitor, objection, trend…",
                                               options=static_options(INTEL_KINDS))),
        InputBlock(block_id=Ids.TOPIC, label="Competitor or topic", optional=True,
                   hint="Pick one already sent, or type a new one. Needed for a competitor.",
                   element=ExternalDataSelectElement(action_id=Ids.TOPIC, min_query_length=0,
                                                     placeholder="LedgerLoop, pricing, security review…")),
        InputBlock(block_id=Ids.TEXT, label="What you saw or heard",
                   element=PlainTextInputElement(action_id=Ids.TEXT, multiline=True, max_length=TEXT_MAX,
                                                 initial_value=prefill.text,
                                                 placeholder="They offered 20% off to switch before Q1.")),
        InputBlock(block_id=Ids.LINK, label="Link to the message", optional=True,
                   element=UrlInputElement(action_id=Ids.LINK, initial_value=prefill.link,
                                           placeholder="https://…")),
    ]
    if prefill.link is None and metadata.channel:
        blocks.append(ContextBlock(elements=[mrkdwn(
            "Slack didn't give us this message's link; paste it if you like (⋯ → Copy link). "
            "The intel is sent either way.")]))
    return View(type="modal", callback_id=Ids.MODAL, title="Field intel", submit="Send", close="Cancel",
                private_metadata=metadata.model_dump_json(exclude_none=True), blocks=blocks)


# --- the post for marketing ---------------------------------------------------------------------------


def quoted_sections(text: str, limit: int = SECTION_TEXT_MAX) -> list[SectionBlock]:
    """User text as a block quote, escaped and spread over as many sections as it needs.

    Escaping can make text five times longer (`&` → `&amp;`), so 2,000 typed characters may not fit one
    section's 3,000; the text is cut between characters, never inside an entity, and nothing is lost."""
    pieces, current = [], ">"
    for char in text.strip():
        shown = "\n>" if char == "\n" else escape_mrkdwn(char)
        if len(current) + len(shown) > limit:
            pieces.append(current)
            current = ">" if char == "\n" else ">" + shown
            continue
        current += shown
    return [SectionBlock(text=mrkdwn(piece)) for piece in [*pieces, current]]


def _link(url: str, label: str) -> str:
    """A link under `label`; one that could break out of Slack's <url|label> is shown as escaped text instead."""
    if any(char in url for char in " <>|"):
        return user_text(url, 500)
    return f"<{escape_mrkdwn(url)}|{label}>"


def reply_blocks(reply: IntelReply) -> list[Block]:
    """Marketing's current reply: status, who, when and the link, then the note."""
    line = f"*{REPLY_SHOWN.get(reply.status, reply.status)}* · <@{reply.replied_by}> · {local_time(reply.replied_at)}"
    if reply.link:
        line += " · " + _link(reply.link, "What changed")
    return [SectionBlock(text=mrkdwn(line)), *(quoted_sections(reply.note) if reply.note else [])]


def action_prompt(item: IntelItem) -> ActionPrompt:
    """What a "Log action" on this item carries: the item, and a title to start from."""
    about = f"{item.kind_label}: {item.topic}" if item.topic else f"{item.kind_label} intel"
    label = truncate(f"{about} (intel #{item.id})", PROMPT_LABEL_MAX)
    return ActionPrompt(kind="intel", ref=str(item.id), label=label, title=truncate(f"Follow up: {about}", TITLE_MAX))


def intel_post_message(item: IntelItem) -> tuple[str, list[Block]]:
    """The post in the marketing channel: who saw what, the message it came from, and reply/action buttons."""
    topic = f" · {user_text(item.topic, TOPIC_MAX)}" if item.topic else ""
    text = f"Field intel from a rep: {item.kind_label}{topic}"
    blocks: list[Block] = [
        SectionBlock(text=mrkdwn(f"{KIND_EMOJI.get(item.kind, ':mag:')} *Field intel · {item.kind_label}*{topic}")),
        *quoted_sections(item.text),
    ]
    context = f"Sent by <@{item.user_id}> {local_time(item.created_at)}"
    if item.permalink:
        context += " · " + _link(item.permalink, "Original message")
    blocks.append(ContextBlock(elements=[mrkdwn(context)]))
    if item.reply:
        blocks += reply_blocks(item.reply)
    blocks.append(reply_buttons(Subject("intel", item.id), action_prompt(item)))
    return text, within_block_limit(blocks)


# --- the sender's confirmation ------------------------------------------------------------------------


def intel_sent(saved: IntelSaved) -> tuple[str, list[Block]]:
    """Tell the sender where their intel went (or that no channel is set, and it still counts)."""
    item = saved.item
    about = item.kind_label.lower() + (f" intel on “{user_text(item.topic, TOPIC_MAX)}”" if item.topic else " intel")
    if saved.channel:
        text = f"Thanks! Your {about} is posted for marketing in <#{saved.channel}>."
        hint = "Marketing replies there; you'll see what came of it."
    else:
        text = f"Thanks! Your {about} is saved and counted in the weekly digest."
        hint = ("No marketing channel is set up, so it isn't posted anywhere yet: an admin can choose one with "
                "`/alignment setup` (Lead feed channel).")
    return text, [SectionBlock(text=mrkdwn(f":white_check_mark: {text}")), ContextBlock(elements=[mrkdwn(hint)])]


# --- the digest ---------------------------------------------------------------------------------------


def _counted(topics: tuple[TopicCount, ...]) -> str:
    return ", ".join(f"{user_text(topic.topic, 60)} {topic.count}" for topic in topics)


def intel_digest_blocks(section: IntelSection) -> list[Block]:
    """The digest's "Field intel": counts by kind and the most mentioned competitors and topics."""
    reps = "1 rep" if section.senders == 1 else f"{section.senders} reps"
    kinds = " · ".join(f"{label} {count}" for label, count in section.by_kind)
    blocks: list[Block] = [SectionBlock(text=mrkdwn(f":mag: *Field intel*: {section.total} from {reps}\n{kinds}"))]
    # One section each: five escaped topics always fit a section's 3,000 characters, two might not.
    if section.competitors:
        blocks.append(SectionBlock(text=mrkdwn(f"*Competitor mentions*: {_counted(section.competitors)}")))
    if section.other_topics:
        blocks.append(SectionBlock(text=mrkdwn(f"*Other topics*: {_counted(section.other_topics)}")))
    return blocks
