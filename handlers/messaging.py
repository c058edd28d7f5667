"""/messaging: asks, the card's buttons, the answer modal, lists and results."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pydantic import ValidationError
from slack_bolt import Ack, App
from slack_sdk.models.views import View

from bot.blocks.ids import ANSWER_FORM_BLOCKS, ASK_FORM_BLOCKS, CHANGE_FORM_BLOCKS
from bot.blocks.ids import MessagingIds as Ids
from bot.blocks.messaging import (
    AnswerMetadata,
    ReactionValue,
    answer_modal,
    answer_thanks,
    ask_card,
    ask_modal,
    ask_results_message,
    ask_sent,
    change_modal,
    change_posted_view,
    messaging_help,
    my_asks_message,
    open_asks_message,
)
from bot.container import Crossfeed
from bot.errors import InvalidInput, parse
from bot.messaging import (
    AnswerInput,
    AskInput,
    ChangeInput,
    answer_form,
    ask_open_days,
    ask_results,
    asks_of,
    change_form,
    create_ask,
    group_ask_recipients,
    open_asks,
    post_change,
    record_answer,
    submit_ask,
    version_choices,
)
from bot.results import record_id
from bot.results.messaging import AskSent, AskView
from bot.slack_requests import ViewState
from bot.text import plain_command_text
from bot.workspace import sales_channel


def _now() -> datetime:
    return datetime.now(UTC)


class Messaging:
    """Listeners for messaging feedback."""

    def __init__(self, crossfeed: Crossfeed):
        self.cf = crossfeed

    def on_command(self, ack: Ack, body: dict, context) -> None:
        """`/messaging`, `/messaging ask`, `/messaging results [ask]`, `/messaging help`."""
        text = plain_command_text(body.get("text", ""))
        word, _, rest = text.partition(" ")
        word = word.casefold()
        if word == "ask":
            ack()
            return self.cf.open_modal_after_ack(body, lambda: self._ask_modal(context.team_id))
        if word == "help":
            text, blocks = messaging_help()
            return ack(text=text, blocks=blocks, response_type="ephemeral")
        with self.cf.transaction() as session:
            if word == "results" and rest.strip():
                reply = ask_results_message(ask_results(
                    session=session, team_id=context.team_id, user_id=context.user_id, which=rest, now=_now(),
                    configured_admins=self.cf.settings.admin_user_ids))
            elif word == "results":
                reply = my_asks_message(asks_of(session=session, team_id=context.team_id,
                                                user_id=context.user_id, now=_now()))
            elif not word:
                reply = open_asks_message(open_asks(session=session, team_id=context.team_id, now=_now()))
            else:
                raise InvalidInput({"command": "Try `/messaging` (open asks), `/messaging ask`, "
                                               "`/messaging results [#number]` or `/messaging help`."})
        text, blocks = reply
        ack(text=text, blocks=blocks, response_type="ephemeral")

    def on_ask_submitted(self, ack: Ack, body: dict, view: dict, context) -> None:
        values = ViewState(view)
        try:
            ask = parse(AskInput, dict(
                name=values.text(Ids.NAME), link=values.text(Ids.LINK), description=values.text(Ids.DESCRIPTION),
                channel_id=values.conversation(Ids.CHANNEL), user_ids=values.users(Ids.PEOPLE),
                usergroup_id=values.choice(Ids.GROUP), days=values.text(Ids.DAYS),
                previous_ask_id=values.choice(Ids.PREVIOUS),
            ))
            with self.cf.transaction() as session:
                sent = submit_ask(session=session, team_id=context.team_id, user_id=context.user_id, ask=ask,
                                  submission_key=view["id"], now=_now())
        except InvalidInput as invalid:
            return ack(response_action="errors", errors={ASK_FORM_BLOCKS.get(field, Ids.NAME): message
                                                         for field, message in invalid.fields.items()})
        ack()
        self.cf.later(body, lambda: self._confirm_ask(
            context.team_id, context.user_id, sent or self._send_group_ask(context.team_id, context.user_id, ask,
                                                                           submission_key=view["id"])))

    def on_reaction_clicked(self, ack: Ack, body: dict, action: dict, context) -> None:
        """A card button: open the answer modal prefilled with that reaction."""
        ack()
        try:
            value = ReactionValue.model_validate_json(action.get("value") or "")
        except ValidationError:
            raise InvalidInput({"reaction": "That button is from an old version of this card."}) from None
        with self.cf.transaction() as session:
            form = answer_form(session=session, team_id=context.team_id, user_id=context.user_id,
                               ask_id=value.a, reaction=value.r, now=_now())
        container = body.get("container") or {}
        metadata = AnswerMetadata(a=value.a, channel=container.get("channel_id"), ts=container.get("message_ts"))
        self.cf.open_modal_after_ack(body, answer_modal(form, metadata))

    def on_answer_submitted(self, ack: Ack, body: dict, view: dict, context) -> None:
        metadata = AnswerMetadata.model_validate_json(view.get("private_metadata") or "{}")
        values = ViewState(view)
        try:
            answer = parse(AnswerInput, dict(
                reaction=values.choice(Ids.REACTION) or "", used_in=values.choices(Ids.USED_IN),
                stage=values.choice(Ids.STAGE), quote=values.text(Ids.QUOTE), suggestion=values.text(Ids.SUGGESTION),
            ))
            with self.cf.transaction() as session:
                updated = record_answer(session=session, team_id=context.team_id, user_id=context.user_id,
                                        ask_id=metadata.a, answer=answer, now=_now())
        except InvalidInput as invalid:
            return ack(response_action="errors", errors={ANSWER_FORM_BLOCKS.get(field, Ids.REACTION): message
                                                         for field, message in invalid.fields.items()})
        ack()
        self.cf.later(body, lambda: self._confirm_answer(context.team_id, context.user_id, metadata, updated,
                                                          answer.reaction))

    def on_change_clicked(self, ack: Ack, body: dict, action: dict, context) -> None:
        """The summary's "Post what we changed": the modal, with the text posted earlier to edit."""
        ack()
        ask_id = record_id(action.get("value"))
        if ask_id is None:
            raise InvalidInput({"ask": "That button is from an old version of this message."})
        with self.cf.transaction() as session:
            form = change_form(session=session, team_id=context.team_id, user_id=context.user_id,
                               ask_id=ask_id, configured_admins=self.cf.settings.admin_user_ids)
        self.cf.open_modal_after_ack(body, change_modal(form))

    def on_change_submitted(self, ack: Ack, view: dict, context) -> None:
        ask_id = record_id(view.get("private_metadata"))
        if ask_id is None:
            raise InvalidInput({"ask": "This form is from an old version of Crossfeed; open it again."})
        values = ViewState(view)
        try:
            change = parse(ChangeInput, dict(note=values.text(Ids.CHANGE_NOTE), link=values.text(Ids.CHANGE_LINK)))
            with self.cf.transaction() as session:
                posted = post_change(session=session, team_id=context.team_id, user_id=context.user_id,
                                     ask_id=ask_id, change=change, now=_now(),
                                     configured_admins=self.cf.settings.admin_user_ids)
        except InvalidInput as invalid:
            return ack(response_action="errors", errors={CHANGE_FORM_BLOCKS.get(field, Ids.CHANGE_NOTE): message
                                                         for field, message in invalid.fields.items()})
        ack(response_action="update", view=change_posted_view(posted))

    # --- after ack -------------------------------------------------------------------------------

    def _ask_modal(self, team_id: str) -> View:
        """The ask modal, with the workspace's user groups (a Slack call, so made after the ack)."""
        groups = self.cf.usergroup_choices(team_id)
        with self.cf.transaction() as session:
            channel = sales_channel(session=session, team_id=team_id, default=self.cf.settings.sales_channel)
            earlier = version_choices(session=session, team_id=team_id)
            days = ask_open_days(session=session, team_id=team_id)
        return ask_modal(default_channel=channel, usergroups=groups, earlier_asks=earlier, default_days=days)

    def _send_group_ask(self, team_id: str, user_id: str, ask: AskInput, *, submission_key: str) -> AskSent:
        """A DM ask naming a user group: read the group, then store the ask and queue its DMs (once per key)."""
        recipients = group_ask_recipients(self.cf.client_for, team_id=team_id, ask=ask)
        with self.cf.transaction() as session:
            sent = create_ask(session=session, team_id=team_id, user_id=user_id, ask=ask, recipients=recipients,
                              submission_key=submission_key, now=_now())
        return sent

    def _confirm_ask(self, team_id: str, user_id: str, sent: AskSent) -> None:
        text, blocks = ask_sent(sent)
        self.cf.client_for(team_id).chat_postMessage(channel=user_id, text=text, blocks=blocks)

    def _confirm_answer(self, team_id: str, user_id: str, metadata: AnswerMetadata, view: AskView,
                        reaction: str) -> None:
        client = self.cf.client_for(team_id)
        if view.audience == "dm" and metadata.channel and metadata.ts:
            text, blocks = ask_card(view, your_reaction=reaction)
            client.chat_update(channel=metadata.channel, ts=metadata.ts, text=text, blocks=blocks)
        elif metadata.channel:
            client.chat_postEphemeral(channel=metadata.channel, user=user_id, text=answer_thanks(view, reaction))
        else:
            client.chat_postMessage(channel=user_id, text=answer_thanks(view, reaction))

    def register(self, app: App) -> None:
        app.command("/messaging")(self.on_command)
        app.view(Ids.ASK_MODAL)(self.on_ask_submitted)
        app.action(re.compile(r"^messaging\.react\.[a-z_]+$"))(self.on_reaction_clicked)
        app.view(Ids.ANSWER_MODAL)(self.on_answer_submitted)
        app.action(Ids.CHANGE)(self.on_change_clicked)
        app.view(Ids.CHANGE_MODAL)(self.on_change_submitted)


def register(app: App, crossfeed: Crossfeed) -> None:
    Messaging(crossfeed).register(app)
