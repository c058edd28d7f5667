"""A messaging ask closes its loop: one reminder to the reps who haven't answered, "what we changed" to those
who did, and a new version set beside the old one in results, the summary and the digest.

Scheduled behaviour is reached through the clock's own job table (TurnedClock) under freezegun; everything a
person does is a signed request through the running app."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import delete, select

from bot.blocks.ids import MessagingIds as Ids
from bot.blocks.ids import SetupIds
from storage import teams as team_store
from storage.models import MessagingAsk, OutboxMessage
from tests.clock_kit import Clock, TurnedClock
from tests.test_messaging import SALES, answer_values, ask_values, button_value, put_in_teams
from tests.test_setup import open_setup, submitted

# Tuesday 24 November 2026, 15:00 UTC (10:00 in New York): an ordinary working morning.
MONDAY_BEFORE = datetime.fromisoformat("2026-11-23T14:00:00+00:00")
OPENED = datetime.fromisoformat("2026-11-24T15:00:00+00:00")
ASKER = "UENABLE"  # sales enablement: in the sales team, and still never reminded of their own ask
REPS = ("U1", "U2", "U3", "U4")
MARKETER = "UMKT2"
REMINDER = "Reminder: How did this land with buyers?"  # (the clock's pulse DMs go out alongside)


@pytest.fixture
def app(start_app):
    return start_app(sales_channel=SALES)


@pytest.fixture
def teams(app, clock):
    """The teams, set up by an admin the Monday before (frozen: the workspace's first day is then)."""
    put_in_teams(app, sales=(ASKER, *REPS), marketing=("UMKT", MARKETER))
    with app.crossfeed.transaction() as session:
        team_store.workspace_config(session=session, team_id="T1").timezone = "America/New_York"


@pytest.fixture
def clock(app):
    """The clock process, started (frozen) before anything is asked; turned by `turn_at`."""
    with freeze_time(MONDAY_BEFORE) as frozen:
        clock = TurnedClock(app.settings)
        try:
            yield Clock(clock, frozen, app)
        finally:
            clock.stop()


def ask(app, user=ASKER, **values) -> MessagingAsk:
    app.fake.reset()
    assert app.slack.command("/messaging", "ask", user=user).status == 200
    [opened] = app.fake.wait_for("views.open")
    form = ask_values(**{k: v for k, v in values.items() if k != "previous"})
    if values.get("previous"):
        form[Ids.PREVIOUS] = {Ids.PREVIOUS: {"type": "static_select", "selected_option": {
            "value": str(values["previous"]), "text": {"type": "plain_text", "text": "earlier"}}}}
    reply = app.slack.submit({**opened.view, "id": f"V{len(asks(app)) + 1}"}, form, user=user)
    assert reply.body == "", reply.body
    app.settle()
    return asks(app)[-1]


def asks(app) -> list[MessagingAsk]:
    with app.crossfeed.sessions() as session:
        return list(session.scalars(select(MessagingAsk).order_by(MessagingAsk.id)))


def answer(app, user, reaction="resonated", *, ask_id, **values):
    """A rep clicks a reaction on the card and sends the answer modal."""
    app.fake.reset()
    value = json.dumps({"a": ask_id, "r": reaction}, separators=(",", ":"))
    app.slack.click(f"messaging.react.{reaction}", value, user=user, channel=SALES, message_ts="1700000000.000001")
    [opened] = app.fake.wait_for("views.open")
    used = () if reaction == "not_used" else ("call",)
    reply = app.slack.submit(opened.view, answer_values(reaction=reaction, used_in=used, **values), user=user)
    assert reply.body == "", reply.body
    app.settle()


def reminders(app) -> dict[str, dict]:
    """person → the reminder DM they got."""
    return {c.params["channel"]: c.params for c in app.fake.calls_to("chat.postMessage", succeeded=True)
            if c.params.get("text", "").startswith(REMINDER)}


def posts_to(app, user) -> list[dict]:
    return [c.params for c in app.fake.calls_to("chat.postMessage", succeeded=True) if c.params["channel"] == user]


# --- one reminder, to exactly the reps who haven't answered -------------------------------------------------


def test_a_channel_ask_reminds_only_the_sales_reps_who_havent_answered_once(app, teams, clock):
    clock.at(OPENED)
    sent = ask(app)
    assert sent.remind_at == OPENED + timedelta(hours=24), "the workspace's default: a day after it opens"
    answer(app, "U1", "resonated", ask_id=sent.id)
    answer(app, "U2", "flat", ask_id=sent.id)

    app.fake.reset()
    clock.turn_at(OPENED + timedelta(hours=23, minutes=59))
    assert reminders(app) == {}, "not before its time"

    clock.turn_at(OPENED + timedelta(hours=24, minutes=1))
    clock.turn_at(OPENED + timedelta(hours=24, minutes=3))  # a second turn of the clock reminds nobody again

    got = reminders(app)
    assert sorted(got) == ["U3", "U4"], "not those who answered, the marketers, nor the asker"
    reminder = got["U3"]
    shown = json.dumps(reminder["blocks"], ensure_ascii=False)
    assert f"<@{ASKER}> would still like to hear how “Q4 ROI talk track” landed" in shown
    # The ask card's own answer buttons: a click answers this ask.
    assert json.loads(button_value(reminder["blocks"], "mixed")) == {"a": sent.id, "r": "mixed"}
    with app.crossfeed.sessions() as session:
        keys = sorted(session.scalars(select(OutboxMessage.dedupe_key).where(
            OutboxMessage.kind == "messaging_reminder")))
        assert session.get(MessagingAsk, sent.id).reminders_queued is True
    assert keys == [f"ask-reminder:{sent.id}:U3", f"ask-reminder:{sent.id}:U4"]

    # The reminded rep answers from the reminder: their answer counts like any other.
    answer(app, "U3", "mixed", ask_id=sent.id)
    assert "3 reps answered" in app.slack.command("/messaging", f"results #{sent.id}", user=ASKER).body

    # When the ask closes, the reminders posted show it closed, without buttons, like every card of the ask.
    app.fake.reset()
    clock.turn_at(sent.closes_at + timedelta(minutes=1))
    closed = {c.params["channel"]: c.blocks for c in app.fake.calls_to("chat.update") if c.params["channel"] != SALES}
    assert sorted(closed) == ["U3", "U4"]
    assert all("Closed" in json.dumps(blocks) and "messaging.react" not in json.dumps(blocks)
               for blocks in closed.values())
    assert not reminders(app), "re-synced in place, never sent again"


def test_a_dm_ask_reminds_its_recipients_in_sales_who_havent_answered_once_whatever_the_clocks(app, teams, clock):
    clock.at(OPENED)
    sent = ask(app, channel=None, people=("U1", "U2", MARKETER))
    answer(app, "U2", "resonated", ask_id=sent.id)

    # Two clock processes reach the reminder time together: one claims the ask, the other finds it taken.
    second = TurnedClock(app.settings)
    try:
        app.fake.reset()
        clock.at(OPENED + timedelta(hours=25))
        turns = [threading.Thread(target=c.turn) for c in (clock.clock, second)]
        for turn in turns:
            turn.start()
        for turn in turns:
            turn.join()
        app.settle()
    finally:
        second.stop()

    assert sorted(reminders(app)) == ["U1"], "U3 and U4 weren't asked; the marketer was left out"
    assert len([c for c in app.fake.calls_to("chat.postMessage") if c.params["text"].startswith(REMINDER)]) == 1


def test_a_rep_who_answers_after_the_reminder_is_queued_is_not_reminded(app, teams, clock):
    clock.at(OPENED)
    sent = ask(app)
    for rep in REPS[:3]:
        answer(app, rep, ask_id=sent.id)
    # U4 answers in the moment between the reminder being queued and being sent: the send checks again.
    app.fake.script.fail("chat.postMessage", error="ratelimited")  # refused: the outbox retries it later
    app.fake.reset()
    clock.turn_at(OPENED + timedelta(hours=24, minutes=1))
    [refused] = [c for c in app.fake.calls_to("chat.postMessage") if c.params["text"].startswith(REMINDER)]
    assert refused.params["channel"] == "U4" and not refused.ok
    answer(app, "U4", ask_id=sent.id)
    clock.turn_at(OPENED + timedelta(hours=26))

    assert reminders(app) == {}
    with app.crossfeed.sessions() as session:
        [reminder] = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "messaging_reminder"))
    assert (reminder.channel, reminder.status, reminder.slack_ts) == ("U4", "sent", None), "skipped, not sent"


