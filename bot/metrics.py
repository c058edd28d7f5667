"""What operators see at `GET /metrics` (Prometheus' text format): request latency per surface, the outbox's
backlog, job runs, Slack API errors and 429s.

Counters and histograms live in this process (prometheus-client's registry). Under gunicorn with several workers
each worker keeps its own, so with `PROMETHEUS_MULTIPROC_DIR` set (bot/gunicorn_config.py sets it for the
Procfile's web line) every process writes its values to files in that directory and a scrape, answered by any
worker, adds them up. The outbox's backlog is no counter: it is read from the database when /metrics is scraped.

The module must be imported after PROMETHEUS_MULTIPROC_DIR is set (prometheus-client reads it on import):
gunicorn's master sets it before forking and imports nothing from here.

Labels come from fixed sets (surfaces, jobs, outbox kinds, Slack's method names and error codes, team ids):
never a user id or anything a person typed.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from functools import wraps
from typing import TypeVar
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, Counter, Histogram, generate_latest, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, ThreadingWSGIServer
from prometheus_client.multiprocess import MultiProcessCollector
from slack_sdk.http_retry import RetryHandler
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import ids
from storage.outbox import backlog_by_kind

logger = logging.getLogger(__name__)

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Slack wants an answer within 3 s: the buckets around it say how close requests come.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)

REQUEST_SECONDS = Histogram("crossfeed_request_duration_seconds", "Time to answer an HTTP request, by surface",
                            ["surface"], buckets=REQUEST_BUCKETS)
JOB_RUNS = Counter("crossfeed_job_runs", "Scheduled job runs, by job and outcome (ok or error)", ["job", "outcome"])
JOB_SECONDS = Histogram("crossfeed_job_duration_seconds", "Time a scheduled job run took", ["job"],
                        buckets=JOB_BUCKETS)
SLACK_ERRORS = Counter("crossfeed_slack_api_errors", "Failed Slack Web API answers (every attempt, a retried one "
                       "too), by method and Slack's error code", ["method", "error"])
SLACK_RATE_LIMITED = Counter("crossfeed_slack_rate_limited", "Slack Web API answers with HTTP 429, retried or not, "
                             "by workspace", ["team"])

# --- request surfaces ----------------------------------------------------------------------------------------

COMMANDS = frozenset({"/leadfeedback", "/messaging", "/pulse", "/alignment"})  # manifest.yml's commands
# The first part of every action id and callback id the app gives out (pulse.answer.1.3 → pulse).
FAMILIES = frozenset(str(value).split(".")[0] for enum in vars(ids).values()
                     if isinstance(enum, type) and issubclass(enum, StrEnum) and enum is not StrEnum
                     for value in enum if "." in value)
INTERACTIVE = {"block_actions": ("action", "action_id"), "block_suggestion": ("options", "action_id"),
               "view_submission": ("view", "callback_id"), "view_closed": ("view", "callback_id"),
               "shortcut": ("shortcut", "callback_id"), "message_action": ("shortcut", "callback_id")}
# Surfaces that are not Slack's: every label value is one of these or made from COMMANDS and FAMILIES.
LEAD_WEBHOOK, HEALTH, REJECTED, OTHER = "lead_webhook", "healthz", "rejected", "other"


def slack_surface(body: dict) -> str:
    """Which surface a parsed Slack request is for: the command, the family of its action or callback id
    (`action:pulse`, `view:messaging`), `home` for the App Home tab opening, `events` for other events."""
    command = body.get("command")
    if command is not None:
        return command if isinstance(command, str) and command in COMMANDS else f"command:{OTHER}"
    kind = body.get("type")
    if not isinstance(kind, str):
        return OTHER
    if kind == "event_callback":
        event = body.get("event")
        return "home" if isinstance(event, dict) and event.get("type") == "app_home_opened" else "events"
    if kind in INTERACTIVE:
        prefix, key = INTERACTIVE[kind]
        if kind == "block_actions":
            actions = body.get("actions")
            named = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
        elif prefix == "view":
            named = body.get("view") if isinstance(body.get("view"), dict) else {}
        else:
            named = body
        family = str(named.get(key) or "").split(".")[0]
        return f"{prefix}:{family if family in FAMILIES else OTHER}"
    return "events" if kind in ("url_verification", "app_rate_limited") else OTHER


def observe_request(surface: str, started: float) -> None:
    REQUEST_SECONDS.labels(surface).observe(time.perf_counter() - started)


# --- jobs ----------------------------------------------------------------------------------------------------

R = TypeVar("R")


def measured_job(job_id: str, job: Callable[..., R]) -> Callable[..., R]:
    """`job` counting its runs (ok or error: the error still raises, for the scheduler to log) and timing them."""

    @wraps(job)
    def run(*args, **kwargs) -> R:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = job(*args, **kwargs)
            outcome = "ok"
            return result
        finally:
            JOB_SECONDS.labels(job_id).observe(time.perf_counter() - started)
            JOB_RUNS.labels(job_id, outcome).inc()

    return run


# --- Slack Web API -------------------------------------------------------------------------------------------

_ERROR_CODE = re.compile(r"[a-z0-9_]{1,60}")
_METHOD = re.compile(r"[a-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)+")
UNKNOWN_TEAM = "unknown"


class SlackCallCounter(RetryHandler):
    """Counts a workspace's failed Slack Web API answers by method and error code, and its HTTP 429s.

    slack-sdk asks each retry handler in turn about every answer (a 200 too, its JSON parsed) and about a
    dropped connection; this one only counts and never retries, so it goes first and the handlers after it
    decide. Each failed attempt counts, a 429 that is retried after Retry-After included. Bolt's per-request
    clients and the outbox's posting copies keep a client's handlers, so they count too."""

    def __init__(self, team_id: str | None):
        super().__init__(max_retry_count=0)
        self.team_id = team_id or UNKNOWN_TEAM

    def can_retry(self, *, state, request, response=None, error=None) -> bool:
        if response is None:
            if error is not None:
                SLACK_ERRORS.labels(_method_of(request.url), "connection").inc()
        elif response.status_code == 429:
            SLACK_RATE_LIMITED.labels(self.team_id).inc()
            SLACK_ERRORS.labels(_method_of(request.url), "ratelimited").inc()
        elif response.status_code >= 400:
            SLACK_ERRORS.labels(_method_of(request.url), f"http_{response.status_code}").inc()
        elif isinstance(response.body, dict) and response.body.get("ok") is False:
            error_code = response.body.get("error")
            code = error_code if isinstance(error_code, str) and _ERROR_CODE.fullmatch(error_code) else OTHER
            SLACK_ERRORS.labels(_method_of(request.url), code).inc()
        return False


def _method_of(url: str) -> str:
    method = url.split("?", 1)[0].rsplit("/", 1)[-1]
    return method if _METHOD.fullmatch(method) else OTHER


# --- the outbox's backlog, read at scrape time ---------------------------------------------------------------

class OutboxBacklog:
    """A collector that reads the outbox's backlog from the database on each scrape (one aggregate query).

    Every kind the app composes is reported, at 0 when none waits, so a series never vanishes. Every web
    process reads the same table: across processes take the max, not the sum."""

    def __init__(self, sessions: sessionmaker[Session], kinds: Iterable[str],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.sessions = sessions
        self.kinds = sorted(set(kinds))
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        try:
            with self.sessions() as session:
                backlog = backlog_by_kind(session=session)
        except Exception:  # the rest of the scrape still answers; /healthz says the database is down
            logger.warning("could not read the outbox's backlog for /metrics", exc_info=True)
            return
        pending = dict.fromkeys(self.kinds, 0)
        failed = dict.fromkeys(self.kinds, 0)
        waited = dict.fromkeys(self.kinds, 0.0)
        for row in backlog:
            kind = row.kind if row.kind in pending else OTHER
            pending[kind] = pending.get(kind, 0) + row.pending
            failed[kind] = failed.get(kind, 0) + row.failed
            if row.oldest_due_at is not None:
                waited[kind] = max(waited.get(kind, 0.0), (now - row.oldest_due_at).total_seconds())
        yield _gauge("crossfeed_outbox_pending", "Queued Slack messages waiting to be sent, by kind", pending)
        yield _gauge("crossfeed_outbox_oldest_pending_seconds", "Seconds the longest-waiting pending message has "
                     "been due (0 when none is due yet), by kind", waited)
        yield _gauge("crossfeed_outbox_failed", "Messages that failed for good (status failed), by kind", failed)


def _gauge(name: str, documentation: str, values: dict[str, float]) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation, labels=["kind"])
    for kind, value in sorted(values.items()):
        gauge.add_metric([kind], max(value, 0))
    return gauge


# --- exposition ----------------------------------------------------------------------------------------------

class _Collectors:
    def __init__(self, *collectors):
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def process_metrics():
    """This process's metrics, or in multiprocess mode those every process wrote to the shared directory."""
    directory = os.environ.get(MULTIPROCESS_DIR)
    if directory:
        return MultiProcessCollector(None, path=directory)
    return REGISTRY


