"""Actions: the "Log action" button on any surface, its modal, Done / Drop, and `/alignment action`."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_bolt import Ack, App

from bot.actions import (
    ActionInput,
    OutcomeInput,
    action_form,
    close_action,
    closing_form,
    command_key,
    log_action,
    open_actions,
)
from bot.admin_commands import ActionCommand
from bot.blocks.actions import (
    LIST_BLOCK,
    ClosingMetadata,
    action_modal,
    actions_list_message,
    closed_view,
    logged_message,
    logged_view,
    outcome_modal,
)
from bot.blocks.ids import ActionIds as Ids
from bot.container import Crossfeed
from bot.errors import InvalidInput, parse
from bot.results import record_id
from bot.results.actions import ActionPrompt
from bot.slack_requests import ViewState

# ActionInput field → the modal block that shows its error.
FORM_BLOCKS = {"title": Ids.TITLE, "owner_user_id": Ids.OWNER, "due_on": Ids.DUE}


def _now() -> datetime:
    return datetime.now(UTC)


class Actions:
    """Listeners for actions; `/alignment action` reaches `on_command` through the /alignment listener."""

    def __init__(self, crossfeed: Crossfeed):
        self.cf = crossfeed

    @property
    def _who(self) -> dict:
        """What every service call needs from settings: the configured admins and the default time zone."""
        settings = self.cf.settings
        return dict(configured_admins=settings.admin_user_ids, default_zone=settings.workspace_timezone)

    def on_command(self, ack: Ack, body: dict, context, command: ActionCommand) -> None:
        """`/alignment action` (the form), `… list [mine]`, `… "title" @owner [date]`."""
        if command.what == "form":
            with self.cf.transaction() as session:
                form = action_form(session=session, team_id=context.team_id, user_id=context.user_id,
                                   prompt=ActionPrompt(), now=_now(), **self._who)
            ack()
            return self.cf.open_modal_after_ack(body, action_modal(form))
        with self.cf.transaction() as session:
            if command.what == "list":
                reply = actions_list_message(open_actions(session=session, team_id=context.team_id,
                                                          user_id=context.user_id, mine=command.mine, now=_now(),
                                                          **self._who))
            else:
                action = parse(ActionInput, dict(title=command.title, owner_user_id=command.owner, due_on=command.due))
                key = command_key(trigger_id=body.get("trigger_id", ""), user_id=context.user_id,
                                  text=body.get("text", ""))
                reply = logged_message(log_action(session=session, team_id=context.team_id, user_id=context.user_id,
                                                  action=action, prompt=ActionPrompt(), submission_key=key,
                                                  now=_now(), **self._who))
        text, blocks = reply
        ack(text=text, blocks=blocks, response_type="ephemeral")

    def on_log_clicked(self, ack: Ack, body: dict, action: dict, context) -> None:
        """A "Log action" button anywhere: the modal, prefilled with what prompted it."""
        ack()
        prompt = ActionPrompt.from_value(action.get("value"))
        with self.cf.transaction() as session:
            form = action_form(session=session, team_id=context.team_id, user_id=context.user_id, prompt=prompt,
                               now=_now(), **self._who)
        self.cf.open_modal_after_ack(body, action_modal(form))

    def on_log_submitted(self, ack: Ack, view: dict, context) -> None:
        values = ViewState(view)
        prompt = ActionPrompt.from_value(view.get("private_metadata"))
        try:
            action = parse(ActionInput, dict(title=values.text(Ids.TITLE), owner_user_id=values.user(Ids.OWNER),
                                             due_on=values.date(Ids.DUE)))
            with self.cf.transaction() as session:
                logged = log_action(session=session, team_id=context.team_id, user_id=context.user_id, action=action,
                                    prompt=prompt, submission_key=view["id"], now=_now(), **self._who)
        except InvalidInput as invalid:
            return ack(response_action="errors", errors={FORM_BLOCKS.get(field, Ids.TITLE): message
                                                         for field, message in invalid.fields.items()})
        ack(response_action="update", view=logged_view(logged))

    def _on_close_clicked(self, status: str, ack: Ack, body: dict, action: dict, context) -> None:
        ack()
        action_id = record_id(action.get("value"))
        if action_id is None:
            raise InvalidInput({"action": "That button is from an old version of this message."})
        # A click in an `/alignment action list` answer: the list is refreshed through its response_url.
        block = action.get("block_id") or ""
        from_list = block.startswith(LIST_BLOCK + ".")
        url = body.get("response_url") if from_list and self.cf.is_response_url(body.get("response_url")) else None
        metadata = ClosingMetadata(a=action_id, s=status, url=url,
                                   mine=block.startswith(f"{LIST_BLOCK}.mine."))
        with self.cf.transaction() as session:
            shown = closing_form(session=session, team_id=context.team_id, user_id=context.user_id,
                                 action_id=metadata.a, now=_now(), **self._who)
        self.cf.open_modal_after_ack(body, outcome_modal(shown, metadata))

    def on_done_clicked(self, ack: Ack, body: dict, action: dict, context) -> None:
        self._on_close_clicked("done", ack, body, action, context)

    def on_drop_clicked(self, ack: Ack, body: dict, action: dict, context) -> None:
        self._on_close_clicked("dropped", ack, body, action, context)

    def on_closing_submitted(self, ack: Ack, body: dict, view: dict, context) -> None:
        metadata = ClosingMetadata.model_validate_json(view.get("private_metadata") or "{}")
        try:
            outcome = parse(OutcomeInput, dict(status=metadata.s, outcome=ViewState(view).text(Ids.OUTCOME)))
            with self.cf.transaction() as session:
                closed = close_action(session=session, team_id=context.team_id, user_id=context.user_id,
                                      action_id=metadata.a, outcome=outcome, now=_now(), **self._who)
        except InvalidInput as invalid:
            return ack(response_action="errors", errors={Ids.OUTCOME: " ".join(invalid.fields.values())})
        ack(response_action="update", view=closed_view(closed))
        if self.cf.is_response_url(metadata.url):  # the list's own response_url, as the click gave it
            self.cf.later(body, lambda: self._refresh_list(context.team_id, context.user_id, metadata))

    def _refresh_list(self, team_id: str, user_id: str, metadata: ClosingMetadata) -> None:
        """The list the click came from, as it is now (the closed action gone from it)."""
        with self.cf.transaction() as session:
            listed = open_actions(session=session, team_id=team_id, user_id=user_id, mine=metadata.mine, now=_now(),
                                  **self._who)
        text, blocks = actions_list_message(listed)
        self.cf.webhook(metadata.url).send(text=text, blocks=blocks, response_type="ephemeral", replace_original=True)

    def register(self, app: App) -> None:
        app.action(Ids.NEW)(self.on_log_clicked)
        app.view(Ids.MODAL)(self.on_log_submitted)
        app.action(Ids.DONE)(self.on_done_clicked)
        app.action(Ids.DROP)(self.on_drop_clicked)
        app.view(Ids.DONE_MODAL)(self.on_closing_submitted)


def register(app: App, crossfeed: Crossfeed) -> None:
    Actions(crossfeed).register(app)
