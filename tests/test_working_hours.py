"""Reminders in each person's own working hours: the workspace's hours, days and holidays (New York here) lived in
each person's zone. A reminder that comes due outside someone's working time is queued once as ever and delivered
when their next working day starts; everyone else's is unaffected.

Through the clock as deployed (its own job table, turned under freezegun) and the fake Slack; people's zones are
written as Slack's profile feed stores them (storage/people.save_profile)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.blocks.ids import LeadIds
from storage import people
from storage import teams as team_store
from storage.models import Lead, MessagingAsk, OutboxMessage
from tests.clock_kit import Clocks
from tests.helpers import make_teams
from tests.test_ask_loop import answer, ask
from tests.test_follow_up import click, hand_off

NEW_YORK_ZONE, TOKYO_ZONE, LONDON_ZONE = (ZoneInfo(name) for name in ("America/New_York", "Asia/Tokyo",
                                                                      "Europe/London"))
TOKYO, NEW_YORK, MANAGER, MARKETER = "UTOKYO", "UNEWYORK", "UMGR", "UMKT"
SALES = "C0SALES"
TUESDAY = date(2026, 12, 8)  # New York is 14 hours behind Tokyo, 5 behind London
WEDNESDAY, THURSDAY, FRIDAY = (TUESDAY + timedelta(days=n) for n in (1, 2, 3))


def at(zone: ZoneInfo, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


def new_york(day: date, hour: int, minute: int = 0) -> datetime:
    return at(NEW_YORK_ZONE, day, hour, minute)


def tokyo(day: date, hour: int, minute: int = 0) -> datetime:
    return at(TOKYO_ZONE, day, hour, minute)


def london(day: date, hour: int, minute: int = 0) -> datetime:
    return at(LONDON_ZONE, day, hour, minute)


@pytest.fixture
def app(running):
    """A New York workspace with a rep in Tokyo, one in New York, and an escalation manager's zone in London."""
    make_teams(running.crossfeed, sales=[TOKYO, NEW_YORK], marketing=[MARKETER], sales_channel=SALES)
    with running.crossfeed.transaction() as session:
        for user_id, zone in ((TOKYO, TOKYO_ZONE), (NEW_YORK, NEW_YORK_ZONE), (MANAGER, LONDON_ZONE)):
            running.fake.set_user(user_id, tz=zone.key)  # what Slack says too, when the clock reads profiles again
            people.save_profile(session=session, team_id="T1", user_id=user_id, timezone=zone.key, status_text=None,
                                status_emoji=None, status_expires_at=None, now=datetime.now(UTC))
    running.settle()
    running.fake.reset()
    return running


def configure(app, **values) -> None:
    with app.crossfeed.transaction() as session:
        config = team_store.workspace_config(session=session, team_id="T1")
        for name, value in values.items():
            setattr(config, name, value)


def sent(app, key: str) -> list[str]:
    """Who got a first post of the messages whose outbox key starts with `key`, in order."""
    return [c.params["channel"] for c in app.fake.calls_to("chat.postMessage", succeeded=True)
            if (c.params.get("metadata") or {}).get("event_payload", {}).get("outbox_key", "").startswith(key)]


def leads(app, *lead_ids: int) -> list[Lead]:
    with app.crossfeed.sessions() as session:
        return [session.get(Lead, lead_id) for lead_id in lead_ids]


def held_until(app, key: str) -> datetime:
    with app.crossfeed.sessions() as session:
        return session.scalar(select(OutboxMessage.next_attempt_at).where(OutboxMessage.dedupe_key == key))


# --- messaging asks -------------------------------------------------------------------------------------------------

def ask_at_three_tomorrow(app, clock: Clocks) -> MessagingAsk:
    """A channel ask opened on Tuesday at 15:00 New York: its reminder is due Wednesday at 15:00 New York."""
    clock.frozen.move_to(new_york(TUESDAY, 15))
    sent_ask = ask(app, user=MARKETER, channel=SALES)
    assert sent_ask.remind_at == new_york(WEDNESDAY, 15)
    app.fake.reset()
    return sent_ask


def test_an_asks_reminder_reaches_each_rep_in_their_own_working_hours_once(app, clocks):
    clock = clocks(new_york(TUESDAY, 14, 55))
    sent_ask = ask_at_three_tomorrow(app, clock)
    key = f"ask-reminder:{sent_ask.id}:"

    clock.turn_at(new_york(WEDNESDAY, 14, 59))
    assert sent(app, key) == []
    clock.turn_at(new_york(WEDNESDAY, 15))
    assert sent(app, key) == [NEW_YORK], "at work in New York: reminded on time"
    # 05:00 on Thursday in Tokyo: queued now, held for the start of their day.
    assert held_until(app, key + TOKYO) == tokyo(THURSDAY, 9) == new_york(WEDNESDAY, 19)

    for moment in (new_york(WEDNESDAY, 15, 1), new_york(WEDNESDAY, 17), tokyo(THURSDAY, 8, 59)):
        clock.turn_at(moment)
    assert sent(app, key) == [NEW_YORK], "not before Tokyo's working day"
    for moment in (tokyo(THURSDAY, 9), tokyo(THURSDAY, 9, 1), tokyo(THURSDAY, 12)):
        clock.turn_at(moment)
    assert sent(app, key) == [NEW_YORK, TOKYO], "each once"


