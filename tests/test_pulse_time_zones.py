"""Each person's own time: the pulse reaches people at 10:00 in their own Slack time zone, and away people are
left alone, driven through the clock's own job table (`tests/clock_kit.TurnedClock`) under freezegun.

The workspace is in New York; its sales team has a rep in Sydney, one in Berlin and one in San Francisco, and
its marketing team one marketer in New York. Late October 2026 crosses two DST changes: Berlin leaves summer
time on Sunday 25 October and San Francisco on Sunday 1 November (Sydney is on summer time throughout).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from sqlalchemy import select, text

from bot.pulse import respondent_key, secret_of
from storage import people as people_store
from storage.models import PulseParticipation, PulseRound
from storage.teams import workspace_config
from tests.clock_kit import Clock, TurnedClock
from tests.helpers import button, make_teams, prompts
from tests.test_people import user_event

SYDNEY, BERLIN, SF, NY = (ZoneInfo(name) for name in
                          ("Australia/Sydney", "Europe/Berlin", "America/Los_Angeles", "America/New_York"))
ZONES = {"USYD": SYDNEY, "UBER": BERLIN, "USFO": SF, "UNYC": NY}


def local(zone: ZoneInfo, day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


class PulseClock(Clock):
    """The clock as deployed, and the pulse DMs that reached the fake Slack."""

    def dms(self, text: str) -> dict[str, int]:
        """user → how many DMs starting with `text` reached them."""
        counts: dict[str, int] = {}
        for call in self.app.fake.calls_to("chat.postMessage", succeeded=True):
            if call.params.get("text", "").startswith(text):
                counts[call.params["channel"]] = counts.get(call.params["channel"], 0) + 1
        return counts

    def prompted(self) -> dict[str, int]:
        return self.dms("Your weekly alignment pulse")

    def reminded(self) -> dict[str, int]:
        return self.dms("Reminder: this week's pulse")


def rounds(app) -> list[PulseRound]:
    with app.crossfeed.sessions() as session:
        return list(session.scalars(select(PulseRound).order_by(PulseRound.opens_at)))


def set_zones(app, zones: dict[str, ZoneInfo]) -> None:
    """What Slack's profiles say (`users.info`): the clock reads them before it opens rounds."""
    for user, zone in zones.items():
        app.fake.set_user(user, tz=zone.key)


def ten_past_in_order(day: date) -> list[datetime]:
    """A minute past 10:00 on `day` in each person's zone, earliest first (the clock only moves forward)."""
    return sorted(local(zone, day, 10, 1) for zone in ZONES.values())


@pytest.fixture
def world(running):
    with freeze_time(local(NY, date(2026, 10, 19), 8)) as frozen:  # Monday of 2026-W43
        set_zones(running, ZONES)
        make_teams(running.crossfeed, sales=["USYD", "UBER", "USFO"], marketing=["UNYC"])
        clock = PulseClock(TurnedClock(running.settings), frozen, running)
        try:
            clock.turn_at(local(NY, date(2026, 10, 19), 8, 1))  # the clock reads everyone's zone from Slack
            yield clock
        finally:
            clock.clock.stop()


def test_the_clock_reads_each_persons_zone_from_slack(world, running):
    asked = {call.params["user"] for call in running.fake.calls_to("users.info")}
    assert asked == set(ZONES)
    with running.crossfeed.sessions() as session:
        stored = people_store.people_of(session=session, team_id="T1", user_ids=ZONES)
    assert {user: row.timezone for user, row in stored.items()} == {user: zone.key for user, zone in ZONES.items()}


# Three Wednesdays: Berlin on summer time (W43), Berlin on winter time (W44), San Francisco too (W45).
WEDNESDAYS = [date(2026, 10, 21), date(2026, 10, 28), date(2026, 11, 4)]


