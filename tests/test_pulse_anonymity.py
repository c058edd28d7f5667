"""Pulse anonymity that survives a database admin, and one answer set per person per round.

The admin reads every table, every row's PostgreSQL xmin and physical position (ctid, SQLite's rowid),
and watches the ledger between requests. The test also holds the app's secret, so it knows the truth
(whose answers are whose) and can score the admin's guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
from datetime import timedelta

from freezegun import freeze_time
from sqlalchemy import event, func, select, text

from bot.pulse import RESPONDENT_KEY_LABEL, respondent_key, secret_of
from storage.models import OutboxMessage, PulseAnswer
from tests.helpers import OPENING, SECRET, answers, button, comment_button, ledger, make_teams, open_round, prompts

ANSWER_TABLES = {"pulse_answers", "pulse_comments"}
WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


class TransactionLog:
    """The tables each committed transaction wrote, in commit order (what the database's log would show)."""

    def __init__(self, engine):
        self.committed: list[set[str]] = []
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)
        self.engine = engine

    def _statement(self, connection, cursor, statement, parameters, context, executemany):
        if match := WRITE.match(statement):
            connection.info.setdefault("written", set()).add(match[1].lower())

    def _commit(self, connection):
        if written := connection.info.pop("written", None):
            self.committed.append(written)

    def _rollback(self, connection):
        connection.info.pop("written", None)

    def close(self):
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)
        event.remove(self.engine, "rollback", self._rollback)


def form_answer(running, user, scores, comment=None):
    running.slack.command("/pulse", user=user)
    running.settle()
    view = running.fake.calls_to("views.open")[-1].view
    values = {f"pulse.q{i}": {f"pulse.q{i}": {"selected_option": {"value": str(s)}}} for i, s in enumerate(scores)}
    if comment is not None:
        values["pulse.comment_text"] = {"pulse.comment_text": {"value": comment}}
    return view, values


def dm_answer(running, user, dm, scores, comment=None):
    for question, score in enumerate(scores):
        action_id, value = button(dm, question, score)
        running.slack.click(action_id, value, user=user, channel=f"D{user}", message_ts="111.222")
        running.settle()
    if comment is not None:
        running.slack.click("pulse.comment", comment_button(dm), user=user, channel=f"D{user}")
        running.settle()
        view = running.fake.calls_to("views.open")[-1].view
        running.slack.submit(view, {"pulse.comment_text": {"pulse.comment_text": {"value": comment}}}, user=user)
        running.settle()


def physical_order(crossfeed, table: str, columns: str) -> list[tuple]:
    """Rows in the order they sit on disk: what an admin reading the raw table sees."""
    position = "ctid" if crossfeed.engine.dialect.name == "postgresql" else "rowid"
    with crossfeed.sessions() as session:
        return [tuple(row) for row in session.execute(text(f"SELECT {columns} FROM {table} ORDER BY {position}"))]


def test_sixty_answerers_cannot_be_linked_to_their_answers(running):
    sales = [f"S{n:02d}" for n in range(30)]
    marketing = [f"M{n:02d}" for n in range(30)]
    make_teams(running.crossfeed, sales=sales, marketing=marketing)
    open_round(running.crossfeed)
    dms = prompts(running.fake)
    with running.crossfeed.sessions() as session:
        outbox_before = session.scalar(select(func.count()).select_from(OutboxMessage))
    rng = random.Random(60)
    people = sales + marketing
    rng.shuffle(people)
    log = TransactionLog(running.crossfeed.engine)
    marked_sizes, marked = [], set()
    try:
        with freeze_time(OPENING + timedelta(hours=2)):
            for n, person in enumerate(people):
                scores = (rng.randint(1, 5), rng.randint(1, 5))
                comment = f"note {n}" if n % 4 == 0 else None
                if n % 3 == 0:
                    view, values = form_answer(running, person, scores, comment)
                    running.slack.submit(view, values, user=person)
                    running.settle()
                else:
                    dm_answer(running, person, dms[person], scores, comment)
                now_marked = {user for user, mark in ledger(running.crossfeed).items() if mark}
                if now_marked != marked:
                    marked_sizes.append(len(now_marked - marked))
                    marked = now_marked
    finally:
        log.close()

    # No transaction that writes an answer or a comment writes anything else.
    answering = [written for written in log.committed if written & ANSWER_TABLES]
    assert len(answering) >= 60
    assert all(written <= ANSWER_TABLES for written in answering), [w for w in answering if w - ANSWER_TABLES]
    # Nothing naming a person is queued when someone answers (no outbox id or time to line up).
    with running.crossfeed.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == outbox_before
    # The ledger learns who answered only in batches of at least the anonymity threshold.
    assert marked_sizes and min(marked_sizes) >= 3, marked_sizes
    assert len(marked) >= 60 - 2

    # The truth, which only someone holding the app's secret can compute.
    secret = secret_of(running.settings)
    round_id = ledger_round(running.crossfeed)
    owner = {respondent_key(secret, round_id, person): person for person in people}
    answer_rows = physical_order(running.crossfeed, "pulse_answers", "respondent")
    answer_order = list(dict.fromkeys(row[0] for row in answer_rows))
    assert set(answer_order) == set(owner) and not set(owner.values()) & set(answer_order)

    # Insertion order and ids: pair the n-th answer set on disk with the n-th marked person, by disk
    # position and by id. A random guess gets one right on average.
    for columns in ("user_id, answered_via", "user_id, answered_via, id"):
        rows = physical_order(running.crossfeed, "pulse_participation", columns)
        orders = [[r[0] for r in rows if r[1]]]
        if columns.endswith("id"):
            orders.append([r[0] for r in sorted(rows, key=lambda r: r[2]) if r[1]])
        for marked_order in orders:
            hits = sum(owner[key] == person for key, person in zip(answer_order, marked_order, strict=False))
            assert hits <= 5, f"{hits} of 60 answerers linked by order"

    if running.crossfeed.engine.dialect.name == "postgresql":
        with running.crossfeed.sessions() as session:
            for table in ("pulse_answers", "pulse_comments", "outbox"):
                linked = session.scalar(text(
                    f"SELECT count(*) FROM pulse_participation p JOIN {table} a ON a.xmin = p.xmin"))
                assert linked == 0, f"{table} shares transaction ids with the ledger"
            # Every ledger row carries the last flush's xmin: no batch order, no time order to read.
            assert session.scalar(text(
                "SELECT count(DISTINCT xmin::text) FROM pulse_participation WHERE round_id = :r"), {"r": round_id}) == 1


