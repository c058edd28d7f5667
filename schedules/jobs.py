"""Scheduled jobs: module-level functions (picklable references) calling the same services as handlers.

Whoever starts a scheduler (the clock process, or `python -m bot` in-process) hands the jobs
their runtime with `use()`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from bot.container import Crossfeed
from bot.digest_posting import post_due_digests
from bot.messaging import close_due_asks
from bot.pulse import open_due_round, queue_due_reminders, secret_of
from storage.teams import all_configs

logger = logging.getLogger(__name__)
_runtime: Crossfeed | None = None


def use(crossfeed: Crossfeed) -> None:
    global _runtime
    _runtime = crossfeed


def runtime() -> Crossfeed:
    if _runtime is None:
        raise RuntimeError("schedules.jobs.use(crossfeed) must be called before jobs run")
    return _runtime


def deliver_outbox() -> str:
    """Send queued Slack messages that are due, including retries of earlier failures."""
    report = runtime().outbox.deliver_due()
    summary = f"outbox: {report.sent} sent, {report.failed} failed, {report.skipped} skipped"
    if report.sent or report.failed:
        logger.info(summary)
    return summary


def open_pulse_rounds() -> str:
    """Open every workspace's pulse round that is due (each workspace in its own transaction)."""
    crossfeed, now = runtime(), datetime.now(UTC)
    with crossfeed.transaction() as session:
        team_ids = [config.team_id for config in all_configs(session=session)]
    opened = []
    for team_id in team_ids:
        try:
            with crossfeed.transaction() as session:
                result = open_due_round(session=session, team_id=team_id, now=now,
                                        default_zone=crossfeed.settings.workspace_timezone)
        except Exception:
            logger.exception("could not open the pulse round of workspace %s", team_id)
            continue
        if result:
            logger.info("opened pulse %s in %s: %s people asked", result.period, team_id, result.asked)
            opened.append(result)
    if opened:
        crossfeed.outbox.deliver_due()
    return f"pulse: {len(opened)} round(s) opened, {sum(r.asked for r in opened)} people asked"


def _queue_then_deliver(queue: Callable[..., int]) -> int:
    """Run a service that queues Slack messages in one transaction, then deliver what it queued."""
    crossfeed = runtime()
    with crossfeed.transaction() as session:
        queued = queue(session=session, now=datetime.now(UTC))
    if queued:
        crossfeed.outbox.deliver_due()
    return queued


def send_pulse_reminders() -> str:
    """Queue one reminder to each person who has not answered a round whose reminder time came."""
    secret = secret_of(runtime().settings)  # to skip people whose "answered" mark isn't written yet
    return f"reminders: {_queue_then_deliver(partial(queue_due_reminders, secret=secret))} queued"


def close_messaging_asks() -> str:
    """Close messaging asks whose time is up: summary DM to the asker, card marked closed."""
    return f"messaging: {_queue_then_deliver(close_due_asks)} ask(s) closed"


def post_weekly_digests() -> str:
    """Post last week's digest to each digest channel whose workspace's scheduled time has come, once."""
    crossfeed = runtime()
    outcomes = post_due_digests(sessions=crossfeed.sessions, client_for=crossfeed.client_for,
                                settings=crossfeed.settings, now=datetime.now(UTC))
    for outcome in outcomes:
        if outcome.result != "already posted":
            logger.info("digest %s in %s: %s", outcome.week, outcome.channel, outcome.result)
    posted = sum(outcome.result == "posted" for outcome in outcomes)
    failed = sum(outcome.result.startswith("failed") for outcome in outcomes)
    return f"digest: {posted} posted, {failed} failed, {len(outcomes) - posted - failed} already posted"


JOBS = {"pulse": open_pulse_rounds, "reminders": send_pulse_reminders, "messaging": close_messaging_asks,
        "digest": post_weekly_digests, "outbox": deliver_outbox}
