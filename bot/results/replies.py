"""Replies to feedback: what marketing says back about a rating or a field-intel item."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.results import record_id

SUBJECT_KINDS = ("rating", "intel")
# Status → the button's label and how the post shows it.
REPLY_STATUSES: dict[str, str] = {"on_it": "On it", "fixed": "Fixed", "wont_fix": "Won't fix", "replied": "Reply"}


@dataclass(frozen=True)
class Subject:
    """A piece of feedback marketing can reply to: "rating:42" or "intel:7" in a button's value."""

    kind: str
    id: int

    def to_value(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def from_value(cls, value: str | None) -> Subject | None:
        kind, _, number = (value or "").partition(":")
        subject_id = record_id(number)
        if kind not in SUBJECT_KINDS or subject_id is None:
            return None
        return cls(kind=kind, id=subject_id)

NOTE_MAX = 1000
LINK_MAX = 500
NOTE_REQUIRED = ("wont_fix", "replied")  # these say nothing without words
INTEL_KINDS = {"competitor": "Competitor", "objection": "Objection", "trend": "Trend", "customer": "Customer",
               "product_gap": "Product gap"}


@dataclass(frozen=True)
class ReplyShown:
    """A subject's current reply, as its post, the modal and the DM show it."""

    status: str
    replied_by: str
    replied_at: datetime
    note: str | None = None
    link: str | None = None

    @property
    def status_label(self) -> str:
        return REPLY_STATUSES[self.status]


@dataclass(frozen=True)
class SubjectShown:
    """The feedback replied to, as people name it: a rated lead or a field-intel item."""

    subject: Subject
    author_user_id: str
    given_at: datetime  # when the feedback was given
    title: str  # the lead reference, or the intel's topic
    rating: int | None = None
    intel_kind: str | None = None

    @property
    def about(self) -> str:
        """What it was about, plain (escape before showing): "your 2/5 rating of ACME-1", "your competitor intel …"."""
        if self.subject.kind == "rating":
            return f"your {self.rating}/5 rating of lead {self.title}"
        return f"your {INTEL_KINDS.get(self.intel_kind or '', 'field').lower()} intel “{self.title}”"


@dataclass(frozen=True)
class ReplyForm:
    """What the reply modal opens with: the subject, the status clicked, and the reply it has already."""

    subject: SubjectShown
    status: str
    current: ReplyShown | None = None


@dataclass(frozen=True)
class ReplyDm:
    """The DM telling the person who gave feedback what marketing replied."""

    subject: SubjectShown
    reply: ReplyShown
