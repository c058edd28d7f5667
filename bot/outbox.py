"""Delivering queued Slack messages: the one place below the handlers that talks to Slack after a request.

Services queue a message in the same transaction as the change it reports (a transactional outbox), so a
crash after commit loses nothing. The commit itself starts delivery: an after-commit hook on the session
factory starts a background pass when the transaction queued something (storage.outbox marks the session).
A pass claims a batch of due messages in one UPDATE … RETURNING, composes them in that transaction, calls
Slack outside any transaction, then records every outcome in one UPDATE; a failed send is retried with
backoff and, after the last attempt, left as `failed` with its error for an operator. The periodic `outbox`
job sweeps up whatever a pass missed (another process's commit, a crash, a retry's backoff).

Posting is not idempotent: Slack can answer 5xx (or the connection drop, or the worker die) after the
message went out. So every post carries metadata naming its outbox key, an attempt whose outcome is unknown
is recorded as such, and before such a message is posted again the conversation is read back: if the
message is there it is recorded as sent, never posted twice. A known rejection (ok:false, 429) posted
nothing and is simply retried. Updates (chat.update) and Home publishes (views.publish) are idempotent and
need none of this.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from bot import follow_up
from bot.actions import ASSIGNED, FEEDBACK_DONE, REMINDER, action_view
from bot.blocks.actions import action_dm, feedback_done_dm
from bot.blocks.follow_up import lead_escalation_message, lead_rate_message, lead_reminder_message
from bot.blocks.handoff import claim_post_message, lead_card_message
from bot.blocks.home import home_view
from bot.blocks.intel import intel_post_message
from bot.blocks.leadfeedback import lead_feed_message
from bot.blocks.messaging import ask_card, ask_change_message, ask_reminder_message, ask_summary_message
from bot.blocks.pulse import pulse_prompt_message, pulse_reminder_message
from bot.blocks.replies import reply_dm_message
from bot.handoff import claim_post, lead_card
from bot.home import home_summary
from bot.installs import WorkspaceNotInstalled
from bot.intel import POST_KIND as INTEL_POST
from bot.intel import intel_for_post
from bot.leads import lead_rating_for_feed
from bot.messaging import ask_change, ask_summary, ask_view, reminder_view
from bot.pulse import fresh_prompts, reminder_state, secret_of
from bot.replies import current_reply, reply_dm
from bot.results.handoff import LEAD_CARD, LEAD_CLAIM
from bot.results.pulse import PulsePrompt
from bot.results.replies import Subject
from bot.settings import Settings
from bot.slack_history import WAIT_OUT_RATE_LIMITS, find_posted, may_have_posted, without_connection_retries
from storage import outbox as store
from storage.coordination import notify_workers
from storage.db import reading
from storage.outbox import HOME, MAY_HAVE_POSTED, ClaimedMessage, Outcome
from storage.queries import ensure_workspace

if TYPE_CHECKING:
    from bot.container import ClientFor

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BATCH = 200
# A pass with nothing left but paused workspaces' messages waits this long at most for a pause to end (Slack's
# Retry-After is usually 1 s for posts); longer, and the next pass (the `outbox` job each minute, a worker) takes it.
PAUSE_WAIT_MAX = timedelta(seconds=10)
# Proactive pacing (storage.outbox.reserve_slots): once Slack refuses a workspace's call (429), that workspace's
# calls of the method are spaced 1/rate apart by every worker. Each call that goes through grows the rate a
# little and each 429 cuts it, so the pace settles just under what Slack allows, with few 429s (additive-ish
# increase, multiplicative decrease: bench/pulse_fanout.py --workspaces measures it).
# Per second's worth of calls that went through at the pace (calls ÷ rate): ~1.65× after 100 s without a 429,
# whatever the rate. Per call, a fast workspace's pace outgrew Slack's allowance every second or so, and each
# 429 costs a Retry-After.
PACE_GROWTH = 0.005
PACE_CUT = 0.8  # per 429
PACE_MIN_RATE = 1 / 60  # Slack's slowest tier allows a call a minute
# Seconds: the shortest wait when nothing is claimable yet. With many paced workspaces some slot ends every few
# milliseconds; claiming each alone cost a claim per message (8.6 ms of worker CPU a post, 4 workers): waiting a
# little gathers them into one claim, and pacing from each call's real time absorbs the delay.
PACE_POLL = 0.1
# A first 429 teaches the calls this sender made in the window before it; every 10 s it forgets workspaces whose
# last call is older than that.
RECENT_CALLS_WINDOW = timedelta(seconds=1)
RECENT_CALLS_SWEEP = timedelta(seconds=10)
EVENT_TYPE = "crossfeed_outbox"
# How far before the message was queued the history read starts: clocks of Slack and ours differ.
RECONCILE_MARGIN = timedelta(minutes=2)


@dataclass(frozen=True)
class SlackPost:
    """A message to post (or, when the outbox row already has a ts, to update in place)."""

    channel: str
    text: str
    blocks: list[Block] | list[dict]  # dicts: rendered and checked once for many posts (a round's prompts)


@dataclass(frozen=True)
class HomePublish:
    """A person's App Home tab to publish: idempotent, the newest view simply replaces the one shown."""

    user_id: str
    view: View


