"""The app factory: settings in, a Bolt app with every listener registered out."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from slack_bolt import App, BoltRequest
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

from bot.container import Crossfeed
from bot.error_reply import error_reply
from bot.installs import NOT_INSTALLED
from bot.settings import Settings
from bot.slack_requests import without_control_characters
from handlers import register

logger = logging.getLogger("crossfeed")


def create_app(settings: Settings, *, crossfeed: Crossfeed | None = None) -> App:
    """Build the Bolt app: one WebClient pointed at SLACK_API_URL, one error handler, every listener."""
    crossfeed = crossfeed or Crossfeed.start(settings)
    bolt_logger = logging.getLogger("crossfeed.bolt")
    bolt_logger.addFilter(not_the_unused_token_notice)
    installs = {}
    if crossfeed.installations is not None:
        # Installs into many workspaces: each request is answered with its workspace's installation, and a
        # workspace without one is told so (never served with another's token or data).
        installs = dict(oauth_flow=crossfeed.installations.oauth_flow(crossfeed.client),
                        authorize=crossfeed.installations.authorize(),
                        user_facing_authorize_error_message=NOT_INSTALLED)
    with _bolt_reading_no_oauth_settings(crossfeed.installations is None):
        app = _bolt_app(settings, crossfeed, bolt_logger, installs)
    app.use(strip_control_characters)
    if crossfeed.installations is not None:
        app.use(org_workspaces_recorded(crossfeed))
    app.error(error_reply(crossfeed))
    register(app, crossfeed)
    return app


_ENVIRONMENT = threading.Lock()


@contextmanager
def _bolt_reading_no_oauth_settings(single_workspace: bool) -> Iterator[None]:
    """With one bot token, Bolt must not see SLACK_CLIENT_ID and SLACK_CLIENT_SECRET: given both in the
    environment, App() turns on its own OAuth flow (a file installation store) and no longer answers with the
    token. They are hidden from it while it is built, and put back."""
    names = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")
    if not single_workspace or not all(os.environ.get(name) for name in names):
        yield
        return
    with _ENVIRONMENT:
        hidden = {name: os.environ.pop(name) for name in names}
        try:
            yield
        finally:
            os.environ.update(hidden)


def _bolt_app(settings: Settings, crossfeed: Crossfeed, bolt_logger: logging.Logger, installs: dict) -> App:
    return App(
        # The name Bolt would take from the calling file. Given none, it reads the source of every frame on the
        # stack to find that file (inspect.stack()): ~0.1 s a start, in each test that starts the app.
        name="app.py",
        client=crossfeed.client,
        signing_secret=settings.slack_signing_secret or None,
        token_verification_enabled=False,
        **installs,
        # Listeners answer Slack when they return; slow work goes to crossfeed.after_ack or the outbox.
        process_before_response=True,
        logger=bolt_logger,
        # Bolt's own warning for these logs the whole body, people's text included; error_reply logs one line.
        raise_error_for_unhandled_request=True,
    )


def strip_control_characters(req: BoltRequest, next: Callable[[], object]) -> None:
    """Every request's text without control characters, before any listener reads it (HTTP and Socket Mode)."""
    req.body = without_control_characters(req.body)
    next()


def org_workspaces_recorded(crossfeed: Crossfeed) -> Callable[..., None]:
    """Enterprise Grid: a request from a workspace served by its org's org-wide install records the workspace in
    its org (once per process), so that jobs and the outbox find the org's token for it."""
    installations = crossfeed.installations

    def record(context, next: Callable[[], object]) -> None:
        if context.is_enterprise_install and context.enterprise_id and context.team_id:
            installations.note_org_workspace(team_id=context.team_id, enterprise_id=context.enterprise_id)
        next()

    return record


def not_the_unused_token_notice(record: logging.LogRecord) -> bool:
    # Bolt reads SLACK_BOT_TOKEN from the environment itself and, given our client too, warns on every start
    # that the token goes unused. That is by design here, so it is no warning.
    return record.getMessage() != warning_client_prioritized_and_token_skipped()
