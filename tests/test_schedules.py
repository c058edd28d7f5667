"""The clock's job list and its options (APScheduler 3's defaults would skip missed runs)."""

from apscheduler.schedulers.background import BackgroundScheduler

from schedules import jobs
from schedules.clock import add_jobs


def test_jobs_are_registered_once_with_coalescing_and_a_misfire_grace():
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)
    add_jobs(scheduler)
    add_jobs(scheduler)  # a restart re-adding jobs replaces them

    [job] = scheduler.get_jobs()
    scheduler.shutdown(wait=False)
    assert job.id == "outbox" and job.func is jobs.deliver_outbox
    assert job.coalesce is True and job.max_instances == 1
    assert job.misfire_grace_time >= 60


def test_the_outbox_job_delivers_through_the_shared_runtime(crossfeed, fake_slack):
    jobs.use(crossfeed)
    assert jobs.deliver_outbox() == "outbox: 0 sent, 0 failed, 0 skipped"
