"""/pulse and the pulse DM: answer buttons, the comment modal, the `/pulse` modal, results."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pydantic import ValidationError
from slack_bolt import Ack, App

from bot.blocks.ids import PulseIds as Ids
from bot.blocks.people import away_marked_message, back_marked_message, pulse_help_message
from bot.blocks.pulse import (
    PulseFormMetadata,
    comment_modal,
    pulse_form_modal,
    pulse_prompt_message,
    pulse_results_message,
    pulse_state_message,
)
from bot.container import Crossfeed
from bot.errors import InvalidInput
from bot.people import mark_away
from bot.pulse import (
    PulseButtonValue,
    come_back,
    flush_answered_marks,
    prompt_for,
    pulse_form_state,
    pulse_results,
    record_pulse_click,
    record_pulse_comment,
    record_pulse_form,
    secret_of,
    sent_prompt,
)
from bot.results import record_id
from bot.slack_requests import ViewState
from bot.text import plain_command_text


def _now() -> datetime:
    return datetime.now(UTC)


class Pulse:
    """Listeners for pulse checks."""

    def __init__(self, crossfeed: Crossfeed):
        self.cf = crossfeed
        self.secret = secret_of(crossfeed.settings)

    def on_command(self, ack: Ack, body: dict, context) -> None:
        """`/pulse` opens the open round in a modal; `/pulse results` shows the last closed round; `/pulse away
        until DATE` and `/pulse back` mark time off; `/pulse help` lists them."""
        words = plain_command_text(body.get("text", "")).split(maxsplit=1)
        first, rest = (words[0].casefold() if words else ""), (words[1] if len(words) > 1 else "")
        if first == "results" and not rest:
            with self.cf.transaction() as session:
                results = pulse_results(session=session, team_id=context.team_id, now=_now())
            text, blocks = pulse_results_message(results)
            return ack(text=text, blocks=blocks, response_type="ephemeral")
        if first == "away":
            with self.cf.transaction() as session:
                marked = mark_away(session=session, team_id=context.team_id, user_id=context.user_id, text=rest,
                                   now=_now(), default_zone=self.cf.settings.workspace_timezone)
            text, blocks = away_marked_message(marked)
            return ack(text=text, blocks=blocks, response_type="ephemeral")
        if first == "back" and not rest:
            with self.cf.transaction() as session:
                back = come_back(session=session, team_id=context.team_id, user_id=context.user_id, now=_now(),
                                 default_zone=self.cf.settings.workspace_timezone)
            text, blocks = back_marked_message(back)
            return ack(text=text, blocks=blocks, response_type="ephemeral")
        if first not in ("", "answer") or rest:
            text, blocks = pulse_help_message(None if first == "help" else "That isn't a `/pulse` command I know.")
            return ack(text=text, blocks=blocks, response_type="ephemeral")
        with self.cf.transaction() as session:
            state = pulse_form_state(session=session, team_id=context.team_id, user_id=context.user_id,
                                     now=_now(), secret=self.secret,
                                     default_zone=self.cf.settings.workspace_timezone)
        if state.prompt is None:
            text, blocks = pulse_state_message(state)
            return ack(text=text, blocks=blocks, response_type="ephemeral")
        ack()
        self.cf.open_modal_after_ack(body, pulse_form_modal(state.prompt))

    def on_answer_clicked(self, ack: Ack, body: dict, action: dict, context) -> None:
        """A 1–5 button in the DM: store the answer and show it in the message, in place."""
        ack()
        value = _button_value(action)
        with self.cf.transaction() as session:
            prompt = record_pulse_click(session=session, secret=self.secret, team_id=context.team_id,
                                        user_id=context.user_id, value=value, now=_now())
        self._flush_marks(value.r)
        self.cf.outbox.refresh_home_unrecorded(context.team_id, context.user_id)  # no row: anonymity
        text, blocks = pulse_prompt_message(prompt)
        self.cf.later(body, lambda: self.cf.client_for(context.team_id).chat_update(
            channel=body["channel"]["id"], ts=body["message"]["ts"], text=text, blocks=blocks))

    def on_comment_clicked(self, ack: Ack, body: dict, action: dict, context) -> None:
        """"Add a comment" in the DM opens a short modal."""
        ack()
        value = _button_value(action)
        with self.cf.transaction() as session:
            prompt = prompt_for(session=session, round_id=value.r, user_id=context.user_id, secret=self.secret)
        if prompt is None:
            raise InvalidInput({"comment": "This pulse wasn't sent to you."})
        self.cf.open_modal_after_ack(body, comment_modal(prompt))

    def on_comment_submitted(self, ack: Ack, body: dict, view: dict, context) -> None:
        value = PulseButtonValue.model_validate_json(view.get("private_metadata") or "{}")
        text = ViewState(view).text(Ids.COMMENT_TEXT)
        try:
            with self.cf.transaction() as session:
                record_pulse_comment(session=session, secret=self.secret, team_id=context.team_id,
                                     user_id=context.user_id, round_id=value.r, text=text, now=_now())
        except InvalidInput as invalid:
            return ack(response_action="errors", errors={Ids.COMMENT_TEXT: " ".join(invalid.fields.values())})
        ack()
        self._flush_marks(value.r)
        self.cf.outbox.refresh_home_unrecorded(context.team_id, context.user_id)  # no row: anonymity

    def on_form_submitted(self, ack: Ack, body: dict, view: dict, context) -> None:
        """The `/pulse` modal's Send."""
        metadata = PulseFormMetadata.model_validate_json(view.get("private_metadata") or "{}")
        values = view["state"]["values"]
        scores = {}
        for block_id, fields in values.items():
            if match := re.fullmatch(re.escape(Ids.QUESTION) + r"(\d+)", block_id):
                chosen = (fields.get(block_id) or {}).get("selected_option") or {}
                if (score := record_id(chosen.get("value"))) is not None:
                    scores[int(match[1])] = score
        comment = ViewState(view).text(Ids.COMMENT_TEXT)
        try:
            with self.cf.transaction() as session:
                record_pulse_form(session=session, secret=self.secret, team_id=context.team_id,
                                  user_id=context.user_id, round_id=metadata.r, scores=scores, comment=comment,
                                  now=_now())
        except InvalidInput as invalid:
            errors = {(Ids.COMMENT_TEXT if field == "comment" else f"{Ids.QUESTION}{field[1:]}"): message
                      for field, message in invalid.fields.items()}
            return ack(response_action="errors", errors=errors)
        ack()
        self._flush_marks(metadata.r)
        self.cf.outbox.refresh_home_unrecorded(context.team_id, context.user_id)  # no row: anonymity
        self._show_in_dm(body, context.team_id, context.user_id, metadata.r)

    # --- after ack -------------------------------------------------------------------------------

    def _flush_marks(self, round_id: int) -> None:
        # Its own transaction, after the answer's has committed: the answer's names nobody.
        with self.cf.transaction() as session:
            flush_answered_marks(session=session, secret=self.secret, round_id=round_id)

    def _show_in_dm(self, body: dict, team_id: str, user_id: str, round_id: int) -> None:
        """Update the person's pulse DM to show what they answered in the form (a Slack call, no write)."""
        with self.cf.transaction() as session:
            sent = sent_prompt(session=session, team_id=team_id, round_id=round_id, user_id=user_id)
            prompt = prompt_for(session=session, round_id=round_id, user_id=user_id, secret=self.secret)
        if sent is None or prompt is None:
            return
        text, blocks = pulse_prompt_message(prompt)
        client = self.cf.client_for(team_id)
        self.cf.later(body, lambda: client.chat_update(channel=sent[0], ts=sent[1], text=text, blocks=blocks))

    def register(self, app: App) -> None:
        app.command("/pulse")(self.on_command)
        app.action(re.compile(r"^pulse\.answer\.\d+\.\d$"))(self.on_answer_clicked)
        app.action(Ids.COMMENT)(self.on_comment_clicked)
        app.view(Ids.COMMENT_MODAL)(self.on_comment_submitted)
        app.view(Ids.FORM)(self.on_form_submitted)


def _button_value(action: dict) -> PulseButtonValue:
    try:
        return PulseButtonValue.model_validate_json(action.get("value") or "")
    except ValidationError:
        raise InvalidInput({"answer": "That button is from an old version of this message."}) from None


def register(app: App, crossfeed: Crossfeed) -> None:
    Pulse(crossfeed).register(app)
