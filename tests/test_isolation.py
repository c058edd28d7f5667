"""Each test's database starts as just migrated, whatever the tests before it did (see conftest.py)."""

from __future__ import annotations

from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session

from storage.db import make_engine
from storage.installations import ALL_METADATA
from storage.models import LeadSource, Workspace
from storage.teams import workspace_config

# What migrating creates: the models' tables, slack-sdk's installation and OAuth-state stores', and Alembic's own.
MIGRATED_TABLES = {name for metadata in ALL_METADATA for name in metadata.tables} | {"alembic_version"}

def test_a_postgresql_test_database_is_emptied_back_to_just_migrated(postgresql_database):
    engine = make_engine(postgresql_database.url)
    try:
        with Session(engine) as session, session.begin():
            workspace_config(session=session, team_id="T1")
            session.add(LeadSource(team_id="T1", code="trade-show-2026", label="Trade show 2026"))
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE left_behind (id integer)"))
        # A connection left open in a transaction, holding locks on what is to be emptied.
        holder = engine.connect()
        holder.execute(text("SELECT * FROM lead_sources FOR UPDATE"))

        postgresql_database.empty()
        holder.invalidate()

        assert set(inspect(engine).get_table_names()) == MIGRATED_TABLES
        with Session(engine) as session, session.begin():
            assert all(session.scalar(select(func.count()).select_from(table)) == 0
                       for metadata in ALL_METADATA for table in metadata.sorted_tables)
            assert session.scalar(text("SELECT count(*) FROM alembic_version")) == 1
            session.add(Workspace(team_id="T1"))
            session.flush()
            source = LeadSource(team_id="T1", code="trade-show-2026", label="Trade show 2026")
            session.add(source)
            session.flush()
            assert source.id == 1, "sequences start again"
    finally:
        engine.dispose()
    postgresql_database.empty()


def test_a_postgresql_test_database_whose_schema_a_test_changed_is_made_anew(postgresql_database):
    with make_engine(postgresql_database.url).begin() as connection:
        connection.execute(text("DROP TABLE lead_rating_reasons"))
        connection.execute(text("ALTER TABLE lead_sources ADD COLUMN note text"))

    postgresql_database.empty()

    engine = make_engine(postgresql_database.url)
    try:
        assert set(inspect(engine).get_table_names()) == MIGRATED_TABLES
        assert "note" not in {column["name"] for column in inspect(engine).get_columns("lead_sources")}
    finally:
        engine.dispose()
