"""An org-wide install (Enterprise Grid) reaches every workspace of the org it was granted: recorded, named, from
auth.teams.list when the install lands, before anyone there sends a request; workspaces added later
(team_access_granted) and removed (team_access_revoked); workspace names kept (installs, team_rename)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from bot import installs
from bot.installs import WorkspaceNotInstalled
from storage.models import OutboxMessage, ReasonCode, Workspace, WorkspaceConfig
from storage.outbox import enqueue, home_refresh
from tests.clock_kit import TurnedClock
from tests.helpers import OAUTH, ROOT, install
from tests.test_enterprise_grid import ORG, org_command
from tests.test_many_workspaces import INSTALLED, PULSE

GRANTED = [("T7", "Seven Sales"), ("T8", "Eight Marketing"), ("T9", "Nine")]


def seed_teams(app, team: str) -> None:
    """The workspace's sales and marketing teams (`U{team}S`, `U{team}M`), as its setup would store them."""
    from storage import teams as store

    with app.crossfeed.transaction() as session:
        store.workspace_config(session=session, team_id=team).timezone = "America/New_York"
        store.put_members(session=session, team_id=team, user_ids=[f"U{team}S"], side="sales", origin="explicit")
        store.put_members(session=session, team_id=team, user_ids=[f"U{team}M"], side="marketing",
                          origin="explicit")


def run_the_clock_at(app, moment) -> None:
    """The clock process, started five minutes before `moment` and turned at it."""
    with freeze_time(moment - timedelta(minutes=5)) as frozen:
        clock = TurnedClock(app.settings)
        try:
            frozen.move_to(moment)
            clock.turn()
        finally:
            clock.stop()
    app.settle()


def pulse_prompts(app) -> set[tuple[str | None, str]]:
    return {(c.auth, c.params["channel"]) for c in app.fake.calls_to("chat.postMessage", succeeded=True)
            if "pulse" in c.params["text"].casefold()}


def workspaces(app) -> dict[str, tuple[str | None, str | None, bool]]:
    """Every workspace Crossfeed knows: (org, name, uninstalled?)."""
    with app.crossfeed.sessions() as session:
        return {w.team_id: (w.enterprise_id, w.name, w.uninstalled_at is not None)
                for w in session.scalars(select(Workspace))}


def uninstalled_at(app, team_id: str):
    with app.crossfeed.sessions() as session:
        return session.get(Workspace, team_id).uninstalled_at


def org_event(app, event: dict, *, retry: int = 0, event_id: str | None = None, bare: bool = False):
    """An Events API request to the org-wide install, signed, as Slack sends it (a retry carries the same event id
    and X-Slack-Retry-Num). `bare`: with the org's id only, no workspace and no `authorizations`, as bolt-python's
    own tests of org apps send the install events (Slack's reference shows both shapes)."""
    body = {"type": "event_callback", "team_id": "T7", "enterprise_id": ORG, "is_enterprise_install": True,
            "api_app_id": "A1", "event_id": event_id or f"Ev{time.time_ns()}", "event_time": int(time.time()),
            "event": event,
            "authorizations": [{"enterprise_id": ORG, "team_id": None, "user_id": "UBOT", "is_bot": True,
                                "is_enterprise_install": True}]}
    if bare:
        for key in ("team_id", "is_enterprise_install", "authorizations"):
            del body[key]
    headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
    reply = app.slack.post(json.dumps(body), content_type="application/json", headers=headers)
    app.settle()
    return reply


@pytest.fixture
def app(start_app, fake_slack, monkeypatch):
    monkeypatch.setattr(installs, "ORG_TEAMS_PAGE", 2)  # three workspaces: two pages
    fake_slack.org_teams[ORG] = list(GRANTED)
    with freeze_time(INSTALLED):
        running = start_app(**OAUTH)
        page = install(running, ORG, code=f"code-org-{ORG}")
        assert page.status == 200 and "Crossfeed is installed in Org E1" in page.body
    return running


def test_an_org_install_records_every_granted_workspace_with_its_name_and_defaults_before_any_request(app):
    pages = app.fake.calls_to("auth.teams.list")

    assert [(c.auth, c.params.get("cursor")) for c in pages] == [(f"Bearer xoxb-{ORG}", None),
                                                                 (f"Bearer xoxb-{ORG}", "page-2")]
    assert workspaces(app) == {team: (ORG, name, False) for team, name in GRANTED}
    with app.crossfeed.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WorkspaceConfig)) == 3
        assert session.scalar(select(func.count(func.distinct(ReasonCode.team_id)))) == 3
    assert {team: app.crossfeed.client_for(team).token for team, _ in GRANTED} == dict.fromkeys(
        ["T7", "T8", "T9"], f"xoxb-{ORG}")
    assert {c.method for c in app.fake.calls} == {"oauth.v2.access", "auth.test", "auth.teams.list"}


