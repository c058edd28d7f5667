"""After-ack work: what is handed over after shutdown is refused, and doesn't count as in flight."""

from __future__ import annotations

import pytest

from bot.background import AfterAck


def test_work_handed_over_after_shutdown_is_refused_and_leaves_nothing_in_flight():
    after_ack = AfterAck(workers=1)
    after_ack.shutdown()

    with pytest.raises(RuntimeError):
        after_ack.run(lambda: None, on_error=lambda error: None)

    assert after_ack.wait_idle(0.1) is True


def test_a_failure_is_reported_and_the_pool_goes_idle():
    after_ack, reported = AfterAck(workers=1), []

    after_ack.run(lambda: 1 / 0, on_error=reported.append)

    assert after_ack.wait_idle(2) is True
    assert [type(error) for error in reported] == [ZeroDivisionError]
    after_ack.shutdown()
