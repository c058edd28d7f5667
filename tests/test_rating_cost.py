"""What one one-line rating costs in SQL statements: a budget, counted (never timed) as bench/ack_latency.py does."""

from __future__ import annotations

import pytest

from bench.ack_latency import RATING, RE_RATING, StatementCounter, settle

REQUEST_BUDGET = 8  # statements on the request's thread
TOTAL_BUDGET = 15  # with what the rating queues: the lead-feed post and the Home refresh


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


@pytest.mark.xfail(strict=False, reason="needs the batch-claim outbox (branch `background`): delivering the feed "
                                        "post and the Home refresh costs more than the 7 statements left")
@pytest.mark.parametrize("again", [False, True], ids=["first rating", "re-rate"])
def test_a_rating_and_everything_it_queues_stay_within_the_total_budget(counted, again):
    if again:
        counted(RATING.format(lead="ACME-1"), "UNEW")

    statements = counted((RE_RATING if again else RATING).format(lead="ACME-1"), "UNEW")

    assert len(statements) <= TOTAL_BUDGET, [f"{thread}: {statement}" for _, thread, statement in statements]