def test_the_reminder_hours_are_set_in_setup_and_apply_to_asks_opened_after(app, teams, clock):
    clock.at(OPENED)
    before = ask(app, name="Battlecard")
    view = open_setup(app, app.slack, user="UADMIN")
    [field] = [b for b in view["blocks"] if b.get("block_id") == SetupIds.ASK_REMINDER_HOURS]
    assert field["element"]["initial_value"] == "24"

    for bad in ("0", "337", "1.5"):
        refused = app.slack.submit(view, submitted(view, **{SetupIds.ASK_REMINDER_HOURS: bad}), user="UADMIN")
        assert refused.json["response_action"] == "errors"
        assert "from 1 to 336" in refused.json["errors"][SetupIds.ASK_REMINDER_HOURS]
    saved = app.slack.submit(view, submitted(view, **{SetupIds.ASK_REMINDER_HOURS: "3"}), user="UADMIN")
    assert saved.json["response_action"] == "update"
    assert "one reminder 3 h after an ask opens" in app.slack.command("/alignment", "status", user="UADMIN").body

    after = ask(app, name="ROI deck")
    two_days = ask(app, name="Pricing page", days="1")
    assert after.remind_at == OPENED + timedelta(hours=3)
    assert before.remind_at == OPENED + timedelta(hours=24), "an ask already open keeps its time"
    assert two_days.remind_at == OPENED + timedelta(hours=3)

    app.fake.reset()
    clock.turn_at(OPENED + timedelta(hours=2, minutes=59))
    assert reminders(app) == {}
    clock.turn_at(OPENED + timedelta(hours=3, minutes=1))
    sent = sorted((c.params["channel"], c.params["text"].removeprefix(REMINDER).strip())
                  for c in app.fake.calls_to("chat.postMessage", succeeded=True)
                  if c.params["text"].startswith(REMINDER))
    assert sent == sorted((rep, name) for rep in REPS for name in ("Pricing page", "ROI deck")), \
        "the asks opened after the change, not the one opened before"

    # A reminder time later than the ask closes is no reminder at all.
    app.slack.submit(view, submitted(view, **{SetupIds.ASK_REMINDER_HOURS: "48"}), user="UADMIN")
    one_day = ask(app, name="One-day ask", days="1")
    assert one_day.remind_at is None


