"""The weekly alignment digest: what one week says about lead quality, messaging and the pulse."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session

from bot.follow_up_stats import follow_up_section, qualified_lead_definition
from bot.intel import intel_section
from bot.loop import you_said_we_did
from bot.messaging import version_comparison, view_of
from bot.pulse import round_results, threshold_in_force
from bot.results import share
from bot.results.actions import ActionPrompt
from bot.results.digest import (
    CAMPAIGN_WEEKS,
    INDEX_PARTS,
    MIN_SOURCE_RATINGS,
    AskLine,
    LeadSection,
    MessagingSection,
    PulseSection,
    ReasonLine,
    SourceLine,
    TalkingPoint,
    Targets,
    Week,
    WeekFigures,
    WeeklyDigest,
    week_starting,
)
from bot.results.follow_up_stats import FollowUpSection, working_duration
from bot.results.pulse import PulseResults
from bot.zones import workspace_zone
from storage import digest as store
from storage import loop as loop_store
from storage import messaging as messaging_store
from storage.teams import workspace_config

TREND_WEEKS = 12


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


def index_change(now: WeekFigures, before: WeekFigures) -> tuple[int | None, tuple[str, ...]]:
    """The index's change over only the parts both weeks have (like with like), and those parts."""
    common = tuple(part for part in INDEX_PARTS if part in now.parts and part in before.parts)
    if not common:
        return None, ()
    mean = lambda parts: sum(parts[p] for p in common) / len(common)  # noqa: E731
    return round(mean(now.parts) - mean(before.parts)), common


def _reason_counts(session: Session, team_id: str, week: Week) -> dict[str, tuple[str, int]]:
    return store.bad_lead_reasons(session=session, team_id=team_id, weeks=[(week.start, week.end)])[0]


def _lead_section(session: Session, team_id: str, week: Week, before: WeekFigures | None = None,
                  reasons: dict[str, tuple[str, int]] | None = None) -> LeadSection:
    """The week's lead quality; changes against `before` (by default last week's leads as they stand now)."""
    if before is None:
        previous = week.before()
        count, _, average, _, _ = store.lead_totals(session=session, team_id=team_id, start=previous.start,
                                                    end=previous.end)
        before = WeekFigures(lead_ratings=count, lead_average=average,
                             reasons={code: n for code, (_, n) in _reason_counts(session, team_id, previous).items()})
    if reasons is None:
        reasons = _reason_counts(session, team_id, week)
    count, raters, average, good, bad = store.lead_totals(
        session=session, team_id=team_id, start=week.start, end=week.end
    )
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
    # A first week has nothing to compare with: no change rather than "up by all of it".
    compared = before.lead_ratings > 0
    reason_lines = sorted(
        (ReasonLine(label, n, n - before.reasons.get(code, 0) if compared else None)
         for code, (label, n) in reasons.items()),
        key=lambda r: (-r.count, r.label),
    )
    before_average = before.lead_average
    return LeadSection(
        ratings=count,
        raters=raters,
        sales_team=store.sales_team_size(session=session, team_id=team_id),
        average=round(average, 2) if average is not None else None,
        previous_average=round(before_average, 2) if before_average is not None else None,
        average_change=round(average - before_average, 2)
        if average is not None and before_average is not None else None,
        good_share=share(good, count),
        bad_share=share(bad, count),
        ranked_sources=ranked,
        other_sources=other,
        bad_reasons=tuple(reason_lines),
        # A campaign rarely gets 3 ratings in one week: the digest judges campaigns over the last 4 weeks.
        ranked_campaigns=ranked_campaigns(session=session, team_id=team_id, week=week, weeks=CAMPAIGN_WEEKS),
        source_reasons=store.top_bad_reason_by_source(session=session, team_id=team_id, start=week.start,
                                                      end=week.end) if count else {},
        source_codes=loop_store.source_codes(session=session, team_id=team_id,
                                             labels=[line.label for line in ranked]) if ranked else {},
    )


