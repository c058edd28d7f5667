"""Admins' knobs: when the pulse reminder goes, how long asks stay open, weeks with no pulse, and the targets the
digest and leaders' Home read figures against. Each changes behaviour without a restart.

Everything a person does is a signed request through the running app; scheduled behaviour is reached through
the clock's own job table (TurnedClock) under freezegun."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from bot.blocks.ids import SetupIds
from storage import teams as team_store
from storage.models import PulseRound
from tests.clock_kit import Clock, TurnedClock
from tests.test_ask_loop import ask
from tests.test_home import open_home, published
from tests.test_messaging import put_in_teams
from tests.test_setup import open_setup, submitted

NY = ZoneInfo("America/New_York")
# 2026-W48 runs Monday 23 to Sunday 29 November; its round opens Wednesday 25 at 10:00, New York time (the
# default schedule), and its digest is posted Monday 30 at 09:00. 2026-W49 is Monday 30 November to 6 December.
MONDAY = datetime(2026, 11, 23, 8, 0, tzinfo=NY)
OPENING = datetime(2026, 11, 25, 10, 0, tzinfo=NY)
DIGEST_DUE = datetime(2026, 11, 30, 9, 0, tzinfo=NY)
NEXT_OPENING = datetime(2026, 12, 2, 10, 0, tzinfo=NY)
ADMIN, LEADER, LEADERS_CHANNEL = "UADMIN", "ULEAD", "C0LEADERS"
SALES, MARKETING = ("U1", "U2", "U3"), ("UM1", "UM2", "UM3")
PULSE_REMINDER = "Reminder: this week's pulse"


@pytest.fixture
def app(start_app):
    return start_app()


@pytest.fixture
def clock(app):
    """The clock process, started (frozen) on the Monday the workspace is set up; turned by `turn_at`."""
    with freeze_time(MONDAY) as frozen:
        clock = TurnedClock(app.settings)
        try:
            yield Clock(clock, frozen, app)
        finally:
            clock.stop()


@pytest.fixture
def workspace(app, clock):
    """Set up by an admin from Slack on the Monday: the teams, the time zone and the digest channel."""
    put_in_teams(app, sales=SALES, marketing=MARKETING, admin=ADMIN)
    for command in ("timezone America/New_York", f"digest channels <#{LEADERS_CHANNEL}|leaders>"):
        assert app.slack.command("/alignment", command, user=ADMIN).status == 200
    app.settle()
    app.fake.reset()


def save_setup(app, **changes) -> dict:
    """The admin opens `/alignment setup`, changes some fields (by block id) and saves: the reply's JSON."""
    view = open_setup(app, app.slack, user=ADMIN)
    return app.slack.submit(view, submitted(view, **changes), user=ADMIN).json


def config(app):
    with app.crossfeed.sessions() as session:
        return team_store.workspace_config(session=session, team_id="T1")


def posts(app, *, starting: str = "") -> dict[str, list[str]]:
    """channel → the texts of the messages posted there (those starting with `starting`)."""
    sent: dict[str, list[str]] = {}
    for call in app.fake.calls_to("chat.postMessage", succeeded=True):
        if call.params.get("text", "").startswith(starting):
            sent.setdefault(call.params["channel"], []).append(call.params["text"])
    return sent


def pulse_prompts(app) -> list[str]:
    """Who got a pulse prompt (not a reminder)."""
    return sorted(channel for channel, texts in posts(app).items()
                  if any("pulse" in t.casefold() and not t.startswith(PULSE_REMINDER) for t in texts))


def rounds(app) -> list[str]:
    with app.crossfeed.sessions() as session:
        return list(session.scalars(select(PulseRound.period).order_by(PulseRound.period)))


def status(app) -> str:
    """`/alignment status` as a member reads it."""
    reply = app.slack.command("/alignment", "status", user="U1").json
    return "\n".join(field["text"] for block in reply["blocks"] for field in block.get("fields", []))


def said(reply) -> str:
    return reply.json.get("text", "") if reply.body.startswith("{") else reply.body


# --- the pulse reminder --------------------------------------------------------------------------------------


