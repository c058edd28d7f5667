"""When pulse rounds open: local time, DST, cadence, missed runs, racing clocks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.pulse import open_due_round, scheduled_round
from storage.models import PulseParticipation, PulseRound, WorkspaceConfig
from tests.helpers import OPENING, make_teams, open_round, prompts


def config(**values) -> WorkspaceConfig:
    defaults = dict(team_id="T1", timezone="America/New_York", pulse_cadence="weekly", pulse_day="wed",
                    pulse_time="10:00", pulse_open_hours=72, pulse_reminder_hours=24)
    return WorkspaceConfig(**{**defaults, **values})


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text + "+00:00")


@pytest.mark.parametrize("now, opens_at", [
    ("2026-11-25T12:00", "2026-11-25T15:00"),  # EST: 10:00 local is 15:00 UTC
    ("2026-10-28T12:00", "2026-10-28T14:00"),  # EDT, the week before the change: 14:00 UTC
    ("2026-11-04T12:00", "2026-11-04T15:00"),  # the week after US clocks went back on 1 November
    ("2026-03-11T12:00", "2026-03-11T14:00"),  # the week after US clocks went forward on 8 March
])
def test_rounds_open_at_ten_local_across_dst(now, opens_at):
    schedule = scheduled_round(config(), utc(now))

    assert schedule.opens_at == utc(opens_at)
    assert schedule.closes_at - schedule.opens_at == timedelta(hours=72)
    assert schedule.remind_at - schedule.opens_at == timedelta(hours=24)


def test_the_period_is_the_iso_week_in_the_workspace_time_zone():
    # Sunday 23:30 in New York is already Monday in UTC: still the old week locally.
    assert scheduled_round(config(), utc("2026-11-30T04:30")).period == "2026-W48"
    assert scheduled_round(config(), utc("2026-11-30T05:30")).period == "2026-W49"


def test_every_two_weeks_skips_alternate_weeks():
    weeks = [scheduled_round(config(pulse_cadence="biweekly"), utc("2026-11-25T12:00") + timedelta(weeks=n))
             for n in range(4)]
    assert [w is not None for w in weeks].count(True) == 2
    assert (weeks[0] is None) != (weeks[1] is None)


def test_nothing_opens_a_minute_early_and_it_opens_on_time(crossfeed, fake_slack):
    make_teams(crossfeed, sales=["U1"], marketing=["U2"])

    assert open_round(crossfeed, OPENING - timedelta(minutes=1)).startswith("pulse: 0 round(s)")
    assert open_round(crossfeed, OPENING).startswith("pulse: 1 round(s) opened, 2 people asked")
    assert open_round(crossfeed, OPENING + timedelta(minutes=1)).startswith("pulse: 0 round(s)")


def test_a_round_missed_while_the_clock_was_down_opens_once_late(crossfeed, fake_slack):
    make_teams(crossfeed, sales=["U1"], marketing=["U2"])

    assert "1 round(s) opened" in open_round(crossfeed, OPENING + timedelta(hours=20))
    assert "0 round(s) opened" in open_round(crossfeed, OPENING + timedelta(hours=21))


def test_a_round_is_not_opened_after_it_would_have_closed(crossfeed, fake_slack):
    make_teams(crossfeed, sales=["U1"], marketing=["U2"])

    assert "0 round(s) opened" in open_round(crossfeed, OPENING + timedelta(hours=73))


def test_two_clocks_racing_open_one_round_and_enrol_everyone_once(crossfeed, fake_slack, settings):
    from bot.container import Crossfeed

    make_teams(crossfeed, sales=[f"US{i}" for i in range(30)], marketing=[f"UM{i}" for i in range(20)])
    other_clock = Crossfeed.start(settings)

    def tick(runtime):
        # freezegun is not thread-safe: the time is passed in instead.
        with runtime.transaction() as session:
            return open_due_round(session=session, team_id="T1", now=OPENING + timedelta(seconds=5))

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(tick, [crossfeed, other_clock, crossfeed, other_clock]))
    finally:
        other_clock.close()

    assert sum(1 for r in results if r) == 1
    with crossfeed.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PulseRound)) == 1
        assert session.scalar(select(func.count()).select_from(PulseParticipation)) == 50


def test_a_clock_restarted_after_downtime_opens_the_missed_round_and_posts_the_missed_digest_once(
        crossfeed, fake_slack, settings):
    from freezegun import freeze_time

    from tests.clock_kit import TurnedClock

    def after_a_restart(frozen, *, turns: int) -> None:
        """A new clock process (its jobs in memory, nothing kept from the last one), turned each half hour."""
        clock = TurnedClock(settings)
        try:
            for _ in range(turns):
                frozen.tick(timedelta(minutes=30))
                clock.turn()
                crossfeed.wait_idle()
        finally:
            clock.stop()

    def digests() -> list[str]:
        return [c.params["channel"] for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "CLEAD"]

    def rounds() -> int:
        with crossfeed.sessions() as session:
            return session.scalar(select(func.count()).select_from(PulseRound))

    with freeze_time(OPENING - timedelta(days=2)) as frozen:  # Monday of 2026-W48, in New York
        make_teams(crossfeed, sales=["U1"], marketing=["U2"], digest_channels=["CLEAD"])
        after_a_restart(frozen, turns=2)
        assert rounds() == 0

        frozen.move_to(OPENING + timedelta(hours=20))  # down through Wednesday 10:00, the opening
        after_a_restart(frozen, turns=2)
        assert rounds() == 1 and sorted(prompts(fake_slack)) == ["U1", "U2"]
        after_a_restart(frozen, turns=2)
        assert rounds() == 1

        frozen.move_to(datetime.fromisoformat("2026-11-30T20:00:00+00:00"))  # down through Monday 09:00
        after_a_restart(frozen, turns=2)
        assert digests() == ["CLEAD"]
        after_a_restart(frozen, turns=2)

    assert digests() == ["CLEAD"], "last week's digest, posted once, late"
    # One prompt each, and no reminder: the round closed on Saturday while the clock was down.
    assert sorted(c.params["channel"] for c in fake_slack.calls_to("chat.postMessage")) == ["CLEAD", "U1", "U2"]