# --- "what we changed", to exactly those who answered -------------------------------------------------------


def close_and_summary(app, clock, sent: MessagingAsk) -> dict:
    """Turn the clock past the ask's close; the asker's summary DM."""
    app.fake.reset()
    clock.turn_at(sent.closes_at + timedelta(minutes=1))
    [summary] = [p for p in posts_to(app, sent.asker_user_id) if f"“{sent.name}” has closed" in p["text"]]
    return summary


def change_button(summary: dict) -> dict:
    [button] = [e for b in summary["blocks"] for e in b.get("elements", []) if e.get("action_id") == Ids.CHANGE]
    return button


def change_values(note, link=None) -> dict:
    return {Ids.CHANGE_NOTE: {Ids.CHANGE_NOTE: {"type": "plain_text_input", "value": note}},
            Ids.CHANGE_LINK: {Ids.CHANGE_LINK: {"type": "plain_text_input", "value": link}}}


def open_change_modal(app, summary, user=ASKER) -> dict:
    app.fake.reset()
    app.slack.click(Ids.CHANGE, change_button(summary)["value"], user=user, channel="D" + user)
    [opened] = app.fake.wait_for("views.open")
    return {**opened.view, "id": "VCHANGE"}


def test_messaging_help_explains_the_loop(app):
    shown = app.slack.command("/messaging", "help", user="UMKT").json
    text = json.dumps(shown, ensure_ascii=False)

    assert shown["response_type"] == "ephemeral"
    for words in ("`/messaging ask`", "New version of", "Post what we changed", "one reminder",
                  "`/alignment setup`", "Log action"):
        assert words in text, words
    assert "`/messaging help`" in app.slack.command("/messaging", "nonsense", user="UMKT").json["text"]


