"""Field intel: reps send what they saw in the field (competitors, objections, trends, customers, product
gaps) from any message or `/leadfeedback intel`; marketing gets a post it can reply to and act on."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy.orm import Session

from bot.errors import InvalidInput, parse
from bot.results.digest import Week
from bot.results.intel import (
    DIGEST_TOPICS_MAX,
    INTEL_KINDS,
    LINK_MAX,
    TEXT_MAX,
    TOPIC_MAX,
    TOPIC_SUGGESTIONS_MAX,
    IntelItem,
    IntelPrefill,
    IntelReply,
    IntelSaved,
    IntelSection,
    TopicCount,
)
from bot.text import at_most, plain_command_text, truncate, web_address
from storage import intel as store
from storage import outbox
from storage.intel import INTEL_KEY
from storage.models import FeedbackReply, FieldIntel
from storage.outbox import Message, home_refresh
from storage.teams import workspace_config

if TYPE_CHECKING:
    from bot.container import ClientFor

logger = logging.getLogger(__name__)

PERMALINK_WAIT = 1.5  # seconds
POST_KIND = "intel_post"  # the outbox kind of an item's post in the marketing channel


def topic_key(topic: str) -> str:
    """How topics are grouped: "LedgerLoop", "ledgerloop " and "LEDGERLOOP" are one competitor."""
    return " ".join(topic.split()).casefold()


class IntelInput(BaseModel):
    """What a rep saw, from the intel modal."""

    model_config = ConfigDict(str_strip_whitespace=True)

    kind: str
    topic: str | None = None
    text: str
    link: str | None = None

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: str | None) -> str:
        if value not in INTEL_KINDS:
            raise ValueError("Pick what kind of intel this is: " + ", ".join(INTEL_KINDS.values()).lower() + ".")
        return value

    @field_validator("topic", mode="before")
    @classmethod
    def _topic(cls, value: str | None) -> str | None:
        return at_most(" ".join((value or "").split()), TOPIC_MAX, "The competitor or topic")

    @field_validator("text", mode="before")
    @classmethod
    def _text(cls, value: str | None) -> str:
        value = at_most(value, TEXT_MAX, "What you saw")
        if not value:
            raise ValueError("Say what you saw or heard: a sentence or two is plenty.")
        return value

    @field_validator("link", mode="before")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        return web_address(value, LINK_MAX, "The link")


def parse_intel(data: dict) -> IntelInput:
    """The modal's fields as an item, or InvalidInput naming each field to fix."""
    intel = parse(IntelInput, data)
    if intel.kind == "competitor" and not intel.topic:
        raise InvalidInput({"topic": "Name the competitor, so mentions of them are counted together."})
    return intel


# --- the modal's prefill --------------------------------------------------------------------------------


def message_permalink(client_for: ClientFor, *, team_id: str, channel: str | None, ts: str | None) -> str | None:
    """The message's permalink from chat.getPermalink, or None: a link that can't be had never stops the intel."""
    if not channel or not ts:
        return None
    client = client_for(team_id)
    # Asked just before the modal opens, and a trigger_id lasts 3 seconds: a slow answer (or a rate limit's
    # Retry-After) must not cost the modal, so this one call is bounded and not retried.
    quick = type(client)(token=client.token, base_url=client.base_url, timeout=PERMALINK_WAIT, retry_handlers=[])
    try:
        permalink = quick.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
    except Exception as error:
        logger.warning("could not get the permalink of %s/%s: %s", channel, ts, error)
        return None
    try:
        return web_address(permalink, LINK_MAX)
    except ValueError:
        return None


def shortcut_prefill(client_for: ClientFor, *, team_id: str, channel: str | None, message: dict) -> IntelPrefill:
    """The modal's start from the message the shortcut was used on: its text as people read it, and its link."""
    # A bot's or an integration's message may carry its words in attachments only.
    attached = [a.get("text") or a.get("fallback") or "" for a in message.get("attachments") or []]
    text = truncate(plain_command_text(message.get("text") or next(filter(None, attached), "")), TEXT_MAX) or None
    link = message_permalink(client_for, team_id=team_id, channel=channel, ts=message.get("ts"))
    return IntelPrefill(text=text, link=link)


def command_prefill(words: str) -> IntelPrefill:
    """`/leadfeedback intel LedgerLoop undercut us by 20%`: what follows `intel` starts the text."""
    return IntelPrefill(text=truncate(words, TEXT_MAX) or None)


# --- storing and posting --------------------------------------------------------------------------------


def _reply(row: FeedbackReply | None) -> IntelReply | None:
    if row is None:
        return None
    return IntelReply(status=row.status, replied_by=row.replied_by, note=row.note, link=row.link,
                      replied_at=row.replied_at)


def _item(row: FieldIntel, reply: FeedbackReply | None = None) -> IntelItem:
    return IntelItem(id=row.id, user_id=row.user_id, kind=row.kind, topic=row.topic, text=row.text,
                     permalink=row.permalink, created_at=row.created_at, reply=_reply(reply))