def test_a_rep_who_is_away_gets_no_asks_reminder(app, clocks):
    clock = clocks(new_york(TUESDAY, 14, 55))
    assert app.slack.command("/pulse", f"away until {THURSDAY.isoformat()}", user=TOKYO).status == 200
    sent_ask = ask_at_three_tomorrow(app, clock)
    for moment in (new_york(WEDNESDAY, 15), tokyo(THURSDAY, 9), tokyo(THURSDAY, 12)):
        clock.turn_at(moment)
    assert sent(app, f"ask-reminder:{sent_ask.id}:") == [NEW_YORK]


def test_a_holiday_in_setup_is_a_holiday_in_the_reps_own_zone(app, clocks):
    # Thursday 10 December: when it starts in Tokyo, it is still Wednesday, a working day, in New York.
    configure(app, holidays=["2026-12-10"])
    clock = clocks(new_york(TUESDAY, 14, 55))
    sent_ask = ask_at_three_tomorrow(app, clock)
    key = f"ask-reminder:{sent_ask.id}:"

    clock.turn_at(new_york(WEDNESDAY, 15))
    assert sent(app, key) == [NEW_YORK]
    assert held_until(app, key + TOKYO) == tokyo(FRIDAY, 9)
    for moment in (tokyo(THURSDAY, 9), tokyo(THURSDAY, 15), tokyo(FRIDAY, 8, 59)):
        clock.turn_at(moment)
    assert sent(app, key) == [NEW_YORK], "Tokyo's Thursday is the holiday"
    clock.turn_at(tokyo(FRIDAY, 9))
    clock.turn_at(tokyo(FRIDAY, 10))
    assert sent(app, key) == [NEW_YORK, TOKYO]


def test_a_rep_who_answers_while_their_reminder_is_held_is_not_reminded(app, clocks):
    clock = clocks(new_york(TUESDAY, 14, 55))
    sent_ask = ask_at_three_tomorrow(app, clock)
    clock.turn_at(new_york(WEDNESDAY, 15))
    clock.frozen.move_to(new_york(WEDNESDAY, 18))
    answer(app, TOKYO, ask_id=sent_ask.id)  # from the card in the channel, before their day starts
    clock.turn_at(tokyo(THURSDAY, 9, 1))
    assert sent(app, f"ask-reminder:{sent_ask.id}:{TOKYO}") == []
    with app.crossfeed.sessions() as session:
        held = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == f"ask-reminder:{sent_ask.id}:"
                                                                                      f"{TOKYO}"))
    assert (held.status, held.slack_ts) == ("sent", None), "looked at when due, and skipped"


def test_a_rep_who_goes_away_while_their_reminder_is_held_is_not_reminded(app, clocks):
    clock = clocks(new_york(TUESDAY, 14, 55))
    sent_ask = ask_at_three_tomorrow(app, clock)
    clock.turn_at(new_york(WEDNESDAY, 15))  # Tokyo's reminder is queued, held for 09:00 Thursday in Tokyo
    clock.frozen.move_to(new_york(WEDNESDAY, 18))
    assert app.slack.command("/pulse", f"away until {FRIDAY.isoformat()}", user=TOKYO).status == 200
    for moment in (tokyo(THURSDAY, 9), tokyo(THURSDAY, 12)):
        clock.turn_at(moment)
    assert sent(app, f"ask-reminder:{sent_ask.id}:") == [NEW_YORK]


# --- lead follow-ups ------------------------------------------------------------------------------------------------

