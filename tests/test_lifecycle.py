"""Five weeks as deployed: the web app on HTTP, the clock turning its own job table, people acting in Slack.

Six reps, three marketers and a RevOps admin set up, rate leads, ask and answer messaging asks and answer
pulse rounds through signed requests, while the clock (`tests/clock_kit.TurnedClock`: the clock process's job
store, job table and scheduler loop) runs every job when its own schedule says. The workspace is in New York,
and US daylight saving time ends on Sunday 1 November 2026, in the middle of the run. The test keeps its own
ledger of what it sent and checks every digest that reached the leaders' channels against it.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from bot.blocks.ids import MessagingIds
from tests.clock_kit import TurnedClock
from tests.helpers import button
from tests.test_messaging import answer_values, ask_values, button_value

ZONE = ZoneInfo("America/New_York")
FIRST_MONDAY = datetime(2026, 10, 12, tzinfo=ZONE)  # 2026-W42
WEEKS = 5
REPS = [f"UREP{n}" for n in range(1, 7)]
MARKETERS = ["UMKT1", "UMKT2", "UMKT3"]
ADMIN = "UADMIN"
DIGEST_CHANNELS = ["CLEAD", "CREVOPS"]
SALES_CHANNEL = "CSALES"
SOURCES = {"webinar": "Webinar", "paid-search": "Paid search", "email": "Email", "event": "Event / trade show"}
BAD_REASONS = ["no-budget", "not-icp", "wrong-persona"]


def local(week: int, day: int, hour: int, minute: int = 0) -> datetime:
    """Week `week` of the run, `day` 0 = Monday, at a local wall-clock time, as UTC."""
    monday = FIRST_MONDAY + timedelta(days=7 * week + day)
    return datetime(monday.year, monday.month, monday.day, hour, minute, tzinfo=ZONE).astimezone(UTC)


def iso_week(moment: datetime) -> str:
    year, number, _ = moment.astimezone(ZONE).isocalendar()
    return f"{year}-W{number:02d}"


@dataclass
class Ledger:
    """What the test sent, by ISO week, computed without the app."""

    ratings: dict[str, dict[tuple[str, str], int]] = field(default_factory=lambda: defaultdict(dict))
    pulse: dict[str, dict[str, dict[str, list[int]]]] = field(default_factory=dict)
    asked: dict[str, dict[str, int]] = field(default_factory=dict)
    answered_before_reminder: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    asks: dict[str, dict[str, str]] = field(default_factory=dict)  # ask → rep → reaction
    asks_open: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # week → asks open in it


class Month:
    """The world of the test: the web app, the clock, the people, the frozen time and the ledger."""

    def __init__(self, app, frozen):
        self.app, self.fake, self.frozen = app, app.fake, frozen
        self.clock = TurnedClock(app.settings)
        self.ledger = Ledger()
        self.rng = random.Random(20261012)
        self.now = FIRST_MONDAY.astimezone(UTC)
        self.seen_calls = 0
        self.call_times: list[tuple[datetime, object]] = []  # (when, call) for every Slack call

    # --- time ---

    def run_until(self, moment: datetime) -> None:
        """Turn the clock up to `moment`: each hour of the working day, every four hours otherwise, and at
        `moment`. Between turns the clock would find nothing new to do: its jobs poll the database, so a turn
        runs each job once (APScheduler coalesces the minutes in between) and does what an hour's runs would."""
        while self.now < moment:
            here = self.now.astimezone(ZONE)
            working = here.weekday() < 5 and 7 <= here.hour < 19
            hour = self.now.replace(minute=0, second=0, microsecond=0)
            step = min(moment, hour + timedelta(hours=1 if working else 4 - here.hour % 4))
            self.at(step)
            self.clock.turn()
            self.record_calls()

    def at(self, moment: datetime) -> None:
        self.frozen.move_to(moment)
        self.now = moment

    def record_calls(self) -> None:
        self.app.settle()
        calls = self.fake.calls
        for call in calls[self.seen_calls:]:
            self.call_times.append((self.now, call))
        self.seen_calls = len(calls)

    def restart_clock(self) -> None:
        self.clock.stop()
        self.clock = TurnedClock(self.app.settings)

    # --- people ---

    def command(self, user: str, command: str, text: str):
        reply = self.app.slack.command(command, text, user=user)
        assert reply.status == 200, reply.body
        self.record_calls()
        return reply

    def rate(self, rep: str, lead: str, rating: int, source: str, reason: str | None = None) -> None:
        text = f"{lead} {rating}" + (f" {reason}" if reason else "") + f" source:{source}"
        reply = self.command(rep, "/leadfeedback", text)
        assert f"{lead}: {rating}/5" in reply.json["text"], reply.json
        self.ledger.ratings[iso_week(self.now)][(rep, lead)] = rating

    def answer_pulse(self, person: str, side: str, scores: tuple[int, int]) -> None:
        week = iso_week(self.now)
        dm = self.pulse_dm(person)
        for question, score in enumerate(scores):
            action_id, value = button(dm, question, score)
            reply = self.app.slack.click(action_id, value, user=person, channel=f"D{person}", message_ts="1.1")
            assert reply.status == 200
        self.record_calls()
        entry = self.ledger.pulse.setdefault(week, {}).setdefault(side, {"q0": [], "q1": []})
        entry["q0"].append(scores[0])
        entry["q1"].append(scores[1])

    def pulse_dm(self, person: str) -> dict:
        dms = [call.params for when, call in self.call_times
               if call.method == "chat.postMessage" and call.ok and call.params.get("channel") == person
               and "pulse" in call.params.get("text", "").casefold() and "Reminder" not in call.params["text"]
               and iso_week(when) == iso_week(self.now)]
        assert len(dms) == 1, f"{person} should have exactly one pulse DM this week, got {len(dms)}"
        return dms[0]

    def ask(self, marketer: str, name: str, days: int) -> dict:
        reply = self.command(marketer, "/messaging", "ask")
        assert reply.status == 200
        [opened] = [call for _, call in self.call_times if call.method == "views.open"][-1:]
        reply = self.app.slack.submit(opened.view, ask_values(name=name, channel=SALES_CHANNEL, days=str(days)),
                                      user=marketer)
        assert reply.body == "", reply.body
        self.record_calls()
        cards = [call.params for _, call in self.call_times if call.method == "chat.postMessage"
                 and call.params.get("channel") == SALES_CHANNEL and name in call.params.get("text", "")]
        assert len(cards) == 1, f"one card for {name}"
        self.ledger.asks[name] = {}
        for week in dict.fromkeys(iso_week(self.now + timedelta(days=day)) for day in range(days + 1)):
            self.ledger.asks_open[week].append(name)  # the weeks it is open in, to the day it closes
        return cards[0]

    def answer_ask(self, rep: str, name: str, card: dict, reaction: str) -> None:
        reply = self.app.slack.click(f"messaging.react.{reaction}", button_value(card["blocks"], reaction),
                                     user=rep, channel=SALES_CHANNEL, message_ts="1700000000.000001")
        self.record_calls()
        [opened] = [call for _, call in self.call_times if call.method == "views.open"][-1:]
        values = answer_values(reaction=reaction, used_in=("call",), quote=None, suggestion=None)
        values[MessagingIds.QUOTE][MessagingIds.QUOTE]["value"] = None
        values[MessagingIds.SUGGESTION][MessagingIds.SUGGESTION]["value"] = None
        reply = self.app.slack.submit(opened.view, values, user=rep)
        assert reply.body == "", reply.body
        self.record_calls()
        self.ledger.asks[name][rep] = reaction

    # --- what people received ---

    def posts_to(self, channel: str) -> list[tuple[datetime, dict]]:
        return [(when, call.params) for when, call in self.call_times
                if call.method == "chat.postMessage" and call.ok and call.params.get("channel") == channel]

    def calls(self, method: str) -> list[tuple[datetime, dict]]:
        return [(when, call.params) for when, call in self.call_times if call.method == method]


