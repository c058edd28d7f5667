"""Time zones by IANA name: the one check settings, setup, `/alignment timezone` and the schedules share."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC_ZONE = ZoneInfo("UTC")


def zone_named(name: str | None) -> ZoneInfo | None:
    """The time zone called `name` ("Europe/Paris"), or None for a blank or unknown name."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def workspace_zone(config, default: str | None) -> ZoneInfo:
    """A workspace's own zone (`config.timezone`), else the deployment's default, else UTC (an unknown name is
    skipped): the zone its weeks, schedules and digest are in, and that of anyone whose own zone isn't known."""
    return zone_named(config.timezone) or zone_named(default) or UTC_ZONE
