"""How processes on several machines coordinate through PostgreSQL: the clock's lock and the outbox workers' wake-up.

Both hold a connection of their own for as long as the process runs, outside the pool: a session-level advisory
lock belongs to its connection (a pooled one given back would keep it held), and LISTEN hears only on the
connection that ran it. On SQLite (one process) the lock is always this process's and nobody is woken.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every process sharing the database (see MIGRATION_LOCK_ID).
CLOCK_LOCK_ID = 0x0C10CFEED
OUTBOX_CHANNEL = "crossfeed_outbox"
# A machine that vanishes (power, network) closes no socket. These make both ends give up on a silent peer in
# about 10 s, so the lock of a dead clock is released that soon, and a clock cut off learns it as soon.
CLIENT_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
                     "tcp_user_timeout": 10_000}
SERVER_KEEPALIVES = "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3"


def _dedicated_connection(engine: Engine) -> Connection:
    """A connection of its own (closing it really closes it), in autocommit: it never sits in a transaction."""
    own = create_engine(engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT", hide_parameters=True,
                        connect_args=CLIENT_KEEPALIVES)
    connection = own.connect()
    connection.exec_driver_sql(SERVER_KEEPALIVES)
    return connection


def _close(connection: Connection | None) -> None:
    """Close a dedicated connection, which may already be gone (then so is what it held)."""
    if connection is not None:
        with contextlib.suppress(Exception):
            connection.close()
        connection.engine.dispose()


class ClockLock:
    """The right to run the clock's jobs: a PostgreSQL session-level advisory lock on a connection of its own.

    PostgreSQL releases it when that connection ends, however the holder ends (exit, crash, a machine that
    vanished, after the keepalives above), so a standby clock trying every few seconds takes over.
    """

    def __init__(self, engine: Engine, lock_id: int = CLOCK_LOCK_ID):
        self.engine = engine
        self.lock_id = lock_id
        self.shared = engine.dialect.name == "postgresql"
        self._connection: Connection | None = None
        self._lock = threading.Lock()  # the connection is used by the clock's loop and its job threads

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; True if this process holds it now (always, on SQLite)."""
        if not self.shared:
            return True
        with self._lock:
            try:
                if self._connection is None:
                    self._connection = _dedicated_connection(self.engine)
                taken = self._connection.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": self.lock_id})
                if taken.scalar():
                    return True
            except Exception as error:  # the database is unreachable: no clock runs jobs, this one tries again
                logger.warning("could not ask the database for the clock lock: %s", error.__class__.__name__)
                self._drop()
            return False

    def held(self) -> bool:
        """Whether this process still holds the lock: its connection still answers (the lock lives as long)."""
        if not self.shared:
            return True
        with self._lock:
            if self._connection is None:
                return False
            try:
                return bool(self._connection.execute(text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()"
                    " AND classid = (:id >> 32) AND objid = (:id & 4294967295) AND objsubid = 1"),
                    {"id": self.lock_id}).scalar())
            except Exception:
                self._drop()
                return False

    def release(self) -> None:
        """Give the lock up by closing its connection (a standby takes it at its next try)."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        _close(connection)


def notify_workers(session) -> None:
    """Wake the outbox workers when this transaction commits (PostgreSQL delivers a NOTIFY only then)."""
    session.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))


class OutboxWakeups:
    """What an outbox worker waits on between passes: a NOTIFY from a commit that queued a message, or the
    end of its poll interval. A lost connection is made again at the next wait; until then it just polls."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._connection: Connection | None = None

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds; True if a commit queued something meanwhile (or just before)."""
        try:
            if self._connection is None:
                self._connection = _dedicated_connection(self.engine)
                self._connection.exec_driver_sql(f"LISTEN {OUTBOX_CHANNEL}")
                return True  # messages queued while nobody listened: look at once
            driver = self._connection.connection.driver_connection
            woken = bool(list(driver.notifies(timeout=timeout, stop_after=1)))
            if woken:
                list(driver.notifies(timeout=0))  # the commits of the same moment: one pass sends them all
            return woken
        except Exception as error:
            logger.warning("lost the outbox wake-up connection (%s); polling until it is back",
                           error.__class__.__name__)
            self.close()
            threading.Event().wait(timeout)
            return False

    def close(self) -> None:
        connection, self._connection = self._connection, None
        _close(connection)