def test_the_pulse_reminder_hours_set_in_setup_move_the_next_rounds_reminders(app, workspace, clock):
    view = open_setup(app, app.slack, user=ADMIN)
    [field] = [b for b in view["blocks"] if b.get("block_id") == SetupIds.PULSE_REMINDER_HOURS]
    assert field["element"]["initial_value"] == "24" and field["element"]["max_value"] == "71"
    for bad, says in (("72", "Remind before the round closes: it stays open 72 hours, so use 1 to 71."),
                      ("0", "Use a whole number of hours"), ("1.5", "Use a whole number of hours")):
        refused = app.slack.submit(view, submitted(view, **{SetupIds.PULSE_REMINDER_HOURS: bad}), user=ADMIN)
        assert refused.json["response_action"] == "errors"
        assert says in refused.json["errors"][SetupIds.PULSE_REMINDER_HOURS]
    assert config(app).pulse_reminder_hours == 24, "nothing stored from a refused form"

    saved = app.slack.submit(view, submitted(view, **{SetupIds.PULSE_REMINDER_HOURS: "6"}), user=ADMIN)
    assert saved.json["response_action"] == "update"
    assert config(app).pulse_reminder_hours == 6
    assert "one reminder 6 h after it opens" in status(app)

    clock.turn_at(OPENING)
    assert pulse_prompts(app) == sorted(SALES + MARKETING)
    clock.turn_at(OPENING + timedelta(hours=5, minutes=59))
    assert posts(app, starting=PULSE_REMINDER) == {}, "not before its time"
    clock.turn_at(OPENING + timedelta(hours=6, minutes=1))
    assert sorted(posts(app, starting=PULSE_REMINDER)) == sorted(SALES + MARKETING), "six hours after, not 24"
    assert open_setup(app, app.slack, user=ADMIN)["blocks"], "the modal opens again with the new value"


# --- how long asks stay open ---------------------------------------------------------------------------------


def test_asks_stay_open_as_long_as_setup_says_unless_the_asker_chooses(app, workspace, clock):
    clock.at(MONDAY + timedelta(hours=2))
    before = ask(app, user="UM1", name="Battlecard", days="")
    assert before.closes_at == before.opened_at + timedelta(days=14), "the default: two weeks"

    for bad in ("0", "91"):
        refused = save_setup(app, **{SetupIds.ASK_OPEN_DAYS: bad})
        assert "from 1 to 90" in refused["errors"][SetupIds.ASK_OPEN_DAYS]
    assert save_setup(app, **{SetupIds.ASK_OPEN_DAYS: "3"})["response_action"] == "update"

    app.fake.reset()
    app.slack.command("/messaging", "ask", user="UM1")
    [opened] = app.fake.wait_for("views.open")
    [days] = [b for b in opened.view["blocks"] if b.get("block_id") == "messaging.days"]
    assert days["element"]["initial_value"] == "3", "the ask form starts from the workspace's setting"

    short = ask(app, user="UM1", name="ROI deck", days="")
    chosen = ask(app, user="UM1", name="Pricing page", days="5")
    assert short.closes_at == short.opened_at + timedelta(days=3)
    assert chosen.closes_at == chosen.opened_at + timedelta(days=5), "the asker's own choice wins"
    assert before.closes_at == before.opened_at + timedelta(days=14), "an ask already open keeps its close"
    assert "open 3 days unless the asker chooses" in status(app)

    app.fake.reset()
    clock.turn_at(short.closes_at + timedelta(minutes=1))
    closed = posts(app).get("UM1", [])
    assert any("“ROI deck” has closed" in text for text in closed), closed
    assert not any("Pricing page" in text or "Battlecard" in text for text in closed)


# --- weeks with no pulse ----------------------------------------------------------------------------------------


def test_an_admin_skips_a_week_from_slack_and_bad_weeks_get_a_friendly_error(app, workspace, clock):
    skipped = app.slack.command("/alignment", "pulse skip 2026-W52", user=ADMIN)
    assert "No pulse in 2026-W52 (Mon 21 Dec – Sun 27 Dec)" in said(skipped)
    again = app.slack.command("/alignment", "pulse skip 2026-w52", user=ADMIN)
    assert "No pulse in 2026-W52" in said(again), "skipping twice is fine"
    app.slack.command("/alignment", "pulse skip 2026W49", user=ADMIN)
    assert config(app).skipped_pulse_weeks == ["2026-W49", "2026-W52"], "sorted, each week once"

    listed = said(app.slack.command("/alignment", "pulse skip", user=ADMIN))
    assert "• 2026-W49 (Mon 30 Nov – Sun 6 Dec)\n• 2026-W52 (Mon 21 Dec – Sun 27 Dec)" in listed
    assert "no pulse in 2026-W49, 2026-W52" in status(app)

    for text, says in (
        ("pulse skip 2026-W40", "2026-W40 (Mon 28 Sep – Sun 4 Oct) is over"),
        ("pulse skip 2026-W60", "2026 has no week 60"),
        ("pulse skip next week", "“next week” isn't a week I can read"),
        ("pulse skip <!channel>", "isn't a week I can read"),
        ("pulse unskip", "Name the week"),
    ):
        reply = said(app.slack.command("/alignment", text, user=ADMIN))
        assert says in reply, (text, reply)
        assert "<!channel>" not in reply
    refused = said(app.slack.command("/alignment", "pulse skip 2026-W50", user="U1"))
    assert "Only Crossfeed admins" in refused
    assert config(app).skipped_pulse_weeks == ["2026-W49", "2026-W52"]

    unskipped = said(app.slack.command("/alignment", "pulse unskip 2026-W49", user=ADMIN))
    assert "The pulse is back on in 2026-W49 (Mon 30 Nov – Sun 6 Dec)" in unskipped
    assert "wasn't skipped" in said(app.slack.command("/alignment", "pulse unskip 2026-W49", user=ADMIN))
    assert config(app).skipped_pulse_weeks == ["2026-W52"]


