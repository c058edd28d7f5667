"""The clock's job list, its options (APScheduler 3's defaults would skip missed runs) and its runtime."""

from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from freezegun import freeze_time
from sqlalchemy import inspect

from schedules import jobs
from schedules.clock import configure
from schedules.jobs import JobRuntime
from tests.clock_kit import TurnedClock


def test_the_clock_runs_exactly_the_jobs_each_given_its_runtime_with_coalescing_and_a_misfire_grace(crossfeed):
    runtime = JobRuntime.of(crossfeed)
    scheduler = BackgroundScheduler()
    configure(scheduler, runtime)
    configure(scheduler, runtime)  # configuring again replaces the jobs, never adds a second copy
    scheduler.start(paused=True)

    registered = {job.id: job for job in scheduler.get_jobs()}
    scheduler.shutdown(wait=False)
    assert list(jobs.JOBS) == ["pulse", "reminders", "messaging", "digest", "outbox", "actions", "leads",
                               "retention"]
    assert sorted(registered) == sorted(jobs.JOBS), "every job `python -m schedules run` knows runs on the clock"
    for job_id, function in jobs.JOBS.items():
        assert registered[job_id].func.__wrapped__ is function  # counted and timed for /metrics, unchanged
        assert registered[job_id].args == (runtime,) and registered[job_id].kwargs == {}
    for job in registered.values():
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time >= 3600, "APScheduler's default of 1 s would skip runs reached late"


def test_the_runtime_is_the_containers_parts_not_the_container(crossfeed):
    runtime = JobRuntime.of(crossfeed)

    assert (runtime.settings, runtime.sessions, runtime.outbox) == (crossfeed.settings, crossfeed.sessions,
                                                                    crossfeed.outbox)
    assert runtime.client_for("T1") is crossfeed.client_for("T1")
    assert not hasattr(runtime, "engine") and not hasattr(runtime, "after_ack")


def test_the_outbox_job_delivers_through_the_runtime_it_is_given(crossfeed, fake_slack):
    assert jobs.deliver_outbox(JobRuntime.of(crossfeed)) == "outbox: 0 sent, 0 failed, 0 skipped"


def test_jobs_reach_no_module_global_runtime():
    assert not hasattr(jobs, "use") and not hasattr(jobs, "runtime") and not hasattr(jobs, "_runtime")


def test_the_clock_keeps_its_jobs_in_memory_and_writes_no_table(settings, crossfeed):
    tables = set(inspect(crossfeed.engine).get_table_names())
    with freeze_time("2026-11-25T15:00:00+00:00") as frozen:
        clock = TurnedClock(settings)
        try:
            frozen.tick(timedelta(minutes=5, seconds=1))
            clock.turn()
            assert set(clock.next_run_times()) == set(jobs.JOBS)
        finally:
            clock.stop()

    assert set(inspect(crossfeed.engine).get_table_names()) == tables
    assert "apscheduler_jobs" not in tables


def test_the_upgrade_drops_the_job_table_an_earlier_clock_left(database_url):
    from alembic import command
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    from storage.db import alembic_config, make_engine, migrate

    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0006")  # the test database comes migrated: back to before 0008
        earlier_clock = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(engine=engine)})
        earlier_clock.start(paused=True)  # the store creates its table as it starts
        earlier_clock.add_job(print, "interval", seconds=60, id="outbox")
        earlier_clock.shutdown(wait=False)
        assert inspect(engine).has_table("apscheduler_jobs")

        migrate(engine)

        assert not inspect(engine).has_table("apscheduler_jobs")
    finally:
        engine.dispose()
