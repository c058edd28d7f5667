"""The scheduler's job list, shared by the clock process and the in-process scheduler."""

from __future__ import annotations

from datetime import UTC

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler

from bot.app import Crossfeed
from schedules import jobs


def add_jobs(scheduler: BaseScheduler) -> None:
    # Explicit ids with replace_existing, so a restart never adds a second copy of a job.
    scheduler.add_job(
        "schedules.jobs:deliver_outbox", "interval", minutes=1, id="outbox", replace_existing=True,
        coalesce=True, max_instances=1, misfire_grace_time=300,
    )


def start_in_background(crossfeed: Crossfeed) -> BackgroundScheduler:
    """Run the jobs inside this process (what `python -m bot` does unless RUN_SCHEDULER=0)."""
    jobs.use(crossfeed)
    scheduler = BackgroundScheduler(timezone=UTC)
    add_jobs(scheduler)
    scheduler.start()
    return scheduler