def ranked_campaigns(*, session: Session, team_id: str, week: Week, weeks: int = 1) -> tuple[SourceLine, ...]:
    """Campaigns with enough ratings to judge over `weeks` weeks ending with `week`, best average first."""
    first = week
    for _ in range(weeks - 1):
        first = first.before()
    campaigns = store.lead_campaigns(
        session=session, team_id=team_id, start=first.start, end=week.end, min_ratings=MIN_SOURCE_RATINGS)
    return tuple(by_average(campaigns))


def by_average(rows: Iterable[tuple[str | None, int, float]]) -> list[SourceLine]:
    """(label, ratings, average) rows as lines, best average first; more ratings, then the label, break ties."""
    return sorted((SourceLine(label or "No source", n, round(avg, 2)) for label, n, avg in rows),
                  key=lambda line: (-line.average, -line.ratings, line.label))


def _messaging_section(
    session: Session, team_id: str, week: Week, now: datetime, *, with_quotes: bool = True
) -> MessagingSection:
    asks = store.active_asks(session=session, team_id=team_id, start=week.start, end=week.end)
    tallies = messaging_store.tallies(session=session, ask_ids=[a.id for a in asks])
    lines = []
    for ask in asks:
        view = view_of(ask, tallies[ask.id], week.end)
        closed = ask.closed_at is not None or ask.closes_at <= now
        # Versions are shown, never compared week on week: only the section as shown looks them up.
        versions = version_comparison(session=session, team_id=team_id, ask=ask) if with_quotes else None
        lines.append(AskLine(ask.id, ask.name, view.answered, view.tally, view.resonance_rate, closed, versions))
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


def _pulse_results(session: Session, team_id: str, week: Week) -> PulseResults | None:
    pulse_round = store.round_for_week(session=session, team_id=team_id, period=week.label)
    return round_results(session=session, pulse_round=pulse_round) if pulse_round else None


def _pulse_scores(results: PulseResults | None) -> dict[str, tuple[float | None, ...]]:
    if results is None:
        return {}
    return {team.side: tuple(score for _, score in team.scores) for team in results.teams}


def _figures(count: int, average: float | None, ranked: Iterable[SourceLine], reasons: dict[str, tuple[str, int]],
             pulse: PulseResults | None, messaging: MessagingSection) -> WeekFigures:
    resonated, used = _resonance(messaging.asks)
    return WeekFigures(
        lead_ratings=count,
        lead_average=round(average, 2) if average is not None else None,
        sources={line.label: line.average for line in ranked},
        reasons={code: n for code, (_, n) in reasons.items()},
        pulse=_pulse_scores(pulse),
        resonated=resonated,
        used=used,
        asks={a.id: (a.closed, a.tally["flat"], a.answered) for a in messaging.asks},
    )


def week_figures(*, session: Session, team_id: str, week: Week, now: datetime) -> WeekFigures:
    """A week's figures as the data stands now."""
    count, _, average, _, _ = store.lead_totals(session=session, team_id=team_id, start=week.start, end=week.end)
    sources = store.lead_sources(session=session, team_id=team_id, start=week.start, end=week.end) if count else []
    ranked = [line for line in by_average(sources) if line.ratings >= MIN_SOURCE_RATINGS]
    return _figures(count, average, ranked, _reason_counts(session, team_id, week),
                    _pulse_results(session, team_id, week),
                    _messaging_section(session, team_id, week, now, with_quotes=False))


def _as_posted(session: Session, team_id: str, week: Week, now: datetime) -> tuple[WeekFigures, WeekFigures | None]:
    """(figures to compare with, figures as posted or None): as posted when the week's digest went out."""
    posted = store.posted_figures(session=session, team_id=team_id, week=week.label)
    if posted is None:
        return week_figures(session=session, team_id=team_id, week=week, now=now), None
    return WeekFigures.from_json(posted), WeekFigures.from_json(posted)


def revised_since_posted(week: Week, posted: WeekFigures, current: WeekFigures) -> str | None:
    """One line on how a posted week's figures moved since (later edits, late ratings or pulse answers)."""
    changes = []
    if posted.lead_ratings != current.lead_ratings:
        changes.append(f"leads rated {posted.lead_ratings} → {current.lead_ratings}")
    if (posted.lead_average is not None and current.lead_average is not None
            and round(posted.lead_average, 1) != round(current.lead_average, 1)):
        changes.append(f"average {posted.lead_average:.1f} → {current.lead_average:.1f}")
    if not changes and (posted.lead_average, posted.reasons, posted.sources) != (
            current.lead_average, current.reasons, current.sources):
        changes.append("lead ratings edited")
    if posted.pulse != current.pulse:
        changes.append("pulse answers")
    # Messaging tallies run for an ask's whole life, so answers after the post are not a revision.
    if not changes:
        return None
    return (f"{week.title} changed after its digest was posted ({', '.join(changes)}); "
            "this week's changes compare with the figures as posted.")


