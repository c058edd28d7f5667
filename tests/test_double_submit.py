"""Every write "close the loop" added, delivered twice at once (a double click on Submit, Slack retrying while the
first is still running) and once more afterwards (a retry with X-Slack-Retry-Num): one row, one message."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.blocks.ids import ActionIds, IntelIds, ReplyIds
from storage.models import Action, FeedbackReply, FieldIntel, OutboxMessage
from tests.helpers import make_teams
from tests.test_field_intel import values as intel_values

MARKETER, REP, OWNER = "UMKT", "UREP", "UOWN"
FEED = "C_FEED"


@pytest.fixture
def app(start_app):
    running = start_app(lead_feed_channel=FEED)
    make_teams(running.crossfeed, sales=[REP], marketing=[MARKETER, OWNER])
    running.slack.command("/leadfeedback", "ACME-1 2 no-budget", user=REP)
    running.settle()
    running.fake.reset()
    return running


def three_times(app, send) -> list:
    """`send` twice at the same moment, then once more as Slack's retry."""
    replies, start = [], threading.Barrier(2)

    def once() -> None:
        start.wait()
        replies.append(send({}))

    threads = [threading.Thread(target=once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    replies.append(send({"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}))
    app.settle()
    assert [r.status for r in replies] == [200, 200, 200], [r.body for r in replies]
    return replies


def count(app, model, *where) -> int:
    with app.crossfeed.sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def posts_to(app, channel: str) -> list:
    return [c for c in app.fake.calls_to("chat.postMessage") if c.params["channel"] == channel]


def submit(app, callback: str, metadata: str, values: dict, user: str = MARKETER):
    view = {"id": "VSAME", "callback_id": callback, "private_metadata": metadata}
    return lambda headers: app.slack.submit(view, values, user=user, headers=headers)


def test_a_logged_action_is_one_action_and_one_dm(app):
    due = str(datetime.now(ZoneInfo("America/New_York")).date() + timedelta(days=3))
    values = {ActionIds.TITLE: {ActionIds.TITLE: {"type": "plain_text_input", "value": "Fix it"}},
              ActionIds.OWNER: {ActionIds.OWNER: {"type": "users_select", "selected_user": OWNER}},
              ActionIds.DUE: {ActionIds.DUE: {"type": "datepicker", "selected_date": due}}}

    three_times(app, submit(app, ActionIds.MODAL, "", values))

    assert count(app, Action) == 1
    assert len(posts_to(app, OWNER)) == 1


def test_an_action_command_is_one_action(app):
    body = app.slack.command_body("/alignment", f'action "Fix it" <@{OWNER}|o>', user=MARKETER)

    three_times(app, lambda headers: app.slack.post(body, headers=headers))

    assert count(app, Action) == 1
    assert len(posts_to(app, OWNER)) == 1


def test_an_outcome_closes_once_and_updates_the_dm_once(app):
    app.slack.command("/alignment", f'action "Fix it" <@{OWNER}|o>', user=MARKETER)
    app.settle()
    app.fake.reset()
    values = {ActionIds.OUTCOME: {ActionIds.OUTCOME: {"type": "plain_text_input", "value": "Fixed"}}}

    three_times(app, submit(app, ActionIds.DONE_MODAL, '{"a":1,"s":"done"}', values, user=OWNER))

    with app.crossfeed.sessions() as session:
        assert session.execute(select(Action.status, Action.outcome)).one() == ("done", "Fixed")
    assert len(app.fake.calls_to("chat.update")) == 1
    assert posts_to(app, OWNER) == []


def test_a_reply_is_one_reply_one_dm_and_one_update_of_the_post(app):
    values = {ReplyIds.STATUS: {ReplyIds.STATUS: {"type": "radio_buttons", "selected_option": {"value": "fixed"}}},
              ReplyIds.NOTE: {ReplyIds.NOTE: {"type": "plain_text_input", "value": "Fixed the form"}},
              ReplyIds.LINK: {ReplyIds.LINK: {"type": "plain_text_input", "value": None}}}

    three_times(app, submit(app, ReplyIds.MODAL, '{"s":"rating:1"}', values))

    assert count(app, FeedbackReply) == 1
    assert len(posts_to(app, REP)) == 1
    assert len([c for c in app.fake.calls_to("chat.update") if c.params["channel"] == FEED]) == 1


def test_field_intel_is_one_item_and_one_post(app):
    three_times(app, submit(app, IntelIds.MODAL, "{}", intel_values(), user=REP))

    assert count(app, FieldIntel) == 1
    assert count(app, OutboxMessage, OutboxMessage.kind == "intel_post") == 1
    assert len(posts_to(app, FEED)) == 1