@dataclass
class DeliveryReport:
    sent: int = 0  # messages posted or updated, including those found already posted
    homes: int = 0  # Home tabs published
    reconciled: int = 0  # found in the conversation after an attempt whose outcome was unknown
    failed: int = 0
    skipped: int = 0
    rate_limited: int = 0  # 429s: the message waits for the workspace's pause to end (not counted as a failure)
    errors: list[str] = field(default_factory=list)
    # (workspace, method) → until when Slack asked us to slow down (Retry-After): recorded for every worker.
    pauses: dict[tuple[str, str], datetime] = field(default_factory=dict)


Key = tuple[str, str]  # (workspace, Slack method)


@dataclass
class PassPace:
    """What one pass saw of each workspace's pace: the calls that went through, and Slack's refusals."""

    calls: Counter[Key] = field(default_factory=Counter)
    last_call: dict[Key, datetime] = field(default_factory=dict)
    refused: dict[Key, tuple[datetime, float]] = field(default_factory=dict)  # → (Retry-After's end, new rate)

    def called(self, key: Key, at: datetime) -> None:
        self.calls[key] += 1
        self.last_call[key] = at

    def limited(self, key: Key, until: datetime, rate: float) -> None:
        self.refused[key] = (until, rate)

    def paces(self, rates: dict[Key, float]) -> dict[Key, store.Pace]:
        """What to record: a refusal's pause and new rate; for a paced workspace, its next slot one 1/rate after
        the last call actually made (however late it went), and the seconds' worth of calls that grow its rate."""
        paces = {key: store.Pace(until=until, rate=rate) for key, (until, rate) in self.refused.items()}
        for key, count in self.calls.items():
            if key not in paces and key in rates:
                paces[key] = store.Pace(until=self.last_call[key] + timedelta(seconds=1 / rates[key]),
                                        paced_seconds=count / rates[key])
        return paces


Composer = Callable[[Session, ClaimedMessage], SlackPost | HomePublish | None]
# Composes all of a claim's messages of one kind at once, by message id: for kinds a fan-out sends by the thousand.
ClaimComposer = Callable[[Session, Sequence[ClaimedMessage]], dict[int, SlackPost | HomePublish | None]]


def compose_lead_feed(session: Session, message: ClaimedMessage) -> SlackPost | None:
    rated = lead_rating_for_feed(session=session, team_id=message.team_id, rating_id=message.payload["rating_id"])
    if rated is None:
        return None
    reply = current_reply(session=session, team_id=message.team_id, subject=Subject("rating", rated.id))
    text, blocks = lead_feed_message(rated, reply)
    return SlackPost(channel=message.channel, text=text, blocks=blocks)


def compose_reply_dm(session: Session, message: ClaimedMessage) -> SlackPost | None:
    dm = reply_dm(session=session, team_id=message.team_id, payload=message.payload)
    if dm is None:
        return None  # the feedback was removed since: nothing to tell
    text, blocks = reply_dm_message(dm)
    return SlackPost(channel=message.channel, text=text, blocks=blocks)


def compose_intel_post(session: Session, message: ClaimedMessage) -> SlackPost | None:
    # Composed afresh each time: a reply re-queues the post (same key) to show its status in place.
    item = intel_for_post(session=session, team_id=message.team_id, intel_id=message.payload["intel_id"])
    if item is None:
        return None
    text, blocks = intel_post_message(item)
    return SlackPost(channel=message.channel, text=text, blocks=blocks)


def compose_pulse_prompts(session: Session, messages: Sequence[ClaimedMessage]) -> dict[int, SlackPost | None]:
    """A claim's pulse prompt DMs, read together (a round's fan-out claims them by the hundred, from as many
    workspaces). Composed without the pulse secret: a fresh prompt shows no answers yet."""
    prompts = fresh_prompts(session=session, asked={_asked(message) for message in messages})
    composed: dict[int, SlackPost | None] = {}
    for message in messages:
        prompt = prompts.get(_asked(message))
        if prompt is None:
            composed[message.id] = None  # no longer asked (removed from the teams, or the round is gone)
            continue
        text, blocks = _fresh_prompt(replace(prompt, chosen=None))  # hashable: its answers, none, aren't a dict
        composed[message.id] = SlackPost(channel=message.channel, text=text, blocks=list(blocks))
    return composed


