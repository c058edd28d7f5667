"""Field intel: what reps saw in the field, as the modal, the marketing post and the digest read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Kind → how people read it (storage's field_intel.kind check constraint lists the same kinds).
INTEL_KINDS: dict[str, str] = {
    "competitor": "Competitor",
    "objection": "Objection",
    "trend": "Trend",
    "customer": "Customer",
    "product_gap": "Product gap",
}
TEXT_MAX = 2000
TOPIC_MAX = 100
LINK_MAX = 500
TOPIC_SUGGESTIONS_MAX = 20
DIGEST_TOPICS_MAX = 5


@dataclass(frozen=True)
class IntelReply:
    """Marketing's current reply to an intel item (from feedback_replies), shown on its post."""

    status: str
    replied_by: str
    note: str | None
    link: str | None
    replied_at: datetime


@dataclass(frozen=True)
class IntelItem:
    """One intel item as its post shows it."""

    id: int
    user_id: str
    kind: str
    topic: str | None
    text: str
    permalink: str | None
    created_at: datetime
    reply: IntelReply | None = None

    @property
    def kind_label(self) -> str:
        return INTEL_KINDS.get(self.kind, self.kind)


@dataclass(frozen=True)
class IntelSaved:
    """What the sender is told: the item, and the channel its post goes to (None: no marketing channel set)."""

    item: IntelItem
    channel: str | None
    created: bool


@dataclass(frozen=True)
class IntelPrefill:
    """What the modal starts with: from the shortcut's message (text, permalink) or the command's words."""

    text: str | None = None
    link: str | None = None


@dataclass(frozen=True)
class TopicCount:
    """A topic grouped case-insensitively, shown in its most common spelling."""

    topic: str
    count: int


@dataclass(frozen=True)
class IntelSection:
    """The digest's "Field intel": the week's counts by kind and the most mentioned competitors and topics."""

    total: int
    by_kind: tuple[tuple[str, int], ...]  # (kind label, count), most first
    competitors: tuple[TopicCount, ...]
    other_topics: tuple[TopicCount, ...]
    senders: int
