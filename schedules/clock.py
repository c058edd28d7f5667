"""The scheduler: the job list, kept in memory, each job given the runtime it works with.

Rounds open at the workspace's local time: the pulse job runs every minute and asks each
workspace's cron trigger (in its own time zone) whether this period's round is due, so a
schedule change needs no restart and a round missed while the clock was down opens once,
late. Exactly-once is the database's job (unique rounds, prompts and outbox keys), never the
scheduler's.

The jobs live in APScheduler's default MemoryJobStore: every start adds the same jobs afresh, and
every job asks the database what is due, so a job store in the database would keep nothing a
restart reads (re-adding a job with `replace_existing` recomputes its next run time anyway).
"""

from __future__ import annotations

import logging
from datetime import UTC

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler

from bot.metrics import measured_job
from schedules import jobs
from schedules.jobs import JobRuntime

logger = logging.getLogger(__name__)

# Job id → (seconds between runs, misfire grace in seconds)
EVERY = {
    "pulse": (60, 6 * 3600),
    "reminders": (300, 6 * 3600),
    "messaging": (60, 6 * 3600),
    # Each minute, like the pulse: the job asks each workspace's digest schedule (its day, time and zone)
    # whether last week's digest is due, so a schedule change needs no restart and downtime posts once, late.
    "digest": (60, 6 * 3600),
    "outbox": (60, 3600),
    # Owners' due-date reminders: each workspace's 09:00 on the due date, or the first run after.
    "actions": (300, 6 * 3600),
    # Handed-off leads: each minute, since a follow-up time is counted in minutes (reminder, escalation, rating).
    "leads": (60, 6 * 3600),
    # Deleting the data of workspaces uninstalled more than DATA_RETENTION_DAYS ago (and expired install states):
    # with nothing to delete, a run is two small statements.
    "retention": (300, 24 * 3600),
}


def configure(scheduler: BaseScheduler, runtime: JobRuntime) -> None:
    """Give `scheduler` every job in jobs.JOBS, each called with `runtime`."""
    quiet_scheduler_logs()
    scheduler.configure(timezone=UTC)
    # A grace in hours and coalescing: a run the scheduler reaches late (a busy or suspended process)
    # happens once, where APScheduler's default grace of 1 s would skip it. Explicit ids with
    # replace_existing, so configuring twice never adds a second copy of a job.
    for job_id, job in jobs.JOBS.items():
        seconds, grace = EVERY[job_id]
        # Counted and timed (bot.metrics) where the clock adds it, so every process that runs the clock exports it.
        scheduler.add_job(measured_job(job_id, job), "interval", args=[runtime], seconds=seconds, id=job_id,
                          replace_existing=True, coalesce=True, max_instances=1, misfire_grace_time=grace)
    scheduler.add_listener(lambda _: logger.info("clock running: %s", ", ".join(jobs.JOBS)),
                           EVENT_SCHEDULER_STARTED)


def quiet_scheduler_logs() -> None:
    """APScheduler logs two INFO lines per job run (five jobs a minute): keep them for LOG_LEVEL=DEBUG only."""
    debugging = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    logging.getLogger("apscheduler").setLevel(logging.NOTSET if debugging else logging.WARNING)


def start_in_background(runtime: JobRuntime) -> BackgroundScheduler:
    """Run the jobs inside this process (what `python -m bot` does unless RUN_SCHEDULER=0)."""
    scheduler = BackgroundScheduler()
    configure(scheduler, runtime)
    scheduler.start()
    return scheduler
