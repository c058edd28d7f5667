"""Slack's events about installs: app_uninstalled and tokens_revoked, an org-wide install's team_access_granted
and team_access_revoked (installs into many workspaces only), and team_rename."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from slack_bolt import App

from bot.container import Crossfeed
from bot.installs import Installations
from bot.workspace import rename

logger = logging.getLogger(__name__)


class Uninstalls:
    """Listeners for Slack telling the app it was removed from a workspace, or that its tokens were revoked."""

    def __init__(self, installations: Installations):
        self.installations = installations

    def on_uninstalled(self, context) -> None:
        """The app was removed: the installation goes, jobs stop, the data waits out the retention period.
        A retry of the same event changes nothing more (the first uninstall time counts)."""
        team_id = None if context.is_enterprise_install else context.team_id
        self.installations.uninstalled(enterprise_id=context.enterprise_id, team_id=team_id, now=datetime.now(UTC))

    def on_tokens_revoked(self, event: dict, context) -> None:
        """A revoked bot token is an uninstall as far as Crossfeed can tell (it can no longer speak there).
        Crossfeed asks for no user tokens, so revoked user tokens (`tokens.oauth`) change nothing."""
        tokens = event.get("tokens") or {}
        team_id = None if context.is_enterprise_install else context.team_id
        if tokens.get("bot"):
            self.installations.uninstalled(enterprise_id=context.enterprise_id, team_id=team_id,
                                           now=datetime.now(UTC))

    def on_team_access_granted(self, event: dict, context) -> None:
        """An org admin added workspaces of the org to the org-wide install: the clock reaches them from now on."""
        enterprise_id = context.enterprise_id or event.get("enterprise_id")
        team_ids = [team for team in event.get("team_ids") or [] if isinstance(team, str)]
        if enterprise_id and team_ids:
            self.installations.org_access_granted(enterprise_id=enterprise_id, team_ids=team_ids)

    def on_team_access_revoked(self, event: dict, context) -> None:
        """An org admin removed workspaces of the org from the org-wide install: each is uninstalled."""
        enterprise_id = context.enterprise_id or event.get("enterprise_id")
        team_ids = [team for team in event.get("team_ids") or [] if isinstance(team, str)]
        if enterprise_id and team_ids:
            self.installations.org_access_revoked(enterprise_id=enterprise_id, team_ids=team_ids,
                                                  now=datetime.now(UTC))

    def register(self, app: App) -> None:
        app.event("app_uninstalled")(self.on_uninstalled)
        app.event("tokens_revoked")(self.on_tokens_revoked)
        app.event("team_access_granted")(self.on_team_access_granted)
        app.event("team_access_revoked")(self.on_team_access_revoked)


def register(app: App, crossfeed: Crossfeed) -> None:
    def on_team_rename(event: dict, context) -> None:
        """The workspace's new name, kept to name it where one message speaks for several workspaces."""
        team_id, name = event.get("team_id") or context.team_id, event.get("name")
        if team_id and isinstance(name, str) and name.strip():
            with crossfeed.transaction() as session:
                rename(session=session, team_id=team_id, name=name.strip())

    app.event("team_rename")(on_team_rename)
    if crossfeed.installations is not None:
        Uninstalls(crossfeed.installations).register(app)
        return

    # One bot token: the manifest subscribes to these events for installs into many workspaces; here the
    # token is gone with the app, and only a new SLACK_BOT_TOKEN brings Crossfeed back.
    def note_uninstall(event: dict) -> None:
        logger.warning("Slack says %s: reinstall the app and set its new SLACK_BOT_TOKEN", event.get("type"))

    app.event("app_uninstalled")(note_uninstall)
    app.event("tokens_revoked")(note_uninstall)
    # Only an org-wide install (installs into many workspaces) is granted or loses workspaces of an org.
    app.event("team_access_granted")(lambda: None)
    app.event("team_access_revoked")(lambda: None)
