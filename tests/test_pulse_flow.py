"""A pulse round end to end: DMs out, clicks in, anonymity, reminders, /pulse, results."""

from __future__ import annotations

import json
from datetime import timedelta

from freezegun import freeze_time
from sqlalchemy import inspect

from schedules import jobs
from tests.helpers import (
    OPENING,
    answer_count,
    answers,
    button,
    comment_button,
    comments,
    ledger,
    make_teams,
    open_round,
    prompts,
)


def click_score(running, user, dm, question, score, at=OPENING + timedelta(hours=1)):
    action_id, value = button(dm, question, score)
    with freeze_time(at):
        reply = running.slack.click(action_id, value, user=user, channel=f"D{user}", message_ts="111.222")
        running.settle()
    return reply


def test_every_member_gets_one_dm_naming_the_other_team(running):
    make_teams(running.crossfeed, sales=["U1", "U2"], marketing=["U3"])

    open_round(running.crossfeed)

    dms = prompts(running.fake)
    assert set(dms) == {"U1", "U2", "U3"}
    sales_text = json.dumps(dms["U1"]["blocks"])
    assert "How aligned do you feel with Marketing this week?" in sales_text
    assert "How useful was Marketing's work to you this week?" in sales_text
    assert "How aligned do you feel with Sales this week?" in json.dumps(dms["U3"]["blocks"])
    assert "Add a comment" in sales_text
    assert "stored without your name" in sales_text and "at least 3 people" in sales_text
    assert ledger(running.crossfeed) == {"U1": None, "U2": None, "U3": None}


def test_a_click_is_stored_anonymously_and_shown_in_place(running):
    make_teams(running.crossfeed, sales=["U1"], marketing=["U3"])
    open_round(running.crossfeed)
    dm = prompts(running.fake)["U1"]

    reply = click_score(running, "U1", dm, 0, 4)

    assert reply.status == 200
    assert answers(running.crossfeed) == [("sales", 0, 4)]
    assert ledger(running.crossfeed)["U1"] is None, "the mark waits for a batch, never rides with the answer"
    [update] = running.fake.calls_to("chat.update")
    assert (update.params["channel"], update.params["ts"]) == ("DU1", "111.222")
    assert "you said 4" in json.dumps(update.blocks)
    chosen = [e for b in update.blocks for e in b.get("elements", []) if e.get("style") == "primary"]
    assert [e["action_id"] for e in chosen] == ["pulse.answer.0.4"]


def test_answers_keep_no_user_id_nor_time(running):
    columns = {c["name"] for c in inspect(running.crossfeed.engine).get_columns("pulse_answers")}
    comment_columns = {c["name"] for c in inspect(running.crossfeed.engine).get_columns("pulse_comments")}
    ledger_columns = {c["name"] for c in inspect(running.crossfeed.engine).get_columns("pulse_participation")}

    assert columns == {"team_id", "round_id", "respondent", "question", "side", "score"}
    assert comment_columns == {"team_id", "round_id", "respondent", "side", "text"}
    assert not {"respondent", "answered_at", "created_at"} & ledger_columns


def test_changing_an_answer_and_double_clicks_keep_one_answer(running):
    make_teams(running.crossfeed, sales=["U1"], marketing=["U3"])
    open_round(running.crossfeed)
    dm = prompts(running.fake)["U1"]

    click_score(running, "U1", dm, 0, 2)
    click_score(running, "U1", dm, 0, 2)
    click_score(running, "U1", dm, 0, 5)
    click_score(running, "U1", dm, 1, 3)

    assert answers(running.crossfeed) == [("sales", 0, 5), ("sales", 1, 3)]


def test_a_late_click_is_told_the_round_closed_and_nothing_is_stored(running):
    make_teams(running.crossfeed, sales=["U1"], marketing=["U3"])
    open_round(running.crossfeed)
    dm = prompts(running.fake)["U1"]

    click_score(running, "U1", dm, 0, 4, at=OPENING + timedelta(hours=72, seconds=1))

    assert answer_count(running.crossfeed) == 0
    [told] = running.fake.calls_to("response_url")
    assert "This pulse has closed, so your answer wasn't recorded" in told.params["text"]
    assert not running.fake.calls_to("chat.update")


def test_someone_else_clicking_a_forwarded_button_is_refused(running):
    make_teams(running.crossfeed, sales=["U1"], marketing=["U3"])
    open_round(running.crossfeed)

    click_score(running, "U9", prompts(running.fake)["U1"], 0, 1)

    assert answer_count(running.crossfeed) == 0
    assert "wasn't sent to you" in running.fake.calls_to("response_url")[0].params["text"]


