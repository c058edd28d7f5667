"""Issue 13's loops, each end to end as deployed: signed requests through the running app, the clock turning its
own job table (`tests/clock_kit.TurnedClock`) under freezegun, over days and weeks.

a) a rating → its lead-feed post → marketing's "Fixed" → the post updated in place and the rep's DM;
b) a digest talking point → Log action → the owner's due-date reminder, once → Done → next week's digest;
c) a messaging ask → one reminder to the sales reps who haven't answered → "what we changed" to those who did;
d) a message shortcut → the intel modal → the intel post for marketing → the digest's count;
e) a rating → Log action on its feed post → done → the rep's DM and Home.

Each test checks what reached the fake Slack and what the database holds; the workspace is in New York and set
up by an admin with commands the Monday before 2026-W46.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from bot.blocks.ids import ActionIds, IntelIds, ReplyIds
from bot.results.actions import ActionPrompt
from storage.models import Action, FeedbackReply, FieldIntel, LeadRating, MessagingAsk, OutboxMessage
from tests.clock_kit import Clock, TurnedClock
from tests.test_actions import form_values
from tests.test_ask_loop import REMINDER, answer, ask, change_values, close_and_summary, open_change_modal
from tests.test_field_intel import shortcut
from tests.test_field_intel import values as intel_values
from tests.test_home import open_home
from tests.test_messaging import SALES, put_in_teams
from tests.test_replies import reply_values

NY = ZoneInfo("America/New_York")
FEED = "C_FEED"  # the lead-feed (marketing) channel
LEADERS = "CLEADERS"  # where the digest goes (a channel id as Slack writes them)
ADMIN = "UADMIN"
REP, REP2, REP3 = "UREP", "UREP2", "UREP3"
MARKETER, OWNER = "UMKT", "UOWN"


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of late 2026 in New York (2026-W47 is Monday 16 to Sunday 22 November)."""
    return datetime(2026, month, day, hour, minute, tzinfo=NY)


class World(Clock):
    """The running app, the clock process and the frozen time they share (`at`, `turn_at` as in the ask loop)."""

    def __init__(self, app, clock: TurnedClock, frozen):
        super().__init__(clock, frozen, app)
        self.slack, self.fake, self.crossfeed = app.slack, app.fake, app.crossfeed

    def rows(self, model, *where) -> list:
        with self.crossfeed.sessions() as session:
            return list(session.scalars(select(model).where(*where).order_by(model.id)))

    def outbox(self, key: str) -> OutboxMessage:
        [row] = self.rows(OutboxMessage, OutboxMessage.dedupe_key == key)
        return row

    def posts_to(self, channel: str) -> list[dict]:
        return [c.params for c in self.fake.calls_to("chat.postMessage", succeeded=True)
                if c.params["channel"] == channel]

    def updates_of(self, channel: str) -> list[dict]:
        return [c.params for c in self.fake.calls_to("chat.update", succeeded=True) if c.params["channel"] == channel]

    def homes(self, user: str) -> list[dict]:
        return [c.view for c in self.fake.calls_to("views.publish") if c.params["user_id"] == user]

    def click_for_modal(self, action_id: str, value: str, *, user: str, **where) -> dict:
        """Click a button as `user`; the modal Slack was asked to open."""
        self.fake.reset()
        assert self.slack.click(action_id, value, user=user, **where).status == 200
        [opened] = self.fake.wait_for("views.open")
        return opened.view

    def submit(self, view: dict, values: dict, *, user: str):
        reply = self.slack.submit(view, values, user=user)
        assert reply.status == 200, reply.body
        self.app.settle()
        return reply


@pytest.fixture
def world(start_app):
    """Set up by an admin on Monday 9 November 2026 (2026-W46), with the clock process running from then."""
    app = start_app(lead_feed_channel=FEED, sales_channel=SALES)
    with freeze_time(at(11, 9, 9)) as frozen:
        for setting in ("timezone America/New_York", f"digest channels <#{LEADERS}|leaders>"):
            assert app.slack.command("/alignment", setting, user=ADMIN).status == 200  # the first one: an admin
        assert LEADERS in app.slack.command("/alignment", "status", user=ADMIN).body

        put_in_teams(app, sales=(REP, REP2, REP3), marketing=(MARKETER, OWNER), admin=ADMIN)
        clock = TurnedClock(app.settings)
        try:
            yield World(app, clock, frozen)
        finally:
            clock.stop()


