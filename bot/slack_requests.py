"""The request boundary: what a Slack request's body says, read correctly, and cleaned of control characters.

Bolt's own body parser takes any form body that merely *contains* "payload" (a note, a channel called
`payload-launch`, a user `payload.pete`) for an interactive payload and finds nothing to answer, and it
fails with a 500 on `payload=` that isn't JSON. So HTTP requests are parsed here, by field name, and
Bolt is handed the result.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from slack_bolt.request import BoltRequest

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

# Kept: tab, newline, carriage return. Everything else below space, and DEL, is never meant text;
# PostgreSQL refuses NUL outright while SQLite stores it, so both databases get the same text.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class MalformedRequest(ValueError):
    """A body that is not what Slack sends; the message says why, without quoting the body."""


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().casefold()


def parse_slack_body(raw_body: str, content_type: str | None) -> dict[str, Any]:
    """The body of a Slack request as Slack meant it: a slash command's form fields, an interactive
    `payload`, or an Events API JSON object."""
    kind = media_type(content_type)
    if kind == JSON:
        return _json_object(raw_body, "the JSON body")
    if kind != FORM:
        raise MalformedRequest(f"unsupported content type {kind or 'none'!r}")
    fields = dict(parse_qsl(raw_body, keep_blank_values=True))
    if "payload" in fields:
        return _interactive_payload(_json_object(fields["payload"], "the payload field"))
    if "command" in fields or "ssl_check" in fields:
        return fields
    raise MalformedRequest("a form body that is neither a slash command nor an interactive payload")


_VIEW_PAYLOADS = ("view_submission", "view_closed")
VIEW_ID_MAX = 32  # Slack's view ids are about a dozen characters ("V0123ABCDEF")


def _is_view_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= VIEW_ID_MAX


# The parts of an interactive payload that Bolt reads by key before any listener runs.
_PAYLOAD_OBJECTS = ("team", "user", "channel", "container", "message", "enterprise")


def _interactive_payload(payload: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(payload.get("type"), str):
        raise MalformedRequest("an interactive payload without a type")
    view = payload.get("view")
    if view is not None and not (isinstance(view, dict) and isinstance(view.get("type"), str)):
        raise MalformedRequest("a view without a type")
    if payload["type"] in _VIEW_PAYLOADS and not _is_view_id(view.get("id") if view else None):
        # A submitted view's id keys its writes (a re-submitted modal is one row), in 64-character columns.
        raise MalformedRequest("a submitted view without a view id")
    actions = payload.get("actions")
    if actions is not None and not (isinstance(actions, list) and all(isinstance(a, dict) for a in actions)):
        raise MalformedRequest("actions that are not a list of objects")
    if any(payload.get(key) is not None and not isinstance(payload[key], dict) for key in _PAYLOAD_OBJECTS):
        raise MalformedRequest("a team, user, channel, container or message that is not an object")
    return payload


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise MalformedRequest(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise MalformedRequest(f"{what} is not a JSON object")
    return value


def without_control_characters(value: Any) -> Any:
    """`value` with control characters removed from every string in it (keys too), however nested."""
    if isinstance(value, str):
        return _CONTROL_CHARACTERS.sub("", value)
    if isinstance(value, dict):
        return {without_control_characters(k): without_control_characters(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_control_characters(item) for item in value]
    return value


class ParsedSlackRequest(BoltRequest):
    """A Bolt request over HTTP whose body was parsed by `parse_slack_body`.

    Bolt builds its context from a dict body only in Socket Mode; the mode is set back to HTTP
    afterwards so Bolt still verifies the signature over the raw body.
    """

    def __init__(self, *, raw_body: str, body: dict, query=None, headers=None, context=None):
        super().__init__(body=body, query=query, headers=headers, context=context, mode="socket_mode")
        self.raw_body = raw_body
        self.mode = "http"

    def to_copyable(self) -> ParsedSlackRequest:
        return ParsedSlackRequest(raw_body=self.raw_body, body=self.body, query=self.query, headers=self.headers,
                                  context=self.context.to_copyable())


def team_of(body: dict) -> str | None:
    """The workspace a request came from: `team.id` in interactive payloads, `team_id` in commands and events."""
    return (body.get("team") or {}).get("id") or body.get("team_id")


SLACK_HOOKS_HOST = "hooks.slack.com"  # where Slack's response_urls point


def is_slack_response_url(url: object, *, api_url: str) -> bool:
    """Whether `url` is one Slack gives for answering a request: https on Slack's hooks host, or the host
    SLACK_API_URL names (a test's fake Slack, a proxy). Anything else, read from a request or from metadata
    carried through a modal, would have the app post people's words wherever a forger points it."""
    if not isinstance(url, str) or any(c.isspace() or c == "\\" for c in url):
        return False
    try:
        parts, api = urlsplit(url), urlsplit(api_url)
        where, api_where = (parts.scheme, parts.hostname, parts.port), (api.scheme, api.hostname, api.port)
    except ValueError:  # a port that isn't a number
        return False
    if parts.username is not None or parts.password is not None:
        return False
    return where in (("https", SLACK_HOOKS_HOST, None), ("https", SLACK_HOOKS_HOST, 443)) or where == api_where


class ViewState:
    """A submitted modal's `state.values`, read by block id (each input's action id is its block id).

    Every reader answers with text (or a list of text) or nothing: a field missing, empty, or not shaped as
    Slack sends it (a forged payload) reads as not filled in, so the form's own validation answers it.
    """

    def __init__(self, view: dict | None):
        values = ((view or {}).get("state") or {}).get("values") if isinstance(view, dict) else None
        self.values: dict = values if isinstance(values, dict) else {}

    def _input(self, block: str) -> dict:
        block_values = self.values.get(block)
        element = block_values.get(block) if isinstance(block_values, dict) else None
        return element if isinstance(element, dict) else {}

    def _text(self, block: str, key: str) -> str | None:
        value = self._input(block).get(key)
        return value if isinstance(value, str) else None

    def text(self, block: str) -> str | None:
        """A plain_text_input's value."""
        return self._text(block, "value")

    def user(self, block: str) -> str | None:
        """A users_select's user."""
        return self._text(block, "selected_user")

    def date(self, block: str) -> str | None:
        """A datepicker's date, as Slack writes it (YYYY-MM-DD)."""
        return self._text(block, "selected_date")

    def conversation(self, block: str) -> str | None:
        """A conversations_select's channel."""
        return self._text(block, "selected_conversation")

    def choice(self, block: str) -> str | None:
        """The value of a select's or radio buttons' chosen option."""
        option = self._input(block).get("selected_option")
        value = option.get("value") if isinstance(option, dict) else None
        return value if isinstance(value, str) else None

    def choices(self, block: str) -> list[str]:
        """The values of a multi-select's or checkboxes' chosen options."""
        options = self._input(block).get("selected_options")
        return [o["value"] for o in options if isinstance(o, dict) and isinstance(o.get("value"), str)] \
            if isinstance(options, list) else []

    def users(self, block: str) -> list[str]:
        """A multi_users_select's users."""
        users = self._input(block).get("selected_users")
        return [user for user in users if isinstance(user, str)] if isinstance(users, list) else []
