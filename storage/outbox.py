"""The outbox table: Slack messages queued in the same transaction as the change they report.

Every message has a key (per workspace) that makes queueing idempotent: queueing a key again re-arms its one
row instead of adding one, and counts the request (`requests`), so a change that lands while the message is
being sent is not lost: the sender records "sent" only if no request came in since it claimed the row, and
otherwise leaves it pending for one more delivery. A person's Home refresh is such a message, one row per
person (`home:{user_id}`), so refreshes coalesce and one person's Home has one sender at a time.

A transaction that queues something marks its session (`QUEUED` in Session.info): the app's after-commit hook
starts a delivery pass only then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Integer, and_, bindparam, case, cast, exists, func, literal, literal_column, or_, select, update
from sqlalchemy.orm import Session

from storage.claims import claim_new, claim_rows, lease_expired
from storage.models import OutboxMessage, SlackPause
from storage.queries import dialect_insert, insert_for

QUEUED = "crossfeed.outbox.queued"  # Session.info key: this transaction queued outbox work
# Starts the recorded error of an attempt that may have posted (5xx, lost connection, a sender that died
# holding the claim), so the next attempt reads the conversation first; cleared once the message is sent.
MAY_HAVE_POSTED = "may have posted: "
HOME = "home"  # the kind of a person's App Home refresh
# A claim takes at most this many seconds' worth of one paced workspace's calls (at least one).
PACE_HORIZON = 1.0
FAN_OUT_SPREAD = 1_000_000  # µs: the places of one batch's messages (`_due_at`)
CLAIM_LOOKAHEAD = 10  # a claim of n messages picks them among the first n × this due ones


@dataclass(frozen=True)
class Message:
    """A message to queue: what to send (`kind` names its composer), where, and the key that dedupes it."""

    kind: str
    dedupe_key: str
    channel: str | None
    payload: dict
    # Not sent before this moment (a reminder held for the start of the person's working hours).
    not_before: datetime | None = None


def home_refresh(user_id: str) -> Message:
    """The refresh of one person's App Home: one row per person, however many changes ask for it."""
    return Message(kind=HOME, dedupe_key=f"home:{user_id}", channel=None, payload={"user_id": user_id})


def enqueue(*, session: Session, team_id: str, messages: Iterable[Message], now: datetime) -> None:
    """Queue messages in one INSERT; queueing a key again re-arms its row (e.g. to re-sync an edited post).

    Messages due now that are queued together are due a microsecond apart, in the order given (`_due_at`): claims
    take due messages in that order, so each workspace's first message of a fan-out comes before anyone's second,
    and one workspace's backlog (paced to what Slack allows it) never stands in front of the others'.

    Re-arming keeps the last error (it may say an earlier attempt may have posted) and leaves a message that
    is being sent to its sender, who sends it once more when it sees the request count moved.
    """
    by_key = {message.dedupe_key: message for message in messages}  # one row may not be updated twice
    if not by_key:
        return
    session.execute(_enqueue_statement(session.get_bind().dialect.name), [
        dict(team_id=team_id, kind=m.kind, dedupe_key=m.dedupe_key, channel=m.channel, payload=m.payload,
             status="pending", attempts=0, requests=1,
             next_attempt_at=_due_at(m, now, place), created_at=now)
        for place, m in enumerate(by_key.values())
    ])
    session.info[QUEUED] = True


def _due_at(message: Message, now: datetime, place: int) -> datetime:
    """When a message queued `place`-th of its batch is due: its own time if held; else now, less a
    second, plus a microsecond per place. Backdated, not put off: a clock frozen at `now` (tests) still finds them
    all due, and nothing waits on it."""
    if message.not_before is not None:
        return max(now, message.not_before)
    return now - timedelta(microseconds=FAN_OUT_SPREAD - min(place, FAN_OUT_SPREAD - 1))


@cache
def _enqueue_statement(dialect: str):
    # Built once per dialect on the Core table and run with one parameter set per message (one executemany):
    # a multi-row VALUES built per call was compiled anew every time, which cost more than running it.
    outbox = OutboxMessage.__table__
    insert = insert_for(dialect, outbox)
    return insert.on_conflict_do_update(
        index_elements=["team_id", "dedupe_key"],
        set_=dict(payload=insert.excluded.payload, attempts=0, next_attempt_at=insert.excluded.next_attempt_at,
                  requests=outbox.c.requests + 1,
                  status=case((outbox.c.status == "sending", "sending"), else_="pending")),
    )


