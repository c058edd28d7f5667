"""Slack's rate limits are per workspace: a 429 for one workspace pauses only that workspace's messages (for the
method it was, until Retry-After), for every worker through the database, and the other workspaces' messages go on
at once. Nothing is lost or sent twice, and a 429 doesn't count as a failed attempt."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from bot.container import Crossfeed
from storage import outbox as outbox_store
from storage import teams as store
from storage.models import OutboxMessage, SlackPause
from tests import fake_slack as fake_module
from tests.helpers import OAUTH, install

BIG, SMALL = "T2", "T3"


@pytest.fixture
def app(start_app):
    running = start_app(**OAUTH)
    for team_id in (BIG, SMALL):
        assert install(running, team_id).status == 200
        with running.crossfeed.transaction() as session:
            store.workspace_config(session=session, team_id=team_id).timezone = "America/New_York"
    running.settle()
    running.fake.reset()
    return running


def queue_homes(app, team_id: str, count: int) -> None:
    """Home refreshes for `count` people of a workspace (queued without delivering: the test delivers)."""
    with app.crossfeed.sessions.begin() as session:
        outbox_store.enqueue(session=session, team_id=team_id, now=datetime.now(UTC),
                             messages=[outbox_store.home_refresh(f"U{n:03d}") for n in range(count)])
        session.info.pop(outbox_store.QUEUED, None)  # no after-commit pass: the test runs the passes itself


def published(app, team_id: str) -> list[str]:
    return [c.params["user_id"] for c in app.fake.calls_to("views.publish", succeeded=True)
            if c.auth == f"Bearer xoxb-{team_id}"]


def attempts(app, team_id: str) -> list[str]:
    return [c.params["user_id"] for c in app.fake.calls_to("views.publish") if c.auth == f"Bearer xoxb-{team_id}"]


def test_a_rate_limited_workspace_waits_alone_and_loses_nothing(app):
    # The big workspace's Home refreshes come first in the queue; Slack tells it to slow down for 30 s.
    app.fake.script.fail("views.publish", times=1000, status=429, retry_after=30, token=f"xoxb-{BIG}")
    queue_homes(app, BIG, 40)
    queue_homes(app, SMALL, 5)

    report = app.crossfeed.outbox.deliver_due()

    # One call to the big workspace: its 429 paused the rest of its batch instead of sleeping 30 s per message.
    assert len(attempts(app, BIG)) == 1 and published(app, BIG) == []
    assert sorted(published(app, SMALL)) == [f"U{n:03d}" for n in range(5)], "the other workspace went on at once"
    assert report.rate_limited == 1 and report.failed == 0
    with app.crossfeed.sessions() as session:
        [pause] = session.scalars(select(SlackPause)).all()
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.team_id == BIG)).all()
    assert (pause.team_id, pause.method) == (BIG, "views.publish")
    assert timedelta(seconds=25) < pause.until - datetime.now(UTC) <= timedelta(seconds=30)
    assert {(row.status, row.attempts) for row in rows} == {("pending", 0)}, "a 429 isn't a failed attempt"

    # Another worker (another process on the same database) honours the pause too: it claims none of them.
    other = Crossfeed.start(app.settings, apply_migrations=False)
    try:
        other.outbox.deliver_due()
        assert len(attempts(app, BIG)) == 1
        # Once the pause is over (and Slack is willing), every message goes, each exactly once.
        app.fake.script.failures.clear()
        with freeze_time(datetime.now(UTC) + timedelta(seconds=31)) as frozen:
            for outbox in (other.outbox, app.crossfeed.outbox):
                outbox.wait = lambda stopping, seconds: frozen.tick(seconds)  # paced from now on: time moves
            other.outbox.deliver_due()
            app.crossfeed.outbox.deliver_due()
    finally:
        other.close()
    assert sorted(published(app, BIG)) == [f"U{n:03d}" for n in range(40)]
    with app.crossfeed.sessions() as session:
        assert {row.status for row in session.scalars(select(OutboxMessage))} == {"sent"}


def test_a_short_retry_after_is_waited_out_within_the_pass(app):
    app.fake.script.fail("views.publish", times=1, status=429, retry_after=1, token=f"xoxb-{BIG}")
    queue_homes(app, BIG, 3)

    report = app.crossfeed.outbox.deliver_due()

    assert sorted(published(app, BIG)) == ["U000", "U001", "U002"] and report.rate_limited == 1


def test_a_wait_that_wakes_a_little_early_still_ends_in_the_sends_it_waited_for(app):
    # A wait runs on the monotonic clock, the pauses on the wall clock: slewed by NTP (or a VM), the wall clock
    # may read a little short of the pause's end when the wait returns. The pass went home then, leaving the
    # workspace's messages for the periodic job a minute later (a flaky test on a CI machine).
    app.fake.script.fail("views.publish", times=1, status=429, retry_after=1, token=f"xoxb-{BIG}")
    queue_homes(app, BIG, 3)
    outbox = app.crossfeed.outbox
    outbox.wait = lambda stopping, seconds: stopping.wait(max(0.0, seconds - 0.05))  # wakes 50 ms early

    report = outbox.deliver_due()

    assert sorted(published(app, BIG)) == ["U000", "U001", "U002"] and report.rate_limited == 1


# --- Proactive pacing: once Slack refused a workspace, its calls are spaced to what Slack allowed -------------------


def timed_publishes(monkeypatch) -> list[datetime]:
    """When each successful views.publish reached the fake (the frozen clock, moved on by the outbox's waits)."""
    times: list[datetime] = []
    real = fake_module.ANSWERS["views.publish"]

    def timed(server, params):
        times.append(datetime.now(UTC))
        return real(server, params)

    monkeypatch.setitem(fake_module.ANSWERS, "views.publish", timed)
    return times


def ticking(frozen, *outboxes) -> None:
    for outbox in outboxes:
        outbox.wait = lambda stopping, seconds: frozen.tick(seconds)  # a wait moves the frozen clock on


def test_after_a_429_a_workspace_is_paced_to_what_slack_allowed_while_another_is_not_held_up(app, monkeypatch):
    times = timed_publishes(monkeypatch)
    # Slack took three of the big workspace's calls in that second, then refused the fourth.
    app.fake.script.fail("views.publish", times=1, status=429, retry_after=1, token=f"xoxb-{BIG}", after=3)
    queue_homes(app, BIG, 30)
    queue_homes(app, SMALL, 5)
    start = datetime.now(UTC)

    with freeze_time(start) as frozen:
        ticking(frozen, app.crossfeed.outbox)
        report = app.crossfeed.outbox.deliver_due()

    calls = app.fake.calls_to("views.publish", succeeded=True)
    when = {(call.auth, call.params["user_id"]): at for call, at in zip(calls, times, strict=True)}
    big = sorted(at for (auth, _), at in when.items() if auth == f"Bearer xoxb-{BIG}")
    small = [at for (auth, _), at in when.items() if auth == f"Bearer xoxb-{SMALL}"]
    assert sorted(published(app, BIG)) == [f"U{n:03d}" for n in range(30)], "each once, none lost"
    assert sorted(published(app, SMALL)) == [f"U{n:03d}" for n in range(5)]
    assert small == [start] * 5, "the other workspace went at once, not paced behind the big one"
    assert report.rate_limited == 1 and len(attempts(app, BIG)) == 31, "one 429 taught the pace: no second one"
    with app.crossfeed.sessions() as session:
        pace = session.get(SlackPause, (BIG, "views.publish"))
    assert 3 <= pace.rate < 3 * 1.005 ** 27 + 1e-9, "learned from the calls Slack took, grown a little by each since"
    paced = big[3:]
    assert paced[0] >= start + timedelta(seconds=1), "Retry-After waited"
    gaps = [later - earlier for earlier, later in itertools.pairwise(paced)]
    assert min(gaps) >= timedelta(seconds=1 / pace.rate) - timedelta(microseconds=1), "never faster than the pace"
    assert max(gaps) <= timedelta(seconds=1 / 3) + timedelta(microseconds=1), "and no slower than what it learned"


def test_two_outboxes_share_one_workspaces_pace_and_send_each_message_once(app, monkeypatch):
    times = timed_publishes(monkeypatch)
    queue_homes(app, BIG, 24)
    with app.crossfeed.sessions.begin() as session:  # learned earlier: four calls a second
        session.add(SlackPause(team_id=BIG, method="views.publish", until=datetime.now(UTC), rate=4.0))
    other = Crossfeed.start(app.settings, apply_migrations=False)
    try:
        with freeze_time(datetime.now(UTC)) as frozen:
            ticking(frozen, other.outbox, app.crossfeed.outbox)
            for _ in range(6):  # the two take turns, as two workers' passes would
                other.outbox.deliver_due(batch=3)
                app.crossfeed.outbox.deliver_due(batch=3)
    finally:
        other.close()

    assert sorted(published(app, BIG)) == [f"U{n:03d}" for n in range(24)], "each once"
    assert len(attempts(app, BIG)) == 24, "no 429, no repeat"
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= timedelta(seconds=1 / (4 * 1.005 ** 24)), "one pace for both: slots never overlap"
    with app.crossfeed.sessions() as session:
        assert {row.status for row in session.scalars(select(OutboxMessage))} == {"sent"}
        pace = session.get(SlackPause, (BIG, "views.publish"))
    # 24 calls at about 4 a second: six seconds' worth, each growing the shared rate 0.5 % (a little under six, as
    # the rate grew along the way).
    assert 4.0 * 1.005 ** 5.5 < pace.rate <= 4.0 * 1.005 ** 6 + 1e-9, "the calls that went through grew the rate"
    assert pace.until >= max(times), "no slot before the last call's"


def test_a_claim_marks_paced_only_the_messages_of_workspaces_with_a_learned_pace(app):
    # Only the big workspace has a learned pace for publishing Homes; the small one never got a 429.
    now = datetime.now(UTC)
    with app.crossfeed.sessions.begin() as session:
        session.add(SlackPause(team_id=BIG, method="views.publish", rate=2.0, until=now - timedelta(seconds=1)))
    queue_homes(app, BIG, 3)
    queue_homes(app, SMALL, 3)

    with app.crossfeed.sessions.begin() as session:
        claimed = outbox_store.claim_due(session=session, now=now, lease=timedelta(minutes=5), limit=10)
        slots = outbox_store.reserve_slots(session=session, claimed=claimed, now=now)

    assert {(message.team_id, message.paced) for message in claimed} == {(BIG, True), (SMALL, False)}
    big = sorted(slots.at[message.id] for message in claimed if message.team_id == BIG)
    assert big == [now, now + timedelta(seconds=0.5)], "a second's worth (PACE_HORIZON), half a second apart"
    assert all(message.id not in slots.at for message in claimed if message.team_id == SMALL)
    assert slots.rates == {(BIG, "views.publish"): 2.0}


def test_a_sender_forgets_the_recent_calls_of_workspaces_it_no_longer_serves(crossfeed):
    """What a 429 teaches is the calls of the second before it: a long-running worker serving thousands of
    workspaces keeps no more than that (it would otherwise hold every workspace it ever called)."""
    outbox = crossfeed.outbox
    start = datetime.now(UTC)
    outbox.clock = lambda: start
    for n in range(50):
        outbox._remember_call((f"T{n:03d}", "chat.postMessage"))
    outbox.clock = lambda: start + timedelta(seconds=11)
    outbox._remember_call(("TNEW", "chat.postMessage"))
    assert list(outbox._recent_calls) == [("TNEW", "chat.postMessage")]
