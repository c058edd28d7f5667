"""Block Kit for the weekly alignment digest: readable on a phone, inside Slack's limits."""

from __future__ import annotations

from datetime import date

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.blocks.common import (
    MESSAGE_MAX_BLOCKS,
    SECTION_TEXT_MAX,
    escaped_within,
    mrkdwn,
    percent,
    quote,
    user_text,
    within_block_limit,
)
from bot.blocks.ids import LeadIds
from bot.blocks.intel import intel_digest_blocks
from bot.blocks.loop import log_action_button
from bot.blocks.messaging import version_line
from bot.results.digest import (
    CAMPAIGN_WEEKS,
    MIN_SOURCE_RATINGS,
    ActionLine,
    LeadSection,
    LoopSection,
    SourceLine,
    Targets,
    WeeklyDigest,
)
from bot.results.follow_up_stats import FollowUpSection, working_duration
from bot.results.messaging import REACTIONS
from bot.results.pulse import gap_in_words

LIST_MAX = 5
PULSE_SKIPPED = "No pulse this week: an admin skipped it."


def pulse_missing(digest: WeeklyDigest) -> str:
    """Why the week has no pulse figures: skipped by an admin, or no round."""
    return PULSE_SKIPPED if digest.pulse_skipped else "No pulse round this week."


def change_mark(value: float | int | None, *, higher_is_better: bool = True, unit: str = "") -> str:
    """A change with its direction and, in words, whether it is better or worse; nothing when it rounds to 0."""
    if value is None:
        return ""
    shown = f"{abs(value):.1f}" if isinstance(value, float) else f"{abs(value)}"
    if float(shown) == 0:
        return ""
    better = (value > 0) == higher_is_better
    mark = ":large_green_circle:" if better else ":red_circle:"
    return f" {'▲' if value > 0 else '▼'}{shown}{unit} {mark} _{'better' if better else 'worse'}_"


def against_target(value: float | None, target: float | None, *, decimals: int = 0, unit: str = "",
                   gap_unit: str = "") -> str:
    """" · target 70: 6 below" (or "met", or "met, 4 above"), comparing the figure as it is shown; nothing
    without a target or a figure."""
    if value is None or target is None:
        return ""
    gap = round(round(value, decimals) - round(target, decimals), decimals)
    by = f"{abs(gap):.{decimals}f}{gap_unit}"
    said = "met" if gap == 0 else f"{by} below" if gap < 0 else f"met, {by} above"
    return f" · target {target:.{decimals}f}{unit}: {said}"


def index_line(digest: WeeklyDigest) -> str:
    """The index against its target, its like-for-like change and its parts: "pulse 62 · leads 55"."""
    line = f"*Alignment index: {digest.index}/100*{against_target(digest.index, digest.targets.alignment)}"
    if digest.index_change == 0:
        line += " · no change"
    elif digest.index_change is not None:
        line += change_mark(digest.index_change, unit=" pts")
    parts = " · ".join(f"{part} {value}" for part, value in digest.index_parts.items())
    if digest.index_change is not None and len(digest.index_compared) < len(digest.index_parts):
        compared = " and ".join(digest.index_compared)
        parts += f"\n_Change over {compared} only: the parts both weeks have._"
    return f"{line}\n{parts}"


def lead_average(leads: LeadSection, targets: Targets) -> str:
    """"3.6/5 ▲0.2 … · target 3.8: 0.2 below": the week's average rating, against an average target."""
    if leads.average is None:
        return "–"
    target = targets.lead_quality if targets.lead_quality_kind == "average" else None
    versus = against_target(leads.average, target, decimals=1)
    return f"{leads.average:.1f}/5{change_mark(leads.average_change)}{versus}"


def good_and_bad(leads: LeadSection, targets: Targets) -> str:
    """"55% / 20% · target 60%: 5 pts below": good (4–5) and bad (1–2) shares, good against a % target."""
    target = targets.lead_quality if targets.lead_quality_kind == "good" else None
    good = leads.good_share * 100 if leads.good_share is not None else None
    return (f"{percent(leads.good_share)} / {percent(leads.bad_share)}"
            f"{against_target(good, target, unit='%', gap_unit=' pts')}")


def _listed(lines: list[str], limit: int = LIST_MAX) -> str:
    shown = lines[:limit]
    more = len(lines) - limit
    return "\n".join(shown) + (f"\n…and {more} more" if more > 0 else "")


