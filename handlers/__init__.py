"""Thin Slack adapters, one module per surface; `register` wires them all, once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers import (
    actions,
    alignment,
    follow_up,
    handoff,
    home,
    installs,
    intel,
    leadfeedback,
    messaging,
    people,
    pulse,
    replies,
)

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.container import Crossfeed


def register(app: App, crossfeed: Crossfeed) -> None:
    intel.register(app, crossfeed)  # before /leadfeedback's one-line form, which would take `intel …` as a lead
    leadfeedback.register(app, crossfeed)
    pulse.register(app, crossfeed)
    alignment.register(app, crossfeed)
    messaging.register(app, crossfeed)
    home.register(app, crossfeed)
    people.register(app, crossfeed)
    replies.register(app, crossfeed)
    actions.register(app, crossfeed)
    handoff.register(app, crossfeed)
    follow_up.register(app, crossfeed)
    installs.register(app, crossfeed)
