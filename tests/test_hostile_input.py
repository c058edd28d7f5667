"""Hostile and malformed input at the request boundary: a clear answer, never a 500, a silent drop or
people's text in the logs."""

from __future__ import annotations

import http.client
import json
import logging
from urllib.parse import parse_qsl, urlencode

import pytest
from sqlalchemy import select

from bot.blocks.ids import LeadFeedbackIds, MessagingIds
from bot.server import MAX_BODY_BYTES
from storage.models import MessagingAsk
from tests.helpers import rating_count, ratings
from tests.test_leadfeedback_modal import open_modal, values
from tests.test_messaging import answer_values, ask_values, open_ask_modal


def command_body(slack, command: str, text: str, **fields: str) -> str:
    """A slash command as Slack sends it, with some of its form fields replaced."""
    return urlencode({**dict(parse_qsl(slack.command_body(command, text))), **fields})


def app_log_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("crossfeed") and r.levelno >= logging.INFO]


# --- "payload" anywhere in a form body -----------------------------------------------------------------


@pytest.mark.parametrize("field, value", [
    ("text", 'ACME-1 2 no-budget "they only read the payload docs"'),
    ("channel_name", "payload-launch"),
    ("user_name", "payload.pete"),
    ("team_domain", "payloadcms"),
])
def test_a_command_whose_fields_say_payload_is_answered_and_stored(running, slack, field, value):
    fields = {field: value} if field != "text" else {}
    body = command_body(slack, "/leadfeedback", value if field == "text" else "ACME-1 2 no-budget", **fields)

    reply = slack.post(body)

    assert reply.status == 200, reply.body
    assert reply.json["text"] == "Rated ACME-1: 2/5"
    [row] = ratings(running.crossfeed)
    assert row.note == ("they only read the payload docs" if field == "text" else None)


def test_events_api_json_is_still_read_as_json(slack):
    reply = slack.post(json.dumps({"type": "url_verification", "token": "legacy", "challenge": "payload-3eZbrw1a"}),
                       content_type="application/json; charset=utf-8")

    assert reply.status == 200 and "payload-3eZbrw1a" in reply.body


def test_slacks_certificate_check_is_answered_even_unsigned_and_does_nothing(running, slack):
    reply = slack.post(urlencode({"ssl_check": "1", "token": "legacy"}), signed=False)

    assert (reply.status, reply.body) == (200, "")
    running.settle()
    assert running.fake.calls == []


# --- control characters ---------------------------------------------------------------------------------


def test_a_nul_byte_in_a_command_is_stripped_and_the_rating_saved_on_every_database(running, slack):
    reply = slack.command("/leadfeedback", 'ACME-1\x00 2 no-budget "only\x00 wanted\x07 pricing"')

    assert reply.status == 200 and reply.json["text"] == "Rated ACME-1: 2/5", reply.body
    [row] = ratings(running.crossfeed)
    assert (row.lead_ref, row.note) == ("ACME-1", "only wanted pricing")


def test_control_characters_in_a_modal_are_stripped_and_the_rating_saved(running, slack):
    view = open_modal(running, slack)

    reply = slack.submit(view, values(lead="ACME-\x002", note="line one\nline\x00 two\x1b"))

    assert reply.status == 200 and reply.body == "", reply.body
    [row] = ratings(running.crossfeed)
    assert (row.lead_ref, row.note) == ("ACME-2", "line one\nline two")


# --- malformed requests ----------------------------------------------------------------------------------


