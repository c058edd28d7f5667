"""The clock's job list and its options (APScheduler 3's defaults would skip missed runs)."""

from apscheduler.schedulers.background import BackgroundScheduler

from schedules import jobs
from schedules.clock import add_jobs


def test_jobs_are_registered_once_with_coalescing_and_a_misfire_grace():
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)
    add_jobs(scheduler)
    add_jobs(scheduler)  # a restart re-adding jobs replaces them

    registered = {job.id: job for job in scheduler.get_jobs()}
    scheduler.shutdown(wait=False)
    assert {"pulse", "reminders", "messaging", "digest", "outbox"} <= set(jobs.JOBS)
    assert set(registered) == set(jobs.JOBS), "every job `python -m schedules run` knows runs on the clock"
    for job_id, function in jobs.JOBS.items():
        assert registered[job_id].func is function
    for job in registered.values():
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time >= 3600, "APScheduler's default of 1 s would skip runs after a restart"


def test_the_outbox_job_delivers_through_the_shared_runtime(crossfeed, fake_slack):
    jobs.use(crossfeed)
    assert jobs.deliver_outbox() == "outbox: 0 sent, 0 failed, 0 skipped"


def test_jobs_persist_in_the_database_job_store(crossfeed):
    from apscheduler.schedulers.background import BackgroundScheduler
    from sqlalchemy import inspect

    from schedules.clock import JOB_TABLE, configure

    scheduler = BackgroundScheduler()
    configure(scheduler, crossfeed)
    scheduler.start(paused=True)
    add_jobs(scheduler)
    scheduler.shutdown(wait=False)

    assert JOB_TABLE in inspect(crossfeed.engine).get_table_names()
    again = BackgroundScheduler()
    configure(again, crossfeed)
    again.start(paused=True)
    assert {job.id for job in again.get_jobs()} == set(jobs.JOBS)
    again.shutdown(wait=False)