def exposition(*collectors) -> bytes:
    """The text a scrape gets: the processes' metrics, then whatever `collectors` read now."""
    return generate_latest(_Collectors(process_metrics(), *collectors))


def scrape_allowed(authorization: str | None, token: str | None) -> bool:
    """Whether a scrape may read the metrics: any may without METRICS_TOKEN; with it, only one that sends
    `Authorization: Bearer <token>` (compared in constant time)."""
    if not token:
        return True
    scheme, _, given = (authorization or "").strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


UNAUTHORIZED_BODY = b"metrics need an Authorization: Bearer header with METRICS_TOKEN\n"


def refuse_scrape(start_response) -> list[bytes]:
    start_response("401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer"),
                                        ("Content-Length", str(len(UNAUTHORIZED_BODY)))])
    return [UNAUTHORIZED_BODY]


def guarded(app: Callable, token: str | None) -> Callable:
    """The WSGI app `app` behind METRICS_TOKEN (unchanged without one)."""
    if not token:
        return app

    def guarded_app(environ: dict, start_response):
        if not scrape_allowed(environ.get("HTTP_AUTHORIZATION"), token):
            return refuse_scrape(start_response)
        return app(environ, start_response)

    return guarded_app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:  # a line per scrape is noise
        pass


def serve_metrics(port: int, host: str = "0.0.0.0", *, token: str | None = None) -> WSGIServer:
    """Serve this process's metrics at http://host:port/metrics from a daemon thread (the clock's endpoint), behind
    `token` (METRICS_TOKEN) when given. prometheus-client's start_http_server, with the token check in front."""
    app = guarded(make_wsgi_app(_Collectors(process_metrics())), token)
    server = make_server(host, port, app, ThreadingWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True, name="metrics").start()
    return server
