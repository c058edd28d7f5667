"""Long and hostile text on every form "close the loop" added: 50,000 characters get a field error and store
nothing; text at each field's limit, made of what escaping lengthens and what could ping or link, is stored whole
and shown escaped everywhere it goes (posts, DMs, the list, Home) inside Slack's Block Kit limits."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.blocks.ids import ActionIds, IntelIds, ReplyIds
from bot.results.actions import OUTCOME_MAX, TITLE_MAX
from bot.results.intel import TEXT_MAX, TOPIC_MAX
from bot.results.replies import NOTE_MAX
from storage.models import Action, FeedbackReply, FieldIntel
from tests.helpers import make_teams
from tests.test_field_intel import values as intel_values

MARKETER, REP = "UMKT", "UREP"
HOSTILE = "<!channel> <@U1> <https://evil.example|click> &amp; \u202ecod\u202c :tada: @here\n"
HUGE = (HOSTILE * 2000)[:50_000]
RAW = ("<!channel>", "<@U1>", "<https://evil", "<!here>")


def filled(limit: int) -> str:
    """`limit` characters of hostile text, ending in a visible character (inputs are stripped)."""
    return (HOSTILE.replace("\n", " ") * (limit // len(HOSTILE) + 1))[: limit - 1] + "x"


@pytest.fixture
def app(start_app):
    running = start_app(lead_feed_channel="C_FEED")
    make_teams(running.crossfeed, sales=[REP], marketing=[MARKETER])
    running.slack.command("/leadfeedback", "ACME-1 2 no-budget", user=REP)
    running.settle()
    running.fake.reset()
    return running


def count(app, model) -> int:
    with app.crossfeed.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def due() -> str:
    return str(datetime.now(ZoneInfo("America/New_York")).date() + timedelta(days=3))


def action_values(title: str) -> dict:
    return {ActionIds.TITLE: {ActionIds.TITLE: {"type": "plain_text_input", "value": title}},
            ActionIds.OWNER: {ActionIds.OWNER: {"type": "users_select", "selected_user": REP}},
            ActionIds.DUE: {ActionIds.DUE: {"type": "datepicker", "selected_date": due()}}}


def reply_values(note: str, link: str | None = None) -> dict:
    return {ReplyIds.STATUS: {ReplyIds.STATUS: {"type": "radio_buttons", "selected_option": {"value": "replied"}}},
            ReplyIds.NOTE: {ReplyIds.NOTE: {"type": "plain_text_input", "value": note}},
            ReplyIds.LINK: {ReplyIds.LINK: {"type": "plain_text_input", "value": link}}}


def submit(app, callback: str, metadata: str, values: dict, view_id: str = "V1"):
    reply = app.slack.submit({"id": view_id, "callback_id": callback, "private_metadata": metadata}, values,
                             user=MARKETER)
    app.settle()
    assert reply.status == 200, reply.body
    return reply


def shown(value):
    """What Slack shows of a call: everything but button values and metadata, which are never displayed."""
    if isinstance(value, dict):
        return {k: shown(v) for k, v in value.items() if k not in ("value", "private_metadata", "metadata")}
    return [shown(v) for v in value] if isinstance(value, list) else value


def everything_sent(app) -> str:
    return json.dumps([shown(call.params) for call in app.fake.calls], ensure_ascii=False)


@pytest.mark.parametrize("form", ["action title", "reply note", "reply link", "intel text", "intel topic"])
def test_50000_characters_get_a_field_error_and_store_nothing(app, form):
    callback, metadata, values, block, model = {
        "action title": (ActionIds.MODAL, "", action_values(HUGE), ActionIds.TITLE, Action),
        "reply note": (ReplyIds.MODAL, '{"s":"rating:1"}', reply_values(HUGE), ReplyIds.NOTE, FeedbackReply),
        "reply link": (ReplyIds.MODAL, '{"s":"rating:1"}', reply_values("ok", "https://x.io/" + HUGE), ReplyIds.LINK,
                       FeedbackReply),
        "intel text": (IntelIds.MODAL, "{}", intel_values(text=HUGE), IntelIds.TEXT, FieldIntel),
        "intel topic": (IntelIds.MODAL, "{}", intel_values(topic=HUGE), IntelIds.TOPIC, FieldIntel),
    }[form]

    reply = submit(app, callback, metadata, values)

    assert reply.json["response_action"] == "errors" and "characters" in reply.json["errors"][block]
    assert count(app, model) == 0
    assert app.fake.calls_to("chat.postMessage") == [] and app.fake.problems == []


def test_a_50000_character_outcome_closes_nothing(app):
    app.slack.command("/alignment", f'action "Fix it" <@{MARKETER}|m>', user=MARKETER)
    app.settle()

    reply = submit(app, ActionIds.DONE_MODAL, '{"a":1,"s":"done"}',
                   {ActionIds.OUTCOME: {ActionIds.OUTCOME: {"type": "plain_text_input", "value": HUGE}}})

    assert reply.json["response_action"] == "errors" and "characters" in reply.json["errors"][ActionIds.OUTCOME]
    with app.crossfeed.sessions() as session:
        assert session.scalar(select(Action.status)) == "open"


def test_a_50000_character_action_command_is_refused_kindly(app):
    reply = app.slack.command("/alignment", f'action "{"x" * 20_000}" <@{REP}|r>', user=MARKETER)

    assert reply.status == 200 and "characters" in reply.json["text"] and len(reply.json["text"]) < 3000
    assert count(app, Action) == 0


def test_hostile_text_at_every_limit_is_stored_whole_and_shown_escaped_everywhere(app):
    title, outcome, note = filled(TITLE_MAX), filled(OUTCOME_MAX), filled(NOTE_MAX)
    topic, text = filled(TOPIC_MAX), filled(TEXT_MAX)

    submit(app, ReplyIds.MODAL, '{"s":"rating:1"}', reply_values(note), view_id="V1")
    submit(app, IntelIds.MODAL, "{}", intel_values(topic=topic, text=text), view_id="V2")
    submit(app, ActionIds.MODAL, '{"k":"rating","r":"1","l":' + json.dumps(filled(200)) + "}", action_values(title),
           view_id="V3")
    submit(app, ActionIds.DONE_MODAL, '{"a":1,"s":"done"}',
           {ActionIds.OUTCOME: {ActionIds.OUTCOME: {"type": "plain_text_input", "value": outcome}}}, view_id="V4")
    listed = app.slack.command("/alignment", "action list", user=MARKETER)
    app.settle()

    with app.crossfeed.sessions() as session:
        assert session.scalar(select(FeedbackReply.note)) == note
        assert (session.scalar(select(FieldIntel.topic)), session.scalar(select(FieldIntel.text))) == (topic, text)
        assert session.execute(select(Action.title, Action.outcome)).one() == (title, outcome)
    sent = everything_sent(app) + listed.body
    for raw in RAW:
        where = sent.find(raw)
        assert where < 0, sent[max(0, where - 300):where + 100]
    assert "&lt;!channel&gt;" in sent
    assert app.fake.problems == [], "every post, DM and Home view inside Block Kit's limits"
    assert {c.params["user_id"] for c in app.fake.calls_to("views.publish")} >= {REP}


EMOJI = "\U0001f600"  # one character, twelve when JSON escapes it as a surrogate pair


def test_a_lead_named_in_emoji_is_posted_with_its_log_action_button(app):
    app.fake.reset()
    reply = app.slack.command("/leadfeedback", f'"{EMOJI * 190}" 1', user=REP)
    app.settle()

    assert reply.status == 200 and "Rated" in reply.json["text"], reply.body
    assert app.fake.problems == [], "a Log action value over Slack's 2000 characters"
    [post] = [c.params for c in app.fake.calls_to("chat.postMessage", succeeded=True)
              if c.params["channel"] == "C_FEED"]
    [value] = [e["value"] for b in post["blocks"] for e in b.get("elements", []) if e.get("action_id") == "action.new"]
    assert len(value) <= 2000 and EMOJI * 100 in value


def test_intel_about_an_emoji_topic_is_posted_with_its_log_action_button(app):
    submit(app, IntelIds.MODAL, "{}", intel_values(topic=EMOJI * TOPIC_MAX), view_id="V5")

    assert app.fake.problems == []
    assert [c for c in app.fake.calls_to("chat.postMessage", succeeded=True) if c.params["channel"] == "C_FEED"]
