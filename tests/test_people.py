"""People's zones and time off: `/pulse away` and `/pulse back`, the user_change and user_status_changed events,
users.info read by the clock, Slack statuses that say someone is away, and Home's line for them."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from bot.people import AWAY_EMOJI, PersonTime, away_by_status, people_times
from schedules import jobs
from storage.models import Person
from tests.clock_kit import TurnedClock
from tests.helpers import TEAM, make_teams, outbox
from tests.test_home import open_home, published
from tests.test_manifest_and_home import manifest

NY = ZoneInfo("America/New_York")
# Thursday 3 December 2026, 07:00 in New York.
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
AWAY_TEXT = ("You're away until Thu 24 Dec: no pulse prompts or reminders until then. `/pulse back` when you "
             "return.")


def people(crossfeed) -> dict[str, Person]:
    with crossfeed.sessions() as session:
        return {row.user_id: row for row in session.scalars(select(Person))}


def pulse(running, text: str, *, user: str = "U1", at: datetime = NOW):
    """`/pulse TEXT` typed by `user` at `at`; its work after the answer is done when this returns."""
    with freeze_time(at):
        reply = running.slack.command("/pulse", text, user=user)
        running.settle()
    assert reply.status == 200
    return reply


def user_event(slack, user: dict, *, kind: str = "user_change", event_id: str | None = None,
               retry: int | None = None):
    """A signed Events API request, as Slack sends a profile change (with the whole user object)."""
    event = {"type": "event_callback", "team_id": TEAM, "api_app_id": "A1",
             "event_id": event_id or f"Ev{time.time_ns()}", "event_time": 1,
             "event": {"type": kind, "user": user, "cache_ts": 1, "event_ts": "1.1"},
             "authorizations": [{"team_id": TEAM, "user_id": "UBOT", "is_bot": True}]}
    headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
    return slack.post(json.dumps(event), content_type="application/json", headers=headers)


def home_texts(fake, user: str) -> list[str]:
    """Every Home view published for `user`, as text."""
    return [json.dumps(call.view) for call in fake.calls_to("views.publish") if call.params["user_id"] == user]


# --- /pulse away and /pulse back ---------------------------------------------------------------------------------


def test_away_reads_every_form_of_date_and_keeps_it_in_the_persons_zone(running):
    make_teams(running.crossfeed, sales=["U1"], marketing=[])
    eve = date(2026, 12, 24)
    forms = {  # typed on Thursday 3 Dec 2026 (New York): the last day away
        "until 2026-12-24": eve, "2026-12-24": eve, "Dec 24": eve, "until 24 Dec": eve, "December 24": eve,
        "until December 24th": eve, "24 december, 2026": eve,
        "tomorrow": date(2026, 12, 4), "friday": date(2026, 12, 4), "Thursday": date(2026, 12, 10),
        "until Tue": date(2026, 12, 8), "Dec 3": date(2026, 12, 3), "Nov 30": date(2027, 11, 30),
        "Jan 5": date(2027, 1, 5),
    }
    for text, expected in forms.items():
        reply = pulse(running, f"away {text}")
        assert people(running.crossfeed)["U1"].away_until == expected, text
        assert reply.json["response_type"] == "ephemeral"

    assert "You're away until Tue 5 Jan 2027:" in reply.json["text"], "another year's date says its year"
    assert pulse(running, "away until December 24").json["text"] == AWAY_TEXT


def test_away_dates_are_read_in_the_persons_own_zone_and_end_at_their_midnight(running, slack):
    make_teams(running.crossfeed, sales=["U1", "U2"], marketing=[])
    # U2 is in Auckland (UTC+13 in December): at 12:00 UTC on Thursday it is already Friday 01:00 there.
    user_event(slack, running.fake.set_user("U2", tz="Pacific/Auckland"))

    pulse(running, "away tomorrow", user="U1")
    pulse(running, "away tomorrow", user="U2")

    rows = people(running.crossfeed)
    assert rows["U1"].away_until == date(2026, 12, 4) and rows["U2"].away_until == date(2026, 12, 5)
    with running.crossfeed.sessions() as session:
        times = people_times(session=session, team_id=TEAM, user_ids=["U1", "U2"], default_zone=NY)
    auckland_midnight = datetime(2026, 12, 5, 11, 0, tzinfo=UTC)  # Sunday 6 Dec 00:00 in Auckland
    assert times["U2"].is_away(auckland_midnight - timedelta(seconds=1))
    assert not times["U2"].is_away(auckland_midnight)
    new_york_midnight = datetime(2026, 12, 5, 5, 0, tzinfo=UTC)  # Saturday 5 Dec 00:00 in New York
    assert times["U1"].is_away(new_york_midnight - timedelta(seconds=1))
    assert not times["U1"].is_away(new_york_midnight)


@pytest.mark.parametrize(("text", "problem"), [
    ("away", "Say until when you're away"),
    ("away until", "Say until when you're away"),
    ("away someday", "“someday” isn't a date I can read."),
    ("away Feb 30", "“feb 30” isn't a date I can read."),
    ("away 2026-13-01", "“2026-13-01” isn't a date I can read."),
    ("away &lt;b&gt; &amp;co", "“&lt;b&gt; &amp;co” isn't a date I can read."),
    ("away until 2026-12-02", "Wed 2 Dec 2026 is in the past"),
    ("away 2027-12-04", "Sat 4 Dec 2027 is more than a year ahead"),
])
def test_an_unusable_date_is_refused_with_examples_and_nothing_is_stored(running, text, problem):
    reply = pulse(running, text)

    assert reply.json["response_type"] == "ephemeral"
    assert problem in reply.json["text"]
    assert "`/pulse away until 2026-12-24`, `/pulse away Dec 24`" in json.dumps(reply.json["blocks"])
    assert people(running.crossfeed) == {}
    assert outbox(running.crossfeed) == [], "no Home refresh for nothing done"


def test_the_last_day_a_year_ahead_is_allowed(running):
    pulse(running, "away 2027-12-03")

    assert people(running.crossfeed)["U1"].away_until == date(2027, 12, 3)


def test_back_ends_declared_time_off_and_says_so_also_when_not_away(running):
    make_teams(running.crossfeed, sales=["U1"], marketing=[])

    first = pulse(running, "back")
    assert first.json["text"] == "You weren't marked away: pulse prompts and reminders reach you as usual."
    assert people(running.crossfeed) == {}, "nothing to keep for someone who wasn't away"

    pulse(running, "away Dec 24")
    back = pulse(running, "back", at=NOW + timedelta(days=2))
    assert back.json["text"] == "Welcome back: pulse prompts and reminders reach you again."
    assert people(running.crossfeed)["U1"].away_until is None

    again = pulse(running, "BACK", at=NOW + timedelta(days=2))
    assert again.json["text"].startswith("You weren't marked away")

    pulse(running, "away Dec 4")
    after_it_ended = pulse(running, "back", at=NOW + timedelta(days=3))
    assert after_it_ended.json["text"].startswith("You weren't marked away"), "time off that has passed is over"


def test_back_says_when_a_slack_status_still_says_away(running, slack):
    make_teams(running.crossfeed, sales=["U1"], marketing=[])
    user_event(slack, running.fake.set_user("U1", status_text="Vacationing <!channel>", status_emoji=":palm_tree:"),
               kind="user_status_changed")
    pulse(running, "away Dec 24")

    back = pulse(running, "back")

    assert back.json["text"].startswith("Welcome back")
    assert "Your Slack status still says you're away (:palm_tree: Vacationing &lt;!channel&gt;)" in back.json["text"]
    assert "<!channel>" not in back.body


def test_away_and_back_refresh_the_persons_home(running):
    make_teams(running.crossfeed, sales=["U1"], marketing=[])

    pulse(running, "away until December 24")
    [away_home] = home_texts(running.fake, "U1")
    assert "You're away until Thu 24 Dec*: no pulse prompts or reminders until then." in away_home

    pulse(running, "back")
    [_, back_home] = home_texts(running.fake, "U1")
    assert "away" not in back_home.casefold()


def test_help_and_unknown_words_list_the_time_off_commands(running):
    help_reply = pulse(running, "help")
    unknown = pulse(running, "holiday next week")

    for reply in (help_reply, unknown):
        shown = json.dumps(reply.json["blocks"])
        assert "/pulse away until 2026-12-24" in shown and "/pulse back" in shown and "/pulse results" in shown
    assert "That isn't a `/pulse` command I know." in unknown.json["text"]
    assert "isn't a" not in help_reply.json["text"]


# --- Slack statuses that say someone is away -----------------------------------------------------------------


def test_which_statuses_say_away():
    assert away_by_status("Vacationing", ":palm_tree:")
    assert away_by_status("Vacationing", None) and away_by_status(None, ":palm_tree:")
    for text in ("OOO till Monday", "Out of office", "out-of-the-office", "On vacation", "Holiday!", "PTO",
                 "Out sick", "parental leave"):
        assert away_by_status(text, None), text
    for emoji in AWAY_EMOJI:
        assert away_by_status("", emoji), emoji
    for text, emoji in (("In a meeting", ":spiral_calendar_pad:"), ("Commuting", ":bus:"), ("Zoom", None),
                        ("Booked", None), ("", "")):
        assert not away_by_status(text, emoji), text


def test_a_status_counts_until_it_expires():
    expires = datetime(2026, 12, 24, 17, 0, tzinfo=UTC)
    row = Person(team_id=TEAM, user_id="U1", status_text="Vacationing", status_emoji=":palm_tree:",
                 status_expires_at=expires)

    vacationing = PersonTime.of(row, NY)
    assert vacationing.is_away(expires - timedelta(seconds=1))
    assert not vacationing.is_away(expires)
    forever = PersonTime.of(Person(team_id=TEAM, user_id="U1", status_text="OOO"), NY)
    assert forever.is_away(expires + timedelta(days=400))
    assert not PersonTime.of(Person(team_id=TEAM, user_id="U1", status_text="Lunch"), NY).is_away(NOW)
    assert not PersonTime.of(None, NY).is_away(NOW)


# --- the user_change and user_status_changed events ----------------------------------------------------------


def test_the_manifest_subscribes_to_both_events():
    events = manifest()["settings"]["event_subscriptions"]["bot_events"]
    assert {"user_change", "user_status_changed"} <= set(events)
    assert "users:read" in manifest()["oauth_config"]["scopes"]["bot"]


def test_a_team_members_profile_change_is_kept_and_a_retry_is_harmless(running, slack):
    make_teams(running.crossfeed, sales=["U1"], marketing=[])
    expires = int(datetime(2026, 12, 24, 17, 0, tzinfo=UTC).timestamp())
    user = running.fake.set_user("U1", tz="Europe/Paris", status_text="Vacationing", status_emoji=":palm_tree:",
                                 status_expiration=expires)

    assert user_event(slack, user, event_id="Ev1").status == 200
    assert user_event(slack, user, event_id="Ev1", retry=1).status == 200

    [row] = people(running.crossfeed).values()
    assert (row.user_id, row.timezone, row.status_text, row.status_emoji) == (
        "U1", "Europe/Paris", "Vacationing", ":palm_tree:")
    assert row.status_expires_at == datetime(2026, 12, 24, 17, 0, tzinfo=UTC)
    assert row.profile_checked_at is not None and row.away_until is None

    cleared = running.fake.set_user("U1", tz="Europe/Paris")  # status cleared: no text, no emoji, expiration 0
    user_event(slack, cleared, kind="user_status_changed")
    row = people(running.crossfeed)["U1"]
    assert (row.status_text, row.status_emoji, row.status_expires_at) == (None, None, None)


def test_someone_in_no_team_is_ignored_unless_crossfeed_already_keeps_their_time(running, slack):
    make_teams(running.crossfeed, sales=["U1"], marketing=[])

    user_event(slack, running.fake.set_user("U7", tz="Asia/Tokyo"))
    assert people(running.crossfeed) == {}, "no data on the whole workspace"

    pulse(running, "away Dec 24", user="U8")  # not in a team, but they told Crossfeed they're away
    user_event(slack, running.fake.set_user("U8", tz="Asia/Tokyo", status_text="OOO"), kind="user_status_changed")
    row = people(running.crossfeed)["U8"]
    assert (row.timezone, row.status_text, row.away_until) == ("Asia/Tokyo", "OOO", date(2026, 12, 24))


def test_an_unreadable_or_unknown_zone_in_an_event_is_no_zone(running, slack):
    make_teams(running.crossfeed, sales=["U1", "U2"], marketing=[])

    user_event(slack, {"id": "U1", "tz": "Mars/Olympus_Mons", "profile": {"status_expiration": "soon"}})
    assert user_event(slack, {"name": "no id"}).status == 200
    assert user_event(slack, "U2").status == 200

    rows = people(running.crossfeed)
    assert list(rows) == ["U1"] and rows["U1"].timezone is None and rows["U1"].status_expires_at is None


def test_a_status_event_shows_on_home_until_it_expires(running, slack):
    make_teams(running.crossfeed, sales=["U1"], marketing=[])
    expires = datetime.now(UTC) + timedelta(days=3)
    user_event(slack, running.fake.set_user("U1", status_text="Out sick", status_emoji=":face_with_thermometer:",
                                            status_expiration=int(expires.timestamp())),
               kind="user_status_changed")

    open_home(slack)
    [view] = published(running.fake, "U1")
    assert "Your Slack status says you're away* (:face_with_thermometer: Out sick, until <!date^" in json.dumps(view)


# --- users.info, read by the clock ---------------------------------------------------------------------------


@pytest.fixture
def clock(settings):
    clocks = []

    def start():
        clocks.append(TurnedClock(settings))
        return clocks[-1]

    yield start
    for started in clocks:
        started.stop()


def asked_about(fake) -> list[str]:
    return sorted(call.params["user"] for call in fake.calls_to("users.info"))


def test_the_clock_reads_members_zones_and_statuses_once_a_week_and_bad_users_never_break_the_rest(
        crossfeed, fake_slack, clock):
    make_teams(crossfeed, sales=["U1", "U2"], marketing=["U3", "U4"])
    expires = int(datetime(2026, 12, 24, 17, 0, tzinfo=UTC).timestamp())
    fake_slack.set_user("U1", tz="Europe/Paris", status_text="Vacationing", status_emoji=":palm_tree:",
                        status_expiration=expires)
    fake_slack.set_user("U2", missing=True)  # user_not_found
    fake_slack.set_user("U3", tz="Asia/Tokyo", deleted=True)
    with crossfeed.transaction() as session:  # in no team: Slack isn't asked about them
        session.add(Person(team_id=TEAM, user_id="U9", away_until=date(2026, 12, 24)))
    fake_slack.script.fail("users.info", times=1, status=429, retry_after=0)  # waited out by the client

    with freeze_time(NOW) as frozen:
        turned = clock()
        frozen.tick(timedelta(minutes=1))
        turned.turn()
        assert asked_about(fake_slack) == ["U1", "U1", "U2", "U3", "U4"]

        rows = people(crossfeed)
        assert (rows["U1"].timezone, rows["U1"].status_text, rows["U1"].status_emoji) == (
            "Europe/Paris", "Vacationing", ":palm_tree:")
        assert rows["U1"].status_expires_at == datetime(2026, 12, 24, 17, 0, tzinfo=UTC)
        assert rows["U4"].timezone == "America/New_York" and rows["U4"].status_text is None
        assert rows["U2"].timezone is None and rows["U3"].timezone is None, "checked, with no zone"
        assert {user: row.profile_checked_at for user, row in rows.items()} == {
            "U1": NOW + timedelta(minutes=1), "U2": NOW + timedelta(minutes=1), "U3": NOW + timedelta(minutes=1),
            "U4": NOW + timedelta(minutes=1), "U9": None}
        with crossfeed.sessions() as session:
            times = people_times(session=session, team_id=TEAM, user_ids=["U1", "U4"], default_zone=NY)
        assert times["U1"].zone == ZoneInfo("Europe/Paris") and times["U1"].is_away(NOW)
        assert not times["U1"].is_away(datetime(2026, 12, 24, 17, 0, tzinfo=UTC)), "the status expired"
        assert not times["U4"].is_away(NOW)

        fake_slack.reset()
        for _ in range(3):  # checked this week: not asked again each minute
            frozen.tick(timedelta(minutes=1))
            turned.turn()
        assert asked_about(fake_slack) == []

        frozen.tick(timedelta(days=7))
        fake_slack.set_user("U1", tz="Europe/Paris")  # back from holiday
        turned.turn()
        assert asked_about(fake_slack) == ["U1", "U2", "U3", "U4"], "a week later, everyone again"
        assert people(crossfeed)["U1"].status_text is None


def test_a_rate_limit_the_client_cant_wait_out_leaves_the_rest_for_the_next_minute(crossfeed, fake_slack, clock):
    make_teams(crossfeed, sales=["U1", "U2"], marketing=["U3"])
    fake_slack.script.fail("users.info", times=3, status=429, retry_after=0)  # 1 try + 2 retries, all refused

    with freeze_time(NOW) as frozen:
        turned = clock()
        frozen.tick(timedelta(minutes=1))
        turned.turn()
        assert len(fake_slack.calls_to("users.info")) == 3 and people(crossfeed) == {}, "U1's tries, then stop"

        frozen.tick(timedelta(minutes=1))
        turned.turn()
        assert sorted(people(crossfeed)) == ["U1", "U2", "U3"]


def test_slack_failing_never_stops_the_pulse(crossfeed, fake_slack, clock):
    make_teams(crossfeed, sales=["U1"], marketing=["U2"])
    fake_slack.script.fail("users.info", times=100, status=200, error="internal_error")
    opening = datetime.fromisoformat("2026-12-02T15:00:00+00:00")  # Wednesday 10:00 in New York

    with freeze_time(opening - timedelta(minutes=1)) as frozen:
        turned = clock()
        frozen.tick(timedelta(minutes=1))
        turned.turn()

    assert people(crossfeed) == {}, "not recorded: asked again next minute"
    assert {call.params["channel"] for call in fake_slack.calls_to("chat.postMessage")} == {"U1", "U2"}


def test_at_most_50_people_are_read_per_workspace_each_minute(crossfeed, fake_slack, clock):
    sales = [f"US{i:03d}" for i in range(60)]
    make_teams(crossfeed, sales=sales, marketing=[])

    with freeze_time(NOW) as frozen:
        turned = clock()
        frozen.tick(timedelta(minutes=1))
        turned.turn()
        assert len(fake_slack.calls_to("users.info")) == 50
        frozen.tick(timedelta(minutes=1))
        turned.turn()

    assert asked_about(fake_slack) == sales
    assert len(people(crossfeed)) == 60


def test_reading_profiles_failing_or_out_of_time_never_holds_up_the_pulse(crossfeed, fake_slack, clock, monkeypatch,
                                                                          caplog):
    make_teams(crossfeed, sales=["U1"], marketing=["U2"])
    opening = datetime.fromisoformat("2026-12-02T15:00:00+00:00")  # Wednesday 10:00 in New York

    def broken(**kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(jobs, "refresh_profiles", broken)
    with freeze_time(opening - timedelta(minutes=1)) as frozen:
        turned = clock()
        frozen.tick(timedelta(minutes=1))
        turned.turn()
    assert "could not read the people's profiles of workspace T1" in caplog.text
    assert {call.params["channel"] for call in fake_slack.calls_to("chat.postMessage")} == {"U1", "U2"}

    monkeypatch.undo()
    monkeypatch.setattr(jobs, "PROFILE_READING_BUDGET", -1)  # spent before the first workspace
    with freeze_time(opening + timedelta(minutes=5)):
        turned.turn()
    assert fake_slack.calls_to("users.info") == [] and people(crossfeed) == {}
