"""Actions: what a team commits to because of feedback, and what prompted it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

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
        # Each part is capped, so the whole stays far inside a button value's 2000 characters: written as
        # themselves, not as JSON's \uXXXX escapes, which make an emoji twelve characters.
        fields = {"k": self.kind, "r": _capped(self.ref, PROMPT_LABEL_MAX), "l": _capped(self.label, PROMPT_LABEL_MAX),
                  "t": _capped(self.title, TITLE_MAX)}
        return json.dumps({key: value for key, value in fields.items() if value}, separators=(",", ":"),
                          ensure_ascii=False)

    @classmethod
    def from_value(cls, value: str | None) -> ActionPrompt:
        """The prompt a button carried; a value that isn't one (tampered, truncated) reads as no prompt.

        Each part is capped as `to_value` caps it (the columns' sizes): a forged value can't overflow a column.
        Whether the item it names exists is the service's to check (`bot.actions.verified_prompt`)."""
        try:
            fields = json.loads(value or "{}")
        except ValueError:
            return cls()
        if not isinstance(fields, dict) or fields.get("k", "none") not in PROMPT_KINDS:
            return cls()
        return cls(kind=fields.get("k", "none"), ref=_capped(fields.get("r"), PROMPT_LABEL_MAX),
                   label=_capped(fields.get("l"), PROMPT_LABEL_MAX), title=_capped(fields.get("t"), TITLE_MAX))


def _capped(value: object, limit: int) -> str | None:
    """Text or a number as at most `limit` characters; anything else (a list, an object, blank) is None."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value)[:limit] or None


# --- what the actions service hands back (the write side; the digest and Home read the same rows) -------------

ACTION_STATUSES = {"open": "Open", "done": "Done", "dropped": "Dropped"}
OUTCOME_MAX = 300
DEFAULT_DUE_DAYS = 7  # a new action is due a week ahead unless someone picks another day
MAX_DUE_DAYS = 366  # further ahead than a year is a typo, not a plan


@dataclass(frozen=True)
class ActionView:
    """One action as people see it; `can_close` says whether the person it is shown to may close it."""

    id: int
    title: str
    owner_user_id: str  # "" once the owner asked Crossfeed to forget them
    due_on: date
    status: str
    prompt_kind: str
    prompt_label: str | None
    outcome: str | None
    created_by: str  # "" once the creator asked Crossfeed to forget them
    created_at: datetime
    closed_at: datetime | None
    overdue: bool = False  # open and its due date has passed (in the workspace's time zone)
    can_close: bool = False

    @property
    def is_open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True)
class ActionForm:
    """What the "Log action" modal opens with: the prompt, a suggested title, the owner and due date."""

    prompt: ActionPrompt
    owner_user_id: str
    due_on: date
    earliest: date  # today in the workspace's time zone: nothing is due before it


@dataclass(frozen=True)
class LoggedAction:
    """A logged action; `created` is False when the same submission came again (it is still one action)."""

    action: ActionView
    created: bool


@dataclass(frozen=True)
class ClosedAction:
    """An action after Done or Drop; `changed` is False when it was already closed (closing twice is harmless)."""

    action: ActionView
    changed: bool


@dataclass(frozen=True)
class ActionList:
    """`/alignment action list [mine]`: open actions, soonest due first, and how many there are in all."""

    actions: tuple[ActionView, ...]
    total: int
    mine: bool
