"""The App Home tab: one person's to-dos and recent activity, then a section per role they have."""

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
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks.common import (
    VIEW_MAX_BLOCKS,
    link,
    local_time,
    mrkdwn,
    percent,
    quote,
    static_options,
    user_text,
    within_block_limit,
)
from bot.blocks.common import listed_text as _listed
from bot.blocks.digest import (
    PULSE_SKIPPED,
    change_mark,
    good_and_bad,
    index_line,
    lead_average,
    source_line,
    talking_point_blocks,
)
from bot.blocks.ids import ActionIds, HomeIds, LeadFeedbackIds
from bot.blocks.lead_stats import ranked_section, trend_note, trend_text, window_text
from bot.blocks.leadfeedback import RatingButtonValue, stars
from bot.blocks.messaging import EMOJI, reaction_buttons, tally_line
from bot.blocks.people import away_line
from bot.blocks.replies import STATUS_MARK, STATUS_SHOWN
from bot.results.digest import MIN_SOURCE_RATINGS, WeeklyDigest
from bot.results.follow_up_stats import OpenLead, working_duration
from bot.results.home import FiledTypedSource, HeardBack, HomeSummary, LeadQuality, Listed, TypedSource
from bot.results.messaging import NAME_MAX, REACTIONS
from bot.results.pulse import gap_in_words

SPARKS = "▁▂▃▄▅▆▇█"
SOURCES_SHOWN = 6  # per list in the last weeks' lead quality; `/leadfeedback stats` shows them all


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def _more(listed: Listed, where: str) -> list[Block]:
    """An "…and N more" line under a cut list, saying where the whole list is."""
    return [_context(f"…and {listed.more} more: {where}")] if listed.more else []


def sparkline(values: tuple[float | None, ...]) -> str:
    """Scores on the 1–5 scale as one character each, `·` for a week without (or with too few) answers."""
    return "".join(SPARKS[round((min(max(v, 1), 5) - 1) / 4 * (len(SPARKS) - 1))] if v is not None else "·"
                   for v in values)


def _who(summary: HomeSummary) -> Block:
    roles = summary.roles
    parts = [f"You're in *{user_text(roles.team_name, 40)}*" if roles.team_name else "You're not in a team"]
    if roles.leader:
        parts.append("a leader")
    if roles.admin:
        parts.append("a Crossfeed admin")
    return _context(" · ".join(parts) + ".")


def _first_run(summary: HomeSummary) -> list[Block]:
    teams = "the sales and marketing teams, the digest channel and the pulse schedule"
    if summary.roles.admin:
        text = f":wave: *Crossfeed isn't set up yet.* Run `/alignment setup` to pick {teams}."
    elif not summary.has_admins:
        text = (":wave: *Crossfeed isn't set up yet.* Whoever runs `/alignment setup` first becomes its admin and "
                f"picks {teams}.")
    else:
        text = (":wave: *Crossfeed isn't set up yet:* an admin still has to run `/alignment setup` to pick the teams. "
                "You can already rate leads.")
    return [SectionBlock(text=text)]


def _waiting(summary: HomeSummary) -> list[Block]:
    buttons = [ButtonElement(action_id=LeadFeedbackIds.RATE_ANOTHER, text="Rate a lead", style="primary")]
    blocks: list[Block] = []
    if summary.pulse_closes_at:
        buttons.append(ButtonElement(action_id=HomeIds.ANSWER_PULSE, text="Answer the pulse"))
        blocks.append(SectionBlock(text=(
            ":bar_chart: *This week's alignment pulse is waiting for you.* A few 1–5 questions, answered "
            f"anonymously; open until {local_time(summary.pulse_closes_at)}.")))
    blocks.append(ActionsBlock(block_id=HomeIds.ACTIONS, elements=buttons))
    asks = summary.asks_to_answer
    if asks.total:
        blocks.append(SectionBlock(text=":speech_balloon: *Messaging asks waiting for your answer*"))
        for view in asks.shown:
            blocks.append(SectionBlock(text=(
                f"*{user_text(view.name, NAME_MAX)}* · asked by <@{view.asker_user_id}> · open until "
                f"{local_time(view.closes_at)}\n{tally_line(view)}")))
            blocks.append(reaction_buttons(view, block_id=f"{HomeIds.ASK}.{view.id}"))
        blocks.extend(_more(asks, "`/messaging` lists every open ask."))
    elif not summary.pulse_closes_at:
        blocks.append(_context(":white_check_mark: Nothing is waiting for you: no open pulse, no messaging asks."))
    return blocks