def ledger_round(crossfeed) -> int:
    with crossfeed.sessions() as session:
        return session.scalar(select(PulseAnswer.round_id).limit(1))


def respondents(crossfeed) -> int:
    with crossfeed.sessions() as session:
        return session.scalar(select(func.count(func.distinct(PulseAnswer.respondent))))


def test_one_person_has_one_answer_set_however_and_however_often_they_answer(running):
    make_teams(running.crossfeed, sales=["S1", "S2", "S3"], marketing=["M1", "M2", "M3"])
    open_round(running.crossfeed)
    with freeze_time(OPENING + timedelta(hours=1)):
        first, first_values = form_answer(running, "S1", (5, 5))
        second, second_values = form_answer(running, "S1", (1, 2), comment="from the second form")
        for _ in range(5):  # Slack delivers the same submission again
            assert running.slack.submit(first, first_values, user="S1").status == 200
            running.settle()
        assert respondents(running.crossfeed) == 1
        assert answers(running.crossfeed) == [("sales", 0, 5), ("sales", 1, 5)]

        running.slack.submit(second, second_values, user="S1")  # a second form, open at the same time
        running.settle()
        assert answers(running.crossfeed) == [("sales", 0, 1), ("sales", 1, 2)]

        dm_answer(running, "S1", prompts(running.fake)["S1"], (3,))  # then from the DM, on another device
    assert respondents(running.crossfeed) == 1
    assert answers(running.crossfeed) == [("sales", 0, 3), ("sales", 1, 2)], "answering again changes it"

    with freeze_time(OPENING + timedelta(days=4)):
        results = json.dumps(running.slack.command("/pulse", "results", user="M1").json, ensure_ascii=False)
    assert "*Sales* · 1 of 3 answered" in results
    assert "Not enough answers to show without identifying people (scores need 3)" in results
    assert "from the second form" not in results


def test_the_respondent_key_comes_from_a_secret_kept_outside_the_database(start_app):
    keyed = start_app(pulse_key="a key from the vault")
    make_teams(keyed.crossfeed, sales=["S1"], marketing=["M1"])
    open_round(keyed.crossfeed)
    with freeze_time(OPENING + timedelta(hours=1)):
        dm_answer(keyed, "S1", prompts(keyed.fake)["S1"], (4,))
    with keyed.crossfeed.sessions() as session:
        stored, round_id = session.execute(select(PulseAnswer.respondent, PulseAnswer.round_id)).one()

    def documented(material: str) -> str:  # the README's formula
        secret = hmac.new(material.encode(), RESPONDENT_KEY_LABEL, hashlib.sha256).digest()
        return hmac.new(secret, f"{round_id}:S1".encode(), hashlib.sha256).hexdigest()[:32]

    assert stored == documented("a key from the vault")
    assert stored != documented(SECRET), "PULSE_KEY, when set, is used instead of the signing secret"
    assert "S1" not in stored and len(stored) == 32


def test_a_reminder_skips_whoever_answered_though_their_mark_is_not_written_yet(running):
    from schedules import jobs

    make_teams(running.crossfeed, sales=["S1", "S2", "S3", "S4"], marketing=["M1", "M2", "M3"])
    open_round(running.crossfeed)
    with freeze_time(OPENING + timedelta(hours=2)):
        dm_answer(running, "S1", prompts(running.fake)["S1"], (4, 4))
        dm_answer(running, "M1", prompts(running.fake)["M1"], (2, 3))
    assert not any(ledger(running.crossfeed).values()), "two answers are fewer than a batch"

    runtime = jobs.JobRuntime.of(running.crossfeed)
    with freeze_time(OPENING + timedelta(hours=24, minutes=1)):
        assert jobs.send_pulse_reminders(runtime) == "reminders: 5 queued"
        running.settle()

    reminded = sorted(c.params["channel"] for c in running.fake.calls_to("chat.postMessage", succeeded=True)
                      if c.params["text"].startswith("Reminder"))
    assert reminded == ["M2", "M3", "S2", "S3", "S4"]