def test_the_clocks_pulse_reaches_a_workspace_of_the_org_that_never_sent_a_request(app):
    with freeze_time(INSTALLED):
        seed_teams(app, "T7")

    run_the_clock_at(app, PULSE)

    assert pulse_prompts(app) == {(f"Bearer xoxb-{ORG}", "UT7S"), (f"Bearer xoxb-{ORG}", "UT7M")}
    assert not app.fake.problems


def test_the_install_stands_when_slack_wont_list_the_workspaces_and_first_requests_record_them(start_app, fake_slack):
    fake_slack.org_teams[ORG] = list(GRANTED)
    fake_slack.script.fail("auth.teams.list", error="internal_error")
    with freeze_time(INSTALLED):
        running = start_app(**OAUTH)
        page = install(running, ORG, code=f"code-org-{ORG}")
        assert page.status == 200 and "Crossfeed is installed in Org E1" in page.body
        assert workspaces(running) == {}
        assert org_command(running, "/leadfeedback", "ACME-1 4 great-fit", team="T7").status == 200
        running.settle()

    assert workspaces(running) == {"T7": (ORG, None, False)}
    assert running.crossfeed.client_for("T7").token == f"xoxb-{ORG}"


def test_team_access_granted_records_the_new_workspaces_named_and_a_retry_changes_nothing(app, fake_slack):
    fake_slack.org_teams[ORG] = [*GRANTED, ("T10", "Ten Field")]
    granted = {"type": "team_access_granted", "team_ids": ["T10"]}

    first = org_event(app, granted, event_id="EvGRANT")
    before = workspaces(app)
    again = org_event(app, granted, event_id="EvGRANT", retry=1)

    assert first.status == again.status == 200
    assert before["T10"] == (ORG, "Ten Field", False)
    assert workspaces(app) == before
    with app.crossfeed.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WorkspaceConfig)
                              .where(WorkspaceConfig.team_id == "T10")) == 1
    assert app.crossfeed.client_for("T10").token == f"xoxb-{ORG}"


def test_team_access_granted_records_the_workspaces_without_names_when_slack_wont_list_them(app, fake_slack):
    fake_slack.script.fail("auth.teams.list", status=500)

    assert org_event(app, {"type": "team_access_granted", "team_ids": ["T11", "T12"]}).status == 200

    known = workspaces(app)
    assert known["T11"] == known["T12"] == (ORG, None, False)


def test_team_access_revoked_uninstalls_those_workspaces_once_and_their_jobs_stop(app):
    with freeze_time(INSTALLED):
        for team in ("T7", "T8"):
            seed_teams(app, team)
    revoked = {"type": "team_access_revoked", "team_ids": ["T7"]}
    with freeze_time(INSTALLED + timedelta(hours=1)):
        assert org_event(app, revoked, event_id="EvREVOKE").status == 200
    with freeze_time(INSTALLED + timedelta(hours=2)):
        assert org_event(app, revoked, event_id="EvREVOKE", retry=1).status == 200

    assert uninstalled_at(app, "T7") == INSTALLED + timedelta(hours=1), "the first time counts"
    assert uninstalled_at(app, "T8") is None
    with pytest.raises(WorkspaceNotInstalled):
        app.crossfeed.client_for("T7")
    run_the_clock_at(app, PULSE)
    assert pulse_prompts(app) == {(f"Bearer xoxb-{ORG}", "UT8S"), (f"Bearer xoxb-{ORG}", "UT8M")}, "T8's only"


def test_access_granted_and_revoked_without_authorizations_reach_the_org_install_too(app, fake_slack):
    fake_slack.org_teams[ORG] = [*GRANTED, ("T10", "Ten Field")]

    granted = org_event(app, {"type": "team_access_granted", "team_ids": ["T10"]}, bare=True)
    assert granted.status == 200 and workspaces(app)["T10"] == (ORG, "Ten Field", False)
    assert app.crossfeed.client_for("T10").token == f"xoxb-{ORG}"

    revoked = org_event(app, {"type": "team_access_revoked", "team_ids": ["T7", "T10"]}, bare=True)
    assert revoked.status == 200
    known = workspaces(app)
    assert known["T7"][2] and known["T10"][2] and not known["T8"][2], "the two named are uninstalled, T8 stays"


