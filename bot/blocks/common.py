"""Block Kit pieces every surface shares, and the limits slack-sdk does not check."""

from __future__ import annotations

import re
from datetime import datetime

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, Option, PlainTextObject, SectionBlock
from slack_sdk.models.views import View

from bot.text import escape_mrkdwn, truncate

MESSAGE_MAX_BLOCKS = 50  # chat.postMessage and ephemeral responses
VIEW_MAX_BLOCKS = 100  # modals and the Home tab
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000


def within_block_limit(blocks: list[Block], limit: int = MESSAGE_MAX_BLOCKS) -> list[Block]:
    """Keep a message inside Slack's block limit, ending a cut list with "…and N more"."""
    if len(blocks) <= limit:
        return blocks
    kept = blocks[: limit - 1]
    return [*kept, ContextBlock(elements=[MarkdownTextObject(text=f"…and {len(blocks) - len(kept)} more")])]


def listed_text(heading: str, lines: list[str], more: int = 0) -> str:
    """A heading (or none) over lines, cut between whole lines to fit one section's text and ending in
    "…and N more" when anything is left out. Lines are never cut inside: a raw slice of escaped text can end
    mid-entity ("&am") or mid-mention ("<@U1"), and drops what follows without saying so."""
    text = heading
    for shown, line in enumerate(lines):
        left = len(lines) - shown + more
        if len(text) + len(line) + len(f"\n\n…and {left} more") > SECTION_TEXT_MAX:
            return f"{text}\n…and {left} more" if text else f"…and {left} more"
        text += f"\n{line}" if text else line
    return text + (f"\n…and {more} more" if more else "")


def static_options(choices: dict[str, str]) -> list[Option]:
    """Select options from value → label (labels cut to Slack's 75 characters)."""
    return [Option(value=key, text=PlainTextObject(text=truncate(label, 75))) for key, label in choices.items()]


def user_text(text: str, limit: int = SECTION_TEXT_MAX) -> str:
    """User-typed text made safe for mrkdwn and cut to fit its field."""
    return escape_mrkdwn(truncate(text, limit))


def escaped_within(text: str, limit: int) -> str:
    """User text escaped for mrkdwn and cut so that the escaped text fits `limit` characters (escaping can make it
    five times longer: `&` → `&amp;`), never inside an entity, ending in an ellipsis when cut."""
    escaped = escape_mrkdwn(text)
    if len(escaped) <= limit:
        return escaped
    shown, length = [], 1  # room for the ellipsis
    for char in text:
        piece = escape_mrkdwn(char)
        if length + len(piece) > limit:
            break
        shown.append(piece)
        length += len(piece)
    return "".join(shown).rstrip() + "…"


def percent(share: float | None) -> str:
    """A share as a whole percentage ("25%"), or a dash when there is none."""
    return f"{share:.0%}" if share is not None else "–"


def mrkdwn(text: str) -> MarkdownTextObject:
    """A mrkdwn object for text that carries user text: verbatim, so Slack doesn't turn a plain @channel,
    #channel or URL in it into a live mention or link (the escaping already stops `<...>` markup)."""
    return MarkdownTextObject(text=text, verbatim=True)


_SAFE_URL = re.compile(r"https?://[^\s<>|]+")


def link(url: str, label: str, limit: int = 500) -> str:
    """A stored http(s) link as a clickable mrkdwn link (it works in verbatim text too); anything else as text."""
    if _SAFE_URL.fullmatch(url) and len(url) <= limit:
        return f"<{url.replace('&', '&amp;')}|{label}>"
    return user_text(url, limit)


def quote(text: str, limit: int = FIELD_TEXT_MAX) -> str:
    """User text as a mrkdwn block quote."""
    return "\n".join(f">{line}" for line in user_text(text, limit).splitlines() or [""])


def local_time(moment: datetime, fmt: str = "{date_short_pretty} at {time}") -> str:
    """A time Slack shows in each reader's own time zone, with a UTC fallback."""
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{fmt}|{fallback}>"


def error_message(problem: str, *, hint: str | None = None) -> list[Block]:
    """A friendly ephemeral answer to bad input: what went wrong and how to write it."""
    # Problems often echo what the person typed (escaped where they are raised), so they are verbatim.
    blocks: list[Block] = [SectionBlock(text=mrkdwn(f":warning: {truncate(problem, 2900)}"))]
    if hint:
        blocks.append(ContextBlock(elements=[mrkdwn(truncate(hint, 2900))]))
    return blocks


def notice_modal(text: str) -> View:
    return View(type="modal", title="Crossfeed", close="Close", blocks=[SectionBlock(text=text[:3000])])