def send_intel(
    *, session: Session, team_id: str, user_id: str, intel: IntelInput, message_channel: str | None,
    message_ts: str | None, submission_key: str, now: datetime, default_channel: str | None,
) -> IntelSaved:
    """Store the item once per modal (its view id) and, in the same transaction, queue its post to the
    marketing channel (the lead feed's) and the sender's Home refresh."""
    channel = workspace_config(session=session, team_id=team_id).lead_feed_channel or default_channel
    row, created = store.save_intel(
        session=session, team_id=team_id, user_id=user_id, kind=intel.kind, topic=intel.topic,
        topic_key=topic_key(intel.topic) if intel.topic else None, text=intel.text, permalink=intel.link,
        message_channel=message_channel, message_ts=message_ts, submission_key=submission_key, now=now)
    if created:
        post = [intel_post(row.id, channel)] if channel else []
        outbox.enqueue(session=session, team_id=team_id, messages=[*post, home_refresh(user_id)], now=now)
    return IntelSaved(item=_item(row), channel=channel, created=created)


def add_message_link(*, session: Session, team_id: str, saved: IntelSaved, permalink: str, now: datetime) -> bool:
    """The message's link, found after the item was sent (Slack didn't give it when the modal opened): stored
    if the item still has none, and its post queued again (same key) to show it. Whether it was added."""
    added = store.set_missing_permalink(session=session, team_id=team_id, intel_id=saved.item.id, permalink=permalink)
    if added:
        requeue_intel_post(session=session, team_id=team_id, intel_id=saved.item.id, now=now)
    return added


def intel_post(intel_id: int, channel: str) -> Message:
    """The item's post in the marketing channel; queued again (same key) it is updated in place."""
    return Message(kind=POST_KIND, dedupe_key=f"{INTEL_KEY}{intel_id}", channel=channel,
                   payload={"intel_id": intel_id})


def requeue_intel_post(*, session: Session, team_id: str, intel_id: int, now: datetime) -> bool:
    """Queue the item's post again, to the channel it went to, so it shows what changed (a reply, its link)
    in place; False when it has no post (no marketing channel was set when it was sent)."""
    queued = outbox.outbox_message_for(session=session, team_id=team_id, dedupe_key=f"{INTEL_KEY}{intel_id}")
    if queued is None or not queued.channel:
        return False
    outbox.enqueue(session=session, team_id=team_id, messages=[intel_post(intel_id, queued.channel)], now=now)
    return True


def intel_for_post(*, session: Session, team_id: str, intel_id: int) -> IntelItem | None:
    """The item with marketing's current reply, as its post shows it; None once it was deleted."""
    found = store.intel_with_reply(session=session, team_id=team_id, intel_id=intel_id)
    return _item(*found) if found else None


# --- topics ---------------------------------------------------------------------------------------------


def _grouped(rows: Iterable[tuple[str, str, int, datetime]]) -> list[TopicCount]:
    """Spellings of one topic counted together, shown as the most common spelling (the first, on a tie)."""
    totals: dict[str, int] = {}
    shown: dict[str, tuple[int, datetime, str]] = {}
    for key, spelling, count, first in rows:
        totals[key] = totals.get(key, 0) + count
        best = shown.get(key)
        if best is None or (count, -first.timestamp()) > (best[0], -best[1].timestamp()):
            shown[key] = (count, first, spelling)
    ranked = sorted(totals, key=lambda key: (-totals[key], shown[key][2].casefold()))
    return [TopicCount(topic=shown[key][2], count=totals[key]) for key in ranked]


def topic_suggestions(
    *, session: Session, team_id: str, typed: str, kind: str | None = None
) -> tuple[list[TopicCount], str | None]:
    """The typeahead: known topics containing what was typed, most mentioned first (those sent with the kind
    already picked, e.g. competitors, before the rest), and the typed text itself when it is a new topic
    (None when it is blank or already known)."""
    typed = " ".join(typed.split())[:TOPIC_MAX]
    key = topic_key(typed)
    known = _grouped(store.topic_spellings(session=session, team_id=team_id, key_contains=key))
    if kind in INTEL_KINDS:
        of_kind = _grouped(store.topic_spellings(session=session, team_id=team_id, key_contains=key, kinds=(kind,)))
        first = {topic_key(found.topic) for found in of_kind}
        known = [*(found for found in known if topic_key(found.topic) in first),
                 *(found for found in known if topic_key(found.topic) not in first)]
    is_new = typed and all(topic_key(found.topic) != key for found in known)
    return known[:TOPIC_SUGGESTIONS_MAX - 1], typed if is_new else None


# --- the digest -----------------------------------------------------------------------------------------


def intel_section(*, session: Session, team_id: str, week: Week) -> IntelSection | None:
    """The week's field intel: counts by kind, competitor mentions and other topics; None when there was none."""
    counts = store.kind_counts(session=session, team_id=team_id, start=week.start, end=week.end)
    if not counts:
        return None
    by_kind = sorted(((INTEL_KINDS[kind], count) for kind, count in counts.items()), key=lambda kc: (-kc[1], kc[0]))

    def topics(kinds: tuple[str, ...]) -> tuple[TopicCount, ...]:
        rows = store.topic_spellings(session=session, team_id=team_id, kinds=kinds, start=week.start, end=week.end)
        return tuple(_grouped(rows)[:DIGEST_TOPICS_MAX])

    return IntelSection(
        total=sum(counts.values()), by_kind=tuple(by_kind), competitors=topics(("competitor",)),
        other_topics=topics(tuple(kind for kind in INTEL_KINDS if kind != "competitor")),
        senders=store.sender_count(session=session, team_id=team_id, start=week.start, end=week.end),
    )
