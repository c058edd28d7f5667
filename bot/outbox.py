"""Delivering queued Slack messages: the one place below the handlers that talks to Slack.

Services queue a message in the same transaction as the change it reports (a transactional
outbox), so a crash after commit loses nothing. Delivery claims each message with an atomic
UPDATE, calls Slack outside any transaction, then records the result; a failed send is retried
with backoff and, after the last attempt, left as `failed` with its error for an operator.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.leadfeedback import lead_feed_message
from bot.blocks.messaging import ask_card, ask_summary_message
from bot.blocks.pulse import pulse_prompt_message, pulse_reminder_message
from bot.leads import lead_rating_for_feed
from bot.messaging import ask_summary, ask_view
from bot.pulse import prompt_for, reminder_state
from storage import queries
from storage.models import OutboxMessage

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BATCH = 200


@dataclass(frozen=True)
class SlackPost:
    """A message to post (or, when the outbox row already has a ts, to update in place)."""

    channel: str
    text: str
    blocks: list[Block]


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


Composer = Callable[[Session, OutboxMessage], SlackPost | None]


def compose_lead_feed(session: Session, message: OutboxMessage) -> SlackPost | None:
    rated = lead_rating_for_feed(session=session, team_id=message.team_id, rating_id=message.payload["rating_id"])
    if rated is None:
        return None
    text, blocks = lead_feed_message(rated)
    return SlackPost(channel=message.channel, text=text, blocks=blocks)


def compose_pulse_prompt(session: Session, message: OutboxMessage) -> SlackPost | None:
    # Composed without the pulse secret: a fresh prompt shows no answers yet.
    prompt = prompt_for(session=session, round_id=message.payload["round_id"], user_id=message.payload["user_id"])
    if prompt is None:
        return None
    text, blocks = pulse_prompt_message(prompt)
    return SlackPost(channel=message.channel, text=text, blocks=blocks)


def compose_pulse_reminder(session: Session, message: OutboxMessage, secret: bytes | None = None) -> SlackPost | None:
    state = reminder_state(session=session, round_id=message.payload["round_id"],
                           user_id=message.payload["user_id"], now=datetime.now(UTC), secret=secret)
    if state is None:
        return None  # answered (or closed) since the reminder was queued: never remind those who answered
    text, blocks = pulse_reminder_message(state)
    return SlackPost(channel=message.channel, text=text, blocks=blocks)


def compose_messaging_card(session: Session, message: OutboxMessage) -> SlackPost | None:
    view = ask_view(session=session, team_id=message.team_id, ask_id=message.payload["ask_id"], now=datetime.now(UTC))
    if view is None:
        return None
    text, blocks = ask_card(view)
    return SlackPost(channel=message.channel, text=text, blocks=blocks)


def compose_messaging_summary(session: Session, message: OutboxMessage) -> SlackPost | None:
    results = ask_summary(session=session, team_id=message.team_id, ask_id=message.payload["ask_id"],
                          now=datetime.now(UTC))
    if results is None:
        return None
    text, blocks = ask_summary_message(results)
    return SlackPost(channel=message.channel, text=text, blocks=blocks)


COMPOSERS: dict[str, Composer] = {
    "messaging_card": compose_messaging_card,
    "messaging_dm": compose_messaging_card,
    "messaging_summary": compose_messaging_summary,
    "lead_feed": compose_lead_feed,
    "pulse_prompt": compose_pulse_prompt,
    "pulse_reminder": compose_pulse_reminder,
}


def composers_for(pulse_secret: bytes | None) -> dict[str, Composer]:
    """The composers, with the pulse secret that tells whether someone answered before their mark is written."""
    return {**COMPOSERS, "pulse_reminder": partial(compose_pulse_reminder, secret=pulse_secret)}


def retry_delay(attempts: int, error: SlackApiError | None = None) -> timedelta:
    """Exponential backoff from 30 s up to an hour, never sooner than Slack's Retry-After."""
    delay = min(30 * 2 ** max(attempts - 1, 0), 3600)
    if error is not None and error.response is not None and error.response.status_code == 429:
        delay = max(delay, int(error.response.headers.get("Retry-After", 1)))
    return timedelta(seconds=delay)


