"""What one person's Home tab shows: the types bot.home builds and bot.blocks.home renders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Generic, TypeVar

from bot.results.leads import RatedLead
from bot.results.people import Away

if TYPE_CHECKING:  # annotations only
    from bot.results.digest import ActionLine, SourceLine, WeeklyDigest
    from bot.results.follow_up_stats import OpenLead, SourceFollowUpLine
    from bot.results.lead_stats import LeadStats
    from bot.results.messaging import AskView

T = TypeVar("T")


@dataclass(frozen=True)
class Listed(Generic[T]):
    """The first few items of a list, and how long the whole list is (for "and N more")."""

    shown: tuple[T, ...]
    total: int

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.shown))


@dataclass(frozen=True)
class Roles:
    """What a person is to Crossfeed; one person can be several of these."""

    side: str | None  # "sales" | "marketing" | None (in no team)
    team_name: str | None
    leader: bool
    admin: bool

    @property
    def marketer(self) -> bool:
        return self.side == "marketing"

    @property
    def reads_digest(self) -> bool:
        return self.leader or self.admin


@dataclass(frozen=True)
class AnsweredAsk:
    ask_id: int
    name: str
    reaction: str
    at: datetime


@dataclass(frozen=True)
class PulseTurn:
    """One round the person was asked in: whether they answered (never what, nor when)."""

    period: str
    closes_at: datetime
    answered: bool
    open: bool
    away: bool = False  # away when it went out: not asked, not missed


@dataclass(frozen=True)
class PulseRecord:
    turns: tuple[PulseTurn, ...]
    asked: int
    answered: int


@dataclass(frozen=True)
class LeadQuality:
    """The current week's lead ratings so far, for every source (sources have no owner)."""

    week: str
    ratings: int
    raters: int
    average: float | None
    good_share: float | None
    bad_share: float | None
    sources: Listed[SourceLine]
    campaigns: Listed[SourceLine] = Listed((), 0)  # campaigns with at least 3 ratings, best first


@dataclass(frozen=True)
class HeardBack:
    """What came of one of a rep's ratings, intel items or ask answers: marketing's reply, an action it prompted,
    or what the asker changed after the ask."""

    what: str  # "reply" | "action" | "change"
    subject_kind: str  # "rating" | "intel" | "ask"
    subject: str  # the lead reference, the intel's topic, or the ask's name
    status: str  # the reply's status (bot.results.replies.REPLY_STATUSES), the action's, or "changed"
    by: str  # who replied, who owns the action, or who asked
    note: str | None  # the reply's note, the action's outcome, or what changed
    link: str | None
    title: str | None  # the action's title
    due_on: date | None
    at: datetime


@dataclass(frozen=True)
class WeekActions:
    """This week's actions so far, for leaders."""

    week: str
    logged: int
    done: Listed[ActionLine]
    overdue: Listed[ActionLine]
    today: date


@dataclass(frozen=True)
class TypedSource:
    """A source typed by reps (or sent by the CRM) that is not yet a source: its spellings that differ only in
    case are one. `key` names it in buttons (a hash of its lower-case text, so the text itself never needs to fit
    a value) and is looked up again when clicked."""

    key: str
    text: str  # as shown (and approved): the spelling most used
    ratings: int
    leads: int


@dataclass(frozen=True)
class TypedSourceQueue:
    """For admins: the typed sources waiting to be approved or merged, most used first, and the workspace's active
    sources (id, label) to merge one into."""

    typed: Listed[TypedSource]
    sources: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class FiledTypedSource:
    """What Approve or Merge into… did with a typed source.

    `how`: "added" (a new source), "merged" (into a source, the text now one of its aliases), "filed" (under the
    source its name already was), "already" (nothing waited: it already counts under `source`), or "gone"
    (nothing waits under that name, and no source has it)."""

    how: str
    text: str | None
    source: str | None  # the source's label
    ratings: int = 0
    leads: int = 0

    @property
    def changed(self) -> bool:
        return self.how in ("added", "merged", "filed")


@dataclass(frozen=True)
class HomeSummary:
    """Everything one person's Home tab shows; sections that don't apply to their roles are None."""

    user_id: str
    set_up: bool  # someone is in a team
    has_admins: bool
    roles: Roles
    pulse_closes_at: datetime | None  # an open round waits for this person's answer
    asks_to_answer: Listed[AskView]
    ratings: Listed[RatedLead]
    answers: Listed[AnsweredAsk]
    pulse_record: PulseRecord
    my_open_asks: Listed[AskView] | None = None
    lead_quality: LeadQuality | None = None
    lead_stats: LeadStats | None = None  # marketers: the last 4 weeks by source and campaign
    digest: WeeklyDigest | None = None
    heard_back: Listed[HeardBack] | None = None  # for the sales team: what their feedback led to
    my_actions: Listed[ActionLine] | None = None  # open actions they own (marketers, and anyone who owns one)
    week_actions: WeekActions | None = None  # for leaders and admins
    today: date | None = None  # in the workspace's zone: what is overdue
    open_leads: Listed[OpenLead] | None = None  # leads waiting for this person to accept them; None: none
    # marketers: follow-up by source over the last 4 weeks; None when no lead was handed off then
    follow_up_sources: tuple[SourceFollowUpLine, ...] | None = None
    away: Away | None = None  # away now: declared time off, or a Slack status that says so
    typed_sources: TypedSourceQueue | None = None  # admins: typed sources to approve or merge; None: none waiting
