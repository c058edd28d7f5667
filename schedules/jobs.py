"""Scheduled jobs: module-level functions (picklable references) calling the same services as handlers."""

from __future__ import annotations

import logging

from bot.app import Crossfeed
from bot.settings import load_settings

logger = logging.getLogger(__name__)
_crossfeed: Crossfeed | None = None


def _runtime() -> Crossfeed:
    global _crossfeed
    if _crossfeed is None:
        _crossfeed = Crossfeed.start(load_settings())
    return _crossfeed


def deliver_outbox() -> None:
    """Send queued Slack messages that are due, including retries of earlier failures."""
    report = _runtime().outbox.deliver_due()
    if report.sent or report.failed:
        logger.info("outbox: %s sent, %s failed", report.sent, report.failed)