def test_what_we_changed_reaches_exactly_those_who_answered_once_escaped(app, teams, clock):
    clock.at(OPENED)
    sent = ask(app)
    answer(app, "U1", "flat", ask_id=sent.id, quote="Too long")
    answer(app, "U2", "mixed", ask_id=sent.id)
    summary = close_and_summary(app, clock, sent)

    button = change_button(summary)
    assert button["text"]["text"] == "Post what we changed" and button["value"] == str(sent.id)
    [log] = [e for b in summary["blocks"] for e in b.get("elements", []) if e.get("action_id") == "action.new"]
    assert json.loads(log["value"]) == {"k": "ask", "r": str(sent.id), "l": "Q4 ROI talk track",
                                        "t": "Rework “Q4 ROI talk track”"}
    app.fake.reset()
    app.slack.click("action.new", log["value"], user=ASKER, channel="D" + ASKER)  # (the actions' own surface)
    [action_modal] = app.fake.wait_for("views.open")
    assert action_modal.view["callback_id"] == "action.modal"
    assert "Rework “Q4 ROI talk track”" in json.dumps(action_modal.view, ensure_ascii=False)

    modal = open_change_modal(app, summary)
    assert "2 reps who answered" in json.dumps(modal, ensure_ascii=False)

    # Bad input is shown on its field and nothing is stored or sent.
    for values, block, complaint in (
        (change_values("   "), Ids.CHANGE_NOTE, "Say what you changed"),
        (change_values("x" * 1001), Ids.CHANGE_NOTE, "keep it to 1000"),
        (change_values("Shorter", "ftp://files/deck"), Ids.CHANGE_LINK, "must be a web address"),
    ):
        refused = app.slack.submit(modal, values, user=ASKER)
        assert complaint in refused.json["errors"][block]
    app.settle()
    assert not app.fake.calls_to("chat.postMessage")

    note = "Cut it to one page <!channel> & led with payback, thanks <@U9>"
    values = change_values(note, "https://acme.com/roi-v2?a=1&b=2")
    first = app.slack.submit(modal, values, user=ASKER)
    again = app.slack.submit(modal, values, user=ASKER)  # Slack's retry, or a double click
    app.settle()

    assert "Sent to the 2 reps who answered" in json.dumps(first.json["view"], ensure_ascii=False)
    assert "Already sent" in json.dumps(again.json["view"], ensure_ascii=False)
    dms = {c.params["channel"]: c.params for c in app.fake.calls_to("chat.postMessage")}
    assert sorted(dms) == ["U1", "U2"], "exactly the reps who answered, once each"
    assert not app.fake.calls_to("chat.update")
    shown = json.dumps(dms["U1"], ensure_ascii=False)
    assert f"<@{ASKER}>'s ask about “Q4 ROI talk track”" in shown
    assert "Cut it to one page &lt;!channel&gt; &amp; led with payback, thanks &lt;@U9&gt;" in shown
    assert "https://acme.com/roi-v2?a=1&amp;b=2" in shown
    assert "<!channel>" not in shown and "<@U9>" not in shown
    with app.crossfeed.sessions() as session:
        stored = session.get(MessagingAsk, sent.id)
        assert (stored.change_note, stored.change_link) == (note, "https://acme.com/roi-v2?a=1&b=2")
        assert stored.changed_at is not None

    # The asker's results show it too.
    results = app.slack.command("/messaging", f"results #{sent.id}", user=ASKER).body
    assert "What we changed" in results and "Cut it to one page &lt;!channel&gt;" in results

    # An edit updates the DMs already sent in place: no second notification.
    edit = open_change_modal(app, summary)
    [prefilled] = [b for b in edit["blocks"] if b.get("block_id") == Ids.CHANGE_NOTE]
    assert prefilled["element"]["initial_value"] == note and edit["submit"]["text"] == "Update"
    app.fake.reset()
    edited = app.slack.submit(edit, change_values("One page, payback first"), user=ASKER)
    app.settle()
    assert "Updated" in json.dumps(edited.json["view"])
    assert not app.fake.calls_to("chat.postMessage")
    updates = app.fake.calls_to("chat.update")
    assert sorted(u.params["channel"] for u in updates) == sorted(dms[rep]["channel"] for rep in ("U1", "U2"))
    assert all("One page, payback first" in json.dumps(u.blocks) for u in updates)