def _malformed(slack) -> dict[str, dict]:
    command = slack.command_body("/leadfeedback", "ACME-1 2")
    return {
        "json content type with a form body": dict(body=command, content_type="application/json"),
        "invalid json": dict(body='{"type": "event_callback", ', content_type="application/json"),
        "json that is not an object": dict(body="[1, 2]", content_type="application/json"),
        "payload that is not json": dict(body=urlencode({"payload": "not json {"})),
        "payload that is not an object": dict(body=urlencode({"payload": '"text"'})),
        "a payload without a type": dict(body=urlencode({"payload": json.dumps({"team": {"id": "T1"}})})),
        "a form that is no slash command": dict(body=urlencode({"text": "hello"})),
        "a view without a type": dict(body=urlencode({"payload": json.dumps(
            {"type": "view_submission", "team": {"id": "T1"}, "user": {"id": "U1"},
             "view": {"id": "V1", "callback_id": "leadfeedback.rate", "state": {"values": {}}}})})),
        "a user that is a string": dict(body=urlencode({"payload": json.dumps(
            {"type": "block_actions", "user": "U1", "actions": [{"action_id": "x"}]})})),
        "a text content type": dict(body=command, content_type="text/plain"),
    }


MALFORMED = ["json content type with a form body", "invalid json", "json that is not an object",
             "payload that is not json", "payload that is not an object", "a payload without a type",
             "a form that is no slash command", "a view without a type", "a user that is a string",
             "a text content type"]


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_request_gets_400_and_one_log_line(running, slack, caplog, case):
    request = _malformed(slack)[case]
    with caplog.at_level(logging.INFO):
        reply = slack.post(request["body"], content_type=request.get("content_type")
                           or "application/x-www-form-urlencoded")

    assert reply.status == 400, (case, reply.status, reply.body)
    assert "Traceback" not in reply.body
    lines = app_log_lines(caplog)
    assert len(lines) == 1 and lines[0].exc_info is None, [r.getMessage() for r in lines]
    assert rating_count(running.crossfeed) == 0


def test_a_non_numeric_timestamp_gets_401_not_500(running, slack, caplog):
    body = slack.command_body("/leadfeedback", "ACME-1 2")
    with caplog.at_level(logging.INFO):
        reply = slack.post(body, headers={"X-Slack-Request-Timestamp": "soon"})

    assert reply.status == 401
    assert len(app_log_lines(caplog)) == 1
    assert rating_count(running.crossfeed) == 0


def test_malformed_private_metadata_gets_400_and_one_line_without_a_traceback(running, slack, caplog):
    with caplog.at_level(logging.INFO):
        reply = slack.submit({"callback_id": MessagingIds.ANSWER_MODAL, "private_metadata": "{not json"},
                             answer_values(quote="a secret quote"), user="U1")

    assert reply.status == 400, reply.body
    lines = app_log_lines(caplog)
    assert len(lines) == 1 and lines[0].exc_info is None, [r.getMessage() for r in lines]
    assert "a secret quote" not in caplog.text


# --- size and logs ---------------------------------------------------------------------------------------


def test_a_body_over_the_limit_gets_413_and_nothing_of_it_is_logged(running, slack, caplog):
    body = slack.command_body("/leadfeedback", 'ACME-1 2 "' + "x" * MAX_BODY_BYTES + '"').encode()
    connection = http.client.HTTPConnection(running.url.removeprefix("http://"), timeout=10)
    with caplog.at_level(logging.DEBUG):
        connection.putrequest("POST", "/slack/events")
        connection.putheader("Content-Type", "application/x-www-form-urlencoded")
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        connection.send(body[:65536])  # the server answers from the headers, before the rest arrives
        reply = connection.getresponse()
    connection.close()

    assert reply.status == 413
    assert "x" * 100 not in caplog.text
    assert [r.getMessage() for r in app_log_lines(caplog)] == [
        f"rejected a request to /slack/events with 413: a body of {len(body)} bytes"]
    assert rating_count(running.crossfeed) == 0


def test_the_largest_real_modal_submission_fits_under_the_limit(running, slack):
    view = open_modal(running, slack)
    # Every character a worst case for form-encoded JSON (%5Cu....), at Slack's 3,000 per text input.
    note = "\u2028" * 3000
    body = urlencode({"payload": json.dumps({"type": "view_submission", "view": {
        "callback_id": view["callback_id"], "blocks": [{"type": "section", "text": note}] * 100}})})
    assert len(body.encode()) < MAX_BODY_BYTES


