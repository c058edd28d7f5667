"""No duplicate messages: a post whose answer was lost is looked up in the conversation before it is sent again.

Slack can post a message and still answer 5xx, and a worker can die between posting and recording it. The
fake Slack here does exactly that (`done_first`: the message lands in the conversation, then the error comes
back), and the tests count what each person and channel really received, read from the conversation.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from bot.outbox import MAY_HAVE_POSTED, Outbox
from tests.clock_kit import TurnedClock
from tests.helpers import OPENING, make_teams
from tests.helpers import outbox as outbox_rows
from tests.test_digest import DIGEST, DUE, post_due, seed_leads, setup_workspace
from tests.test_manifest_and_home import manifest

SALES = [f"US{i:03d}" for i in range(50)]
MARKETING = [f"UM{i:03d}" for i in range(50)]
EVERYONE = sorted(SALES + MARKETING)
FEED = "C_FEED"


def outbox(crossfeed) -> list:
    """The queued posts: Home refreshes (views.publish) are idempotent and never in doubt."""
    return [message for message in outbox_rows(crossfeed) if message.kind != "home"]


def dms(fake, user: str) -> list[dict]:
    """What is in `user`'s DM with the app: every message that landed, whatever Slack answered."""
    return fake.history.get("D" + user, [])


def duplicates(fake, users) -> int:
    return sum(max(0, len(dms(fake, user)) - 1) for user in users)


def turn_until_delivered(clock: TurnedClock, frozen, crossfeed, *, step=timedelta(hours=1), turns=12) -> None:
    """Turn the clock an hour at a time (every retry's backoff has passed) until nothing is left to send."""
    for _ in range(turns):
        if {message.status for message in outbox(crossfeed)} == {"sent"}:
            return
        frozen.tick(step)
        clock.turn()
    raise AssertionError(f"still unsent: {[(m.channel, m.status, m.last_error) for m in outbox(crossfeed)]}")


def test_100_people_each_get_one_prompt_when_a_fifth_of_the_posts_land_but_answer_500(crossfeed, fake_slack,
                                                                                     settings):
    make_teams(crossfeed, sales=SALES, marketing=MARKETING)
    fake_slack.script.fail_randomly("chat.postMessage", 0.2, status=500, done_first=True, seed=11)

    with freeze_time(OPENING) as frozen:
        clock = TurnedClock(settings)
        try:
            frozen.tick(timedelta(minutes=1))
            clock.turn()  # the pulse job's first minute: it opens the round and fans out
            turn_until_delivered(clock, frozen, crossfeed)
        finally:
            clock.stop()

    landed_then_failed = fake_slack.done_before_failing
    assert len(landed_then_failed) >= 15, "about a fifth of the posts answered 500 after posting"
    assert duplicates(fake_slack, EVERYONE) == 0
    assert all(len(dms(fake_slack, user)) == 1 for user in EVERYONE)
    for message in outbox(crossfeed):
        [landed] = dms(fake_slack, message.payload["user_id"])
        assert (message.status, message.slack_ts) == ("sent", landed["ts"]), "the ts found is kept"
        assert landed["metadata"]["event_payload"]["outbox_key"] == message.dedupe_key
    # One history read per message whose post answered 500, each in that person's DM, and no more.
    reads = fake_slack.calls_to("conversations.history")
    assert sorted(read.params["channel"] for read in reads) == sorted(
        "D" + call.params["channel"] for call in landed_then_failed)


class Crash(BaseException):
    """The process dying (not an exception the outbox could catch)."""


