"""The weekly digest: its week, its sections and the figures it compares."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.results.actions import ActionPrompt
from bot.results.follow_up_stats import FollowUpSection
from bot.results.intel import IntelSection
from bot.results.messaging import VersionComparison
from bot.results.pulse import PulseResults

MIN_SOURCE_RATINGS = 3
CAMPAIGN_WEEKS = 4  # the digest ranks campaigns over the 4 weeks ending with its week


@dataclass(frozen=True)
class Week:
    """An ISO week in the workspace's time zone, as UTC instants."""

    label: str  # "2026-W48"
    start: datetime
    end: datetime
    zone: ZoneInfo

    def before(self) -> Week:
        return week_starting(self.start.astimezone(self.zone).date() - timedelta(days=7), self.zone)

    @property
    def dates(self) -> str:
        """Its local Monday to Sunday: "Nov 16–22", or "Nov 30–Dec 6" across a month."""
        first = self.start.astimezone(self.zone).date()
        last = first + timedelta(days=6)
        end = f"{last.day}" if last.month == first.month else f"{last:%b} {last.day}"
        return f"{first:%b} {first.day}–{end}"

    @property
    def title(self) -> str:
        """"2026-W47 · Nov 16–22": the ISO week for the record, the dates for the reader."""
        return f"{self.label} · {self.dates}"


def week_starting(monday, zone: ZoneInfo) -> Week:
    start = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
    after = monday + timedelta(days=7)
    end = datetime(after.year, after.month, after.day, tzinfo=zone)
    year, number, _ = monday.isocalendar()
    # UTC instants: arithmetic on datetimes sharing a ZoneInfo would ignore the DST change.
    return Week(label=f"{year}-W{number:02d}", start=start.astimezone(UTC), end=end.astimezone(UTC), zone=zone)


@dataclass(frozen=True)
class SourceLine:
    label: str
    ratings: int
    average: float


@dataclass(frozen=True)
class ReasonLine:
    label: str
    count: int
    change: int | None  # None when last week has no ratings to compare with


@dataclass(frozen=True)
class LeadSection:
    ratings: int
    raters: int
    sales_team: int
    average: float | None
    previous_average: float | None
    average_change: float | None
    good_share: float | None
    bad_share: float | None
    ranked_sources: tuple[SourceLine, ...]
    other_sources: SourceLine | None
    bad_reasons: tuple[ReasonLine, ...]
    ranked_campaigns: tuple[SourceLine, ...] = ()  # at least MIN_SOURCE_RATINGS over CAMPAIGN_WEEKS, best first
    source_reasons: dict[str | None, str] = field(default_factory=dict)  # source label → its top bad-lead reason
    source_codes: dict[str, str] = field(default_factory=dict)  # ranked source label → its code


@dataclass(frozen=True)
class AskLine:
    id: int
    name: str
    answered: int
    tally: dict[str, int]
    resonance: float | None
    closed: bool = False
    versions: VersionComparison | None = None  # a new version of an earlier ask: both resonances


@dataclass(frozen=True)
class MessagingSection:
    asks: tuple[AskLine, ...]
    best: AskLine | None
    worst: AskLine | None
    quotes: tuple[tuple[str, str, str], ...]  # (ask name, reaction, quote)


INDEX_PARTS = ("pulse", "leads", "messaging")


@dataclass(frozen=True)
class WeekFigures:
    """The numbers a week's digest compares with the week before; kept in digest_weeks as first posted,
    so next week's changes are measured against what leaders read, not against later edits."""

    lead_ratings: int = 0
    lead_average: float | None = None
    sources: dict[str, float] = field(default_factory=dict)  # ranked source label → average
    reasons: dict[str, int] = field(default_factory=dict)  # bad-lead reason code → times given
    pulse: dict[str, tuple[float | None, ...]] = field(default_factory=dict)  # side → shown score per question
    resonated: int = 0
    used: int = 0
    asks: dict[int, tuple[bool, int, int]] = field(default_factory=dict)  # ask id → (closed, fell flat, answered)

    def score(self, side: str, question: int) -> float | None:
        scores = self.pulse.get(side, ())
        return scores[question] if question < len(scores) else None

    @property
    def gap(self) -> float | None:
        sales, marketing = self.score("sales", 0), self.score("marketing", 0)
        return round(sales - marketing, 2) if sales is not None and marketing is not None else None

    @property
    def parts(self) -> dict[str, float]:
        """The alignment index's parts the week has, each 0–100."""
        parts = {}
        shown = [s for s in (self.score(side, 0) for side in ("sales", "marketing")) if s is not None]
        if shown:
            parts["pulse"] = 100 * (sum(shown) / len(shown) - 1) / 4
        if self.lead_average is not None:
            parts["leads"] = 100 * (self.lead_average - 1) / 4
        if self.used:
            parts["messaging"] = 100 * self.resonated / self.used
        return parts

    @property
    def index(self) -> int | None:
        parts = self.parts
        return round(sum(parts.values()) / len(parts)) if parts else None

    def to_json(self) -> dict:
        return {"lead_ratings": self.lead_ratings, "lead_average": self.lead_average, "sources": self.sources,
                "reasons": self.reasons, "pulse": {side: list(v) for side, v in self.pulse.items()},
                "resonated": self.resonated, "used": self.used,
                "asks": {str(ask_id): list(v) for ask_id, v in self.asks.items()}}

    @classmethod
    def from_json(cls, data: dict) -> WeekFigures:
        return cls(lead_ratings=data.get("lead_ratings", 0), lead_average=data.get("lead_average"),
                   sources=dict(data.get("sources", {})), reasons=dict(data.get("reasons", {})),
                   pulse={side: tuple(v) for side, v in data.get("pulse", {}).items()},
                   resonated=data.get("resonated", 0), used=data.get("used", 0),
                   asks={int(ask_id): tuple(v) for ask_id, v in data.get("asks", {}).items()})


