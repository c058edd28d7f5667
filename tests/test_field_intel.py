"""Field intel: the message shortcut and `/leadfeedback intel` → modal → typeahead → stored once → posted for
marketing with reply/action buttons; the digest's counts, the export and forgetting — through signed requests."""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from bot.blocks.ids import ActionIds, IntelIds, ReplyIds
from bot.export import export_csvs
from bot.intel import requeue_intel_post
from bot.results.actions import ActionPrompt
from storage.models import FeedbackReply, FieldIntel, OutboxMessage
from tests.clock_kit import TurnedClock
from tests.helpers import TEAM, make_teams, outbox

FEED = "C_FEED"
NY = ZoneInfo("America/New_York")
MESSAGE_TS = "1701234567.000200"
VIEW_IDS = itertools.count(5000)
# As Slack sends a message's text: mentions and links in angle brackets, &, < and > as entities.
SLACK_TEXT = "LedgerLoop offered <@U9|dana> 20% off &amp; a free &lt;migration&gt; <!channel> <https://ledgerloop.io>"


@pytest.fixture
def feed(start_app):
    return start_app(lead_feed_channel=FEED)


def shortcut(slack, *, user="U1", channel="C_SALES", text=SLACK_TEXT, ts=MESSAGE_TS, attachments=None):
    """"Send as field intel" on a message, as Slack posts the message_action."""
    return slack.interactive({
        "type": "message_action", "callback_id": IntelIds.SHORTCUT, "trigger_id": "13345.trigger",
        "team": {"id": TEAM, "domain": "acme"}, "user": {"id": user, "team_id": TEAM}, "api_app_id": "A1",
        "channel": {"id": channel, "name": "sales"}, "message_ts": ts, "action_ts": "1701234999.1",
        "message": {"type": "message", "user": "U5", "ts": ts, "text": text, "attachments": attachments or []},
        "response_url": slack.fake.response_url(f"shortcut-{user}"),
    })


def values(kind="competitor", topic="LedgerLoop", text="They offered 20% off to switch.", link=None):
    """state.values as Slack sends them for the intel modal."""
    def option(value):
        return {"text": {"type": "plain_text", "text": value}, "value": value} if value else None

    return {
        IntelIds.KIND: {IntelIds.KIND: {"type": "static_select", "selected_option": option(kind)}},
        IntelIds.TOPIC: {IntelIds.TOPIC: {"type": "external_select", "selected_option": option(topic)}},
        IntelIds.TEXT: {IntelIds.TEXT: {"type": "plain_text_input", "value": text}},
        IntelIds.LINK: {IntelIds.LINK: {"type": "url_text_input", "value": link}},
    }


def send(slack, *, user="U1", view_id=None, **fields):
    """Submit an intel modal opened by `/leadfeedback intel` (each with its own view id, as Slack gives)."""
    metadata = json.dumps({"response_url": slack.fake.response_url(f"leadfeedback-{user}")})
    view = {"id": view_id or f"V{next(VIEW_IDS)}",
            "callback_id": IntelIds.MODAL, "private_metadata": metadata}
    return slack.submit(view, values(**fields), user=user)


def suggest(slack, typed: str, *, kind: str):
    """The topic typeahead as Slack asks it once a kind is picked: the view's state comes along."""
    state = {"values": {IntelIds.KIND: {IntelIds.KIND: {
        "type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": kind}, "value": kind}}}}}
    return slack.interactive({
        "type": "block_suggestion", "team": {"id": TEAM}, "user": {"id": "U1", "team_id": TEAM}, "api_app_id": "A1",
        "action_id": IntelIds.TOPIC, "block_id": IntelIds.TOPIC, "value": typed,
        "view": {"id": "V123", "type": "modal", "callback_id": IntelIds.MODAL, "state": state}})


def items(crossfeed) -> list[FieldIntel]:
    with crossfeed.sessions() as session:
        return list(session.scalars(select(FieldIntel).order_by(FieldIntel.id)))