def digest_figures(post: dict) -> dict:
    """The numbers a leader reads in a digest post."""
    text = json.dumps(post["blocks"], ensure_ascii=False).replace("\\n", "\n")
    figures: dict = {}
    if match := re.search(r"\*Leads rated\*\n(\d+)", text):
        figures["ratings"] = int(match.group(1))
    if match := re.search(r"\*Reps who rated\*\n(\d+) of (\d+)", text):
        figures["raters"], figures["sales_team"] = int(match.group(1)), int(match.group(2))
    if match := re.search(r"\*Average\*\n(\d\.\d)/5", text):
        figures["average"] = float(match.group(1))
    if match := re.search(r"\*Good \(4–5\) / bad \(1–2\)\*\n(\d+)% / (\d+)%", text):
        figures["good"], figures["bad"] = int(match.group(1)), int(match.group(2))
    for name, resonance, counts in re.findall(r"\*(Talk track v\d)\*: (\d+)% resonance · ([^\n\"]*)", text):
        tally = {label: int(n) for label, n in re.findall(r"(Resonated|Mixed|Fell flat) (\d+)", counts)}
        figures[f"ask {name}"] = (int(resonance), tally)
    for side, name in (("sales", "Sales"), ("marketing", "Marketing")):
        if match := re.search(rf"\*{name}\* · (\d+) of (\d+) answered\n([^\"]*)", text):
            figures[f"{side}_answered"] = (int(match.group(1)), int(match.group(2)))
            if scores := [float(s) for s in re.findall(r": \*(\d\.\d)\*", match.group(3))[:2]]:
                figures[f"{side}_scores"] = scores
    return figures