def test_rejected_and_unhandled_requests_are_logged_without_peoples_text(running, slack, caplog):
    secret_text = "our-churn-numbers-are-bad"
    body = slack.command_body("/leadfeedback", f'ACME-1 2 "{secret_text}"')
    with caplog.at_level(logging.INFO):
        unsigned = slack.post(body, signed=False)
        wrong = slack.post(body, secret="not-the-secret")
        unhandled = slack.submit({"callback_id": "nobody.handles.this"},
                                 {LeadFeedbackIds.NOTE: {LeadFeedbackIds.NOTE: {"value": secret_text}}})

    assert [unsigned.status, wrong.status, unhandled.status] == [401, 401, 404]
    assert secret_text not in caplog.text
    assert len(app_log_lines(caplog)) == 3, [r.getMessage() for r in app_log_lines(caplog)]


# --- reflected markup ------------------------------------------------------------------------------------

INJECTIONS = ("<!channel>", "<!here>", "<@U999>", "<https://evil.example")


def mrkdwn_objects(blocks: list[dict]) -> list[dict]:
    found = []
    for block in blocks:
        for obj in [block.get("text"), *(block.get("fields") or []), *(block.get("elements") or [])]:
            if isinstance(obj, dict) and obj.get("type") == "mrkdwn":
                found.append(obj)
    return found


def assert_shown_safely(text: str, blocks: list[dict], typed: str) -> None:
    everything = json.dumps({"text": text, "blocks": blocks})
    for raw in INJECTIONS:
        assert raw not in everything, (raw, everything[:400])
    carrying = [o for o in mrkdwn_objects(blocks) if typed in o["text"]]
    assert carrying, f"{typed!r} is not shown: {everything[:400]}"
    assert all(o.get("verbatim") is True for o in carrying), carrying


def test_the_askers_confirmation_shows_the_ask_name_inert(start_app):
    app = start_app(sales_channel="C_SALES")
    view = open_ask_modal(app)
    app.slack.submit(view, ask_values(name="<!channel> see <https://evil.example|free> @here"), user="UMKT")
    app.settle()

    [dm] = [c.params for c in app.fake.calls_to("chat.postMessage") if c.params["channel"] == "UMKT"]
    assert "Your ask" in dm["text"]
    assert_shown_safely(dm["text"], dm.get("blocks") or [], "&lt;!channel&gt; see")


def test_messaging_results_echoes_what_was_typed_inert(running, slack):
    # Slack sends a typed @channel, mention or link in its own markup.
    reply = slack.command("/messaging", "results <!channel> <@U999|boss> <https://evil.example|free>")

    answer = reply.json
    assert "I couldn't find an ask matching" in answer["text"]
    assert_shown_safely(answer["text"], answer["blocks"], "I couldn't find an ask matching")


def test_the_ambiguous_ask_list_shows_names_inert(start_app):
    app = start_app(sales_channel="C_SALES")
    for name in ("Launch <!channel> deck", "Launch <@U999> call"):
        view = open_ask_modal(app)
        app.slack.submit(view, ask_values(name=name), user="UMKT")
        app.settle()
    with app.crossfeed.sessions() as session:
        assert len(list(session.scalars(select(MessagingAsk)))) == 2

    reply = app.slack.command("/messaging", "results launch", user="UMKT")

    answer = reply.json
    assert "More than one of your asks matches" in answer["text"]
    assert_shown_safely(answer["text"], answer["blocks"], "More than one of your asks matches")


def test_alignment_timezone_echoes_what_was_typed_inert(running, slack):
    slack.command("/alignment", "team list", user="UADMIN")  # the first person to use /alignment is its admin
    reply = slack.command("/alignment", "timezone <!channel>", user="UADMIN")

    answer = reply.json
    assert "isn't a time zone I know" in answer["text"]
    assert_shown_safely(answer["text"], answer["blocks"], "isn't a time zone I know")