def posts(crossfeed) -> list[OutboxMessage]:
    return [message for message in outbox(crossfeed) if message.kind == "intel_post"]


def block_of(view: dict, block_id: str) -> dict:
    return next(block for block in view["blocks"] if block.get("block_id") == block_id)


def test_a_message_shortcut_becomes_an_intel_post_marketing_can_reply_to(feed):
    fake, slack = feed.fake, feed.slack
    send(slack, user="U2", topic="LedgerLoop")
    send(slack, user="U3", topic="ledgerloop")
    send(slack, user="U3", kind="objection", topic="Pricing")
    feed.settle()
    fake.reset()

    reply = shortcut(slack)
    assert reply.status == 200 and reply.body == ""
    [opened] = fake.wait_for("views.open")

    [permalink] = fake.calls_to("chat.getPermalink")
    assert (permalink.params["channel"], permalink.params["message_ts"]) == ("C_SALES", MESSAGE_TS)
    view = opened.view
    assert view["callback_id"] == IntelIds.MODAL and view["title"]["text"] == "Field intel"
    assert [option["value"] for option in block_of(view, IntelIds.KIND)["element"]["options"]] == [
        "competitor", "objection", "trend", "customer", "product_gap"]
    assert block_of(view, IntelIds.TOPIC)["element"]["type"] == "external_select"
    assert block_of(view, IntelIds.TEXT)["element"]["initial_value"] == (
        "LedgerLoop offered @dana 20% off & a free <migration> @channel https://ledgerloop.io")
    link = "https://acme.slack.com/archives/C_SALES/p1701234567000200"
    assert block_of(view, IntelIds.LINK)["element"]["initial_value"] == link
    assert json.loads(view["private_metadata"])["ts"] == MESSAGE_TS

    # The typeahead: known topics grouped case-insensitively, most mentioned first, and the typed text as new.
    assert [o["text"]["text"] for o in slack.suggest(IntelIds.TOPIC, "").json["options"]] == [
        "LedgerLoop (2 mentions)", "Pricing (1 mention)"]
    assert [o["value"] for o in slack.suggest(IntelIds.TOPIC, "ledger").json["options"]] == [
        "LedgerLoop", "ledger"]
    assert [o["value"] for o in slack.suggest(IntelIds.TOPIC, " LEDGERLOOP ").json["options"]] == ["LedgerLoop"]
    assert [o["value"] for o in suggest(slack, "", kind="objection").json["options"]] == ["Pricing", "LedgerLoop"], \
        "topics of the kind picked come first"

    text = block_of(view, IntelIds.TEXT)["element"]["initial_value"]
    submitted = slack.submit(view, values(topic="LedgerLoop", text=text, link=link))
    feed.settle()

    assert submitted.status == 200 and submitted.body == "", "an empty 200 closes the modal"
    row = items(feed.crossfeed)[-1]
    assert (row.user_id, row.kind, row.topic, row.topic_key, row.permalink, row.message_channel, row.message_ts) == (
        "U1", "competitor", "LedgerLoop", "ledgerloop", link, "C_SALES", MESSAGE_TS)
    assert row.text == text and row.submission_key == view["id"]
    [post] = fake.calls_to("chat.postMessage")
    assert post.params["channel"] == FEED
    shown = post.text_everywhere()
    assert "&amp; a free &lt;migration&gt;" in shown and "<migration>" not in shown, "copied text is escaped"
    assert "<!channel>" not in shown and "<@U9" not in shown
    assert "Field intel · Competitor" in shown and "<@U1>" in shown and f"<{link}|Original message>" in shown
    [buttons] = [block for block in post.blocks if block["type"] == "actions"]
    by_action = {element["action_id"]: element["value"] for element in buttons["elements"]}
    assert by_action[f"{ReplyIds.OPEN}.on_it"] == f"intel:{row.id}" == by_action[f"{ReplyIds.OPEN}.fixed"]
    prompt = ActionPrompt.from_value(by_action[ActionIds.NEW])
    assert (prompt.kind, prompt.ref, prompt.title) == ("intel", str(row.id), "Follow up: Competitor: LedgerLoop")
    [message] = [m for m in posts(feed.crossfeed) if m.dedupe_key == f"intel:{row.id}"]
    assert (message.status, message.channel) == ("sent", FEED) and message.slack_ts
    [confirmation] = fake.calls_to("response_url")
    assert confirmation.params["response_type"] == "ephemeral"
    assert f"posted for marketing in <#{FEED}>" in confirmation.params["text"]
    assert "U1" in [call.params["user_id"] for call in fake.calls_to("views.publish")], "the sender's Home"