def _previous_pulse(session: Session, team_id: str, week: Week, before: WeekFigures) -> WeekFigures | None:
    """The figures of the round before: last week's, or two weeks ago on a biweekly cadence."""
    if any(before.pulse.values()):
        return before
    earlier = week.before().before()
    posted = store.posted_figures(session=session, team_id=team_id, week=earlier.label)
    if posted is not None:
        figures = WeekFigures.from_json(posted)
        return figures if figures.pulse else None
    results = _pulse_results(session, team_id, earlier)
    return WeekFigures(pulse=_pulse_scores(results)) if results else None


def _resonance(asks) -> tuple[int, int]:
    """(resonated, used) over asks' tallies."""
    used = sum(a.tally["resonated"] + a.tally["mixed"] + a.tally["flat"] for a in asks)
    return sum(a.tally["resonated"] for a in asks), used


def possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _biggest(moves: list[tuple[float, str, ActionPrompt]]) -> tuple[str, ActionPrompt] | None:
    if not moves:
        return None
    _, text, prompt = max(moves, key=lambda move: (move[0], move[1]))
    return text, prompt


def _point(text: str, kind: str, ref: str | None = None, title: str | None = None) -> TalkingPoint:
    """A talking point whose "Log action" names it: the point itself is how people read what prompted the action."""
    return TalkingPoint(text, ActionPrompt(kind=kind, ref=ref, label=text, title=title))


def _source_point(text: str, label: str, leads: LeadSection, title: str | None = None) -> TalkingPoint:
    """A point about one source, named by its code as every "Log action" names a source ("No source" is none)."""
    code = leads.source_codes.get(label)
    return _point(text, "source", code, title) if code else _point(text, "talking_point")