def enqueue_once(*, session: Session, team_id: str, message: Message, now: datetime) -> bool:
    """Queue a message unless its key was ever queued (a DM a retried request must not send again, nor re-sync);
    True if this call queued it."""
    queued = claim_new(session, OutboxMessage, unique=["team_id", "dedupe_key"], values=dict(
        team_id=team_id, kind=message.kind, dedupe_key=message.dedupe_key, channel=message.channel,
        payload=message.payload, status="pending", attempts=0, requests=1,
        next_attempt_at=max(now, message.not_before or now), created_at=now))
    if queued is not None:
        session.info[QUEUED] = True
    return queued is not None


def queue_home_refresh(*, session: Session, team_id: str, user_ids: Iterable[str], now: datetime) -> None:
    """Refresh these people's App Home once this transaction commits (coalesced with any refresh pending)."""
    enqueue(session=session, team_id=team_id, messages=[home_refresh(user) for user in user_ids], now=now)


def with_home(*, session: Session, team_id: str, user_ids: Iterable[str]) -> set[str]:
    """Those of these people whose Home tab Crossfeed has published or queued: only theirs can be out of date
    (anyone else's is published fresh when they first open it)."""
    keys = {f"home:{user_id}": user_id for user_id in user_ids}
    if not keys:
        return set()
    found = session.scalars(select(OutboxMessage.dedupe_key).where(
        OutboxMessage.team_id == team_id, OutboxMessage.dedupe_key.in_(keys)))
    return {keys[key] for key in found}


def outbox_message_for(*, session: Session, team_id: str, dedupe_key: str) -> OutboxMessage | None:
    return session.scalar(
        select(OutboxMessage).where(OutboxMessage.team_id == team_id, OutboxMessage.dedupe_key == dedupe_key)
    )


@dataclass(frozen=True)
class ClaimedMessage:
    """A message this worker has claimed, as the claim left it."""

    id: int
    team_id: str
    kind: str
    dedupe_key: str
    channel: str | None
    payload: dict
    slack_ts: str | None
    attempts: int
    requests: int  # as claimed: "sent" is recorded only if no request came in since
    last_error: str | None
    created_at: datetime
    paced: bool = False  # its workspace's pace for the method was learned (a 429) when it was claimed

    @property
    def may_have_posted(self) -> bool:
        return (self.last_error or "").startswith(MAY_HAVE_POSTED)


def method_of(kind: str) -> str:
    """The Slack method a message of this kind is sent with (what a 429 pauses): a Home is published, the rest
    are posts (or updates of them)."""
    return "views.publish" if kind == HOME else "chat.postMessage"


def _method_column(kind=OutboxMessage.kind):
    """`method_of` in SQL, of the outbox's kind column (or of another expression naming it)."""
    return case((kind == HOME, literal("views.publish")), else_=literal("chat.postMessage"))


def _paced():
    """For the claim's RETURNING: the message's workspace has a learned pace for its method (`reserve_slots`).

    The claimed row's columns are named with their table on purpose: SQLAlchemy renders an SQLite UPDATE's
    RETURNING without it, and inside this subquery a bare `team_id` is slack_pauses' own (every message looked
    paced once any workspace was)."""
    outbox = OutboxMessage.__tablename__
    team_id, kind = literal_column(f"{outbox}.team_id"), literal_column(f"{outbox}.kind")
    return exists().where(SlackPause.team_id == team_id, SlackPause.method == _method_column(kind),
                          SlackPause.rate.is_not(None))


def _due(now: datetime, lease: timedelta):
    """Pending and due, or stuck in 'sending' past its lease (its sender died or hung); not of a workspace Slack
    asked to slow down for that method (a pause from a 429's Retry-After)."""
    paused = exists().where(SlackPause.team_id == OutboxMessage.team_id, SlackPause.method == _method_column(),
                            SlackPause.until > now)
    return and_(_ready(now, lease), ~paused)


def _ready(now: datetime, lease: timedelta):
    return or_(and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
               and_(OutboxMessage.status == "sending", lease_expired(OutboxMessage.claimed_at, now, lease)))