def expected_figures(ledger: Ledger, week: str, threshold: int = 3) -> dict:
    rated = ledger.ratings.get(week, {})
    expected: dict = {}
    if rated:
        values = list(rated.values())
        expected["ratings"] = len(values)
        expected["raters"], expected["sales_team"] = len({rep for rep, _ in rated}), len(REPS)
        expected["average"] = round(sum(values) / len(values), 1)
        expected["good"] = round(100 * sum(v >= 4 for v in values) / len(values))
        expected["bad"] = round(100 * sum(v <= 2 for v in values) / len(values))
    for name in ledger.asks_open.get(week, []):
        reactions = Counter(ledger.asks[name].values())
        tally = {label: reactions[r] for r, label in (("resonated", "Resonated"), ("mixed", "Mixed"),
                                                          ("flat", "Fell flat")) if reactions[r]}
        expected[f"ask {name}"] = (round(100 * reactions["resonated"] / sum(tally.values())), tally)
    for side, asked in ledger.asked.get(week, {}).items():
        answers = ledger.pulse.get(week, {}).get(side, {"q0": [], "q1": []})
        expected[f"{side}_answered"] = (len(answers["q0"]), asked)
        if len(answers["q0"]) >= threshold:
            expected[f"{side}_scores"] = [round(sum(answers[q]) / len(answers[q]), 1) for q in ("q0", "q1")]
    return expected


def close_enough(shown: dict, expected: dict) -> bool:
    """Shown figures are rounded for reading (one decimal, whole percents): allow the last digit's rounding."""
    if shown.keys() != expected.keys():
        return False
    for key, value in expected.items():
        got = shown[key]
        if isinstance(value, float):
            if abs(got - value) > 0.051:
                return False
        elif isinstance(value, list):
            if len(got) != len(value) or any(abs(a - b) > 0.051 for a, b in zip(got, value, strict=True)):
                return False
        elif isinstance(value, int) and key in ("good", "bad"):
            if abs(got - value) > 1:
                return False
        elif got != value:
            return False
    return True


@pytest.fixture
def month(start_app):
    app = start_app(sales_channel=SALES_CHANNEL)
    with freeze_time(FIRST_MONDAY.astimezone(UTC)) as frozen:
        world = Month(app, frozen)
        yield world
        world.clock.stop()


def rate_some_leads(month: Month, week: int, day: int) -> None:
    rng = month.rng
    for rep in REPS:
        for n in range(rng.choice([0, 1, 1, 2])):
            rating = rng.randint(1, 5)
            source = rng.choice(list(SOURCES))
            reason = rng.choice(BAD_REASONS) if rating <= 2 else ("great-fit" if rating >= 4 else None)
            month.rate(rep, f"L{week}{day}-{rep[-1]}{n}", rating, source, reason)


