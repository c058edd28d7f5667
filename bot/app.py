"""The app factory: settings in, a Bolt app with every listener registered out."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from slack_bolt import App, BoltRequest
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

from bot.container import Crossfeed
from bot.error_reply import error_reply
from bot.installs import bolt_install_options, hide_bolt_oauth_environment, org_workspaces_recorded
from bot.settings import Settings
from bot.slack_requests import without_control_characters
from handlers import register

logger = logging.getLogger("crossfeed")


def create_app(settings: Settings, *, crossfeed: Crossfeed | None = None) -> App:
    """Build the Bolt app: one WebClient pointed at SLACK_API_URL, one error handler, every listener."""
    crossfeed = crossfeed or Crossfeed.start(settings)
    bolt_logger = logging.getLogger("crossfeed.bolt")
    bolt_logger.addFilter(not_the_unused_token_notice)
    hidden = hide_bolt_oauth_environment(crossfeed.installations)  # put back once App() is built
    app = App(
        # The name Bolt would take from the calling file. Given none, it reads the source of every frame on the
        # stack to find that file (inspect.stack()): ~0.1 s a start, in each test that starts the app.
        name="app.py",
        client=crossfeed.client,
        signing_secret=settings.slack_signing_secret or None,
        token_verification_enabled=False,
        **bolt_install_options(crossfeed.installations, crossfeed.client),
        # Listeners answer Slack when they return; slow work goes to crossfeed.after_ack or the outbox.
        process_before_response=True,
        logger=bolt_logger,
        # Bolt's own warning for these logs the whole body, people's text included; error_reply logs one line.
        raise_error_for_unhandled_request=True,
    )
    os.environ.update(hidden)
    app.use(strip_control_characters)
    if crossfeed.installations is not None:
        app.use(org_workspaces_recorded(crossfeed.installations))
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
