"""A handed-off lead's follow-up, end to end: Accept, Not mine and Rate through signed clicks; the reminder at half
the SLA, the escalation at the breach, the rating prompt and its one reminder, through the clock's own job table
under freezegun (working hours in New York, DST and holidays); the setup knobs that drive them.

Leads are inserted as bot/handoff.receive_lead stores them (`hand_off` below) until the intake lands: an owner,
routing done, the clock set from the SLA in force, and the owner's DM card queued.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.blocks.ids import LeadFeedbackIds, LeadIds, SetupIds
from bot.follow_up import workspace_calendar
from bot.text import lead_key
from storage import outbox as outbox_store
from storage import teams as team_store
from storage.models import Lead, LeadSource, OutboxMessage
from tests.helpers import make_teams, ratings
from tests.test_setup import open_setup, submitted

ZONE = ZoneInfo("America/New_York")
OWNER, OTHER, MANAGER, ADMIN = "UOWN", "UOTHER", "UMGR", "UADMIN"
SALES = "C0SALES"


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


TUESDAY = date(2026, 12, 8)
WEDNESDAY, THURSDAY, FRIDAY = (TUESDAY + timedelta(days=n) for n in (1, 2, 3))


@pytest.fixture
def app(running):
    make_teams(running.crossfeed, sales=[OWNER, OTHER], marketing=["UMKT"], sales_channel=SALES)
    running.slack.command("/alignment", f"admin add <@{ADMIN}>", user=ADMIN)
    running.settle()
    running.fake.reset()
    return running


def hand_off(app, crm_id: str = "ACME-1", owner: str | None = OWNER, *, source: str = "webinar",
             campaign: str | None = "Q4 ROI webinar") -> int:
    """A lead as receive_lead stores it now: owner resolved, clock set from the SLA in force, the card queued."""
    now = datetime.now(UTC)
    with app.crossfeed.transaction() as session:
        config = team_store.workspace_config(session=session, team_id="T1")
        calendar = workspace_calendar(config)
        source_id = session.scalar(select(LeadSource.id).where(LeadSource.team_id == "T1", LeadSource.code == source))
        lead = Lead(team_id="T1", crm_id=crm_id, lead_key=lead_key(crm_id), name="Jane <Doe>", company="Acme & Co",
                    source_id=source_id, campaign=campaign, url=f"https://crm.example.com/leads/{crm_id}",
                    owner_given=owner, owner_user_id=owner, status="assigned" if owner else "unassigned",
                    routing_pending=False, received_at=now, updated_at=now, sla_minutes=config.lead_sla_minutes,
                    remind_at=calendar.add(now, config.lead_sla_minutes / 2),
                    due_at=calendar.add(now, config.lead_sla_minutes), assigned_at=now if owner else None)
        session.add(lead)
        session.flush()
        if owner:
            outbox_store.enqueue(session=session, team_id="T1", now=now, messages=[outbox_store.Message(
                kind="lead_card", dedupe_key=f"lead-card:{lead.id}:{owner}", channel=owner,
                payload={"lead_id": lead.id})])
        return lead.id


def lead(app, lead_id: int) -> Lead:
    with app.crossfeed.sessions() as session:
        return session.get(Lead, lead_id)


def queued(app, key: str) -> OutboxMessage | None:
    with app.crossfeed.sessions() as session:
        return session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == key))


KINDS = {"Reminder": "lead-reminder:", "follow-up time": "lead-escalation:", "good was lead": "lead-rate"}


def posts(app, what: str) -> list:
    """Follow-up messages posted (first sends, not updates): "Reminder", "follow-up time" (escalations) or
    "good was lead" (rating prompts and their reminders), told apart by the outbox key each post carries."""
    return [c for c in app.fake.calls_to("chat.postMessage", succeeded=True)
            if (c.params.get("metadata") or {}).get("event_payload", {}).get("outbox_key", "").startswith(KINDS[what])]


def click(app, action_id: str, lead_id: int | str, user: str = OWNER) -> list[str]:
    """Click a lead button; what the person was told privately."""
    app.fake.reset()
    assert app.slack.click(action_id, str(lead_id), user=user, channel=user).status == 200
    app.settle()
    return [c.params["text"] for c in app.fake.calls_to("response_url")]


def buttons(call) -> dict[str, str]:
    return {e["action_id"]: e["value"] for b in call.blocks for e in b.get("elements", []) if e.get("type") == "button"}


# --- Accept ------------------------------------------------------------------------------------------------------

def test_accept_within_the_sla_records_first_touch_once_and_nothing_follows(app, clocks):
    clock = clocks(local(TUESDAY, 9, 55))
    clock.frozen.move_to(local(TUESDAY, 10))
    lead_id = hand_off(app)
    clock.turn_at(local(TUESDAY, 10, 1))
    card = queued(app, f"lead-card:{lead_id}:{OWNER}")

    clock.frozen.move_to(local(TUESDAY, 10, 20))
    assert click(app, LeadIds.ACCEPT, lead_id) == []
    accepted = lead(app, lead_id)
    assert (accepted.status, accepted.accept_minutes) == ("accepted", 20)
    assert accepted.accepted_at == local(TUESDAY, 10, 20)
    assert accepted.rate_prompt_at == local(WEDNESDAY, 10, 20), "the rating prompt a working day later"
    again = queued(app, f"lead-card:{lead_id}:{OWNER}")
    assert again.requests == card.requests + 1, "the card queued again, so it shows Accepted"

    # A double click changes nothing and says so privately.
    told = click(app, LeadIds.ACCEPT, lead_id)
    assert told == ["You've already accepted this lead: nothing more to do here. You'll be asked to rate it once "
                    "you've had time to talk to them."]
    assert lead(app, lead_id).accepted_at == local(TUESDAY, 10, 20)

    # No reminder at half time and no escalation at the breach for an accepted lead.
    app.fake.reset()
    for moment in (local(TUESDAY, 10, 31), local(TUESDAY, 11, 1), local(TUESDAY, 16)):
        clock.turn_at(moment)
    assert app.fake.calls_to("chat.postMessage") == []
    assert (lead(app, lead_id).reminded_at, lead(app, lead_id).escalated_at) == (None, None)


# --- the clock: reminder and escalation ----------------------------------------------------------------------------

def test_reminder_at_half_the_time_and_escalation_at_the_breach_each_once_with_two_clocks(app, clocks):
    clock = clocks(local(TUESDAY, 9, 55), count=2)  # two clock processes on one database
    clock.frozen.move_to(local(TUESDAY, 10))
    lead_id = hand_off(app)

    clock.turn_at(local(TUESDAY, 10, 29))
    assert posts(app, "Reminder") == []
    clock.turn_at(local(TUESDAY, 10, 30))
    clock.turn_at(local(TUESDAY, 10, 45))
    [reminder] = posts(app, "Reminder")
    assert reminder.params["channel"] == OWNER
    shown = json.dumps(reminder.blocks, ensure_ascii=False)
    assert "30 min of working time left" in shown and "Jane &lt;Doe&gt; · Acme &amp; Co" in shown
    assert buttons(reminder) == {LeadIds.ACCEPT: str(lead_id), LeadIds.NOT_MINE: str(lead_id)}
    assert posts(app, "follow-up time") == []

    clock.turn_at(local(TUESDAY, 11))
    clock.turn_at(local(TUESDAY, 11, 30))
    clock.turn_at(local(WEDNESDAY, 10))
    [escalation] = posts(app, "follow-up time")
    assert escalation.params["channel"] == SALES, "no escalation manager: the sales channel"
    assert escalation.params["text"] == ("Lead ACME-1 passed its follow-up time: <@UOWN> hasn't accepted it after "
                                         "1 h of working time.")
    assert len(posts(app, "Reminder")) == 1
    row = lead(app, lead_id)
    assert (row.reminded_at, row.escalated_at) == (local(TUESDAY, 10, 30), local(TUESDAY, 11))

    # Accepted late: the reminder loses its buttons and the escalation says so, both updated in place.
    click(app, LeadIds.ACCEPT, lead_id)
    updates = {c.params["channel"]: json.dumps(c.blocks) for c in app.fake.calls_to("chat.update")}
    assert sorted(updates) == [SALES, OWNER]
    assert "accepted" in updates[OWNER] and LeadIds.ACCEPT not in updates[OWNER]
    assert "Accepted since, by <@UOWN>" in updates[SALES]
    assert app.fake.calls_to("chat.postMessage") == []


def test_a_friday_evening_lead_is_due_on_monday_across_the_change_to_summer_time(app, clocks):
    friday, monday = date(2027, 3, 12), date(2027, 3, 15)  # New York moves to EDT on Sunday 14 March
    clock = clocks(local(friday, 16, 25))
    clock.frozen.move_to(local(friday, 16, 30))
    lead_id = hand_off(app)
    row = lead(app, lead_id)
    assert row.due_at == local(monday, 9, 30) == datetime(2027, 3, 15, 13, 30, tzinfo=UTC)
    assert row.remind_at == local(friday, 17)

    # Due at Friday's close: claimed at 17:01, outside the owner's hours, so held until Monday's opening.
    clock.turn_at(local(friday, 17, 1))
    assert queued(app, f"lead-reminder:{lead_id}").next_attempt_at == local(monday, 9)
    for moment in (local(friday, 20), local(date(2027, 3, 13), 10), local(monday, 8, 59)):
        clock.turn_at(moment)
    assert posts(app, "Reminder") == []
    clock.turn_at(local(monday, 9, 29))
    assert [c.params["channel"] for c in posts(app, "Reminder")] == [OWNER]
    assert posts(app, "follow-up time") == [], "the weekend is not working time"
    clock.turn_at(local(monday, 9, 30))
    [escalation] = posts(app, "follow-up time")
    assert "after 1 h of working time" in escalation.params["text"]


def test_a_lead_passed_back_waits_in_the_sales_channel_and_escalates_as_nobodys(app, clocks):
    clock = clocks(local(TUESDAY, 9, 55))
    clock.frozen.move_to(local(TUESDAY, 10))
    lead_id = hand_off(app)
    clock.frozen.move_to(local(TUESDAY, 10, 5))

    assert click(app, LeadIds.NOT_MINE, lead_id) == []
    row = lead(app, lead_id)
    assert (row.status, row.owner_user_id) == ("unassigned", None)
    claim = queued(app, f"lead-claim:{lead_id}")
    assert (claim.kind, claim.channel, claim.payload) == ("lead_claim", SALES, {"lead_id": lead_id})
    assert queued(app, f"lead-card:{lead_id}:{OWNER}").requests == 2, "the card queued again: passed back"

    # The old owner's buttons now say what happened instead of acting.
    assert click(app, LeadIds.NOT_MINE, lead_id) == [
        "This lead was passed back to the sales channel: whoever claims it there follows it up."]
    assert click(app, LeadIds.ACCEPT, lead_id)[0].startswith("This lead was passed back")

    clock.turn_at(local(TUESDAY, 10, 31))
    assert posts(app, "Reminder") == [], "nobody holds it: no one to remind"
    clock.turn_at(local(TUESDAY, 11, 1))
    [escalation] = posts(app, "follow-up time")
    assert "nobody claimed it" in escalation.params["text"] and escalation.params["channel"] == SALES


def test_only_the_owner_acts_on_a_lead_and_a_gone_one_is_said_so(app):
    lead_id = hand_off(app)

    assert click(app, LeadIds.ACCEPT, lead_id, user=OTHER) == [
        "This lead is <@UOWN>'s now: only they can accept it, pass it back or rate it from this card."]
    assert click(app, LeadIds.NOT_MINE, lead_id, user=OTHER)[0].startswith("This lead is <@UOWN>'s now")
    assert click(app, LeadIds.RATE, lead_id, user=OTHER)[0].startswith("This lead is <@UOWN>'s now")
    assert click(app, LeadIds.ACCEPT, 9999) == ["That lead is no longer in Crossfeed: nothing to do."]
    assert click(app, LeadIds.ACCEPT, "x") == ["That button is from an old version of this message."]
    assert app.fake.calls_to("views.open") == []
    row = lead(app, lead_id)
    assert (row.status, row.owner_user_id) == ("assigned", OWNER)


def test_not_mine_without_a_sales_channel_keeps_the_lead_and_says_how_to_fix_it(app):
    with app.crossfeed.transaction() as session:
        team_store.workspace_config(session=session, team_id="T1").sales_channel = None
    lead_id = hand_off(app)

    [told] = click(app, LeadIds.NOT_MINE, lead_id)
    assert "no sales channel" in told and "`/alignment setup`" in told
    assert lead(app, lead_id).owner_user_id == OWNER


# --- rating --------------------------------------------------------------------------------------------------------

def test_the_rating_prompt_comes_a_working_day_after_acceptance_then_one_reminder(app, clocks):
    clock = clocks(local(TUESDAY, 9, 55))
    clock.frozen.move_to(local(TUESDAY, 10))
    lead_id = hand_off(app)
    rated_first = hand_off(app, "ACME-2")
    clock.frozen.move_to(local(TUESDAY, 10, 10))
    click(app, LeadIds.ACCEPT, lead_id)
    click(app, LeadIds.ACCEPT, rated_first)
    app.slack.command("/leadfeedback", "acme-2 4 great-fit", user=OWNER)  # rated before being asked

    clock.turn_at(local(WEDNESDAY, 10, 9))
    assert posts(app, "good was lead") == []
    clock.turn_at(local(WEDNESDAY, 10, 11))
    [prompt] = posts(app, "good was lead")
    assert prompt.params["channel"] == OWNER and prompt.params["text"].startswith("How good was lead ACME-1?")
    assert buttons(prompt) == {LeadIds.RATE: str(lead_id)}

    clock.turn_at(local(THURSDAY, 10, 9))
    assert len(posts(app, "good was lead")) == 1
    clock.turn_at(local(THURSDAY, 10, 12))
    clock.turn_at(local(FRIDAY, 11))
    clock.turn_at(local(FRIDAY + timedelta(days=3), 11))
    prompts = posts(app, "good was lead")
    assert [p.params["text"].split(" good")[0] for p in prompts] == ["How", "Reminder: how"], "one reminder"
    assert all("ACME-2" not in p.params["text"] for p in prompts), "a rated lead is never prompted"

    # Rate opens the rating form prefilled with the lead, its source and campaign; the form saves it as ever.
    app.fake.reset()
    app.slack.click(LeadIds.RATE, str(lead_id), user=OWNER, channel=OWNER)
    [opened] = app.fake.wait_for("views.open")
    view = opened.view
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert inputs[LeadFeedbackIds.LEAD]["initial_value"] == "ACME-1"
    assert inputs[LeadFeedbackIds.CAMPAIGN]["initial_value"] == "Q4 ROI webinar"
    assert inputs[LeadFeedbackIds.SOURCE]["initial_option"]["text"]["text"] == "Webinar"
    assert view["title"]["text"] == "Rate a lead"
    values = {
        LeadFeedbackIds.LEAD: {LeadFeedbackIds.LEAD: {"type": "plain_text_input", "value": "ACME-1"}},
        LeadFeedbackIds.RATING: {LeadFeedbackIds.RATING: {"type": "radio_buttons",
                                                          "selected_option": {"value": "2"}}},
        LeadFeedbackIds.SOURCE: {LeadFeedbackIds.SOURCE: {"type": "external_select", "selected_option":
                                                          inputs[LeadFeedbackIds.SOURCE]["initial_option"]}},
        LeadFeedbackIds.CAMPAIGN: {LeadFeedbackIds.CAMPAIGN: {"type": "plain_text_input",
                                                              "value": "Q4 ROI webinar"}},
    }
    assert app.slack.submit(view, values, user=OWNER).status == 200
    app.settle()
    mine = {r.lead_key: r for r in ratings(app.crossfeed)}
    assert (mine["acme-1"].rating, mine["acme-1"].source.code, mine["acme-1"].campaign) == (
        2, "webinar", "Q4 ROI webinar")

    # Rated: Rate again opens that rating to edit.
    app.fake.reset()
    app.slack.click(LeadIds.RATE, str(lead_id), user=OWNER, channel=OWNER)
    [opened] = app.fake.wait_for("views.open")
    assert opened.view["title"]["text"] == "Edit lead rating"


def test_a_holiday_is_not_working_time_for_the_sla_nor_the_rating_prompt(app, clocks):
    with app.crossfeed.transaction() as session:
        team_store.workspace_config(session=session, team_id="T1").holidays = ["2026-12-24", "2026-12-25"]
    wednesday, monday = date(2026, 12, 23), date(2026, 12, 28)
    clock = clocks(local(wednesday, 16, 40))
    clock.frozen.move_to(local(wednesday, 16, 45))
    late = hand_off(app)
    early = hand_off(app, "ACME-2")
    row = lead(app, late)
    assert (row.remind_at, row.due_at) == (local(monday, 9, 15), local(monday, 9, 45))
    clock.frozen.move_to(local(wednesday, 16, 50))
    click(app, LeadIds.ACCEPT, early)
    assert lead(app, early).rate_prompt_at == local(monday, 16, 50), "Thursday and Friday are holidays"

    for moment in (local(date(2026, 12, 24), 10), local(date(2026, 12, 25), 16), local(monday, 9, 14)):
        clock.turn_at(moment)
    assert posts(app, "Reminder") == [] and posts(app, "follow-up time") == []
    clock.turn_at(local(monday, 9, 16))
    assert len(posts(app, "Reminder")) == 1
    clock.turn_at(local(monday, 9, 46))
    assert len(posts(app, "follow-up time")) == 1
    clock.turn_at(local(monday, 16, 51))
    assert len(posts(app, "good was lead")) == 1


# --- setup ---------------------------------------------------------------------------------------------------------

def test_setup_knobs_change_the_follow_up_without_a_restart(app, clocks):
    clock = clocks(local(TUESDAY, 9, 55))
    clock.frozen.move_to(local(TUESDAY, 10))
    before = hand_off(app)  # arrives under the default one-hour SLA

    view = open_setup(app, app.slack, user=ADMIN)
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert len(view["blocks"]) <= 100
    assert inputs[SetupIds.LEAD_SLA_MINUTES]["initial_value"] == "60"
    assert inputs[SetupIds.WORK_START]["initial_time"] == "09:00"
    assert inputs[SetupIds.WORK_END]["initial_time"] == "17:00"
    assert [o["value"] for o in inputs[SetupIds.WORK_DAYS]["initial_options"]] == ["mon", "tue", "wed", "thu", "fri"]
    reply = app.slack.submit(view, submitted(
        view, lead_sla_minutes="120", work_start="08:00", work_end="16:00",
        work_days=["mon", "tue", "wed", "thu"], holidays="2026-12-25\n2026-12-24, 2026-12-31",
        lead_escalation_user_id=MANAGER, lead_rate_after_days="2",
        qualified_lead_definition="Budget <confirmed>, a buyer, a timeline.",
    ), user=ADMIN)
    assert reply.json["response_action"] == "update", reply.body
    with app.crossfeed.sessions() as session:
        config = team_store.workspace_config(session=session, team_id="T1")
        assert (config.lead_sla_minutes, config.work_start, config.work_end, config.work_days) == (
            120, "08:00", "16:00", ["mon", "tue", "wed", "thu"])
        assert config.holidays == ["2026-12-24", "2026-12-25", "2026-12-31"]
        assert (config.lead_escalation_user_id, config.lead_rate_after_days) == (MANAGER, 2)
        assert config.qualified_lead_definition == "Budget <confirmed>, a buyer, a timeline."
    reopened = {b["block_id"]: b["element"] for b in open_setup(app, app.slack, user=ADMIN)["blocks"]
                if b["type"] == "input"}
    assert reopened[SetupIds.HOLIDAYS]["initial_value"] == "2026-12-24\n2026-12-25\n2026-12-31"
    assert reopened[SetupIds.LEAD_ESCALATION_USER]["initial_user"] == MANAGER

    after = hand_off(app, "ACME-2")  # arrives under the new two-hour SLA
    assert lead(app, before).due_at == local(TUESDAY, 11), "a change of SLA applies to leads that arrive after it"
    assert lead(app, after).due_at == local(TUESDAY, 12)

    clock.turn_at(local(TUESDAY, 11, 1))
    [first] = posts(app, "follow-up time")
    assert first.params["channel"] == MANAGER and "ACME-1" in first.params["text"]
    clock.turn_at(local(TUESDAY, 11, 59))
    assert len(posts(app, "follow-up time")) == 1
    clock.turn_at(local(TUESDAY, 12, 1))
    assert [p.params["text"].split(" passed")[0] for p in posts(app, "follow-up time")] == ["Lead ACME-1",
                                                                                           "Lead ACME-2"]

    # Accepted on Thursday: the prompt is two working days later, past the Friday off (and the weekend).
    clock.frozen.move_to(local(THURSDAY, 10))
    click(app, LeadIds.ACCEPT, after)
    assert lead(app, after).rate_prompt_at == local(TUESDAY + timedelta(days=7), 10)


@pytest.mark.parametrize(("changes", "field", "says"), [
    (dict(holidays="2026-12-25\n24/12/2026"), SetupIds.HOLIDAYS, "“24/12/2026” isn't a date"),
    (dict(work_start="17:00", work_end="09:00"), SetupIds.WORK_END, "after the start"),
    (dict(work_days=[]), SetupIds.WORK_DAYS, "at least one working day"),
    (dict(lead_sla_minutes="0"), SetupIds.LEAD_SLA_MINUTES, "whole number of minutes"),
    (dict(lead_rate_after_days="many"), SetupIds.LEAD_RATE_AFTER_DAYS, "whole number of working days"),
    (dict(qualified_lead_definition="x" * 1001), SetupIds.QUALIFIED_LEAD_DEFINITION, "1,000 characters"),
])
def test_bad_lead_handoff_setup_is_refused_on_its_field_and_nothing_is_stored(app, changes, field, says):
    view = open_setup(app, app.slack, user=ADMIN)

    reply = app.slack.submit(view, submitted(view, sales_channel="C0OTHER", **changes), user=ADMIN)

    assert reply.json["response_action"] == "errors"
    assert says in reply.json["errors"][field], reply.json["errors"]
    with app.crossfeed.sessions() as session:
        config = team_store.workspace_config(session=session, team_id="T1")
        assert (config.sales_channel, config.lead_sla_minutes, config.holidays) == (SALES, 60, [])
