"""Replies to feedback: the On it / Fixed / Won't fix / Reply buttons on feedback posts, and their modal."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from slack_bolt import Ack, App

from bot.blocks.ids import ReplyIds as Ids
from bot.blocks.replies import ReplyMetadata, reply_modal
from bot.container import Crossfeed
from bot.errors import InvalidInput, parse
from bot.replies import ReplyInput, reply_form, reply_to_feedback
from bot.results.replies import Subject
from bot.slack_requests import ViewState

# The modal block that shows each field's error.
REPLY_FORM_BLOCKS = {"status": Ids.STATUS, "note": Ids.NOTE, "link": Ids.LINK}


class Replies:
    """Listeners for marketing's replies to feedback."""

    def __init__(self, crossfeed: Crossfeed):
        self.cf = crossfeed

    def on_reply_clicked(self, ack: Ack, body: dict, action: dict, context) -> None:
        """A reply button: open the modal with the clicked status, for someone who may reply."""
        ack()
        value = action.get("value") or ""
        with self.cf.transaction() as session:
            form = reply_form(session=session, team_id=context.team_id, user_id=context.user_id,
                              subject=Subject.from_value(value), status=action["action_id"].rpartition(".")[2],
                              configured_admins=self.cf.settings.admin_user_ids)
        self.cf.open_modal_after_ack(body, reply_modal(form, ReplyMetadata(s=value)))

    def on_reply_submitted(self, ack: Ack, view: dict, context) -> None:
        """Send: field errors in the modal; otherwise store the reply (the post, the DM and Home follow)."""
        metadata = ReplyMetadata.model_validate_json(view.get("private_metadata") or "{}")
        values = ViewState(view)
        try:
            reply = parse(ReplyInput, dict(status=values.choice(Ids.STATUS), note=values.text(Ids.NOTE),
                                           link=values.text(Ids.LINK)))
            with self.cf.transaction() as session:
                reply_to_feedback(session=session, team_id=context.team_id, user_id=context.user_id,
                                  subject=Subject.from_value(metadata.s), reply=reply, submission_key=view["id"],
                                  now=datetime.now(UTC), configured_admins=self.cf.settings.admin_user_ids,
                                  default_feed_channel=self.cf.settings.lead_feed_channel)
        except InvalidInput as invalid:
            return ack(response_action="errors", errors={REPLY_FORM_BLOCKS.get(field, Ids.NOTE): message
                                                         for field, message in invalid.fields.items()})
        ack()

    def register(self, app: App) -> None:
        app.action(re.compile(rf"^{re.escape(Ids.OPEN)}\.[a-z_]+$"))(self.on_reply_clicked)
        app.view(Ids.MODAL)(self.on_reply_submitted)


def register(app: App, crossfeed: Crossfeed) -> None:
    Replies(crossfeed).register(app)