def talking_points(
    leads: LeadSection, messaging: MessagingSection, pulse: PulseSection | None, before: WeekFigures,
    reported: WeekFigures | None = None, follow_up: FollowUpSection | None = None,
    source_codes: dict[str, str] | None = None,
) -> tuple[TalkingPoint, ...]:
    """At most four bullets from explicit rules over the numbers above, strongest first; nothing invented.

    `before` is last week as compared with; `reported` last week's digest as posted (so a closed ask it
    already reported is not raised again). Each carries what it is about, for its "Log action" button.
    """
    points: list[tuple[float, TalkingPoint]] = []
    drops: list[tuple[float, str, ActionPrompt]] = []
    rises: list[tuple[float, str, ActionPrompt]] = []
    if leads.average_change is not None and round(leads.average_change, 1):
        change = leads.average_change
        (drops if change < 0 else rises).append((abs(change) / 4, (
            f"Lead quality {'fell' if change < 0 else 'rose'} {abs(change):.1f} points to {leads.average:.1f}/5"),
            ActionPrompt(kind="talking_point")))
    if pulse:
        for team in pulse.results.teams:
            change = pulse.change(team.side, 0)
            if change is not None and round(change, 1):
                (drops if change < 0 else rises).append((abs(change) / 4, (
                    f"{possessive(team.name)} sense of alignment {'fell' if change < 0 else 'rose'} {abs(change):.1f} "
                    f"points to {team.scores[0][1]:.1f}/5"),
                    ActionPrompt(kind="pulse", ref=f"{pulse.results.period}:q0")))
    if drop := _biggest(drops):
        text = drop[0] + (" — the biggest drop this week." if len(drops) > 1 else ".")
        points.append((1.0, _point(text, drop[1].kind, drop[1].ref)))
    if rise := _biggest(rises):
        text = rise[0] + (" — the biggest rise this week." if len(rises) > 1 else ".")
        points.append((0.85, _point(text, rise[1].kind, rise[1].ref)))
    if leads.ranked_sources:
        worst = min(leads.ranked_sources, key=lambda s: (s.average, -s.ratings))
        if worst.average < 3:
            top = leads.source_reasons.get(None if worst.label == "No source" else worst.label)
            reason = f"; top reason for its bad leads: {top}" if top else ""
            points.append((0.9, _source_point(
                f"{worst.label} leads averaged {worst.average:.1f}/5 over {worst.ratings} ratings{reason}.",
                worst.label, leads, f"Better leads from {worst.label}")))
    turned = [(line.average - before.sources[line.label], line) for line in leads.ranked_sources
              if line.average >= 3 and before.sources.get(line.label, 5) < 3]
    if turned:
        _, line = max(turned, key=lambda t: (t[0], t[1].ratings))
        text = (f"{line.label} leads turned around: {line.average:.1f}/5 over {line.ratings} ratings, "
                f"up from {before.sources[line.label]:.1f} last week.")
        points.append((0.8, _source_point(text, line.label, leads)))
    already = reported.asks if reported else {}
    flat = [a for a in messaging.asks if a.tally["flat"] and a.tally["flat"] >= a.tally["resonated"]
            # a closed ask last week's digest reported, or the same tally it reported, is not news
            and not (a.id in already and (already[a.id][0] or tuple(already[a.id][1:]) == (a.tally["flat"],
                                                                                            a.answered)))]
    if flat:
        ask = max(flat, key=lambda a: a.tally["flat"])
        points.append((0.75, _point(f"“{ask.name}” fell flat with {ask.tally['flat']} of {ask.answered} reps: "
                                    "worth a rewrite.", "ask", str(ask.id), f"Rewrite “{ask.name}”")))
    if follow_up and (slowest := follow_up.slowest):
        waiting = f", {slowest.still_open} still open" if slowest.still_open else ""
        text = (f"{slowest.label} leads wait longest for a rep: a median {working_duration(slowest.median_minutes)} "
                f"of working time to accept ({slowest.leads} leads{waiting}).")
        code = (source_codes or {}).get(slowest.label)
        points.append((0.78, _point(text, "source", code, f"Faster follow-up on {slowest.label} leads") if code
                       else _point(text, "talking_point")))
    gap, previous_gap = (pulse.results.gap, pulse.previous_gap) if pulse else (None, None)
    if gap is not None and previous_gap is not None:
        period = pulse.results.period
        if abs(gap) > abs(previous_gap) + 0.2:
            points.append((0.7, _point(f"The perception gap widened to {abs(gap):.1f} points "
                                       f"(from {abs(previous_gap):.1f}).", "pulse", period)))
        elif abs(gap) < abs(previous_gap) - 0.2:
            points.append((0.6, _point(f"The perception gap narrowed to {abs(gap):.1f} points "
                                       f"(from {abs(previous_gap):.1f}).", "pulse", period)))
    return tuple(point for _, point in sorted(points, key=lambda p: -p[0])[:4])


def _trend_index(session: Session, team_id: str, weeks: list[Week], leads: list[float | None],
                 pulse: dict[str, tuple[float | None, ...]]) -> list[int | None]:
    """Each week's alignment index from the same parts as the digest's."""
    values = []
    for n, week in enumerate(weeks):
        asks = store.active_asks(session=session, team_id=team_id, start=week.start, end=week.end)
        tallies = messaging_store.tallies(session=session, ask_ids=[a.id for a in asks]) if asks else {}
        resonated = sum(t["resonated"] for t in tallies.values())
        used = sum(t["resonated"] + t["mixed"] + t["flat"] for t in tallies.values())
        shown = {side: (scores[n],) for side, scores in pulse.items() if scores[n] is not None}
        values.append(WeekFigures(lead_average=leads[n], pulse=shown, resonated=resonated, used=used).index)
    return values


