"""Storage: migrations match the models, SQLite is configured, uniqueness holds under races."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from storage.db import make_engine, migrate
from storage.models import Base
from tests.helpers import rating_count, ratings


def test_migrations_build_exactly_the_models_schema(crossfeed):
    with crossfeed.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_migrating_twice_is_harmless(crossfeed):
    migrate(crossfeed.engine)
    assert "lead_ratings" in inspect(crossfeed.engine).get_table_names()


def test_every_table_carries_its_workspace(crossfeed):
    for table in Base.metadata.sorted_tables:
        assert "team_id" in table.columns, table.name


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_simultaneous_identical_ratings_leave_one_row(running, slack):
    body = slack.command_body("/leadfeedback", "ACME-1 2 no-budget")

    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda _: slack.post(body), range(16)))

    assert [r.status for r in replies] == [200] * 16
    assert rating_count(running.crossfeed) == 1
    assert len(ratings(running.crossfeed)[0].reasons) == 1


def test_a_failed_statement_keeps_peoples_text_out_of_the_error_and_so_out_of_the_logs(crossfeed):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    secret_note = "call me on my private number 555-0199"
    with pytest.raises(DBAPIError) as failed, crossfeed.engine.connect() as connection:
        connection.execute(text("INSERT INTO no_such_table (note) VALUES (:note)"), {"note": secret_note})

    assert secret_note not in str(failed.value)
