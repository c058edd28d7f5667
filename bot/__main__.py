"""`python -m bot`: serve Slack over HTTP on $PORT (or Socket Mode with SLACK_APP_TOKEN)."""

from __future__ import annotations

import logging

from bot.settings import Settings, load_settings

logger = logging.getLogger("crossfeed")


def main() -> None:
    settings = load_settings()
    if settings.slack_app_token:
        serve_socket_mode(settings)
    else:
        serve_http(settings)


def serve_socket_mode(settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app import Crossfeed, create_app
    from bot.server import configure_logging

    configure_logging(settings)
    crossfeed = Crossfeed.start(settings)
    if settings.run_scheduler:
        from schedules.clock import start_in_background

        start_in_background(crossfeed)
    app = create_app(settings, crossfeed=crossfeed)
    logger.info("Crossfeed is running in Socket Mode")
    try:
        SocketModeHandler(app, settings.slack_app_token).start()
    except Exception as error:  # e.g. an invalid app token, or Slack unreachable
        logger.debug("Socket Mode failed", exc_info=error)
        raise SystemExit(f"crossfeed: could not connect to Slack in Socket Mode: {error}") from None


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


if __name__ == "__main__":
    main()