def text_of(message: dict) -> str:
    return json.dumps(message.get("blocks") or message, ensure_ascii=False)


def buttons(blocks: list[dict]) -> dict[str, str]:
    """action_id → value of every button in a message (in actions blocks and as accessories)."""
    return {element["action_id"]: element.get("value") for block in blocks
            for element in [*block.get("elements", []), block.get("accessory") or {}]
            if element.get("type") == "button"}


def digests(world: World) -> list[dict]:
    return [post for post in world.posts_to(LEADERS) if post["text"].startswith("Sales × Marketing alignment")]


def rate(world: World, user: str, text: str) -> LeadRating:
    assert world.slack.command("/leadfeedback", text, user=user).status == 200
    world.app.settle()
    return world.rows(LeadRating)[-1]


def outcome(text: str) -> dict:
    return {ActionIds.OUTCOME: {ActionIds.OUTCOME: {"type": "plain_text_input", "value": text}}}


# --- a) rating → lead-feed post → "Fixed" → the post in place and the rep's DM ---------------------------------


def test_a_rating_reaches_marketing_whose_fix_updates_the_post_in_place_and_tells_the_rep(world):
    world.at(at(11, 17, 10))  # Tuesday of 2026-W47
    rated = rate(world, REP, 'ACME-1 2 no-budget source:webinar "only wanted pricing"')

    [post] = world.posts_to(FEED)
    assert "ACME-1" in post["text"] and "2/5" in post["text"]
    shown = text_of(post)
    assert "No budget" in shown and "Webinar" in shown and f"<@{REP}>" in shown and "only wanted pricing" in shown
    feed_row = world.outbox(f"lead-feed:{rated.id}")
    assert feed_row.status == "sent" and feed_row.channel == FEED and feed_row.slack_ts
    assert buttons(post["blocks"])[f"{ReplyIds.OPEN}.fixed"] == f"rating:{rated.id}"

    world.at(at(11, 17, 14))
    modal = world.click_for_modal(f"{ReplyIds.OPEN}.fixed", f"rating:{rated.id}", user=MARKETER, channel=FEED,
                                  message_ts=feed_row.slack_ts)
    assert modal["callback_id"] == ReplyIds.MODAL and "ACME-1" in text_of(modal)
    note = "Tightened the webinar form: <!channel> company size is required now"
    world.submit(modal, reply_values(status="fixed", note=note, link="https://acme.com/changes/42"), user=MARKETER)
    world.submit(modal, reply_values(status="fixed", note=note, link="https://acme.com/changes/42"),
                 user=MARKETER)  # Slack delivers the submission again

    [reply] = world.rows(FeedbackReply)
    assert (reply.subject_kind, reply.subject_id, reply.status, reply.replied_by, reply.note) == (
        "rating", rated.id, "fixed", MARKETER, note)
    # The post, updated in place (its own ts), shows the reply and keeps its buttons.
    [update] = world.updates_of(FEED)
    assert update["ts"] == feed_row.slack_ts and not world.posts_to(FEED)
    shown = text_of(update)
    assert f":white_check_mark: *Fixed* by <@{MARKETER}>" in shown
    assert "Tightened the webinar form: &lt;!channel&gt; company size" in shown and "<!channel>" not in shown
    assert "<https://acme.com/changes/42|Link to the change>" in shown
    assert f"{ReplyIds.OPEN}.fixed" in buttons(update["blocks"])
    # The rep's DM, once: who, the status, the note (escaped) and the link.
    [dm] = world.posts_to(REP)
    assert f"<@{MARKETER}> marked" in dm["text"] and "ACME-1" in dm["text"] and "Fixed" in dm["text"]
    assert "Tightened the webinar form: &lt;!channel&gt;" in text_of(dm) and "<!channel>" not in text_of(dm)
    assert world.rows(OutboxMessage, OutboxMessage.kind == "reply_dm")[0].status == "sent"


# --- b) talking point → Log action → due-date reminder, once → Done → next week's "You said, we did" ----------


