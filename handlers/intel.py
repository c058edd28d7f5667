"""Field intel: the message shortcut, `/leadfeedback intel`, the topic typeahead and the modal's submission."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_bolt import Ack, App
from slack_sdk.models.views import View

from bot.blocks.ids import INTEL_FORM_BLOCKS
from bot.blocks.ids import IntelIds as Ids
from bot.blocks.intel import IntelFormMetadata, intel_modal, intel_sent, new_topic_option, topic_option
from bot.container import Crossfeed
from bot.errors import InvalidInput
from bot.intel import (
    add_message_link,
    command_prefill,
    message_permalink,
    parse_intel,
    send_intel,
    shortcut_prefill,
    topic_suggestions,
)
from bot.results.intel import IntelSaved
from bot.slack_requests import ViewState, team_of
from bot.text import plain_command_text


def _asks_for_intel(body: dict) -> bool:
    """`/leadfeedback intel [what you saw]` (a lead called "intel" can still be rated quoted: `"intel" 2`)."""
    return plain_command_text(body.get("text", "")).split(" ", 1)[0].casefold() == "intel"


class FieldIntel:
    """Listeners for sending field intel to marketing."""

    def __init__(self, crossfeed: Crossfeed):
        self.cf = crossfeed

    def on_message_shortcut(self, ack: Ack, body: dict) -> None:
        """"Send as field intel" on a message: the modal, prefilled with its text and link."""
        ack()
        channel = (body.get("channel") or {}).get("id")
        message = body.get("message") or {}
        metadata = IntelFormMetadata(channel=channel, ts=message.get("ts"), response_url=body.get("response_url"))

        def modal() -> View:
            # The permalink is asked of Slack after the ack, just before the modal opens.
            prefill = shortcut_prefill(self.cf.client_for, team_id=team_of(body), channel=channel, message=message)
            return intel_modal(prefill, metadata.model_copy(update={"link_pending": prefill.link is None}))

        self.cf.open_modal_after_ack(body, modal)

    def on_command(self, ack: Ack, body: dict) -> None:
        """`/leadfeedback intel [what you saw]`: the modal, with any words after `intel` as the text."""
        ack()
        words = plain_command_text(body.get("text", "")).partition(" ")[2].strip()
        metadata = IntelFormMetadata(response_url=body.get("response_url"))
        self.cf.open_modal_after_ack(body, intel_modal(command_prefill(words), metadata))

    def on_topic_options(self, ack: Ack, body: dict, payload: dict, context) -> None:
        """Typeahead for the competitor or topic: the workspace's known ones (of the kind picked first), and
        what was typed as a new one."""
        kind = ViewState(body.get("view")).choice(Ids.KIND)
        with self.cf.transaction() as session:
            known, new = topic_suggestions(session=session, team_id=context.team_id, typed=payload.get("value") or "",
                                           kind=kind)
        options = [*(topic_option(topic) for topic in known), *([new_topic_option(new)] if new else [])]
        ack(options=[option.to_dict() for option in options])

    def on_intel_submitted(self, ack: Ack, body: dict, view: dict, context) -> None:
        """Send: field errors in the modal, or store it (once per modal), queue its post and confirm."""
        metadata = IntelFormMetadata.model_validate_json(view.get("private_metadata") or "{}")
        values = ViewState(view)
        try:
            intel = parse_intel(dict(kind=values.choice(Ids.KIND), topic=values.choice(Ids.TOPIC),
                                     text=values.text(Ids.TEXT), link=values.text(Ids.LINK)))
            with self.cf.transaction() as session:
                saved = send_intel(session=session, team_id=context.team_id, user_id=context.user_id, intel=intel,
                                   message_channel=metadata.channel, message_ts=metadata.ts,
                                   submission_key=view["id"], now=datetime.now(UTC),
                                   default_channel=self.cf.settings.lead_feed_channel)
        except InvalidInput as invalid:
            return ack(response_action="errors", errors={INTEL_FORM_BLOCKS.get(field, Ids.TEXT): message
                                                         for field, message in invalid.fields.items()})
        ack()
        if saved.created:
            self.cf.later(body, lambda: self._after_sent(body, context.team_id, metadata, saved))

    # --- after ack -------------------------------------------------------------------------------

    def _after_sent(self, body: dict, team_id: str, metadata: IntelFormMetadata, saved: IntelSaved) -> None:
        if metadata.link_pending and not saved.item.permalink:
            # A second try for the link Slack didn't give when the modal opened; without it the intel stands.
            permalink = message_permalink(self.cf.client_for, team_id=team_id, channel=metadata.channel,
                                          ts=metadata.ts)
            if permalink:
                with self.cf.transaction() as session:
                    add_message_link(session=session, team_id=team_id, saved=saved, permalink=permalink,
                                     now=datetime.now(UTC))
        text, blocks = intel_sent(saved)
        self.cf.tell_privately(body, metadata.response_url, text, blocks)

    def register(self, app: App) -> None:
        app.message_shortcut(Ids.SHORTCUT)(self.on_message_shortcut)
        app.command("/leadfeedback", matchers=[_asks_for_intel])(self.on_command)
        app.options(Ids.TOPIC)(self.on_topic_options)
        app.view(Ids.MODAL)(self.on_intel_submitted)


def register(app: App, crossfeed: Crossfeed) -> None:
    FieldIntel(crossfeed).register(app)
