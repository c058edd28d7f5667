"""The lead-feed channel: ratings of 1–2 posted for marketing, through the outbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from bot.blocks.ids import ActionIds
from bot.results.actions import ActionPrompt
from storage import outbox as outbox_store
from storage.outbox import Message
from tests.helpers import outbox as outbox_rows
from tests.helpers import ratings


def outbox(crossfeed) -> list:
    """The queued posts (not the raters' Home refreshes)."""
    return [message for message in outbox_rows(crossfeed) if message.kind != "home"]

FEED = "C_FEED"


def actions_value(blocks: list[dict]) -> str:
    """The value of a post's Log action button."""
    [value] = [element["value"] for block in blocks if block["type"] == "actions" for element in block["elements"]
               if element["action_id"] == ActionIds.NEW]
    return value


@pytest.fixture
def feed(start_app):
    return start_app(lead_feed_channel=FEED)


def test_a_bad_lead_is_posted_to_the_feed_with_user_text_escaped(feed):
    feed.slack.command("/leadfeedback", '"Acme &amp; &lt;Co&gt;" 2 no-budget source:webinar "ping <!channel> now"',
                       user="U7")
    feed.settle()

    [post] = feed.fake.calls_to("chat.postMessage")
    assert post.params["channel"] == FEED
    # What is shown; the Log action button's value carries the lead as typed (data, never rendered), and the
    # action modal and DMs escape it where they show it.
    shown = post.text_everywhere().replace(json.dumps(actions_value(post.blocks), ensure_ascii=False)[1:-1], "")
    assert "Acme &amp; &lt;Co&gt;" in shown and "<Co>" not in shown
    assert ActionPrompt.from_value(actions_value(post.blocks)).label.startswith("Lead Acme & <Co> rated 2/5")
    assert "<!channel>" not in shown and "@channel" in shown
    assert "No budget" in shown and "Webinar" in shown and "<@U7>" in shown
    [message] = outbox(feed.crossfeed)
    assert (message.status, message.channel) == ("sent", FEED)
    assert message.slack_ts.startswith("1700000000."), "the post's ts is kept, to update it later"


def test_good_leads_are_not_posted(feed):
    feed.slack.command("/leadfeedback", "ACME-1 4 great-fit")
    feed.slack.command("/leadfeedback", "ACME-2 3")
    feed.settle()

    assert feed.fake.calls_to("chat.postMessage") == []
    assert outbox(feed.crossfeed) == []


def test_without_a_feed_channel_nothing_is_posted(running, slack):
    slack.command("/leadfeedback", "ACME-1 1 spam")
    running.settle()

    assert running.fake.calls_to("chat.postMessage") == []


def test_re_rating_a_posted_lead_updates_the_post_in_place(feed):
    feed.slack.command("/leadfeedback", "ACME-1 1 spam")
    feed.settle()
    [post] = feed.fake.calls_to("chat.postMessage")

    feed.slack.command("/leadfeedback", "ACME-1 4 great-fit")
    feed.settle()

    [update] = feed.fake.calls_to("chat.update")
    assert update.params["channel"] == FEED
    assert update.params["ts"] == outbox(feed.crossfeed)[0].slack_ts
    assert "4/5" in update.text_everywhere() and "Great fit" in update.text_everywhere()
    assert len(feed.fake.calls_to("chat.postMessage")) == 1, post


def test_a_retried_command_posts_once(feed):
    body = feed.slack.command_body("/leadfeedback", "ACME-1 1 spam")
    feed.slack.post(body)
    feed.settle()
    feed.slack.post(body, headers={"X-Slack-Retry-Num": "1"})
    feed.settle()

    assert len(feed.fake.calls_to("chat.postMessage")) == 1
    assert len(outbox(feed.crossfeed)) == 1


def test_rate_limits_are_waited_out_by_the_client(feed):
    feed.fake.script.fail("chat.postMessage", times=2, status=429, retry_after=0)

    feed.slack.command("/leadfeedback", "ACME-1 1 spam")
    feed.settle()

    assert len(feed.fake.calls_to("chat.postMessage")) == 3
    assert outbox(feed.crossfeed)[0].status == "sent"


def test_a_failed_post_is_recorded_and_retried_later_never_dropped(feed):
    feed.fake.script.fail("chat.postMessage", times=1, status=500)

    reply = feed.slack.command("/leadfeedback", "ACME-1 1 spam")
    feed.settle()

    assert reply.json["text"] == "Rated ACME-1: 1/5", "the rep's rating is stored whatever Slack does"
    [message] = outbox(feed.crossfeed)
    assert (message.status, message.attempts) == ("pending", 1)
    assert "500" in message.last_error or "internal_error" in message.last_error

    later = datetime.now(UTC) + timedelta(minutes=2)
    with freeze_time(later):
        report = feed.crossfeed.outbox.deliver_due()

    assert report.sent == 1
    assert outbox(feed.crossfeed)[0].status == "sent"
    assert len(feed.fake.calls_to("chat.postMessage")) == 2


def test_a_post_that_keeps_failing_ends_failed_with_its_error(feed):
    feed.fake.script.fail("chat.postMessage", times=100, error="channel_not_found")
    feed.slack.command("/leadfeedback", "ACME-1 1 spam")
    feed.settle()

    moment = datetime.now(UTC)
    for _ in range(10):
        moment += timedelta(hours=2)
        with freeze_time(moment):
            feed.crossfeed.outbox.deliver_due()

    [message] = outbox(feed.crossfeed)
    assert (message.status, message.attempts, message.last_error) == ("failed", 8, "channel_not_found")
    assert len(ratings(feed.crossfeed)) == 1


def test_the_bot_joins_a_public_feed_channel_it_is_not_in(feed):
    feed.fake.script.fail("chat.postMessage", times=1, error="not_in_channel")

    feed.slack.command("/leadfeedback", "ACME-1 2 no-need")
    feed.settle()

    [join] = feed.fake.calls_to("conversations.join")
    assert join.params["channel"] == FEED
    assert len(feed.fake.calls_to("chat.postMessage")) == 2
    assert outbox(feed.crossfeed)[0].status == "sent"


def test_a_crash_mid_delivery_is_resumed_after_the_lease(feed):

    feed.slack.command("/leadfeedback", "ACME-1 1 spam")
    feed.settle()
    feed.fake.reset()
    # Simulate a worker that claimed a re-queued message and died before sending it.
    now = datetime.now(UTC)
    with feed.crossfeed.transaction() as session:
        outbox_store.enqueue(session=session, team_id="T1", now=now, messages=[
            Message(kind="lead_feed", dedupe_key="lead-feed:1", channel=FEED, payload={"rating_id": 1})])
        claimed = outbox_store.claim_due(session=session, now=now, lease=timedelta(minutes=5), limit=10)
        assert [message.dedupe_key for message in claimed] == ["lead-feed:1"]

    # (Counted by what reached Slack, not by `sent`: under load the rating's Home refresh may still be pending,
    # and a pass that delivers it counts it too.)
    feed.crossfeed.outbox.deliver_due()
    assert feed.fake.calls_to("chat.update") == [], "still leased to the crashed worker"
    with freeze_time(now + timedelta(minutes=6)):
        feed.crossfeed.outbox.deliver_due()
    assert len(feed.fake.calls_to("chat.update")) == 1


def test_a_re_rate_without_a_source_keeps_the_source_on_the_edited_post(feed):
    feed.slack.command("/leadfeedback", 'ACME-1 1 spam source:webinar campaign:q4-roi "fake name"')
    feed.settle()

    feed.slack.command("/leadfeedback", "ACME-1 2 no-budget")
    feed.settle()

    [update] = feed.fake.calls_to("chat.update")
    shown = update.text_everywhere()
    assert "2/5" in shown and "No budget" in shown
    assert "Webinar" in shown and "q4-roi" in shown and "fake name" in shown
    assert "Spam" not in shown


def test_a_typed_source_kept_under_other_is_shown_on_the_post(feed):
    feed.slack.command("/leadfeedback", "ACME-1 1 spam source:webinarz")
    feed.settle()

    [post] = feed.fake.calls_to("chat.postMessage")
    assert "Other: webinarz" in post.text_everywhere()