def test_an_action_from_a_talking_point_is_reminded_once_and_its_outcome_reaches_next_weeks_digest(world):
    world.at(at(11, 11, 12))  # 2026-W46: two good leads
    rate(world, REP, "B-1 4")
    rate(world, REP, "B-2 4")
    world.at(at(11, 18, 12))  # 2026-W47: webinar leads go bad
    for user, text in ((REP, "A-1 2 no-budget source:webinar"), (REP, "A-2 1 no-budget source:webinar"),
                       (REP2, "A-3 2 not-icp source:webinar")):
        rate(world, user, text)

    world.turn_at(at(11, 23, 9, 1))  # Monday 09:00: the clock posts 2026-W47's digest
    [w47] = digests(world)
    point = "Webinar leads averaged 1.7/5 over 3 ratings; top reason for its bad leads: No budget."
    [log_value] = [block["accessory"]["value"] for block in w47["blocks"]
                   if block.get("accessory", {}).get("action_id") == ActionIds.NEW and point in block["text"]["text"]]
    assert ActionPrompt.from_value(log_value) == ActionPrompt(kind="source", ref="webinar", label=point,
                                                              title="Better leads from Webinar")
    assert "*Done this week*" not in text_of(w47)

    world.at(at(11, 23, 10))
    modal = world.click_for_modal(ActionIds.NEW, log_value, user=MARKETER, channel=LEADERS)
    assert modal["callback_id"] == ActionIds.MODAL
    assert f"Prompted by: {point}" in text_of(modal) and "Better leads from Webinar" in text_of(modal)
    due = date(2026, 11, 25)
    world.submit(modal, form_values(title="Exclude students from the webinar list", owner=OWNER, due=due),
                 user=MARKETER)

    [action] = world.rows(Action)
    assert (action.title, action.owner_user_id, action.created_by, action.due_on, action.status) == (
        "Exclude students from the webinar list", OWNER, MARKETER, due, "open")
    assert (action.prompt_kind, action.prompt_ref, action.prompt_label) == ("source", "webinar", point)
    [assigned] = world.posts_to(OWNER)
    assert f"<@{MARKETER}> gave you an action" in assigned["text"]

    def reminders() -> list[dict]:
        return [post for post in world.posts_to(OWNER) if post["text"].startswith(":alarm_clock:")]

    world.fake.reset()
    world.turn_at(at(11, 24, 9, 5))  # the day before: nothing
    world.turn_at(at(11, 25, 8, 55))  # the due day, before 09:00: nothing
    assert reminders() == []
    for moment in (at(11, 25, 9, 0), at(11, 25, 9, 5), at(11, 25, 13, 0), at(11, 26, 9, 0)):
        world.turn_at(moment)  # the `actions` job's runs on and after the due day
    [reminder] = reminders()
    assert "“Exclude students from the webinar list” is due today (Wed Nov 25)" in reminder["text"]
    assert buttons(reminder["blocks"]) == {ActionIds.DONE: str(action.id), ActionIds.DROP: str(action.id)}
    assert world.outbox(f"action-reminder:{action.id}").status == "sent"

    world.at(at(11, 26, 11))
    modal = world.click_for_modal(ActionIds.DONE, str(action.id), user=OWNER, channel=OWNER,
                                  block_id=f"action.dm.{action.id}")
    world.submit(modal, outcome("Students are filtered out of the webinar list <@U9>"), user=OWNER)
    [done] = world.rows(Action)
    assert (done.status, done.outcome) == ("done", "Students are filtered out of the webinar list <@U9>")
    assert {update["channel"] for update in world.updates_of(OWNER)} == {OWNER}, "its DMs show it done in place"

    world.turn_at(at(11, 30, 9, 1))  # Monday: the clock posts 2026-W48's digest
    [w48] = digests(world)  # (what Slack received since the Done click)
    assert "2026-W48" in w48["text"]
    said = text_of(w48).split("You said, we did")[1]
    done_lines = said.split("*Done this week*")[1].split('"')[0]
    assert f"Exclude students from the webinar list* · <@{OWNER}>" in done_lines
    assert f"_Prompted by:_ {point}" in done_lines
    assert "_Outcome:_ Students are filtered out of the webinar list &lt;@U9&gt;" in done_lines


