"""/alignment: setup, teams, admins, schedules, the digest, export and data rights.

A thin adapter: the text is read into a sub-command model at the edge (bot/admin_commands.py) and the
admin service (bot/admin.py) does the work; this module answers Slack and renders what comes back.
"""

from __future__ import annotations

from slack_bolt import Ack, App

from bot.admin import AdminOutcome, AdminService
from bot.admin_commands import ActionCommand, Forget, Setup, Show, command_named
from bot.blocks.alignment import (
    forget_confirmation,
    forgotten_message,
    help_message,
    notice,
    roster_message,
    status_message,
)
from bot.blocks.digest import definition_modal, digest_message
from bot.blocks.ids import AlignmentIds, LeadIds, SetupIds
from bot.blocks.setup import NO_GROUP, setup_modal, setup_saved_view
from bot.container import Crossfeed
from bot.digest_posting import post_workspace_digest
from bot.errors import InvalidInput, parse
from bot.follow_up_stats import qualified_lead_definition
from bot.setup import SetupForm, codes_in, shown_weeks
from handlers.actions import Actions


def _input_value(element: dict) -> object:
    """What one modal input holds, whatever its kind (empty selects send null)."""
    kind = element.get("type")
    if kind == "checkboxes":
        return [option.get("value") for option in element.get("selected_options") or []]
    if kind == "static_select":
        value = (element.get("selected_option") or {}).get("value")
        return None if value == NO_GROUP else value
    for key in ("selected_conversations", "selected_users"):
        if key in element:
            return element[key] or []
    for key in ("selected_conversation", "selected_user", "selected_time"):
        if key in element:
            return element[key]
    return element.get("value")


