"""Storage: migrations match the models, SQLite is configured, uniqueness holds under races."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from storage.db import alembic_config, make_engine, migrate
from storage.installations import ALL_METADATA
from storage.models import Base
from tests.helpers import rating_count, ratings


def test_migrations_build_exactly_the_models_schema(crossfeed):
    with crossfeed.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, ALL_METADATA)  # the models and slack-sdk's stores' tables
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


def test_upgrading_keeps_every_row_that_references_a_rebuilt_table(tmp_path):
    """On SQLite Alembic alters a table by rebuilding it, and with foreign keys on the rebuild's DROP TABLE cascades:
    0009 rebuilds messaging_asks (its answers reference it) and 0011 pulse_rounds (its answers reference it).
    From 0008, with an answer to each, the upgrade must keep every row; and it times the old round for 0011."""
    engine = make_engine(f"sqlite:///{tmp_path}/old.db")
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0008")
        for statement in (
            "INSERT INTO workspaces (team_id, created_at) VALUES ('T1', '2026-10-01 00:00:00')",
            "INSERT INTO messaging_asks (team_id, asker_user_id, asker_side, name, audience, recipients, opened_at, "
            "closes_at, submission_key) VALUES ('T1', 'UMKT', 'marketing', 'Pricing page', 'channel', '[]', "
            "'2026-10-01 00:00:00', '2026-10-15 00:00:00', 'k')",
            "INSERT INTO messaging_answers (team_id, ask_id, rep_user_id, reaction, answered_at, updated_at) "
            "VALUES ('T1', 1, 'UREP', 'resonated', '2026-10-02 00:00:00', '2026-10-02 00:00:00')",
            "INSERT INTO pulse_rounds (team_id, period, opens_at, remind_at, closes_at, questions, sales_name, "
            "marketing_name, reminders_queued) VALUES ('T1', '2026-W40', '2026-10-01 14:00:00', "
            "'2026-10-02 14:00:00', '2026-10-04 14:00:00', '[]', 'Sales', 'Marketing', 1)",
            "INSERT INTO pulse_participation (team_id, round_id, user_id, side) VALUES ('T1', 1, 'U1', 'sales')",
            "INSERT INTO pulse_answers (team_id, round_id, respondent, question, side, score) "
            "VALUES ('T1', 1, 'k1', 0, 'sales', 4)",
            "INSERT INTO digest_posts (team_id, channel_id, week, status, claimed_at, late) "
            "VALUES ('T1', 'C1', '2026-W40', 'posted', '2026-10-05 14:00:00', 0)",
        ):
            connection.execute(text(statement))
    migrate(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM messaging_answers")).scalar() == 1
        assert connection.execute(text("SELECT count(*) FROM pulse_answers")).scalar() == 1
        assert connection.execute(text("SELECT prompt_at, remind_at, away FROM pulse_participation")).one() == (
            "2026-10-01 14:00:00", "2026-10-02 14:00:00", 0)
        assert connection.execute(text("SELECT prompted_through, reminded_through FROM pulse_rounds")).one() == (
            "2026-10-01 14:00:00", "2026-10-04 14:00:00")
        # 0014: a digest posted before shared channels was its workspace's own.
        assert connection.execute(text("SELECT posted_for, channel_id FROM digest_posts")).one() == ("T1", "C1")
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1  # on again for the app
    engine.dispose()