# --- c) ask → one reminder to sales reps who haven't answered → "what we changed" to those who did ------------


def test_an_ask_reminds_only_sales_reps_who_havent_answered_and_what_changed_reaches_only_those_who_did(world):
    world.at(at(11, 24, 10))
    sent = ask(world.app, user=MARKETER)
    assert (sent.asker_user_id, sent.channel_id) == (MARKETER, SALES)
    answer(world.app, REP, "flat", ask_id=sent.id, quote="Too long for a first call")
    answer(world.app, REP2, "resonated", ask_id=sent.id)

    world.fake.reset()
    world.turn_at(sent.remind_at - timedelta(minutes=1))
    world.turn_at(sent.remind_at + timedelta(minutes=1))
    world.turn_at(sent.remind_at + timedelta(hours=2))  # the clock runs on: nobody is reminded twice
    reminded = [c.params["channel"] for c in world.fake.calls_to("chat.postMessage", succeeded=True)
                if c.params.get("text", "").startswith(REMINDER)]
    assert reminded == [REP3], "not those who answered, not the marketers, not the asker"
    assert [row.dedupe_key for row in world.rows(OutboxMessage, OutboxMessage.kind == "messaging_reminder")] == [
        f"ask-reminder:{sent.id}:{REP3}"]

    summary = close_and_summary(world.app, world, sent)  # the ask closes after 14 days; its asker's summary
    assert "Q4 ROI talk track" in summary["text"]
    modal = open_change_modal(world.app, summary, user=MARKETER)
    world.fake.reset()
    note = "Cut it to one page <!channel> & led with payback"
    world.submit(modal, change_values(note, "https://acme.com/roi-v2"), user=MARKETER)
    world.submit(modal, change_values(note, "https://acme.com/roi-v2"), user=MARKETER)  # delivered twice

    told = {c.params["channel"]: c.params for c in world.fake.calls_to("chat.postMessage", succeeded=True)}
    assert sorted(told) == [REP, REP2], "exactly those who answered, once each"
    shown = text_of(told[REP])
    assert "Cut it to one page &lt;!channel&gt; &amp; led with payback" in shown and "<!channel>" not in shown
    [stored] = world.rows(MessagingAsk)
    assert (stored.change_note, stored.change_link) == (note, "https://acme.com/roi-v2")
    assert sorted(row.dedupe_key for row in world.rows(OutboxMessage, OutboxMessage.kind == "messaging_change")) \
        == sorted([f"ask-change:{sent.id}:{REP}", f"ask-change:{sent.id}:{REP2}"])
    # Their Home, refreshed by the change, shows what their answer led to; the rep who didn't answer sees none.
    led_to = text_of(world.homes(REP)[-1]).split("What your feedback led to")[1]
    assert f"<@{MARKETER}> · *What we changed* after “Q4 ROI talk track”, which you answered" in led_to
    assert "Cut it to one page &lt;!channel&gt;" in led_to and "<https://acme.com/roi-v2|" in led_to
    assert not world.homes(REP3)
    open_home(world.slack, REP3)
    world.app.settle()
    assert "What we changed" not in text_of(world.homes(REP3)[-1])


# --- d) message shortcut → intel modal → intel post → the digest's count ---------------------------------------


