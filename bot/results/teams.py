"""Teams and the admin roster, as services hand them back."""

from __future__ import annotations

from dataclasses import dataclass

SIDES = ("sales", "marketing")


@dataclass(frozen=True)
class Roster:
    names: dict[str, str]
    members: dict[str, list[tuple[str, str]]]  # side → [(user_id, origin)]
    usergroups: dict[str, str]
    admins: list[str]