class Alignment:
    """Listeners for /alignment."""

    def __init__(self, crossfeed: Crossfeed):
        self.cf = crossfeed
        self.admin = AdminService(
            transaction=crossfeed.transaction, client_for=crossfeed.client_for, settings=crossfeed.settings,
            post_digest=lambda *, team_id, week, now: post_workspace_digest(
                crossfeed.sessions, crossfeed.client_for, team_id=team_id, week=week, now=now,
                default_zone=crossfeed.settings.workspace_timezone),
        )
        self.actions = Actions(crossfeed)  # `/alignment action …`: open to both teams, not only admins

    def on_command(self, ack: Ack, body: dict, context) -> None:
        raw = body.get("text", "")
        kind = command_named(raw)
        try:
            command = kind.read(raw)
        except InvalidInput:
            if kind.checks_admin_first:
                self.admin.refuse_unless_admin(team_id=context.team_id, user_id=context.user_id)
            raise
        if isinstance(command, Show):
            return self._show(ack, context.team_id, command)
        if isinstance(command, ActionCommand):
            return self.actions.on_command(ack, body, context, command)
        if isinstance(command, Forget):
            self.admin.require_admin(team_id=context.team_id, user_id=context.user_id)
            text, blocks = forget_confirmation(command.user)
            return ack(text=text, blocks=blocks, response_type="ephemeral")
        if isinstance(command, Setup):
            return self._open_setup(ack, body, context)
        outcome = self.admin.run(command, team_id=context.team_id, user_id=context.user_id)
        text, blocks = notice(outcome.done, first_admin=outcome.became_first_admin)
        ack(text=text, blocks=blocks, response_type="ephemeral")
        self._after_ack(body, context, outcome)

    def _after_ack(self, body: dict, context, outcome: AdminOutcome) -> None:
        if outcome.became_first_admin:
            self.cf.later(body, lambda: self.admin.adopt_timezone(context.team_id, context.user_id))
        if outcome.follow_up:
            follow_up = outcome.follow_up

            def follow_up_and_say() -> None:
                if said := follow_up():
                    self.cf.webhook(body["response_url"]).send(text=said, response_type="ephemeral",
                                                               replace_original=False)

            self.cf.later(body, follow_up_and_say)

    def _show(self, ack: Ack, team_id: str, command: Show) -> None:
        """`team list`, `admin list`, `status`, `digest [last]` previews, or help for anything else."""
        if command.what == "digest":
            text, blocks = digest_message(self.admin.digest_preview(team_id, command.which))
        elif command.what == "status":
            text, blocks = status_message(self.admin.status(team_id))
        elif command.what == "roster":
            text, blocks = roster_message(self.admin.roster(team_id))
        else:
            text, blocks = help_message()
        ack(text=text, blocks=blocks, response_type="ephemeral")

    def _open_setup(self, ack: Ack, body: dict, context) -> None:
        """`/alignment setup` (admins): the configuration modal, prefilled."""
        check = self.admin.require_admin(team_id=context.team_id, user_id=context.user_id)
        if check.became_first_admin:
            text, blocks = notice("Opening setup…", first_admin=True)
            ack(text=text, blocks=blocks, response_type="ephemeral")
        else:
            ack()

        def modal():
            if check.became_first_admin:
                # The modal shows the time zone just adopted, so saving it doesn't put UTC back.
                self.admin.adopt_timezone(context.team_id, context.user_id)
            groups = self.cf.usergroup_choices(context.team_id)
            return setup_modal(self.admin.setup_state(context.team_id), usergroups=groups)

        self.cf.open_modal_after_ack(body, modal)

    def on_setup_submitted(self, ack: Ack, body: dict, view: dict, context) -> None:
        fields = {block: _input_value(element)
                  for block, elements in view["state"]["values"].items() for element in elements.values()}
        # What the modal showed when it opened (Slack sends the view back): only those codes can be retired, and
        # only the admin's own edits of the lists a command also changes are applied.
        opened = {b.get("block_id"): b.get("element") or {} for b in view.get("blocks", [])}
        shown = dict(
            shown_reasons=codes_in(opened.get(SetupIds.BAD_REASONS, {}).get("initial_value"))
            | codes_in(opened.get(SetupIds.GOOD_REASONS, {}).get("initial_value")),
            shown_sources=codes_in(opened.get(SetupIds.SOURCES, {}).get("initial_value")),
            shown_skipped_weeks=shown_weeks(opened.get(SetupIds.SKIPPED_PULSE_WEEKS, {}).get("initial_value")),
            shown_digest_channels=opened.get(SetupIds.DIGEST_CHANNELS, {}).get("initial_conversations") or [],
        )
        try:
            form = parse(SetupForm, {**fields, **shown})
            saved = self.admin.save_setup(team_id=context.team_id, user_id=context.user_id, form=form)
        except InvalidInput as invalid:
            blocks = set(fields)
            return ack(response_action="errors", errors={
                field if field in blocks else SetupIds.TIMEZONE: message for field, message in invalid.fields.items()
            })
        ack(response_action="update", view=setup_saved_view(saved))
        if saved.groups_to_sync:
            self.cf.later(body, lambda: self.admin.sync_usergroups(context.team_id, saved.groups_to_sync))

    def on_forget_confirmed(self, ack: Ack, action: dict, context, respond) -> None:
        ack()
        person = action["value"]
        deleted = self.admin.forget(team_id=context.team_id, user_id=context.user_id, person=person)
        respond(text=forgotten_message(person, deleted), replace_original=True)

    def on_forget_cancelled(self, ack: Ack, respond) -> None:
        ack()
        respond(text="Cancelled: nothing was deleted.", replace_original=True)

    def on_definition_clicked(self, ack: Ack, body: dict, context) -> None:
        """The digest's "What counts as a qualified lead": the workspace's definition, for whoever clicks."""
        ack()

        def modal():
            with self.cf.transaction() as session:
                return definition_modal(qualified_lead_definition(session=session, team_id=context.team_id))
        self.cf.open_modal_after_ack(body, modal)

    def register(self, app: App) -> None:
        app.command("/alignment")(self.on_command)
        app.action(LeadIds.DEFINITION)(self.on_definition_clicked)
        app.action(AlignmentIds.FORGET_CONFIRM)(self.on_forget_confirmed)
        app.action(AlignmentIds.FORGET_CANCEL)(self.on_forget_cancelled)
        app.view(SetupIds.MODAL)(self.on_setup_submitted)


def register(app: App, crossfeed: Crossfeed) -> None:
    Alignment(crossfeed).register(app)
