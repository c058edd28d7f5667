"""The scheduler: the job list, kept in memory, each job given the runtime it works with.

Rounds open at the workspace's local time: the pulse job runs every minute and asks each
workspace's cron trigger (in its own time zone) whether this period's round is due, so a
schedule change needs no restart and a round missed while the clock was down opens once,
late. Exactly-once is the database's job (unique rounds, prompts and outbox keys), never the
scheduler's.

Two clocks may run (failover): only the one holding the clock lock (a PostgreSQL advisory lock, see
storage/coordination.py) runs the jobs; the other tries for it every few seconds and takes over when the active
one exits or dies. Each job also checks the lock before it starts, so a clock cut off from the database starts
nothing once another may have taken over. On SQLite there is one process and no lock.

The jobs live in APScheduler's default MemoryJobStore: every start adds the same jobs afresh, and
every job asks the database what is due, so a job store in the database would keep nothing a
restart reads (re-adding a job with `replace_existing` recomputes its next run time anyway).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC
from functools import wraps

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler

from bot.metrics import measured_job
from schedules import jobs
from schedules.jobs import Job, JobRuntime
from storage.coordination import ClockLock

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


# Seconds between a standby clock's tries for the lock, and between the active clock's checks that it still holds it.
STANDBY_RETRY = 3
LOCK_CHECK = 3


def configure(scheduler: BaseScheduler, runtime: JobRuntime, *, holds_lock: Callable[[], bool] | None = None) -> None:
    """Give `scheduler` every job in jobs.JOBS, each called with `runtime` (and only while `holds_lock()`)."""
    quiet_scheduler_logs()
    scheduler.configure(timezone=UTC)
    # A grace in hours and coalescing: a run the scheduler reaches late (a busy or suspended process)
    # happens once, where APScheduler's default grace of 1 s would skip it. Explicit ids with
    # replace_existing, so configuring twice never adds a second copy of a job.
    for job_id, job in jobs.JOBS.items():
        seconds, grace = EVERY[job_id]
        # Counted and timed (bot.metrics) where the clock adds it, so every process that runs the clock exports it.
        job = measured_job(job_id, job)
        if holds_lock is not None:
            job = _while_holding(job_id, job, holds_lock)  # a run skipped for the lock is no run
        scheduler.add_job(job, "interval", args=[runtime], seconds=seconds, id=job_id, replace_existing=True,
                          coalesce=True, max_instances=1, misfire_grace_time=grace)
    scheduler.add_listener(lambda _: logger.info("clock running: %s", ", ".join(jobs.JOBS)),
                           EVENT_SCHEDULER_STARTED)


def _while_holding(job_id: str, job: Job, holds_lock: Callable[[], bool]) -> Job:
    @wraps(job)
    def guarded(runtime: JobRuntime) -> str:
        if not holds_lock():
            return f"{job_id}: skipped, this clock no longer holds the clock lock"
        return job(runtime)

    return guarded


def run_clock(runtime: JobRuntime, lock: ClockLock, stopping: threading.Event,
              start: Callable[[Callable[[], bool]], BaseScheduler] | None = None) -> None:
    """Run the jobs whenever this process holds `lock`, and stand by while another does, until `stopping`.

    `start(holds_lock)` starts the jobs and returns their scheduler (by default every job in jobs.JOBS);
    they are shut down (running jobs finished) when the lock is lost or `stopping` is set.
    """
    start = start or (lambda holds_lock: start_in_background(runtime, holds_lock=holds_lock))
    standing_by = False
    try:
        while not stopping.is_set():
            if not lock.try_acquire():
                if not standing_by:
                    logger.info("clock on standby: another clock runs the jobs; trying every %s s", STANDBY_RETRY)
                    standing_by = True
                stopping.wait(STANDBY_RETRY)
                continue
            standing_by = False
            logger.info("clock active: this process runs the jobs" if lock.shared else
                        "clock active (SQLite: one clock, no lock)")
            scheduler = start(lock.held)
            try:
                while not stopping.wait(LOCK_CHECK):
                    if not lock.held():
                        logger.error("clock lost its lock (its database connection ended): jobs stopped, "
                                     "standing by")
                        break
            finally:
                scheduler.shutdown(wait=True)
            # The standby, trying all along, gets the first chance at the lock this clock just lost.
            stopping.wait(2 * STANDBY_RETRY)
    finally:
        lock.release()
        logger.info("clock stopped")


def quiet_scheduler_logs() -> None:
    """APScheduler logs two INFO lines per job run (five jobs a minute): keep them for LOG_LEVEL=DEBUG only."""
    debugging = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    logging.getLogger("apscheduler").setLevel(logging.NOTSET if debugging else logging.WARNING)


def start_in_background(runtime: JobRuntime, *, holds_lock: Callable[[], bool] | None = None
                        ) -> BackgroundScheduler:
    """Run the jobs inside this process (what `python -m bot` does unless RUN_SCHEDULER=0, and the clock)."""
    scheduler = BackgroundScheduler()
    configure(scheduler, runtime, holds_lock=holds_lock)
    scheduler.start()
    return scheduler