def _activity(summary: HomeSummary) -> list[Block]:
    blocks: list[Block] = [DividerBlock(), SectionBlock(text="*Your recent activity*")]
    ratings = summary.ratings
    if not ratings.total:
        blocks.append(_context("You haven't rated a lead yet: *Rate a lead* above, or one line like "
                               "`/leadfeedback ACME-4411 2 no-budget`."))
    for rated in ratings.shown:
        details = " · ".join(filter(None, [", ".join(rated.reasons), rated.source_shown]))
        line = f"{stars(rated.rating)} *{user_text(rated.lead_ref, 200)}* {rated.rating}/5 · {rated.rating_label}"
        line += (f"\n{user_text(details, 500)}" if details else "") + f"\n_{local_time(rated.updated_at)}_"
        blocks.append(SectionBlock(text=line, accessory=ButtonElement(
            action_id=LeadFeedbackIds.EDIT, text="Edit",
            value=RatingButtonValue(rating_id=rated.id).model_dump_json())))
    blocks.extend(_more(ratings, "`/leadfeedback mine` lists them with Edit buttons."))
    answers = summary.answers
    if answers.shown:
        lines = [f"{EMOJI[a.reaction]} *{user_text(a.name, NAME_MAX)}*: {REACTIONS[a.reaction]} · {local_time(a.at)}"
                 for a in answers.shown]
        blocks.append(SectionBlock(text=_listed("*Your messaging answers*", lines, answers.more)))
    record = summary.pulse_record
    if record.asked:
        lines = [f":white_check_mark: {turn.period}: answered" if turn.answered
                 else f":palm_tree: {turn.period}: away" if turn.away
                 else f":hourglass: {turn.period}: open until {local_time(turn.closes_at)}" if turn.open
                 else f":heavy_minus_sign: {turn.period}: missed" for turn in record.turns]
        rounds = "the round" if record.asked == 1 else f"the {record.asked} rounds"
        heading = f"*Pulse:* you answered {record.answered} of {rounds} you were asked in"
        blocks.append(SectionBlock(text=_listed(heading, lines)))
    return blocks


def _time_left(lead: OpenLead) -> str:
    if lead.minutes_left > 0:
        return f":hourglass_flowing_sand: {working_duration(lead.minutes_left)} left"
    overdue = working_duration(-lead.minutes_left)
    return ":warning: *overdue*" + (f" by {overdue}" if overdue != "0 min" else "")


def _open_lead_line(lead: OpenLead) -> str:
    crm = link(lead.url, user_text(lead.crm_id, 100)) if lead.url else user_text(lead.crm_id, 100)
    who = ", ".join(user_text(part, 100) for part in (lead.name, lead.company) if part)
    details = " · ".join(filter(None, [who, user_text(lead.source, 75) if lead.source else None]))
    return f"*{crm}*" + (f" · {details}" if details else "") + f" · {_time_left(lead)}"


def _open_leads(summary: HomeSummary) -> list[Block]:
    """For a lead's owner: the leads waiting for them to accept, soonest due first, with the working time left."""
    listed = summary.open_leads
    if listed is None or not listed.total:
        return []
    heading = ":inbox_tray: *Leads waiting for you to accept* (working time left on the follow-up SLA)"
    return [SectionBlock(text=mrkdwn(_listed(heading, [_open_lead_line(lead) for lead in listed.shown],
                                             listed.more))),
            _context("Accept or pass one back from the card Crossfeed sent you by DM.")]


