"""Block Kit for /alignment: teams, admins and help."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.blocks.common import user_text
from bot.teams import Roster

MEMBERS_SHOWN = 60

ALIGNMENT_HELP = (
    "*Teams* (admins change them)\n"
    "• `/alignment team add @jane @bob sales` · `/alignment team add @kim marketing`\n"
    "• `/alignment team remove @jane`\n"
    "• `/alignment team group @sales-team sales` uses a user group; `/alignment team sync` reads the groups\n"
    "• `/alignment team list`\n"
    "*Pulse checks and time*\n"
    "• `/alignment pulse schedule weekly wed 10:00` (or `biweekly`) · `/alignment timezone Europe/Paris`\n"
    "*Weekly digest*\n"
    "• `/alignment digest` previews this week so far; `/alignment digest last` shows last week\n"
    "• `/alignment digest channels #leadership` (admins) · `/alignment digest post` (admins) posts last week's now\n"
    "• `/alignment digest schedule mon 09:00` (admins) sets when it is posted\n"
    "*Admins*\n"
    "• `/alignment admin add @user` · `/alignment admin list`\n"
    "In a workspace with no admin yet, the first person to run an admin command becomes one."
)


def _people(ids: list[str]) -> str:
    shown = ", ".join(f"<@{user_id}>" for user_id in ids[:MEMBERS_SHOWN])
    more = len(ids) - MEMBERS_SHOWN
    return (shown + (f" …and {more} more" if more > 0 else "")) or "_nobody yet_"


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
    return "Crossfeed /alignment commands", [SectionBlock(text=ALIGNMENT_HELP)]
