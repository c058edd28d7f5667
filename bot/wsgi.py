"""Entry point for production WSGI servers: `gunicorn bot.wsgi:application`."""

from bot.server import build_wsgi

application = build_wsgi()