def compose_pulse_prompt(session: Session, message: ClaimedMessage) -> SlackPost | None:
    return compose_pulse_prompts(session, [message])[message.id]


def _asked(message: ClaimedMessage) -> tuple[int, str]:
    return message.payload["round_id"], message.payload["user_id"]


@lru_cache(maxsize=1024)
def _fresh_prompt(prompt: PulsePrompt) -> tuple[str, tuple[dict, ...]]:
    """A fresh prompt as Slack gets it: the same for everyone on one side of a round (it names no one), so a round's
    thousands of DMs render and validate their blocks once (slack-sdk's to_dict was a quarter of a post's time).
    Room for both sides of the rounds of hundreds of workspaces fanning out at once, interleaved."""
    text, blocks = pulse_prompt_message(replace(prompt, chosen={}))
    return text, tuple(block.to_dict() for block in blocks)


def compose_pulse_reminder(session: Session, message: ClaimedMessage, secret: bytes | None = None) -> SlackPost | None:
    state = reminder_state(session=session, round_id=message.payload["round_id"],
                           user_id=message.payload["user_id"], now=datetime.now(UTC), secret=secret)
    if state is None:
        return None  # answered (or closed) since the reminder was queued: never remind those who answered
    text, blocks = pulse_reminder_message(state)
    return SlackPost(channel=message.channel, text=text, blocks=blocks)


def compose_messaging_card(session: Session, message: ClaimedMessage) -> SlackPost | None:
    view = ask_view(session=session, team_id=message.team_id, ask_id=message.payload["ask_id"], now=datetime.now(UTC))
    if view is None:
        return None
    text, blocks = ask_card(view)
    return SlackPost(channel=message.channel, text=text, blocks=blocks)


def compose_messaging_summary(session: Session, message: ClaimedMessage) -> SlackPost | None:
    results = ask_summary(session=session, team_id=message.team_id, ask_id=message.payload["ask_id"],
                          now=datetime.now(UTC))
    if results is None:
        return None
    text, blocks = ask_summary_message(results)
    return SlackPost(channel=message.channel, text=text, blocks=blocks)


def compose_messaging_reminder(session: Session, message: ClaimedMessage) -> SlackPost | None:
    view = reminder_view(session=session, team_id=message.team_id, ask_id=message.payload["ask_id"],
                         user_id=message.payload["user_id"], now=datetime.now(UTC), posted=bool(message.slack_ts))
    if view is None:
        return None  # answered (or closed) since the reminder was queued: never remind those who answered
    text, blocks = ask_card(view) if view.closed else ask_reminder_message(view)
    return SlackPost(channel=message.channel, text=text, blocks=blocks)


def compose_messaging_change(session: Session, message: ClaimedMessage) -> SlackPost | None:
    change = ask_change(session=session, team_id=message.team_id, ask_id=message.payload["ask_id"])
    if change is None:
        return None
    text, blocks = ask_change_message(change)
    return SlackPost(channel=message.channel, text=text, blocks=blocks)


def compose_action_dm(session: Session, message: ClaimedMessage, *, reminder: bool) -> SlackPost | None:
    """An action's DM to its owner; once the action is closed, a posted one is updated to say so and one not
    yet posted is dropped (there is nothing left to ask of the owner)."""
    action = action_view(session=session, team_id=message.team_id, action_id=message.payload["action_id"],
                         now=datetime.now(UTC))
    if action is None or (not action.is_open and not message.slack_ts):
        return None
    text, blocks = action_dm(action, reminder=reminder)
    return SlackPost(channel=message.channel, text=text, blocks=blocks)


def compose_feedback_done(session: Session, message: ClaimedMessage) -> SlackPost | None:
    """What an action led to, told to whoever gave the feedback behind it once it is done."""
    action = action_view(session=session, team_id=message.team_id, action_id=message.payload["action_id"],
                         now=datetime.now(UTC))
    if action is None or action.status != "done":
        return None
    text, blocks = feedback_done_dm(action)
    return SlackPost(channel=message.channel, text=text, blocks=blocks)


