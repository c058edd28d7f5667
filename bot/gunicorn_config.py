"""gunicorn settings for the Procfile's web line: `gunicorn -c python:bot.gunicorn_config bot.wsgi:application`."""

from bot.settings import load_settings


def on_starting(server) -> None:
    # In the master, before any worker is forked: a missing or bad setting prints one line and exits 2.
    # Found in a worker instead, it would only end that worker, and gunicorn would boot another, forever.
    load_settings()