def claim_due(*, session: Session, now: datetime, lease: timedelta, limit: int) -> list[ClaimedMessage]:
    """Take up to `limit` due messages for sending, in one UPDATE … RETURNING; another worker gets others.

    Of a workspace whose pace for a method is learned, at most PACE_HORIZON's worth of its calls is taken (at
    least one), their slots reserved in the same transaction (`reserve_slots`): the rest wait for a later claim
    instead of being held by this sender while other workspaces' messages wait behind them.

    A message still 'sending' when its lease ran out may have reached Slack before its sender died: the claim
    says so in last_error, so the new sender reads the conversation before posting again.
    """
    m = OutboxMessage
    # Capped among the first few due rows only (messages queued together are interleaved across workspaces by
    # `enqueue`): ranking every due row would scan the whole backlog on every claim.
    front = (select(m.id, m.team_id, m.next_attempt_at, _method_column().label("method"))
             .where(_due(now, lease)).order_by(m.next_attempt_at, m.id).limit(limit * CLAIM_LOOKAHEAD).subquery())
    rank = func.row_number().over(partition_by=(front.c.team_id, front.c.method),
                                  order_by=(front.c.next_attempt_at, front.c.id))
    ranked = (
        select(front.c.id, rank.label("rank"), cast(SlackPause.rate * PACE_HORIZON, Integer).label("paced"))
        .select_from(front.outerjoin(SlackPause, and_(SlackPause.team_id == front.c.team_id,
                                                      SlackPause.method == front.c.method)))
        .subquery()
    )
    within_pace = select(ranked.c.id).where(or_(ranked.c.paced.is_(None), ranked.c.rank <= ranked.c.paced,
                                                ranked.c.rank == 1))
    rows = claim_rows(
        session, m, where=and_(m.id.in_(within_pace), _due(now, lease)), order_by=(m.next_attempt_at, m.id),
        limit=limit,
        values=dict(status="sending", claimed_at=now, attempts=m.attempts + 1,
                    last_error=case((and_(m.status == "sending", m.slack_ts.is_(None)),
                                     literal(MAY_HAVE_POSTED + "its sender held it past the lease")),
                                    else_=m.last_error)),
        returning=(m.id, m.team_id, m.kind, m.dedupe_key, m.channel, m.payload, m.slack_ts, m.attempts,
                   m.requests, m.last_error, m.created_at, _paced().label("paced")),
    )
    return sorted((ClaimedMessage(**row._mapping) for row in rows), key=lambda c: c.id)


@dataclass(frozen=True)
class Slots:
    """When each claimed message of a paced workspace may be sent (by message id; the others go at once), and the
    rate of each paced (workspace, method)."""

    at: dict[int, datetime]
    rates: dict[tuple[str, str], float]


def reserve_slots(*, session: Session, claimed: Sequence[ClaimedMessage], now: datetime) -> Slots:
    """Reserve the claimed messages' slots in their workspace's pace: one every 1/rate seconds from the end of the
    last reservation (or now). A workspace with no learned rate isn't paced: its messages may go at once.

    Run in the claim's transaction: the pace rows are locked, so two workers claiming one workspace's messages at
    once get consecutive slots, never the same one; and `until` moves past the slots reserved, so no other claim
    takes that workspace's messages before then.
    """
    # Only workspaces the claim found paced: the common claim, of none, costs no statement here.
    keys = {(c.team_id, method_of(c.kind)) for c in claimed if c.paced}
    rows = session.execute(
        select(SlackPause.team_id, SlackPause.method, SlackPause.rate, SlackPause.until)
        .where(SlackPause.team_id.in_({team for team, _ in keys}), SlackPause.rate.is_not(None))
        .order_by(SlackPause.team_id, SlackPause.method)
        .with_for_update()
    ).all() if keys else []
    paced = {(row.team_id, row.method): row for row in rows if (row.team_id, row.method) in keys}
    at: dict[int, datetime] = {}
    ends = {key: max(row.until, now) for key, row in paced.items()}  # each workspace's next free slot
    for message in claimed:
        key = (message.team_id, method_of(message.kind))
        if key not in paced:
            continue  # not paced: it goes at once, without a slot
        at[message.id] = ends[key]
        ends[key] += timedelta(seconds=1 / paced[key].rate)
    if ends:
        session.execute(update(SlackPause), [dict(team_id=team, method=method, until=end)
                                             for (team, method), end in ends.items()])
    return Slots(at=at, rates={key: row.rate for key, row in paced.items()})


@dataclass(frozen=True)
class Pace:
    """What one pass learned of a workspace's pace for a method."""

    until: datetime  # no call before then: Retry-After after a 429, else one slot after the last call made
    rate: float | None = None  # a rate learned from a 429 (None: keep the known one, grown by `paced_seconds`)
    paced_seconds: float = 0.0  # calls that went through ÷ the rate: how long the pace held without a 429


def record_pace(*, session: Session, paces: dict[tuple[str, str], Pace], growth: float) -> None:
    """Record each (workspace, method)'s pace: `until` only moves later; a rate learned from a 429 replaces the
    known one; otherwise a known rate grows by `growth` for each second's worth of calls that went through at it
    (compounded)."""
    learned = sorted((key, pace) for key, pace in paces.items() if pace.rate is not None)
    for (team_id, method), pace in learned:  # after a 429: rare, and the row may not exist yet
        insert = dialect_insert(session, SlackPause).values(team_id=team_id, method=method, until=pace.until,
                                                            rate=pace.rate)
        session.execute(insert.on_conflict_do_update(
            index_elements=["team_id", "method"], set_=dict(until=_later_until(insert.excluded.until),
                                                            rate=insert.excluded.rate)))
    # Calls that went through, for paced workspaces (their rows exist): one statement for the whole pass, in key
    # order as every pace writer locks rows.
    grown = [dict(pace_team=team_id, pace_method=method, new_until=pace.until,
                  factor=(1 + growth) ** pace.paced_seconds)
             for (team_id, method), pace in sorted(paces.items()) if pace.rate is None]
    if grown:
        session.connection().execute(
            update(SlackPause.__table__)
            .where(SlackPause.team_id == bindparam("pace_team"), SlackPause.method == bindparam("pace_method"))
            .values(until=_later_until(bindparam("new_until")), rate=SlackPause.rate * bindparam("factor")),
            grown)


