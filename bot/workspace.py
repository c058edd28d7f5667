"""Workspace settings an admin can change from Slack: time zone and the pulse schedule."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.digest import last_complete_week, targets_of
from bot.digest_posting import audience_due, digest_audiences
from bot.pulse import next_opening, threshold_in_force
from bot.results.setup import THRESHOLD_MIN
from bot.results.workspace import WorkspaceStatus
from bot.skipped_weeks import upcoming
from bot.teams import usergroups
from bot.zones import workspace_zone
from storage import digest as digest_store
from storage.installations import rename_workspace
from storage.teams import admin_ids, team_members, workspace_config


def rename(*, session: Session, team_id: str, name: str) -> None:
    """Slack says the workspace is now called `name` (team_rename)."""
    rename_workspace(session=session, team_id=team_id, name=name)


def set_timezone(*, session: Session, team_id: str, name: str) -> None:
    workspace_config(session=session, team_id=team_id).timezone = name


def pulse_schedule_reads(cadence: str, day: str, time: str) -> str:
    """"every two weeks on Thu at 09:30": a pulse schedule as people read it."""
    return f"{'every week' if cadence == 'weekly' else 'every two weeks'} on {day.title()} at {time}"


def digest_schedule_reads(day: str, time: str) -> str:
    """"every Mon at 09:00": the digest's schedule as people read it."""
    return f"every {day.title()} at {time}"


def set_pulse_schedule(*, session: Session, team_id: str, cadence: str, day: str, time: str) -> str:
    """Store when pulse rounds open; returns how the schedule now reads."""
    config = workspace_config(session=session, team_id=team_id)
    config.pulse_cadence, config.pulse_day, config.pulse_time = cadence, day, time
    return pulse_schedule_reads(cadence, day, time)


def set_digest_schedule(*, session: Session, team_id: str, day: str, time: str) -> str:
    """Store when the weekly digest is posted; returns how the schedule now reads."""
    config = workspace_config(session=session, team_id=team_id)
    config.digest_day, config.digest_time = day, time
    return digest_schedule_reads(day, time)


def set_digest_channels(*, session: Session, team_id: str, channels: list[str]) -> None:
    workspace_config(session=session, team_id=team_id).digest_channels = channels


def digest_channels(*, session: Session, team_id: str) -> list[str]:
    return list(workspace_config(session=session, team_id=team_id).digest_channels or [])


def sales_channel(*, session: Session, team_id: str, default: str | None) -> str | None:
    """Where messaging asks go unless the marketer picks another place (setup, else SALES_CHANNEL)."""
    return workspace_config(session=session, team_id=team_id).sales_channel or default


def lead_feed_channel(*, session: Session, team_id: str, default: str | None) -> str | None:
    """Where 1–2 ratings are shared, if anywhere (setup, else LEAD_FEED_CHANNEL)."""
    return workspace_config(session=session, team_id=team_id).lead_feed_channel or default


def next_digest_post(*, session: Session, team_id: str, now: datetime,
                     default_zone: str | None) -> tuple[datetime | None, bool]:
    """When the workspace's digest next goes to one of its channels, and whether that is overdue (due, not yet
    posted: the clock's next run posts it). A channel shared with the org's other workspaces gets its digest when
    the last of them is due, not at this workspace's own time."""
    upcoming_posts = []
    for audience in digest_audiences(session, team_id=team_id):
        due, zone = audience_due(session, audience, default_zone=default_zone, now=now)
        if due > now:
            upcoming_posts.append((due, False))
            continue
        claim = digest_store.digest_claims(session=session, posted_for=audience.posted_for,
                                           week=last_complete_week(now, zone).label).get(audience.channel)
        if claim is None or claim.status != "posted":
            upcoming_posts.append((due, True))
        else:
            upcoming_posts.append((audience_due(session, audience, default_zone=default_zone, now=now,
                                                following=True)[0], False))
    overdue = [due for due, late in upcoming_posts if late]
    if overdue:
        return min(overdue), True
    return min((due for due, _ in upcoming_posts), default=None), False


def workspace_status(*, session: Session, team_id: str, now: datetime, configured_admins: frozenset[str],
                     default_zone: str | None, default_sales_channel: str | None,
                     default_lead_feed_channel: str | None) -> WorkspaceStatus:
    config = workspace_config(session=session, team_id=team_id)
    zone = workspace_zone(config, default_zone)
    sizes = {"sales": 0, "marketing": 0}
    for member in team_members(session=session, team_id=team_id):
        sizes[member.side] += 1
    channels = list(config.digest_channels or [])
    next_digest, digest_overdue = next_digest_post(session=session, team_id=team_id, now=now,
                                                   default_zone=default_zone)
    return WorkspaceStatus(
        timezone=zone.key, team_sizes=sizes,
        usergroups=usergroups(session=session, team_id=team_id),
        admins=sorted(set(admin_ids(session=session, team_id=team_id)) | configured_admins),
        pulse_schedule=pulse_schedule_reads(config.pulse_cadence, config.pulse_day, config.pulse_time),
        next_pulse=next_opening(config, now, default_zone=default_zone),
        thresholds=(threshold_in_force(config=config), max(THRESHOLD_MIN, config.comment_threshold)),
        digest_channels=channels, digest_schedule=digest_schedule_reads(config.digest_day, config.digest_time),
        next_digest=next_digest, digest_overdue=digest_overdue,
        sales_channel=config.sales_channel or default_sales_channel,
        lead_feed_channel=config.lead_feed_channel or default_lead_feed_channel,
        leaders=list(config.leader_user_ids or []),
        ask_reminder_hours=config.ask_reminder_hours, ask_open_days=config.ask_open_days,
        pulse_reminder_hours=config.pulse_reminder_hours,
        skipped_weeks=upcoming(config.skipped_pulse_weeks, now.astimezone(zone).date()),
        targets=targets_of(config),
    )
