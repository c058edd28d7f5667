"""What `/pulse away`, `/pulse back` and `/pulse help` answer, and the Home tab's line for someone away."""

from __future__ import annotations

from datetime import date

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from bot.blocks.common import local_time, user_text
from bot.results.people import Away, AwayMarked, BackMarked

PULSE_HELP = (
    "*`/pulse`* answers the open pulse in a form · `/pulse results` shows the last closed round\n"
    "*Time off* (no pulse prompts or reminders while you're away)\n"
    "• `/pulse away until 2026-12-24`: away through that day, in your own time zone. The date can also be "
    "`Dec 24`, `24 Dec`, `December 24` (the next one), `tomorrow` or a weekday like `friday` (the next one); "
    "\"until\" is optional\n"
    "• `/pulse back` when you return\n"
    "• A Slack status that says you're off counts too (e.g. :palm_tree: Vacationing, :face_with_thermometer: "
    "Out sick, or words like OOO, vacation, out of office), until it expires"
)


def day_shown(day: date, today: date) -> str:
    """"Thu 24 Dec", with the year when it isn't this year's."""
    return f"{day:%a} {day.day} {day:%b}" + (f" {day.year}" if day.year != today.year else "")


def status_shown(away: Away) -> str:
    """The Slack status that says someone is away, as they set it (escaped), with its expiry."""
    what = " ".join(filter(None, [user_text(away.status_emoji or "", 100), user_text(away.status_text or "", 150)]))
    until = f", until {local_time(away.status_expires_at)}" if away.status_expires_at else ""
    return f"({what}{until})"


def pulse_help_message(problem: str | None = None) -> tuple[str, list[Block]]:
    text = (f"{problem} " if problem else "") + "/pulse answers the pulse; /pulse away and /pulse back mark time off."
    blocks: list[Block] = [SectionBlock(text=f":warning: {problem}")] if problem else []
    return text, [*blocks, SectionBlock(text=PULSE_HELP)]


def away_marked_message(marked: AwayMarked) -> tuple[str, list[Block]]:
    text = (f"You're away until {day_shown(marked.until, marked.today)}: no pulse prompts or reminders until then. "
            "`/pulse back` when you return.")
    return text, [SectionBlock(text=f":palm_tree: {text}")]


def back_marked_message(back: BackMarked) -> tuple[str, list[Block]]:
    text = ("Welcome back: pulse prompts and reminders reach you again." if back.was_away
            else "You weren't marked away: pulse prompts and reminders reach you as usual.")
    if back.pulse_sent:
        text += " This week's pulse is open and waiting for you in your DMs."
    blocks: list[Block] = [SectionBlock(text=f":wave: {text}")]
    if back.still_away is not None:
        note = (f"Your Slack status still says you're away {status_shown(back.still_away)}, so Crossfeed still "
                "leaves you out until you change it or it expires.")
        text += " " + note
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=note)]))
    return text, blocks


def away_line(away: Away) -> str:
    """The Home tab's line for someone away now."""
    if away.until is not None:
        return (f":palm_tree: *You're away until {day_shown(away.until, away.today)}*: no pulse prompts or "
                "reminders until then. `/pulse back` when you return.")
    return (f":palm_tree: *Your Slack status says you're away* {status_shown(away)}: no pulse prompts or reminders "
            "while it does.")