def test_access_granted_shaped_as_slacks_reference_shows_it_reaches_the_org_install(app, fake_slack):
    # The reference's sample names a workspace in `authorizations`, with is_enterprise_install false: there is no
    # install of that workspace's own, yet the event is the org install's.
    fake_slack.org_teams[ORG] = [*GRANTED, ("T10", "Ten Field")]
    body = {"type": "event_callback", "team_id": "T7", "api_app_id": "A1", "event_id": "EvREFERENCE",
            "event_time": int(time.time()), "event": {"type": "team_access_granted", "team_ids": ["T10"]},
            "authorizations": [{"enterprise_id": ORG, "team_id": "T7", "is_bot": False,
                                "is_enterprise_install": False}]}

    reply = app.slack.post(json.dumps(body), content_type="application/json")
    app.settle()

    assert reply.status == 200 and "isn't installed" not in reply.body
    assert workspaces(app)["T10"] == (ORG, "Ten Field", False)
    assert app.crossfeed.client_for("T10").token == f"xoxb-{ORG}"


def test_a_message_queued_for_a_revoked_workspace_is_dropped_at_delivery_not_sent_with_the_orgs_token(app):
    with freeze_time(INSTALLED + timedelta(hours=1)):
        org_event(app, {"type": "team_access_revoked", "team_ids": ["T7"]})
        app.fake.reset()
        # queued just before the revocation was known (a rating's Home refresh, say)
        with app.crossfeed.transaction() as session:
            enqueue(session=session, team_id="T7", messages=[home_refresh("UT7S")],
                    now=INSTALLED + timedelta(hours=1))
        app.settle()
        app.crossfeed.outbox.deliver_due()

    with app.crossfeed.sessions() as session:
        [message] = session.scalars(select(OutboxMessage).where(OutboxMessage.team_id == "T7")).all()
    assert message.status == "failed" and "not installed" in message.last_error
    assert app.fake.calls_to("views.publish") == []


def test_a_revoked_workspace_is_deleted_after_the_retention_period_and_a_new_grant_brings_it_back(app):
    with freeze_time(INSTALLED):
        org_event(app, {"type": "team_access_revoked", "team_ids": ["T7", "T8"]})
        org_event(app, {"type": "team_access_granted", "team_ids": ["T8"]})
    assert workspaces(app)["T8"] == (ORG, "Eight Marketing", False)

    run_the_clock_at(app, INSTALLED + timedelta(days=app.settings.data_retention_days, minutes=10))

    assert set(workspaces(app)) == {"T8", "T9"}


def test_a_single_workspace_install_records_its_name_and_team_rename_keeps_it_current(start_app):
    app = start_app(**OAUTH)
    install(app, "T2")
    assert workspaces(app)["T2"] == (None, "Team T2", False)

    body = {"type": "event_callback", "team_id": "T2", "api_app_id": "A1", "event_id": f"Ev{time.time_ns()}",
            "event_time": 1, "event": {"type": "team_rename", "name": "Acme Revenue"},
            "authorizations": [{"team_id": "T2", "user_id": "UBOT", "is_bot": True}]}
    reply = app.slack.post(json.dumps(body), content_type="application/json")
    app.settle()

    assert reply.status == 200
    assert workspaces(app)["T2"] == (None, "Acme Revenue", False)
    install(app, "T2", code="code-T2.again")
    assert workspaces(app)["T2"] == (None, "Team T2", False), "a reinstall names it as Slack does"


def test_the_manifest_subscribes_to_the_org_and_rename_events():
    import yaml

    events = yaml.safe_load((ROOT / "manifest.yml").read_text())["settings"]["event_subscriptions"]["bot_events"]
    assert {"team_access_granted", "team_access_revoked", "team_rename"} <= set(events)


def test_with_one_bot_token_team_rename_names_the_workspace_and_org_events_are_answered(running):
    assert running.slack.command("/leadfeedback", "ACME-1 4 great-fit").status == 200  # T1 is known
    running.settle()

    def event(inner: dict):
        body = {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": f"Ev{time.time_ns()}",
                "event_time": 1, "event": inner}
        return running.slack.post(json.dumps(body), content_type="application/json").status

    statuses = [event({"type": "team_rename", "name": "Acme & Co"}),
                event({"type": "team_access_granted", "team_ids": ["T7"]}),
                event({"type": "team_access_revoked", "team_ids": ["T1"]})]
    running.settle()

    assert statuses == [200, 200, 200]
    assert workspaces(running) == {"T1": (None, "Acme & Co", False)}
