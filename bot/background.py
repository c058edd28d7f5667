"""Work that runs after Slack has been answered (opening a modal, confirming a submission)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

logger = logging.getLogger(__name__)


class AfterAck:
    """A small thread pool for the part of a listener that follows ack().

    Listeners run with process_before_response=True so Slack gets its answer as soon as the
    listener returns; whatever must follow the answer is handed here. Failures are logged with
    the listener's own error reporting, never swallowed.
    """

    def __init__(self, *, workers: int = 8):
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="after-ack")
        self._in_flight = 0
        self._done = threading.Condition()

    def run(self, work: Callable[..., Any], *args: Any, on_error: Callable[[Exception], None]) -> None:
        with self._done:
            self._in_flight += 1
        try:
            self._executor.submit(self._guarded, work, args, on_error)
        except RuntimeError:  # shut down: nothing will run, so nothing is in flight
            with self._done:
                self._in_flight -= 1
                self._done.notify_all()
            raise

    def _guarded(self, work: Callable[..., Any], args: tuple, on_error: Callable[[Exception], None]) -> None:
        try:
            work(*args)
        except Exception as error:
            try:
                on_error(error)
            except Exception:
                logger.exception("could not report a failure in background work")
        finally:
            with self._done:
                self._in_flight -= 1
                self._done.notify_all()

    def wait_idle(self, timeout: float = 5) -> bool:
        with self._done:
            return self._done.wait_for(lambda: self._in_flight == 0, timeout)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)
