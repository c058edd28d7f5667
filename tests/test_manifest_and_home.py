"""manifest.yml matches what the app serves; App Home; commands not served yet answer honestly."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def test_manifest_declares_every_command_escaped_and_pointing_at_slack_events():
    commands = {c["command"]: c for c in manifest()["features"]["slash_commands"]}

    assert set(commands) == {"/leadfeedback", "/messaging", "/pulse", "/alignment"}
    for command in commands.values():
        assert command["should_escape"] is True, "mentions must arrive as <@U…> so commands can read them"
        assert command["url"].endswith("/slack/events")


def test_manifest_enables_interactivity_options_home_and_the_scopes_the_code_uses():
    settings = manifest()["settings"]
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])

    assert settings["interactivity"]["is_enabled"] is True
    assert settings["interactivity"]["message_menu_options_url"].endswith("/slack/events")
    assert "app_home_opened" in settings["event_subscriptions"]["bot_events"]
    assert manifest()["features"]["app_home"]["home_tab_enabled"] is True
    # chat.postMessage/update, DMs, joining the lead-feed channel, users.info, usergroups.users.list
    assert {"commands", "chat:write", "im:write", "channels:join", "users:read", "usergroups:read"} <= scopes


def test_opening_the_home_tab_publishes_it(running, slack):
    event = {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": "Ev1",
             "event_time": 1, "event": {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"},
             "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}]}

    reply = slack.post(json.dumps(event), content_type="application/json")

    assert reply.status == 200
    [published] = running.fake.wait_for("views.publish")
    assert published.params["user_id"] == "U1"
    assert "Rate a lead" in json.dumps(published.view)
