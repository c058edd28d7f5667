"""Enterprise Grid: one org-wide install serves the org's workspaces, each with its own data; a workspace
installed on its own sits beside them; removing the org-wide install removes the workspaces it served."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode

import pytest
from freezegun import freeze_time
from sqlalchemy import text

from storage.models import Workspace
from tests.helpers import OAUTH, install, ratings
from tests.test_many_workspaces import INSTALLED, PULSE, seed

ORG = "E1"
NAMES = {"T5": "Acme Sales", "T6": "Acme Marketing EMEA"}  # the org's workspaces, as Slack names them


def org_command(app, command: str, words: str, *, team: str, user: str = "U1"):
    """A slash command from a workspace of the org, as Slack sends it under an org-wide install."""
    body = dict(parse_qsl(app.slack.command_body(command, words, user=user, team=team)))
    body.update(enterprise_id=ORG, enterprise_name="Org", is_enterprise_install="true")
    return app.slack.post(urlencode(body))


@pytest.fixture
def app(start_app):
    with freeze_time(INSTALLED):
        running = start_app(**OAUTH)
        running.fake.org_teams[ORG] = list(NAMES.items())  # what auth.teams.list says the install was granted
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


def test_home_and_the_export_of_an_org_workspace_hold_only_that_workspace(app):
    from storage import teams as store

    def org_homes():
        return [h for h in app.fake.calls_to("views.publish", succeeded=True) if h.auth == f"Bearer xoxb-{ORG}"]

    with freeze_time(INSTALLED):
        with app.crossfeed.transaction() as session:
            store.add_admins(session=session, team_id="T5", user_ids=["U1"], added_by=None)
        before = len(org_homes())  # the Homes the fixture's ratings refreshed
        for team in ("T5", "T6"):
            app.slack.post(json.dumps({
                "type": "event_callback", "team_id": team, "enterprise_id": ORG, "is_enterprise_install": True,
                "api_app_id": "A1", "event_id": f"Ev{time.time_ns()}", "event_time": 1,
                "event": {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"},
                # As Slack sends it to an org-wide install: the authorization names the org, not the workspace.
                "authorizations": [{"enterprise_id": ORG, "team_id": None, "user_id": "UBOT", "is_bot": True,
                                    "is_enterprise_install": True}]}), content_type="application/json")
        exported = org_command(app, "/alignment", "export 4", team="T5")
        app.settle()
        app.fake.wait_for("files.completeUploadExternal")

    opened = [json.dumps(h.params["view"]) for h in org_homes()[before:]]  # the openings' (and the export's)
    assert any("T5-LEAD" in view and "T6-LEAD" not in view for view in opened)
    assert any("T6-LEAD" in view and "T5-LEAD" not in view for view in opened)
    assert not any("THREE-SECRET" in view for view in opened)
    assert "Preparing the export" in exported.body
    files = " ".join(c.params["text"] for c in app.fake.calls_to("upload"))
    assert "T5-LEAD" in files and "T6-LEAD" not in files and "THREE-SECRET" not in files
    assert {c.auth for c in app.fake.calls_to("files.getUploadURLExternal")} == {f"Bearer xoxb-{ORG}"}


def test_the_clock_reaches_an_org_workspace_with_the_org_token(app, clocks):
    with freeze_time(INSTALLED):
        seed_org_workspace(app, "T5")
    clocks(PULSE - timedelta(minutes=5)).turn_at(PULSE)

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


# --- a digest channel the org's workspaces share -------------------------------------------------------------

SHARED = "CSHARED"
# Monday 7 December 09:00 in Berlin (08:00 UTC) and in New York (14:00 UTC): the digest of 2026-W49 is due in each.
BERLIN_DUE = datetime.fromisoformat("2026-12-07T08:00:00+00:00")
NEW_YORK_DUE = datetime.fromisoformat("2026-12-07T14:00:00+00:00")


def share_a_digest_channel(app) -> None:
    """T5 (New York) and T6 (Berlin), both of org E1, name the same channel; T6 has one of its own too."""
    from storage import teams as store

    with freeze_time(INSTALLED), app.crossfeed.transaction() as session:
        for team, zone, channels in (("T5", "America/New_York", [SHARED]),
                                     ("T6", "Europe/Berlin", [SHARED, "C_T6_ONLY"])):
            config = store.workspace_config(session=session, team_id=team)
            config.timezone, config.digest_channels = zone, channels
            store.add_admins(session=session, team_id=team, user_ids=["U1"], added_by=None)
    with freeze_time(INSTALLED):
        for lead in ("T6-SECOND 5", "T6-THIRD 4"):  # T6 rates three leads in W49, T5 one
            assert org_command(app, "/leadfeedback", lead, team="T6").status == 200
        app.settle()


def parts_of(blocks: list[dict]) -> dict[str, str]:
    """workspace name → the text of its part of a shared digest (the blocks under its header)."""
    parts, name = {}, None
    for block in blocks[1:]:
        if block["type"] == "header":
            name = block["text"]["text"]
            parts[name] = ""
        elif name is not None:
            parts[name] += json.dumps(block, ensure_ascii=False)
    return parts


def leads_rated(part: str) -> str:
    return part.split("*Leads rated*\\n", 1)[1].split('"', 1)[0]


def test_a_channel_the_org_workspaces_share_gets_one_digest_with_each_workspace_s_part(app, clocks):
    share_a_digest_channel(app)
    clock = clocks(BERLIN_DUE - timedelta(minutes=5), count=2)  # two clock processes racing, as for failover
    clock.turn_at(BERLIN_DUE)
    in_berlin = {c.params["channel"] for c in app.fake.calls_to("chat.postMessage", succeeded=True)}
    clock.turn_at(NEW_YORK_DUE)
    clock.turn_at(NEW_YORK_DUE + timedelta(hours=1))

    # Berlin's own channel has its digest at Berlin's time; the shared one waits for New York's week to end.
    assert "C_T6_ONLY" in in_berlin and SHARED not in in_berlin
    posts = [c for c in app.fake.calls_to("chat.postMessage", succeeded=True) if c.params["channel"] == SHARED]
    assert len(posts) == 1, [p.params["text"] for p in posts]
    [post] = posts
    assert post.auth == f"Bearer xoxb-{ORG}" and "2026-W49" in post.params["text"]
    blocks = post.params["blocks"]
    assert "Acme Sales, Acme Marketing EMEA" in json.dumps(blocks)
    parts = parts_of(blocks)
    assert set(parts) == set(NAMES.values())
    assert leads_rated(parts["Acme Sales"]) == "1" and leads_rated(parts["Acme Marketing EMEA"]) == "3"
    assert "THREE" not in json.dumps(blocks)  # T3, a workspace outside the org, has no part in it
    with app.crossfeed.engine.connect() as connection:
        claims = connection.execute(text(
            "SELECT posted_for, channel_id, status FROM digest_posts WHERE week = '2026-W49'")).all()
        figures = set(connection.execute(text("SELECT team_id FROM digest_weeks WHERE week = '2026-W49'")).scalars())
    assert sorted(claims) == sorted([(ORG, "C_T6_ONLY", "posted"), (ORG, SHARED, "posted"),
                                     ("T3", "C_DIGEST_T3", "posted")])
    assert {"T5", "T6"} <= figures  # next week's changes compare each workspace's part with what it showed


def test_posting_the_digest_by_hand_from_one_workspace_posts_the_shared_one(app, clocks):
    share_a_digest_channel(app)
    clock = clocks(NEW_YORK_DUE - timedelta(hours=2))
    assert org_command(app, "/alignment", "digest post", team="T5").status == 200
    app.settle()
    app.fake.wait_for("chat.postMessage")
    clock.turn_at(NEW_YORK_DUE)

    posts = [c for c in app.fake.calls_to("chat.postMessage", succeeded=True) if c.params["channel"] == SHARED]
    assert len(posts) == 1
    assert set(parts_of(posts[0].params["blocks"])) == set(NAMES.values())
    said = " ".join(c.params.get("text", "") for c in app.fake.calls_to("response_url"))
    assert f"<#{SHARED}>: posted" in said


def test_a_shared_digest_too_long_for_one_message_gives_each_workspace_its_headline(app):
    from bot.blocks.digest import shared_digest_message
    from bot.digest import build_weekly_digest, week_of
    from bot.zones import workspace_zone
    from storage.teams import workspace_config

    share_a_digest_channel(app)
    with app.crossfeed.sessions() as session:
        config = workspace_config(session=session, team_id="T6")
        week = week_of(INSTALLED, workspace_zone(config, None))
        digest = build_weekly_digest(session=session, team_id="T6", week=week, now=INSTALLED + timedelta(days=6))
    names = [f"Workspace {n}" for n in range(12)]
    text_, blocks = shared_digest_message([(name, digest) for name in names])
    shown = json.dumps([b.to_dict() for b in blocks])
    assert len(blocks) <= 50 and "2026-W49" in text_
    for name in names:  # every workspace is there, with its figures, however many share the channel
        assert f'"text": "{name}"' in shown
    assert shown.count("3 leads rated") == 12 and "`/alignment digest last` there" in shown


def test_status_tells_a_workspace_its_shared_channel_waits_for_the_last_workspace_s_time(app, clocks):
    """Berlin's admin, an hour after Berlin's digest time: its own channel has its digest; the shared channel's
    comes at New York's time, so the status names that time, not "overdue, posting within a minute"."""
    share_a_digest_channel(app)

    def digest_line(team: str) -> str:
        body = json.loads(org_command(app, "/alignment", "status", team=team).body)
        return next(field["text"] for block in body["blocks"] for field in block.get("fields") or []
                    if field["text"].startswith("*Digest*"))

    clock = clocks(BERLIN_DUE - timedelta(minutes=5))
    clock.turn_at(BERLIN_DUE)
    with freeze_time(BERLIN_DUE + timedelta(hours=1)):
        in_berlin, in_new_york = digest_line("T6"), digest_line("T5")
    clock.turn_at(NEW_YORK_DUE)
    with freeze_time(NEW_YORK_DUE + timedelta(minutes=5)):
        after = digest_line("T6")

    assert [c.params["channel"] for c in app.fake.calls_to("chat.postMessage", succeeded=True)
            if c.params["channel"] in (SHARED, "C_T6_ONLY")] == ["C_T6_ONLY", SHARED]
    new_york_due = int(NEW_YORK_DUE.timestamp())
    assert "posting within a minute" not in in_berlin and f"<!date^{new_york_due}^" in in_berlin
    assert "posting within a minute" not in in_new_york and f"<!date^{new_york_due}^" in in_new_york
    next_berlin_due = int((BERLIN_DUE + timedelta(days=7)).timestamp())  # both of its channels posted
    assert f"<!date^{next_berlin_due}^" in after and "posting within a minute" not in after


def test_forgetting_the_org_installer_in_one_of_its_workspaces_removes_them_from_the_org_install(app):
    """The org-wide install names who installed it; a workspace of the org forgetting that person takes them out
    of it (through `/alignment forget`, as tested for a workspace's own install), and not out of T3's own."""
    from storage.installations import INSTALLATION_METADATA, INSTALLATIONS_TABLE, forget_installer

    installations = INSTALLATION_METADATA.tables[INSTALLATIONS_TABLE]
    with app.crossfeed.transaction() as session:
        forgotten = forget_installer(session=session, team_id="T5", user_id="UINSTALLER")
    with app.crossfeed.engine.connect() as connection:
        installers = dict(connection.execute(
            text(f"SELECT coalesce(team_id, enterprise_id), user_id FROM {installations.name}")).all())

    assert forgotten == 1 and installers == {ORG: "", "T3": "UINSTALLER"}
    reply = org_command(app, "/leadfeedback", "T5-AFTER 4", team="T5")
    assert reply.status == 200 and "T5-AFTER" in reply.body, "the org's bot token stays"