def test_each_person_gets_the_pulse_at_ten_in_their_own_zone_week_after_week_across_dst(world, running):
    for week, wednesday in enumerate(WEDNESDAYS, start=1):
        running.fake.reset()
        openings = sorted((local(zone, wednesday), user) for user, zone in ZONES.items())
        for opening, user in openings:
            world.turn_at(opening - timedelta(minutes=1))
            assert user not in world.prompted(), f"{user} prompted before 10:00 local in week {week}"
            world.turn_at(opening)
            assert world.prompted().get(user) == 1, f"{user} not prompted at 10:00 local in week {week}"
        assert world.prompted() == {user: 1 for user in ZONES}
        # One round per workspace week, its window running from Sydney's 10:00 to New York's 10:00 + 72 hours.
        latest = rounds(running)[-1]
        assert len(rounds(running)) == week
        assert latest.opens_at == local(SYDNEY, wednesday)
        assert latest.closes_at == max(local(zone, wednesday) for zone in ZONES.values()) + timedelta(hours=72)
        # The reminder: 24 hours after each person's own opening, to each once.
        for opening, user in openings:
            world.turn_at(opening + timedelta(hours=24) - timedelta(minutes=5))
            assert user not in world.reminded()
            world.turn_at(opening + timedelta(hours=24))
            assert world.reminded().get(user) == 1
        world.turn_at(local(NY, wednesday + timedelta(days=4), 12))
        assert world.prompted() == {user: 1 for user in ZONES} and world.reminded() == {user: 1 for user in ZONES}

    # In UTC the openings moved with each place's own DST change, and only then.
    utc_hours = {user: [ledger_row.prompt_at.hour for ledger_row in ledger_rows(running, user)] for user in ZONES}
    assert utc_hours["UBER"] == [8, 9, 9]  # CEST (UTC+2), then CET (UTC+1)
    assert utc_hours["USFO"] == [17, 17, 18]  # PDT (UTC-7) until 1 November, then PST (UTC-8)
    assert utc_hours["USYD"] == [23, 23, 23]  # AEDT (UTC+11) throughout, the evening before in UTC
    assert utc_hours["UNYC"] == [14, 14, 15]  # EDT until 1 November, then EST


def ledger_rows(app, user: str) -> list[PulseParticipation]:
    with app.crossfeed.sessions() as session:
        return list(session.scalars(select(PulseParticipation).join(PulseRound)
                                    .where(PulseParticipation.user_id == user).order_by(PulseRound.opens_at)))


def test_someone_whose_zone_is_not_known_gets_it_at_ten_in_the_workspace_zone(world, running):
    # Slack gives no zone for them (a profile without `tz`), so they are in the workspace's.
    running.fake.set_user("USYD", tz=None)
    with running.crossfeed.transaction() as session:
        people_store.forget_person(session=session, team_id="T1", user_id="USYD")
    wednesday = WEDNESDAYS[0]
    world.turn_at(local(BERLIN, wednesday))
    assert set(world.prompted()) == {"UBER"}
    world.turn_at(local(NY, wednesday))
    assert set(world.prompted()) == {"UBER", "USYD", "UNYC"}


def status_event(app, user: str, **status) -> None:
    """Slack tells the app a status changed (`user_status_changed`, signed, with the whole user object)."""
    assert user_event(app.slack, app.fake.set_user(user, tz=ZONES[user].key, **status),
                      kind="user_status_changed").status == 200
    app.settle()


def test_away_by_status_or_declared_gets_no_prompt_no_reminder_and_is_not_counted(world, running):
    wednesday = WEDNESDAYS[0]
    # Berlin: "Vacationing" until Thursday 09:00 Berlin time; back by the reminder, which brings the pulse then.
    status_event(running, "UBER", status_text="Vacationing", status_emoji=":palm_tree:",
                 status_expiration=int(local(BERLIN, wednesday + timedelta(days=1), 9).timestamp()))
    # San Francisco: OOO with no expiry: away for the whole round.
    status_event(running, "USFO", status_text="OOO - back in November")
    # Sydney declares time off through Wednesday, Sydney time.
    reply = running.slack.command("/pulse", "away until 2026-10-21", user="USYD")
    assert "away until" in reply.body.casefold(), reply.body

    for moment in ten_past_in_order(wednesday):
        world.turn_at(moment)
    assert set(world.prompted()) == {"UNYC"}
    marks = {user: row.away for user, row in latest_ledger(running).items()}
    assert marks == {"USYD": True, "UBER": True, "USFO": True, "UNYC": False}
    # The away person can't answer (an answer from someone not counted would count against nobody), and is told.
    reply = running.slack.command("/pulse", "", user="USFO")
    assert "away when this pulse went out" in reply.body

    # Reminder times: Sydney's time off is over (Thursday in Sydney), Berlin's status has expired: both get the
    # pulse itself then, and count as asked again; San Francisco is still away: nothing.
    for moment in ten_past_in_order(wednesday + timedelta(days=1)):
        world.turn_at(moment)
    assert world.prompted() == {"UNYC": 1, "USYD": 1, "UBER": 1}
    assert world.reminded() == {"UNYC": 1}
    marks = {user: row.away for user, row in latest_ledger(running).items()}
    assert marks == {"USYD": False, "UBER": False, "USFO": True, "UNYC": False}

    # After the close: two of the sales team were asked, not three.
    world.turn_at(local(NY, wednesday + timedelta(days=4), 12))
    reply = running.slack.command("/pulse", "results", user="UNYC")
    shown = json.dumps(json.loads(reply.body), ensure_ascii=False)
    assert "Sales* · 0 of 2 answered · 1 away" in shown and "Marketing* · 0 of 1 answered\"" in shown, shown


