"""Actions: what a team commits to because of feedback, and what prompted it."""

from __future__ import annotations

import json
from dataclasses import dataclass

# What an action can be prompted by (storage's actions.prompt_kind).
PROMPT_KINDS = ("source", "reason", "campaign", "ask", "pulse", "intel", "rating", "talking_point", "none")
TITLE_MAX = 150
PROMPT_LABEL_MAX = 200


@dataclass(frozen=True)
class ActionPrompt:
    """The feedback an action answers: its kind, a reference to it (a code, an id) and how people read it.

    Carried in a "Log action" button's value, so the modal it opens is prefilled with what prompted it.
    """

    kind: str = "none"
    ref: str | None = None
    label: str | None = None
    title: str | None = None  # a suggested title for the action

    def to_value(self) -> str:
        # Each part is capped, so the whole stays far inside a button value's 2000 characters.
        fields = {"k": self.kind, "r": (self.ref or "")[:PROMPT_LABEL_MAX], "l": (self.label or "")[:PROMPT_LABEL_MAX],
                  "t": (self.title or "")[:TITLE_MAX]}
        return json.dumps({key: value for key, value in fields.items() if value}, separators=(",", ":"))

    @classmethod
    def from_value(cls, value: str | None) -> ActionPrompt:
        """The prompt a button carried; a value that isn't one (tampered, truncated) reads as no prompt."""
        try:
            fields = json.loads(value or "{}")
        except ValueError:
            return cls()
        if not isinstance(fields, dict) or fields.get("k", "none") not in PROMPT_KINDS:
            return cls()
        text = {key: str(fields[key]) if fields.get(key) is not None else None for key in ("r", "l", "t")}
        return cls(kind=fields.get("k", "none"), ref=text["r"], label=text["l"], title=text["t"])
