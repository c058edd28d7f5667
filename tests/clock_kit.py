"""The clock as deployed, turned by the test: the clock's own job table and scheduler loop.

`TurnedClock` is what `python -m schedules` builds (`configure` with a `JobRuntime` on the same database),
with two differences that keep it deterministic under freezegun: no thread waits for the next run (the test
calls the scheduler's own loop body, `_process_jobs`, after moving the frozen clock), and jobs run in the
calling thread (APScheduler's DebugExecutor). Which jobs run, and when, is decided by APScheduler from its
job table (in memory, as in the clock), with the clock's misfire grace and coalescing: the test never calls a
job or a service itself.
"""

from __future__ import annotations

import threading
from datetime import datetime

from apscheduler.executors.debug import DebugExecutor
from apscheduler.schedulers.base import BaseScheduler

from bot.container import Crossfeed
from schedules.clock import configure
from schedules.jobs import JobRuntime


class _SteppedScheduler(BaseScheduler):
    def wakeup(self) -> None:  # nothing sleeps: the test turns the loop
        pass

    def _create_default_executor(self):
        return DebugExecutor()

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)


class TurnedClock:
    """A clock process: its own runtime (engine, Slack client) on the shared database."""

    def __init__(self, settings):
        self.crossfeed = Crossfeed.start(settings)
        self.runtime = JobRuntime.of(self.crossfeed)
        self.scheduler = _SteppedScheduler()
        configure(self.scheduler, self.runtime)
        self.scheduler.start()

    def turn(self) -> None:
        """One pass of the scheduler's loop at the (frozen) current time: every job that is due runs once."""
        self.scheduler._process_jobs()
        # What the jobs' commits queued is delivered in the background: done before the clock moves on.
        assert self.crossfeed.wait_idle(30), "outbox deliveries did not finish"

    def next_run_times(self) -> dict[str, object]:
        return {job.id: job.next_run_time for job in self.scheduler.get_jobs()}

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)
        self.crossfeed.close()


class Clock:
    """A clock process under a frozen time, turned at chosen moments (the time only moves forward)."""

    def __init__(self, clock: TurnedClock, frozen, app):
        self.clock, self.frozen, self.app = clock, frozen, app

    def at(self, moment) -> None:
        """Move the frozen time to `moment` (later than now) without running anything."""
        self.frozen.move_to(moment)

    def turn_at(self, moment) -> None:
        """Move to `moment` and turn the clock once: every job that is due runs, and what it queued is sent."""
        self.frozen.move_to(moment)
        self.clock.turn()
        self.app.settle()


class Clocks:
    """One clock process or several (racing, as two `clock` processes would), turned together at chosen moments."""

    def __init__(self, app, frozen, count: int = 1):
        self.app, self.frozen = app, frozen
        self.clocks = [TurnedClock(app.settings) for _ in range(count)]

    def turn_at(self, moment: datetime) -> None:
        """Move to `moment` and turn every clock once, all at the same time."""
        self.frozen.move_to(moment)
        barrier = threading.Barrier(len(self.clocks))

        def turn(clock: TurnedClock) -> None:
            barrier.wait()
            clock.turn()

        threads = [threading.Thread(target=turn, args=(clock,)) for clock in self.clocks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.app.settle()

    def stop(self) -> None:
        for clock in self.clocks:
            clock.stop()