def test_only_the_asker_or_an_admin_posts_what_changed(app, teams, clock):
    clock.at(OPENED)
    sent = ask(app)
    answer(app, "U1", ask_id=sent.id)
    summary = close_and_summary(app, clock, sent)

    app.fake.reset()
    app.slack.click(Ids.CHANGE, change_button(summary)["value"], user=MARKETER)
    app.settle()
    [told] = app.fake.calls_to("response_url")
    assert f"Only <@{ASKER}>, who asked about “Q4 ROI talk track”, or an admin can post what changed" in (
        told.params["text"])
    assert not app.fake.calls_to("views.open")

    # A form opened by the asker but sent by someone else is refused too, and nothing is sent.
    modal = open_change_modal(app, summary)
    app.fake.reset()
    refused = app.slack.submit(modal, change_values("Shorter"), user=MARKETER)
    app.settle()
    assert "Only <@UENABLE>" in json.dumps(refused.json["view"])
    assert not app.fake.calls_to("chat.postMessage")

    # An admin may (RevOps tidying up after a marketer who left), from the ask's results as well.
    app.slack.command("/alignment", "admin add <@UOPS|ops>", user="UADMIN")
    with app.crossfeed.transaction() as session:
        team_store.workspace_config(session=session, team_id="T1").leader_user_ids = ["ULEAD"]
    for reader, offered in (("UOPS", True), (ASKER, True), ("ULEAD", False)):
        results = app.slack.command("/messaging", f"results #{sent.id}", user=reader).json
        buttons = [e for b in results["blocks"] for e in b.get("elements", []) if e.get("action_id") == Ids.CHANGE]
        assert bool(buttons) is offered, reader
    admin_modal = open_change_modal(app, summary, user="UOPS")
    app.fake.reset()
    app.slack.submit(admin_modal, change_values("Shorter"), user="UOPS")
    app.settle()
    assert [c.params["channel"] for c in app.fake.calls_to("chat.postMessage")] == ["U1"]


def test_what_changed_for_an_ask_that_was_deleted_is_told_so(app, teams, clock):
    clock.at(OPENED)
    sent = ask(app)
    summary = close_and_summary(app, clock, sent)
    with app.crossfeed.transaction() as session:
        session.execute(delete(MessagingAsk))

    app.fake.reset()
    app.slack.click(Ids.CHANGE, change_button(summary)["value"], user=ASKER)
    app.settle()

    [told] = app.fake.calls_to("response_url")
    assert "This ask no longer exists" in told.params["text"]


# --- v1 and v2 side by side -------------------------------------------------------------------------------


