"""Lead quality over the last few weeks, by source and by campaign: what bot.lead_stats builds and
bot.blocks.lead_stats renders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.results import share

MIN_RANKED_RATINGS = 3  # a source or campaign is ranked (and its trend shown) from this many ratings
WINDOW_WEEKS = (4, 12)
DEFAULT_WEEKS = 4


@dataclass(frozen=True)
class ReasonCount:
    label: str
    count: int


@dataclass(frozen=True)
class QualityLine:
    """One source, one campaign, or all ratings, over the window; compared with the window before it."""

    label: str
    ratings: int
    average: float | None
    good: int
    bad: int
    reasons: tuple[ReasonCount, ...]  # its top reasons in the window, most given first
    previous_ratings: int
    previous_average: float | None

    @property
    def good_share(self) -> float | None:
        return share(self.good, self.ratings)

    @property
    def bad_share(self) -> float | None:
        return share(self.bad, self.ratings)

    @property
    def ranked(self) -> bool:
        return self.ratings >= MIN_RANKED_RATINGS

    @property
    def new(self) -> bool:
        """Nothing to compare with: no ratings in the window before."""
        return self.previous_ratings == 0

    @property
    def change(self) -> float | None:
        """The change in average against the window before; None when either side is too thin to judge."""
        if self.average is None or self.previous_average is None or self.previous_ratings < MIN_RANKED_RATINGS:
            return None
        return round(self.average - self.previous_average, 2)


@dataclass(frozen=True)
class Unranked:
    """Sources or campaigns with fewer than MIN_RANKED_RATINGS ratings: how many, and their ratings together."""

    count: int
    ratings: int


@dataclass(frozen=True)
class LeadStats:
    """Lead quality over the last `weeks` × 7 days to `end`, against the same length of time before it."""

    weeks: int
    start: datetime
    end: datetime
    total: QualityLine
    sources: tuple[QualityLine, ...]  # ranked, best average first
    campaigns: tuple[QualityLine, ...]  # ranked, best average first
    unranked_sources: Unranked
    unranked_campaigns: Unranked
    focus: QualityLine | None = None  # the one source or campaign asked for
    focus_kind: str | None = None  # "source" | "campaign"
    focus_label: str | None = None  # what it is called, even when it has no ratings in the window