def source_line(line: SourceLine) -> str:
    """A source or campaign: its average and how many ratings it rests on."""
    return f"{user_text(line.label, 75)}: {line.average:.1f} ({line.ratings})"


def talking_point_blocks(digest: WeeklyDigest, *, heading: bool = True) -> list[Block]:
    """The talking points, each with a "Log action" button that logs what the team will do about it."""
    if not digest.talking_points:
        return []
    return [*([SectionBlock(text="*Talking points*")] if heading else []), *(
        SectionBlock(text=mrkdwn(f"• {user_text(point.text, 600)}"), accessory=log_action_button(point.prompt))
        for point in digest.talking_points)]


def _due(day: date) -> str:
    return f"{day:%b} {day.day}"


def _action(action: ActionLine) -> str:
    return f"*{user_text(action.title, 100)}* · <@{action.owner_user_id}>"


def loop_blocks(loop: LoopSection, *, partial: bool = False) -> list[Block]:
    """"You said, we did": the actions done in the week with what prompted them and their outcome, the open ones
    past due with their owners, and how much feedback got an answer within two working days.

    Each list shows LIST_MAX lines of at most ~500 characters, so a section stays inside Slack's 3000."""
    blocks: list[Block] = [SectionBlock(text=":handshake: *You said, we did*")]
    if loop.done:
        lines = []
        for action in loop.done:
            line = f":white_check_mark: {_action(action)}"
            if action.prompt_label:
                line += f"\n      _Prompted by:_ {user_text(action.prompt_label, 150)}"
            if action.outcome:
                line += f"\n      _Outcome:_ {user_text(action.outcome, 200)}"
            lines.append(line)
        blocks.append(SectionBlock(text=mrkdwn(f"*Done this week{' so far' if partial else ''}*\n" + _listed(lines))))
    if loop.overdue:
        lines = [f":warning: {_action(a)} · due {_due(a.due_on)}" for a in loop.overdue]
        blocks.append(SectionBlock(text=mrkdwn("*Open past their due date*\n" + _listed(lines))))
    if loop.answer_due:
        feedback = "lead flag and intel item" if loop.answer_due == 1 else "lead flags and intel items"
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=(
            f":stopwatch: {loop.answered_in_time} of {loop.answer_due} {feedback} got a reply within "
            "2 working days (those whose 2 working days ran out this week)."))]))
    return blocks


def follow_up_blocks(follow_up: FollowUpSection, *, partial: bool = False) -> list[Block]:
    """"Follow-up": how fast the week's handed-off leads were accepted, in working time, and where the SLA broke."""
    within = (f"{percent(follow_up.within_sla_share)} ({follow_up.within_sla} of {follow_up.decided})"
              if follow_up.decided else "–")
    if follow_up.median_minutes is not None and follow_up.p90_minutes is not None:
        speed = (f"median {working_duration(follow_up.median_minutes)} · "
                 f"90% within {working_duration(follow_up.p90_minutes)}")
    else:
        speed = "none accepted yet"
    heading = f":stopwatch: *Follow-up* (leads handed off this week{' so far' if partial else ''})"
    blocks: list[Block] = [SectionBlock(text=heading, fields=[
        f"*Handed off*\n{follow_up.handed_off}",
        f"*Accepted*\n{follow_up.accepted} · {follow_up.still_open} still open",
        f"*Accepted within SLA*\n{within}",
        f"*Time to accept* (working hours)\n{speed}",
        f"*Rated by a rep*\n{follow_up.rated} of {follow_up.handed_off}",
    ])]
    if follow_up.breaches:
        lines = [f"{user_text(b.label, 75)}: {b.breaches} of {b.leads} lead{'s' if b.leads != 1 else ''}"
                 for b in follow_up.breaches]
        blocks.append(SectionBlock(text="*SLA breaches by source* (accepted late, or still open past due)\n"
                                   + _listed(lines)))
    return blocks


def definition_button() -> ActionsBlock:
    """Opens the workspace's definition of a qualified lead for whoever clicks it."""
    return ActionsBlock(elements=[ButtonElement(text="What counts as a qualified lead", action_id=LeadIds.DEFINITION)])


def definition_modal(definition: str | None) -> View:
    """The workspace's definition of a qualified lead, as admins wrote it (escaped), or how to set one."""
    text = (mrkdwn(escaped_within(definition, SECTION_TEXT_MAX)) if definition else
            "No definition of a qualified lead is set. An admin can write one in `/alignment setup`.")
    return View(type="modal", title="Qualified lead", close="Close", blocks=[SectionBlock(text=text)])


