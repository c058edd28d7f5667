"""The benches' throwaway databases: a temporary SQLite file, or a schema of its own in a PostgreSQL database."""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from storage.settings import normalise_database_url


@contextmanager
def fresh_database(url: str | None) -> Iterator[str]:
    """A URL to an empty database, removed afterwards: a temporary SQLite file when `url` is None, else a schema of
    its own in `url`'s PostgreSQL database (the URL sets its search_path), so a run never touches what is there."""
    if url is None:
        with tempfile.TemporaryDirectory(prefix="crossfeed-bench-") as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    url, schema = normalise_database_url(url), f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
        finally:
            _drop(admin, schema)
    finally:
        admin.dispose()


def _drop(admin, schema: str) -> None:
    for attempt in range(5):
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            return
        except OperationalError:  # a just-ended worker's session may still hold a lock: try again
            if attempt == 4:
                raise
            time.sleep(1)
