"""Fan-out of a pulse round through the outbox: rate limits, errors, a crash, two workers."""

from __future__ import annotations

import contextlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import event

from bot import outbox as outbox_module
from bot.container import Crossfeed
from bot.outbox import Outbox
from tests.helpers import OPENING, make_teams, open_round, outbox

# A round spans several of the outbox's batches, as a big workspace's does: 120 people in batches of 50 go as
# 500 in the deployed batches of 200 would, at a quarter of the posts.
BATCH = 50
SALES = [f"US{i:03d}" for i in range(60)]
MARKETING = [f"UM{i:03d}" for i in range(60)]
EVERYONE = sorted(SALES + MARKETING)


@pytest.fixture(autouse=True)
def _small_batches(monkeypatch):
    monkeypatch.setattr(outbox_module, "BATCH", BATCH)


def delivered(fake) -> Counter:
    return Counter(call.params["channel"] for call in fake.calls_to("chat.postMessage", succeeded=True))


def test_a_round_of_several_batches_prompts_each_member_exactly_once_despite_429s_and_500s(crossfeed, fake_slack):
    make_teams(crossfeed, sales=SALES, marketing=MARKETING)
    fake_slack.script.fail("chat.postMessage", times=1, status=429, retry_after=0, after=10)
    fake_slack.script.fail("chat.postMessage", times=4, status=500, after=30)
    fake_slack.script.fail("chat.postMessage", times=1, status=429, retry_after=0, after=40)
    fake_slack.script.fail("chat.postMessage", times=3, status=503, after=15)

    summary = open_round(crossfeed)
    assert crossfeed.wait_idle(30)
    first_pass = delivered(fake_slack)
    with freeze_time(OPENING + timedelta(minutes=5)):
        retry = crossfeed.outbox.deliver_due()

    assert summary == "pulse: 1 round(s) opened, 120 people asked, 120 prompted"
    assert len(first_pass) == 113, "7 failed on the first pass: 429s were waited out by the client"
    assert retry.sent == 7
    assert sorted(delivered(fake_slack)) == EVERYONE
    assert set(delivered(fake_slack).values()) == {1}
    assert {message.status for message in outbox(crossfeed)} == {"sent"}


class Crash(BaseException):
    """The process dying (not an exception the outbox could catch)."""


def test_a_crash_mid_fan_out_resumes_without_resending(crossfeed, fake_slack, settings, monkeypatch):
    make_teams(crossfeed, sales=SALES, marketing=MARKETING)
    real_send = Outbox._send
    sent_before_crash = 0

    def send_then_die(self, *args):
        nonlocal sent_before_crash
        if sent_before_crash == BATCH:
            raise Crash
        sent_before_crash += 1
        return real_send(self, *args)

    monkeypatch.setattr(Outbox, "_send", send_then_die)
    with contextlib.suppress(Crash):  # raised in whichever deliverer posted first in batch two: the job's, or the pass
        open_round(crossfeed)          # the opening's commit started
    monkeypatch.setattr(Outbox, "_send", real_send)
    assert len(delivered(fake_slack)) == BATCH

    restarted = Crossfeed.start(settings)
    try:
        with freeze_time(OPENING + timedelta(minutes=1)):
            resumed = restarted.outbox.deliver_due()
        with freeze_time(OPENING + timedelta(minutes=6)):
            after_lease = restarted.outbox.deliver_due()
    finally:
        restarted.close()

    # The one each of the dead process's deliverers (the job, the pass its commit started) had in hand when it
    # died waits for its lease to expire; the rest they had claimed was given back as they died.
    assert resumed.sent + after_lease.sent == len(EVERYONE) - BATCH and 1 <= after_lease.sent <= 2
    assert sorted(delivered(fake_slack)) == EVERYONE
    assert set(delivered(fake_slack).values()) == {1}


def test_two_workers_delivering_at_once_send_each_prompt_once(crossfeed, fake_slack, settings):
    make_teams(crossfeed, sales=SALES, marketing=MARKETING)
    fake_slack.script.fail("chat.postMessage", times=10_000)  # hold every DM back while the round opens
    with freeze_time(OPENING):
        open_round(crossfeed)
        assert crossfeed.wait_idle(30), "the deliveries the opening started are over"
    fake_slack.script.failures.clear()
    fake_slack.reset()
    other = Crossfeed.start(settings)
    try:
        # Both see the messages as due without freezegun, which threads can't share.
        for runtime in (crossfeed, other):
            runtime.outbox.clock = lambda: OPENING + timedelta(hours=2)
        with ThreadPoolExecutor(max_workers=2) as pool:
            reports = list(pool.map(lambda runtime: runtime.outbox.deliver_due(), [crossfeed, other]))
    finally:
        other.close()

    assert sum(report.sent for report in reports) == len(EVERYONE)
    assert set(delivered(fake_slack).values()) == {1} and len(delivered(fake_slack)) == len(EVERYONE)



def test_composing_a_claims_prompts_reads_the_ledger_once_not_once_a_message(crossfeed, fake_slack):
    """A fan-out's DMs are composed a claim at once: reading each message's round, ledger row and settings was most
    of a big fan-out's time."""
    make_teams(crossfeed, sales=SALES, marketing=MARKETING)
    fake_slack.script.fail("chat.postMessage", times=10_000)  # hold every DM back while the round opens
    open_round(crossfeed)
    fake_slack.script.failures.clear()
    statements = []

    def record(connection, cursor, sql, *args) -> None:
        statements.append(sql)

    event.listen(crossfeed.engine, "before_cursor_execute", record)
    try:
        with freeze_time(OPENING + timedelta(hours=2)):
            report = crossfeed.outbox.deliver_due(batch=BATCH)
    finally:
        event.remove(crossfeed.engine, "before_cursor_execute", record)

    assert report.sent == len(EVERYONE) and sorted(delivered(fake_slack)) == EVERYONE
    claims = 3  # 120 prompts in claims of 50
    for table in ("pulse_rounds", "pulse_participation", "workspace_configs"):
        reads = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT") and f"FROM {table}" in sql]
        assert len(reads) == claims, (table, len(reads), [r[-80:] for r in reads])
