"""The weekly alignment digest: what one week says about lead quality, messaging and the pulse."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session

from bot.messaging import view_of
from bot.pulse import PulseResults, round_results, workspace_zone
from storage import digest as store
from storage import messaging as messaging_store
from storage.teams import workspace_config

MIN_SOURCE_RATINGS = 3
TREND_WEEKS = 12


@dataclass(frozen=True)
class Week:
    """An ISO week in the workspace's time zone, as UTC instants."""

    label: str  # "2026-W48"
    start: datetime
    end: datetime
    zone: ZoneInfo

    def before(self) -> Week:
        return week_starting(self.start.astimezone(self.zone).date() - timedelta(days=7), self.zone)


def week_starting(monday, zone: ZoneInfo) -> Week:
    start = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
    after = monday + timedelta(days=7)
    end = datetime(after.year, after.month, after.day, tzinfo=zone)
    year, number, _ = monday.isocalendar()
    # UTC instants: arithmetic on datetimes sharing a ZoneInfo would ignore the DST change.
    return Week(label=f"{year}-W{number:02d}", start=start.astimezone(UTC), end=end.astimezone(UTC), zone=zone)


def week_of(moment: datetime, zone: ZoneInfo) -> Week:
    """The ISO week (local Monday 00:00 to the next) that contains `moment`, across DST changes."""
    local = moment.astimezone(zone).date()
    return week_starting(local - timedelta(days=local.weekday()), zone)


def last_complete_week(now: datetime, zone: ZoneInfo) -> Week:
    return week_of(now, zone).before()


def scheduled_time(config, week: Week) -> datetime:
    """When this week's digest is due: the configured day and time, in the workspace's zone."""
    hour, minute = (int(part) for part in config.digest_time.split(":"))
    trigger = CronTrigger(day_of_week=config.digest_day, hour=hour, minute=minute, timezone=week.zone)
    return trigger.get_next_fire_time(None, week.start)


def next_digest_time(config, now: datetime, zone: ZoneInfo) -> datetime:
    """When the next digest is due (this week's time if still ahead, else next week's)."""
    this_week = week_of(now, zone)
    due = scheduled_time(config, this_week)
    return due if due > now else scheduled_time(config, week_starting(this_week.end.astimezone(zone).date(), zone))


@dataclass(frozen=True)
class SourceLine:
    label: str
    ratings: int
    average: float


@dataclass(frozen=True)
class ReasonLine:
    label: str
    count: int
    change: int


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
    ranked_campaigns: tuple[SourceLine, ...] = ()  # campaigns with at least MIN_SOURCE_RATINGS, best first


@dataclass(frozen=True)
class AskLine:
    id: int
    name: str
    answered: int
    tally: dict[str, int]
    resonance: float | None


@dataclass(frozen=True)
class MessagingSection:
    asks: tuple[AskLine, ...]
    best: AskLine | None
    worst: AskLine | None
    quotes: tuple[tuple[str, str, str], ...]  # (ask name, reaction, quote)


@dataclass(frozen=True)
class PulseSection:
    results: PulseResults
    previous: PulseResults | None

    def change(self, side: str, question: int) -> float | None:
        now = _score(self.results, side, question)
        before = _score(self.previous, side, question) if self.previous else None
        return round(now - before, 2) if now is not None and before is not None else None


def _score(results: PulseResults | None, side: str, question: int) -> float | None:
    team = next((t for t in results.teams if t.side == side), None) if results else None
    return team.scores[question][1] if team and question < len(team.scores) else None