def _follow_up_sources(summary: HomeSummary) -> list[Block]:
    """For marketers: how fast each source's leads were accepted over the last 4 weeks."""
    lines = summary.follow_up_sources
    if not lines:
        return []
    shown = [f"{user_text(line.label, 75)}: "
             + (f"median {working_duration(line.median_minutes)}" if line.median_minutes is not None
                else "none accepted yet")
             + f" · {percent(line.within_sla_share)} within SLA · {line.leads} lead{'s' if line.leads != 1 else ''}"
             for line in lines[:SOURCES_SHOWN]]
    heading = ":stopwatch: *Follow-up by source, last 4 weeks* (time to accept in working hours, slowest first)"
    return [SectionBlock(text=_listed(heading, shown, max(0, len(lines) - SOURCES_SHOWN)))]


def _lead_quality(quality: LeadQuality) -> list[Block]:
    heading = f":dart: *Lead quality this week* ({quality.week} so far)"
    if not quality.ratings:
        return [SectionBlock(text=f"{heading}\nNo leads have been rated yet this week.")]
    average = f"{quality.average:.1f}/5" if quality.average is not None else "–"
    blocks: list[Block] = [SectionBlock(text=heading, fields=[
        f"*Leads rated*\n{quality.ratings} by {quality.raters} rep{'s' if quality.raters != 1 else ''}",
        f"*Average*\n{average}",
        f"*Good (4–5) / bad (1–2)*\n{percent(quality.good_share)} / {percent(quality.bad_share)}",
    ])]
    lines = [source_line(s) for s in quality.sources.shown]
    blocks.append(SectionBlock(text=_listed("*By source, best first* (average, ratings)", lines,
                                            quality.sources.more)))
    if quality.campaigns.total:
        lines = [source_line(c) for c in quality.campaigns.shown]
        heading = f"*By campaign, best first* ({MIN_SOURCE_RATINGS} or more ratings)"
        blocks.append(SectionBlock(text=_listed(heading, lines,
                                                quality.campaigns.more)))
    return blocks


def _lead_quality_lately(summary: HomeSummary) -> list[Block]:
    """Lead quality over the last 4 weeks by source and campaign, each with its reasons and trend."""
    stats = summary.lead_stats
    if stats is None or not stats.total.ratings:
        return []
    total = stats.total
    blocks: list[Block] = [SectionBlock(text=(
        f":chart_with_upwards_trend: *Lead quality, last {stats.weeks} weeks*, {window_text(stats)}\n"
        f"{total.ratings} rated · average {total.average:.1f}/5 · {percent(total.good_share)} good, "
        f"{percent(total.bad_share)} bad · {trend_text(total)}"))]
    blocks.extend(section for kind in ("source", "campaign")
                  if (section := ranked_section(stats, kind, limit=SOURCES_SHOWN)) is not None)
    blocks.append(_context(f"{trend_note(stats)} `/leadfeedback stats 12` covers 12 weeks; "
                           "`/leadfeedback stats webinar` (or a campaign) shows one."))
    return blocks


def _marketing(summary: HomeSummary) -> list[Block]:
    blocks: list[Block] = [DividerBlock(), HeaderBlock(text="For marketing")]
    asks = summary.my_open_asks
    if asks is not None:
        if not asks.total:
            blocks.append(SectionBlock(text=("*Your open asks*\nNone open. `/messaging ask` asks sales how a "
                                             "message, talk track or asset landed with buyers.")))
        else:
            blocks.append(SectionBlock(text="*Your open asks*"))
            blocks.extend(SectionBlock(text=(
                f"*#{view.id} {user_text(view.name, NAME_MAX)}* · open until {local_time(view.closes_at)}\n"
                f"{tally_line(view)}")) for view in asks.shown)
            blocks.extend(_more(asks, "`/messaging results` lists all your asks."))
    if summary.lead_quality is not None:
        lately = _lead_quality_lately(summary)  # replaces "none rated yet this week" when earlier weeks have some
        blocks.extend(_lead_quality(summary.lead_quality) if summary.lead_quality.ratings or not lately else [])
        blocks.extend(lately)
    blocks.extend(_follow_up_sources(summary))
    if summary.lead_quality is not None or summary.follow_up_sources:
        blocks.append(_context("All sources, not only yours: sources and campaigns have no owner in Crossfeed. "
                               "`/alignment digest` previews the whole week."))
    return blocks