def test_setup_lists_the_skipped_weeks_and_refuses_one_that_is_not_a_week(app, workspace, clock):
    app.slack.command("/alignment", "pulse skip 2026-W52", user=ADMIN)
    view = open_setup(app, app.slack, user=ADMIN)
    [field] = [b for b in view["blocks"] if b.get("block_id") == SetupIds.SKIPPED_PULSE_WEEKS]
    assert field["element"]["initial_value"] == "2026-W52"

    refused = app.slack.submit(view, submitted(view, **{SetupIds.SKIPPED_PULSE_WEEKS: "2026-W52, 2027-W54"}),
                               user=ADMIN)
    assert "2027 has no week 54" in refused.json["errors"][SetupIds.SKIPPED_PULSE_WEEKS]
    saved = app.slack.submit(view, submitted(view, **{SetupIds.SKIPPED_PULSE_WEEKS: "2027-w01 2026-W53,2026-W52\n"
                                                                                    "2026-W53"}), user=ADMIN)
    assert saved.json["response_action"] == "update"
    assert config(app).skipped_pulse_weeks == ["2026-W52", "2026-W53", "2027-W01"]
    view = open_setup(app, app.slack, user=ADMIN)
    saved = app.slack.submit(view, submitted(view, **{SetupIds.SKIPPED_PULSE_WEEKS: None}), user=ADMIN)
    assert config(app).skipped_pulse_weeks == []


def test_saving_setup_keeps_what_a_command_changed_while_the_modal_was_open(app, workspace, clock):
    app.slack.command("/alignment", "pulse skip 2026-W52", user=ADMIN)
    view = open_setup(app, app.slack, user=ADMIN)  # shows 2026-W52 and the leaders' channel
    # While the modal is open, another admin (or this one) changes both lists by command.
    app.slack.command("/alignment", "pulse skip 2027-W02", user=ADMIN)
    app.slack.command("/alignment", "digest channels <#C0BOARD|board>", user=ADMIN)
    app.settle()

    # The admin replaces 2026-W52 by 2026-W53 in the form and leaves the channels as they were shown.
    saved = app.slack.submit(view, submitted(view, **{SetupIds.SKIPPED_PULSE_WEEKS: "2026-W53"}), user=ADMIN)

    assert saved.json["response_action"] == "update"
    assert config(app).skipped_pulse_weeks == ["2026-W53", "2027-W02"], "their edit, and the command's week"
    assert config(app).digest_channels == ["C0BOARD"], "the command's channel, not the one the modal showed"
    view = open_setup(app, app.slack, user=ADMIN)
    [field] = [b for b in view["blocks"] if b.get("block_id") == SetupIds.SKIPPED_PULSE_WEEKS]
    assert field["element"]["initial_value"] == "2026-W53, 2027-W02"


def test_a_skipped_week_opens_no_round_its_digest_says_why_and_the_next_week_opens(app, workspace, clock):
    assert "No pulse in 2026-W48" in said(app.slack.command("/alignment", "pulse skip 2026-W48", user=ADMIN))
    app.slack.command("/leadfeedback", "ACME-1 4", user="U1")  # something for the digest to say
    app.fake.reset()

    clock.turn_at(OPENING)
    clock.turn_at(OPENING + timedelta(days=1, hours=1))  # past the reminder time too
    assert rounds(app) == [] and posts(app) == {}, "no round, no DM, no reminder"

    clock.turn_at(DIGEST_DUE)
    [digest] = app.fake.calls_to("chat.postMessage", succeeded=True)
    assert digest.params["channel"] == LEADERS_CHANNEL
    text = json.dumps(digest.blocks, ensure_ascii=False)
    assert ":bar_chart: *Pulse*\\nNo pulse this week: an admin skipped it." in text
    assert "No pulse round this week" not in text
    app.fake.reset()
    open_home(app.slack, user=ADMIN)
    [home] = published(app.fake, ADMIN)
    assert "*Pulse: how aligned*\\nNo pulse this week: an admin skipped it." in json.dumps(home["blocks"])

    app.fake.reset()
    clock.turn_at(NEXT_OPENING)
    assert rounds(app) == ["2026-W49"] and pulse_prompts(app) == sorted(SALES + MARKETING), "the next week opens"
    with app.crossfeed.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PulseRound)) == 1