def test_a_message_shortcut_becomes_an_intel_post_for_marketing_and_counts_in_the_digest_the_clock_posts(world):
    world.at(at(11, 18, 10))  # Wednesday of 2026-W47
    assert shortcut(world.slack, user=REP2).status == 200
    [opened] = world.fake.wait_for("views.open")
    view = opened.view
    assert view["callback_id"] == IntelIds.MODAL
    # The modal holds the message's words as people read them and its permalink; the rep sends them as they are.
    prefilled = {block["block_id"]: block["element"].get("initial_value") for block in view["blocks"]
                 if block.get("block_id") in (IntelIds.TEXT, IntelIds.LINK)}
    words, link = prefilled[IntelIds.TEXT], prefilled[IntelIds.LINK]
    assert words == "LedgerLoop offered @dana 20% off & a free <migration> @channel https://ledgerloop.io"
    assert link == "https://acme.slack.com/archives/C_SALES/p1701234567000200"
    world.submit(view, intel_values(topic="LedgerLoop", text=words, link=link), user=REP2)

    [item] = world.rows(FieldIntel)
    assert (item.user_id, item.kind, item.topic, item.text, item.permalink) == (
        REP2, "competitor", "LedgerLoop", words, link)
    [post] = world.posts_to(FEED)
    shown = text_of(post)
    assert "*Field intel · Competitor* · LedgerLoop" in shown and f"Sent by <@{REP2}>" in shown
    assert "a free &lt;migration&gt; @channel" in shown and "<migration>" not in shown and "<!channel>" not in shown
    assert f"<{link}|Original message>" in shown
    assert {f"{ReplyIds.OPEN}.fixed", ActionIds.NEW} <= set(buttons(post["blocks"]))
    assert world.outbox(f"intel:{item.id}").status == "sent"

    world.turn_at(at(11, 23, 9, 1))  # Monday 09:00: the clock posts 2026-W47's digest
    [digest] = digests(world)
    assert "2026-W47" in digest["text"]
    shown = text_of(digest)
    assert "*Field intel*: 1 from 1 rep\\nCompetitor 1" in shown and "*Competitor mentions*: LedgerLoop 1" in shown


# --- e) rating → Log action on its feed post → done → the rep's DM and Home ------------------------------------


def test_an_action_logged_from_a_feed_post_leads_back_to_the_rep_by_dm_and_on_home(world):
    world.at(at(11, 17, 10))
    rated = rate(world, REP, "ACME-1 2 no-budget source:webinar")
    [post] = world.posts_to(FEED)
    label = "Lead ACME-1 rated 2/5 · No budget · from Webinar"
    assert ActionPrompt.from_value(buttons(post["blocks"])[ActionIds.NEW]) == ActionPrompt(
        kind="rating", ref=str(rated.id), label=label, title="Fewer “No budget” leads")

    world.at(at(11, 17, 11))
    modal = world.click_for_modal(ActionIds.NEW, buttons(post["blocks"])[ActionIds.NEW], user=MARKETER,
                                  channel=FEED, message_ts=world.outbox(f"lead-feed:{rated.id}").slack_ts)
    assert f"Prompted by: {label}" in text_of(modal)
    world.submit(modal, form_values(title="Fewer “No budget” leads", owner=MARKETER, due=date(2026, 11, 20)),
                 user=MARKETER)

    [action] = world.rows(Action)
    assert (action.prompt_kind, action.prompt_ref, action.prompt_label) == ("rating", str(rated.id), label)
    assert not world.posts_to(REP), "logging it tells the rep nothing by DM yet"
    led_to = text_of(world.homes(REP)[-1]).split("What your feedback led to")[1]
    assert f":dart: Action *Fewer “No budget” leads* · <@{MARKETER}> · due Nov 20" in led_to
    assert "_because of your lead flag *ACME-1*_" in led_to

    world.at(at(11, 19, 15))  # the owner marks it done from their Home
    modal = world.click_for_modal(ActionIds.DONE, str(action.id), user=MARKETER, channel="D" + MARKETER,
                                  block_id=f"home.action.{action.id}")
    world.fake.reset()
    said = "Budget is a required question on the webinar form <@U9>"
    world.submit(modal, outcome(said), user=MARKETER)
    world.submit(modal, outcome(said), user=MARKETER)  # Slack delivers it again: already done

    [done] = world.rows(Action)
    assert (done.status, done.outcome) == ("done", said)
    [dm] = world.posts_to(REP)
    assert dm["text"] == (":white_check_mark: Your feedback led to: “Fewer “No budget” leads”, done: "
                          "Budget is a required question on the webinar form &lt;@U9&gt;")
    assert f"Prompted by: {label}" in text_of(dm) and f"<@{MARKETER}> owned it" in text_of(dm)
    assert world.outbox(f"action-feedback-done:{action.id}:{REP}").status == "sent"
    assert not world.posts_to(MARKETER), "whoever marked it done isn't told what they did"
    led_to = text_of(world.homes(REP)[-1]).split("What your feedback led to")[1]
    assert f":dart: Action *Fewer “No budget” leads* · <@{MARKETER}> · done" in led_to
    assert "_Outcome:_ Budget is a required question on the webinar form &lt;@U9&gt;" in led_to
