"""Entry point for production WSGI servers: `gunicorn bot.wsgi:application`."""

from bot.server import build_wsgi
from bot.settings import load_settings

try:
    settings = load_settings()
except SystemExit:
    # load_settings has printed the problem. Exit status 3 is gunicorn's "worker failed to boot", which stops
    # the server; any other status makes it boot the worker again, forever (with no -c bot.gunicorn_config).
    raise SystemExit(3) from None

application = build_wsgi(settings)
