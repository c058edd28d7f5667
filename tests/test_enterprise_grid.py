"""Enterprise Grid: one org-wide install serves the org's workspaces, each with its own data; a workspace
installed on its own sits beside them; removing the org-wide install removes the workspaces it served."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

import pytest
from freezegun import freeze_time
from sqlalchemy import text

from storage.models import Workspace
from tests.clock_kit import TurnedClock
from tests.helpers import OAUTH, install, ratings
from tests.test_many_workspaces import INSTALLED, PULSE, seed

ORG = "E1"


def org_command(app, command: str, words: str, *, team: str, user: str = "U1"):
    """A slash command from a workspace of the org, as Slack sends it under an org-wide install."""
    body = dict(parse_qsl(app.slack.command_body(command, words, user=user, team=team)))
    body.update(enterprise_id=ORG, enterprise_name="Org", is_enterprise_install="true")
    return app.slack.post(urlencode(body))


@pytest.fixture
def app(start_app):
    with freeze_time(INSTALLED):
        running = start_app(**OAUTH)
        page = install(running, ORG, code=f"code-org-{ORG}")
        assert page.status == 200 and "Crossfeed is installed in Org E1" in page.body
        assert install(running, "T3").status == 200  # a workspace outside the org, installed on its own
        seed(running, "T3")
        for team in ("T5", "T6"):
            assert org_command(running, "/leadfeedback", f"{team}-LEAD 2 no-budget", team=team).status == 200
        running.settle()
    return running


def test_the_org_install_serves_each_workspace_of_the_org_with_its_own_data(app):
    with freeze_time(INSTALLED):
        mine = {team: org_command(app, "/leadfeedback", "mine", team=team).body for team in ("T5", "T6")}
        app.slack.command("/leadfeedback", "", user="U1", team="T3")
        org_command(app, "/leadfeedback", "", team="T5")
        app.settle()

    assert "T5-LEAD" in mine["T5"] and "T6-LEAD" not in mine["T5"]
    assert "T6-LEAD" in mine["T6"] and "T5-LEAD" not in mine["T6"]
    assert sorted((r.team_id, r.lead_ref) for r in ratings(app.crossfeed)) == [
        ("T3", "THREE-SECRET"), ("T5", "T5-LEAD"), ("T6", "T6-LEAD")]
    with app.crossfeed.sessions() as session:
        assert {t: session.get(Workspace, t).enterprise_id for t in ("T3", "T5", "T6")} == {
            "T3": None, "T5": ORG, "T6": ORG}
    # Each modal opens on its own request's thread, so the two calls may reach Slack in either order.
    assert sorted(c.auth for c in app.fake.calls_to("views.open")) == sorted(["Bearer xoxb-T3", f"Bearer xoxb-{ORG}"])
    assert app.crossfeed.client_for("T5").token == f"xoxb-{ORG}"


def test_the_clock_reaches_an_org_workspace_with_the_org_token(app):
    with freeze_time(INSTALLED):
        seed_org_workspace(app, "T5")
    with freeze_time(PULSE - timedelta(minutes=5)) as frozen:
        clock = TurnedClock(app.settings)
        try:
            frozen.move_to(PULSE)
            clock.turn()
        finally:
            clock.stop()

    prompted = {(c.auth, c.params["channel"]) for c in app.fake.calls_to("chat.postMessage", succeeded=True)
                if "pulse" in c.params["text"].casefold()}
    assert (f"Bearer xoxb-{ORG}", "UORG1") in prompted and ("Bearer xoxb-T3", "U1") in prompted


def seed_org_workspace(app, team: str) -> None:
    from storage import teams as store

    with app.crossfeed.transaction() as session:
        config = store.workspace_config(session=session, team_id=team)
        config.timezone = "America/New_York"
        store.put_members(session=session, team_id=team, user_ids=["UORG1"], side="sales", origin="explicit")
        store.put_members(session=session, team_id=team, user_ids=["UORG2"], side="marketing", origin="explicit")


def test_removing_the_org_install_uninstalls_the_workspaces_it_served(app):
    body = {"type": "event_callback", "team_id": "T5", "enterprise_id": ORG, "is_enterprise_install": True,
            "api_app_id": "A1", "event_id": f"Ev{time.time_ns()}", "event_time": 1,
            "event": {"type": "app_uninstalled"}}
    with freeze_time(INSTALLED + timedelta(hours=1)):
        assert app.slack.post(json.dumps(body), content_type="application/json").status == 200
        app.settle()
        refused = org_command(app, "/leadfeedback", "mine", team="T6")
        served = app.slack.command("/leadfeedback", "mine", user="U1", team="T3")
        app.settle()

    with app.crossfeed.engine.connect() as connection:
        assert set(connection.execute(text("SELECT team_id FROM slack_bots")).scalars()) == {"T3"}
    with app.crossfeed.sessions() as session:
        gone = {t: session.get(Workspace, t).uninstalled_at for t in ("T3", "T5", "T6")}
    assert gone == {"T3": None, "T5": INSTALLED + timedelta(hours=1), "T6": INSTALLED + timedelta(hours=1)}
    assert "T6-LEAD" not in refused.body
    assert any("isn't installed" in c.params["text"] for c in app.fake.calls_to("response_url"))
    assert "THREE-SECRET" in served.body
