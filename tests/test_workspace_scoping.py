"""A request signed for another workspace (team T2) that names this workspace's rows (T1's ids, codes and
topics) neither reads nor changes them, on every surface "close the loop" added: Done / Drop and the outcome
modal, the action list, "Log action" prompts, reply buttons and their modal, the intel topic typeahead,
"what we changed", `/messaging results`, `/leadfeedback stats` and Home."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.blocks.ids import ActionIds, IntelIds, MessagingIds, ReplyIds
from bot.messaging import AskInput, create_ask
from bot.results.actions import ActionPrompt
from storage.models import Action, FeedbackReply, LeadRating, MessagingAsk
from tests.helpers import make_teams
from tests.test_field_intel import send as send_intel
from tests.test_forged_prompts import form_values

MARKETER, REP = "UMKT", "UREP"
OTHER, STRANGER = "T2", "UX"  # the other workspace, and someone in it
SECRET = "Fix ACME-SECRET targeting"


@pytest.fixture
def app(start_app):
    running = start_app(lead_feed_channel="C_FEED", sales_channel="C_SALES")
    make_teams(running.crossfeed, sales=[REP, "U1"], marketing=[MARKETER])
    slack = running.slack
    slack.command("/leadfeedback", "ACME-SECRET 2 no-budget source:webinar", user=REP)
    running.settle()
    send_intel(slack, user=REP, topic="SecretRival")
    running.settle()
    slack.command("/alignment", f'action "{SECRET}" <@{MARKETER}|m>', user=MARKETER)
    with running.crossfeed.transaction() as session:
        create_ask(session=session, team_id="T1", user_id=MARKETER, ask=AskInput(name="Secret deck", channel_id="C1"),
                   recipients=[], submission_key="k1", now=datetime.now(UTC))
    running.settle()
    running.fake.reset()
    return running


def only(app, model):
    with app.crossfeed.sessions() as session:
        return session.scalars(select(model).order_by(model.id)).all()


def t1_ids(app) -> dict[str, int]:
    return {"action": only(app, Action)[0].id, "rating": only(app, LeadRating)[0].id,
            "ask": only(app, MessagingAsk)[0].id}


def told(app) -> str:
    app.settle()
    return " ".join(call.params.get("text", "") for call in app.fake.calls_to("response_url"))


@pytest.mark.parametrize("button", [ActionIds.DONE, ActionIds.DROP])
def test_done_or_drop_from_another_workspace_finds_no_action(app, button):
    action_id = t1_ids(app)["action"]

    reply = app.slack.click(button, str(action_id), user=MARKETER, team=OTHER)

    assert reply.status == 200
    assert "no longer exists" in told(app)
    assert app.fake.calls_to("views.open") == []


def test_the_outcome_modal_from_another_workspace_closes_nothing(app):
    action_id = t1_ids(app)["action"]
    metadata = json.dumps({"a": action_id, "s": "done"})
    view = {"id": "V7", "callback_id": ActionIds.DONE_MODAL, "private_metadata": metadata}

    reply = app.slack.submit(view, {ActionIds.OUTCOME: {ActionIds.OUTCOME: {"type": "plain_text_input",
                                                                           "value": "Hijacked"}}},
                             user=MARKETER, team=OTHER)
    app.settle()

    assert "no longer exists" in json.dumps(reply.json)
    [action] = only(app, Action)
    assert (action.status, action.outcome) == ("open", None)


def test_the_action_list_of_another_workspace_shows_none_of_ours(app):
    reply = app.slack.command("/alignment", "action list", user=MARKETER, team=OTHER)

    assert reply.status == 200
    assert "ACME-SECRET" not in reply.body
    assert "ACME-SECRET" in app.slack.command("/alignment", "action list", user=MARKETER).body


@pytest.mark.parametrize("kind", ["rating", "ask"])
def test_a_prompt_naming_our_item_is_no_prompt_in_another_workspace(app, kind):
    value = ActionPrompt(kind=kind, ref=str(t1_ids(app)[kind]), label="Lead ACME-SECRET rated 2/5").to_value()

    app.slack.click(ActionIds.NEW, value, user=STRANGER, team=OTHER)
    [opened] = app.fake.wait_for("views.open")
    reply = app.slack.submit({**opened.view, "private_metadata": value}, form_values(), user=STRANGER, team=OTHER)
    app.settle()

    assert reply.status == 200 and reply.json["response_action"] == "update"
    assert "ACME-SECRET" not in json.dumps(opened.view)
    theirs = [a for a in only(app, Action) if a.team_id == OTHER]
    assert [(a.prompt_kind, a.prompt_ref, a.prompt_label) for a in theirs] == [("none", None, None)]


@pytest.mark.parametrize("kind", ["rating", "intel"])
def test_replying_from_another_workspace_to_our_feedback_finds_nothing(app, kind):
    subject = f"rating:{t1_ids(app)['rating']}" if kind == "rating" else "intel:1"

    clicked = app.slack.click(f"{ReplyIds.OPEN}.fixed", subject, user=STRANGER, team=OTHER)
    view = {"id": "V8", "callback_id": ReplyIds.MODAL, "private_metadata": json.dumps({"s": subject})}
    values = {ReplyIds.STATUS: {ReplyIds.STATUS: {"type": "radio_buttons", "selected_option": {"value": "fixed"}}},
              ReplyIds.NOTE: {ReplyIds.NOTE: {"type": "plain_text_input", "value": "pwned"}},
              ReplyIds.LINK: {ReplyIds.LINK: {"type": "plain_text_input", "value": None}}}
    submitted = app.slack.submit(view, values, user=STRANGER, team=OTHER)
    app.settle()

    assert clicked.status == 200 and "nothing to reply to" in told(app)
    assert "nothing to reply to" in json.dumps(submitted.json)
    assert only(app, FeedbackReply) == []
    assert app.fake.calls_to("views.open") == [] and app.fake.calls_to("chat.update") == []


def test_the_topic_typeahead_of_another_workspace_suggests_none_of_ours(app):
    ours = app.slack.suggest(IntelIds.TOPIC, "Secret").json["options"]
    theirs = app.slack.suggest(IntelIds.TOPIC, "Secret", team=OTHER).json["options"]

    assert "SecretRival" in [o["value"] for o in ours]
    assert "SecretRival (1 mention)" not in json.dumps(theirs)


def test_what_we_changed_and_results_from_another_workspace_find_no_ask(app):
    ask_id = t1_ids(app)["ask"]

    clicked = app.slack.click(MessagingIds.CHANGE, str(ask_id), user=MARKETER, team=OTHER)
    view = {"id": "V9", "callback_id": MessagingIds.CHANGE_MODAL, "private_metadata": str(ask_id)}
    submitted = app.slack.submit(view, {MessagingIds.CHANGE_NOTE: {MessagingIds.CHANGE_NOTE: {
        "type": "plain_text_input", "value": "pwned"}}}, user=MARKETER, team=OTHER)
    results = app.slack.command("/messaging", f"results #{ask_id}", user=MARKETER, team=OTHER)
    app.settle()

    assert clicked.status == 200 and told(app) and app.fake.calls_to("views.open") == []
    assert submitted.status == 200 and submitted.json.get("response_action") != "errors"
    assert "Secret deck" not in submitted.body
    assert "couldn't find an ask" in results.json["text"]
    [ask] = only(app, MessagingAsk)
    assert ask.team_id == "T1" and "pwned" not in json.dumps([getattr(ask, c.name) for c in ask.__table__.columns],
                                                          default=str)


def test_lead_stats_of_another_workspace_count_none_of_our_ratings(app):
    ours = app.slack.command("/leadfeedback", "stats", user=MARKETER).json["text"]
    theirs = app.slack.command("/leadfeedback", "stats", user=MARKETER, team=OTHER).json["text"]

    assert "1 rating," in ours
    assert "1 rating," not in theirs, theirs


def test_home_in_another_workspace_shows_none_of_our_actions(app):
    event = {"type": "event_callback", "team_id": OTHER, "api_app_id": "A1", "event_id": f"Ev{time.time_ns()}",
             "event_time": 1, "event": {"type": "app_home_opened", "user": MARKETER, "channel": "D1", "tab": "home"},
             "authorizations": [{"team_id": OTHER, "user_id": "UBOT", "is_bot": True}]}

    reply = app.slack.post(json.dumps(event), content_type="application/json")
    [published] = app.fake.wait_for("views.publish")

    assert reply.status == 200
    assert "ACME-SECRET" not in json.dumps(published.params["view"])