def test_a_new_version_shows_both_resonances_in_results_the_summary_and_the_digest(app, teams, clock):
    with app.crossfeed.transaction() as session:
        team_store.workspace_config(session=session, team_id="T1").digest_channels = ["C_DIGEST"]
    clock.at(OPENED)
    v1 = ask(app, name="ROI deck", days="3")
    for rep, reaction in (("U1", "resonated"), ("U2", "flat"), ("U3", "flat")):
        answer(app, rep, reaction, ask_id=v1.id)

    # The ask modal offers the workspace's recent asks, newest first.
    clock.at(OPENED + timedelta(hours=1))
    ask(app, name="Pricing one-pager", user="UMKT")
    app.fake.reset()
    app.slack.command("/messaging", "ask", user=ASKER)
    [opened] = app.fake.wait_for("views.open")
    [previous] = [b for b in opened.view["blocks"] if b.get("block_id") == Ids.PREVIOUS]
    assert previous["optional"] is True and previous["label"]["text"] == "New version of"
    assert [o["text"]["text"] for o in previous["element"]["options"]] == ["#2 Pricing one-pager", "#1 ROI deck"]

    clock.at(OPENED + timedelta(days=1))
    v2 = ask(app, name="ROI deck v2", previous=v1.id, days="3")
    assert v2.previous_ask_id == v1.id
    for rep, reaction in (("U1", "resonated"), ("U2", "resonated"), ("U4", "flat"), ("U3", "not_used")):
        answer(app, rep, reaction, ask_id=v2.id)

    expected = "v2 resonated 67% (4 answers) vs v1 33% (3)"
    results = json.dumps(app.slack.command("/messaging", f"results #{v2.id}", user=ASKER).json, ensure_ascii=False)
    assert expected in results and "v1 was #1 “ROI deck”" in results
    assert "vs v1" not in app.slack.command("/messaging", f"results #{v1.id}", user=ASKER).body
    preview = app.slack.command("/alignment", "digest", user=ASKER).body
    assert expected in preview

    summary = close_and_summary(app, clock, v2)
    assert expected in json.dumps(summary["blocks"], ensure_ascii=False)

    # The digest the clock posts on Monday (9:00 in New York) for that week.
    app.fake.reset()
    clock.turn_at(datetime.fromisoformat("2026-11-30T14:01:00+00:00"))
    [digest] = [c.params for c in app.fake.calls_to("chat.postMessage") if c.params["channel"] == "C_DIGEST"]
    scoreboard = json.dumps(digest["blocks"], ensure_ascii=False)
    assert "*ROI deck v2*: 67% resonance" in scoreboard and expected in scoreboard
    assert "*ROI deck*: 33% resonance" in scoreboard


def test_a_new_version_of_an_ask_that_is_gone_is_refused_on_the_field(app, teams, clock):
    clock.at(OPENED)
    v1 = ask(app, name="ROI deck")
    app.fake.reset()
    app.slack.command("/messaging", "ask", user=ASKER)
    [opened] = app.fake.wait_for("views.open")
    with app.crossfeed.transaction() as session:
        session.execute(delete(MessagingAsk))
    form = ask_values(name="ROI deck v2")
    form[Ids.PREVIOUS] = {Ids.PREVIOUS: {"type": "static_select", "selected_option": {
        "value": str(v1.id), "text": {"type": "plain_text", "text": "#1 ROI deck"}}}}

    refused = app.slack.submit({**opened.view, "id": "VNEW"}, form, user=ASKER)

    assert "That earlier ask no longer exists" in refused.json["errors"][Ids.PREVIOUS]
    assert asks(app) == []


def test_what_changed_after_an_ask_nobody_answered_is_kept_and_sent_to_nobody(app, teams, clock):
    clock.at(OPENED)
    sent = ask(app, channel=None, people=("U1",), days="1")
    summary = close_and_summary(app, clock, sent)
    modal = open_change_modal(app, summary)
    assert "Nobody answered this ask" in json.dumps(modal)

    app.fake.reset()
    saved = app.slack.submit(modal, change_values("Shorter"), user=ASKER)
    app.settle()

    assert "Nobody answered" in json.dumps(saved.json["view"], ensure_ascii=False)
    assert not app.fake.calls_to("chat.postMessage")
    assert "Shorter" in app.slack.command("/messaging", f"results #{sent.id}", user=ASKER).body
