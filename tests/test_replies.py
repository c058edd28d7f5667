"""Replies to feedback end to end: a rating → its lead-feed post → a marketer's reply → the post updated in place
and the rep's DM; the same reply on a field-intel item; who may reply; bad input; forgetting."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.blocks.ids import ReplyIds as Ids
from bot.results.actions import ActionPrompt
from storage.models import FeedbackReply, FieldIntel
from tests.helpers import TEAM, make_teams
from tests.helpers import outbox as outbox_rows

FEED = "C_FEED"


@pytest.fixture
def app(start_app):
    return start_app(lead_feed_channel=FEED)


def reply_values(status="fixed", note="Tightened the webinar form: <!channel> company size is required now",
                 link="https://acme.com/changes/42"):
    return {
        Ids.STATUS: {Ids.STATUS: {"type": "radio_buttons", "selected_option": {
            "value": status, "text": {"type": "plain_text", "text": status}} if status else None}},
        Ids.NOTE: {Ids.NOTE: {"type": "plain_text_input", "value": note}},
        Ids.LINK: {Ids.LINK: {"type": "plain_text_input", "value": link}},
    }


def replies(crossfeed) -> list[FeedbackReply]:
    with crossfeed.sessions() as session:
        return list(session.scalars(select(FeedbackReply).order_by(FeedbackReply.id)))


def feed_posts(app) -> list[dict]:
    return [call.params for call in app.fake.calls_to("chat.postMessage") if call.params["channel"] == FEED]


def dms_to(app, user: str) -> list:
    return [call for call in app.fake.calls_to("chat.postMessage") if call.params["channel"] == user]


def buttons(blocks: list[dict]) -> dict[str, str]:
    """action_id → value of every button in a message."""
    return {element["action_id"]: element.get("value") for block in blocks if block["type"] == "actions"
            for element in block["elements"]}


def json_text(view: dict) -> str:
    return json.dumps(view, ensure_ascii=False)


def rate_badly(app, user="UREP", text='ACME-1 2 no-budget source:webinar "only wanted pricing"') -> dict:
    app.slack.command("/leadfeedback", text, user=user)
    app.settle()
    return feed_posts(app)[-1]


def open_reply(app, value: str, status: str, user: str) -> dict:
    """Click a reply button as `user` and return the modal Slack was asked to open."""
    app.fake.reset()
    reply = app.slack.click(f"{Ids.OPEN}.{status}", value, user=user, channel=FEED, message_ts="1700000000.000001")
    assert reply.status == 200 and reply.body == ""
    [opened] = app.fake.wait_for("views.open")
    return opened.view


def send_reply(app, view: dict, user: str, **values):
    reply = app.slack.submit(view, reply_values(**values), user=user)
    app.settle()
    return reply


def test_a_marketers_reply_updates_the_post_in_place_and_tells_the_rep_once(app):
    make_teams(app.crossfeed, sales=["UREP"], marketing=["UM1", "UM2"])
    post = rate_badly(app)
    shown = buttons(post["blocks"])
    assert {key: shown[key] for key in ("reply.open.on_it", "reply.open.fixed", "reply.open.wont_fix",
                                        "reply.open.replied")} == dict.fromkeys(
        ("reply.open.on_it", "reply.open.fixed", "reply.open.wont_fix", "reply.open.replied"), "rating:1")
    assert ActionPrompt.from_value(shown["action.new"]) == ActionPrompt(
        kind="rating", ref="1", label="Lead ACME-1 rated 2/5 · No budget · from Webinar",
        title="Fewer “No budget” leads"), "Log action is prompted by the rating, so it leads back to the rep"
    [feed_row] = [row for row in outbox_rows(app.crossfeed) if row.kind == "lead_feed"]

    modal = open_reply(app, "rating:1", "fixed", user="UM1")
    assert modal["callback_id"] == Ids.MODAL
    status = next(block for block in modal["blocks"] if block.get("block_id") == Ids.STATUS)
    assert status["element"]["initial_option"]["value"] == "fixed"
    assert "ACME-1" in json_text(modal) and "<@UREP>" in json_text(modal)

    app.fake.reset()
    answer = send_reply(app, modal, user="UM1")

    assert answer.body == ""
    [update] = app.fake.calls_to("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (FEED, feed_row.slack_ts), "the same post, in place"
    updated = update.text_everywhere()
    assert "*Fixed* by <@UM1>" in updated and "Tightened the webinar form" in updated
    assert "&lt;!channel&gt;" in updated and "<!channel>" not in updated, "the note is escaped"
    assert "https://acme.com/changes/42" in updated
    assert "reply.open.fixed" in updated, "the buttons stay for the next reply"
    [dm] = dms_to(app, "UREP")
    told = dm.text_everywhere()
    assert "<@UM1>" in told and "Fixed" in told and "ACME-1" in told and "2/5" in told
    assert "Tightened the webinar form" in told and "https://acme.com/changes/42" in told
    assert "<!channel>" not in told
    assert [call.params["user_id"] for call in app.fake.calls_to("views.publish")] == ["UREP"]
    [row] = replies(app.crossfeed)
    assert (row.subject_kind, row.subject_id, row.status, row.replied_by) == ("rating", 1, "fixed", "UM1")
    assert row.link == "https://acme.com/changes/42"
    first_replied_at = row.first_replied_at

    # Slack retries the submission (or the modal is sent twice): nothing changes, nobody is told again.
    app.fake.reset()
    send_reply(app, modal, user="UM1", note="A different note sent by the retry")
    assert dms_to(app, "UREP") == []
    assert [(r.status, r.note.startswith("Tightened")) for r in replies(app.crossfeed)] == [("fixed", True)]

    # A second marketer answers later: the one reply changes, the post shows it, the rep is told once more.
    second = open_reply(app, "rating:1", "wont_fix", user="UM2")
    assert "Currently" in json_text(second) and "<@UM1>" in json_text(second)
    app.fake.reset()
    send_reply(app, second, user="UM2", status="wont_fix", note="Webinar leads stay: they close at 30%", link="")

    [row] = replies(app.crossfeed)
    assert (row.status, row.replied_by, row.note, row.link) == (
        "wont_fix", "UM2", "Webinar leads stay: they close at 30%", None)
    assert row.first_replied_at == first_replied_at, "first_replied_at keeps the first reply's time"
    [update] = app.fake.calls_to("chat.update")
    assert update.params["ts"] == feed_row.slack_ts
    assert "*Won't fix* by <@UM2>" in update.text_everywhere() and "<@UM1>" not in update.text_everywhere()
    [dm] = dms_to(app, "UREP")
    assert "<@UM2>" in dm.text_everywhere() and "they close at 30%" in dm.text_everywhere()
    assert len(feed_posts(app)) == 0, "never a second post"


def test_someone_outside_marketing_is_told_who_can_reply_and_nothing_is_stored(app):
    make_teams(app.crossfeed, sales=["UREP", "UREP2"], marketing=["UM1"])
    rate_badly(app)

    app.fake.reset()
    app.slack.click(f"{Ids.OPEN}.fixed", "rating:1", user="UREP2", channel=FEED)
    app.settle()

    assert app.fake.calls_to("views.open") == []
    [told] = app.fake.calls_to("response_url")
    assert "Only the marketing team and Crossfeed admins can reply" in told.params["text"]
    assert "<@UM1>" in told.params["text"]

    # A modal submitted by someone who is not (or no longer) in marketing changes nothing either.
    refused = app.slack.submit({"callback_id": Ids.MODAL, "private_metadata": '{"s":"rating:1"}', "id": "V9"},
                               reply_values(), user="UREP2")
    app.settle()
    assert "Only the marketing team" in refused.body
    assert replies(app.crossfeed) == [] and dms_to(app, "UREP") == []


def test_admins_may_reply_and_anyone_may_before_teams_exist(app):
    rate_badly(app)
    modal = open_reply(app, "rating:1", "on_it", user="UANYONE")
    send_reply(app, modal, user="UANYONE", status="on_it", note="", link="")
    assert [(r.status, r.replied_by, r.note) for r in replies(app.crossfeed)] == [("on_it", "UANYONE", None)]

    make_teams(app.crossfeed, sales=["UREP"], marketing=["UM1"])
    app.slack.command("/alignment", "admin add <@UADMIN>", user="UADMIN")
    modal = open_reply(app, "rating:1", "replied", user="UADMIN")
    send_reply(app, modal, user="UADMIN", status="replied", note="Thanks, passing it to the webinar team", link="")
    assert [(r.status, r.replied_by) for r in replies(app.crossfeed)] == [("replied", "UADMIN")]


@pytest.mark.parametrize(("values", "block", "complaint"), [
    (dict(link="acme.com/changes"), Ids.LINK, "must be a web address starting with http:// or https://"),
    (dict(link="javascript:alert(1)"), Ids.LINK, "must be a web address"),
    (dict(status="wont_fix", note=""), Ids.NOTE, "needs a line saying why"),
    (dict(status="replied", note="   "), Ids.NOTE, "needs a line saying why"),
    (dict(note="x" * 1001), Ids.NOTE, "keep it to 1000"),
])
def test_bad_input_is_shown_on_the_field_and_nothing_is_stored(app, values, block, complaint):
    make_teams(app.crossfeed, sales=["UREP"], marketing=["UM1"])
    rate_badly(app)
    modal = open_reply(app, "rating:1", "fixed", user="UM1")
    app.fake.reset()

    answer = send_reply(app, modal, user="UM1", **values)

    assert answer.json["response_action"] == "errors"
    assert complaint in answer.json["errors"][block]
    assert replies(app.crossfeed) == []
    assert app.fake.calls_to("chat.postMessage") == [] and app.fake.calls_to("chat.update") == []


def test_a_reply_to_field_intel_updates_its_post_and_tells_the_sender(app):
    make_teams(app.crossfeed, sales=["USELLER"], marketing=["UM1"])
    with app.crossfeed.transaction() as session:
        intel = FieldIntel(team_id=TEAM, user_id="USELLER", kind="competitor", topic="LedgerLoop",
                           topic_key="ledgerloop", text="They offered 40% off to <b>beat us</b>",
                           submission_key="V-intel", created_at=datetime(2026, 11, 30, tzinfo=UTC))
        session.add(intel)
        session.flush()
        intel_id = intel.id

    modal = open_reply(app, f"intel:{intel_id}", "on_it", user="UM1")
    assert "LedgerLoop" in json_text(modal) and "<@USELLER>" in json_text(modal)
    app.fake.reset()
    send_reply(app, modal, user="UM1", status="on_it", note="Building a LedgerLoop battlecard", link="")

    [row] = replies(app.crossfeed)
    assert (row.subject_kind, row.subject_id, row.status, row.replied_by) == ("intel", intel_id, "on_it", "UM1")
    assert row.subject_at == datetime(2026, 11, 30, tzinfo=UTC), "subject_at is when the intel was sent"
    [post] = [message for message in outbox_rows(app.crossfeed) if message.kind == "intel_post"]
    assert (post.dedupe_key, post.channel, post.payload) == (f"intel:{intel_id}", FEED, {"intel_id": intel_id})
    [dm] = dms_to(app, "USELLER")
    assert "<@UM1>" in dm.text_everywhere() and "LedgerLoop" in dm.text_everywhere()
    assert "Building a LedgerLoop battlecard" in dm.text_everywhere()


def test_feedback_that_was_removed_is_answered_kindly(app):
    make_teams(app.crossfeed, sales=["UREP"], marketing=["UM1"])

    app.slack.click(f"{Ids.OPEN}.fixed", "rating:999", user="UM1", channel=FEED)
    app.slack.click(f"{Ids.OPEN}.fixed", "bogus", user="UM1", channel=FEED)
    app.settle()

    assert app.fake.calls_to("views.open") == []
    told = [call.params["text"] for call in app.fake.calls_to("response_url")]
    assert len(told) == 2 and all("This feedback was removed" in text for text in told)

    gone = app.slack.submit({"callback_id": Ids.MODAL, "private_metadata": '{"s":"intel:5"}', "id": "V9"},
                            reply_values(), user="UM1")
    assert "This feedback was removed" in gone.body
    assert replies(app.crossfeed) == []


def test_forget_deletes_replies_to_and_by_a_person_and_the_post_drops_theirs(app):
    make_teams(app.crossfeed, sales=["UREP", "UREP2"], marketing=["UM1"])
    app.slack.command("/alignment", "admin add <@UADMIN>", user="UADMIN")
    rate_badly(app, user="UREP")
    rate_badly(app, user="UREP2", text="ACME-2 1 spam")
    for subject in ("rating:1", "rating:2"):
        modal = open_reply(app, subject, "fixed", user="UM1")
        send_reply(app, modal, user="UM1")
    assert len(replies(app.crossfeed)) == 2

    app.slack.click("alignment.forget_confirm", "UREP", user="UADMIN")
    app.settle()
    assert [(r.subject_id, r.replied_by) for r in replies(app.crossfeed)] == [(2, "UM1")]
    assert "1 replies to feedback" in app.fake.calls_to("response_url")[-1].params["text"]

    app.fake.reset()
    app.slack.click("alignment.forget_confirm", "UM1", user="UADMIN")
    app.settle()
    assert replies(app.crossfeed) == []
    [update] = app.fake.calls_to("chat.update")
    assert "ACME-2" in update.text_everywhere() and "<@UM1>" not in update.text_everywhere(), (
        "the post no longer names the forgotten marketer")


def test_log_action_on_a_feed_post_is_prompted_by_the_rating_so_it_leads_back_to_the_rep():
    from bot.blocks.leadfeedback import feed_action_prompt
    from bot.results.actions import PROMPT_LABEL_MAX
    from bot.results.leads import RatedLead

    rated = RatedLead(id=7, lead_ref="ACME-7", rating=1, reasons=("Bad data", "No budget"), source="Webinar",
                      reason_codes=("bad-data", "no-budget"), source_id=3, source_text=None, campaign=None, note=None,
                      rater_user_id="UREP", updated_at=datetime(2026, 12, 1, tzinfo=UTC), source_code="webinar")

    assert feed_action_prompt(rated) == ActionPrompt(
        kind="rating", ref="7", label="Lead ACME-7 rated 1/5 · Bad data, No budget · from Webinar",
        title="Fewer “Bad data” leads")
    unreasoned = replace(rated, reasons=(), reason_codes=())
    assert feed_action_prompt(unreasoned) == ActionPrompt(kind="rating", ref="7",
                                                          label="Lead ACME-7 rated 1/5 · from Webinar",
                                                          title="Better leads from Webinar")
    bare = replace(unreasoned, source=None, source_id=None, source_code=None)
    assert feed_action_prompt(bare) == ActionPrompt(kind="rating", ref="7", label="Lead ACME-7 rated 1/5",
                                                    title="Follow up on lead ACME-7")
    typed = replace(bare, source_text="webinarz")
    assert feed_action_prompt(typed).label == "Lead ACME-7 rated 1/5 · from Other: webinarz"
    long = replace(rated, lead_ref="<!channel>" + "x" * 250)
    assert len(feed_action_prompt(long).label) == PROMPT_LABEL_MAX, "capped; escaped where it is shown"
    assert ActionPrompt.from_value(feed_action_prompt(rated).to_value()) == feed_action_prompt(rated)
