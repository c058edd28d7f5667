"""App Home: published when someone opens it, and again after they change something anywhere in Crossfeed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from slack_bolt import Ack, App
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from bot.blocks.common import notice_modal
from bot.blocks.home import home_view
from bot.blocks.ids import HomeIds
from bot.blocks.pulse import pulse_form_modal, pulse_state_message
from bot.container import Crossfeed
from bot.home import home_summary
from bot.pulse import pulse_form_state, secret_of

logger = logging.getLogger(__name__)

WROTE = "crossfeed.home.wrote"  # Session.info key: this transaction wrote something
ACTS = ("block_actions", "view_submission")  # with slash commands: what a person does
REFRESH_DELAY = 0.5  # seconds from a change to the refresh it starts


def _now() -> datetime:
    return datetime.now(UTC)


def _note_statement(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[WROTE] = True


def _note_flush(session: Session, _flush_context) -> None:
    session.info[WROTE] = True


def _forget_writes(session: Session) -> None:
    session.info.pop(WROTE, None)


class Home:
    """Publishes each person's Home tab.

    Refreshing after the person acts happens here, once, for every surface. Bolt's `next()` only lets
    the chain go on (listeners run after every middleware has returned), so a middleware cannot wait
    for the listener's write; work it scheduled would race it. Instead the middleware notes whose
    request this thread serves, and a Session `after_commit` hook schedules the refresh when that
    thread commits a transaction that wrote something: after the change, and only when there was one.
    Listeners run on the request's thread because the app is built with process_before_response=True.
    """

    def __init__(self, crossfeed: Crossfeed):
        self.cf = crossfeed
        self._serving = threading.local()
        self._queued: set[tuple[str, str]] = set()
        self._queued_lock = threading.Lock()
        # One person's refreshes run one at a time, so an older view never replaces a newer one.
        self._publishing = [threading.Lock() for _ in range(16)]

    def on_home_opened(self, event: dict, context) -> None:
        """Publish the Home tab when someone opens it."""
        if event.get("tab") not in (None, "home"):
            return
        self._publish_soon(context.team_id, event["user"])

    def on_answer_pulse_clicked(self, ack: Ack, body: dict, context) -> None:
        """Home's "Answer the pulse": the `/pulse` form, or why there is nothing to answer any more."""
        ack()
        with self.cf.transaction() as session:
            state = pulse_form_state(session=session, team_id=context.team_id, user_id=context.user_id,
                                     now=_now(), secret=secret_of(self.cf.settings),
                                     default_zone=self.cf.settings.workspace_timezone)
        view = pulse_form_modal(state.prompt) if state.prompt else notice_modal(pulse_state_message(state)[0])
        self.cf.open_modal_after_ack(body, view)

    # --- refreshing after the person acts --------------------------------------------------------

    def note_person_acting(self, body: dict, context, next_: Callable[[], None]) -> None:
        """Global middleware: remember whose click, modal submission or command this thread is serving."""
        acting = body.get("type") in ACTS or "command" in body
        self._serving.person = (context.team_id, context.user_id) if acting and context.user_id else None
        next_()

    def _on_commit(self, session: Session) -> None:
        # Runs inside the listener's commit: it must never raise into it.
        try:
            person = getattr(self._serving, "person", None)
            if session.info.pop(WROTE, False) and person and person[0]:
                self.refresh(*person)
        except Exception:
            logger.exception("could not schedule a Home refresh")

    def refresh(self, team_id: str, user_id: str) -> None:
        """Publish this person's Home shortly: changes made meanwhile (two pulse clicks, a few ratings) share it."""
        key = (team_id, user_id)
        with self._queued_lock:
            if key in self._queued:
                return  # the refresh already waiting will see this change too
            self._queued.add(key)
        timer = threading.Timer(REFRESH_DELAY, self._publish_soon, args=key)
        timer.daemon = True
        timer.start()

    def _publish_soon(self, team_id: str, user_id: str) -> None:
        """Publish in the background; a failure is logged, never shown to the person."""

        def failed(error: Exception) -> None:
            logger.error("could not refresh the Home tab of %s in %s", user_id, team_id, exc_info=error)

        try:
            self.cf.after_ack.run(self.publish, team_id, user_id, on_error=failed)
        except RuntimeError:  # shutting down: the next time they open Home it is published afresh
            with self._queued_lock:
                self._queued.discard((team_id, user_id))

    def publish(self, team_id: str, user_id: str) -> None:
        """Build and publish one person's Home tab now."""
        key = (team_id, user_id)
        with self._publishing[hash(key) % len(self._publishing)]:
            with self._queued_lock:
                self._queued.discard(key)
            with self.cf.transaction() as session:
                summary = home_summary(session=session, team_id=team_id, user_id=user_id, now=_now(),
                                       configured_admins=self.cf.settings.admin_user_ids,
                                       default_zone=self.cf.settings.workspace_timezone,
                                       pulse_secret=secret_of(self.cf.settings))
            self.cf.client.views_publish(user_id=user_id, view=home_view(summary))

    def register(self, app: App) -> None:
        app.use(self.note_person_acting)
        app.event("app_home_opened")(self.on_home_opened)
        app.action(HomeIds.ANSWER_PULSE)(self.on_answer_pulse_clicked)
        event.listen(self.cf.sessions, "do_orm_execute", _note_statement)
        event.listen(self.cf.sessions, "after_flush", _note_flush)
        event.listen(self.cf.sessions, "after_rollback", _forget_writes)
        event.listen(self.cf.sessions, "after_commit", self._on_commit)


def register(app: App, crossfeed: Crossfeed) -> None:
    Home(crossfeed).register(app)
