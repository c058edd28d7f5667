"""Work after the request: the after-ack pool, and outbox delivery started by the commit that queued it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from bot.background import AfterAck
from bot.leads import parse_quick_rating, rate_lead
from storage.outbox import queue_home_refresh
from storage.queries import ensure_workspace
from tests.helpers import outbox


def test_work_handed_over_after_shutdown_is_refused_and_leaves_nothing_in_flight():
    after_ack = AfterAck(workers=1)
    after_ack.shutdown()

    with pytest.raises(RuntimeError):
        after_ack.run(lambda: None, on_error=lambda error: None)

    assert after_ack.wait_idle(0.1) is True


def test_a_failure_is_reported_and_the_pool_goes_idle():
    after_ack, reported = AfterAck(workers=1), []

    after_ack.run(lambda: 1 / 0, on_error=reported.append)

    assert after_ack.wait_idle(2) is True
    assert [type(error) for error in reported] == [ZeroDivisionError]
    after_ack.shutdown()


# --- delivery started by the commit --------------------------------------------------------------


@pytest.fixture
def passes(crossfeed, monkeypatch):
    """How many delivery passes the outbox ran in the background."""
    started, deliver = [], crossfeed.outbox.deliver_due

    def counted():
        started.append(1)
        return deliver()

    monkeypatch.setattr(crossfeed.outbox, "deliver_due", counted)
    return started


def test_a_commit_that_queued_a_message_starts_its_delivery(crossfeed, fake_slack, passes):
    with crossfeed.transaction() as session:
        ensure_workspace(session=session, team_id="T1")
        queue_home_refresh(session=session, team_id="T1", user_ids=["U1"], now=datetime.now(UTC))
    assert crossfeed.wait_idle(10)

    assert len(passes) == 1
    assert [call.params["user_id"] for call in fake_slack.calls_to("views.publish")] == ["U1"]
    assert [(m.kind, m.status) for m in outbox(crossfeed)] == [("home", "sent")]


def test_a_commit_that_queued_nothing_starts_no_delivery(crossfeed, fake_slack, passes):
    with crossfeed.transaction() as session:
        ensure_workspace(session=session, team_id="T1")
    assert crossfeed.wait_idle(10)

    assert passes == [] and fake_slack.calls == []


def test_a_rolled_back_transaction_queues_nothing_and_starts_nothing(crossfeed, fake_slack, passes):
    with crossfeed.transaction() as session:
        ensure_workspace(session=session, team_id="T1")
    with pytest.raises(RuntimeError), crossfeed.transaction() as session:
        queue_home_refresh(session=session, team_id="T1", user_ids=["U1"], now=datetime.now(UTC))
        raise RuntimeError("something after the queueing failed")
    with crossfeed.sessions() as session:  # one session: a rollback, then a commit of nothing queued
        queue_home_refresh(session=session, team_id="T1", user_ids=["U2"], now=datetime.now(UTC))
        session.rollback()
        session.commit()
    assert crossfeed.wait_idle(10)

    assert outbox(crossfeed) == [] and passes == [] and fake_slack.calls == []


def test_a_rating_queues_its_feed_post_and_the_raters_home_refresh_in_one_statement(crossfeed):
    with crossfeed.transaction() as session:
        ensure_workspace(session=session, team_id="T1")
    inserts = []

    def statement(connection, cursor, sql, parameters, context, executemany):
        if sql.lstrip().upper().startswith("INSERT INTO OUTBOX"):
            inserts.append(sql)

    event.listen(crossfeed.engine, "before_cursor_execute", statement)
    try:
        with crossfeed.transaction() as session:
            rate_lead(session=session, team_id="T1", user_id="U1", rating=parse_quick_rating("ACME-1 1 spam"),
                      now=datetime.now(UTC), default_lead_feed_channel="C_FEED")
    finally:
        event.remove(crossfeed.engine, "before_cursor_execute", statement)
    assert crossfeed.wait_idle(10)

    assert len(inserts) == 1
    assert sorted(m.dedupe_key for m in outbox(crossfeed)) == ["home:U1", "lead-feed:1"]


def test_a_delivery_pass_claims_in_one_statement_and_records_in_one(crossfeed, fake_slack):
    """What the pass itself costs, whatever its composers read, for any number of messages: claim 1 + record 1,
    then the claim that finds nothing and the look at what comes due next. The claim says which messages have a
    learned pace: an unpaced workspace's paces aren't read (tests/test_pacing.py covers a paced one)."""
    with crossfeed.transaction() as session:
        ensure_workspace(session=session, team_id="T1")
    statements = []
    crossfeed.outbox.composers = {"home": lambda session, message: None}  # composed without SQL: nothing to send
    event.listen(crossfeed.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with crossfeed.transaction() as session:
        queue_home_refresh(session=session, team_id="T1", user_ids=[f"U{n}" for n in range(20)],
                           now=datetime.now(UTC))
    assert crossfeed.wait_idle(10)

    # (SQLite's BEGIN IMMEDIATE is how this app opens a write transaction there, not a statement of the pass; on
    # PostgreSQL the claim is one `WITH candidates AS MATERIALIZED (…) UPDATE …`.)
    kinds = ["UPDATE" if sql.startswith("WITH candidates") else sql.split()[0].upper() for sql in statements]
    assert [kind for kind in kinds if kind != "BEGIN"] == ["INSERT", "UPDATE", "UPDATE", "UPDATE", "SELECT"]
    assert {m.status for m in outbox(crossfeed)} == {"sent"} and len(outbox(crossfeed)) == 20
