"""Messaging feedback end to end: ask → card → click → modal → tally → change → close → summary → late click."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import delete, func, select

from bot.blocks.ids import MessagingIds as Ids
from schedules import jobs
from storage import teams as team_store
from storage.models import MessagingAnswer, MessagingAsk, MessagingUsage
from tests.helpers import TEAM

SALES = "C_SALES"


def ask_values(name="Q4 ROI talk track", link="https://acme.com/roi", description="Lead with payback in 6 months",
               channel=SALES, people=(), group=None, days="14"):
    return {
        Ids.NAME: {Ids.NAME: {"type": "plain_text_input", "value": name}},
        Ids.LINK: {Ids.LINK: {"type": "plain_text_input", "value": link}},
        Ids.DESCRIPTION: {Ids.DESCRIPTION: {"type": "plain_text_input", "value": description}},
        Ids.CHANNEL: {Ids.CHANNEL: {"type": "conversations_select", "selected_conversation": channel}},
        Ids.PEOPLE: {Ids.PEOPLE: {"type": "multi_users_select", "selected_users": list(people)}},
        Ids.GROUP: {Ids.GROUP: {"type": "static_select",
                                "selected_option": {"value": group, "text": {"type": "plain_text", "text": "g"}}
                                if group else None}},
        Ids.DAYS: {Ids.DAYS: {"type": "number_input", "value": days}},
    }


def answer_values(reaction="resonated", used_in=("call", "demo"), stage="evaluation",
                  quote="Payback in 6 months is what sold the CFO", suggestion="Add a healthcare proof point"):
    def option(value):
        return {"value": value, "text": {"type": "plain_text", "text": value}}

    return {
        Ids.REACTION: {Ids.REACTION: {"type": "radio_buttons", "selected_option": option(reaction)}},
        Ids.USED_IN: {Ids.USED_IN: {"type": "checkboxes", "selected_options": [option(p) for p in used_in]}},
        Ids.STAGE: {Ids.STAGE: {"type": "static_select", "selected_option": option(stage) if stage else None}},
        Ids.QUOTE: {Ids.QUOTE: {"type": "plain_text_input", "value": quote}},
        Ids.SUGGESTION: {Ids.SUGGESTION: {"type": "plain_text_input", "value": suggestion}},
    }


@pytest.fixture
def app(start_app):
    return start_app(sales_channel=SALES)


def open_ask_modal(app, user="UMKT") -> dict:
    reply = app.slack.command("/messaging", "ask", user=user)
    assert reply.status == 200 and reply.body == ""
    [opened] = app.fake.wait_for("views.open")
    app.fake.reset()
    return opened.view


def post_ask(app, user="UMKT", **values) -> dict:
    view = open_ask_modal(app, user)
    reply = app.slack.submit(view, ask_values(**values), user=user)
    assert reply.body == "", reply.body
    app.settle()
    return view


def card(app) -> dict:
    return [c for c in app.fake.calls_to("chat.postMessage") if c.params["channel"] == SALES][-1].params


def button_value(blocks, reaction) -> str:
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == f"messaging.react.{reaction}":
                return element["value"]
    raise AssertionError(f"no {reaction} button")


def click_and_answer(app, user, reaction, values, *, blocks, channel=SALES, ts="1700000000.000001"):
    app.fake.reset()
    app.slack.click(f"messaging.react.{reaction}", button_value(blocks, reaction), user=user, channel=channel,
                    message_ts=ts)
    [opened] = app.fake.wait_for("views.open")
    reply = app.slack.submit(opened.view, values, user=user)
    app.settle()
    return opened.view, reply


def rows(app, model):
    with app.crossfeed.sessions() as session:
        return list(session.scalars(select(model)))


def test_the_ask_modal_defaults_to_the_sales_channel(app):
    view = open_ask_modal(app)

    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert blocks[Ids.CHANNEL]["element"]["initial_conversation"] == SALES
    assert blocks[Ids.DAYS]["element"]["initial_value"] == "14"


def test_the_whole_loop(app):
    opened_at = datetime.now(UTC)
    post_ask(app)

    [ask] = rows(app, MessagingAsk)
    assert (ask.name, ask.link, ask.audience, ask.channel_id) == (
        "Q4 ROI talk track", "https://acme.com/roi", "channel", SALES)
    assert timedelta(days=13, hours=23) < ask.closes_at - opened_at <= timedelta(days=14, minutes=1)
    posted = card(app)
    assert "How did this land with buyers?" in json.dumps(posted["blocks"])
    labels = [e["text"]["text"] for b in posted["blocks"] for e in b.get("elements", []) if e.get("type") == "button"]
    assert labels == ["Resonated", "Mixed", "Fell flat", "Haven't used it yet"]
    [told] = [c for c in app.fake.calls_to("chat.postMessage") if c.params["channel"] == "UMKT"]
    assert f"/messaging results #{ask.id}" in told.params["text"]

    # A rep clicks Resonated: the modal opens prefilled and says the answer is not anonymous.
    modal, reply = click_and_answer(app, "UREP1", "resonated", answer_values(), blocks=posted["blocks"])
    assert json.loads(modal["private_metadata"])["a"] == ask.id
    radio = next(b for b in modal["blocks"] if b.get("block_id") == Ids.REACTION)["element"]
    assert radio["initial_option"]["value"] == "resonated"
    assert "Not anonymous" in json.dumps(modal)
    assert reply.body == ""
    [update] = app.fake.calls_to("chat.update")
    assert update.params["channel"] == SALES
    assert "1 rep answered" in json.dumps(update.blocks, ensure_ascii=False)
    assert "UREP1" not in json.dumps(update.blocks), "the card shows no names"
    [thanks] = app.fake.calls_to("chat.postEphemeral")
    assert thanks.params["user"] == "UREP1" and "Recorded *Resonated*" in thanks.params["text"]

    # A second rep; then the first one changes their mind: still one answer each.
    click_and_answer(app, "UREP2", "flat", answer_values(reaction="flat", used_in=("email",), quote="Too long",
                                                         suggestion="Cut it to one line"), blocks=posted["blocks"])
    click_and_answer(app, "UREP1", "mixed", answer_values(reaction="mixed", used_in=("call",)),
                     blocks=posted["blocks"])
    answers = {a.rep_user_id: a.reaction for a in rows(app, MessagingAnswer)}
    assert answers == {"UREP1": "mixed", "UREP2": "flat"}
    latest = app.fake.calls_to("chat.update")[-1]
    tally = json.dumps(latest.blocks, ensure_ascii=False)
    assert "2 reps answered" in tally and "Mixed 1" in tally and "Fell flat 1" in tally and "Resonated 0" in tally
    assert sorted(u.used_in for u in rows(app, MessagingUsage)) == ["call", "email"]

    # The asker sees every answer with names.
    results = app.slack.command("/messaging", f"results #{ask.id}", user="UMKT").body
    assert "<@UREP1>" in results and "<@UREP2>" in results and "Cut it to one line" in results
    assert "Only the person who asked" in app.slack.command("/messaging", f"results #{ask.id}", user="UREP1").body

    # Closing: summary DM to the asker, the card shows it is closed, later clicks are told.
    runtime = jobs.JobRuntime.of(app.crossfeed)
    app.fake.reset()
    with freeze_time(ask.closes_at + timedelta(minutes=1)):
        assert jobs.close_messaging_asks(runtime) == "messaging: 1 ask(s) closed, 0 reminder(s) queued"
        assert jobs.close_messaging_asks(runtime) == "messaging: 0 ask(s) closed, 0 reminder(s) queued"
        app.settle()  # the deliveries the closing's commit started
    [summary] = [c for c in app.fake.calls_to("chat.postMessage") if c.params["channel"] == "UMKT"]
    text = json.dumps(summary.blocks, ensure_ascii=False)
    assert "has closed" in text and "Resonance" in text and "0%" in text  # 0 resonated of 2 used
    assert "Call 1" in text and "Email 1" in text
    assert "Too long" in text and "Cut it to one line" in text
    [closed_card] = app.fake.calls_to("chat.update")
    assert "Closed" in json.dumps(closed_card.blocks) and "messaging.react" not in json.dumps(closed_card.blocks)

    app.fake.reset()
    with freeze_time(ask.closes_at + timedelta(hours=1)):
        app.slack.click("messaging.react.resonated", button_value(posted["blocks"], "resonated"), user="UREP3")
        app.settle()
    [late] = app.fake.calls_to("response_url")
    assert "has closed, so your answer wasn't recorded" in late.params["text"]
    assert not app.fake.calls_to("views.open")
    assert len(rows(app, MessagingAnswer)) == 2


def test_resonance_is_resonated_over_used(app):
    post_ask(app)
    blocks = card(app)["blocks"]
    for user, reaction in (("U1", "resonated"), ("U2", "resonated"), ("U3", "flat"), ("U4", "not_used")):
        used = () if reaction == "not_used" else ("call",)
        click_and_answer(app, user, reaction, answer_values(reaction=reaction, used_in=used), blocks=blocks)

    mine = app.slack.command("/messaging", "results", user="UMKT").body

    assert "4 reps answered" in mine and "resonance 67%" in mine


def test_a_dm_ask_goes_to_each_person_and_updates_their_own_card(app):
    app.fake.usergroups = {"S0REPS": ["U1", "U2", "U3"]}
    post_ask(app, channel=None, people=("U3", "U4"), group="S0REPS")

    dms = {c.params["channel"]: c.params for c in app.fake.calls_to("chat.postMessage")
           if c.params["channel"].startswith("U") and c.params["channel"] != "UMKT"}
    assert sorted(dms) == ["U1", "U2", "U3", "U4"]
    [ask] = rows(app, MessagingAsk)
    assert ask.audience == "dm" and sorted(ask.recipients) == ["U1", "U2", "U3", "U4"]

    click_and_answer(app, "U2", "resonated", answer_values(), blocks=dms["U2"]["blocks"], channel="DU2", ts="5.5")

    [update] = app.fake.calls_to("chat.update")
    assert (update.params["channel"], update.params["ts"]) == ("DU2", "5.5")
    assert "You answered *Resonated*" in json.dumps(update.blocks)

    app.fake.reset()
    runtime = jobs.JobRuntime.of(app.crossfeed)
    with freeze_time(ask.closes_at + timedelta(minutes=1)):
        jobs.close_messaging_asks(runtime)
        app.settle()  # the deliveries the closing's commit started
    closed_cards = app.fake.calls_to("chat.update")
    assert sorted(c.params["channel"] for c in closed_cards) == ["U1", "U2", "U3", "U4"]
    assert all("Closed" in json.dumps(c.blocks) and "messaging.react" not in json.dumps(c.blocks)
               for c in closed_cards)


def test_a_resubmitted_ask_modal_creates_one_ask(app):
    view = open_ask_modal(app)
    app.slack.submit(view, ask_values())
    app.slack.submit(view, ask_values())
    app.settle()

    assert len(rows(app, MessagingAsk)) == 1
    assert len([c for c in app.fake.calls_to("chat.postMessage") if c.params["channel"] == SALES]) == 1


@pytest.mark.parametrize("values, block, complaint", [
    (dict(name="  "), Ids.NAME, "Name what you're asking about"),
    (dict(name="x" * 101), Ids.NAME, "The name is 101 characters; keep it to 100."),
    (dict(link="ftp://files.acme.com/deck"), Ids.LINK, "must be a web address starting with http"),
    (dict(link="javascript:alert(1)"), Ids.LINK, "must be a web address"),
    (dict(link="https://evil.com|click here"), Ids.LINK, "must be a web address"),
    (dict(description="d" * 1501), Ids.DESCRIPTION, "keep it to 1500"),
    (dict(days="0"), Ids.DAYS, "between 1 and 90 days"),
    (dict(channel=None), Ids.CHANNEL, "Pick a channel to post in, or people or a user group to DM."),
])
def test_bad_ask_input_is_shown_on_the_field_and_nothing_is_stored(app, values, block, complaint):
    view = open_ask_modal(app)

    reply = app.slack.submit(view, ask_values(**values))

    assert reply.json["response_action"] == "errors"
    assert complaint in reply.json["errors"][block]
    assert rows(app, MessagingAsk) == []


def test_bad_answers_are_shown_on_the_field_and_nothing_is_stored(app):
    post_ask(app)
    blocks = card(app)["blocks"]

    _, nowhere = click_and_answer(app, "U1", "resonated", answer_values(used_in=()), blocks=blocks)
    _, long_quote = click_and_answer(app, "U1", "mixed", answer_values(quote="q" * 1001), blocks=blocks)

    assert nowhere.json["errors"] == {Ids.USED_IN: "Say where you used it (email, call, demo, …)."}
    assert "keep it to 1000" in long_quote.json["errors"][Ids.QUOTE]
    assert rows(app, MessagingAnswer) == []


def test_a_click_on_a_card_whose_ask_was_deleted_is_told_so(app):
    post_ask(app)
    blocks = card(app)["blocks"]
    with app.crossfeed.transaction() as session:
        session.execute(delete(MessagingAsk))

    app.fake.reset()
    app.slack.click("messaging.react.mixed", button_value(blocks, "mixed"), user="U1")
    app.settle()

    [told] = app.fake.calls_to("response_url")
    assert "This ask no longer exists" in told.params["text"]


def test_results_for_an_unknown_ask_and_listing_open_asks(app):
    post_ask(app, name="Battlecard v2")

    unknown = app.slack.command("/messaging", "results #999", user="UMKT")
    by_name = app.slack.command("/messaging", "results battlecard", user="UMKT")
    listing = app.slack.command("/messaging", "", user="UREP")

    assert "I couldn't find an ask matching “999”" in unknown.json["text"]
    assert "Nobody has answered yet" in by_name.body
    assert "Battlecard v2" in listing.body and "messaging.react.resonated" in listing.body


def test_every_user_typed_field_is_escaped_wherever_it_is_shown(app):
    post_ask(app, name="<!channel> launch & <b>", link="https://acme.com/?a=1&b=2",
             description="Say <@U999> & <https://evil.com|free money>")
    posted = card(app)
    blocks = posted["blocks"]
    click_and_answer(app, "U1", "resonated", answer_values(quote="Buyer said <!here> & wow",
                                                           suggestion="Ping <!everyone>"), blocks=blocks)
    [ask] = rows(app, MessagingAsk)
    shown = [json.dumps(posted), json.dumps(app.fake.calls_to("chat.update")[-1].params),
             app.slack.command("/messaging", f"results #{ask.id}", user="UMKT").body,
             app.slack.command("/messaging", "results", user="UMKT").body,
             app.slack.command("/messaging", "", user="U1").body]
    runtime = jobs.JobRuntime.of(app.crossfeed)
    with freeze_time(ask.closes_at + timedelta(minutes=1)):
        jobs.close_messaging_asks(runtime)
        app.settle()  # the deliveries the closing's commit started
    summaries = [c.params for c in app.fake.calls_to("chat.postMessage") if c.params["channel"] == "UMKT"]
    # The "Log action" button's value carries the ask's name as typed (Slack never shows a value): whoever
    # shows it escapes it then. Everything Slack renders is checked.
    [prompt] = [e.pop("value") for s in summaries for b in s["blocks"] for e in b.get("elements", [])
                if e.get("action_id") == "action.new"]
    assert json.loads(prompt)["l"] == "<!channel> launch & <b>"
    shown.append(json.dumps(summaries))

    for text in shown:
        for raw in ("<!channel>", "<b>", "<@U999>", "<https://evil.com", "<!here>", "<!everyone>"):
            assert raw not in text, (raw, text[:300])
    assert "&lt;!channel&gt; launch &amp; &lt;b&gt;" in shown[0]
    assert "Buyer said &lt;!here&gt; &amp; wow" in shown[2]
    assert "https://acme.com/?a=1&amp;b=2" in shown[0]


def test_messaging_answers_keep_what_the_digest_needs(app):
    post_ask(app)
    click_and_answer(app, "U1", "resonated", answer_values(), blocks=card(app)["blocks"])

    with app.crossfeed.sessions() as session:
        answer = session.scalar(select(MessagingAnswer))
        ask = session.scalar(select(MessagingAsk))
        places = session.scalar(select(func.count()).select_from(MessagingUsage))
    assert answer.answered_at and answer.updated_at and answer.reaction == "resonated"
    assert places == 2 and ask.asker_user_id == "UMKT"


# --- asks are for the sales team ---------------------------------------------------------------


def put_in_teams(app, *, sales=(), marketing=(), admin="UADMIN"):
    """An admin sets the teams up with `/alignment team add`, as they would in Slack."""
    for side, people in (("sales", sales), ("marketing", marketing)):
        if people:
            mentions = " ".join(f"<@{user}|{user.lower()}>" for user in people)
            reply = app.slack.command("/alignment", f"team add {mentions} {side}", user=admin)
            assert reply.status == 200 and "only crossfeed admins" not in reply.body.casefold(), reply.body
    app.settle()
    app.fake.reset()


def test_a_dm_ask_goes_only_to_the_sales_team_and_the_asker_is_told_who_was_left_out(app):
    put_in_teams(app, sales=("U1", "U2"), marketing=("UMKT", "UMKT2"))
    app.fake.usergroups = {"S0REVENUE": ["U1", "UMKT2", "U2", "ULEAD"]}

    post_ask(app, channel=None, group="S0REVENUE")

    dms = sorted(c.params["channel"] for c in app.fake.calls_to("chat.postMessage") if c.params["channel"] != "UMKT")
    assert dms == ["U1", "U2"]
    [ask] = rows(app, MessagingAsk)
    assert ask.recipients == ["U1", "U2"]
    [told] = [c.params["text"] for c in app.fake.calls_to("chat.postMessage") if c.params["channel"] == "UMKT"]
    assert "is out to 2 people by DM" in told
    assert "Not sent to <@UMKT2>, <@ULEAD>: asks go to the sales team, and they aren't in it." in told


def test_a_dm_ask_to_nobody_in_sales_is_refused_on_the_field_and_nothing_is_stored(app):
    put_in_teams(app, sales=("U1",), marketing=("UMKT", "UMKT2"))
    view = open_ask_modal(app)

    reply = app.slack.submit(view, ask_values(channel=None, people=("UMKT2", "ULEAD")))

    assert reply.json["response_action"] == "errors"
    assert "Nobody you picked is in the sales team" in reply.json["errors"][Ids.PEOPLE]
    assert "`/alignment team add @name sales`" in reply.json["errors"][Ids.PEOPLE]
    app.settle()
    assert rows(app, MessagingAsk) == [] and not app.fake.calls_to("chat.postMessage")


def test_a_dm_ask_to_a_user_group_is_answered_before_the_group_is_read(app):
    # Reading the group is a Slack call: it follows the answer, so even its failure leaves the modal closed.
    app.fake.usergroups = {"S0REPS": ["U1", "U2"]}
    app.fake.script.fail("usergroups.users.list", error="missing_scope")
    view = open_ask_modal(app)

    reply = app.slack.submit(view, ask_values(channel=None, group="S0REPS"), user="UMKT")

    assert reply.status == 200 and reply.body == ""
    app.settle()
    assert rows(app, MessagingAsk) == []
    [told] = [c.params["text"] for c in app.fake.calls_to("chat.postMessage") if c.params["channel"] == "UMKT"]
    assert "something went wrong" in told


def test_a_dm_ask_to_a_user_group_with_nobody_in_sales_is_refused_by_dm_and_nothing_is_stored(app):
    put_in_teams(app, sales=("U1",), marketing=("UMKT", "UMKT2"))
    app.fake.usergroups = {"S0MKT": ["UMKT2", "ULEAD"]}
    view = open_ask_modal(app)

    reply = app.slack.submit(view, ask_values(channel=None, group="S0MKT"), user="UMKT")

    assert reply.body == ""
    app.settle()
    assert rows(app, MessagingAsk) == []
    [told] = [c.params["text"] for c in app.fake.calls_to("chat.postMessage") if c.params["channel"] == "UMKT"]
    assert told.startswith("Nobody you picked is in the sales team") and "`/alignment team add @name sales`" in told


def test_someone_outside_the_sales_team_is_told_the_ask_is_for_sales_and_nothing_is_stored(app):
    put_in_teams(app, sales=("U1",), marketing=("UMKT", "UMKT2"))
    post_ask(app)
    blocks = card(app)["blocks"]

    # A marketer clicks the card in the channel: told why, no modal.
    app.fake.reset()
    app.slack.click("messaging.react.resonated", button_value(blocks, "resonated"), user="UMKT2", channel=SALES)
    app.settle()
    [told] = app.fake.calls_to("response_url")
    assert "is for the sales team: only reps' answers count" in told.params["text"]
    assert "`/alignment team add @you sales`" in told.params["text"]
    assert not app.fake.calls_to("views.open")

    # A form opened by a rep but sent by someone outside sales (or who left it meanwhile) is refused too.
    modal, _ = click_and_answer(app, "U1", "mixed", answer_values(reaction="mixed"), blocks=blocks)
    app.fake.reset()
    refused = app.slack.submit(modal, answer_values(), user="ULEAD")
    app.settle()
    assert refused.json["response_action"] == "update"
    assert "is for the sales team" in json.dumps(refused.json["view"])
    assert [(a.rep_user_id, a.reaction) for a in rows(app, MessagingAnswer)] == [("U1", "mixed")]
    assert not app.fake.calls_to("chat.update"), "the card's tally did not move"


def test_answers_from_outside_the_sales_team_count_nowhere(app):
    # Before any team is set up everyone's answer counts, so a future marketer answers alongside a rep.
    post_ask(app)
    blocks = card(app)["blocks"]
    click_and_answer(app, "U1", "resonated", answer_values(quote="The CFO loved it", suggestion="Shorter"),
                     blocks=blocks)
    click_and_answer(app, "UMKT2", "flat", answer_values(reaction="flat", used_in=("social",), stage=None,
                                                         quote="Marketing's own take", suggestion="Marketing tip"),
                     blocks=blocks)
    # Then the teams are set up, and UMKT2 turns out to be a marketer.
    put_in_teams(app, sales=("U1", "U2"), marketing=("UMKT", "UMKT2"))
    click_and_answer(app, "U2", "mixed", answer_values(reaction="mixed", used_in=("email",), quote=None,
                                                       suggestion=None), blocks=blocks)
    [ask] = rows(app, MessagingAsk)

    tally = json.dumps(app.fake.calls_to("chat.update")[-1].blocks, ensure_ascii=False)
    assert "2 reps answered" in tally and "Fell flat 0" in tally and "resonance 50%" in tally
    results = app.slack.command("/messaging", f"results #{ask.id}", user="UMKT").body
    assert "<@U1>" in results and "<@U2>" in results
    assert "UMKT2" not in results and "Marketing's own take" not in results and "Social" not in results
    digest = app.slack.command("/alignment", "digest", user="UMKT").body
    assert "50% resonance" in digest and "Fell flat" not in digest
    assert "The CFO loved it" in digest and "Marketing's own take" not in digest, "quotes follow the tally's rule"

    app.fake.reset()
    runtime = jobs.JobRuntime.of(app.crossfeed)
    with freeze_time(ask.closes_at + timedelta(minutes=1)):
        jobs.close_messaging_asks(runtime)
        app.settle()  # the deliveries the closing's commit started
    [summary] = [c for c in app.fake.calls_to("chat.postMessage") if c.params["channel"] == "UMKT"]
    text = json.dumps(summary.blocks, ensure_ascii=False)
    assert "*Answers*\\n2" in text and "The CFO loved it" in text
    assert "Marketing's own take" not in text and "Marketing tip" not in text and "Social" not in text


def test_leaders_and_admins_see_an_asks_results_without_names(app):
    put_in_teams(app, sales=("U1", "U2"), marketing=("UMKT",))
    with app.crossfeed.transaction() as session:
        team_store.workspace_config(session=session, team_id=TEAM).leader_user_ids = ["ULEAD"]
    app.slack.command("/alignment", "admin add <@UOPS|ops>", user="UADMIN")
    post_ask(app)
    blocks = card(app)["blocks"]
    click_and_answer(app, "U1", "resonated", answer_values(), blocks=blocks)
    click_and_answer(app, "U2", "flat", answer_values(reaction="flat", used_in=("email",), quote="Too long",
                                                      suggestion="Cut it to one line"), blocks=blocks)
    [ask] = rows(app, MessagingAsk)

    for reader in ("ULEAD", "UOPS"):
        shown = app.slack.command("/messaging", f"results #{ask.id}", user=reader).body
        by_name = app.slack.command("/messaging", "results roi talk", user=reader).body
        for text in (shown, by_name):
            assert "2 reps answered" in text and "resonance 50%" in text
            assert "where used: Call 1, Demo 1, Email 1" in text
            assert "Payback in 6 months is what sold the CFO" in text and "Cut it to one line" in text
            assert "Shown without names" in text
            assert "<@U1>" not in text and "<@U2>" not in text

    asker = app.slack.command("/messaging", f"results #{ask.id}", user="UMKT").body
    assert "<@U1>" in asker and "<@U2>" in asker and "Shown without names" not in asker
    for outsider in ("U1", "UMKT2"):
        refused = app.slack.command("/messaging", f"results #{ask.id}", user=outsider).body
        assert "Only the person who asked can see the answers with names" in refused and "Too long" not in refused