def test_the_post_shows_marketings_reply_in_place(feed):
    send(feed.slack, user="U1", kind="product_gap", topic=None, text="No SSO on the starter plan")
    feed.settle()
    [row] = items(feed.crossfeed)
    [message] = posts(feed.crossfeed)

    # What the replies service does on a click: store the reply, queue the subject's post again (same key).
    now = datetime.now(UTC)
    with feed.crossfeed.transaction() as session:
        session.add(FeedbackReply(team_id=TEAM, subject_kind="intel", subject_id=row.id, status="fixed",
                                  note="SSO ships <b>today</b>", link="https://acme.io/changelog?a=1&b=2",
                                  replied_by="M1", subject_at=row.created_at, first_replied_at=now, replied_at=now))
        assert requeue_intel_post(session=session, team_id=TEAM, intel_id=row.id, now=now)
    feed.settle()

    [update] = feed.fake.calls_to("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (FEED, message.slack_ts)
    shown = update.text_everywhere()
    assert "Fixed" in shown and "<@M1>" in shown and "SSO ships &lt;b&gt;today&lt;/b&gt;" in shown
    assert "<https://acme.io/changelog?a=1&amp;b=2|What changed>" in shown
    assert len(feed.fake.calls_to("chat.postMessage")) == 1


def test_a_message_with_its_words_in_an_attachment_prefills_them(running, slack):
    shortcut(slack, text="", attachments=[{"fallback": "Gong: LedgerLoop came up 3 times &amp; more"}])
    [opened] = running.fake.wait_for("views.open")

    assert block_of(opened.view, IntelIds.TEXT)["element"]["initial_value"] == "Gong: LedgerLoop came up 3 times & more"


def test_leadfeedback_intel_opens_the_modal_with_the_words_after_it(running, slack):
    reply = slack.command("/leadfeedback", "intel Acme asked for a SOC 2 report")
    [opened] = running.fake.wait_for("views.open")

    assert reply.status == 200 and reply.body == ""
    assert opened.view["callback_id"] == IntelIds.MODAL
    assert block_of(opened.view, IntelIds.TEXT)["element"]["initial_value"] == "Acme asked for a SOC 2 report"
    assert "initial_value" not in block_of(opened.view, IntelIds.LINK)["element"]
    assert not running.fake.calls_to("chat.getPermalink")


def test_a_lead_called_intel_can_still_be_rated_quoted(running, slack):
    reply = slack.command("/leadfeedback", '"intel" 2 no-budget')

    assert reply.json["text"] == "Rated intel: 2/5"
    assert not running.fake.calls_to("views.open")


def test_a_resubmitted_modal_is_one_item_and_one_post(feed):
    first = send(feed.slack, view_id="V42", text="Saw them at the Gartner summit")
    again = send(feed.slack, view_id="V42", text="Saw them at the Gartner summit")
    feed.settle()

    assert first.status == again.status == 200
    assert len(items(feed.crossfeed)) == 1
    assert len(posts(feed.crossfeed)) == 1 and len(feed.fake.calls_to("chat.postMessage")) == 1
    assert len(feed.fake.calls_to("response_url")) == 1, "confirmed once"


@pytest.mark.parametrize("fields, block, words", [
    (dict(text="   "), IntelIds.TEXT, "Say what you saw"),
    (dict(text="x" * 2001), IntelIds.TEXT, "2001 characters; keep it to 2000"),
    (dict(link="javascript:alert(1)"), IntelIds.LINK, "must be a web address starting with http"),
    (dict(link="https://evil.io/|<!channel>"), IntelIds.LINK, "must be a web address"),
    (dict(topic=None), IntelIds.TOPIC, "Name the competitor"),
    (dict(kind=None), IntelIds.KIND, "Pick what kind of intel"),
])
def test_bad_input_gets_a_field_error_and_nothing_is_stored(feed, fields, block, words):
    reply = send(feed.slack, **fields)
    feed.settle()

    assert reply.status == 200 and reply.json["response_action"] == "errors"
    assert list(reply.json["errors"]) == [block] and words in reply.json["errors"][block]
    assert items(feed.crossfeed) == [] and outbox(feed.crossfeed) == []
    assert not feed.fake.calls_to("chat.postMessage")


def test_without_a_permalink_the_intel_is_still_sent_without_a_link(feed):
    feed.fake.script.fail("chat.getPermalink", times=2, error="message_not_found")

    shortcut(feed.slack)
    [opened] = feed.fake.wait_for("views.open")
    assert "initial_value" not in block_of(opened.view, IntelIds.LINK)["element"]
    assert "didn't give us this message's link" in json.dumps(opened.view)
    feed.slack.submit(opened.view, values(kind="trend", topic="AI copilots", text="Everyone asks about AI"))
    feed.settle()

    assert len(feed.fake.calls_to("chat.getPermalink")) == 2, "asked again on Send"
    [row] = items(feed.crossfeed)
    assert (row.permalink, row.message_channel, row.message_ts) == (None, "C_SALES", MESSAGE_TS)
    [post] = feed.fake.calls_to("chat.postMessage")
    assert "Original message" not in post.text_everywhere()
    assert "Thanks!" in feed.fake.calls_to("response_url")[0].params["text"]


def test_a_link_slack_did_not_give_when_the_modal_opened_is_added_on_send(feed):
    feed.fake.script.fail("chat.getPermalink", times=1, status=500)

    shortcut(feed.slack)
    [opened] = feed.fake.wait_for("views.open")
    feed.slack.submit(opened.view, values(kind="trend", topic="AI copilots", text="Everyone asks about AI"))
    feed.settle()

    [row] = items(feed.crossfeed)
    assert row.permalink == "https://acme.slack.com/archives/C_SALES/p1701234567000200"
    shown = [call for call in feed.fake.calls if call.method in ("chat.postMessage", "chat.update")]
    assert "|Original message>" in shown[-1].text_everywhere(), "the post shows the link found on Send"
    assert len(feed.fake.calls_to("chat.postMessage")) == 1


def test_a_link_the_sender_removed_is_not_put_back(feed):
    shortcut(feed.slack)
    [opened] = feed.fake.wait_for("views.open")
    feed.slack.submit(opened.view, values(kind="trend", topic="AI copilots", text="Everyone asks about AI"))
    feed.settle()

    assert items(feed.crossfeed)[0].permalink is None
    assert len(feed.fake.calls_to("chat.getPermalink")) == 1


def test_without_a_marketing_channel_the_sender_is_told_it_is_saved_for_the_digest(running, slack):
    send(slack, kind="customer", topic="Globex", text="Globex renewed early because of the API")
    running.settle()

    assert len(items(running.crossfeed)) == 1
    assert not running.fake.calls_to("chat.postMessage") and posts(running.crossfeed) == []
    [told] = running.fake.calls_to("response_url")
    assert "saved and counted in the weekly digest" in told.params["text"]
    assert "/alignment setup" in told.text_everywhere()
    with running.crossfeed.transaction() as session:
        assert not requeue_intel_post(session=session, team_id=TEAM, intel_id=items(running.crossfeed)[0].id,
                                      now=datetime.now(UTC)), "a reply to it has no post to update"


def test_the_digest_counts_a_weeks_intel_by_kind_and_topic(running, slack):
    with freeze_time(datetime(2026, 11, 2, 12, tzinfo=NY)):
        make_teams(running.crossfeed, sales=["U1", "U2", "U3", "U4"], marketing=["M1"])
    sent = [  # 2026-W47 is Monday 16 to Sunday 22 November in New York
        (datetime(2026, 11, 15, 23, 0), "U1", "competitor", "LedgerLoop"),  # W46: not counted
        (datetime(2026, 11, 16, 9, 0), "U1", "competitor", "LedgerLoop"),
        (datetime(2026, 11, 17, 9, 0), "U2", "competitor", "ledgerloop"),
        (datetime(2026, 11, 18, 9, 0), "U3", "competitor", "LedgerLoop "),
        (datetime(2026, 11, 19, 9, 0), "U1", "competitor", "Acme"),
        (datetime(2026, 11, 20, 9, 0), "U2", "competitor", "ACME"),
        (datetime(2026, 11, 21, 9, 0), "U4", "objection", "Pricing"),
        (datetime(2026, 11, 22, 23, 0), "U3", "trend", "AI copilots"),  # Sunday night: still W47
        (datetime(2026, 11, 23, 0, 30), "U2", "competitor", "Acme"),  # W48: not counted
    ]
    for at, user, kind, topic in sent:
        with freeze_time(at.replace(tzinfo=NY)):
            assert send(slack, user=user, kind=kind, topic=topic).body == ""
    running.settle()

    with freeze_time(datetime(2026, 11, 24, 10, tzinfo=NY)):
        reply = slack.command("/alignment", "digest last", user="U7")

    shown = json.dumps(reply.json["blocks"], ensure_ascii=False)
    assert "2026-W47" in reply.json["text"]
    # By hand: 7 items from 4 reps; 5 competitor (LedgerLoop ×3 in two spellings, Acme ×2), 1 objection, 1 trend.
    assert "*Field intel*: 7 from 4 reps\\nCompetitor 5 · Objection 1 · Trend 1" in shown
    assert "*Competitor mentions*: LedgerLoop 3, Acme 2" in shown
    assert "*Other topics*: AI copilots 1, Pricing 1" in shown
    assert "No feedback this week" not in shown


def test_a_week_without_intel_has_no_intel_section(running, slack):
    slack.command("/leadfeedback", "ACME-1 2 no-budget")
    reply = slack.command("/alignment", "digest", user="U7")

    assert "Lead quality" in reply.body and "Field intel" not in reply.body


def test_the_export_has_the_field_intel(running, slack):
    send(slack, user="U1", kind="objection", topic="=HYPERLINK(\"x\")", text="-2 seats only", link="https://a.io/1")
    running.settle()

    with running.crossfeed.sessions() as session:
        files = export_csvs(session=session, team_id=TEAM, now=datetime.now(UTC) + timedelta(hours=1), weeks=1)

    [row] = list(csv.DictReader(io.StringIO(files["field_intel.csv"])))
    assert (row["rep_user_id"], row["kind"], row["link"], row["reply_status"]) == (
        "U1", "objection", "https://a.io/1", "")
    assert row["topic"] == "'=HYPERLINK(\"x\")" and row["text"] == "'-2 seats only", "never a spreadsheet formula"


def test_forget_deletes_a_persons_intel_and_its_posts(feed):
    send(feed.slack, user="U1", topic="LedgerLoop")
    send(feed.slack, user="U2", topic="Acme")
    feed.settle()
    [mine, theirs] = items(feed.crossfeed)
    with feed.crossfeed.transaction() as session:
        session.add(FeedbackReply(team_id=TEAM, subject_kind="intel", subject_id=mine.id, status="on_it",
                                  replied_by="M1", subject_at=mine.created_at))

    feed.slack.command("/alignment", "admin add <@UADMIN>", user="UADMIN")
    feed.slack.click("alignment.forget_confirm", "U1", user="UADMIN")
    feed.settle()

    assert [row.id for row in items(feed.crossfeed)] == [theirs.id]
    assert [m.dedupe_key for m in posts(feed.crossfeed)] == [f"intel:{theirs.id}"]
    with feed.crossfeed.sessions() as session:
        assert session.scalar(select(func.count()).select_from(FeedbackReply)) == 0
    told = feed.fake.calls_to("response_url")[-1]
    assert "1 field intel items" in told.params["text"]


def test_the_manifest_declares_the_message_shortcut_the_app_answers():
    from tests.test_manifest_and_home import manifest

    [declared] = [s for s in manifest()["features"]["shortcuts"] if s["callback_id"] == IntelIds.SHORTCUT]
    assert (declared["type"], declared["name"]) == ("message", "Send as field intel")
    assert len(declared["name"]) <= 24, "Slack refuses a longer shortcut name"
    # chat.getPermalink needs no scope; a message shortcut needs `commands`.
    assert "commands" in manifest()["oauth_config"]["scopes"]["bot"]


def test_a_long_text_of_characters_that_escaping_lengthens_is_posted_whole_within_block_limits(feed):
    text = ("<!here> & <@U1>\n" * 125)[:2000]
    send(feed.slack, kind="trend", topic="<b>&" * 25, text=text)
    feed.settle()

    [post] = feed.fake.calls_to("chat.postMessage", succeeded=True)  # the fake refuses a section over 3,000
    quoted = [block["text"]["text"] for block in post.blocks if block["type"] == "section"][1:]
    assert len(quoted) > 1 and all(len(piece) <= 3000 for piece in quoted)
    escaped = text.strip().replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert "".join(piece.removeprefix(">") for piece in quoted).replace("\n>", "\n") == escaped
    assert "<!here>" not in post.text_everywhere()


def test_an_unsigned_or_stale_shortcut_is_refused_and_opens_nothing(running, slack):
    payload = {"type": "message_action", "callback_id": IntelIds.SHORTCUT, "trigger_id": "1.2",
               "team": {"id": TEAM}, "user": {"id": "U1"}, "channel": {"id": "C1"},
               "message": {"ts": MESSAGE_TS, "text": "hi"}}

    unsigned = slack.interactive(payload, signed=False)
    stale = slack.interactive(payload, timestamp=int(datetime.now(UTC).timestamp()) - 600)
    running.settle()

    assert unsigned.status == stale.status == 401
    assert not running.fake.calls_to("views.open") and not running.fake.calls_to("chat.getPermalink")


def test_with_an_expired_response_url_the_sender_is_told_by_dm(feed):
    feed.fake.script.fail("response_url", status=404, error="expired_url")

    send(feed.slack, user="U3", kind="customer", topic="Globex", text="Renewed early")
    feed.settle()

    [dm] = [call for call in feed.fake.calls_to("chat.postMessage") if call.params["channel"] == "U3"]
    assert f"posted for marketing in <#{FEED}>" in dm.params["text"]


def test_a_message_shortcut_is_counted_in_the_digest_the_clock_posts(feed):
    with freeze_time(datetime(2026, 11, 9, 12, tzinfo=NY)) as frozen:  # 2026-W46: the workspace starts
        make_teams(feed.crossfeed, sales=["U1", "U2"], marketing=["M1"], digest_channels=["C_LEADERS"])
        clock = TurnedClock(feed.settings)
        try:
            frozen.move_to(datetime(2026, 11, 18, 10, tzinfo=NY))  # Wednesday of 2026-W47
            shortcut(feed.slack, user="U2")
            [opened] = feed.fake.wait_for("views.open")
            feed.slack.submit(opened.view, values(topic="LedgerLoop", text="They bundle onboarding for free"),
                              user="U2")
            feed.settle()

            frozen.move_to(datetime(2026, 11, 23, 9, 0, tzinfo=NY))  # Monday 09:00: W47's digest is due
            clock.turn()
        finally:
            clock.stop()

    [digest] = [c for c in feed.fake.calls_to("chat.postMessage") if c.params["channel"] == "C_LEADERS"]
    shown = json.dumps(digest.blocks, ensure_ascii=False)
    assert "2026-W47" in digest.params["text"]
    assert "*Field intel*: 1 from 1 rep\\nCompetitor 1" in shown and "*Competitor mentions*: LedgerLoop 1" in shown