def test_a_comment_is_stored_without_a_name(running):
    make_teams(running.crossfeed, sales=["U1"], marketing=["U3"])
    open_round(running.crossfeed)
    value = comment_button(prompts(running.fake)["U1"])
    with freeze_time(OPENING + timedelta(hours=2)):
        running.slack.click("pulse.comment", value, user="U1", channel="DU1")
        running.settle()
        [opened] = running.fake.calls_to("views.open")
        assert "One thing Marketing did well or could do better" in json.dumps(opened.view)

        empty = running.slack.submit(opened.view, {"pulse.comment_text": {"pulse.comment_text": {"value": " "}}},
                                     user="U1")
        saved = running.slack.submit(opened.view, {"pulse.comment_text": {"pulse.comment_text": {
            "value": "Great battlecards <!channel>"}}}, user="U1")

    assert empty.json["response_action"] == "errors"
    assert saved.status == 200 and saved.body == ""
    assert comments(running.crossfeed) == ["Great battlecards <!channel>"]


def test_reminders_go_once_and_only_to_those_who_have_not_answered(running):
    make_teams(running.crossfeed, sales=["U1", "U2"], marketing=["U3"])
    open_round(running.crossfeed)
    click_score(running, "U1", prompts(running.fake)["U1"], 0, 4)
    runtime = jobs.JobRuntime.of(running.crossfeed)

    with freeze_time(OPENING + timedelta(hours=23)):
        assert jobs.send_pulse_reminders(runtime) == "reminders: 0 queued"
    with freeze_time(OPENING + timedelta(hours=24, minutes=1)):
        assert jobs.send_pulse_reminders(runtime) == "reminders: 2 queued"
        assert jobs.send_pulse_reminders(runtime) == "reminders: 0 queued"
        running.settle()

    reminded = [c.params["channel"] for c in running.fake.calls_to("chat.postMessage")
                if c.params["text"].startswith("Reminder")]
    assert sorted(reminded) == ["U2", "U3"]


def test_someone_who_answers_after_the_reminder_is_queued_is_not_reminded(running):
    make_teams(running.crossfeed, sales=["U1"], marketing=["U3"])
    open_round(running.crossfeed)
    runtime = jobs.JobRuntime.of(running.crossfeed)
    running.fake.script.fail("chat.postMessage", times=2, status=500)
    with freeze_time(OPENING + timedelta(hours=24, minutes=1)):
        jobs.send_pulse_reminders(runtime)  # both reminders fail, so they wait for a retry
        running.settle()  # the delivery the commit started, at that time
    click_score(running, "U1", prompts(running.fake)["U1"], 0, 4, at=OPENING + timedelta(hours=25))

    with freeze_time(OPENING + timedelta(hours=26)):
        report = running.crossfeed.outbox.deliver_due()

    assert (report.sent, report.skipped) == (1, 1)
    reminded = [c.params["channel"] for c in running.fake.calls_to("chat.postMessage", succeeded=True)
                if c.params["text"].startswith("Reminder")]
    assert reminded == ["U3"]


def test_pulse_opens_the_questions_in_a_modal_and_then_shows_the_answers_to_change(running):
    make_teams(running.crossfeed, sales=["U1"], marketing=["U3"])
    open_round(running.crossfeed)
    with freeze_time(OPENING + timedelta(hours=3)):
        reply = running.slack.command("/pulse", user="U1")
        running.settle()
        [opened] = running.fake.calls_to("views.open")
        view = opened.view
        assert [b["block_id"] for b in view["blocks"][:3]] == ["pulse.q0", "pulse.q1", "pulse.comment_text"]

        missing = running.slack.submit(view, {"pulse.q0": {"pulse.q0": {"selected_option": {"value": "4"}}}},
                                       user="U1")
        sent = running.slack.submit(view, {
            "pulse.q0": {"pulse.q0": {"selected_option": {"value": "4"}}},
            "pulse.q1": {"pulse.q1": {"selected_option": {"value": "2"}}},
            "pulse.comment_text": {"pulse.comment_text": {"value": "More case studies please"}},
        }, user="U1")
        running.settle()
        running.slack.command("/pulse", user="U1")
        running.settle()
        again = running.fake.calls_to("views.open")[-1].view

    assert reply.status == 200 and reply.body == ""
    assert missing.json == {"response_action": "errors", "errors": {"pulse.q1": "Pick a score from 1 to 5."}}
    assert sent.body == ""
    assert answers(running.crossfeed) == [("sales", 0, 4), ("sales", 1, 2)]
    assert comments(running.crossfeed) == ["More case studies please"]
    assert [b["element"].get("initial_option", {}).get("value") for b in again["blocks"][:2]] == ["4", "2"]
    assert again["blocks"][2]["element"]["initial_value"] == "More case studies please"
    [shown_in_dm] = running.fake.calls_to("chat.update")
    assert "you said 4" in json.dumps(shown_in_dm.blocks) and "you said 2" in json.dumps(shown_in_dm.blocks)
    dm = prompts(running.fake)["U1"]
    click_score(running, "U1", dm, 0, 1, at=OPENING + timedelta(hours=4))
    assert answers(running.crossfeed) == [("sales", 0, 1), ("sales", 1, 2)], "the DM changes the same answer set"