def test_pulse_back_during_the_round_brings_the_pulse_at_once(world, running):
    wednesday = WEDNESDAYS[0]
    running.slack.command("/pulse", "away until 2026-10-23", user="UBER")
    for moment in ten_past_in_order(wednesday):
        world.turn_at(moment)
    assert "UBER" not in world.prompted() and latest_ledger(running)["UBER"].away

    world.frozen.move_to(local(BERLIN, wednesday, 15))
    reply = running.slack.command("/pulse", "back", user="UBER")
    running.settle()
    assert "waiting for you in your DMs" in reply.body, reply.body
    assert world.prompted()["UBER"] == 1 and not latest_ledger(running)["UBER"].away
    # Asked once: a later reminder run sends a reminder, never a second pulse.
    world.turn_at(local(BERLIN, wednesday + timedelta(days=1), 10, 1))
    assert world.prompted()["UBER"] == 1 and world.reminded()["UBER"] == 1
    # Someone who wasn't away: /pulse back sends nothing.
    reply = running.slack.command("/pulse", "back", user="UNYC")
    running.settle()
    assert "weren't marked away" in reply.body and world.prompted()["UNYC"] == 1


def latest_ledger(app) -> dict[str, PulseParticipation]:
    with app.crossfeed.sessions() as session:
        latest = session.scalar(select(PulseRound.id).order_by(PulseRound.opens_at.desc()).limit(1))
        return {row.user_id: row for row in session.scalars(
            select(PulseParticipation).where(PulseParticipation.round_id == latest))}


def test_a_skipped_week_opens_no_round_for_anyone_in_any_zone(world, running):
    with running.crossfeed.transaction() as session:
        workspace_config(session=session, team_id="T1").skipped_pulse_weeks = ["2026-W43"]
    wednesday = WEDNESDAYS[0]
    for moment in ten_past_in_order(wednesday):
        world.turn_at(moment)
    world.turn_at(local(NY, wednesday + timedelta(days=1), 11))
    assert rounds(running) == [] and world.prompted() == {}
    for moment in ten_past_in_order(WEDNESDAYS[1]):
        world.turn_at(moment)
    assert [r.period for r in rounds(running)] == ["2026-W44"] and len(world.prompted()) == 4


def test_once_the_round_closes_nothing_on_disk_says_which_zone_answered_first(world, running):
    """Prompted by zone, people answer by zone: while the round is open the answers sit on disk in that order (and,
    on PostgreSQL, under transaction ids that fall between the waves' outbox rows). The clock seals a closed
    round: its answers rewritten in one transaction, in respondent-key order."""
    wednesday, answered_by = WEDNESDAYS[0], []
    if running.crossfeed.engine.dialect.name == "postgresql":
        # Earlier tests' deleted rows, reclaimed by an autovacuum run mid-test, would let new rows land in their
        # place, out of order: reclaim them now so places on disk follow the order rows are written in.
        with running.crossfeed.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM pulse_answers"))
    for moment in ten_past_in_order(wednesday):
        world.turn_at(moment)
        dms = prompts(running.fake)
        for user in [u for u in ZONES if u in dms and u not in answered_by]:
            running.slack.click(*button(dms[user], 0, 4), user=user, channel=f"D{user}", message_ts="111.222")
            running.slack.click(*button(dms[user], 1, 2), user=user, channel=f"D{user}", message_ts="111.222")
            running.settle()
            answered_by.append(user)
    secret = secret_of(running.settings)
    round_id = latest_round_id(running)
    key_of = {respondent_key(secret, round_id, user): user for user in ZONES}
    on_disk = list(dict.fromkeys(key_of[key] for key in answer_keys_on_disk(running)))
    assert on_disk == answered_by  # the premise: Sydney's answers first, by place on disk

    world.turn_at(local(NY, wednesday + timedelta(days=4), 12))  # closed, and sealed by the clock's next run
    keys = answer_keys_on_disk(running)
    assert keys == sorted(keys) and len(keys) == 8
    with running.crossfeed.sessions() as session:
        assert session.get(PulseRound, round_id).answers_sealed
        if session.get_bind().dialect.name == "postgresql":
            assert session.scalar(text("SELECT count(DISTINCT xmin::text) FROM pulse_answers WHERE round_id = :r"),
                                  {"r": round_id}) == 1
            assert session.scalar(text("SELECT count(*) FROM pulse_answers a JOIN outbox o ON o.xmin = a.xmin")) == 0
    # The answers themselves are unchanged.
    reply = running.slack.command("/pulse", "results", user="UNYC")
    assert "3 of 3 answered" in reply.body and "4.0" in reply.body, reply.body


def latest_round_id(app) -> int:
    with app.crossfeed.sessions() as session:
        return session.scalar(select(PulseRound.id).order_by(PulseRound.opens_at.desc()).limit(1))


def answer_keys_on_disk(app) -> list[str]:
    position = "ctid" if app.crossfeed.engine.dialect.name == "postgresql" else "rowid"
    with app.crossfeed.sessions() as session:
        return list(session.scalars(text(f"SELECT respondent FROM pulse_answers ORDER BY {position}")))
