"""Forged or stale ids in the new surfaces' buttons and modals: a number past any id column ("999…9"), a negative
one, "1e9", a superscript digit, or an id that names nothing gets a friendly answer: never a 500, and on
PostgreSQL never an out-of-range integer error."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.blocks.ids import ActionIds, IntelIds, MessagingIds, ReplyIds
from bot.results import ID_MAX, record_id
from tests.helpers import make_teams

MARKETER, REP = "UMKT", "UREP"
FORGED = ["99999999999999999999", str(ID_MAX + 1), "-1", "1e9", "²", "0", " 7", ""]
GONE = "424242"  # a well-formed id that names no row


@pytest.fixture
def app(running):
    make_teams(running.crossfeed, sales=[REP], marketing=[MARKETER])
    running.fake.reset()
    return running


def told(app) -> str:
    """What the person was told privately about their click."""
    app.settle()
    return " ".join(call.params.get("text", "") for call in app.fake.calls_to("response_url"))


@pytest.mark.parametrize("value", ["42", "1", str(ID_MAX)])
def test_a_row_id_reads_as_itself(value):
    assert record_id(value) == int(value)


@pytest.mark.parametrize("value", [*FORGED, None, "٣", "4.0", True])
def test_anything_else_names_no_row(value):
    assert record_id(value) is None


@pytest.mark.parametrize("button", [ActionIds.DONE, ActionIds.DROP])
@pytest.mark.parametrize("value", FORGED)
def test_done_or_drop_with_a_forged_id_says_the_button_is_old(app, button, value):
    reply = app.slack.click(button, value, user=MARKETER)

    assert reply.status == 200
    assert "old version of this message" in told(app)
    assert app.fake.calls_to("views.open") == []


@pytest.mark.parametrize("button", [ActionIds.DONE, ActionIds.DROP])
def test_done_or_drop_on_an_action_that_does_not_exist_says_so(app, button):
    reply = app.slack.click(button, GONE, user=MARKETER)

    assert reply.status == 200
    assert "no longer exists" in told(app)
    assert app.fake.calls_to("views.open") == []


@pytest.mark.parametrize("value", [*(f"rating:{v}" for v in FORGED), f"rating:{GONE}", f"intel:{GONE}", "ask:1"])
def test_a_reply_button_naming_no_feedback_says_there_is_nothing_to_reply_to(app, value):
    reply = app.slack.click(f"{ReplyIds.OPEN}.fixed", value, user=MARKETER)

    assert reply.status == 200
    assert "nothing to reply to" in told(app)
    assert app.fake.calls_to("views.open") == []


@pytest.mark.parametrize("subject", ["rating:99999999999999999999", f"intel:{GONE}", "rating:-1"])
def test_a_reply_modal_whose_subject_names_nothing_stores_nothing(app, subject):
    view = {"id": "V9", "callback_id": ReplyIds.MODAL, "private_metadata": json.dumps({"s": subject})}
    values = {ReplyIds.STATUS: {ReplyIds.STATUS: {"type": "radio_buttons", "selected_option": {"value": "fixed"}}},
              ReplyIds.NOTE: {ReplyIds.NOTE: {"type": "plain_text_input", "value": "done"}},
              ReplyIds.LINK: {ReplyIds.LINK: {"type": "plain_text_input", "value": None}}}

    reply = app.slack.submit(view, values, user=MARKETER)

    assert reply.status == 200
    assert "nothing to reply to" in json.dumps(reply.json)


@pytest.mark.parametrize("action_id", ["99999999999999999999", str(ID_MAX + 1), "-1", "0"])
def test_an_outcome_modal_with_an_impossible_action_id_is_refused_as_malformed(app, action_id):
    metadata = f'{{"a":{action_id},"s":"done"}}'
    view = {"id": "V9", "callback_id": ActionIds.DONE_MODAL, "private_metadata": metadata}
    values = {ActionIds.OUTCOME: {ActionIds.OUTCOME: {"type": "plain_text_input", "value": "Fixed it"}}}

    reply = app.slack.submit(view, values, user=MARKETER)

    assert reply.status == 400


@pytest.mark.parametrize("value", [*FORGED, GONE])
def test_post_what_we_changed_with_a_forged_ask_is_answered_kindly(app, value):
    reply = app.slack.click(MessagingIds.CHANGE, value, user=MARKETER)

    assert reply.status == 200
    assert told(app)
    assert app.fake.calls_to("views.open") == []


@pytest.mark.parametrize("metadata", ["99999999999999999999", "-1", "1e9"])
def test_the_change_modal_with_a_forged_ask_is_answered_kindly(app, metadata):
    view = {"id": "V9", "callback_id": MessagingIds.CHANGE_MODAL, "private_metadata": metadata}
    values = {MessagingIds.CHANGE_NOTE: {MessagingIds.CHANGE_NOTE: {"type": "plain_text_input", "value": "x"}}}

    reply = app.slack.submit(view, values, user=MARKETER)

    assert reply.status == 200
    assert "old version" in json.dumps(reply.json)


@pytest.mark.parametrize("typed", ["#99999999999999999999", "99999999999999999999", "#2147483648"])
def test_messaging_results_for_a_number_past_any_ask_finds_none(app, typed):
    reply = app.slack.command("/messaging", f"results {typed}", user=MARKETER)

    assert reply.status == 200
    assert "couldn't find an ask" in reply.json["text"]


@pytest.mark.parametrize("view_id", ["V" * 65, "V" * 33, "", 42])
@pytest.mark.parametrize("callback", [ActionIds.MODAL, ReplyIds.MODAL, IntelIds.MODAL, MessagingIds.ASK_MODAL])
def test_a_submitted_view_without_a_view_id_slack_could_give_is_refused_as_malformed(app, callback, view_id):
    view = {"id": view_id, "callback_id": callback, "private_metadata": "{}"}

    reply = app.slack.submit(view, {}, user=MARKETER)

    assert reply.status == 400


@pytest.mark.parametrize("field", ["channel", "ts"])
def test_an_intel_modal_whose_message_is_longer_than_any_slack_id_is_refused_as_malformed(app, field):
    metadata = json.dumps({field: "C" * 33})
    view = {"id": "V1", "callback_id": IntelIds.MODAL, "private_metadata": metadata}
    values = {IntelIds.KIND: {IntelIds.KIND: {"type": "static_select", "selected_option": {"value": "competitor"}}},
              IntelIds.TEXT: {IntelIds.TEXT: {"type": "plain_text_input", "value": "They cut prices"}}}

    reply = app.slack.submit(view, values, user=REP)

    assert reply.status == 400


@pytest.mark.parametrize("owner", ["U" + "A" * 40, "not-a-user", "<!channel>"])
def test_an_action_owner_that_is_no_slack_user_is_a_field_error(app, owner):
    due = str(datetime.now(ZoneInfo("America/New_York")).date() + timedelta(days=3))
    values = {ActionIds.TITLE: {ActionIds.TITLE: {"type": "plain_text_input", "value": "Fix it"}},
              ActionIds.OWNER: {ActionIds.OWNER: {"type": "users_select", "selected_user": owner}},
              ActionIds.DUE: {ActionIds.DUE: {"type": "datepicker", "selected_date": due}}}

    reply = app.slack.submit({"id": "V1", "callback_id": ActionIds.MODAL, "private_metadata": ""}, values,
                             user=MARKETER)

    assert reply.status == 200 and ActionIds.OWNER in reply.json["errors"]


def test_an_action_command_mentioning_an_id_longer_than_slacks_asks_for_an_owner(app):
    reply = app.slack.command("/alignment", f'action "Fix it" <@U{"A" * 40}|x>', user=MARKETER)

    assert reply.status == 200 and "Mention the owner" in reply.json["text"]
