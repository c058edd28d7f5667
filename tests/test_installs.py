"""Installs into many workspaces (OAuth v2): the round trip through /slack/install, Slack's approval
(oauth.v2.access on the fake) and /slack/oauth_redirect; failed installs; a workspace without an installation
refused; single-workspace mode untouched."""

from __future__ import annotations

import json
import os
import re
import time
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from sqlalchemy import func, select, text

from bot.settings import DEFAULT_BOT_SCOPES, Settings
from storage.models import LeadRating, Workspace
from tests.helpers import OAUTH, ROOT, browse, install, ratings, run


@pytest.fixture
def app(start_app):
    return start_app(**OAUTH)


def installed_tokens(app) -> dict[str, str]:
    with app.crossfeed.engine.connect() as connection:
        return dict(connection.execute(text("SELECT team_id, bot_token FROM slack_bots")).all())


def authorize_link(page: str) -> str:
    [href] = re.findall(r'href="(https://slack\.com/oauth/v2/authorize[^"]*)"', page)
    return href.replace("&amp;", "&")


def test_installing_stores_the_workspace_and_its_requests_speak_with_its_own_token(app):
    page = install(app, "T2")
    app.slack.command("/leadfeedback", "ACME-7 4 great-fit", user="U7", team="T2")
    opened = app.slack.command("/leadfeedback", "", user="U7", team="T2")
    app.settle()

    assert page.status == 200 and "Crossfeed is installed in Team T2" in page.body
    [access] = app.fake.calls_to("oauth.v2.access")
    assert access.params["code"] == "code-T2"
    assert installed_tokens(app) == {"T2": "xoxb-T2"}
    with app.crossfeed.sessions() as session:
        assert session.get(Workspace, "T2").uninstalled_at is None
    assert [(r.team_id, r.lead_ref) for r in ratings(app.crossfeed)] == [("T2", "ACME-7")]
    assert opened.status == 200
    [modal] = app.fake.calls_to("views.open")
    assert modal.auth == "Bearer xoxb-T2"
    assert app.crossfeed.client_for("T2").token == "xoxb-T2"


def test_the_install_page_asks_for_the_manifests_bot_scopes_with_a_state_bound_to_the_browser(app):
    page = browse(app.url + "/slack/install")

    query = parse_qs(urlparse(authorize_link(page.body)).query)
    assert query["client_id"] == ["1111.2222"]
    assert query["scope"][0].split(",") == list(DEFAULT_BOT_SCOPES)
    cookie = {k.lower(): v for k, v in page.headers.items()}["set-cookie"]
    assert cookie.startswith(f"slack-app-oauth-state={query['state'][0]};") and "HttpOnly" in cookie


def test_slack_scopes_chooses_what_the_install_asks_for(start_app):
    app = start_app(**OAUTH, slack_scopes="commands,chat:write")

    page = browse(app.url + "/slack/install")

    assert parse_qs(urlparse(authorize_link(page.body)).query)["scope"] == ["commands,chat:write"]


def test_the_manifest_scopes_are_the_default():
    import yaml

    from tests.helpers import ROOT

    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert list(DEFAULT_BOT_SCOPES) == manifest["oauth_config"]["scopes"]["bot"]


def test_a_cancelled_install_says_so_and_stores_nothing(app):
    page = browse(app.url + "/slack/oauth_redirect?" + urlencode({"error": "access_denied", "state": "x"}))

    assert "Crossfeed wasn't installed" in page.body and "You cancelled the install" in page.body
    assert app.fake.calls_to("oauth.v2.access") == [] and installed_tokens(app) == {}


def test_a_redirect_from_another_browser_or_a_used_state_installs_nothing(app):
    page = browse(app.url + "/slack/install")
    cookie = {k.lower(): v for k, v in page.headers.items()}["set-cookie"].split(";")[0]
    state = cookie.split("=", 1)[1]
    redirect = f"{app.url}/slack/oauth_redirect?{urlencode({'code': 'code-T2', 'state': state})}"

    no_cookie = browse(redirect)
    first = browse(redirect, {"Cookie": cookie})
    again = browse(f"{app.url}/slack/oauth_redirect?{urlencode({'code': 'code-T3', 'state': state})}",
                   {"Cookie": cookie})

    assert no_cookie.status == 400 and "started in another browser" in no_cookie.body
    assert first.status == 200
    assert again.status == 401 and "expired or was already used" in again.body
    assert installed_tokens(app) == {"T2": "xoxb-T2"}


