"""Domain errors: each carries the friendly words a person sees."""

from __future__ import annotations


class CrossfeedError(Exception):
    """A problem the person can fix; `message` says what went wrong and how to fix it (mrkdwn)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(CrossfeedError):
    """Input that fails validation; `fields` maps a form field to what is wrong with it."""

    def __init__(self, fields: dict[str, str], *, usage: str | None = None):
        self.fields = fields
        self.usage = usage
        super().__init__(" ".join(fields.values()))


class NotFound(CrossfeedError):
    pass


class NotAllowed(CrossfeedError):
    pass
