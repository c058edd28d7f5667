"""`python -m bot`: serve Slack over HTTP on $PORT (or Socket Mode with SLACK_APP_TOKEN)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from bot.settings import Settings, load_settings

logger = logging.getLogger("crossfeed")


def main() -> None:
    if sys.argv[1:2] == ["export"]:
        raise SystemExit(export_to_files(sys.argv[2:]))
    if sys.argv[1:2] == ["import-leads"]:
        raise SystemExit(import_leads_from_csv(sys.argv[2:]))
    settings = load_settings()
    if settings.slack_app_token:
        serve_socket_mode(settings)
    else:
        serve_http(settings)


def serve_socket_mode(settings: Settings) -> None:
    """Connect to Slack first: only a live connection is "running", and only then may the clock run jobs."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app import create_app
    from bot.container import Crossfeed
    from bot.server import configure_logging

    configure_logging(settings)
    crossfeed = Crossfeed.start(settings)
    handler = SocketModeHandler(create_app(settings, crossfeed=crossfeed), settings.slack_app_token)
    try:
        handler.connect()
    except Exception as error:  # e.g. an invalid app token, or Slack unreachable
        logger.debug("Socket Mode failed", exc_info=error)
        crossfeed.close()
        reason = " ".join(str(error).split())  # Slack's errors span lines; this stays one
        raise SystemExit(f"crossfeed: could not connect to Slack in Socket Mode: {reason}") from None
    if settings.run_scheduler:
        from schedules.clock import start_in_background
        from schedules.jobs import JobRuntime

        start_in_background(JobRuntime.of(crossfeed))
    if settings.metrics_port:  # no HTTP server of its own in Socket Mode
        from bot.metrics import serve_metrics

        serve_metrics(settings.metrics_port, token=settings.scrape_token)
    logger.info("Crossfeed is running in Socket Mode")
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()


def serve_http(settings: Settings) -> None:
    """Serve with gunicorn in this process: one worker, a thread per concurrent request."""
    from gunicorn.app.base import BaseApplication

    from bot.server import build_wsgi

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in {
                "bind": f"0.0.0.0:{settings.port}", "workers": 1, "worker_class": "gthread", "threads": 8,
                "timeout": 30, "loglevel": settings.log_level.lower(),
            }.items():
                self.cfg.set(key, value)

        def load(self):
            # Runs in the worker after the fork, so no connection or thread crosses it.
            return build_wsgi(settings)

    Server().run()


def export_to_files(argv: list[str]) -> int:
    """`python -m bot export --out DIR [--weeks N]`: the CSV export, for operators, one folder per workspace."""
    from sqlalchemy import select

    from bot.export import MAX_WEEKS, export_csvs
    from storage.db import make_engine, make_session_factory, migrate
    from storage.models import Workspace
    from storage.settings import load_database_settings

    parser = argparse.ArgumentParser(prog="python -m bot export", description=export_to_files.__doc__)
    parser.add_argument("--out", required=True, type=Path, help="folder to write the CSV files into")
    parser.add_argument("--weeks", type=int, default=12, choices=range(1, MAX_WEEKS + 1), metavar="N",
                        help="how many complete weeks before this one (default 12)")
    args = parser.parse_args(argv)
    engine = make_engine(load_database_settings().database_url)
    migrate(engine)
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        for team_id in session.scalars(select(Workspace.team_id).order_by(Workspace.team_id)):
            folder = args.out / team_id
            folder.mkdir(parents=True, exist_ok=True)
            for name, text in export_csvs(session=session, team_id=team_id, now=datetime.now(UTC), weeks=args.weeks,
                                          default_zone=os.environ.get("WORKSPACE_TIMEZONE")).items():
                (folder / name).write_text(text, encoding="utf-8")
                print(folder / name)
    engine.dispose()
    return 0


def import_leads_from_csv(argv: list[str]) -> int:
    """`python -m bot import-leads FILE.csv [--team T…]`: leads from a CSV file, as if sent to /hooks/leads.

    Prints each row's outcome with its line number; exits 1 if any row was refused. The leads' owners get their
    cards (or the sales channel its claim posts) before it exits; anything left, the clock routes."""
    import csv

    from bot.container import Crossfeed
    from bot.handoff import UnreadableFile, import_leads

    parser = argparse.ArgumentParser(prog="python -m bot import-leads", description=import_leads_from_csv.__doc__)
    parser.add_argument("file", type=Path, help="CSV file whose first line names the columns: id, name, company, "
                                                 "email, source, campaign, score, url, owner")
    parser.add_argument("--team", help="the workspace's team id (T…); default: the bot token's workspace")
    args = parser.parse_args(argv)
    settings = load_settings(serves_slack=False)
    if settings.installs_into_many_workspaces and not args.team:
        print("crossfeed: installed into many workspaces, name the workspace: --team T…", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    crossfeed = Crossfeed.start(settings)
    counts = {"imported": 0, "updated": 0, "refused": 0}
    try:
        team_id = args.team or crossfeed.client.auth_test()["team_id"]
        with args.file.open(encoding="utf-8-sig", newline="") as lines:
            for row in import_leads(lines=lines, transaction=crossfeed.transaction, team_id=team_id,
                                    now=lambda: datetime.now(UTC), default_zone=settings.workspace_timezone):
                counts[row.status] += 1
                why = f": {row.problem}" if row.problem else ""
                print(f"line {row.line}: {row.status} {row.crm_id or '(no id)'}{why}")
    except (OSError, UnicodeDecodeError, csv.Error, UnreadableFile) as error:
        print(f"crossfeed: cannot read {args.file} as leads: {error}", file=sys.stderr)
        return 2
    finally:
        crossfeed.wait_idle(60)
        crossfeed.close()
    print(f"{counts['imported']} imported, {counts['updated']} updated, {counts['refused']} refused")
    return 1 if counts["refused"] else 0


if __name__ == "__main__":
    main()
