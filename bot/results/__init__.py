"""What services hand back and renderers show: plain types and the constants both sides need (no SQL, no services)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field


def share(part: int | float, whole: int | float) -> float | None:
    """`part` as a fraction of `whole` (0.25 is 25%), None when there is no whole to take it of."""
    return part / whole if whole else None


# Ids are 32-bit integer columns: a larger number in a button or metadata can name no row, and PostgreSQL
# refuses it outright (NumericValueOutOfRange) rather than finding nothing.
ID_MAX = 2**31 - 1
# A row id in metadata we wrote: out of range, it was not written by us (the request is refused as malformed).
RecordId = Annotated[int, Field(ge=1, le=ID_MAX)]


def record_id(value: object) -> int | None:
    """A row id as a button value or metadata carries it ("42"); anything that can name no row is None:
    not plain ASCII digits ("-1", "1e9", "４２", "²"), 0, or past the id column's range."""
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(ID_MAX)):
        return None
    number = int(text)
    return number if 1 <= number <= ID_MAX else None
