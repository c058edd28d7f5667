"""App Home: published when someone opens it; refreshed by the outbox after they change something anywhere."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_bolt import Ack, App

from bot.blocks.common import notice_modal
from bot.blocks.home import typed_source_notice
from bot.blocks.ids import HomeIds
from bot.blocks.pulse import pulse_form_modal, pulse_state_message
from bot.container import Crossfeed
from bot.pulse import pulse_form_state, secret_of
from bot.results import record_id
from bot.results.home import FiledTypedSource
from bot.typed_sources import approve_typed_source, merge_typed_source


def _now() -> datetime:
    return datetime.now(UTC)


class Home:
    """The Home tab's listeners. Services queue a Home refresh with the change that affects it (one outbox row
    per person), so a refresh follows every write, in a request, after its ack or by the clock."""

    def __init__(self, crossfeed: Crossfeed):
        self.cf = crossfeed

    def on_home_opened(self, event: dict, context) -> None:
        """Publish the Home tab when someone opens it.

        Queued like every other refresh, not published from here: the person's one outbox row keeps one
        sender at a time, so a refresh composed earlier can never land after this newer one. The commit
        starts the delivery at once.
        """
        if event.get("tab") not in (None, "home"):
            return
        self.cf.outbox.refresh_home(context.team_id, event["user"])

    def on_answer_pulse_clicked(self, ack: Ack, body: dict, context) -> None:
        """Home's "Answer the pulse": the `/pulse` form, or why there is nothing to answer any more."""
        ack()
        with self.cf.transaction() as session:
            state = pulse_form_state(session=session, team_id=context.team_id, user_id=context.user_id,
                                     now=_now(), secret=secret_of(self.cf.settings),
                                     default_zone=self.cf.settings.workspace_timezone)
        view = pulse_form_modal(state.prompt) if state.prompt else notice_modal(pulse_state_message(state)[0])
        self.cf.open_modal_after_ack(body, view)

    def on_approve_source_clicked(self, ack: Ack, body: dict, action: dict, context) -> None:
        """An admin's Approve on a source typed by reps: it becomes a source. Every admin's Home is refreshed."""
        ack()
        with self.cf.transaction() as session:
            filed = approve_typed_source(session=session, team_id=context.team_id, user_id=context.user_id,
                                         key=action.get("value"), now=_now(),
                                         configured_admins=self.cf.settings.admin_user_ids)
        self._say_if_unchanged(body, filed)

    def on_merge_source_picked(self, ack: Ack, body: dict, action: dict, context) -> None:
        """An admin's Merge into… on a source typed by reps: filed under the picked source, as one of its names."""
        ack()
        with self.cf.transaction() as session:
            filed = merge_typed_source(
                session=session, team_id=context.team_id, user_id=context.user_id,
                key=(action.get("block_id") or "").removeprefix(f"{HomeIds.TYPED_SOURCE}."),
                source_id=record_id((action.get("selected_option") or {}).get("value")), now=_now(),
                configured_admins=self.cf.settings.admin_user_ids)
        self._say_if_unchanged(body, filed)

    def _say_if_unchanged(self, body: dict, filed: FiledTypedSource) -> None:
        # A change shows on the refreshed Home; a click that changed nothing (a double click, another admin
        # first) says so, as nothing on Home would.
        if not filed.changed:
            self.cf.open_modal_after_ack(body, notice_modal(typed_source_notice(filed)))

    def register(self, app: App) -> None:
        app.event("app_home_opened")(self.on_home_opened)
        app.action(HomeIds.ANSWER_PULSE)(self.on_answer_pulse_clicked)
        app.action(HomeIds.APPROVE_SOURCE)(self.on_approve_source_clicked)
        app.action(HomeIds.MERGE_SOURCE)(self.on_merge_source_picked)


def register(app: App, crossfeed: Crossfeed) -> None:
    Home(crossfeed).register(app)
