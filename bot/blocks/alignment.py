"""Block Kit for /alignment: teams, admins and help."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.blocks.common import local_time, user_text
from bot.blocks.ids import AlignmentIds
from bot.results.digest import Targets
from bot.results.teams import Roster
from bot.results.workspace import WorkspaceStatus

MEMBERS_SHOWN = 60
SKIPPED_SHOWN = 8

COMMANDS_HELP = (
    "*For everyone*\n"
    "• `/leadfeedback` opens the rating form; `/leadfeedback ACME-4411 2 no-budget \"only wanted pricing\"` "
    "rates a lead in one line; `/leadfeedback mine` lists your ratings; `/leadfeedback stats [4|12] [source or "
    "campaign]` shows lead quality by source and campaign; `/leadfeedback help`\n"
    "• `/messaging` lists open asks; `/messaging ask` asks sales how your messaging landed; "
    "`/messaging results` shows your asks, `/messaging results #12` one of them; `/messaging help`\n"
    "• `/pulse` answers the open pulse check; `/pulse results` shows the last one\n"
    "• `/alignment digest` previews this week so far; `/alignment digest last` shows last week\n"
    "• `/alignment action` logs an action (a title, an owner, a due date) in a form; "
    "`/alignment action \"Fix webinar targeting\" @jane 2026-12-15` logs one in a line (due a week ahead without "
    "a date); `/alignment action list [mine]` shows open actions with Done / Drop. For both teams and admins\n"
    "• `/alignment status` shows the configuration and the next pulse and digest; "
    "`/alignment team list` and `/alignment admin list` show who is who"
)
ALIGNMENT_HELP = (
    "*Setup* (admins)\n"
    "• `/alignment setup` opens one form for everything below: channels, teams and user groups, leaders, "
    "the pulse and digest schedules, when the pulse reminder goes, weeks with no pulse, how long messaging asks "
    "stay open and when they remind reps, targets for the alignment index and lead quality, the time zone, the "
    "anonymity threshold, reason codes and sources, and lead handoff: the follow-up time in working hours, the "
    "working week and holidays, who hears of a late lead, when owners are asked to rate, and what counts as a "
    "qualified lead\n"
    "*Teams* (admins)\n"
    "• `/alignment team add @jane @bob sales` · `/alignment team add @kim marketing` · "
    "`/alignment team remove @jane`\n"
    "• `/alignment team group @sales-team sales` uses a user group; `/alignment team sync` reads the groups\n"
    "*Schedules* (admins)\n"
    "• `/alignment pulse schedule weekly wed 10:00` (or `biweekly`) · `/alignment timezone Europe/Paris`\n"
    "• `/alignment pulse skip 2026-W52` skips a week's pulse for everyone (a holiday week); "
    "`/alignment pulse unskip 2026-W52` puts it back; `/alignment pulse skip` lists the skipped weeks\n"
    "• `/alignment digest channels #leadership` · `/alignment digest schedule mon 09:00` · "
    "`/alignment digest post` posts last week's digest now\n"
    "*Data* (admins)\n"
    "• `/alignment export [weeks]` DMs CSV files: lead ratings, messaging answers, field intel, pulse aggregates, "
    "actions, handed-off leads and their follow-up\n"
    "• `/alignment forget @user` deletes a person's ratings, answers, field intel and participation, their time "
    "zone, status and time off, and the replies to or by them, after a confirmation\n"
    "• `/alignment admin add @user` makes someone an admin. In a workspace with no admin yet, the first "
    "person to run an admin command becomes one."
)


def _people(ids: list[str]) -> str:
    shown = ", ".join(f"<@{user_id}>" for user_id in ids[:MEMBERS_SHOWN])
    more = len(ids) - MEMBERS_SHOWN
    return (shown + (f" …and {more} more" if more > 0 else "")) or "_nobody yet_"


def _skipped(weeks: list[str]) -> str:
    if not weeks:
        return ""
    shown = ", ".join(weeks[:SKIPPED_SHOWN]) + (f" and {len(weeks) - SKIPPED_SHOWN} more"
                                                 if len(weeks) > SKIPPED_SHOWN else "")
    return f"\nno pulse in {shown}"


def _targets(targets: Targets) -> str:
    """"alignment index 70 · lead quality 60% good": what leaders aim for, as the setup form takes it."""
    shown = []
    if targets.alignment is not None:
        shown.append(f"alignment index {targets.alignment}")
    if targets.lead_quality is not None:
        shown.append(f"lead quality {round(targets.lead_quality)}% good" if targets.lead_quality_kind == "good"
                     else f"lead quality {targets.lead_quality:.1f} average")
    return " · ".join(shown) or "_none_"


def roster_message(roster: Roster) -> tuple[str, list[Block]]:
    text = "Crossfeed teams"
    blocks: list[Block] = [HeaderBlock(text=text)]
    for side in ("sales", "marketing"):
        members = roster.members[side]
        group = f" · user group <!subteam^{roster.usergroups[side]}>" if side in roster.usergroups else ""
        blocks.append(
            SectionBlock(
                text=(
                    f"*{user_text(roster.names[side], 40)}* ({len(members)}){group}\n{_people([m for m, _ in members])}"
                )
            )
        )
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Admins: {_people(roster.admins)}")]))
    return text, blocks


def notice(text: str, *, first_admin: bool = False) -> tuple[str, list[Block]]:
    """A short confirmation; tells a person when they have just become the first admin."""
    blocks: list[Block] = [SectionBlock(text=text)]
    if first_admin:
        blocks.insert(
            0,
            SectionBlock(
                text=(
                    ":crown: You are now this workspace's first Crossfeed admin, because nobody was yet. "
                    "Add others with `/alignment admin add @user`."
                )
            ),
        )
    return text, blocks


def help_message() -> tuple[str, list[Block]]:
    return "Crossfeed commands", [SectionBlock(text=COMMANDS_HELP), SectionBlock(text=ALIGNMENT_HELP)]


def status_message(status: WorkspaceStatus) -> tuple[str, list[Block]]:
    """`/alignment status`: how this workspace is configured and what runs next."""
    def channel(channel_id: str | None) -> str:
        return f"<#{channel_id}>" if channel_id else "_not set_"

    groups = ", ".join(f"{side}: <!subteam^{group}>" for side, group in status.usergroups.items()) or "none"
    if not status.next_digest:
        digest_next = "_no digest channel yet_"
    elif status.digest_overdue:
        digest_next = f"last week's, due {local_time(status.next_digest)}: posting within a minute"
    else:
        digest_next = local_time(status.next_digest)
    text = "Crossfeed status"
    blocks: list[Block] = [
        HeaderBlock(text=text),
        SectionBlock(fields=[
            f"*Time zone*\n{status.timezone}",
            f"*Teams*\nSales {status.team_sizes['sales']} · Marketing {status.team_sizes['marketing']}",
            f"*User groups*\n{groups}",
            f"*Anonymity*\nscores from {status.thresholds[0]} answers, comments from {status.thresholds[1]}",
            f"*Pulse*\n{status.pulse_schedule}\nnext: {local_time(status.next_pulse)}\n"
            f"one reminder {status.pulse_reminder_hours} h after it opens{_skipped(status.skipped_weeks)}",
            f"*Digest*\n{status.digest_schedule} to "
            f"{', '.join(channel(c) for c in status.digest_channels) or '_no channel_'}\nnext: {digest_next}",
            f"*Messaging asks go to*\n{channel(status.sales_channel)}\none reminder "
            f"{status.ask_reminder_hours} h after an ask opens\nopen {status.ask_open_days} days unless the asker "
            "chooses",
            f"*Lead feed (ratings 1–2)*\n{channel(status.lead_feed_channel)}",
            f"*Leaders*\n{_people(status.leaders)}",
            f"*Targets*\n{_targets(status.targets)}",
        ]),
        ContextBlock(elements=[MarkdownTextObject(text=f"Admins: {_people(status.admins)}")]),
    ]
    return text, blocks


def forget_confirmation(user_id: str) -> tuple[str, list[Block]]:
    """The confirmation step before deleting a person's data."""
    text = f"Delete what Crossfeed holds about <@{user_id}>?"
    return text, [
        SectionBlock(text=(
            f":warning: *{text}*\nThis deletes their lead ratings, messaging answers, field intel, pulse "
            "participation records, their time zone, Slack status and time off, and the replies to their feedback "
            "and written by them, and cannot be undone. "
            "Pulse answers are anonymous and stay in the aggregates. Actions stay (they are the team's) "
            "without their name; open actions they own become yours."
        )),
        ActionsBlock(elements=[
            ButtonElement(action_id=AlignmentIds.FORGET_CONFIRM, text="Delete their data", style="danger",
                          value=user_id),
            ButtonElement(action_id=AlignmentIds.FORGET_CANCEL, text="Cancel", value=user_id),
        ]),
    ]


def forgotten_message(user_id: str, deleted: dict[str, int]) -> str:
    counts = ", ".join(f"{count} {name}" for name, count in deleted.items())
    return f":wastebasket: Deleted what Crossfeed held about <@{user_id}>: {counts}."
