"""One reader of a submitted modal's state.values for every handler (bot.slack_requests.ViewState): a field that is
missing or not shaped as Slack sends it reads as not filled in, so a forged submission gets the form's own field
errors, never the "something went wrong" apology and an ERROR in the log."""

from __future__ import annotations

import json
import logging

import pytest

from bot.blocks.ids import ActionIds, IntelIds, LeadFeedbackIds, MessagingIds, ReplyIds
from bot.slack_requests import ViewState
from tests.helpers import make_teams


def state(values) -> dict:
    return {"state": {"values": values}}


def test_each_kind_of_input_reads_as_slack_sends_it():
    values = ViewState(state({
        "t": {"t": {"type": "plain_text_input", "value": "hi"}},
        "s": {"s": {"type": "static_select", "selected_option": {"text": {}, "value": "fixed"}}},
        "m": {"m": {"type": "multi_static_select", "selected_options": [{"value": "a"}, {"value": "b"}]}},
        "u": {"u": {"type": "users_select", "selected_user": "U1"}},
        "us": {"us": {"type": "multi_users_select", "selected_users": ["U1", "U2"]}},
        "d": {"d": {"type": "datepicker", "selected_date": "2026-12-15"}},
        "c": {"c": {"type": "conversations_select", "selected_conversation": "C1"}},
        "empty": {"empty": {"type": "plain_text_input", "value": None}},
    }))

    assert (values.text("t"), values.choice("s"), values.choices("m"), values.user("u"), values.users("us"),
            values.date("d"), values.conversation("c")) == ("hi", "fixed", ["a", "b"], "U1", ["U1", "U2"],
                                                            "2026-12-15", "C1")
    assert (values.text("empty"), values.text("missing"), values.choice("missing"), values.choices("missing")) == (
        None, None, None, [])


@pytest.mark.parametrize("values", [
    None, [], "x", {"t": []}, {"t": "x"}, {"t": {"t": "x"}}, {"t": {"t": {"value": ["x"], "selected_option": "x",
                                                                          "selected_options": "x",
                                                                          "selected_users": {"a": 1}}}},
    {"t": {"t": {"selected_option": {"value": 5}, "selected_options": [5, {"value": None}, {"value": "ok"}]}}},
])
def test_anything_else_reads_as_not_filled_in(values):
    read = ViewState(state(values))

    assert (read.text("t"), read.choice("t"), read.users("t")) == (None, None, [])
    assert read.choices("t") in ([], ["ok"])


MISSHAPEN = {"selected_option": "fixed", "value": ["x"], "selected_options": "a", "selected_user": {"id": "U1"},
             "selected_date": 20261215, "selected_conversation": ["C1"], "selected_users": "U1"}
FORMS = {
    "action": (ActionIds.MODAL, "", [ActionIds.TITLE, ActionIds.OWNER, ActionIds.DUE]),
    "outcome": (ActionIds.DONE_MODAL, json.dumps({"a": 1, "s": "done"}), [ActionIds.OUTCOME]),
    "reply": (ReplyIds.MODAL, json.dumps({"s": "rating:1"}), [ReplyIds.STATUS, ReplyIds.NOTE, ReplyIds.LINK]),
    "intel": (IntelIds.MODAL, "{}", [IntelIds.KIND, IntelIds.TOPIC, IntelIds.TEXT, IntelIds.LINK]),
    "change": (MessagingIds.CHANGE_MODAL, "1", [MessagingIds.CHANGE_NOTE, MessagingIds.CHANGE_LINK]),
    "answer": (MessagingIds.ANSWER_MODAL, json.dumps({"a": 1}), [MessagingIds.REACTION, MessagingIds.USED_IN]),
    "rating": (LeadFeedbackIds.MODAL, "{}", [LeadFeedbackIds.LEAD, LeadFeedbackIds.RATING]),
}


@pytest.mark.parametrize("form", FORMS)
def test_a_misshapen_submission_of_each_form_is_answered_without_an_error(running, caplog, form):
    make_teams(running.crossfeed, sales=["U1"], marketing=["U1"])
    callback, metadata, blocks = FORMS[form]
    view = {"id": "V1", "callback_id": callback, "private_metadata": metadata}

    with caplog.at_level(logging.WARNING, logger="crossfeed"):
        reply = running.slack.submit(view, {block: {block: dict(MISSHAPEN)} for block in blocks}, user="U1")
        running.settle()

    assert reply.status == 200, reply.body
    assert "something went wrong" not in reply.body
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
