"""Scheduled jobs: module-level functions (picklable references) calling the same services as handlers.

Whoever starts a scheduler (the clock process, or `python -m bot` in-process) hands the jobs
their runtime with `use()`.
"""

from __future__ import annotations

import logging

from bot.app import Crossfeed

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


JOBS = {"outbox": deliver_outbox}
