"""Alembic environment: uses the connection handed over by storage.db.migrate, or DATABASE_URL."""

import os

from alembic import context
from sqlalchemy import pool

from storage.db import foreign_keys_off, make_engine
from storage.installations import ALL_METADATA
from storage.settings import DEFAULT_DATABASE_URL, normalise_database_url

# The models, and slack-sdk's installation and OAuth state tables (created by 0012), so `alembic check` compares both.
target_metadata = ALL_METADATA


def run_with(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_with(connection)
else:
    # The alembic CLI (e.g. `alembic revision --autogenerate`): DATABASE_URL or the default file.
    url = context.config.get_main_option("sqlalchemy.url") or normalise_database_url(
        os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    with make_engine(url, poolclass=pool.NullPool).connect() as conn, foreign_keys_off(conn):
        run_with(conn)
        conn.commit()
