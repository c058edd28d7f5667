"""Engine and session factory from DATABASE_URL, and migrations applied at start."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same in every process sharing the database.
MIGRATION_LOCK_ID = 0x0C50FEED
READ_ONLY = "crossfeed_read_only"  # execution option of sessions that only read (see `reading`)
HOLDS_WRITER = "crossfeed.holds_writer"  # Connection.info: this transaction took the SQLite write lock


def make_engine(database_url: str, **kwargs) -> Engine:
    """An engine for DATABASE_URL; SQLite gets WAL, foreign keys and write-ahead locking."""
    # SQLAlchemy puts a failed statement's parameters (people's text) into the error, and so into the logs.
    kwargs.setdefault("hide_parameters", True)
    if database_url.startswith("sqlite"):
        engine = create_engine(
            database_url,
            connect_args={"timeout": 30, "check_same_thread": False},
            **kwargs,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(database_url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not pysqlite, decide where transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # SQLite allows one writer. Threads of this process queue on a lock instead of each polling
    # SQLite's busy handler, whose growing sleeps (up to 100 ms a try) made the tail latency.
    writer = threading.RLock()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if connection.get_execution_options().get(READ_ONLY):
            # WAL lets a reader see the last commit while a writer works: no lock to take or wait for.
            connection.exec_driver_sql("BEGIN")
            return
        writer.acquire()
        connection.info[HOLDS_WRITER] = True
        try:
            # A deferred transaction that reads and then writes fails with "database is locked"
            # without waiting for busy_timeout; taking the write lock up front makes it wait instead.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            connection.info.pop(HOLDS_WRITER, None)
            writer.release()
            raise

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection):
        if connection.info.pop(HOLDS_WRITER, False):
            writer.release()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def reading(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions for work that only reads (composing queued messages): on SQLite they neither take nor wait
    for the process's one write lock, so requests don't queue behind rendering. Writing in one is a bug."""
    return sessionmaker(sessions.kw["bind"].execution_options(**{READ_ONLY: True}), expire_on_commit=False)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe when several processes start at once."""
    with engine.connect() as connection, foreign_keys_off(connection), connection.begin():
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        if engine.dialect.name == "sqlite" and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
            raise RuntimeError("the migration left rows whose foreign keys point nowhere; nothing was changed")


@contextmanager
def foreign_keys_off(connection: Connection) -> Iterator[None]:
    """On SQLite, foreign keys off while migrating, then on again.

    Alembic alters a SQLite table by rebuilding it (copy, DROP TABLE, rename), and with foreign keys on, the DROP
    cascades: rebuilding lead_ratings, messaging_asks or pulse_rounds would delete every row that references them
    (reasons, answers, pulse answers). SQLite ignores the pragma inside a transaction, so it is set on the driver's
    connection before the migration's transaction begins; `migrate` checks the keys before committing.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    driver = connection.connection.driver_connection
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        driver.execute("PRAGMA foreign_keys=ON")


def database_answers(engine: Engine) -> bool:
    """True when the database answers a trivial query (for /healthz)."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