# --- targets ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "says"), [
    ({SetupIds.ALIGNMENT_TARGET: "101"}, "from 0 to 100"),
    ({SetupIds.LEAD_QUALITY_TARGET: "4.25"}, "at most one decimal"),
    ({SetupIds.LEAD_QUALITY_TARGET: "6"}, "from 1 to 5"),
    ({SetupIds.LEAD_QUALITY_TARGET: "120%"}, "like 60%"),
    ({SetupIds.LEAD_QUALITY_TARGET: "<!here>"}, "&lt;!here&gt;"),
])
def test_a_target_that_cannot_be_read_is_refused_on_its_field(app, workspace, clock, typed, says):
    reply = save_setup(app, **typed)

    [(field, message)] = reply["errors"].items()
    assert field == next(iter(typed)) and says in message
    stored = config(app)
    assert (stored.alignment_target, stored.lead_quality_target) == (None, None)


def test_targets_show_in_the_posted_digest_and_on_a_leaders_home(app, workspace, clock):
    assert save_setup(app, leaders=[LEADER], **{SetupIds.ALIGNMENT_TARGET: "70",
                                                SetupIds.LEAD_QUALITY_TARGET: "3.8"})["response_action"] == "update"
    stored = config(app)
    assert (stored.alignment_target, stored.lead_quality_target, stored.lead_quality_target_kind) == (70, 3.8,
                                                                                                    "average")
    assert "*Targets*\nalignment index 70 · lead quality 3.8 average" in status(app)
    for rep, rating in zip(SALES, ("ACME-1 2 no-budget", "ACME-2 3", "ACME-3 4"), strict=True):
        app.slack.command("/leadfeedback", rating, user=rep)
    app.fake.reset()

    clock.turn_at(DIGEST_DUE)  # average 3.0: the index is 100 × (3.0 − 1) / 4 = 50; a third good, a third bad
    [digest] = [c for c in app.fake.calls_to("chat.postMessage", succeeded=True)
                if c.params["channel"] == LEADERS_CHANNEL]
    text = json.dumps(digest.blocks, ensure_ascii=False)
    assert "*Alignment index: 50/100* · target 70: 20 below" in text
    assert "*Average*\\n3.0/5 · target 3.8: 0.8 below" in text
    assert "*Good (4–5) / bad (1–2)*\\n33% / 33%\"" in text, "the share has no target: an average one is set"

    # The target is read when Home is shown: a new one applies to last week's figures at once.
    view = open_setup(app, app.slack, user=ADMIN)
    [field] = [b for b in view["blocks"] if b.get("block_id") == SetupIds.LEAD_QUALITY_TARGET]
    assert field["element"]["initial_value"] == "3.8"
    app.slack.submit(view, submitted(view, **{SetupIds.ALIGNMENT_TARGET: "50", SetupIds.LEAD_QUALITY_TARGET: "30%"}),
                     user=ADMIN)
    assert (config(app).lead_quality_target, config(app).lead_quality_target_kind) == (30, "good")
    assert "alignment index 50 · lead quality 30% good" in status(app)
    app.fake.reset()
    open_home(app.slack, user=LEADER)
    [home] = published(app.fake, LEADER)
    shown = json.dumps(home["blocks"], ensure_ascii=False)
    assert "*Alignment index: 50/100* · target 50: met" in shown
    assert "*Good / bad leads*\\n33% / 33% · target 30%: met, 3 pts above" in shown
    assert "*Average rating*\\n3.0/5\"" in shown

    view = open_setup(app, app.slack, user=ADMIN)
    [field] = [b for b in view["blocks"] if b.get("block_id") == SetupIds.LEAD_QUALITY_TARGET]
    assert field["element"]["initial_value"] == "30%"
    app.slack.submit(view, submitted(view, **{SetupIds.ALIGNMENT_TARGET: None, SetupIds.LEAD_QUALITY_TARGET: ""}),
                     user=ADMIN)
    assert (config(app).alignment_target, config(app).lead_quality_target) == (None, None)
    app.fake.reset()
    open_home(app.slack, user=LEADER)
    [home] = published(app.fake, LEADER)
    assert "target" not in json.dumps(home["blocks"]), "no target: the lines as they were"