def test_a_code_slack_does_not_accept_shows_a_failure_page(app):
    install(app, "T2")

    page = install(app, "T2", code="code-T2")  # a code works once

    assert page.status == 401 and "Slack didn't accept the approval" in page.body
    assert 'href="/slack/install"' in page.body


def test_a_request_from_a_workspace_without_an_installation_is_refused_and_touches_nothing(app):
    install(app, "T2")
    app.slack.command("/leadfeedback", "ACME-2 2 no-budget", user="U1", team="T2")
    app.settle()
    app.fake.reset()

    command = app.slack.command("/leadfeedback", "ACME-9 5 great-fit", user="U1", team="T9")
    stats = app.slack.command("/leadfeedback", "stats", user="U1", team="T9")
    click = app.slack.click("home.refresh", user="U1", team="T9")
    home = app.slack.post(json.dumps({
        "type": "event_callback", "team_id": "T9", "api_app_id": "A1", "event_id": f"Ev{time.time_ns()}",
        "event_time": 1, "event": {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"},
        "authorizations": [{"team_id": "T9", "user_id": "UBOT", "is_bot": True}]}), content_type="application/json")
    app.settle()

    assert [r.status for r in (command, stats, click, home)] == [200] * 4
    told = [call.params["text"] for call in app.fake.calls_to("response_url")]
    assert len(told) == 3 and all("isn't installed in this workspace" in t for t in told)
    assert "ACME-2" not in json.dumps([c.params for c in app.fake.calls])
    assert {c.method for c in app.fake.calls} == {"response_url"}, "no Slack call on anyone's behalf"
    with app.crossfeed.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LeadRating).where(LeadRating.team_id == "T9")) == 0
        assert session.get(Workspace, "T9") is None


def test_with_a_bot_token_nothing_is_installed_and_the_install_paths_are_not_served(running):
    assert running.crossfeed.installations is None
    assert browse(running.url + "/slack/install").status == 404
    assert browse(running.url + "/slack/oauth_redirect?code=code-T2&state=x").status == 404


def test_settings_choose_the_mode():
    single = Settings(_env_file=None, slack_bot_token="xoxb-1", slack_client_id="1.2", slack_client_secret="s")
    many = Settings(_env_file=None, slack_client_id="1.2", slack_client_secret="s", slack_scopes="commands, chat:write")

    assert not single.installs_into_many_workspaces
    assert many.installs_into_many_workspaces and many.slack_scopes == ("commands", "chat:write")
    assert many.data_retention_days == 30
    with pytest.raises(ValueError, match="SLACK_BOT_TOKEN .or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET"):
        Settings(_env_file=None, slack_client_id="1.2")


def test_with_a_bot_token_the_apps_oauth_credentials_in_the_environment_change_nothing(monkeypatch, start_app):
    # Bolt would turn on an OAuth flow of its own, with a file store, seeing both in the environment.
    monkeypatch.setenv("SLACK_CLIENT_ID", "1111.2222")
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "client-secret")
    app = start_app(slack_client_id="1111.2222", slack_client_secret="client-secret")

    reply = app.slack.command("/leadfeedback", "ACME-1 4 great-fit")

    assert reply.status == 200 and "ACME-1" in reply.body
    assert browse(app.url + "/slack/install").status == 404
    assert app.crossfeed.installations is None
    assert os.environ["SLACK_CLIENT_ID"] == "1111.2222", "put back after the app was built"


def test_installs_into_many_workspaces_refuse_socket_mode_and_an_import_without_a_workspace(tmp_path):
    oauth = {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s", "SLACK_SIGNING_SECRET": "s",
             "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "PYTHONPATH": str(ROOT)}
    (tmp_path / "leads.csv").write_text("id,name\n1,Ada\n")

    socket = run(["-m", "bot"], {**oauth, "SLACK_APP_TOKEN": "xapp-1"}, cwd=tmp_path)
    imported = run(["-m", "bot", "import-leads", "leads.csv"], oauth, cwd=tmp_path)

    assert socket.returncode == 2 and "unset SLACK_APP_TOKEN" in socket.stderr
    assert imported.returncode == 2 and "--team" in imported.stderr