def _pulse_line(digest: WeeklyDigest) -> str | None:
    if digest.pulse is None:
        return None
    parts = []
    for team in digest.pulse.results.teams:
        score = team.scores[0][1] if team.shown and team.scores else None
        shown = f"{score:.1f}{change_mark(digest.pulse.change(team.side, 0))}" if score is not None else "hidden"
        parts.append(f"{user_text(team.name, 40)} {shown}")
    gap = gap_in_words(digest.pulse.results)
    return " · ".join(parts) + (f"\n{user_text(gap, 200)}" if gap is not None else "")


def _trend(digest: WeeklyDigest) -> Block | None:
    names = {team.side: team.name for team in digest.pulse.results.teams} if digest.pulse else {}
    series = [("Lead quality", digest.trend_leads)] + [
        (f"{names.get(side, side.title())} alignment", values)
        for side, values in digest.trend_pulse.items() if any(v is not None for v in values)
    ]
    if not any(v is not None for _, values in series for v in values):
        return None
    width = max(len(name) for name, _ in series)
    rows = []
    for name, values in series:
        latest = next((f"{v:.1f}" for v in reversed(values) if v is not None), "–")
        rows.append(f"{name[:30].ljust(min(width, 30))}  {sparkline(values)}  {latest}")
    first, last = digest.trend_weeks[0], digest.trend_weeks[-1]
    weeks = f"*{len(digest.trend_weeks)}-week trend* ({first} to {last}, 1–5)" if first != last else \
        f"*Trend* ({first}, 1–5)"
    table = user_text("\n".join(rows), 2500)
    return SectionBlock(text=f"{weeks}\n```{table}```")


def _leadership(digest: WeeklyDigest) -> list[Block]:
    blocks: list[Block] = [DividerBlock(), HeaderBlock(text=f"Alignment last week · {digest.week.title}")]
    if digest.empty:
        blocks.append(SectionBlock(text="No feedback last week, so there is nothing to measure yet."))
    else:
        index = index_line(digest) if digest.index is not None else "*Alignment index:* not enough data"
        blocks.append(SectionBlock(text=index))
        blocks.extend(talking_point_blocks(digest, heading=False))
        leads, messaging = digest.leads, digest.messaging
        fields = [
            f"*Leads rated*\n{leads.ratings}"
            + (f" by {leads.raters} of {leads.sales_team or '–'} reps" if leads.ratings else ""),
            f"*Average rating*\n{lead_average(leads, digest.targets)}",
            f"*Good / bad leads*\n{good_and_bad(leads, digest.targets)}",
            f"*Messaging asks*\n{len(messaging.asks)}" + (
                f" · best: {user_text(messaging.best.name, 60)} ({messaging.best.resonance:.0%})"
                if messaging.best else ""),
        ]
        if (pulse := _pulse_line(digest)) is not None:
            fields.append(f"*Pulse: how aligned*\n{pulse}")
        elif digest.pulse_skipped:
            fields.append(f"*Pulse: how aligned*\n{PULSE_SKIPPED}")
        if (follow_up := digest.follow_up) is not None:
            speed = f" · median {working_duration(follow_up.median_minutes)}" \
                if follow_up.median_minutes is not None else ""
            fields.append(f"*Leads accepted within SLA*\n{percent(follow_up.within_sla_share)} "
                          f"({follow_up.within_sla} of {follow_up.decided}){speed}")
        blocks.append(SectionBlock(fields=fields))
    if (trend := _trend(digest)) is not None:
        blocks.append(trend)
    blocks.append(_context("`/alignment digest last` shows last week's digest in full; `/alignment digest` "
                           "previews this week. Pulse scores below the anonymity threshold are never shown."))
    return blocks




