"""Text in and out of Slack: undoing Slack's escaping of what people type, escaping what we show."""

from __future__ import annotations

import re
from urllib.parse import urlparse

_SLACK_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
# <@U123|name>, <#C123|general>, <!here>, <https://x.io|x.io>, <mailto:a@b.co|a@b.co>
_SLACK_ANGLE = re.compile(r"<([^<>]*)>")
# A Slack user id ("U024BE7LH", "W012A3CDE"), no longer than the 32-character columns that keep them.
SLACK_USER_ID = r"[UW][A-Z0-9]{1,31}"
_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "‘": "'", "’": "'"})


def is_user_id(value: object) -> bool:
    """Whether `value` could be a Slack user id (what a users_select or a mention carries)."""
    return isinstance(value, str) and re.fullmatch(SLACK_USER_ID, value) is not None


def escape_mrkdwn(text: str) -> str:
    """Escape user text for mrkdwn so it can't mention, ping @channel or render a fake link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def at_most(value: str | None, limit: int, what: str) -> str | None:
    """Typed text, stripped (blank is None), refused with a friendly ValueError when over `limit` characters."""
    value = (value or "").strip() or None
    if value and len(value) > limit:
        raise ValueError(f"{what} is {len(value)} characters; keep it to {limit}.")
    return value


def web_address(value: str | None, limit: int, what: str = "The link") -> str | None:
    """A typed link (blank is None): a web address, refused with a friendly ValueError if it isn't one.

    Characters that would break out of a Slack link (`<`, `>`, `|`) or a space are refused too."""
    value = at_most(value, limit, what)
    if value:
        parts = urlparse(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or any(c in value for c in " <>|"):
            raise ValueError(f"{what} must be a web address starting with http:// or https://.")
    return value


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _plain_angle(match: re.Match[str]) -> str:
    inner = match.group(1)
    target, _, label = inner.partition("|")
    if target.startswith(("@", "#", "!")):
        # Mentions become plain text, so stored notes never ping anyone when shown again.
        return ("@" if target[0] == "@" else "#" if target[0] == "#" else "@") + (label or target[1:])
    if target.startswith("mailto:"):
        return target.removeprefix("mailto:")
    return target


def plain_command_text(text: str) -> str:
    """Slash-command text as the person typed it: links, mentions and entities unwrapped."""
    text = _SLACK_ANGLE.sub(_plain_angle, text or "")
    for entity, char in _SLACK_ENTITIES:
        text = text.replace(entity, char)
    return text.translate(_SMART_QUOTES).strip()


def slug(text: str) -> str:
    """Lower-case, dash-separated form used to match codes forgivingly ("No Budget" → "no-budget")."""
    return re.sub(r"[^0-9a-z]+", "-", text.casefold().replace("&", "and")).strip("-")


def lead_key(lead_ref: str) -> str:
    """The normalised identity of a lead reference: case, spacing, URL scheme and www don't matter."""
    key = " ".join(lead_ref.split()).casefold()
    key = re.sub(r"^(https?://)?(www\.)?", "", key)
    key = key.removeprefix("mailto:")
    return key.rstrip("/")
