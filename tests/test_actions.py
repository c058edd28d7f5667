"""Actions end to end: a "Log action" click → modal → the owner's DM; `/alignment action`; the due-date reminder
through the clock's job table, once; Done with an outcome, Drop, who may close; the list; forget and export."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from bot.blocks.ids import ActionIds as Ids
from bot.export import export_csvs
from bot.results.actions import ActionPrompt
from storage.models import Action, OutboxMessage
from tests.clock_kit import TurnedClock
from tests.helpers import make_teams

ZONE = ZoneInfo("America/New_York")
MARKETER, OWNER, REP, ADMIN, STRANGER = "UMKT", "UOWN", "UREP", "UADMIN", "USTRANGER"
TALKING_POINT = ActionPrompt(kind="talking_point", ref="2026-W48:worst-source:webinar",
                             label="Webinar leads averaged 1.8 <worst source> & fell 0.6",
                             title="Fix webinar targeting")


@pytest.fixture
def app(running):
    make_teams(running.crossfeed, sales=[REP], marketing=[MARKETER, OWNER])
    running.slack.command("/alignment", f"admin add <@{ADMIN}>", user=ADMIN)  # the first admin
    running.settle()
    running.fake.reset()
    return running


def today() -> date:
    return datetime.now(ZONE).date()


def form_values(title="Fix webinar targeting", owner=OWNER, due: date | str | None = None) -> dict:
    due = due or today() + timedelta(days=10)
    return {
        Ids.TITLE: {Ids.TITLE: {"type": "plain_text_input", "value": title}},
        Ids.OWNER: {Ids.OWNER: {"type": "users_select", "selected_user": owner}},
        Ids.DUE: {Ids.DUE: {"type": "datepicker", "selected_date": str(due)}},
    }


def actions(app) -> list[Action]:
    with app.crossfeed.sessions() as session:
        return list(session.scalars(select(Action).order_by(Action.id)))


def opened_modal(app, action_id: str, value: str, *, user: str, **click) -> dict:
    app.fake.reset()
    app.slack.click(action_id, value, user=user, **click)
    [opened] = app.fake.wait_for("views.open")
    return opened.view


def block(view: dict, block_id: str) -> dict:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def dms_to(app, user: str) -> list[dict]:
    return [c.params for c in app.fake.calls_to("chat.postMessage") if c.params["channel"] == user]


def buttons(message: dict) -> dict[str, str]:
    return {e["action_id"]: e["value"] for b in message["blocks"] for e in b.get("elements", [])
            if e.get("type") == "button"}


def log_from_button(app, *, user=MARKETER, prompt=TALKING_POINT, **values) -> tuple[dict, object]:
    view = opened_modal(app, Ids.NEW, prompt.to_value(), user=user)
    reply = app.slack.submit(view, form_values(**values), user=user)
    app.settle()
    return view, reply


def test_log_action_from_a_talking_point_reaches_the_owner_once(app):
    view = opened_modal(app, Ids.NEW, TALKING_POINT.to_value(), user=MARKETER)

    # The modal: prefilled from the prompt, the clicker as owner, due a week ahead, the prompt shown escaped.
    assert view["callback_id"] == Ids.MODAL
    assert block(view, Ids.TITLE)["element"]["initial_value"] == "Fix webinar targeting"
    assert block(view, Ids.OWNER)["element"]["initial_user"] == MARKETER
    assert block(view, Ids.DUE)["element"]["initial_date"] == str(today() + timedelta(days=7))
    shown = json.dumps(view["blocks"], ensure_ascii=False)
    assert "Prompted by: Webinar leads averaged 1.8 &lt;worst source&gt; &amp; fell 0.6" in shown
    assert ActionPrompt.from_value(view["private_metadata"]) == TALKING_POINT

    due = today() + timedelta(days=10)
    reply = app.slack.submit(view, form_values(due=due), user=MARKETER)
    app.settle()

    assert reply.json["response_action"] == "update"
    assert "Action logged" in json.dumps(reply.json["view"]) and f"<@{OWNER}> gets a DM" in json.dumps(reply.json)
    [action] = actions(app)
    assert (action.title, action.owner_user_id, action.created_by, action.due_on, action.status) == (
        "Fix webinar targeting", OWNER, MARKETER, due, "open")
    assert (action.prompt_kind, action.prompt_ref, action.prompt_label) == (
        "talking_point", TALKING_POINT.ref, TALKING_POINT.label)
    assert action.submission_key == view["id"]
    [dm] = dms_to(app, OWNER)
    assert f"<@{MARKETER}> gave you an action: “Fix webinar targeting”" in dm["text"]
    assert buttons(dm) == {Ids.DONE: str(action.id), Ids.DROP: str(action.id)}
    assert {c.params["user_id"] for c in app.fake.calls_to("views.publish")} == {MARKETER, OWNER}

    # Slack delivers the same submission again (a retry, a double click): still one action, one DM.
    again = app.slack.submit(view, form_values(due=due), user=MARKETER)
    app.settle()
    assert again.json["response_action"] == "update"
    assert len(actions(app)) == 1 and len(dms_to(app, OWNER)) == 1


def test_an_action_i_own_myself_sends_no_dm(app):
    log_from_button(app, owner=MARKETER, prompt=ActionPrompt())

    [action] = actions(app)
    assert (action.owner_user_id, action.prompt_kind, action.prompt_label) == (MARKETER, "none", None)
    assert dms_to(app, MARKETER) == []


def test_the_form_refuses_a_past_date_a_blank_title_and_strangers(app):
    view = opened_modal(app, Ids.NEW, TALKING_POINT.to_value(), user=MARKETER)

    past = app.slack.submit(view, form_values(due=today() - timedelta(days=1)), user=MARKETER)
    blank = app.slack.submit(view, form_values(title="   "), user=MARKETER)
    far = app.slack.submit(view, form_values(due=today() + timedelta(days=400)), user=MARKETER)

    assert past.json["response_action"] == "errors" and "has passed" in past.json["errors"][Ids.DUE]
    assert "Say what will be done" in blank.json["errors"][Ids.TITLE]
    assert "within a year" in far.json["errors"][Ids.DUE]
    assert actions(app) == []

    app.fake.reset()
    app.slack.click(Ids.NEW, TALKING_POINT.to_value(), user=STRANGER)
    app.settle()
    assert app.fake.calls_to("views.open") == []
    [refusal] = app.fake.calls_to("response_url")
    assert "Actions are logged by the sales and marketing teams" in refusal.params["text"]


def test_alignment_action_logs_one_in_a_line(app):
    due = today() + timedelta(days=12)
    reply = app.slack.command("/alignment", f'action "Fix webinar targeting <!channel>" <@{OWNER}|own> {due}',
                              user=REP)
    app.settle()

    assert reply.json["response_type"] == "ephemeral"
    assert "Action logged" in reply.json["text"]
    assert "Fix webinar targeting @channel" in json.dumps(reply.json["blocks"]), "typed text shown, never a ping"
    [action] = actions(app)
    assert (action.title, action.owner_user_id, action.created_by, action.due_on, action.prompt_kind) == (
        "Fix webinar targeting @channel", OWNER, REP, due, "none")
    [dm] = dms_to(app, OWNER)
    assert "<!channel>" not in json.dumps(dm)

    # Without a date it is due a week ahead.
    app.slack.command("/alignment", f"action Refresh the battlecard <@{OWNER}>", user=REP)
    assert [(a.title, a.due_on) for a in actions(app)][1] == ("Refresh the battlecard", today() + timedelta(days=7))


@pytest.mark.parametrize(("text", "says"), [
    ('action "Fix webinar targeting" 2026-12-15', "Mention the owner"),
    (f'action "Fix webinar targeting" <@{OWNER}> 15/12/2026', "“15/12/2026” isn't a date I can read"),
    (f'action "Fix webinar targeting" <@{OWNER}> 2026-02-30', "isn't a date I can read"),
    (f'action "Fix webinar targeting" <@{OWNER}> 2020-01-06', "Jan 6, 2020 has passed"),
    (f'action "" <@{OWNER}> 2026-12-15', "Say what will be done"),
    ("action list everything", "`/alignment action list mine`"),
])
def test_alignment_action_says_what_is_wrong(app, text, says):
    reply = app.slack.command("/alignment", text, user=MARKETER)

    assert reply.status == 200 and reply.json["response_type"] == "ephemeral"
    assert says in reply.json["text"]
    assert actions(app) == []


def test_bare_alignment_action_opens_the_form_for_team_members_only(app):
    reply = app.slack.command("/alignment", "action", user=REP)
    [opened] = app.fake.wait_for("views.open")

    assert reply.body == ""
    assert opened.view["callback_id"] == Ids.MODAL
    assert not any(b["type"] == "context" and "Prompted by" in json.dumps(b) for b in opened.view["blocks"])

    refused = app.slack.command("/alignment", "action", user=STRANGER)
    assert "Actions are logged by the sales and marketing teams" in refused.json["text"]
    assert len(app.fake.calls_to("views.open")) == 1


def test_the_owner_is_reminded_on_the_due_day_once_and_not_for_a_closed_action(app):
    due = date(2026, 12, 15)
    local = lambda day, hour, minute=0: datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)  # noqa: E731
    with freeze_time(local(due - timedelta(days=1), 10)) as frozen:
        app.slack.command("/alignment", f'action "Fix webinar targeting" <@{OWNER}> {due}', user=MARKETER)
        app.slack.command("/alignment", f'action "Retire the old deck" <@{OWNER}> {due}', user=MARKETER)
        app.slack.command("/alignment", f'action "Next quarter\'s plan" <@{OWNER}> {due + timedelta(days=1)}',
                          user=MARKETER)
        app.settle()
        fix, retire, later = actions(app)
        view = opened_modal(app, Ids.DONE, str(retire.id), user=OWNER)
        app.slack.submit(view, {Ids.OUTCOME: {Ids.OUTCOME: {"type": "plain_text_input", "value": "Deck retired"}}},
                         user=OWNER)
        app.settle()

        frozen.move_to(local(due, 8))
        clock = TurnedClock(app.settings)
        try:
            app.fake.reset()
            frozen.move_to(local(due, 8, 30))
            clock.turn()
            app.settle()
            early = len(app.fake.calls_to("chat.postMessage"))
            frozen.move_to(local(due, 9, 5))
            clock.turn()
            frozen.move_to(local(due, 10))
            clock.turn()
            app.settle()
        finally:
            clock.stop()

    assert early == 0, "nothing before 09:00 on the due day"
    reminders = [m for m in dms_to(app, OWNER) if ":alarm_clock:" in m["text"]]
    assert len(reminders) == 1, "one reminder, however many times the clock runs"
    assert "“Fix webinar targeting” is due today (Tue Dec 15)" in reminders[0]["text"]
    assert buttons(reminders[0]) == {Ids.DONE: str(fix.id), Ids.DROP: str(fix.id)}
    with app.crossfeed.sessions() as session:
        reminded = dict(session.execute(select(Action.id, Action.reminded_at)).all())
    assert reminded[fix.id] is not None
    assert reminded[retire.id] is None, "a done action is never reminded"
    assert reminded[later.id] is None, "due tomorrow: not yet"


def test_done_asks_for_the_outcome_and_updates_the_dm_in_place(app):
    log_from_button(app)
    [action] = actions(app)
    [dm] = dms_to(app, OWNER)

    view = opened_modal(app, Ids.DONE, buttons(dm)[Ids.DONE], user=OWNER, channel=OWNER,
                        block_id=f"action.dm.{action.id}")
    assert view["callback_id"] == Ids.DONE_MODAL
    assert "Fix webinar targeting" in json.dumps(view["blocks"])
    assert block(view, Ids.OUTCOME)["optional"] is False

    empty = app.slack.submit(view, {Ids.OUTCOME: {Ids.OUTCOME: {"type": "plain_text_input", "value": "  "}}},
                             user=OWNER)
    assert empty.json["response_action"] == "errors" and "what came of it" in empty.json["errors"][Ids.OUTCOME]
    assert actions(app)[0].status == "open"

    done = app.slack.submit(view, {Ids.OUTCOME: {Ids.OUTCOME: {"type": "plain_text_input",
                                                               "value": "Webinar list now excludes <students>"}}},
                            user=OWNER)
    app.settle()

    assert done.json["response_action"] == "update" and "*Done*" in json.dumps(done.json["view"])
    [closed] = actions(app)
    assert (closed.status, closed.outcome) == ("done", "Webinar list now excludes <students>")
    assert closed.closed_at is not None
    [update] = app.fake.calls_to("chat.update")
    assert update.params["channel"] == OWNER
    shown = json.dumps(update.blocks)
    assert "*Done*: Webinar list now excludes &lt;students&gt;" in shown and Ids.DONE not in shown

    # Closing again (a second modal still open, a double click) changes nothing and says so.
    again = app.slack.submit(view, {Ids.OUTCOME: {Ids.OUTCOME: {"type": "plain_text_input", "value": "Other"}}},
                             user=OWNER)
    assert "already done: nothing changed" in json.dumps(again.json["view"])
    assert actions(app)[0].outcome == "Webinar list now excludes <students>"
    app.fake.reset()
    app.slack.click(Ids.DONE, str(action.id), user=OWNER)
    app.settle()
    assert app.fake.calls_to("views.open") == []
    assert "already done" in app.fake.calls_to("response_url")[0].params["text"]


def test_only_the_owner_the_creator_or_an_admin_may_close(app):
    log_from_button(app)
    [action] = actions(app)

    app.fake.reset()
    app.slack.click(Ids.DROP, str(action.id), user=REP)
    app.settle()
    assert app.fake.calls_to("views.open") == []
    [refusal] = app.fake.calls_to("response_url")
    assert f"Only <@{OWNER}>, whoever logged it, or an admin can close this action." in refusal.params["text"]

    # A modal opened by someone allowed, submitted by someone who isn't (a forged submission), changes nothing.
    view = opened_modal(app, Ids.DROP, str(action.id), user=MARKETER)
    forged = app.slack.submit(view, {Ids.OUTCOME: {Ids.OUTCOME: {"type": "plain_text_input", "value": None}}},
                              user=REP)
    assert "Only <@UOWN>" in json.dumps(forged.json)
    assert actions(app)[0].status == "open"

    # The admin may: Drop needs no reason.
    view = opened_modal(app, Ids.DROP, str(action.id), user=ADMIN)
    assert block(view, Ids.OUTCOME)["optional"] is True
    app.slack.submit(view, {Ids.OUTCOME: {Ids.OUTCOME: {"type": "plain_text_input", "value": None}}}, user=ADMIN)
    app.settle()
    assert (actions(app)[0].status, actions(app)[0].outcome) == ("dropped", None)


def test_the_list_shows_open_actions_and_refreshes_after_a_close(app):
    for title, owner in (("Fix webinar targeting", OWNER), ("Refresh the battlecard", MARKETER)):
        log_from_button(app, title=title, owner=owner)
    fix, battlecard = actions(app)

    everyone = app.slack.command("/alignment", "action list", user=OWNER).json
    mine = app.slack.command("/alignment", "action list mine", user=OWNER).json

    assert everyone["text"] == "2 open actions"
    shown = json.dumps(everyone["blocks"])
    assert "Fix webinar targeting" in shown and "Refresh the battlecard" in shown
    # The owner of one may close that one; the other's buttons aren't offered to them.
    listed = {e["value"] for b in everyone["blocks"] for e in b.get("elements", []) if e.get("type") == "button"}
    assert listed == {str(fix.id)}
    assert mine["text"] == "1 open action of yours"
    assert "Refresh the battlecard" not in json.dumps(mine["blocks"])

    view = opened_modal(app, Ids.DROP, str(fix.id), user=OWNER, block_id=f"action.list.mine.{fix.id}")
    app.slack.submit(view, {Ids.OUTCOME: {Ids.OUTCOME: {"type": "plain_text_input", "value": "Superseded"}}},
                     user=OWNER)
    app.settle()

    [refreshed] = app.fake.calls_to("response_url")
    assert refreshed.params["replace_original"] is True
    assert "No open actions of yours" in refreshed.params["text"]
    assert actions(app)[0].status == "dropped" and actions(app)[0].outcome == "Superseded"
    empty = app.slack.command("/alignment", "action list mine", user=OWNER).json
    assert "No open actions of yours" in empty["text"]


def test_forget_keeps_the_teams_actions_without_the_person(app):
    log_from_button(app, user=MARKETER, owner=OWNER, title="Open one of theirs")
    log_from_button(app, user=OWNER, owner=MARKETER, title="One they logged")
    closed_view = opened_modal(app, Ids.NEW, ActionPrompt().to_value(), user=OWNER)
    app.slack.submit(closed_view, form_values(title="Closed one of theirs", owner=OWNER), user=OWNER)
    closed = actions(app)[-1]
    view = opened_modal(app, Ids.DONE, str(closed.id), user=OWNER)
    app.slack.submit(view, {Ids.OUTCOME: {Ids.OUTCOME: {"type": "plain_text_input", "value": "Shipped"}}},
                     user=OWNER)

    asked = app.slack.command("/alignment", f"forget <@{OWNER}|own>", user=ADMIN)
    assert "open actions they own become yours" in asked.body
    app.fake.reset()
    app.slack.click("alignment.forget_confirm", OWNER, user=ADMIN)
    app.settle()

    by_title = {a.title: a for a in actions(app)}
    assert len(by_title) == 3, "actions are the team's: none is deleted"
    assert by_title["Open one of theirs"].owner_user_id == ADMIN
    assert by_title["One they logged"].created_by == ""
    assert (by_title["Closed one of theirs"].owner_user_id, by_title["Closed one of theirs"].created_by) == ("", "")
    assert by_title["Closed one of theirs"].outcome == "Shipped"
    with app.crossfeed.sessions() as session:
        assert OWNER not in set(session.scalars(select(Action.owner_user_id))) | set(
            session.scalars(select(Action.created_by)))
        assert session.scalar(select(OutboxMessage).where(OutboxMessage.channel == OWNER)) is None
    [done] = app.fake.calls_to("response_url")
    assert "1 open actions handed to you" in done.params["text"]


def test_the_export_has_the_actions(app):
    log_from_button(app)

    with app.crossfeed.sessions() as session:
        files = export_csvs(session=session, team_id="T1", now=datetime.now(UTC), weeks=1)

    header, row = files["actions.csv"].splitlines()
    assert header.startswith("week,created_at,action_id,title,owner_user_id,due_on,status,prompt_kind")
    assert "Fix webinar targeting" in row and "talking_point" in row and OWNER in row and ",open," in row


def test_help_names_the_action_commands(app):
    shown = json.dumps(app.slack.command("/alignment", "help", user=REP).json)

    assert "/alignment action list [mine]" in shown and "For both teams and admins" in shown


def test_a_long_list_stays_inside_slacks_limits():
    from bot.blocks.actions import actions_list_message
    from bot.results.actions import ActionList, ActionView

    views = tuple(ActionView(id=i, title="t" * 150, owner_user_id=OWNER, due_on=date(2026, 12, 15), status="open",
                             prompt_kind="none", prompt_label="p" * 200, outcome=None, created_by=MARKETER,
                             created_at=datetime(2026, 12, 1, tzinfo=UTC), closed_at=None, can_close=True)
                  for i in range(20))

    text, blocks = actions_list_message(ActionList(actions=views, total=35, mine=False))

    assert text == "35 open actions"
    assert len(blocks) <= 50
    assert "…and 15 more, due later." in json.dumps([b.to_dict() for b in blocks], ensure_ascii=False)


def test_whoever_gave_the_feedback_sees_the_action_on_home_and_is_told_once_when_it_is_done(app):
    from storage.models import FieldIntel, LeadRating
    from tests.test_field_intel import send

    send(app.slack, user=REP, topic="LedgerLoop")
    app.slack.command("/leadfeedback", "ACME-1 2 no-budget", user=REP)
    app.settle()
    with app.crossfeed.sessions() as session:
        intel_id, rating_id = session.scalar(select(FieldIntel.id)), session.scalar(select(LeadRating.id))
    from_intel = ActionPrompt(kind="intel", ref=str(intel_id), label="Competitor: LedgerLoop")

    def homes() -> set[str]:
        return {c.params["user_id"] for c in app.fake.calls_to("views.publish")}

    log_from_button(app, prompt=ActionPrompt(kind="rating", ref=str(rating_id), label="Lead ACME-1 rated 2/5"),
                    title="Call ACME back", owner=REP)
    log_from_button(app, prompt=from_intel, title="Match their discount")
    log_from_button(app, prompt=from_intel, title="Battlecard for LedgerLoop")
    assert homes() == {MARKETER, OWNER, REP}, "the sender's Home shows what their intel led to once it is logged"
    call_back, discount, battlecard = actions(app)

    def close(action, status, user, words=None) -> list[str]:
        """Close it (Slack delivering the submission twice); the feedback DMs to the rep it sent."""
        view = opened_modal(app, Ids.DONE if status == "done" else Ids.DROP, str(action.id), user=user)
        for _ in range(2):
            app.slack.submit(view, {Ids.OUTCOME: {Ids.OUTCOME: {"type": "plain_text_input", "value": words}}},
                             user=user)
        app.settle()
        return [dm["text"] for dm in dms_to(app, REP) if "Your feedback led to" in dm["text"]]

    assert close(call_back, "done", REP, "Called: budget comes in Q2") == [], "they closed it themselves"
    assert close(battlecard, "done", OWNER, "Battlecard <v2> is live") == [
        ":white_check_mark: Your feedback led to: “Battlecard for LedgerLoop”, done: Battlecard &lt;v2&gt; is live"]
    assert close(discount, "drop", OWNER) == [], "a dropped action tells nobody"
    assert REP in homes(), "but refreshes the Home of whoever gave the feedback"
    with app.crossfeed.sessions() as session:
        keys = list(session.scalars(select(OutboxMessage.dedupe_key).where(
            OutboxMessage.kind == "action_feedback_done")))
    assert keys == [f"action-feedback-done:{battlecard.id}:{REP}"], "one DM per action and person"
