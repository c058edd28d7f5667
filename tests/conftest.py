"""Fixtures: a fake Slack on loopback, a database of each test's own (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set), and the real app served over HTTP on loopback.

Alembic runs once per session (per xdist worker): on SQLite into a template file each test copies, on
PostgreSQL into one database emptied before each test. A test's database is so already at head, and the
runtimes the fixtures start skip migrating.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from freezegun import freeze_time
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from bot.app import create_app
from bot.container import Crossfeed
from bot.server import CrossfeedWSGI
from bot.settings import Settings
from storage.db import make_engine, migrate
from storage.models import Base
from storage.settings import normalise_database_url
from tests.clock_kit import Clocks
from tests.fake_slack import SHUTDOWN_POLL, FakeSlackServer
from tests.helpers import APP_SETTINGS, SECRET, SlackDriver, make_settings

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


@pytest.fixture(autouse=True)
def _no_real_settings(monkeypatch):
    # A developer's own settings (SLACK_*, DATABASE_URL, LOG_LEVEL, …) must never leak into a test.
    for name in list(os.environ):
        if name.startswith(APP_SETTINGS):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Iterator[Path]:
    """A SQLite database migrated by Alembic once per session (per xdist worker); each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "crossfeed.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file and removes it
    assert not path.with_name(path.name + "-wal").exists(), "the template must be one self-contained file"
    fingerprint = hashlib.sha256(path.read_bytes()).hexdigest()
    yield path
    assert hashlib.sha256(path.read_bytes()).hexdigest() == fingerprint, "a test wrote to the template database"


# What a schema is made of, as one hash: each table's columns, indexes and constraints.
SCHEMA_FINGERPRINT = text("""
SELECT (SELECT array_agg(tablename::text) FROM pg_tables WHERE schemaname = current_schema()),
       md5(string_agg(part, ';' ORDER BY part))
FROM (
    SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
           || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') AS part
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' AND a.attnum > 0
          AND NOT a.attisdropped AND c.relname = ANY(:tables)
    UNION ALL
    SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ANY(:tables)
    UNION ALL
    SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace = current_schema()::regnamespace AND conrelid::regclass::text = ANY(:tables)
) AS parts
""")


class PostgreSQLTestDatabase:
    """A PostgreSQL database migrated by Alembic once per session (per xdist worker), emptied before each test.

    Emptying (DELETEs and sequence restarts) is much cheaper than a copy: CREATE DATABASE … TEMPLATE and
    TRUNCATE each cost 0.1–0.6 s of fsyncs on this machine, DELETE of a test's few rows about 40 ms. A test
    that changed the schema (one drops a table to make a request fail) gets the database made anew after it.
    """

    def __init__(self, server_url: str):
        self.admin = create_engine(make_url(normalise_database_url(server_url)), isolation_level="AUTOCOMMIT",
                                   poolclass=NullPool)
        self._create()

    def _create(self) -> None:
        self.name = f"cf_test_{uuid.uuid4().hex[:12]}"
        self.url = self.admin.url.set(database=self.name).render_as_string(hide_password=False)
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.engine = make_engine(self.url, pool_size=1)
        migrate(self.engine)
        with self.engine.connect() as connection:
            [tables, _] = connection.execute(SCHEMA_FINGERPRINT, {"tables": []}).one()
            self.tables = sorted(set(tables) - {"alembic_version"})
            _, self.fingerprint = connection.execute(SCHEMA_FINGERPRINT, {"tables": self.tables}).one()
            self.sequences = list(connection.scalars(text(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")))

    def empty(self) -> None:
        """Back to just migrated: no rows, sequences from 1, and no table a test created."""
        by_dependency = [table.name for table in reversed(Base.metadata.sorted_tables) if table.name in self.tables]
        with self.engine.begin() as connection:
            # Whatever a test left connected would hold locks that make the DELETEs wait.
            connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
            present, fingerprint = connection.execute(SCHEMA_FINGERPRINT, {"tables": self.tables}).one()
            if fingerprint == self.fingerprint:
                statements = [f'DROP TABLE "{name}" CASCADE' for name in set(present) - set(self.tables)
                              if name != "alembic_version"]
                statements += [f'DELETE FROM "{name}"' for name in self.tables if name not in by_dependency]
                statements += [f'DELETE FROM "{name}"' for name in by_dependency]
                statements += [f'ALTER SEQUENCE "{name}" RESTART' for name in self.sequences]
                connection.exec_driver_sql("; ".join(statements))
                return
        self.drop()
        self._create()

    def drop(self) -> None:
        self.engine.dispose()
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgresql_database() -> Iterator[PostgreSQLTestDatabase]:
    if not TEST_DATABASE_URL:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL")
    database = PostgreSQLTestDatabase(TEST_DATABASE_URL)
    yield database
    database.drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """A migrated database with nothing in it, the test's own: a copy of the session's template on SQLite,
    the session's database emptied on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "crossfeed.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    database = request.getfixturevalue("postgresql_database")
    database.empty()
    return database.url


@pytest.fixture
def fake_slack():
    server = FakeSlackServer().start()
    yield server
    server.stop()
    assert not server.problems, f"Slack would have rejected: {server.problems}"


@pytest.fixture
def settings(database_url, fake_slack):
    return make_settings(database_url, fake_slack)


@pytest.fixture
def crossfeed(settings):
    runtime = Crossfeed.start(settings, apply_migrations=False)
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
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL},
                         daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.slack = SlackDriver(app_url=self.url, secret=SECRET, fake=fake_slack)

    def settle(self) -> None:
        """Wait until work after ack and outbox deliveries have finished."""
        assert self.crossfeed.wait_idle(30), "background work did not finish"  # generous: a loaded CI machine

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
        runtime = Crossfeed.start(make_settings(database_url, fake_slack, **overrides), apply_migrations=False)
        app = RunningApp(runtime.settings, fake_slack, runtime)
        started.append(app)
        return app

    yield start
    for app in started:
        app.settle()
        app.stop()
        app.crossfeed.close()


@pytest.fixture
def clocks(app):
    """Clock processes under a frozen time: `clocks(moment, count=2)` (the test module's `app` is what they serve)."""
    started: list[tuple[object, Clocks]] = []

    def start(at: datetime, count: int = 1) -> Clocks:
        """Freeze time at `at` and start `count` clock processes there."""
        freezer = freeze_time(at)
        clock = Clocks(app, freezer.start(), count)
        started.append((freezer, clock))
        return clock

    yield start
    for freezer, clock in started:
        clock.stop()
        freezer.stop()
