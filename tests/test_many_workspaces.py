"""Two workspaces installed side by side into one deployment (OAuth), with the same user ids in each: commands,
Home, a pulse and a digest through the clock, and the CSV export each see only their own workspace's data, and
every Slack call speaks with the token of the workspace it is for."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from bot.export import export_csvs
from storage import teams as store
from storage.installations import INSTALLATION_METADATA, INSTALLATIONS_TABLE
from tests.clock_kit import TurnedClock
from tests.helpers import OAUTH, install

# Tuesday 1 December 2026, 10:00 in New York: both workspaces install and rate a lead (ISO week 2026-W49).
INSTALLED = datetime.fromisoformat("2026-12-01T15:00:00+00:00")
# Wednesday 2 December, 10:00 in New York: the default pulse opening.
PULSE = datetime.fromisoformat("2026-12-02T15:00:00+00:00")
# Monday 7 December, 09:00 in New York: the digest of 2026-W49 is due.
DIGEST_DUE = datetime.fromisoformat("2026-12-07T14:00:00+00:00")
SECRETS = {"T2": "TWO-SECRET", "T3": "THREE-SECRET"}
PEOPLE = ["U1", "U2", "U3", "UM1"]  # the same ids in both workspaces: a Slack user id is only unique in one
THRESHOLDS = {"T2": 4, "T3": 6}  # each workspace's anonymity threshold, which its pulse prompts state


def seed(app, team_id: str) -> None:
    with app.crossfeed.transaction() as session:
        config = store.workspace_config(session=session, team_id=team_id)
        config.timezone = "America/New_York"
        config.digest_channels = [f"C_DIGEST_{team_id}"]
        config.anonymity_threshold = config.comment_threshold = THRESHOLDS[team_id]
        store.put_members(session=session, team_id=team_id, user_ids=["U1", "U2", "U3"], side="sales",
                          origin="explicit")
        store.put_members(session=session, team_id=team_id, user_ids=["UM1"], side="marketing", origin="explicit")
        store.add_admins(session=session, team_id=team_id, user_ids=["UM1"], added_by=None)
    reply = app.slack.command("/leadfeedback", f"{SECRETS[team_id]} 2 no-budget", user="U1", team=team_id)
    assert reply.status == 200


@pytest.fixture
def app(start_app):
    with freeze_time(INSTALLED):
        running = start_app(**OAUTH)
        for team_id in SECRETS:
            assert install(running, team_id).status == 200
            seed(running, team_id)
        running.settle()
    return running


def calls_with(app, team_id: str) -> list:
    return [call for call in app.fake.calls if call.auth == f"Bearer xoxb-{team_id}"]


def assert_nothing_crossed(app) -> None:
    """No call made with one workspace's token carries the other's data; none is made without a token."""
    for team_id in SECRETS:
        other = next(s for t, s in SECRETS.items() if t != team_id)
        said = json.dumps([call.params for call in calls_with(app, team_id)])
        assert other not in said, f"{other} reached workspace {team_id}"
    assert all(call.auth for call in app.fake.calls if call.method not in ("response_url", "upload")), \
        [c.method for c in app.fake.calls if not c.auth]


def test_commands_and_home_see_only_their_own_workspace(app):
    with freeze_time(DIGEST_DUE):  # the week of the ratings is complete: /leadfeedback stats counts it
        stats = {team: app.slack.command("/leadfeedback", "stats", user="UM1", team=team).body for team in SECRETS}
        mine = {team: app.slack.command("/leadfeedback", "mine", user="U1", team=team).body for team in SECRETS}
        for team in SECRETS:
            app.slack.post(json.dumps({
                "type": "event_callback", "team_id": team, "api_app_id": "A1", "event_id": f"Ev{time.time_ns()}",
                "event_time": 1, "event": {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"},
                "authorizations": [{"team_id": team, "user_id": "UBOT", "is_bot": True}]}),
                content_type="application/json")
        app.settle()

    for team, secret in SECRETS.items():
        other = next(s for t, s in SECRETS.items() if t != team)
        assert "1 rating," in json.loads(stats[team])["text"]
        assert secret in mine[team] and other not in mine[team]
        home = [c for c in calls_with(app, team) if c.method == "views.publish"][-1]  # the Home U1 opened
        assert secret in json.dumps(home.params["view"])
    assert_nothing_crossed(app)


def test_the_pulse_and_the_digest_reach_each_workspace_from_its_own_install_through_the_clock(app):
    with freeze_time(INSTALLED), app.crossfeed.transaction() as session:
        # Data of a workspace no installation speaks for (e.g. kept from a single-token deployment): skipped.
        # T1 sorts first: the jobs go on to the installed workspaces after it.
        config = store.workspace_config(session=session, team_id="T1")
        config.digest_channels = ["C_NOT_INSTALLED"]
        store.put_members(session=session, team_id="T1", user_ids=["UNOTINSTALLED"], side="sales",
                          origin="explicit")
    with freeze_time(PULSE - timedelta(minutes=5)) as frozen:
        clock = TurnedClock(app.settings)  # a clock process of its own, reading the installations from the database
        try:
            frozen.move_to(PULSE)
            clock.turn()
            # Both rounds' prompts are claimed, and composed, together: each still says its own workspace's.
            prompt_calls = {team: [c for c in calls_with(app, team)
                                   if c.method == "chat.postMessage" and "pulse" in c.params["text"].casefold()]
                            for team in SECRETS}
            prompts = {team: sorted(c.params["channel"] for c in calls) for team, calls in prompt_calls.items()}
            frozen.move_to(DIGEST_DUE)
            clock.turn()
        finally:
            clock.stop()

    assert prompts == {"T2": PEOPLE, "T3": PEOPLE}
    for team, calls in prompt_calls.items():
        assert all(f"at least {THRESHOLDS[team]} people" in c.text_everywhere() for c in calls), team
    said = json.dumps([c.params for c in app.fake.calls])
    assert "C_NOT_INSTALLED" not in said and "UNOTINSTALLED" not in said
    for team in SECRETS:
        digests = [c for c in app.fake.calls_to("chat.postMessage", succeeded=True)
                   if c.params["channel"].startswith("C_DIGEST")]
        [digest] = [c for c in digests if c.params["channel"] == f"C_DIGEST_{team}"]
        assert digest.auth == f"Bearer xoxb-{team}" and "2026-W49" in digest.params["text"]
    assert_nothing_crossed(app)


def test_the_csv_export_of_each_workspace_holds_only_its_own_rows(app):
    with freeze_time(INSTALLED):
        reply = app.slack.command("/alignment", "export 4", user="UM1", team="T3")
        app.settle()
        with app.crossfeed.sessions() as session:
            files = {team: export_csvs(session=session, team_id=team, now=INSTALLED, weeks=4) for team in SECRETS}

    assert "Preparing the export" in reply.body
    uploads = app.fake.calls_to("files.getUploadURLExternal")
    assert len(uploads) == 6 and {c.auth for c in uploads} == {"Bearer xoxb-T3"}
    [complete] = app.fake.calls_to("files.completeUploadExternal")
    assert complete.auth == "Bearer xoxb-T3"
    assert "THREE-SECRET" in files["T3"]["lead_ratings.csv"] and "TWO-SECRET" not in json.dumps(files["T3"])
    assert "TWO-SECRET" in files["T2"]["lead_ratings.csv"] and "THREE-SECRET" not in json.dumps(files["T2"])
    assert_nothing_crossed(app)


def test_forgetting_the_installer_removes_their_id_from_that_workspaces_installation_only(app):
    """The installation slack-sdk stores names who installed: forgetting them in one workspace takes their id
    out of its installation (the bot token stays, and the app goes on working there), not out of another's."""
    installations = INSTALLATION_METADATA.tables[INSTALLATIONS_TABLE]

    def installers() -> dict[str, set[str]]:
        with app.crossfeed.engine.connect() as connection:
            rows = connection.execute(select(installations.c.team_id, installations.c.user_id)).all()
        return {team: {user for t, user in rows if t == team} for team in SECRETS}

    assert installers() == {"T2": {"UINSTALLER"}, "T3": {"UINSTALLER"}}
    with freeze_time(INSTALLED):
        asked = app.slack.command("/alignment", "forget <@UINSTALLER>", user="UM1", team="T2")
        assert "Delete what Crossfeed holds about <@UINSTALLER>?" in asked.body
        app.slack.click("alignment.forget_confirm", "UINSTALLER", user="UM1", team="T2")
        app.settle()
        [done] = app.fake.calls_to("response_url")[-1:]
        still_working = app.slack.command("/leadfeedback", "T2-AFTER 4", user="U2", team="T2")
        app.settle()

    assert "1 installation records naming them as the installer" in done.params["text"]
    assert installers() == {"T2": {""}, "T3": {"UINSTALLER"}}
    assert still_working.status == 200 and "T2-AFTER" in still_working.body
