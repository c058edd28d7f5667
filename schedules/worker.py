"""`python -m schedules worker`: a process that only delivers queued Slack messages (the outbox).

Any number run at once on PostgreSQL: each pass claims a small batch with `FOR UPDATE SKIP LOCKED`
(storage/claims.py), so workers split the due messages and never take one row twice; a worker that dies holding
a claim leaves it to its lease (bot/outbox.py). Between passes a worker waits for a commit that queued something
(a PostgreSQL NOTIFY, sent when OUTBOX_WORKERS=1) or one poll interval, whichever comes first.
"""

from __future__ import annotations

import logging
import threading

from bot.outbox import Outbox
from storage.coordination import OutboxWakeups

logger = logging.getLogger(__name__)

POLL = 1.0  # seconds between passes when no commit wakes the worker (retries' backoff, another process's queue)
# Messages a pass claims at once: small, so that a burst (a pulse fanning out) is shared by every worker at once
# instead of waiting in the batch of one; each claim is one indexed UPDATE.
WORKER_BATCH = 20


def run_worker(outbox: Outbox, wakeups: OutboxWakeups, stopping: threading.Event) -> None:
    """Deliver until `stopping` is set; the message in hand when it is set is finished and recorded."""
    logger.info("outbox worker running")
    while not stopping.is_set():
        try:
            report = outbox.deliver_due(stopping=stopping, batch=WORKER_BATCH)
        except Exception:  # e.g. the database restarting: the messages stay queued, the worker tries again
            logger.exception("outbox delivery failed; due messages stay queued for the next pass")
            stopping.wait(POLL)
            continue
        if report.sent or report.failed:
            logger.info("outbox: %s sent, %s failed", report.sent, report.failed)
        if not stopping.is_set():
            wakeups.wait(POLL)
    logger.info("outbox worker stopped")