class Outbox:
    """Sends what services queued; `deliver_soon()` after a commit, `deliver_due()` on a schedule."""

    def __init__(self, *, sessions: sessionmaker[Session], client: WebClient,
                 composers: dict[str, Composer] | None = None, clock: Callable[[], datetime] | None = None):
        self.sessions = sessions
        self.client = client
        self.composers = composers or COMPOSERS
        self.clock = clock or (lambda: datetime.now(UTC))
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self._lock = threading.Lock()
        self._requested = False
        self._running = False
        self._idle = threading.Event()
        self._idle.set()

    def deliver_soon(self) -> None:
        """Deliver in the background, after the current request has been answered."""
        with self._lock:
            self._requested = True
            if self._running:
                return  # the running pass will go round again and pick this up
            self._running = True
            self._idle.clear()
        self._executor.submit(self._run_until_quiet)

    def _run_until_quiet(self) -> None:
        while True:
            with self._lock:
                if not self._requested:
                    self._running = False
                    self._idle.set()
                    return
                self._requested = False
            try:
                self.deliver_due()
            except Exception:
                logger.exception("outbox delivery failed; due messages stay queued for the next run")

    def wait_idle(self, timeout: float = 5) -> bool:
        """Block until background deliveries have finished (for shutdown and tests)."""
        return self._idle.wait(timeout)

    def deliver_due(self) -> DeliveryReport:
        """Send every message that is due; safe to run from several processes at once."""
        report = DeliveryReport()
        while True:
            with self.sessions.begin() as session:
                ids = queries.due_outbox_ids(session=session, now=self.clock(), lease=LEASE, limit=BATCH)
            if not ids:
                return report
            progressed = False
            for message_id in ids:
                outcome = self._deliver_one(message_id, report)
                progressed = progressed or outcome
            if not progressed:
                return report

    def _deliver_one(self, message_id: int, report: DeliveryReport) -> bool:
        with self.sessions.begin() as session:
            if not queries.claim_outbox_message(session=session, message_id=message_id, now=self.clock(), lease=LEASE):
                return False
            message = queries.outbox_message(session=session, message_id=message_id)
            composer = self.composers.get(message.kind)
            post = composer(session, message) if composer else None
            attempts, update_ts = message.attempts, message.slack_ts
            channel = message.channel
        if post is None:
            with self.sessions.begin() as session:
                queries.mark_outbox_sent(session=session, message_id=message_id, channel=channel or "",
                                         slack_ts="", now=self.clock())
            report.skipped += 1
            return True
        try:
            channel, ts = self._send(post, update_ts)
        except SlackApiError as error:
            reason = error.response.get("error") if error.response is not None else str(error)
            retry_at = self.clock() + retry_delay(attempts, error) if attempts < MAX_ATTEMPTS else None
            log = logger.warning if retry_at else logger.error
            log("outbox message %s (%s) failed on attempt %s: %s", message_id, post.channel, attempts, reason)
            with self.sessions.begin() as session:
                queries.mark_outbox_failed(session=session, message_id=message_id, error=str(reason),
                                           retry_at=retry_at)
            report.failed += 1
            report.errors.append(str(reason))
            return True
        with self.sessions.begin() as session:
            queries.mark_outbox_sent(session=session, message_id=message_id, channel=channel, slack_ts=ts,
                                     now=self.clock())
        report.sent += 1
        return True

    def _send(self, post: SlackPost, update_ts: str | None) -> tuple[str, str]:
        if update_ts:
            response = self.client.chat_update(channel=post.channel, ts=update_ts, text=post.text, blocks=post.blocks)
            return response["channel"], response["ts"]
        try:
            response = self.client.chat_postMessage(channel=post.channel, text=post.text, blocks=post.blocks)
        except SlackApiError as error:
            if error.response is None or error.response.get("error") != "not_in_channel":
                raise
            # A public channel the bot hasn't joined yet: join it once and post again.
            self.client.conversations_join(channel=post.channel)
            response = self.client.chat_postMessage(channel=post.channel, text=post.text, blocks=post.blocks)
        return response["channel"], response["ts"]

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)
