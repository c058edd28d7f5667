"""`python -m schedules`: the clock process. `python -m schedules run JOB` runs one job once, now."""

from __future__ import annotations

import contextlib
import sys

from bot.settings import load_settings


def main(argv: list[str]) -> int:
    if argv and (argv[0] != "run" or len(argv) != 2):
        return usage()
    # The clock only calls Slack, never receives from it: no signing secret needed. Checked before the
    # runtime's imports (about a second), so that a bad setting is told at once.
    settings = load_settings(serves_slack=False)

    from apscheduler.schedulers.blocking import BlockingScheduler

    from bot.container import Crossfeed
    from bot.server import configure_logging
    from schedules import jobs
    from schedules.clock import configure
    from schedules.jobs import JobRuntime

    if argv and argv[1] not in jobs.JOBS:
        return usage()
    configure_logging(settings)
    crossfeed = Crossfeed.start(settings)
    runtime = JobRuntime.of(crossfeed)
    try:
        if argv:
            print(jobs.JOBS[argv[1]](runtime))
            return 0
        scheduler = BlockingScheduler()
        configure(scheduler, runtime)
        if settings.metrics_port:  # the clock serves nothing else, so its metrics get an endpoint of their own
            from bot.metrics import serve_metrics

            serve_metrics(settings.metrics_port)
        with contextlib.suppress(KeyboardInterrupt, SystemExit):
            scheduler.start()
        return 0
    finally:
        crossfeed.close()


def usage() -> int:
    from schedules.jobs import JOBS

    print(f"usage: python -m schedules [run JOB]   (JOB is one of: {', '.join(JOBS)})", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
