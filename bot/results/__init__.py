"""What services hand back and renderers show: plain types and the constants both sides need (no SQL, no services)."""

from __future__ import annotations


def share(part: int | float, whole: int | float) -> float | None:
    """`part` as a fraction of `whole` (0.25 is 25%), None when there is no whole to take it of."""
    return part / whole if whole else None
