"""The WSGI application: Slack requests at POST /slack/events, leads at POST /hooks/leads, a health check at
GET /healthz, metrics for Prometheus at GET /metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from http import HTTPStatus
from urllib.parse import parse_qsl

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_sdk.signature import SignatureVerifier

from bot import metrics
from bot.app import create_app
from bot.container import Crossfeed
from bot.lead_webhook import HOOK_PATH, LeadWebhook
from bot.settings import Settings, load_settings
from bot.slack_requests import FORM, MalformedRequest, ParsedSlackRequest, media_type, parse_slack_body
from storage.db import database_answers

SLACK_PATH = "/slack/events"
METRICS_PATH = "/metrics"
SURFACE = "crossfeed.surface"  # environ key: the surface a Slack request turned out to be for (bot.metrics)
# Slack's largest requests are view submissions: 100 blocks of up to 3,000 characters plus their state,
# form-encoded JSON, which can take up to 8 bytes a character (%5Cu0000). 4 MiB fits any of them.
MAX_BODY_BYTES = 4 * 1024 * 1024

logger = logging.getLogger("crossfeed.requests")


class CrossfeedWSGI:
    """Routes /healthz and /hooks/leads itself and hands everything else to Bolt's WSGI adapter."""

    def __init__(self, app: App, crossfeed: Crossfeed):
        self.app = app
        self.slack = SlackRequestHandler(app, path=SLACK_PATH)
        self.crossfeed = crossfeed
        secret = crossfeed.settings.slack_signing_secret
        self.verifier = SignatureVerifier(secret) if secret else None
        self.leads = LeadWebhook(crossfeed)
        self.outbox_backlog = metrics.OutboxBacklog(crossfeed.sessions, crossfeed.outbox.composers)
        self.metrics_token = crossfeed.settings.scrape_token

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == METRICS_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            if not metrics.scrape_allowed(environ.get("HTTP_AUTHORIZATION"), self.metrics_token):
                return metrics.refuse_scrape(start_response)
            return self.scrape(start_response)
        started = time.perf_counter()
        try:
            return self.route(environ, start_response)
        finally:
            # Each route answers with its whole body at once, so this is the time to the answer.
            metrics.observe_request(environ.get(SURFACE) or _surface_of_path(environ.get("PATH_INFO")), started)

    def route(self, environ: dict, start_response) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            healthy = database_answers(self.crossfeed.engine)
            status = "200 OK" if healthy else "503 Service Unavailable"
            body = b"ok\n" if healthy else b"database unavailable\n"
            start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        if environ.get("PATH_INFO") == HOOK_PATH:
            return self.leads(environ, start_response)
        if environ.get("PATH_INFO") == SLACK_PATH and environ.get("REQUEST_METHOD") == "POST":
            return self.slack_request(environ, start_response)
        return self.slack(environ, start_response)

    def scrape(self, start_response) -> Iterable[bytes]:
        body = metrics.exposition(self.outbox_backlog)
        start_response("200 OK", [("Content-Type", metrics.CONTENT_TYPE), ("Content-Length", str(len(body)))])
        return [body]

    def slack_request(self, environ: dict, start_response) -> Iterable[bytes]:
        """Check size, signature and shape before Bolt sees the request; a rejection is logged without
        the body, which is people's text."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _reject(start_response, HTTPStatus.BAD_REQUEST, "a Content-Length that is not a number")
        if length > MAX_BODY_BYTES:
            return _reject(start_response, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"a body of {length} bytes")
        request = WsgiHttpRequest(environ)
        headers = request.get_headers()
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        try:
            raw_body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _reject(start_response, HTTPStatus.BAD_REQUEST, "a body that is not UTF-8")
        if self.verifier and not self._signed(raw_body, headers) and not _ssl_check(raw_body, headers):
            return _reject(start_response, HTTPStatus.UNAUTHORIZED, "a missing, stale or wrong signature")
        try:
            body = parse_slack_body(raw_body, headers.get("content-type"))
        except MalformedRequest as malformed:
            return _reject(start_response, HTTPStatus.BAD_REQUEST, str(malformed))
        environ[SURFACE] = metrics.slack_surface(body)
        answer = self.app.dispatch(ParsedSlackRequest(raw_body=raw_body, body=body, query=request.query_string,
                                                      headers=headers))
        return _respond(start_response, answer)

    def _signed(self, raw_body: str, headers: dict) -> bool:
        timestamp = headers.get("x-slack-request-timestamp") or ""
        signature = headers.get("x-slack-signature")
        # slack-sdk's verifier raises on a timestamp that isn't a number.
        return timestamp.isdigit() and self.verifier.is_valid(raw_body, timestamp, signature)


def _surface_of_path(path: str | None) -> str:
    """The surface of a request whose body wasn't read as Slack's (a rejected one among them)."""
    return {HOOK_PATH: metrics.LEAD_WEBHOOK, "/healthz": metrics.HEALTH,
            SLACK_PATH: metrics.REJECTED}.get(path or "", metrics.OTHER)


def _ssl_check(raw_body: str, headers: dict) -> bool:
    """Slack's certificate check when a slash command URL is saved may come unsigned; Bolt answers it
    with an empty 200 and nothing else happens."""
    return media_type(headers.get("content-type")) == FORM and dict(parse_qsl(raw_body)).get("ssl_check") == "1"


def _reject(start_response, status: HTTPStatus, why: str) -> Iterable[bytes]:
    logger.info("rejected a request to %s with %s: %s", SLACK_PATH, status.value, why)
    body = f"{status.phrase}\n".encode()
    start_response(f"{status.value} {status.phrase}",
                   [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


def _respond(start_response, answer: BoltResponse) -> Iterable[bytes]:
    body = answer.body.encode("utf-8") if isinstance(answer.body, str) else bytes(answer.body or b"")
    status = HTTPStatus(answer.status)
    headers = [(name, value) for name, values in answer.headers.items() if name.lower() != "content-length"
               for value in values]
    start_response(f"{status.value} {status.phrase}", [*headers, ("Content-Length", str(len(body)))])
    return [body]


def build_wsgi(settings: Settings | None = None) -> CrossfeedWSGI:
    settings = settings or load_settings()
    configure_logging(settings)
    crossfeed = Crossfeed.start(settings)
    if settings.run_scheduler:
        from schedules.clock import start_in_background
        from schedules.jobs import JobRuntime

        start_in_background(JobRuntime.of(crossfeed))
    return CrossfeedWSGI(create_app(settings, crossfeed=crossfeed), crossfeed)


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
