"""`python -m schedules`: the clock process. Scheduled jobs arrive with the pulse issue."""

from __future__ import annotations

import logging
import sys

from apscheduler.schedulers.blocking import BlockingScheduler

from bot.settings import load_settings

JOBS = {"outbox": "deliver queued Slack messages (lead-feed posts) that are due"}


def run_job(name: str) -> int:
    from bot.app import Crossfeed

    settings = load_settings()
    crossfeed = Crossfeed.start(settings)
    try:
        if name == "outbox":
            report = crossfeed.outbox.deliver_due()
            print(f"outbox: {report.sent} sent, {report.failed} failed, {report.skipped} skipped")
            return 0 if not report.failed else 1
    finally:
        crossfeed.close()
    return 2


def main(argv: list[str]) -> int:
    if argv[:1] == ["run"]:
        if len(argv) != 2 or argv[1] not in JOBS:
            names = ", ".join(JOBS)
            print(f"usage: python -m schedules run JOB   (JOB is one of: {names})", file=sys.stderr)
            return 2
        return run_job(argv[1])
    if argv:
        print("usage: python -m schedules [run JOB]", file=sys.stderr)
        return 2
    settings = load_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(
        "schedules.jobs:deliver_outbox", "interval", minutes=1, id="outbox", replace_existing=True,
        coalesce=True, max_instances=1, misfire_grace_time=300,
    )
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
