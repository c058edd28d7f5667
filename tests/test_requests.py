"""Request verification, health, unknown requests and unexpected errors."""

from __future__ import annotations

import logging
import re
import time

from sqlalchemy import text

from tests.helpers import rating_count


def test_bad_missing_or_stale_signatures_get_401_and_change_nothing(running, slack):
    body = slack.command_body("/leadfeedback", "ACME-1 2 no-budget")

    wrong_secret = slack.post(body, secret="not-the-secret")
    unsigned = slack.post(body, signed=False)
    stale = slack.post(body, timestamp=int(time.time()) - 600)
    tampered = slack.post(body, headers={"X-Slack-Signature": "v0=" + "0" * 64})

    assert [r.status for r in (wrong_secret, unsigned, stale, tampered)] == [401, 401, 401, 401]
    assert rating_count(running.crossfeed) == 0
    running.settle()
    assert running.fake.calls == []


def test_a_correct_signature_is_accepted(running, slack):
    assert slack.command("/leadfeedback", "ACME-1 2").status == 200
    assert rating_count(running.crossfeed) == 1


def test_an_unknown_modal_is_404(slack):
    reply = slack.submit({"callback_id": "nobody.handles.this"}, {})
    assert reply.status == 404


def test_healthz_answers_200_when_the_database_answers(slack):
    reply = slack.get("/healthz")
    assert (reply.status, reply.body) == (200, "ok\n")


def test_healthz_answers_503_when_the_database_does_not(running, slack):
    running.crossfeed.engine.dispose()
    running.crossfeed.engine.pool._creator = lambda *a: (_ for _ in ()).throw(OSError("database is down"))

    assert slack.get("/healthz").status == 503


def test_other_paths_are_404(slack):
    assert slack.get("/nothing-here").status == 404


def test_an_unexpected_error_gets_an_apology_with_a_reference_that_is_in_the_log(running, slack, caplog):
    with running.crossfeed.engine.begin() as connection:
        connection.execute(text("DROP TABLE lead_rating_reasons"))

    with caplog.at_level(logging.ERROR, logger="crossfeed"):
        reply = slack.command("/leadfeedback", "ACME-1 2 no-budget")

    assert reply.status == 200
    answer = reply.json
    assert answer["response_type"] == "ephemeral"
    assert "Sorry, something went wrong on our side and nothing was saved" in answer["text"]
    assert "Traceback" not in reply.body and "lead_rating_reasons" not in reply.body
    reference = re.search(r"reference `([0-9a-f]{8})`", answer["text"]).group(1)
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged and logged[0].exc_info is not None, "the log has the reference and the traceback"
    assert rating_count(running.crossfeed) == 0, "the rating's transaction was rolled back"


def test_an_unexpected_error_in_a_modal_replaces_it_with_an_apology(running, slack):
    from tests.test_leadfeedback_modal import open_modal, values

    view = open_modal(running, slack)
    with running.crossfeed.engine.begin() as connection:
        connection.execute(text("DROP TABLE lead_rating_reasons"))

    reply = slack.submit(view, values())

    assert reply.status == 200
    answer = reply.json
    assert answer["response_action"] == "update"
    shown = answer["view"]["blocks"][0]["text"]["text"]
    assert "Sorry, something went wrong on our side" in shown and "reference" in shown
    assert rating_count(running.crossfeed) == 0