@dataclass(frozen=True)
class PulseSection:
    results: PulseResults
    previous: WeekFigures | None  # the previous round's week, as posted when it was

    def change(self, side: str, question: int) -> float | None:
        now = _score(self.results, side, question)
        before = self.previous.score(side, question) if self.previous else None
        return round(now - before, 2) if now is not None and before is not None else None

    @property
    def previous_gap(self) -> float | None:
        return self.previous.gap if self.previous else None


def _score(results: PulseResults | None, side: str, question: int) -> float | None:
    team = next((t for t in results.teams if t.side == side), None) if results else None
    return team.scores[question][1] if team and question < len(team.scores) else None


@dataclass(frozen=True)
class TalkingPoint:
    """A talking point and the feedback it is about, which its "Log action" button carries."""

    text: str
    prompt: ActionPrompt


@dataclass(frozen=True)
class ActionLine:
    """An action as the digest and Home show it."""

    id: int
    title: str
    owner_user_id: str
    due_on: date
    status: str  # "open" | "done" | "dropped"
    prompt_kind: str
    prompt_label: str | None
    outcome: str | None


@dataclass(frozen=True)
class LoopSection:
    """"You said, we did": what was done about feedback this week, what is late, and how fast feedback is answered.

    Lead flags and intel items count in the week their two working days to an answer run out (`answer_due`), so
    each counts once, in the first digest that can judge it.
    """

    done: tuple[ActionLine, ...]
    overdue: tuple[ActionLine, ...]
    answer_due: int
    answered_in_time: int

    @property
    def empty(self) -> bool:
        return not self.done and not self.overdue and not self.answer_due


@dataclass(frozen=True)
class Targets:
    """What leaders aim for, read when the digest is shown (None: no target): the alignment index (0–100), and
    lead quality as an average rating (1–5, kind "average") or a percentage of good, 4–5, ratings (kind "good")."""

    alignment: int | None = None
    lead_quality: float | None = None
    lead_quality_kind: str = "average"


@dataclass(frozen=True)
class WeeklyDigest:
    team_id: str
    week: Week
    partial: bool  # a preview of the week so far
    leads: LeadSection
    messaging: MessagingSection
    pulse: PulseSection | None
    index: int | None
    index_change: int | None  # over `index_compared` only
    talking_points: tuple[TalkingPoint, ...]
    trend_weeks: tuple[str, ...] = ()
    trend_leads: tuple[float | None, ...] = ()
    trend_pulse: dict[str, tuple[float | None, ...]] = field(default_factory=dict)
    trend_index: tuple[int | None, ...] = ()
    index_parts: dict[str, int] = field(default_factory=dict)
    index_compared: tuple[str, ...] = ()
    figures: WeekFigures = field(default_factory=WeekFigures)
    revised: str | None = None  # how last week's figures changed after its digest was posted
    intel: IntelSection | None = None  # field intel sent this week; None when there was none
    loop: LoopSection | None = None  # "You said, we did"; None when there is nothing to say
    follow_up: FollowUpSection | None = None  # leads handed off this week; None when there were none
    has_definition: bool = False  # the workspace has a definition of a qualified lead to link to
    targets: Targets = field(default_factory=Targets)
    pulse_skipped: bool = False  # no round this week because an admin skipped the week

    @property
    def empty(self) -> bool:
        return (not self.leads.ratings and not self.messaging.asks and self.pulse is None and self.intel is None
                and self.loop is None and self.follow_up is None)
