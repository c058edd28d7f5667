"""App Home."""

from __future__ import annotations

from slack_bolt import App

from bot.app import Crossfeed
from bot.blocks.home import home_view


class Home:
    def __init__(self, crossfeed: Crossfeed):
        self.cf = crossfeed

    def on_home_opened(self, event: dict, body: dict) -> None:
        """Publish the Home tab when someone opens it."""
        if event.get("tab") not in (None, "home"):
            return
        self.cf.later(body, lambda: self.cf.client.views_publish(user_id=event["user"], view=home_view()))

    def register(self, app: App) -> None:
        app.event("app_home_opened")(self.on_home_opened)


def register(app: App, crossfeed: Crossfeed) -> None:
    Home(crossfeed).register(app)
