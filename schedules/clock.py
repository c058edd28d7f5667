"""The scheduler: a persistent job store on DATABASE_URL and the job list.

Rounds open at the workspace's local time: the pulse job runs every minute and asks each
workspace's cron trigger (in its own time zone) whether this period's round is due, so a
schedule change needs no restart and a round missed while the clock was down opens once,
late. Exactly-once is the database's job (unique rounds, prompts and outbox keys), never the
scheduler's.
"""

from __future__ import annotations

import logging
from datetime import UTC

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler

from bot.container import Crossfeed
from schedules import jobs

JOB_TABLE = "apscheduler_jobs"
# Job id → (reference, seconds between runs, misfire grace in seconds)
EVERY_MINUTE_JOBS = {
    "pulse": ("schedules.jobs:open_pulse_rounds", 60, 6 * 3600),
    "reminders": ("schedules.jobs:send_pulse_reminders", 300, 6 * 3600),
    "messaging": ("schedules.jobs:close_messaging_asks", 60, 6 * 3600),
    # Each minute, like the pulse: the job asks each workspace's digest schedule (its day, time and zone)
    # whether last week's digest is due, so a schedule change needs no restart and downtime posts once, late.
    "digest": ("schedules.jobs:post_weekly_digests", 60, 6 * 3600),
    "outbox": ("schedules.jobs:deliver_outbox", 60, 3600),
}


def configure(scheduler: BaseScheduler, crossfeed: Crossfeed) -> None:
    """Give `scheduler` the persistent job store and the runtime its jobs use."""
    jobs.use(crossfeed)
    quiet_scheduler_logs()
    scheduler.configure(
        jobstores={"default": SQLAlchemyJobStore(engine=crossfeed.engine, tablename=JOB_TABLE)},
        timezone=UTC,
    )


def quiet_scheduler_logs() -> None:
    """APScheduler logs two INFO lines per job run (five jobs a minute): keep them for LOG_LEVEL=DEBUG only."""
    debugging = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    logging.getLogger("apscheduler").setLevel(logging.NOTSET if debugging else logging.WARNING)


def add_jobs(scheduler: BaseScheduler) -> None:
    # Explicit ids with replace_existing, so a restart never adds a second copy of a job; a grace
    # in hours and coalescing, so runs missed while the clock was down happen once on restart.
    for job_id, (reference, seconds, grace) in EVERY_MINUTE_JOBS.items():
        scheduler.add_job(reference, "interval", seconds=seconds, id=job_id, replace_existing=True,
                          coalesce=True, max_instances=1, misfire_grace_time=grace)


def start_in_background(crossfeed: Crossfeed) -> BackgroundScheduler:
    """Run the jobs inside this process (what `python -m bot` does unless RUN_SCHEDULER=0)."""
    scheduler = BackgroundScheduler()
    configure(scheduler, crossfeed)
    scheduler.start()
    add_jobs(scheduler)
    return scheduler
