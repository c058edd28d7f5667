"""Lead handoff in Slack: the Claim button on the sales channel's post of a lead nobody owns."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import TypeAdapter
from slack_bolt import Ack, App

from bot.blocks.handoff import claim_taken_message
from bot.blocks.ids import LeadIds as Ids
from bot.container import Crossfeed
from bot.handoff import claim_lead

LEAD_ID = TypeAdapter(int)  # every lead button's value is the lead's id


class Handoff:
    """Listeners for handed-off leads' posts."""

    def __init__(self, crossfeed: Crossfeed):
        self.cf = crossfeed

    def on_claim_clicked(self, ack: Ack, body: dict, action: dict, context) -> None:
        """Claim: the first click takes the lead (the post then says who, the claimer gets its card); anyone
        later is told privately who has it."""
        ack()
        lead_id = LEAD_ID.validate_python(action.get("value"))
        with self.cf.transaction() as session:
            outcome = claim_lead(session=session, team_id=context.team_id, lead_id=lead_id, user_id=context.user_id,
                                 now=datetime.now(UTC), default_sales_channel=self.cf.settings.sales_channel)
        if not outcome.won:
            text, blocks = claim_taken_message(outcome, context.user_id)
            self.cf.later(body, lambda: self.cf.tell_privately(body, body.get("response_url"), text, blocks))

    def register(self, app: App) -> None:
        app.action(Ids.CLAIM)(self.on_claim_clicked)


def register(app: App, crossfeed: Crossfeed) -> None:
    Handoff(crossfeed).register(app)
