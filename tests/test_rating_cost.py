"""What one one-line rating costs in SQL statements: a budget, counted (never timed) as bench/ack_latency.py does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench.ack_latency import RATING, RE_RATING, StatementCounter, settle
from tests.test_home import answer, ask, pulse_round, rate, setup_teams, summary_of

REQUEST_BUDGET = 8  # statements on the request's thread
# With what the rating queues: the lead-feed post and the Home refresh (the budget). A workspace with no
# learned pace costs no statement for it: the claim says which messages are paced.
TOTAL_BUDGET = 15


@pytest.fixture
def counted(start_app):
    """The app with a lead feed, its statements counted; the workspace exists (someone rated before)."""
    app = start_app(lead_feed_channel="C_FEED")
    counter = StatementCounter(app.crossfeed.engine)
    app.server.set_app(counter.serving(app.server.get_app()))
    assert app.slack.command("/leadfeedback", RATING.format(lead="WARM-UP"), user="UWARM").status == 200
    settle(app.crossfeed, counter)
    counter.take()

    def rate(text: str, user: str) -> list[tuple[bool, str, str]]:
        reply = app.slack.command("/leadfeedback", text, user=user)
        assert reply.status == 200 and reply.json["text"].startswith(("Rated", "Updated your rating"))
        settle(app.crossfeed, counter)
        return counter.take()

    return rate


def on_request(statements: list[tuple[bool, str, str]]) -> list[str]:
    return [statement for request, _, statement in statements if request]


def test_a_first_rating_by_a_new_person_stays_within_the_request_budget(counted):
    statements = counted(RATING.format(lead="ACME-1"), "UNEW")

    assert 0 < len(on_request(statements)) <= REQUEST_BUDGET, on_request(statements)


def test_a_re_rate_stays_within_the_request_budget(counted):
    counted(RATING.format(lead="ACME-1"), "UNEW")

    statements = counted(RE_RATING.format(lead="ACME-1"), "UNEW")

    assert 0 < len(on_request(statements)) <= REQUEST_BUDGET, on_request(statements)


@pytest.mark.parametrize("again", [False, True], ids=["first rating", "re-rate"])
def test_a_rating_and_everything_it_queues_stay_within_the_total_budget(counted, again):
    if again:
        counted(RATING.format(lead="ACME-1"), "UNEW")

    statements = counted((RE_RATING if again else RATING).format(lead="ACME-1"), "UNEW")

    assert len(statements) <= TOTAL_BUDGET, [f"{thread}: {statement}" for _, thread, statement in statements]


HOME_BUDGET = 4  # one person's Home, the parts everyone gets (marketers and leaders add their sections)


@pytest.mark.parametrize("who", ["rep", "someone new"])
def test_a_persons_home_is_built_in_four_statements(crossfeed, who):
    now = datetime.now(UTC)
    setup_teams(crossfeed)
    pulse_round(crossfeed, "2020-W01", now - timedelta(days=21), answered=["U1"])
    pulse_round(crossfeed, "2020-W02", now - timedelta(days=14))
    pulse_round(crossfeed, "2020-W03", now - timedelta(hours=1))
    answered = ask(crossfeed, "M1", "Q4 ROI talk track", now - timedelta(days=1))
    ask(crossfeed, "M2", "Pricing one-pager", now - timedelta(days=1))
    answer(crossfeed, "U1", answered.id, "resonated", now - timedelta(hours=3))
    rate(crossfeed, "U1", 'ACME-1 2 no-budget source:webinar "only wanted pricing"', now - timedelta(hours=2))
    assert crossfeed.wait_idle(30), "the deliveries those commits started did not finish"
    counter = StatementCounter(crossfeed.engine)

    summary = summary_of(crossfeed, "U1" if who == "rep" else "U99", now, pulse_secret=b"k" * 32)

    statements = [sql for _, _, sql in counter.take() if not sql.startswith("BEGIN")]
    assert len(statements) <= HOME_BUDGET, statements
    if who == "rep":  # everything the rep's Home shows was read
        assert summary.ratings.total == 1 and summary.answers.total == 1 and summary.asks_to_answer.total == 1
        assert summary.pulse_record.asked == 3 and summary.pulse_record.answered == 1
        assert summary.pulse_closes_at is not None