def _due(day: date, today: date | None) -> str:
    shown = f"due {day:%b} {day.day}"
    return f":warning: *overdue* ({shown})" if today is not None and day < today else shown


def _heard_back_line(item: HeardBack, today: date | None) -> str:
    what = "your lead flag" if item.subject_kind == "rating" else "your field intel"
    subject = f"{what} *{user_text(item.subject, 100)}*"
    if item.what == "change":
        line = (f":arrows_counterclockwise: <@{item.by}> · *What we changed* after “{user_text(item.subject, 100)}”, "
                "which you answered")
        if item.note:
            line += f"\n{quote(item.note, 300)}"
        if item.link:
            line += f"\n{link(item.link, 'Link to the new version')}"
    elif item.what == "reply":
        line = f"{STATUS_MARK[item.status]} <@{item.by}> · *{STATUS_SHOWN[item.status]}* on {subject}"
        if item.note:
            line += f"\n{quote(item.note, 300)}"
        if item.link:
            line += f"\n{link(item.link, 'Link to the change')}"
    else:
        state = _due(item.due_on, today) if item.status == "open" and item.due_on else item.status
        line = (f":dart: Action *{user_text(item.title or '', 150)}* · <@{item.by}> · {state}\n"
                f"_because of {subject}_")
        if item.status == "done" and item.note:
            line += f"\n_Outcome:_ {user_text(item.note, 300)}"
    return line + f"\n_{local_time(item.at)}_"


def _heard_back(summary: HomeSummary) -> list[Block]:
    """For reps: what their ratings, intel and ask answers led to (marketing's replies, the actions they prompted,
    what changed after an ask)."""
    listed = summary.heard_back
    if listed is None:
        return []
    blocks: list[Block] = [DividerBlock(), SectionBlock(text="*What your feedback led to*")]
    if not listed.total:
        return [*blocks, _context("When marketing replies to a lead you flagged or to your field intel, or logs an "
                                  "action because of it, or changes something you answered an ask about, you'll "
                                  "see it here.")]
    blocks.extend(SectionBlock(text=mrkdwn(_heard_back_line(item, summary.today))) for item in listed.shown)
    return blocks + ([_context(f"…and {listed.more} more.")] if listed.more else [])


def _my_actions(summary: HomeSummary) -> list[Block]:
    """Open actions this person owns, soonest due first, each with Done and Drop."""
    listed = summary.my_actions
    if listed is None:
        return []
    blocks: list[Block] = [DividerBlock(), SectionBlock(text="*Your open actions*")]
    if not listed.total:
        return [*blocks, _context("None open. Log one with *Log action* on a digest talking point or a lead-feed "
                                  "post, or with `/alignment action`.")]
    for action in listed.shown:
        text = f"*{user_text(action.title, 150)}* · {_due(action.due_on, summary.today)}"
        if action.prompt_label:
            text += f"\n_Because of:_ {user_text(action.prompt_label, 200)}"
        blocks.append(SectionBlock(text=mrkdwn(text)))
        blocks.append(ActionsBlock(block_id=f"home.action.{action.id}", elements=[
            ButtonElement(action_id=ActionIds.DONE, text="Done", style="primary", value=str(action.id)),
            ButtonElement(action_id=ActionIds.DROP, text="Drop", value=str(action.id)),
        ]))
    return blocks + _more(listed, "the earliest due are shown first.")


