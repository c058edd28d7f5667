"""Messaging feedback: asks as people see them, answers and results, and the choices they offer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, field_validator

from bot.results import share
from bot.text import at_most

REACTIONS = {"resonated": "Resonated", "mixed": "Mixed", "flat": "Fell flat", "not_used": "Haven't used it yet"}
PLACES = {"email": "Email", "call": "Call", "demo": "Demo", "social": "Social", "event": "Event", "other": "Other"}
STAGES = {"discovery": "Discovery", "evaluation": "Evaluation", "proposal": "Proposal / negotiation",
          "closed_won": "Closed won", "closed_lost": "Closed lost"}
NAME_MAX, LINK_MAX, DESCRIPTION_MAX, QUOTE_MAX = 100, 500, 1500, 1000
DEFAULT_DAYS, MAX_DAYS = 14, 90
CHANGE_MAX = 1000  # "what we changed"
VERSIONS_OFFERED = 100  # the ask modal's "New version of" choices (a static select holds at most 100)


class AnswerInput(BaseModel):
    """A rep's answer: the reaction, where it was used, the buyer's words and a suggestion."""

    reaction: str
    used_in: list[str] = []
    stage: str | None = None
    quote: str | None = None
    suggestion: str | None = None

    @field_validator("reaction")
    @classmethod
    def _reaction(cls, value: str) -> str:
        if value not in REACTIONS:
            raise ValueError("Pick how it landed.")
        return value

    @field_validator("used_in")
    @classmethod
    def _used_in(cls, value: list[str]) -> list[str]:
        if any(place not in PLACES for place in value):
            raise ValueError("Pick where you used it from the list.")
        return value

    @field_validator("stage")
    @classmethod
    def _stage(cls, value: str | None) -> str | None:
        if value and value not in STAGES:
            raise ValueError("Pick a buyer stage from the list.")
        return value

    @field_validator("quote", mode="before")
    @classmethod
    def _quote(cls, value: str | None) -> str | None:
        return at_most(value, QUOTE_MAX, "The buyer's words")

    @field_validator("suggestion", mode="before")
    @classmethod
    def _suggestion(cls, value: str | None) -> str | None:
        return at_most(value, QUOTE_MAX, "The suggestion")


@dataclass(frozen=True)
class AskView:
    """An ask as people see it, with its live tally."""

    id: int
    name: str
    link: str | None
    description: str | None
    asker_user_id: str
    audience: str
    channel_id: str | None
    closes_at: datetime
    closed: bool
    tally: dict[str, int]

    @property
    def answered(self) -> int:
        return sum(self.tally.values())

    @property
    def used(self) -> int:
        return self.tally["resonated"] + self.tally["mixed"] + self.tally["flat"]

    @property
    def resonance_rate(self) -> float | None:
        """Resonated ÷ used (answers from reps who haven't used it yet don't count)."""
        return share(self.tally["resonated"], self.used)


@dataclass(frozen=True)
class AskVersion:
    """One version of an asset as its ask measured it: v1, v2, … along the "New version of" links."""

    number: int
    ask_id: int
    name: str
    answered: int
    resonance: float | None


@dataclass(frozen=True)
class VersionComparison:
    """This ask's resonance beside the earlier version's, e.g. "v2 resonated 67% (6 answers) vs v1 33% (9)"."""

    this: AskVersion
    earlier: AskVersion


@dataclass(frozen=True)
class AskChange:
    """"What we changed": the asker's note to everyone who answered, after the ask."""

    ask_id: int
    ask_name: str
    asker_user_id: str
    note: str
    link: str | None


@dataclass(frozen=True)
class ChangeForm:
    """What the "what we changed" modal opens with: the ask, and the text posted earlier if any."""

    ask_id: int
    ask_name: str
    note: str | None
    link: str | None
    answerers: int


@dataclass(frozen=True)
class ChangePosted:
    """What posting "what we changed" did: how many reps it goes to, and whether it was an edit."""

    ask_name: str
    sent_to: int
    edited: bool
    unchanged: bool = False


@dataclass(frozen=True)
class AskSent:
    """A stored ask, the people it was DM'd to, and those picked but left out for not being in sales."""

    ask: AskView
    recipients: tuple[str, ...]
    left_out: tuple[str, ...]


@dataclass(frozen=True)
class AnswerForm:
    ask: AskView
    reaction: str
    previous: AnswerInput | None


@dataclass(frozen=True)
class RepAnswer:
    rep_user_id: str
    reaction: str
    used_in: tuple[str, ...]
    stage: str | None
    quote: str | None
    suggestion: str | None


@dataclass(frozen=True)
class AskResults:
    ask: AskView
    answers: tuple[RepAnswer, ...]
    usage: dict[str, int]
    named: bool = True  # False for leaders and admins: the evidence without who said it
    versions: VersionComparison | None = None  # when the ask is a new version of an earlier one
    change: AskChange | None = None  # what the asker changed afterwards, once posted
    may_post_change: bool = False  # the reader is the asker or an admin: offer "Post what we changed"
