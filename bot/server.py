"""The WSGI application: Slack requests at POST /slack/events, a health check at GET /healthz."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.app import Crossfeed, create_app
from bot.settings import Settings, load_settings
from storage.db import database_answers

SLACK_PATH = "/slack/events"


class CrossfeedWSGI:
    """Routes /healthz itself and hands everything else to Bolt's WSGI adapter."""

    def __init__(self, app: App, crossfeed: Crossfeed):
        self.slack = SlackRequestHandler(app, path=SLACK_PATH)
        self.crossfeed = crossfeed

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            healthy = database_answers(self.crossfeed.engine)
            status = "200 OK" if healthy else "503 Service Unavailable"
            body = b"ok\n" if healthy else b"database unavailable\n"
            start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        return self.slack(environ, start_response)


def build_wsgi(settings: Settings | None = None) -> CrossfeedWSGI:
    settings = settings or load_settings()
    configure_logging(settings)
    crossfeed = Crossfeed.start(settings)
    if settings.run_scheduler:
        from schedules.clock import start_in_background

        start_in_background(crossfeed)
    return CrossfeedWSGI(create_app(settings, crossfeed=crossfeed), crossfeed)


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