def _later_until(until):
    """A pace's `until` only moves later: the later of the stored one and `until`."""
    return case((SlackPause.until > until, SlackPause.until), else_=until)


def next_claimable_at(*, session: Session, now: datetime) -> datetime | None:
    """When a pending message that is due but waits for its workspace's pace (or a pause) may next be claimed: the
    earliest pause or slot to end. None when none is due (one due later is the next pass's: a worker's poll, the
    periodic job)."""
    m = OutboxMessage
    earliest = session.scalar(select(func.min(m.next_attempt_at)).where(m.status == "pending"))
    if earliest is None:
        return None
    pause_end = session.scalar(select(func.min(SlackPause.until)).where(SlackPause.until > now))
    if earliest <= now or pause_end is None:
        return pause_end
    return earliest if earliest <= pause_end else None  # given back by a 429 until its pause ends


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed message: sent (with where it landed), or failed (retried at `retry_at`)."""

    message: ClaimedMessage
    channel: str | None = None
    slack_ts: str | None = None
    error: str | None = None  # None: sent (or nothing to send)
    retry_at: datetime | None = None  # for a failure: None means it is failed for good
    release: bool = False  # never attempted: back to pending as it was


def record_outcomes(*, session: Session, outcomes: Sequence[Outcome], now: datetime) -> list[int]:
    """Record a pass's outcomes in one UPDATE; the ids left pending and due now (asked for again while sending).

    A message queued again since it was claimed (its request count moved) goes back to pending whatever
    happened, so the change that came in during sending is sent too.
    """
    if not outcomes:
        return []
    m = OutboxMessage
    by_id = {o.message.id: o for o in outcomes}

    def per_id(values: dict, default):
        if not values:
            return default
        return case({key: literal(value, default.type) for key, value in values.items()}, value=m.id, else_=default)

    unchanged = m.requests == case({i: o.message.requests for i, o in by_id.items()}, value=m.id)
    outcome_status = {i: "sent" if o.error is None and not o.release else
                      ("pending" if o.retry_at or o.release else "failed") for i, o in by_id.items()}
    rows = session.execute(
        OutboxMessage.__table__.update()
        .where(m.id.in_(by_id), m.status == "sending")
        .values(
            status=case((unchanged, case(outcome_status, value=m.id)), else_="pending"),
            next_attempt_at=case(
                (unchanged, per_id({i: o.retry_at for i, o in by_id.items() if o.retry_at}, m.next_attempt_at)),
                else_=literal(now, m.next_attempt_at.type)),
            channel=per_id({i: o.channel for i, o in by_id.items() if o.channel and o.error is None}, m.channel),
            slack_ts=per_id({i: o.slack_ts for i, o in by_id.items() if o.slack_ts}, m.slack_ts),
            sent_at=per_id({i: now for i, o in by_id.items() if o.error is None and not o.release}, m.sent_at),
            last_error=per_id({i: o.error[:2000] if o.error else None for i, o in by_id.items() if not o.release},
                              m.last_error),
            attempts=per_id({i: o.message.attempts - 1 for i, o in by_id.items() if o.release}, m.attempts),
        )
        .returning(m.id, m.status, m.next_attempt_at)
    ).all()
    return [row.id for row in rows if row.status == "pending" and row.next_attempt_at <= now]


@dataclass(frozen=True)
class Backlog:
    """One kind's messages not yet delivered: how many wait, since when the oldest is due, how many failed."""

    kind: str
    pending: int
    failed: int
    oldest_due_at: datetime | None  # the earliest next attempt among its pending messages


def backlog_by_kind(*, session: Session) -> list[Backlog]:
    """Pending and failed messages per kind, in one aggregate query (the status index serves its WHERE)."""
    m = OutboxMessage
    pending, failed = m.status == "pending", m.status == "failed"
    rows = session.execute(
        select(m.kind, func.count().filter(pending), func.count().filter(failed),
               func.min(m.next_attempt_at).filter(pending))
        .where(m.status.in_(("pending", "failed")))
        .group_by(m.kind)
    ).all()
    return [Backlog(kind=kind, pending=p, failed=f, oldest_due_at=oldest) for kind, p, f, oldest in rows]
