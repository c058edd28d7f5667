"""Replies to feedback: what marketing says back about a rating or a field-intel item."""

from __future__ import annotations

from dataclasses import dataclass

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
        if kind not in SUBJECT_KINDS or not number.isdigit():
            return None
        return cls(kind=kind, id=int(number))