def _week_actions(summary: HomeSummary) -> list[Block]:
    """For leaders: this week's actions so far."""
    week = summary.week_actions
    if week is None:
        return []
    heading = (f"*Actions this week* ({week.week} so far): {week.logged} logged · {week.done.total} done · "
               f"{week.overdue.total} overdue")
    blocks: list[Block] = [DividerBlock(), SectionBlock(text=heading)]
    if week.done.total:
        lines = [f":white_check_mark: *{user_text(a.title, 150)}* · <@{a.owner_user_id}>"
                 + (f": {user_text(a.outcome, 200)}" if a.outcome else "") for a in week.done.shown]
        blocks.append(SectionBlock(text=mrkdwn(_listed("*Done*", lines, week.done.more))))
    if week.overdue.total:
        lines = [f":warning: *{user_text(a.title, 150)}* · <@{a.owner_user_id}> · {_due(a.due_on, None)}"
                 for a in week.overdue.shown]
        blocks.append(SectionBlock(text=mrkdwn(_listed("*Overdue*", lines, week.overdue.more))))
    if not week.logged and not week.done.total and not week.overdue.total:
        blocks.append(_context("No actions logged yet this week: *Log action* on a digest talking point or a "
                               "lead-feed post, or `/alignment action`."))
    return blocks


def _uses(typed: TypedSource) -> str:
    counts = [(typed.ratings, "rating"), (typed.leads, "handed-off lead")]
    return " · ".join(f"{count} {what}{'' if count == 1 else 's'}" for count, what in counts if count)


def _typed_sources(summary: HomeSummary) -> list[Block]:
    """For admins: the sources reps typed that are not yet sources, each with Approve and Merge into…."""
    queue = summary.typed_sources
    if queue is None or not queue.typed.total:
        return []
    blocks: list[Block] = [
        DividerBlock(),
        SectionBlock(text=":label: *Sources typed by reps* (not yet sources, most used first)"),
        _context("*Approve* adds one as a new source, named as typed. *Merge into…* files it under the source you "
                 "pick and keeps it as another name of that source, so the next rep who types it lands there. "
                 "Either way its ratings and leads move out of Other."),
    ]
    merge = static_options({str(source_id): label for source_id, label in queue.sources})
    for typed in queue.typed.shown:
        blocks.append(SectionBlock(text=mrkdwn(f"*{user_text(typed.text, 75)}* · {_uses(typed)}")))
        elements = [ButtonElement(action_id=HomeIds.APPROVE_SOURCE, text="Approve", style="primary",
                                  value=typed.key)]
        if merge:
            elements.append(StaticSelectElement(action_id=HomeIds.MERGE_SOURCE, placeholder="Merge into…",
                                                options=merge))
        blocks.append(ActionsBlock(block_id=f"{HomeIds.TYPED_SOURCE}.{typed.key}", elements=elements))
    return blocks + _more(queue.typed, "the next ones show here as you approve or merge these.")


def typed_source_notice(filed: FiledTypedSource) -> str:
    """Why Approve or Merge into… changed nothing (a double click, or another admin was quicker)."""
    if filed.how == "already" and filed.text is not None and filed.source is not None:
        return (f"“{user_text(filed.text, 75)}” already counts under *{user_text(filed.source, 75)}*: "
                "nothing changed.")
    return ("That typed source isn't waiting any more (another admin may have approved or merged it): "
            "nothing changed.")


def home_view(summary: HomeSummary) -> View:
    """One person's Home tab; sections stack by role, inside Slack's 100 blocks."""
    blocks: list[Block] = [HeaderBlock(text="Crossfeed"), _who(summary)]
    if summary.away is not None:
        blocks.append(SectionBlock(text=away_line(summary.away)))
    if not summary.set_up:
        blocks.extend(_first_run(summary))
    blocks.extend(_waiting(summary))
    blocks.extend(_open_leads(summary))
    blocks.extend(_activity(summary))
    blocks.extend(_heard_back(summary))
    blocks.extend(_my_actions(summary))
    blocks.extend(_typed_sources(summary))
    if summary.roles.marketer:
        blocks.extend(_marketing(summary))
    if summary.digest is not None:
        blocks.extend(_leadership(summary.digest))
    blocks.extend(_week_actions(summary))
    blocks.append(_context("Pulse answers are anonymous; lead ratings and messaging answers carry your name. "
                           "`/alignment help` lists every command."))
    return View(type="home", blocks=within_block_limit(blocks, VIEW_MAX_BLOCKS))