def test_a_worker_that_dies_after_posting_and_before_recording_is_not_followed_by_a_second_post(
        crossfeed, fake_slack, settings, monkeypatch):
    make_teams(crossfeed, sales=SALES, marketing=MARKETING)
    real_send, posted = Outbox._send, []

    def post_then_die(self, post, *args):
        if len(posted) == 40:
            raise Crash  # dead: the clock's other jobs in this turn get no further
        sent = real_send(self, post, *args)
        posted.append(post.channel)
        if len(posted) == 40:
            raise Crash  # after Slack posted it, before the outbox recorded it
        return sent

    monkeypatch.setattr(Outbox, "_send", post_then_die)
    with freeze_time(OPENING) as frozen:
        dead = TurnedClock(settings)
        frozen.tick(timedelta(minutes=1))
        dead.turn()  # dies on the 40th post; APScheduler logs the job's error
        frozen.tick(timedelta(minutes=1))
        dead.turn()  # its outbox job claims the next message and dies before posting it
        dead.stop()
        monkeypatch.setattr(Outbox, "_send", real_send)
        in_flight = posted[-1]
        assert [m.status for m in outbox(crossfeed) if m.channel == in_flight] == ["sending"]
        # Each of the dead process's deliverers (the pass its commit started, the jobs') left one post in doubt.
        in_doubt = [m.channel for m in outbox(crossfeed) if m.status == "sending"]
        assert in_flight in in_doubt and len(in_doubt) <= 3

        frozen.tick(timedelta(minutes=1))
        restarted = TurnedClock(settings)
        try:
            restarted.turn()  # the rest; the one in flight waits for its lease
            assert len(dms(fake_slack, in_flight)) == 1
            frozen.tick(timedelta(minutes=5))
            restarted.turn()
        finally:
            restarted.stop()

    assert duplicates(fake_slack, EVERYONE) == 0
    assert all(len(dms(fake_slack, user)) == 1 for user in EVERYONE)
    [message] = [m for m in outbox(crossfeed) if m.payload["user_id"] == in_flight]
    assert (message.status, message.slack_ts) == ("sent", dms(fake_slack, in_flight)[0]["ts"])
    # Read back: the DM in flight when it died (found), and those its other deliverers had in hand (not found,
    # sent); nothing else, though the dead process had claimed many more (given back as it died).
    reads = fake_slack.calls_to("conversations.history")
    assert sorted(read.params["channel"] for read in reads) == sorted("D" + channel for channel in in_doubt)
    assert all(float(read.params["oldest"]) <= message.created_at.timestamp() for read in reads), \
        "read from before the message was queued"


def test_a_post_slack_refused_is_retried_without_reading_the_conversation(crossfeed, fake_slack, settings):
    people = SALES[:5] + MARKETING[:5]
    make_teams(crossfeed, sales=SALES[:5], marketing=MARKETING[:5])
    fake_slack.script.fail("chat.postMessage", times=3, error="internal_error", after=2)  # ok:false: not posted

    with freeze_time(OPENING) as frozen:
        clock = TurnedClock(settings)
        try:
            frozen.tick(timedelta(minutes=1))
            clock.turn()
            turn_until_delivered(clock, frozen, crossfeed)
        finally:
            clock.stop()

    assert all(len(dms(fake_slack, user)) == 1 for user in people)
    assert fake_slack.calls_to("conversations.history") == []


def test_when_the_conversation_cannot_be_read_nothing_is_posted_until_it_can(crossfeed, fake_slack, settings):
    make_teams(crossfeed, sales=["US001"], marketing=["UM001", "UM002"])
    fake_slack.script.fail("chat.postMessage", times=1, status=503, done_first=True)
    fake_slack.script.fail("conversations.history", times=2, status=500)

    with freeze_time(OPENING) as frozen:
        clock = TurnedClock(settings)
        try:
            frozen.tick(timedelta(minutes=1))
            clock.turn()
            [doubtful] = [m for m in outbox(crossfeed) if m.status == "pending"]
            for _ in range(2):  # the history read fails twice: still in doubt, nothing posted
                frozen.tick(timedelta(hours=1))
                clock.turn()
                [message] = [m for m in outbox(crossfeed) if m.id == doubtful.id]
                assert message.status == "pending" and message.last_error.startswith(MAY_HAVE_POSTED)
            turn_until_delivered(clock, frozen, crossfeed)
        finally:
            clock.stop()

    assert all(len(dms(fake_slack, user)) == 1 for user in ["US001", "UM001", "UM002"])
    assert len(fake_slack.calls_to("conversations.history")) == 3


@pytest.fixture
def feed(start_app):
    return start_app(lead_feed_channel=FEED)


