"""The one global error handler, and how a person is told privately that something failed."""

from __future__ import annotations

import json
import logging
import uuid
from typing import TYPE_CHECKING

from pydantic import ValidationError
from slack_bolt import BoltResponse
from slack_bolt.error import BoltUnhandledRequestError

from bot.blocks.common import error_message, notice_modal
from bot.errors import CrossfeedError
from bot.slack_requests import team_of

if TYPE_CHECKING:
    from bot.container import Crossfeed

logger = logging.getLogger("crossfeed")

APOLOGY = "Sorry, something went wrong on our side and nothing was saved. Please try again in a minute."


def error_reply(crossfeed: Crossfeed):
    """The one global error handler: friendly words for known errors, a reference id otherwise."""

    def on_error(error: Exception, body: dict, request, response) -> BoltResponse | None:
        kind = body.get("type") or ("slash_command" if "command" in body else None)
        if isinstance(error, BoltUnhandledRequestError):
            # No body in the log: it is people's text. Bolt answers 404.
            logger.info("no listener for a %s request", kind or "untyped")
            return None
        if isinstance(error, ValidationError) and kind != "after_ack":
            # Data we wrote into a view or button (private_metadata, values) that came back unreadable: Slack
            # didn't send this. One line naming the model, never its input (people's text), and 400.
            logger.warning("rejected a malformed %s request: unreadable %s", kind or "untyped", error.title)
            return BoltResponse(status=400, body="Bad Request")
        if isinstance(error, CrossfeedError):
            problem, hint = error.message, getattr(error, "usage", None)
        else:
            reference = uuid.uuid4().hex[:8]
            logger.error("unexpected error, reference %s", reference, exc_info=error)
            problem, hint = f"{APOLOGY} (reference `{reference}`)", None
        if kind == "view_submission":
            return _json_response({"response_action": "update", "view": notice_modal(problem).to_dict()})
        if kind == "block_suggestion":
            return _json_response({"options": []})
        blocks = [b.to_dict() for b in error_message(problem, hint=hint)]
        if kind == "slash_command":
            return _json_response({"response_type": "ephemeral", "text": problem, "blocks": blocks})
        tell_user(crossfeed, body, text=problem, blocks=blocks)
        return BoltResponse(status=200, body="")

    return on_error


def tell_user(crossfeed: Crossfeed, body: dict, *, text: str, blocks: list) -> None:
    """Answer the person privately: through the payload's response_url, else by DM."""
    try:
        if crossfeed.is_response_url(body.get("response_url")):
            crossfeed.webhook(body["response_url"]).send(
                text=text, blocks=blocks, response_type="ephemeral", replace_original=False
            )
        elif user := (body.get("user") or {}).get("id") or body.get("user_id"):
            crossfeed.client_for(team_of(body)).chat_postMessage(channel=user, text=text, blocks=blocks)
    except Exception:
        logger.exception("could not tell the user about an error")


def _json_response(payload: dict) -> BoltResponse:
    return BoltResponse(status=200, body=json.dumps(payload), headers={"content-type": "application/json"})