def compose_lead_card(session: Session, message: ClaimedMessage, default_zone: str | None = None) -> SlackPost | None:
    """A lead owner's DM card as the lead stands now: waiting (with the working time left), accepted, passed
    back, or claimed by someone else since."""
    card = lead_card(session=session, team_id=message.team_id, lead_id=message.payload["lead_id"],
                     owner_user_id=message.payload["owner_user_id"], now=datetime.now(UTC), default_zone=default_zone)
    if card is None:
        return None
    text, blocks = lead_card_message(card)
    return SlackPost(channel=message.channel, text=text, blocks=blocks)


def compose_lead_claim(session: Session, message: ClaimedMessage) -> SlackPost | None:
    """The sales channel's post of a lead: open to claim, or who claimed it."""
    lead = claim_post(session=session, team_id=message.team_id, lead_id=message.payload["lead_id"])
    if lead is None:
        return None
    text, blocks = claim_post_message(lead)
    return SlackPost(channel=message.channel, text=text, blocks=blocks)


def compose_lead_reminder(session: Session, message: ClaimedMessage, default_zone: str | None = None
                          ) -> SlackPost | None:
    """The owner's reminder; not sent once they accepted or passed the lead on, shown so if already posted."""
    reminder = follow_up.reminder_view(session=session, team_id=message.team_id, lead_id=message.payload["lead_id"],
                                       owner_user_id=message.channel or "", now=datetime.now(UTC),
                                       default_zone=default_zone)
    if reminder is None or (not reminder.still_theirs and not message.slack_ts):
        return None
    text, blocks = lead_reminder_message(reminder)
    return SlackPost(channel=message.channel, text=text, blocks=blocks)


def compose_lead_escalation(session: Session, message: ClaimedMessage, default_zone: str | None = None
                            ) -> SlackPost | None:
    escalation = follow_up.escalation_view(session=session, team_id=message.team_id,
                                           lead_id=message.payload["lead_id"], now=datetime.now(UTC),
                                           default_zone=default_zone)
    if escalation is None or (escalation.lead.accepted and not message.slack_ts):
        return None  # accepted between the clock's claim and delivery: nothing to escalate
    text, blocks = lead_escalation_message(escalation)
    return SlackPost(channel=message.channel, text=text, blocks=blocks)


def compose_lead_rate(session: Session, message: ClaimedMessage, *, reminder: bool,
                      default_zone: str | None = None) -> SlackPost | None:
    """The owner's rating prompt (or its reminder); not sent once they rated the lead."""
    prompt = follow_up.rate_prompt_view(session=session, team_id=message.team_id, lead_id=message.payload["lead_id"],
                                        now=datetime.now(UTC), reminder=reminder, default_zone=default_zone)
    if prompt is None or (prompt.lead.rated and not message.slack_ts):
        return None
    text, blocks = lead_rate_message(prompt)
    return SlackPost(channel=message.channel, text=text, blocks=blocks)


def compose_home(session: Session, message: ClaimedMessage, settings: Settings | None = None) -> HomePublish:
    """The person's Home as it is now: however many changes queued it, one publish shows them all."""
    user_id = message.payload["user_id"]
    summary = home_summary(
        session=session, team_id=message.team_id, user_id=user_id, now=datetime.now(UTC),
        configured_admins=settings.admin_user_ids if settings else frozenset(),
        default_zone=settings.workspace_timezone if settings else None,
        pulse_secret=secret_of(settings) if settings else None,
    )
    return HomePublish(user_id=user_id, view=home_view(summary))


COMPOSERS: dict[str, Composer] = {
    "messaging_card": compose_messaging_card,
    "messaging_dm": compose_messaging_card,
    "messaging_summary": compose_messaging_summary,
    "messaging_reminder": compose_messaging_reminder,
    "messaging_change": compose_messaging_change,
    "lead_feed": compose_lead_feed,
    "reply_dm": compose_reply_dm,
    INTEL_POST: compose_intel_post,
    "pulse_prompt": compose_pulse_prompt,
    "pulse_reminder": compose_pulse_reminder,
    HOME: compose_home,
    ASSIGNED: partial(compose_action_dm, reminder=False),
    REMINDER: partial(compose_action_dm, reminder=True),
    FEEDBACK_DONE: compose_feedback_done,
    LEAD_CARD: compose_lead_card,
    LEAD_CLAIM: compose_lead_claim,
    follow_up.REMINDER: compose_lead_reminder,
    follow_up.ESCALATION: compose_lead_escalation,
    follow_up.RATE: partial(compose_lead_rate, reminder=False),
    follow_up.RATE_REMINDER: partial(compose_lead_rate, reminder=True),
}


