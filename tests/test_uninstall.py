"""app_uninstalled and tokens_revoked: the installation goes, the workspace is refused and its jobs stop, its data
is deleted DATA_RETENTION_DAYS later by the clock, and a reinstall before then keeps it."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select, text

from storage.installations import INSTALLATION_METADATA
from storage.models import Base, OutboxMessage, Workspace
from storage.outbox import enqueue, home_refresh
from tests.clock_kit import TurnedClock
from tests.helpers import OAUTH, browse, install
from tests.test_many_workspaces import INSTALLED, PEOPLE, PULSE, SECRETS, seed


@pytest.fixture
def app(start_app):
    with freeze_time(INSTALLED):
        running = start_app(**OAUTH)
        for team_id in SECRETS:
            assert install(running, team_id).status == 200
            seed(running, team_id)
        running.settle()
    running.fake.reset()
    return running


def event(app, team_id: str, kind: str = "app_uninstalled", **fields):
    body = {"type": "event_callback", "team_id": team_id, "api_app_id": "A1", "event_id": f"Ev{time.time_ns()}",
            "event_time": 1, "event": {"type": kind, **fields}}
    reply = app.slack.post(json.dumps(body), content_type="application/json")
    app.settle()
    return reply


def installed_teams(app) -> set[str]:
    with app.crossfeed.engine.connect() as connection:
        return set(connection.execute(text("SELECT team_id FROM slack_bots")).scalars())


def uninstalled_at(app, team_id: str):
    with app.crossfeed.sessions() as session:
        return session.get(Workspace, team_id).uninstalled_at


def rows_of(app, team_id: str) -> dict[str, int]:
    """Every table's row count for the workspace (tables without any left out)."""
    counts = {}
    with app.crossfeed.sessions() as session:
        for table in [*Base.metadata.sorted_tables, *INSTALLATION_METADATA.sorted_tables]:
            if "team_id" in table.columns:
                count = session.scalar(select(func.count()).select_from(table).where(table.c.team_id == team_id))
                if count:
                    counts[table.name] = count
    return counts


def told(app) -> list[str]:
    return [call.params["text"] for call in app.fake.calls_to("response_url")]


def test_app_uninstalled_removes_the_installation_and_refuses_the_workspace_from_then_on(app):
    with freeze_time(INSTALLED + timedelta(hours=1)):
        first = event(app, "T2")
        again = event(app, "T2")  # Slack retries; the first uninstall time counts
        refused = app.slack.command("/leadfeedback", "mine", user="U1", team="T2")
        served = app.slack.command("/leadfeedback", "mine", user="U1", team="T3")
        app.settle()

    assert first.status == again.status == 200
    assert installed_teams(app) == {"T3"}
    with app.crossfeed.engine.connect() as connection:
        assert set(connection.execute(text("SELECT team_id FROM slack_installations")).scalars()) == {"T3"}
    assert uninstalled_at(app, "T2") == INSTALLED + timedelta(hours=1)
    assert uninstalled_at(app, "T3") is None
    assert refused.status == 200 and "TWO-SECRET" not in refused.body
    assert ["isn't installed in this workspace" in t for t in told(app)] == [True]
    assert "THREE-SECRET" in served.body
    assert not [c for c in app.fake.calls if c.auth == "Bearer xoxb-T2"]


def test_a_revoked_bot_token_is_an_uninstall_and_a_revoked_user_token_is_not(app):
    with freeze_time(INSTALLED + timedelta(hours=1)):
        event(app, "T2", "tokens_revoked", tokens={"oauth": ["UINSTALLER"]})
        assert installed_teams(app) == {"T2", "T3"} and uninstalled_at(app, "T2") is None

        event(app, "T2", "tokens_revoked", tokens={"bot": ["UBOT"]})

    assert installed_teams(app) == {"T3"} and uninstalled_at(app, "T2") == INSTALLED + timedelta(hours=1)


def test_the_jobs_of_an_uninstalled_workspace_stop(app):
    with freeze_time(INSTALLED + timedelta(hours=1)):
        event(app, "T2")

    with freeze_time(PULSE - timedelta(minutes=5)) as frozen:
        clock = TurnedClock(app.settings)
        try:
            frozen.move_to(PULSE)
            clock.turn()
        finally:
            clock.stop()

    prompted = sorted(c.params["channel"] for c in app.fake.calls_to("chat.postMessage", succeeded=True))
    assert prompted == PEOPLE, "T3's people only"
    assert {c.auth for c in app.fake.calls} == {"Bearer xoxb-T3"}


def test_a_message_queued_for_a_workspace_that_uninstalled_is_dropped_not_retried(app):
    with freeze_time(INSTALLED + timedelta(hours=1)):
        event(app, "T2")
        # A rating queues a Home refresh for the rater; here it was queued just before the uninstall was known.
        with app.crossfeed.transaction() as session:
            enqueue(session=session, team_id="T2", messages=[home_refresh("U1")], now=INSTALLED + timedelta(hours=1))
        app.settle()
        app.crossfeed.outbox.deliver_due()

    with app.crossfeed.sessions() as session:
        [message] = session.scalars(select(OutboxMessage).where(OutboxMessage.team_id == "T2",
                                                                OutboxMessage.status != "sent")).all()
    assert message.status == "failed"
    assert "not installed" in message.last_error
    assert not [c for c in app.fake.calls if c.auth == "Bearer xoxb-T2"]


def turn_retention(app, at) -> None:
    """The clock's retention job, reached through the clock's job table at `at`."""
    with freeze_time(at - timedelta(minutes=6)) as frozen:
        clock = TurnedClock(app.settings)
        try:
            frozen.move_to(at)
            clock.turn()
        finally:
            clock.stop()


def test_the_data_of_an_uninstalled_workspace_is_deleted_after_the_retention_period(app):
    uninstalled = INSTALLED + timedelta(hours=1)
    with freeze_time(uninstalled):
        event(app, "T2")
    kept = rows_of(app, "T2")
    theirs = rows_of(app, "T3")

    turn_retention(app, uninstalled + timedelta(days=29, hours=23))
    assert rows_of(app, "T2") == kept
    assert {"lead_ratings", "workspaces", "team_members"} <= set(kept)

    with freeze_time(uninstalled):
        browse(app.url + "/slack/install")  # an install started and never finished
    turn_retention(app, uninstalled + timedelta(days=30, minutes=30))
    assert rows_of(app, "T2") == {}
    with app.crossfeed.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM slack_oauth_states")).scalar() == 0
    assert set(theirs) <= set(rows_of(app, "T3")), "the other workspace keeps everything (and its jobs ran on)"
    assert rows_of(app, "T3")["lead_ratings"] == theirs["lead_ratings"]


def test_reinstalling_within_the_retention_period_keeps_the_data(app):
    uninstalled = INSTALLED + timedelta(hours=1)
    with freeze_time(uninstalled):
        event(app, "T2")
    with freeze_time(uninstalled + timedelta(days=10)):
        notice = browse(app.url + "/slack/install?team=T2")
        assert install(app, "T2", code="code-T2.again").status == 200

    turn_retention(app, uninstalled + timedelta(days=31))

    assert "Crossfeed was removed from this workspace on 1 December 2026" in notice.body
    assert "Its data is kept until 31 December 2026" in notice.body
    assert uninstalled_at(app, "T2") is None and installed_teams(app) == {"T2", "T3"}
    with freeze_time(uninstalled + timedelta(days=31)):
        mine = app.slack.command("/leadfeedback", "mine", user="U1", team="T2")
    assert "TWO-SECRET" in mine.body