def play_week(month: Month, week: int) -> None:
    rng, ledger = month.rng, month.ledger
    # Monday: a marketer asks how a talk track landed (weeks 0 and 2).
    month.run_until(local(week, 0, 14))
    card = None
    if week in (0, 2):
        card = month.ask(MARKETERS[week // 2], f"Talk track v{week + 1}", days=7 if week == 0 else 3)
    # Tuesday: reps rate leads, and four answer the ask.
    month.run_until(local(week, 1, 11))
    rate_some_leads(month, week, 1)
    if card is not None:
        month.run_until(local(week, 1, 16))
        for rep in REPS[:4]:
            month.answer_ask(rep, f"Talk track v{week + 1}", card, rng.choice(["resonated", "mixed", "flat"]))
    # Wednesday 10:00: the clock opens the pulse round; most people answer at 13:00.
    month.run_until(local(week, 2, 10))
    label = iso_week(month.now)
    ledger.asked[label] = {"sales": len(REPS), "marketing": len(MARKETERS)}
    people = [(p, "sales") for p in REPS] + [(p, "marketing") for p in MARKETERS]
    plans = {person: rng.choice(["early", "early", "early", "late", "never"]) for person, _ in people}
    month.run_until(local(week, 2, 13))
    for person, side in people:
        if plans[person] == "early":
            month.answer_pulse(person, side, (rng.randint(1, 5), rng.randint(1, 5)))
            ledger.answered_before_reminder[label].add(person)
    # Thursday: the reminder goes at 10:00; some answer after it; more ratings, and one rep changes one.
    month.run_until(local(week, 3, 12))
    for person, side in people:
        if plans[person] == "late":
            month.answer_pulse(person, side, (rng.randint(1, 5), rng.randint(1, 5)))
    month.run_until(local(week, 3, 15))
    rate_some_leads(month, week, 3)
    tuesday = [(rep, lead) for rep, lead in ledger.ratings[label] if f"L{week}1-" in lead]
    if tuesday:
        rep, lead = tuesday[0]
        month.rate(rep, lead, 5, "webinar", "great-fit")


def test_five_weeks_as_deployed(month):
    # Monday 08:00 of the first week: an admin sets the workspace up with commands, as a person would.
    month.run_until(local(0, 0, 8))
    month.command(ADMIN, "/alignment", "timezone America/New_York")
    month.command(ADMIN, "/alignment", "team add " + " ".join(f"<@{u}|{u.lower()}>" for u in REPS) + " sales")
    month.command(ADMIN, "/alignment", "team add " + " ".join(f"<@{u}|{u.lower()}>" for u in MARKETERS)
                  + " marketing")
    month.command(ADMIN, "/alignment", "digest channels " + " ".join(f"<#{c}|{c.lower()}>" for c in DIGEST_CHANNELS))

    for week in range(WEEKS):
        play_week(month, week)
        if week == 3:
            month.run_until(local(week, 6, 3))
            month.restart_clock()  # a deploy on Sunday night: a new clock process adds its jobs afresh
    month.run_until(local(WEEKS, 0, 12))  # the last week's digest, Monday after

    expected_weeks = [iso_week(local(week, 0, 9)) for week in range(WEEKS)]
    for channel in DIGEST_CHANNELS:
        posts = month.posts_to(channel)
        weeks = [post["metadata"]["event_payload"]["week"] for _, post in posts]
        assert weeks == expected_weeks, f"{channel}: one digest a week, for each week, in order"
        for (when, post), week in zip(posts, range(WEEKS), strict=True):
            # Posted at the first turn of the clock at or after Monday 09:00 New York time, EDT or EST.
            assert when == local(week + 1, 0, 9), (channel, when)
            expected = expected_figures(month.ledger, expected_weeks[week])
            shown = digest_figures(post)
            assert close_enough(shown, expected), (expected_weeks[week], {
                key: (shown.get(key), expected.get(key)) for key in shown.keys() | expected.keys()
                if shown.get(key) != expected.get(key)})
    utc_hours = {when.hour for when, _ in month.posts_to(DIGEST_CHANNELS[0])}
    assert utc_hours == {13, 14}, "09:00 in New York is 13:00 UTC before 1 November and 14:00 after"

    # A posted channel-week costs no more Slack calls: one join per post, no history read.
    assert len(month.calls("conversations.join")) == WEEKS * len(DIGEST_CHANNELS)
    assert month.calls("conversations.history") == []

    # Reminders: one per round to each person who had not answered by then, none to the others.
    reminders = Counter((iso_week(when), params["channel"]) for when, params in month.calls("chat.postMessage")
                        if params.get("text", "").startswith("Reminder: this week's pulse"))
    everyone = set(REPS) | set(MARKETERS)
    expected_reminders = Counter({(week, person): 1 for week in month.ledger.asked
                                  for person in everyone - month.ledger.answered_before_reminder[week]})
    assert reminders == expected_reminders
    # Each ask reminds the reps once, a day after it opens (Monday 14:00 → Tuesday 14:00): none had answered
    # yet (they answer at 16:00), and the marketer who asked is not a rep.
    ask_reminders = Counter((when, params["channel"]) for when, params in month.calls("chat.postMessage")
                            if params.get("text", "").startswith("Reminder: How did this land"))
    assert ask_reminders == Counter({(local(week, 1, 14), rep): 1 for week in (0, 2) for rep in REPS})

    # Asks close once: one summary to the asker, one closed card.
    summaries = [params for _, params in month.calls("chat.postMessage") if "has closed" in params.get("text", "")]
    assert sorted(p["channel"] for p in summaries) == ["UMKT1", "UMKT2"]
    closed_cards = [params for _, params in month.calls("chat.update") if params.get("channel") == SALES_CHANNEL
                    and ":lock: Closed" in json.dumps(params.get("blocks", []))]
    assert len(closed_cards) == 2 and len({p["ts"] for p in closed_cards}) == 2


def test_two_clocks_on_one_database_post_each_channel_weeks_digest_once(start_app):
    app = start_app(sales_channel=SALES_CHANNEL)
    with freeze_time(local(0, 0, 8)) as frozen:
        app.slack.command("/alignment", "timezone America/New_York", user=ADMIN)
        app.slack.command("/alignment", "digest channels " + " ".join(f"<#{c}|x>" for c in DIGEST_CHANNELS),
                          user=ADMIN)
        app.slack.command("/leadfeedback", "ACME-1 2 no-budget", user=REPS[0])
        frozen.move_to(local(1, 0, 8, 30))
        clocks = [TurnedClock(app.settings), TurnedClock(app.settings)]  # two clock processes, both up
        frozen.move_to(local(1, 0, 9))
        try:
            barrier = threading.Barrier(len(clocks))

            def turn(clock: TurnedClock) -> None:
                barrier.wait()
                clock.turn()

            threads = [threading.Thread(target=turn, args=(clock,)) for clock in clocks]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            app.settle()
            posts = [c.params["channel"] for c in app.fake.calls_to("chat.postMessage") if c.params.get("metadata")]
            calls = len(app.fake.calls)
            frozen.move_to(local(1, 0, 10))
            for clock in clocks:
                clock.turn()
            app.settle()
        finally:
            for clock in clocks:
                clock.stop()

    assert sorted(posts) == sorted(DIGEST_CHANNELS), "one digest per channel, whichever clock posted it"
    later = [c.method for c in app.fake.calls[calls:]]
    assert later == [], f"a posted week costs the clocks no Slack call: {later}"


def test_status_tells_when_the_next_digest_goes_as_the_clock_will_post_it(start_app):
    app = start_app()
    with freeze_time(local(0, 0, 8)) as frozen:
        app.slack.command("/alignment", "timezone America/New_York", user=ADMIN)
        app.slack.command("/alignment", "digest channels <#CLEAD|leadership>", user=ADMIN)
        frozen.move_to(local(1, 0, 8, 30))
        clock = TurnedClock(app.settings)
        try:
            def digest_line() -> str:
                body = app.slack.command("/alignment", "status", user=ADMIN).json
                return next(field["text"] for block in body["blocks"] for field in block.get("fields") or []
                            if field["text"].startswith("*Digest*"))

            before = digest_line()
            frozen.move_to(local(1, 0, 9))
            due = digest_line()  # the clock's minute hasn't come round yet
            clock.turn()
            app.settle()
            after = digest_line()
        finally:
            clock.stop()

    monday_nine, next_monday_nine = (int(local(week, 0, 9).timestamp()) for week in (1, 2))
    assert f"next: <!date^{monday_nine}^" in before
    assert f"last week's, due <!date^{monday_nine}^" in due and "posting within a minute" in due
    assert [c.params["channel"] for c in app.fake.calls_to("chat.postMessage")] == ["CLEAD"]
    assert f"next: <!date^{next_monday_nine}^" in after