def composers_for(settings: Settings) -> dict[str, Composer]:
    """The composers with what some need from settings: the pulse secret (who answered before their mark is
    written), for Home the configured admins, and the default time zone (Home, a lead's working time)."""
    zone = settings.workspace_timezone
    return {**COMPOSERS, "pulse_reminder": partial(compose_pulse_reminder, secret=secret_of(settings)),
            HOME: partial(compose_home, settings=settings),
            LEAD_CARD: partial(compose_lead_card, default_zone=zone),
            follow_up.REMINDER: partial(compose_lead_reminder, default_zone=zone),
            follow_up.ESCALATION: partial(compose_lead_escalation, default_zone=zone),
            follow_up.RATE: partial(compose_lead_rate, reminder=False, default_zone=zone),
            follow_up.RATE_REMINDER: partial(compose_lead_rate, reminder=True, default_zone=zone)}


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
    """Sends what services queued: after each commit that queued something, and on a schedule (`deliver_due`)."""

    def __init__(self, *, sessions: sessionmaker[Session], client_for: ClientFor,
                 composers: dict[str, Composer] | None = None, clock: Callable[[], datetime] | None = None):
        self.sessions = sessions
        self.reads = reading(sessions)
        self.client_for = client_for
        self.composers = composers or COMPOSERS
        self.claim_composers: dict[str, ClaimComposer] = {"pulse_prompt": compose_pulse_prompts}
        self.clock = clock or (lambda: datetime.now(UTC))
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self._lock = threading.Lock()
        # Each workspace's client minus connection retries, for posting. Weak keys: clients come and go (OAuth).
        self._posters: WeakKeyDictionary[WebClient, WebClient] = WeakKeyDictionary()
        self._requested = False
        self._unrecorded_homes: set[tuple[str, str]] = set()
        self._recent_calls: dict[Key, deque[datetime]] = {}  # this sender's calls that went through, last second
        self._recent_calls_swept = datetime.now(UTC)
        # How a pass waits for a slot or a pause to end (tests that freeze the clock move it on instead).
        self.wait: Callable[[threading.Event, float], object] = threading.Event.wait
        self._running = False
        self._idle = threading.Event()
        self._idle.set()

    # --- Home ------------------------------------------------------------------------------------------

    def refresh_home(self, team_id: str, user_id: str) -> None:
        """Queue this person's Home refresh on its own (they opened the tab); the commit starts its delivery."""
        with self.sessions.begin() as session:
            ensure_workspace(session=session, team_id=team_id)  # opened before anything else was done
            store.queue_home_refresh(session=session, team_id=team_id, user_ids=[user_id], now=self.clock())

    def refresh_home_unrecorded(self, team_id: str, user_id: str) -> None:
        """Publish this person's Home in the background without queueing a row: for a pulse answer only.

        Anything naming the person written when they answer (a row, its time, its transaction id) would
        link them to their anonymous answer, so this refresh lives in memory; lost in a crash, it is
        published afresh the next time they open Home.
        """
        with self._lock:
            self._unrecorded_homes.add((team_id, user_id))
        self._wake(deliver=False)

    def _publish_unrecorded_homes(self) -> None:
        while True:
            with self._lock:
                if not self._unrecorded_homes:
                    return
                team_id, user_id = self._unrecorded_homes.pop()
            message = ClaimedMessage(id=0, team_id=team_id, kind=HOME, dedupe_key="", channel=None,
                                     payload={"user_id": user_id}, slack_ts=None, attempts=1, requests=0,
                                     last_error=None, created_at=self.clock())
            try:
                with self.reads.begin() as session:  # reads only, like every compose: no writer waits on it
                    home = self.composers[HOME](session, message)
                self.client_for(team_id).views_publish(user_id=home.user_id, view=home.view)
            except Exception as error:
                logger.warning("could not refresh the Home tab of %s in %s: %s", user_id, team_id,
                               failure_reason(error))

    # --- started by the commit ------------------------------------------------------------------------

    def deliver_after_commit(self) -> None:
        """Start a background pass after every commit of `sessions` that queued outbox work (and only then)."""
        event.listen(self.sessions, "after_commit", self._after_commit)
        event.listen(self.sessions, "after_rollback", self._after_rollback)

    def wake_workers_after_commit(self) -> None:
        """With outbox workers (OUTBOX_WORKERS=1) instead: a commit that queued outbox work wakes them, and
        this process sends nothing itself (but the pulse answers' unrecorded Home refreshes)."""
        event.listen(self.sessions, "before_commit", self._notify_workers)
        event.listen(self.sessions, "after_rollback", self._after_rollback)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(store.QUEUED, False):
            self._wake()

    @staticmethod
    def _notify_workers(session: Session) -> None:
        if session.info.pop(store.QUEUED, False):
            notify_workers(session)  # in the transaction: PostgreSQL sends it with the commit, never without

    @staticmethod
    def _after_rollback(session: Session) -> None:
        session.info.pop(store.QUEUED, None)  # rolled back: nothing was queued

    def _wake(self, *, deliver: bool = True) -> None:
        with self._lock:
            self._requested = self._requested or deliver
            if self._running:
                return  # the running pass goes round again and picks this up
            self._running = True
            self._idle.clear()
        try:
            self._executor.submit(self._run_until_quiet)
        except RuntimeError:  # shutting down: the periodic job delivers it
            self._quiet()

    def _run_until_quiet(self) -> None:
        while True:
            with self._lock:  # checked and given up under one lock: a wake in between is never lost
                if not self._requested and not self._unrecorded_homes:
                    self._running = False
                    self._idle.set()
                    return
                deliver, self._requested = self._requested, False
            try:
                if deliver:
                    self.deliver_due()
                self._publish_unrecorded_homes()
            except Exception:
                logger.exception("outbox delivery failed; due messages stay queued for the next run")
            except BaseException:
                self._quiet()
                raise

    def _quiet(self) -> None:
        with self._lock:
            self._running = False
            self._idle.set()

    def wait_idle(self, timeout: float = 5) -> bool:
        """Block until background deliveries have finished (for shutdown and tests)."""
        return self._idle.wait(timeout)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)

    # --- a delivery pass ------------------------------------------------------------------------------

    def deliver_due(self, *, stopping: threading.Event | None = None, batch: int = BATCH) -> DeliveryReport:
        """Send every message that is due; safe to run from several processes at once. Once `stopping` is set,
        the message in hand is finished and recorded, the rest of the batch given back, and the pass ends.

        A 429 isn't waited out in the client here: it pauses that workspace's method for Retry-After (for this
        pass and, through the database, every worker's claims), teaches or cuts its pace, and the pass goes on with
        other workspaces. A paced workspace's messages are sent at the slots their claim reserved."""
        waits = WAIT_OUT_RATE_LIMITS.set(False)
        try:
            return self._deliver_due(stopping=stopping, batch=batch)
        finally:
            WAIT_OUT_RATE_LIMITS.reset(waits)

    def _deliver_due(self, *, stopping: threading.Event | None, batch: int) -> DeliveryReport:
        report = DeliveryReport()
        waited: set[datetime] = set()  # each moment waited for once in a pass (a frozen clock never reaches it)
        stopping = stopping or threading.Event()
        while not stopping.is_set():
            claimed_at = self.clock()
            with self.sessions.begin() as session:
                claimed = store.claim_due(session=session, now=claimed_at, lease=LEASE, limit=batch)
                slots = store.reserve_slots(session=session, claimed=claimed, now=claimed_at)
            if not claimed:
                if self._unrecorded_homes:
                    # A pulse answerer's Home (kept in memory) mustn't wait out a paced fan-out: the background
                    # runner publishes it, then delivers again (_run_until_quiet).
                    self._wake()
                    return report
                # What is due waits for its workspace's pace (or a pause): wait for the first to end, then go on.
                with self.reads.begin() as session:
                    moment = store.next_claimable_at(session=session, now=self.clock())
                if moment is None or moment in waited or moment - self.clock() > PAUSE_WAIT_MAX:
                    return report
                waited.add(moment)
                self._wait_until(stopping, moment)
                continue
            # Composed after the claim's commit, in a reading session: rendering holds up no writer.
            with self.reads.begin() as session:
                composed = self._compose_claim(session, claimed)
            composed.sort(key=lambda pair: (slots.at.get(pair[0].id, claimed_at), pair[0].id))
            outcomes: list[Outcome] = []
            attempting = None
            pass_ = PassPace()
            try:
                for message, action in composed:
                    if self.clock() - claimed_at > LEASE / 2 or stopping.is_set():
                        break  # a slow batch, or shutting down: the rest is given back
                    key = (message.team_id, store.method_of(message.kind))
                    until = report.pauses.get(key)
                    if until is not None and until > self.clock():
                        # Slack asked this workspace to slow down: its messages wait, the others go on.
                        outcomes.append(Outcome(message=message, release=True, retry_at=until))
                        continue
                    if (slot := slots.at.get(message.id)) is not None and slot > self.clock():
                        # Its place in the workspace's pace; never longer than a pause is waited for (a clock set
                        # back, e.g. frozen in tests, must not hold the pass).
                        self.wait(stopping, min((slot - self.clock()), PAUSE_WAIT_MAX).total_seconds())
                    attempting = message
                    limited_before = report.rate_limited
                    outcomes.append(self._deliver(message, action, report))
                    attempting = None
                    if report.rate_limited > limited_before:
                        pass_.limited(key, report.pauses[key], self._learned_rate(key, slots.rates.get(key)))
                    elif action is not None and not isinstance(action, Exception) and outcomes[-1].error is None:
                        pass_.called(key, self.clock())
                        self._remember_call(key)
            finally:
                # Also when the pass dies: what was done is recorded and what was never tried is given back;
                # the one whose Slack call was cut short stays claimed, in doubt, until its lease runs out.
                settled = {outcome.message.id for outcome in outcomes} | ({attempting.id} if attempting else set())
                outcomes += [Outcome(message=message, release=True) for message, _ in composed
                             if message.id not in settled]
                with self.sessions.begin() as session:
                    store.record_outcomes(session=session, outcomes=outcomes, now=self.clock())
                    store.record_pace(session=session, paces=pass_.paces(slots.rates), growth=PACE_GROWTH)
        return report

    def _wait_until(self, stopping: threading.Event, moment: datetime) -> None:
        """Wait (at least PACE_POLL) until the clock reads `moment`. The wait runs on the monotonic clock, ours is
        the wall clock: slewed (NTP, a VM), it may read a little short of `moment` when the wait returns, and the
        pass would find nothing claimable yet and end, leaving the rest to the periodic job. A clock that doesn't
        move while waited on (frozen, in tests) isn't waited on again."""
        seconds = max(PACE_POLL, (moment - self.clock()).total_seconds())
        while not stopping.is_set():
            before = self.clock()
            self.wait(stopping, seconds)
            now = self.clock()
            if now >= moment or now == before:
                return
            seconds = (moment - now).total_seconds()

    def _remember_call(self, key: Key) -> None:
        now = self.clock()
        with self._lock:
            calls = self._recent_calls.setdefault(key, deque())
            calls.append(now)
            while calls and now - calls[0] > RECENT_CALLS_WINDOW:
                calls.popleft()
            if abs(now - self._recent_calls_swept) > RECENT_CALLS_SWEEP:  # else it grows with every workspace served
                self._recent_calls = {k: v for k, v in self._recent_calls.items()
                                      if now - v[-1] <= RECENT_CALLS_WINDOW}
                self._recent_calls_swept = now

    def _learned_rate(self, key: Key, rate: float | None) -> float:
        """The rate to pace a workspace's method at after Slack refused a call: the known one cut, or, the first time,
        the calls this sender made in the second before (Slack's allowance), or one a second if it made none."""
        if rate is not None:
            return max(PACE_MIN_RATE, rate * PACE_CUT)
        now = self.clock()
        with self._lock:
            made = sum(1 for at in self._recent_calls.get(key, ()) if now - at <= RECENT_CALLS_WINDOW)
        return float(max(made, 1))

    def _compose_claim(self, session: Session,
                       claimed: Sequence[ClaimedMessage]) -> list[tuple[ClaimedMessage, object]]:
        """Each claimed message with what to do for it: composed together where its kind has a claim composer,
        else on its own; an exception for one that could not be composed."""
        together: dict[str, list[ClaimedMessage]] = {}
        for message in claimed:
            if message.kind in self.claim_composers:
                together.setdefault(message.kind, []).append(message)
        actions: dict[int, object] = {}
        for kind, messages in together.items():
            try:
                actions.update(self.claim_composers[kind](session, messages))
            except Exception as error:  # the other kinds still go
                logger.exception("could not compose %d outbox messages of kind %s", len(messages), kind)
                actions.update((message.id, error) for message in messages)
        return [(message, actions[message.id] if message.id in actions else self._compose(session, message))
                for message in claimed]

    def _compose(self, session: Session, message: ClaimedMessage) -> SlackPost | HomePublish | None | Exception:
        composer = self.composers.get(message.kind)
        try:
            return composer(session, message) if composer else None
        except Exception as error:  # one message that cannot be composed must not hold up the others
            logger.exception("could not compose outbox message %s", message.id)
            return error

    def _deliver(self, message: ClaimedMessage, action, report: DeliveryReport) -> Outcome:
        # The post of a message that may have reached Slack is looked up before it is made again.
        in_doubt = not message.slack_ts and message.may_have_posted and not isinstance(action, HomePublish)
        channel, ts = message.channel or "", message.slack_ts or ""
        found = None
        try:
            if isinstance(action, Exception):
                raise action
            client = self.client_for(message.team_id)
            found = self._find_earlier_post(client, message) if in_doubt else None
            if found is not None:
                channel, ts = found
            elif isinstance(action, HomePublish):
                client.views_publish(user_id=action.user_id, view=action.view)
            elif action is not None:
                channel, ts = self._send(action, client, message)
        except SlackApiError as error:
            if error.response is not None and error.response.status_code == 429:
                return self._rate_limited(message, error, report)
            return self._failure(message, error, in_doubt, report)
        except Exception as error:
            return self._failure(message, error, in_doubt, report)
        if found is not None:
            logger.info("outbox message %s was already posted (%s); recorded it instead of posting again",
                        message.id, ts)
            report.sent += 1
            report.reconciled += 1
        elif action is None:
            report.skipped += 1
        elif isinstance(action, HomePublish):
            report.homes += 1
        else:
            report.sent += 1
        return Outcome(message=message, channel=channel, slack_ts=ts)

    def _rate_limited(self, message: ClaimedMessage, error: SlackApiError, report: DeliveryReport) -> Outcome:
        """Slack said "slow down" (429): nothing was posted, so the message simply waits for Retry-After (its attempt
        given back), and the workspace is paused for that method, for this pass and, through the database, for
        every worker."""
        until = self.clock() + timedelta(seconds=max(0.0, float(error.response.headers.get("Retry-After", 1))))
        report.pauses[(message.team_id, store.method_of(message.kind))] = until
        report.rate_limited += 1
        return Outcome(message=message, release=True, retry_at=until)

    def _failure(self, message: ClaimedMessage, error: Exception, in_doubt: bool, report: DeliveryReport) -> Outcome:
        """Retry later with backoff; keep saying "may have posted" while that is still possible."""
        reason = failure_reason(error)
        if in_doubt or (may_have_posted(error) and not message.slack_ts and message.kind != HOME):
            reason = MAY_HAVE_POSTED + reason
        retry_at = self.clock() + retry_delay(message.attempts, error if isinstance(error, SlackApiError) else None)
        # A workspace that uninstalled Crossfeed gets nothing more from it.
        gone = isinstance(error, WorkspaceNotInstalled)
        retry_at = retry_at if message.attempts < MAX_ATTEMPTS and not gone else None
        log = logger.warning if retry_at else logger.error
        if message.kind == HOME:
            log("could not refresh the Home tab of %s in %s: %s", message.payload["user_id"], message.team_id,
                reason)
        else:
            log("outbox message %s failed on attempt %s: %s", message.id, message.attempts, reason)
        report.failed += 1
        report.errors.append(reason)
        return Outcome(message=message, error=reason, retry_at=retry_at)

    def _find_earlier_post(self, client: WebClient, message: ClaimedMessage) -> tuple[str, str] | None:
        """The (channel, ts) of this message if an earlier attempt posted it; None if it is not there."""
        channel = message.channel or ""
        if channel[:1] in ("U", "W"):
            # Posted to a person: their DM with the app is the conversation to read.
            channel = client.conversations_open(users=channel)["channel"]["id"]

        def read() -> dict | None:
            return find_posted(client, channel=channel, since=message.created_at - RECONCILE_MARGIN,
                               event_type=EVENT_TYPE, payload=_identity(message))

        try:
            found = read()
        except SlackApiError as error:
            if error.response is None or error.response.get("error") != "not_in_channel":
                raise
            # chat:write.public posts to a public channel without joining it; reading it back needs membership.
            client.conversations_join(channel=channel)
            found = read()
        return (channel, found["ts"]) if found is not None else None

    def _send(self, post: SlackPost, client: WebClient, message: ClaimedMessage) -> tuple[str, str]:
        if update_ts := message.slack_ts:
            # Updating in place is idempotent: repeating it after an unknown outcome does no harm.
            response = client.chat_update(channel=post.channel, ts=update_ts, text=post.text, blocks=post.blocks)
            return response["channel"], response["ts"]
        poster = self._posters.get(client) or self._posters.setdefault(client, without_connection_retries(client))
        metadata = {"event_type": EVENT_TYPE, "event_payload": _identity(message)}
        try:
            response = poster.chat_postMessage(channel=post.channel, text=post.text, blocks=post.blocks,
                                               metadata=metadata)
        except SlackApiError as error:
            if error.response is None or error.response.get("error") != "not_in_channel":
                raise
            # A public channel the bot hasn't joined yet: join it once and post again (nothing was posted).
            client.conversations_join(channel=post.channel)
            response = poster.chat_postMessage(channel=post.channel, text=post.text, blocks=post.blocks,
                                               metadata=metadata)
        return response["channel"], response["ts"]


def _identity(message: ClaimedMessage) -> dict:
    """What a post carries in its metadata, to be found again in the conversation: its workspace and outbox key."""
    return {"team_id": message.team_id, "outbox_key": message.dedupe_key}