LATE_NOTICE = ":hourglass: Posted late: Crossfeed wasn't running at the scheduled time."
FOOTER = ("Pulse answers are anonymous; numbers below the anonymity threshold are never shown. "
          "`/alignment digest` previews the current week.")


def digest_title(digest: WeeklyDigest) -> str:
    return f"Sales × Marketing alignment · {digest.week.title}" + (" (so far)" if digest.partial else "")


def digest_message(digest: WeeklyDigest, *, late: bool = False) -> tuple[str, list[Block]]:
    """The digest as one message: header, index, talking points, "You said, we did", leads, messaging, pulse."""
    title = digest_title(digest)
    text = f"{title}: no feedback this week" if digest.empty else title
    blocks = [HeaderBlock(text=title[:150]), *_late_notice(late), *digest_body(digest)]
    if not digest.empty:
        blocks.append(_footer())
    return text, within_block_limit(blocks)


def shared_digest_message(digests: list[tuple[str, WeeklyDigest]], *, late: bool = False) -> tuple[str, list[Block]]:
    """One digest for a channel the workspaces of an Enterprise Grid org share: each workspace's digest under its
    name, in one message. When all of them don't fit Slack's 50 blocks, each workspace gets its headline figures
    and a pointer to its full digest instead of a list cut short."""
    title = f"Sales × Marketing alignment · {digests[0][1].week.title}"
    names = [name for name, _ in digests]
    intro = ContextBlock(elements=[MarkdownTextObject(
        text=f"One digest for the {len(digests)} workspaces that share this channel: "
             f"{user_text(', '.join(names), 500)}. Each part counts its own workspace's feedback.")])
    head = [HeaderBlock(text=title[:150]), *_late_notice(late), intro]
    full = [*head]
    for name, digest in digests:
        full += [HeaderBlock(text=name[:150]), *digest_body(digest), DividerBlock()]
    full.append(_footer())
    if len(full) <= MESSAGE_MAX_BLOCKS:
        return title, full
    summary = [*head]
    for name, digest in digests:
        summary += [HeaderBlock(text=name[:150]), SectionBlock(text=headline(digest)),
                    ContextBlock(elements=[MarkdownTextObject(
                        text=f"The whole digest for {user_text(name, 100)}: `/alignment digest last` there.")])]
    summary.append(_footer())
    return title, within_block_limit(summary)


def headline(digest: WeeklyDigest) -> str:
    """A workspace's week in a few lines: the index, lead quality and the pulse's participation."""
    if digest.empty:
        return "No feedback this week."
    lines = [index_line(digest)] if digest.index is not None else []
    leads = digest.leads
    lines.append(f":dart: {leads.ratings} leads rated · average {lead_average(leads, digest.targets)}"
                 if leads.ratings else ":dart: No leads were rated this week.")
    if digest.pulse:
        rates = [f"{user_text(team.name, 40)} {team.participation(nobody='nobody asked')}"
                 for team in digest.pulse.results.teams]
        lines.append(":bar_chart: Pulse: " + "; ".join(rates))
    else:
        lines.append(":bar_chart: " + pulse_missing(digest))
    return "\n".join(lines)


def _late_notice(late: bool) -> list[Block]:
    return [ContextBlock(elements=[MarkdownTextObject(text=LATE_NOTICE)])] if late else []


def _footer() -> Block:
    return ContextBlock(elements=[MarkdownTextObject(text=FOOTER)])


