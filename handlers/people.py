"""Slack's user_change and user_status_changed events: people's zones and statuses kept current."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from pydantic import ValidationError
from slack_bolt import App

from bot.container import Crossfeed
from bot.people import SlackUser, note_profile

logger = logging.getLogger(__name__)


class People:
    """Listeners for changes Slack reports in people's profiles."""

    def __init__(self, crossfeed: Crossfeed):
        self.cf = crossfeed

    def on_user_changed(self, event: dict, context) -> None:
        """A profile (zone, status) changed: kept for team members and people Crossfeed knows, nobody else.
        A retry of the same event stores the same values again."""
        try:
            user = SlackUser.model_validate(event.get("user"))
        except ValidationError:
            logger.warning("ignored a %s event without a readable user", event.get("type"))
            return
        if not context.team_id:
            return
        with self.cf.transaction() as session:
            note_profile(session=session, team_id=context.team_id, user=user, now=datetime.now(UTC))

    def register(self, app: App) -> None:
        app.event("user_change")(self.on_user_changed)
        app.event("user_status_changed")(self.on_user_changed)


def register(app: App, crossfeed: Crossfeed) -> None:
    People(crossfeed).register(app)
