"""A handed-off lead's buttons: Accept, Not mine and Rate, on the owner's card and the follow-up DMs."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ValidationError
from slack_bolt import Ack, App

from bot.blocks.ids import LeadIds as Ids
from bot.blocks.leadfeedback import LeadFormMetadata, lead_feedback_modal
from bot.container import Crossfeed
from bot.errors import NotFound
from bot.follow_up import accept_lead, lead_rating_form, pass_back_lead


class LeadButton(BaseModel):
    """A lead button's value: the lead's id."""

    lead_id: int


def _lead_id(action: dict) -> int:
    try:
        return LeadButton(lead_id=action.get("value")).lead_id
    except ValidationError:
        raise NotFound("That button is from an old version of this message.") from None


class FollowUp:
    """Listeners for the lead's owner; what changed shows on the card, which the outbox updates in place."""

    def __init__(self, crossfeed: Crossfeed):
        self.cf = crossfeed

    def on_accept_clicked(self, ack: Ack, action: dict, context) -> None:
        ack()
        with self.cf.transaction() as session:
            accept_lead(session=session, team_id=context.team_id, user_id=context.user_id, lead_id=_lead_id(action),
                        now=datetime.now(UTC), default_zone=self.cf.settings.workspace_timezone)

    def on_not_mine_clicked(self, ack: Ack, action: dict, context) -> None:
        ack()
        with self.cf.transaction() as session:
            pass_back_lead(session=session, team_id=context.team_id, user_id=context.user_id,
                           lead_id=_lead_id(action), now=datetime.now(UTC),
                           default_zone=self.cf.settings.workspace_timezone,
                           default_sales_channel=self.cf.settings.sales_channel)

    def on_rate_clicked(self, ack: Ack, body: dict, action: dict, context) -> None:
        """The rating modal of /leadfeedback, prefilled with the lead; saved by its own flow."""
        ack()
        with self.cf.transaction() as session:
            form = lead_rating_form(session=session, team_id=context.team_id, user_id=context.user_id,
                                    lead_id=_lead_id(action))
        metadata = LeadFormMetadata(rating_id=form.rating.id if form.rating else None,
                                    response_url=body.get("response_url"))
        self.cf.open_modal_after_ack(body, lead_feedback_modal(form.options, metadata, form.rating, form.start))

    def register(self, app: App) -> None:
        app.action(Ids.ACCEPT)(self.on_accept_clicked)
        app.action(Ids.NOT_MINE)(self.on_not_mine_clicked)
        app.action(Ids.RATE)(self.on_rate_clicked)


def register(app: App, crossfeed: Crossfeed) -> None:
    FollowUp(crossfeed).register(app)