def build_weekly_digest(
    *, session: Session, team_id: str, week: Week, partial: bool = False, with_trend: bool = True,
    now: datetime | None = None,
) -> WeeklyDigest:
    """The digest of `week` (a preview when `partial`), from SQL aggregates over that week's rows.

    Changes compare with last week's figures as its digest posted them, when it was posted."""
    now = now or datetime.now(UTC)
    previous = week.before()
    before, posted = _as_posted(session, team_id, previous, now)
    revised = None
    if posted is not None:
        revised = revised_since_posted(previous, posted,
                                       week_figures(session=session, team_id=team_id, week=previous, now=now))
    reasons = _reason_counts(session, team_id, week)
    leads = _lead_section(session, team_id, week, before, reasons)
    messaging = _messaging_section(session, team_id, week, now)
    results = _pulse_results(session, team_id, week)
    pulse = PulseSection(results=results, previous=_previous_pulse(session, team_id, week, before)) \
        if results else None
    figures = _figures(leads.ratings, leads.average, leads.ranked_sources, reasons, results, messaging)
    change, compared = index_change(figures, before)
    follow_up = follow_up_section(session=session, team_id=team_id, week=week, now=now)
    slowest = follow_up.slowest if follow_up else None
    follow_up_codes = loop_store.source_codes(session=session, team_id=team_id, labels=[slowest.label]) \
        if slowest else {}
    config = workspace_config(session=session, team_id=team_id)
    weeks = [week]
    for _ in range(TREND_WEEKS - 1):
        weeks.insert(0, weeks[0].before())
    trend_leads: list[float | None] = []
    trend_pulse: dict[str, tuple[float | None, ...]] = {}
    trend_index: list[int | None] = []
    if with_trend:
        trend_leads = store.weekly_lead_averages(session=session, team_id=team_id,
                                                 weeks=[(w.start, w.end) for w in weeks])
        alignment = store.weekly_pulse_alignment(session=session, team_id=team_id, periods=[w.label for w in weeks])
        threshold = threshold_in_force(config=config)
        trend_pulse = {
            side: tuple(
                round(alignment[(w.label, side)][1], 2)
                if alignment.get((w.label, side), (0, 0))[0] >= threshold
                else None
                for w in weeks
            )
            for side in ("sales", "marketing")
        }
        trend_index = _trend_index(session, team_id, weeks, trend_leads, trend_pulse)
        trend_index[-1] = figures.index
        # A new workspace's trend starts at its first week with data, not with empty weeks.
        first = next((n for n in range(len(weeks)) if trend_leads[n] is not None or trend_index[n] is not None
                      or any(values[n] is not None for values in trend_pulse.values())), len(weeks) - 1)
        weeks, trend_leads, trend_index = weeks[first:], trend_leads[first:], trend_index[first:]
        trend_pulse = {side: values[first:] for side, values in trend_pulse.items()}
    return WeeklyDigest(
        team_id=team_id,
        week=week,
        partial=partial,
        leads=leads,
        messaging=messaging,
        pulse=pulse,
        index=figures.index,
        index_change=change,
        talking_points=talking_points(leads, messaging, pulse, before, posted, follow_up, follow_up_codes),
        trend_weeks=tuple(w.label for w in weeks),
        trend_leads=tuple(trend_leads),
        trend_pulse=trend_pulse,
        trend_index=tuple(trend_index),
        index_parts={part: round(value) for part, value in figures.parts.items()},
        index_compared=compared,
        figures=figures,
        revised=revised,
        intel=intel_section(session=session, team_id=team_id, week=week),
        loop=you_said_we_did(session=session, team_id=team_id, week=week, now=now),
        follow_up=follow_up,
        has_definition=qualified_lead_definition(session=session, team_id=team_id) is not None,
        targets=targets_of(config),
        pulse_skipped=results is None and week.label in (config.skipped_pulse_weeks or ()),
    )


def targets_of(config) -> Targets:
    """The workspace's targets as they are now: a changed target applies to every digest shown after."""
    return Targets(alignment=config.alignment_target, lead_quality=config.lead_quality_target,
                   lead_quality_kind=config.lead_quality_target_kind or "average")


def digest_week(
    *, session: Session, team_id: str, now: datetime, which: str, default_zone: str | None
) -> tuple[Week, bool]:
    """The week `/alignment digest` shows: this week so far (a preview), or the last complete one."""
    zone = workspace_zone(workspace_config(session=session, team_id=team_id), default_zone)
    if which == "last":
        return last_complete_week(now, zone), False
    return week_of(now, zone), True