@dataclass(frozen=True)
class WeeklyDigest:
    team_id: str
    week: Week
    partial: bool  # a preview of the week so far
    leads: LeadSection
    messaging: MessagingSection
    pulse: PulseSection | None
    index: int | None
    index_change: int | None
    talking_points: tuple[str, ...]
    trend_weeks: tuple[str, ...] = ()
    trend_leads: tuple[float | None, ...] = ()
    trend_pulse: dict[str, tuple[float | None, ...]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.leads.ratings and not self.messaging.asks and self.pulse is None


def _lead_section(session: Session, team_id: str, week: Week) -> LeadSection:
    count, raters, average, good, bad = store.lead_totals(
        session=session, team_id=team_id, start=week.start, end=week.end
    )
    previous = week.before()
    before = store.lead_totals(session=session, team_id=team_id, start=previous.start, end=previous.end)[2]
    sources = store.lead_sources(session=session, team_id=team_id, start=week.start, end=week.end)
    ranked = tuple(line for line in by_average(sources) if line.ratings >= MIN_SOURCE_RATINGS)
    rest = [(n, avg) for _, n, avg in sources if n < MIN_SOURCE_RATINGS]
    other = (
        SourceLine(
            "Other (fewer than 3 ratings each)",
            sum(n for n, _ in rest),
            round(sum(n * avg for n, avg in rest) / sum(n for n, _ in rest), 2),
        )
        if rest
        else None
    )
    reasons_before, reasons = store.bad_lead_reasons(
        session=session, team_id=team_id, weeks=[(previous.start, previous.end), (week.start, week.end)]
    )
    reason_lines = sorted(
        (ReasonLine(label, n, n - reasons_before.get(code, ("", 0))[1]) for code, (label, n) in reasons.items()),
        key=lambda r: (-r.count, r.label),
    )
    return LeadSection(
        ratings=count,
        raters=raters,
        sales_team=store.sales_team_size(session=session, team_id=team_id),
        average=round(average, 2) if average is not None else None,
        previous_average=round(before, 2) if before is not None else None,
        average_change=round(average - before, 2) if average is not None and before is not None else None,
        good_share=good / count if count else None,
        bad_share=bad / count if count else None,
        ranked_sources=ranked,
        other_sources=other,
        bad_reasons=tuple(reason_lines),
        ranked_campaigns=ranked_campaigns(session=session, team_id=team_id, week=week),
    )


def ranked_campaigns(*, session: Session, team_id: str, week: Week) -> tuple[SourceLine, ...]:
    """The week's campaigns with enough ratings to judge, best average first."""
    campaigns = store.lead_campaigns(
        session=session, team_id=team_id, start=week.start, end=week.end, min_ratings=MIN_SOURCE_RATINGS)
    return tuple(by_average(campaigns))


def by_average(rows: Iterable[tuple[str | None, int, float]]) -> list[SourceLine]:
    """(label, ratings, average) rows as lines, best average first; more ratings, then the label, break ties."""
    return sorted((SourceLine(label or "No source", n, round(avg, 2)) for label, n, avg in rows),
                  key=lambda line: (-line.average, -line.ratings, line.label))


def _messaging_section(session: Session, team_id: str, week: Week, *, with_quotes: bool = True) -> MessagingSection:
    asks = store.active_asks(session=session, team_id=team_id, start=week.start, end=week.end)
    tallies = messaging_store.tallies(session=session, ask_ids=[a.id for a in asks])
    lines = []
    for ask in asks:
        view = view_of(ask, tallies[ask.id], week.end)
        lines.append(AskLine(ask.id, ask.name, view.answered, view.tally, view.resonance_rate))
    rated = [line for line in lines if line.resonance is not None]
    best = max(rated, key=lambda a: (a.resonance, a.answered)) if rated else None
    worst = min(rated, key=lambda a: (a.resonance, -a.answered)) if len(rated) > 1 else None
    names = {a.id: a.name for a in asks}
    quotes = (
        store.quotes_in_week(session=session, ask_ids=list(names), start=week.start, end=week.end, limit=3)
        if with_quotes and names
        else []
    )
    return MessagingSection(
        asks=tuple(lines),
        best=best,
        worst=worst,
        quotes=tuple((names[ask_id], reaction, quote) for ask_id, reaction, quote in quotes),
    )


def _pulse_section(session: Session, team_id: str, week: Week) -> PulseSection | None:
    pulse_round = store.round_for_week(session=session, team_id=team_id, period=week.label)
    if pulse_round is None:
        return None
    previous_round = None
    for weeks_back in range(1, 3):  # the round before: last week's, or two weeks ago on a biweekly cadence
        label = week_starting(week.start.astimezone(week.zone).date() - timedelta(days=7 * weeks_back), week.zone).label
        previous_round = store.round_for_week(session=session, team_id=team_id, period=label)
        if previous_round:
            break
    previous = round_results(session=session, pulse_round=previous_round) if previous_round else None
    return PulseSection(results=round_results(session=session, pulse_round=pulse_round), previous=previous)


def alignment_index(lead_average: float | None, pulse: PulseResults | None, resonated: int, used: int) -> int | None:
    """0–100: the mean of the parts the week has — pulse alignment, lead quality, messaging resonance.

    pulse: both teams' shown "how aligned" averages, (score − 1) ÷ 4; leads: (average rating − 1) ÷ 4;
    messaging: resonated ÷ used over the week's asks. Each part is 0–1; the index is their mean × 100.
    """
    parts = []
    shown = [s for s in (_score(pulse, side, 0) for side in ("sales", "marketing")) if s is not None]
    if shown:
        parts.append((sum(shown) / len(shown) - 1) / 4)
    if lead_average is not None:
        parts.append((lead_average - 1) / 4)
    if used:
        parts.append(resonated / used)
    return round(100 * sum(parts) / len(parts)) if parts else None


def _resonance(asks) -> tuple[int, int]:
    """(resonated, used) over asks' tallies."""
    used = sum(a.tally["resonated"] + a.tally["mixed"] + a.tally["flat"] for a in asks)
    return sum(a.tally["resonated"] for a in asks), used


def talking_points(
    leads: LeadSection, messaging: MessagingSection, pulse: PulseSection | None, index_change: int | None
) -> tuple[str, ...]:
    """2–4 bullets from explicit rules over the numbers above; nothing invented."""
    points: list[tuple[float, str]] = []
    drops = []
    if leads.average_change is not None and leads.average_change < 0:
        drops.append(
            (
                leads.average_change / 4,
                f"Lead quality fell {abs(leads.average_change):.1f} points to "
                f"{leads.average:.1f}/5 — the biggest drop this week.",
            )
        )
    if pulse:
        for team in pulse.results.teams:
            change = pulse.change(team.side, 0)
            if change is not None and change < 0:
                drops.append(
                    (
                        change / 4,
                        f"{team.name}'s sense of alignment fell {abs(change):.1f} points to "
                        f"{team.scores[0][1]:.1f}/5 — the biggest drop this week.",
                    )
                )
    if drops:
        points.append((1.0, min(drops)[1]))
    if leads.ranked_sources:
        worst = min(leads.ranked_sources, key=lambda s: (s.average, -s.ratings))
        if worst.average < 3:
            reason = f"; top reason for bad leads: {leads.bad_reasons[0].label}" if leads.bad_reasons else ""
            points.append(
                (0.9, f"{worst.label} leads averaged {worst.average:.1f}/5 over {worst.ratings} ratings{reason}.")
            )
    flat = [a for a in messaging.asks if a.tally["flat"] and a.tally["flat"] >= a.tally["resonated"]]
    if flat:
        ask = max(flat, key=lambda a: a.tally["flat"])
        points.append(
            (0.8, f"“{ask.name}” fell flat with {ask.tally['flat']} of {ask.answered} reps: worth a rewrite.")
        )
    if (
        pulse
        and pulse.results.gap is not None
        and pulse.previous
        and pulse.previous.gap is not None
        and abs(pulse.results.gap) > abs(pulse.previous.gap) + 0.2
    ):
        points.append(
            (
                0.7,
                f"The perception gap widened to {abs(pulse.results.gap):.1f} points "
                f"(from {abs(pulse.previous.gap):.1f}).",
            )
        )
    if len(points) < 2 and leads.ratings and leads.sales_team:
        points.append((0.3, f"{leads.raters} of {leads.sales_team} sales reps rated leads this week."))
    if len(points) < 2 and index_change:
        direction = "up" if index_change > 0 else "down"
        points.append((0.2, f"The alignment index is {direction} {abs(index_change)} points on last week."))
    return tuple(text for _, text in sorted(points, key=lambda p: -p[0])[:4])


def build_weekly_digest(
    *, session: Session, team_id: str, week: Week, partial: bool = False, with_trend: bool = True
) -> WeeklyDigest:
    """The digest of `week` (a preview when `partial`), from SQL aggregates over that week's rows."""
    leads = _lead_section(session, team_id, week)
    messaging = _messaging_section(session, team_id, week)
    pulse = _pulse_section(session, team_id, week)
    index = alignment_index(leads.average, pulse.results if pulse else None, *_resonance(messaging.asks))
    previous_asks = _messaging_section(session, team_id, week.before(), with_quotes=False).asks
    previous_index = alignment_index(
        leads.previous_average, pulse.previous if pulse else None, *_resonance(previous_asks)
    )
    index_change = index - previous_index if index is not None and previous_index is not None else None
    weeks = [week]
    for _ in range(TREND_WEEKS - 1):
        weeks.insert(0, weeks[0].before())
    trend_leads: tuple[float | None, ...] = ()
    trend_pulse: dict[str, tuple[float | None, ...]] = {}
    if with_trend:
        trend_leads = tuple(
            store.weekly_lead_averages(session=session, team_id=team_id, weeks=[(w.start, w.end) for w in weeks])
        )
        alignment = store.weekly_pulse_alignment(session=session, team_id=team_id, periods=[w.label for w in weeks])
        threshold = max(3, workspace_config(session=session, team_id=team_id).anonymity_threshold)
        trend_pulse = {
            side: tuple(
                round(alignment[(w.label, side)][1], 2)
                if alignment.get((w.label, side), (0, 0))[0] >= threshold
                else None
                for w in weeks
            )
            for side in ("sales", "marketing")
        }
    return WeeklyDigest(
        team_id=team_id,
        week=week,
        partial=partial,
        leads=leads,
        messaging=messaging,
        pulse=pulse,
        index=index,
        index_change=index_change,
        talking_points=talking_points(leads, messaging, pulse, index_change),
        trend_weeks=tuple(w.label for w in weeks),
        trend_leads=trend_leads,
        trend_pulse=trend_pulse,
    )


def digest_week(
    *, session: Session, team_id: str, now: datetime, which: str, default_zone: str | None
) -> tuple[Week, bool]:
    """The week `/alignment digest` shows: this week so far (a preview), or the last complete one."""
    zone = workspace_zone(workspace_config(session=session, team_id=team_id), default_zone)
    if which == "last":
        return last_complete_week(now, zone), False
    return week_of(now, zone), True
