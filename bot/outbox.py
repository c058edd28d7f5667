"""Delivering queued Slack messages: the one place below the handlers that talks to Slack.

Services queue a message in the same transaction as the change it reports (a transactional
outbox), so a crash after commit loses nothing. Delivery claims each message with an atomic
UPDATE, calls Slack outside any transaction, then records the result; a failed send is retried
with backoff and, after the last attempt, left as `failed` with its error for an operator.

Posting is not idempotent: Slack can answer 5xx (or the connection drop, or the worker die) after
the message went out. So every post carries metadata naming its outbox key, an attempt whose outcome
is unknown is recorded as such, and before such a message is posted again the conversation is read
back: if the message is there it is recorded as sent, never posted twice. A known rejection (ok:false,
429) posted nothing and is simply retried. Updates (chat.update) are idempotent and need none of this.
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
from bot.slack_history import find_posted, may_have_posted, without_connection_retries
from storage import queries
from storage.models import OutboxMessage

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BATCH = 200
EVENT_TYPE = "crossfeed_outbox"
# Starts the recorded error of an attempt that may have posted (5xx, lost connection), so the next
# attempt reads the conversation first; it survives re-arming and is cleared once the message is sent.
MAY_HAVE_POSTED = "may have posted: "
# How far before the message was queued the history read starts: clocks of Slack and ours differ.
RECONCILE_MARGIN = timedelta(minutes=2)


@dataclass(frozen=True)
class SlackPost:
    """A message to post (or, when the outbox row already has a ts, to update in place)."""

    channel: str
    text: str
    blocks: list[Block]


@dataclass
class DeliveryReport:
    sent: int = 0  # including those found already posted
    reconciled: int = 0  # found in the conversation after an attempt whose outcome was unknown
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


def failure_reason(error: Exception) -> str:
    if isinstance(error, SlackApiError) and error.response is not None:
        return str(error.response.get("error") or f"HTTP {error.response.status_code}")
    return f"{type(error).__name__}: {error}"


class Outbox:
    """Sends what services queued; `deliver_soon()` after a commit, `deliver_due()` on a schedule."""

    def __init__(self, *, sessions: sessionmaker[Session], client: WebClient,
                 composers: dict[str, Composer] | None = None, clock: Callable[[], datetime] | None = None):
        self.sessions = sessions
        self.client = client
        self.poster = without_connection_retries(client)
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
            claim = queries.claim_outbox_message(session=session, message_id=message_id, now=self.clock(),
                                                 lease=LEASE)
            if claim is None:
                return False
            message = queries.outbox_message(session=session, message_id=message_id)
            composer = self.composers.get(message.kind)
            post = composer(session, message) if composer else None
            attempts, update_ts, channel = message.attempts, message.slack_ts, message.channel
            identity = {"team_id": message.team_id, "outbox_key": message.dedupe_key}
            queued_at = message.created_at
        in_doubt = not update_ts and (claim.was_in_flight or (claim.last_error or "").startswith(MAY_HAVE_POSTED))
        try:
            found = self._find_earlier_post(channel or "", identity, queued_at) if in_doubt else None
            if found is None and post is not None:
                channel, ts = self._send(post, update_ts, identity)
        except Exception as error:
            self._record_failure(message_id, attempts, error, in_doubt, report)
            return True
        with self.sessions.begin() as session:
            if found is not None:
                channel, ts = found
            elif post is None:
                channel, ts = channel or "", ""
            queries.mark_outbox_sent(session=session, message_id=message_id, channel=channel, slack_ts=ts,
                                     now=self.clock())
        if found is not None:
            logger.info("outbox message %s was already posted (%s); recorded it instead of posting again",
                        message_id, ts)
            report.sent += 1
            report.reconciled += 1
        elif post is None:
            report.skipped += 1
        else:
            report.sent += 1
        return True

    def _record_failure(self, message_id: int, attempts: int, error: Exception, in_doubt: bool,
                        report: DeliveryReport) -> None:
        """Retry later with backoff; keep saying "may have posted" while that is still possible."""
        reason = failure_reason(error)
        if in_doubt or may_have_posted(error):
            reason = MAY_HAVE_POSTED + reason
        retry_at = self.clock() + retry_delay(attempts, error if isinstance(error, SlackApiError) else None)
        retry_at = retry_at if attempts < MAX_ATTEMPTS else None
        log = logger.warning if retry_at else logger.error
        log("outbox message %s failed on attempt %s: %s", message_id, attempts, reason)
        with self.sessions.begin() as session:
            queries.mark_outbox_failed(session=session, message_id=message_id, error=reason, retry_at=retry_at)
        report.failed += 1
        report.errors.append(reason)

    def _find_earlier_post(self, channel: str, identity: dict, queued_at: datetime) -> tuple[str, str] | None:
        """The (channel, ts) of this message if an earlier attempt posted it; None if it is not there."""
        if channel[:1] in ("U", "W"):
            # Posted to a person: their DM with the app is the conversation to read.
            channel = self.client.conversations_open(users=channel)["channel"]["id"]
        def read() -> dict | None:
            return find_posted(self.client, channel=channel, since=queued_at - RECONCILE_MARGIN,
                               event_type=EVENT_TYPE, payload=identity)

        try:
            found = read()
        except SlackApiError as error:
            if error.response is None or error.response.get("error") != "not_in_channel":
                raise
            # chat:write.public posts to a public channel without joining it; reading it back needs membership.
            self.client.conversations_join(channel=channel)
            found = read()
        return (channel, found["ts"]) if found is not None else None

    def _send(self, post: SlackPost, update_ts: str | None, identity: dict) -> tuple[str, str]:
        if update_ts:
            # Updating in place is idempotent: repeating it after an unknown outcome does no harm.
            response = self.client.chat_update(channel=post.channel, ts=update_ts, text=post.text, blocks=post.blocks)
            return response["channel"], response["ts"]
        metadata = {"event_type": EVENT_TYPE, "event_payload": identity}
        try:
            response = self.poster.chat_postMessage(channel=post.channel, text=post.text, blocks=post.blocks,
                                                    metadata=metadata)
        except SlackApiError as error:
            if error.response is None or error.response.get("error") != "not_in_channel":
                raise
            # A public channel the bot hasn't joined yet: join it once and post again (nothing was posted).
            self.client.conversations_join(channel=post.channel)
            response = self.poster.chat_postMessage(channel=post.channel, text=post.text, blocks=post.blocks,
                                                    metadata=metadata)
        return response["channel"], response["ts"]

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)
