"""Pulse checks: the button values, one person's prompt, `/pulse` state and a round's results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

COMMENT_MAX = 500
SCALE = {1: "Not at all", 2: "A little", 3: "Somewhat", 4: "Mostly", 5: "Completely"}


class PulseButtonValue(BaseModel):
    """A DM button's value: the round, and the question and score. Whose answer it is comes from Slack."""

    r: int
    q: int | None = None
    s: int | None = Field(default=None, ge=1, le=5)


AWAY_TEXT = ("You were away when this pulse went out, so it isn't waiting for you and nobody counts you as "
             "missing it. Back already? `/pulse back`, and it's yours to answer.")


@dataclass(frozen=True)
class PulsePrompt:
    """What one person's pulse DM (or `/pulse` form) shows, with their current answers."""

    round_id: int
    side: str
    questions: tuple[str, ...]
    comment_prompt: str
    chosen: dict[int, int]
    comment: str | None
    closes_at: datetime
    threshold: int
    away: bool = False  # marked away in this round: not counted as asked, so not theirs to answer

    @property
    def has_comment(self) -> bool:
        return self.comment is not None


@dataclass(frozen=True)
class PulseFormState:
    """What `/pulse` can do for this person now."""

    status: str  # "not_set_up" | "none_open" | "not_asked" | "away" | "open"
    prompt: PulsePrompt | None = None
    next_opening: datetime | None = None
    closes_at: datetime | None = None


@dataclass(frozen=True)
class TeamPulse:
    side: str
    name: str
    asked: int
    answered: int
    scores: tuple[tuple[str, float | None], ...]  # (question as this team read it, average or None if hidden)
    shown: bool
    comments: tuple[str, ...] | None  # None when below the comment threshold
    away: int = 0  # away when it went out: not counted as asked

    def participation(self, nobody: str = "nobody was asked") -> str:
        """"5 of 8 answered · 2 away": the response rate leaves out whoever was away."""
        rate = f"{self.answered} of {self.asked} answered" if self.asked else nobody
        return f"{rate} · {self.away} away" if self.away else rate


@dataclass(frozen=True)
class PulseResults:
    period: str
    closes_at: datetime
    teams: tuple[TeamPulse, ...]
    gap: float | None  # sales' view of alignment minus marketing's, when both can be shown
    threshold: int
    comment_threshold: int


def gap_in_words(results: PulseResults) -> str | None:
    """The perception gap as a sentence, in the teams' own names."""
    if results.gap is None:
        return None
    names = {team.side: team.name for team in results.teams}
    sales, marketing = names.get("sales", "Sales"), names.get("marketing", "Marketing")
    if round(results.gap, 1) == 0:
        return f"{sales} and {marketing} rate alignment the same."
    lower, higher = (sales, marketing) if results.gap < 0 else (marketing, sales)
    return f"{lower} rate alignment {abs(results.gap):.1f} points lower than {higher}."
