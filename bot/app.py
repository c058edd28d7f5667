"""The app factory: settings in, a Bolt app with every listener registered out."""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pydantic import ValidationError
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.models.views import View
from slack_sdk.webhook import WebhookClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.background import AfterAck
from bot.blocks.common import error_message
from bot.errors import CrossfeedError
from bot.outbox import Outbox, composers_for
from bot.pulse import secret_of
from bot.settings import Settings
from bot.slack_requests import without_control_characters
from storage.db import make_engine, make_session_factory, migrate

logger = logging.getLogger("crossfeed")

APOLOGY = "Sorry, something went wrong on our side and nothing was saved. Please try again in a minute."


class RetryAfterHandler(RateLimitErrorRetryHandler):
    """Waits out HTTP 429 for Slack's Retry-After plus at most 0.1 s.

    slack-sdk's handler adds a random 0–1 s to every wait; for one sender fanning out DMs that
    is lost time (`python bench/pulse_fanout.py --quick --stock-retry-handler` compares the two).
    """

    def prepare_for_next_attempt(self, *, state, request, response=None, error=None) -> None:
        if response is None:
            raise error
        retry_after = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), ["1"])
        value = retry_after[0] if isinstance(retry_after, list) else retry_after
        time.sleep(max(0.0, float(value)) + random.uniform(0, 0.1))
        state.next_attempt_requested = True
        state.increment_current_attempt()


def slack_retry_handlers(settings: Settings) -> list:
    # Only connection errors and 429s are retried: a retried 5xx on chat.postMessage can post twice.
    return [
        ConnectionErrorRetryHandler(),
        RetryAfterHandler(max_retry_count=settings.slack_max_rate_limit_retries),
    ]


@dataclass
class Crossfeed:
    """What every surface needs: settings, the database, the Slack client and background delivery."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    client: WebClient
    outbox: Outbox
    after_ack: AfterAck

    @classmethod
    def start(cls, settings: Settings, *, apply_migrations: bool = True) -> Crossfeed:
        engine = make_engine(settings.database_url)
        if apply_migrations:
            migrate(engine)
        sessions = make_session_factory(engine)
        client = WebClient(
            token=settings.slack_bot_token,
            base_url=settings.slack_api_url,
            retry_handlers=slack_retry_handlers(settings),
        )
        return cls(settings=settings, engine=engine, sessions=sessions, client=client,
                   after_ack=AfterAck(),
                   outbox=Outbox(sessions=sessions, client=client, composers=composers_for(secret_of(settings))))

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back if it raises."""
        with self.sessions.begin() as session:
            yield session

    def usergroup_choices(self) -> list[tuple[str, str]]:
        """The workspace's live user groups as (id, handle); none if Slack won't list them (e.g. a missing scope)."""
        try:
            listed = self.client.usergroups_list()["usergroups"]
        except Exception:
            logger.warning("could not list user groups", exc_info=True)
            return []
        return [(g["id"], g.get("handle") or g.get("name", "")) for g in listed if not g.get("date_delete")]

    def webhook(self, url: str) -> WebhookClient:
        """A response_url client with the same retry policy as the Web API client."""
        return WebhookClient(url, retry_handlers=slack_retry_handlers(self.settings))

    def later(self, body: dict, work: Callable[[], object]) -> None:
        """Run `work` after Slack has been answered; a failure is reported to the person in `body`."""
        report = error_reply(self)

        def on_error(error: Exception) -> None:
            report(error=error, body={**body, "type": "after_ack"}, request=None, response=None)

        self.after_ack.run(work, on_error=on_error)

    def wait_idle(self, timeout: float = 5) -> bool:
        """Wait for after-ack work and outbox deliveries to finish (shutdown and tests)."""
        return self.after_ack.wait_idle(timeout) and self.outbox.wait_idle(timeout)

    def close(self) -> None:
        self.after_ack.shutdown()
        self.outbox.shutdown()
        self.engine.dispose()


def create_app(settings: Settings, *, crossfeed: Crossfeed | None = None) -> App:
    """Build the Bolt app: one WebClient pointed at SLACK_API_URL, one error handler, every listener."""
    from handlers import register

    crossfeed = crossfeed or Crossfeed.start(settings)
    bolt_logger = logging.getLogger("crossfeed.bolt")
    bolt_logger.addFilter(not_the_unused_token_notice)
    app = App(
        client=crossfeed.client,
        signing_secret=settings.slack_signing_secret or None,
        token_verification_enabled=False,
        # Listeners answer Slack when they return; slow work goes to crossfeed.after_ack or the outbox.
        process_before_response=True,
        logger=bolt_logger,
        # Bolt's own warning for these logs the whole body, people's text included; error_reply logs one line.
        raise_error_for_unhandled_request=True,
    )
    app.use(strip_control_characters)
    app.error(error_reply(crossfeed))
    register(app, crossfeed)
    return app


def strip_control_characters(req: BoltRequest, next: Callable[[], object]) -> None:
    """Every request's text without control characters, before any listener reads it (HTTP and Socket Mode)."""
    req.body = without_control_characters(req.body)
    next()


def not_the_unused_token_notice(record: logging.LogRecord) -> bool:
    # Bolt reads SLACK_BOT_TOKEN from the environment itself and, given our client too, warns on every start
    # that the token goes unused. That is by design here, so it is no warning.
    return record.getMessage() != warning_client_prioritized_and_token_skipped()


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
        if body.get("response_url"):
            crossfeed.webhook(body["response_url"]).send(
                text=text, blocks=blocks, response_type="ephemeral", replace_original=False
            )
        elif user := (body.get("user") or {}).get("id") or body.get("user_id"):
            crossfeed.client.chat_postMessage(channel=user, text=text, blocks=blocks)
    except Exception:
        logger.exception("could not tell the user about an error")


def notice_modal(text: str) -> View:
    from slack_sdk.models.blocks import SectionBlock

    return View(type="modal", title="Crossfeed", close="Close", blocks=[SectionBlock(text=text[:3000])])


def _json_response(payload: dict) -> BoltResponse:
    return BoltResponse(status=200, body=json.dumps(payload), headers={"content-type": "application/json"})