def test_pulse_without_an_open_round_says_when_the_next_one_opens(running):
    make_teams(running.crossfeed, sales=["U1"], marketing=["U3"])
    with freeze_time(OPENING - timedelta(days=1)):
        reply = running.slack.command("/pulse", user="U1")

    assert "No pulse is open right now. The next one opens <!date^1795618800^" in reply.body


def test_pulse_for_someone_in_neither_team(running):
    make_teams(running.crossfeed, sales=["U1"], marketing=["U3"])
    open_round(running.crossfeed)
    with freeze_time(OPENING + timedelta(hours=1)):
        reply = running.slack.command("/pulse", user="U42")
    assert "you're in neither" in reply.body


def answer_as(running, users, scores_by_user, at=OPENING + timedelta(hours=1)):
    dms = prompts(running.fake)
    for user in users:
        for question, score in enumerate(scores_by_user[user]):
            click_score(running, user, dms[user], question, score, at=at)


def test_results_respect_the_anonymity_thresholds(running):
    sales = ["S1", "S2", "S3", "S4", "S5"]
    marketing = ["M1", "M2", "M3"]
    make_teams(running.crossfeed, sales=sales, marketing=marketing)
    open_round(running.crossfeed)
    answer_as(running, sales, {"S1": [4, 3], "S2": [5, 4], "S3": [3, 3], "S4": [4, 2], "S5": [4, 3]})
    answer_as(running, ["M1", "M2"], {"M1": [2, 2], "M2": [3, 1]})
    for user in ("S1", "S2", "S3", "S4", "S5", "M1"):
        value = comment_button(prompts(running.fake)[user])
        with freeze_time(OPENING + timedelta(hours=2)):
            running.slack.click("pulse.comment", value, user=user)
            running.settle()
            view = running.fake.calls_to("views.open")[-1].view
            running.slack.submit(view, {"pulse.comment_text": {"pulse.comment_text": {
                "value": f"comment from {user} &amp; <@U1>"}}}, user=user)

    with freeze_time(OPENING + timedelta(hours=1)):
        during = running.slack.command("/pulse", "results", user="S1")
    with freeze_time(OPENING + timedelta(hours=73)):
        after = running.slack.command("/pulse", "results", user="S1")

    assert "No pulse round has closed yet" in during.body
    blocks = after.json["blocks"]
    text = json.dumps(blocks, ensure_ascii=False)
    assert "*Sales* · 5 of 5 answered" in text
    assert "*4.0* / 5" in text and "*3.0* / 5" in text  # sales: (4+5+3+4+4)/5, (3+4+3+2+3)/5
    assert "*Marketing* · 2 of 3 answered" in text
    assert "Not enough answers to show without identifying people (scores need 3)" in text
    assert "2.5" not in text, "marketing's average of 2 answers must not appear"
    assert "comment from S1" in text and "comment from M1" not in text
    assert "<@U1>" not in text and "comment from S1 &amp;amp; &lt;@U1&gt;" in text, "comments are escaped"
    assert "Perception gap" not in text, "no gap without both teams' scores"


def test_results_show_the_perception_gap_when_both_teams_are_shown(running):
    make_teams(running.crossfeed, sales=["S1", "S2", "S3"], marketing=["M1", "M2", "M3"])
    open_round(running.crossfeed)
    answer_as(running, ["S1", "S2", "S3", "M1", "M2", "M3"],
              {"S1": [4, 4], "S2": [4, 4], "S3": [4, 4], "M1": [2, 3], "M2": [3, 3], "M3": [1, 3]})

    with freeze_time(OPENING + timedelta(days=4)):
        text = running.slack.command("/pulse", "results").body

    assert "Sales feels 2.0 points more aligned than Marketing does." in text
    assert "Comments are shown once 5 people have answered." in text
