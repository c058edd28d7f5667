"""`python -m schedules`: the clock process. `python -m schedules run JOB` runs one job once, now.
`python -m schedules worker`: an outbox worker, delivering queued Slack messages only (PostgreSQL)."""

from __future__ import annotations

import signal
import sys
import threading

from bot.settings import load_settings
from storage.settings import exit_with


def main(argv: list[str]) -> int:
    if argv not in ([], ["worker"]) and (argv[:1] != ["run"] or len(argv) != 2):
        return usage()
    # The clock only calls Slack, never receives from it: no signing secret needed. Checked before the
    # runtime's imports (about a second), so that a bad setting is told at once.
    settings = load_settings(serves_slack=False)
    if argv == ["worker"] and not settings.database_url.startswith("postgresql"):
        exit_with("the outbox worker needs PostgreSQL (DATABASE_URL=postgresql://…); on SQLite run no worker: "
                  "`python -m bot` (or the clock) delivers what it queues")

    from bot.container import Crossfeed
    from bot.server import configure_logging
    from schedules import jobs
    from schedules.clock import run_clock
    from schedules.jobs import JobRuntime
    from schedules.worker import run_worker
    from storage.coordination import ClockLock, OutboxWakeups

    if argv[:1] == ["run"] and argv[1] not in jobs.JOBS:
        return usage()
    configure_logging(settings)
    crossfeed = Crossfeed.start(settings)
    runtime = JobRuntime.of(crossfeed)
    try:
        if argv[:1] == ["run"]:
            print(jobs.JOBS[argv[1]](runtime))
            return 0
        if settings.metrics_port:  # clock and worker serve nothing else, so their metrics get an endpoint of their own
            from bot.metrics import serve_metrics

            serve_metrics(settings.metrics_port, token=settings.scrape_token)
        stopping = stop_on_signals()
        if argv == ["worker"]:
            wakeups = OutboxWakeups(crossfeed.engine)
            try:
                run_worker(crossfeed.outbox, wakeups, stopping)
            finally:
                wakeups.close()
        else:
            run_clock(runtime, ClockLock(crossfeed.engine), stopping)
        return 0
    finally:
        crossfeed.close()


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM (the platform stopping the process) or SIGINT (Ctrl-C): the loops end on it,
    finishing the work in hand."""
    stopping = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stopping.set())
    return stopping


def usage() -> int:
    from schedules.jobs import JOBS

    print(f"usage: python -m schedules [run JOB | worker]   (JOB is one of: {', '.join(JOBS)})", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
