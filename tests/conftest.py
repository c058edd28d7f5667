"""Fixtures: a fake Slack on loopback, a temporary database (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set), and the real app served over HTTP on loopback."""

from __future__ import annotations

import os
import threading
import uuid
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from sqlalchemy import create_engine, text

from bot.app import create_app
from bot.container import Crossfeed
from bot.server import CrossfeedWSGI
from bot.settings import Settings
from tests.fake_slack import FakeSlackServer
from tests.slack_driver import SlackDriver

SECRET = "test-signing-secret"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


@pytest.fixture(autouse=True)
def _no_real_slack_settings(monkeypatch):
    # A developer's own SLACK_* or DATABASE_URL must never leak into a test.
    for name in list(os.environ):
        if name.startswith(("SLACK_", "DATABASE_URL", "LEAD_FEED")):
            monkeypatch.delenv(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/crossfeed.db"
        return
    if not TEST_DATABASE_URL:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL")
    # Each test gets a schema of its own, dropped afterwards.
    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = Settings.model_validate({"slack_bot_token": "x", "slack_signing_secret": "x",
                                   "database_url": TEST_DATABASE_URL}).database_url
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in url else "?"
    yield f"{url}{separator}options=-csearch_path%3D{schema}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def fake_slack():
    server = FakeSlackServer().start()
    yield server
    server.stop()
    assert not server.problems, f"Slack would have rejected: {server.problems}"


@pytest.fixture
def settings(database_url, fake_slack):
    return make_settings(database_url, fake_slack)


def make_settings(database_url: str, fake_slack: FakeSlackServer, **overrides) -> Settings:
    values = dict(slack_bot_token="xoxb-test", slack_signing_secret=SECRET, slack_api_url=fake_slack.url,
                  database_url=database_url, slack_max_rate_limit_retries=2)
    return Settings(_env_file=None, **{**values, **overrides})


@pytest.fixture
def crossfeed(settings):
    runtime = Crossfeed.start(settings)
    yield runtime
    runtime.close()


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


class RunningApp:
    """The real app behind HTTP on loopback, plus the driver that talks to it like Slack."""

    def __init__(self, settings: Settings, fake_slack: FakeSlackServer, crossfeed: Crossfeed):
        self.settings = settings
        self.crossfeed = crossfeed
        self.fake = fake_slack
        wsgi = CrossfeedWSGI(create_app(settings, crossfeed=crossfeed), crossfeed)
        self.server = make_server("127.0.0.1", 0, wsgi, server_class=_ThreadingWSGIServer,
                                  handler_class=_QuietHandler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.slack = SlackDriver(app_url=self.url, secret=SECRET, fake=fake_slack)

    def settle(self) -> None:
        """Wait until work after ack and outbox deliveries have finished."""
        assert self.crossfeed.wait_idle(10), "background work did not finish"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def running(settings, fake_slack, crossfeed):
    app = RunningApp(settings, fake_slack, crossfeed)
    yield app
    app.settle()
    app.stop()


@pytest.fixture
def slack(running) -> SlackDriver:
    return running.slack


@pytest.fixture
def start_app(database_url, fake_slack):
    """Start the app with some settings changed, e.g. start_app(lead_feed_channel="C_FEED")."""
    started = []

    def start(**overrides) -> RunningApp:
        runtime = Crossfeed.start(make_settings(database_url, fake_slack, **overrides))
        app = RunningApp(runtime.settings, fake_slack, runtime)
        started.append(app)
        return app

    yield start
    for app in started:
        app.settle()
        app.stop()
        app.crossfeed.close()