def test_a_lead_owner_in_tokyo_is_reminded_and_asked_to_rate_in_their_own_working_hours(app, clocks):
    clock = clocks(new_york(TUESDAY, 9, 55), count=2)  # two clock processes: each message still once
    clock.frozen.move_to(new_york(TUESDAY, 10))
    far, near = hand_off(app, "ACME-1", TOKYO), hand_off(app, "ACME-2", NEW_YORK)
    to_rate = hand_off(app, "ACME-3", TOKYO)
    clock.frozen.move_to(new_york(TUESDAY, 10, 10))
    click(app, LeadIds.ACCEPT, to_rate, user=TOKYO)

    # Half the one-hour SLA, in the workspace's working time: 10:30 New York, 00:30 Wednesday in Tokyo.
    clock.turn_at(new_york(TUESDAY, 10, 30))
    assert sent(app, "lead-reminder:") == [NEW_YORK]
    assert held_until(app, f"lead-reminder:{far}") == tokyo(WEDNESDAY, 9)
    # The SLA runs in the workspace's working time: the breach is 11:00 New York whoever owns the lead, and the
    # sales channel (no escalation manager) hears of both at once.
    clock.turn_at(new_york(TUESDAY, 11))
    assert sent(app, "lead-escalation:") == [SALES, SALES]
    assert [(row.remind_at, row.due_at) for row in leads(app, far, near)] == [
        (new_york(TUESDAY, 10, 30), new_york(TUESDAY, 11))] * 2

    clock.turn_at(tokyo(WEDNESDAY, 8, 59))
    assert sent(app, "lead-reminder:") == [NEW_YORK]
    clock.turn_at(tokyo(WEDNESDAY, 9))
    clock.turn_at(tokyo(WEDNESDAY, 9, 30))
    assert sent(app, "lead-reminder:") == [NEW_YORK, TOKYO]
    [reminder] = [c for c in app.fake.calls_to("chat.postMessage") if c.params["channel"] == TOKYO
                  and c.params["text"].startswith("Reminder: lead ACME-1")]
    assert "its follow-up time is up" in reminder.params["text"]

    # Accepted Tuesday 10:10 New York: the prompt is due a working day later, Wednesday 10:10 New York, which
    # is 00:10 on Thursday in Tokyo.
    clock.turn_at(new_york(WEDNESDAY, 10, 10))
    assert sent(app, "lead-rate:") == []
    assert held_until(app, f"lead-rate:{to_rate}") == tokyo(THURSDAY, 9)
    clock.turn_at(tokyo(THURSDAY, 8, 59))
    assert sent(app, "lead-rate:") == []
    clock.turn_at(tokyo(THURSDAY, 9))
    clock.turn_at(tokyo(THURSDAY, 10))
    assert sent(app, "lead-rate:") == [TOKYO]


def test_the_escalation_manager_in_london_hears_in_their_own_working_hours(app, clocks):
    configure(app, lead_escalation_user_id=MANAGER)
    clock = clocks(new_york(TUESDAY, 8, 55))
    clock.frozen.move_to(new_york(TUESDAY, 9))
    morning = hand_off(app, "ACME-1", NEW_YORK)  # due 10:00 New York, 15:00 London
    clock.frozen.move_to(new_york(TUESDAY, 11, 30))
    late = hand_off(app, "ACME-2", NEW_YORK)  # due 12:30 New York, 17:30 London: their day is over

    clock.turn_at(new_york(TUESDAY, 10))
    assert sent(app, "lead-escalation:") == [MANAGER]
    assert held_until(app, f"lead-escalation:{morning}") == new_york(TUESDAY, 10)
    clock.turn_at(new_york(TUESDAY, 12, 30))
    assert held_until(app, f"lead-escalation:{late}") == london(WEDNESDAY, 9)
    for moment in (new_york(TUESDAY, 12, 31), new_york(TUESDAY, 17), london(WEDNESDAY, 8, 59)):
        clock.turn_at(moment)
    assert sent(app, "lead-escalation:") == [MANAGER]
    clock.turn_at(london(WEDNESDAY, 9))
    clock.turn_at(london(WEDNESDAY, 10))
    assert sent(app, "lead-escalation:") == [MANAGER, MANAGER]
    [escalation] = [c for c in app.fake.calls_to("chat.postMessage") if c.params["text"].startswith("Lead ACME-2")]
    assert "after 1 h of working time" in escalation.params["text"], "how long it waited when it was found overdue"


# --- actions --------------------------------------------------------------------------------------------------------

def test_an_actions_owner_is_reminded_when_their_own_working_day_starts_on_the_due_date(app, clocks):
    due = date(2026, 12, 15)
    clock = clocks(new_york(due - timedelta(days=1), 10))
    for owner in (TOKYO, NEW_YORK):
        app.slack.command("/alignment", f'action "Fix webinar targeting" <@{owner}> {due}', user=MARKETER)
    app.settle()
    app.fake.reset()

    clock.turn_at(new_york(due - timedelta(days=1), 18, 59))
    assert sent(app, "action-reminder:") == []
    clock.turn_at(tokyo(due, 9))  # 19:00 the day before in New York
    assert sent(app, "action-reminder:") == [TOKYO]
    clock.turn_at(new_york(due, 8, 59))
    assert sent(app, "action-reminder:") == [TOKYO]
    clock.turn_at(new_york(due, 9))
    clock.turn_at(new_york(due, 10))
    assert sent(app, "action-reminder:") == [TOKYO, NEW_YORK]
