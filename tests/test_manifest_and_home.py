"""manifest.yml matches what the app serves (the App Home tab itself is tested in test_home.py)."""

from __future__ import annotations

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