def digest_body(digest: WeeklyDigest) -> list[Block]:
    """Everything under the digest's title: the index, talking points, leads, messaging, intel and the pulse."""
    blocks: list[Block] = []
    if digest.empty:
        blocks.append(SectionBlock(text=(
            "No feedback this week, so there is nothing to measure yet. Here is how to start:\n"
            "• Reps: `/leadfeedback ACME-4411 2 no-budget` rates a lead in ten seconds\n"
            "• Marketers: `/messaging ask` asks sales how your messaging landed\n"
            "• Admins: `/alignment setup` sets up the teams, so the weekly pulse reaches both, and the channels")))
        if digest.pulse_skipped:
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=PULSE_SKIPPED)]))
        return blocks
    if digest.index is not None:
        blocks.append(SectionBlock(text=index_line(digest)))
    if digest.revised:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f":pencil2: {digest.revised}")]))
    blocks.extend(talking_point_blocks(digest))
    blocks.append(DividerBlock())
    if digest.loop is not None:
        blocks.extend(loop_blocks(digest.loop, partial=digest.partial))
        blocks.append(DividerBlock())

    leads = digest.leads
    if leads.ratings:
        blocks.append(SectionBlock(text=":dart: *Lead quality*", fields=[
            f"*Leads rated*\n{leads.ratings}",
            f"*Reps who rated*\n{leads.raters} of {leads.sales_team or '–'}",
            f"*Average*\n{lead_average(leads, digest.targets)}",
            f"*Good (4–5) / bad (1–2)*\n{good_and_bad(leads, digest.targets)}",
        ]))
        sources = [source_line(s) for s in leads.ranked_sources]
        if leads.other_sources:
            sources.append(source_line(leads.other_sources))
        if sources:
            blocks.append(SectionBlock(text="*Sources, best first* (average, ratings)\n" + _listed(sources)))
        if leads.ranked_campaigns:
            campaigns = [source_line(c) for c in leads.ranked_campaigns]
            heading = (f"*Campaigns, best first* (last {CAMPAIGN_WEEKS} weeks, {MIN_SOURCE_RATINGS} or more "
                       "ratings; `/leadfeedback stats` for more)")
            blocks.append(SectionBlock(text=heading + "\n" + _listed(campaigns)))
        if leads.bad_reasons:
            reasons = [f"{user_text(r.label, 75)}: {r.count}{change_mark(r.change, higher_is_better=False)}"
                       for r in leads.bad_reasons]
            blocks.append(SectionBlock(text="*Why leads were bad*\n" + _listed(reasons)))
    else:
        blocks.append(SectionBlock(text=":dart: *Lead quality*\nNo leads were rated this week."))
    if digest.has_definition:
        blocks.append(definition_button())
    blocks.append(DividerBlock())
    if digest.follow_up is not None:
        blocks += [*follow_up_blocks(digest.follow_up, partial=digest.partial), DividerBlock()]

    messaging = digest.messaging
    if messaging.asks:
        lines = []
        for ask in messaging.asks:
            rate = f"{ask.resonance:.0%} resonance" if ask.resonance is not None else "not used yet"
            counts = ", ".join(f"{label} {ask.tally[r]}" for r, label in REACTIONS.items() if ask.tally[r])
            lines.append(f"*{user_text(ask.name, 100)}*: {rate} · {counts or 'no answers'}")
            if ask.versions:
                lines[-1] += f"\n      :repeat: {version_line(ask.versions)}"
        blocks.append(SectionBlock(text=":speech_balloon: *Messaging scoreboard*\n" + _listed(lines)))
        best_worst = []
        if messaging.best:
            best_worst.append(f"*Landed best*\n{user_text(messaging.best.name, 100)}")
        if messaging.worst and messaging.worst != messaging.best:
            best_worst.append(f"*Landed worst*\n{user_text(messaging.worst.name, 100)}")
        if best_worst:
            blocks.append(SectionBlock(fields=best_worst))
        if messaging.quotes:
            blocks.append(SectionBlock(text="*Buyers said*\n" + "\n".join(
                f"{quote(q, 300)}\n_on {user_text(name, 100)}_" for name, _, q in messaging.quotes)))
    else:
        blocks.append(SectionBlock(text=":speech_balloon: *Messaging*\nNo messaging asks were open this week."))
    blocks.append(DividerBlock())

    if digest.intel:
        blocks += [*intel_digest_blocks(digest.intel), DividerBlock()]

    if digest.pulse:
        results = digest.pulse.results
        for index, team in enumerate(results.teams):
            rate = team.participation(nobody="nobody asked")
            if team.shown:
                scores = [f"{user_text(q, 150)}: *{s:.1f}*{change_mark(digest.pulse.change(team.side, i))}"
                          for i, (q, s) in enumerate(team.scores) if s is not None]
                body = "\n".join(scores)
            else:
                body = f"_Not enough answers to show without identifying people (needs {results.threshold})._"
            heading = ":bar_chart: *Pulse*\n" if index == 0 else ""
            blocks.append(SectionBlock(text=f"{heading}*{user_text(team.name, 40)}* · {rate}\n{body}"))
            if team.comments:
                blocks.append(SectionBlock(text=_listed([quote(c, 300) for c in team.comments], 3)))
        if (gap := gap_in_words(results)) is not None:
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Perception gap: {user_text(gap, 200)}")]))
    else:
        blocks.append(SectionBlock(text=":bar_chart: *Pulse*\n" + pulse_missing(digest)))
    return blocks