def test_a_feed_post_that_answered_500_is_found_in_the_channel_and_later_updated_in_place(feed):
    feed.fake.script.fail("chat.postMessage", times=1, status=500, done_first=True)
    feed.slack.command("/leadfeedback", "ACME-1 1 spam")
    feed.settle()
    [landed] = feed.fake.history[FEED]

    with freeze_time(OPENING + timedelta(days=400)):  # any later time: the retry is due
        report = feed.crossfeed.outbox.deliver_due()
    feed.slack.command("/leadfeedback", "ACME-1 4 great-fit")
    feed.settle()

    assert (report.sent, report.reconciled) == (1, 1)
    assert feed.fake.history[FEED] == [landed], "one post in the channel"
    [read] = feed.fake.calls_to("conversations.history")
    assert read.params["channel"] == FEED
    [update] = feed.fake.calls_to("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (FEED, landed["ts"])
    assert "Great fit" in update.text_everywhere()


def test_an_update_that_answered_500_is_simply_made_again(feed):
    feed.slack.command("/leadfeedback", "ACME-1 1 spam")
    feed.settle()
    feed.fake.script.fail("chat.update", times=1, status=500, done_first=True)
    feed.slack.command("/leadfeedback", "ACME-1 4 great-fit")
    feed.settle()

    with freeze_time(OPENING + timedelta(days=400)):
        report = feed.crossfeed.outbox.deliver_due()

    assert (report.sent, report.reconciled) == (1, 0)
    assert len(feed.fake.calls_to("chat.update")) == 2, "chat.update is idempotent: it is repeated, not looked up"
    assert feed.fake.calls_to("conversations.history") == []
    assert len(feed.fake.history[FEED]) == 1
    assert outbox(feed.crossfeed)[0].status == "sent"


def test_a_feed_channel_the_app_posted_to_without_joining_is_joined_to_read_it_back(feed):
    feed.fake.script.fail("chat.postMessage", times=1, status=502, done_first=True)
    feed.fake.script.fail("conversations.history", times=1, error="not_in_channel")
    feed.slack.command("/leadfeedback", "ACME-1 1 spam")
    feed.settle()

    with freeze_time(OPENING + timedelta(days=400)):
        report = feed.crossfeed.outbox.deliver_due()

    assert (report.sent, report.reconciled) == (1, 1)
    assert [join.params["channel"] for join in feed.fake.calls_to("conversations.join")] == [FEED]
    assert len(feed.fake.history[FEED]) == 1
    assert outbox(feed.crossfeed)[0].slack_ts == feed.fake.history[FEED][0]["ts"]


def test_the_manifest_lets_the_app_read_back_every_conversation_it_posts_to():
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])

    # DMs (pulse prompts and reminders, messaging DMs and summaries), public and private channels.
    assert {"im:history", "channels:history", "groups:history", "channels:join"} <= scopes


def test_a_post_whose_connection_dropped_after_it_landed_is_not_repeated_by_the_client(feed):
    feed.fake.script.fail("chat.postMessage", times=1, status=0, done_first=True)  # posted, then no answer
    feed.slack.command("/leadfeedback", "ACME-1 1 spam")
    feed.settle()

    [message] = outbox(feed.crossfeed)
    assert message.status == "pending" and message.last_error.startswith(MAY_HAVE_POSTED)
    with freeze_time(OPENING + timedelta(days=400)):
        report = feed.crossfeed.outbox.deliver_due()

    assert (report.sent, report.reconciled) == (1, 1)
    assert len(feed.fake.calls_to("chat.postMessage")) == 1
    assert len(feed.fake.history[FEED]) == 1


def test_a_digest_post_that_answered_500_after_landing_is_found_after_the_claims_lease_not_posted_again(
        crossfeed, fake_slack):
    setup_workspace(crossfeed)
    seed_leads(crossfeed)
    fake_slack.script.fail("chat.postMessage", times=1, status=500, done_first=True)

    first = post_due(crossfeed, DUE)
    soon = post_due(crossfeed, DUE + timedelta(minutes=5))
    later = post_due(crossfeed, DUE + timedelta(minutes=15))

    assert [o.result for o in first] == ["failed: internal_error"]
    assert [o.result for o in soon] == ["already posted"], "the claim is kept while the post may have landed"
    assert [o.result for o in later] == ["reconciled"]
    assert len(fake_slack.history[DIGEST]) == 1
    assert len(fake_slack.calls_to("chat.postMessage")) == 1, "one chat.postMessage: the one that answered 500"
