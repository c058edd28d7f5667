"""Domain errors: each carries the friendly words a person sees."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


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

    @classmethod
    def from_validation_error(cls, error: ValidationError, *, default_field: str = "name",
                              usage: str | None = None) -> InvalidInput:
        """pydantic's errors as friendly per-field messages: the first message for each field."""
        fields: dict[str, str] = {}
        for item in error.errors():
            field = str(item["loc"][0]) if item["loc"] else default_field
            fields.setdefault(field, item["msg"].removeprefix("Value error, "))
        return cls(fields, usage=usage)


class NotFound(CrossfeedError):
    pass


class NotAllowed(CrossfeedError):
    pass


def parse(model: type[Model], data: dict) -> Model:
    """Validate form input, turning pydantic's errors into friendly per-field messages."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidInput.from_validation_error(error) from None
