"""Posting the weekly digest to each digest channel exactly once per week.

A claim row (audience, channel, week) is inserted before posting (the audience is the workspace, or its
Enterprise Grid org, whose workspaces sharing a channel get one digest there), under a unique constraint, so
two clocks never both post; the message carries metadata naming the week, so a claim left behind
by a crash between posting and recording is reconciled from the channel's history instead of
posting twice. The trend chart is uploaded after the message; if that fails the digest stands.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.digest import digest_message, shared_digest_message
from bot.chart import trend_chart
from bot.digest import Week, build_weekly_digest, last_complete_week, scheduled_time, week_of
from bot.installs import WorkspaceNotInstalled
from bot.results.digest import week_starting
from bot.settings import Settings
from bot.skipped_weeks import monday_of
from bot.slack_history import find_posted, may_have_posted, without_connection_retries
from bot.zones import workspace_zone
from storage import digest as store
from storage.teams import all_configs, workspace_config, workspace_since, workspaces_by_id

if TYPE_CHECKING:
    from bot.container import ClientFor

logger = logging.getLogger(__name__)

EVENT_TYPE = "crossfeed_digest"
CLAIM_LEASE = timedelta(minutes=10)
LATE_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class DigestOutcome:
    channel: str
    week: str
    result: str  # "posted" | "already posted" | "reconciled" | "failed: …"


@dataclass(frozen=True)
class DigestAudience:
    """Who one digest in a channel speaks for. Usually one workspace; on Enterprise Grid, the org's workspaces
    that name the same digest channel (a channel shared between them has one id across the org), which get one
    digest there with a part for each, instead of one digest per workspace."""

    posted_for: str  # the claim's audience: the workspace's team id, or its org's enterprise id
    channel: str
    teams: tuple[str, ...]  # the workspaces whose digests it holds, in team id order


def digest_audiences(session: Session, *, team_id: str | None = None) -> list[DigestAudience]:
    """Every digest channel's audience (or only those `team_id`'s channels are in), from the workspaces'
    setup: the workspaces of one org naming one channel are one audience."""
    configs = [c for c in all_configs(session=session) if c.digest_channels]
    workspaces = workspaces_by_id(session=session, team_ids=[c.team_id for c in configs])
    teams_by_key: dict[tuple[str, str], list[str]] = {}
    for config in configs:
        workspace = workspaces.get(config.team_id)
        posted_for = (workspace.enterprise_id if workspace else None) or config.team_id
        for channel in config.digest_channels:
            teams_by_key.setdefault((posted_for, channel), []).append(config.team_id)
    audiences = [DigestAudience(posted_for, channel, tuple(sorted(teams)))
                 for (posted_for, channel), teams in teams_by_key.items()]
    return [a for a in audiences if team_id is None or team_id in a.teams]


def post_due_digests(*, sessions: sessionmaker[Session], client_for: ClientFor, settings: Settings,
                     now: datetime) -> list[DigestOutcome]:
    """Post each digest channel's digest of last week whose time has come (the scheduled job).

    A shared channel's digest is due when every workspace in it is due (each in its own zone and schedule),
    and holds the week with the label the last of them to be due has just completed."""
    outcomes = []
    with sessions.begin() as session:
        due = []
        for audience in digest_audiences(session):
            weeks, late = _due_weeks(session, audience, settings=settings, now=now)
            if weeks:
                due.append((audience, weeks, late))
    for audience, weeks, late in due:
        outcomes += post_digest(sessions, client_for, audience=audience, weeks=weeks, now=now, late=late)
    return outcomes


def audience_due(session: Session, audience: DigestAudience, *, default_zone: str | None, now: datetime,
                 following: bool = False) -> tuple[datetime, ZoneInfo]:
    """When the audience's digest is due in the week of `now` (or, `following`, the week after): the last of its
    workspaces' times, each in its own zone and schedule; and that workspace's zone, whose week it labels."""
    return _last_due(_schedules(session, audience, default_zone=default_zone, now=now, following=following))


def _schedules(session: Session, audience: DigestAudience, *, default_zone: str | None, now: datetime,
               following: bool = False) -> list[tuple[datetime, ZoneInfo, str]]:
    """(when its digest is due, its zone, team id) for each of the audience's workspaces."""
    schedules = []
    for team_id in audience.teams:
        config = workspace_config(session=session, team_id=team_id)
        zone = workspace_zone(config, default_zone)
        week = week_of(now, zone)
        if following:
            week = week_starting(week.end.astimezone(zone).date(), zone)
        schedules.append((scheduled_time(config, week), zone, team_id))
    return schedules


def _last_due(schedules: list[tuple[datetime, ZoneInfo, str]]) -> tuple[datetime, ZoneInfo]:
    due, zone, _ = max(schedules, key=lambda schedule: schedule[0])
    return due, zone


def _due_weeks(session: Session, audience: DigestAudience, *, settings: Settings,
               now: datetime) -> tuple[dict[str, Week], bool]:
    """team → the week its part of the digest covers, when the audience's digest is due (else nothing), and
    whether it is late. A workspace whose week ended before it started using Crossfeed has no part."""
    schedules = _schedules(session, audience, default_zone=settings.workspace_timezone, now=now)
    due, zone = _last_due(schedules)
    if now < due:
        return {}, False
    label = last_complete_week(now, zone).label
    weeks = {}
    for _, team_zone, team_id in schedules:
        week = week_starting(monday_of(label), team_zone)
        since = workspace_since(session=session, team_id=team_id)
        if since is None or week.end > since:
            weeks[team_id] = week
    return weeks, now - due > LATE_AFTER


def post_workspace_digest(sessions: sessionmaker[Session], client_for: ClientFor, *, team_id: str, week: Week,
                          now: datetime, default_zone: str | None) -> list[DigestOutcome]:
    """`/alignment digest post`: the workspace's digest of `week` in each of its channels, now. In a channel
    its org's workspaces share, that is their one digest, with each workspace's part for the same week."""
    with sessions.begin() as session:
        audiences = digest_audiences(session, team_id=team_id)
        zones = {t: workspace_zone(workspace_config(session=session, team_id=t), default_zone)
                 for audience in audiences for t in audience.teams}
    outcomes = []
    for audience in audiences:
        weeks = {t: week_starting(monday_of(week.label), zones[t]) for t in audience.teams}
        outcomes += post_digest(sessions, client_for, audience=audience, weeks=weeks, now=now)
    return outcomes


def post_digest(
    sessions: sessionmaker[Session], client_for: ClientFor, *, audience: DigestAudience, weeks: dict[str, Week],
    now: datetime, late: bool = False
) -> list[DigestOutcome]:
    """Post the audience's digest of the week in its channel unless it has had it; the claim makes it once.

    The claim is read before anything else: a channel-week already posted, or being posted by another
    clock, costs that one read (no write, no Slack call, no digest built).
    """
    channel, label = audience.channel, next(iter(weeks.values())).label
    try:
        sender, client = _sender(client_for, weeks)
    except WorkspaceNotInstalled:
        return []  # installs into many workspaces: none speaks for these (they never installed Crossfeed)
    with sessions.begin() as session:
        claim = store.digest_claims(session=session, posted_for=audience.posted_for, week=label).get(channel)
    if claim is not None and (claim.status == "posted" or claim.claimed_at >= now - CLAIM_LEASE):
        return [DigestOutcome(channel, label, "already posted")]
    if claim is None:
        with sessions.begin() as session:
            claimed = store.claim_digest_post(session=session, team_id=sender, posted_for=audience.posted_for,
                                              channel_id=channel, week=label, now=now, late=late)
        if not claimed:  # another clock claimed it a moment ago
            return [DigestOutcome(channel, label, "already posted")]
    _join(client, channel)
    if claim is not None:  # a stale claim: a crash between posting and recording, or a clock that died
        reconciled = _reconcile(sessions, client, audience=audience, week=label, claim=claim, now=now)
        if reconciled != "repost":
            return [DigestOutcome(channel, label, reconciled)]
    with sessions.begin() as session:
        digests = {team_id: build_weekly_digest(session=session, team_id=team_id, week=week, now=now)
                   for team_id, week in weeks.items()}
        names = _names(session, list(weeks))
    if len(digests) == 1:
        (digest,) = digests.values()
        message, charts = digest_message(digest, late=late), [(None, trend_chart(digest))]
    else:
        named = [(names[team_id], digest) for team_id, digest in digests.items()]
        message = shared_digest_message(named, late=late)
        charts = [(name, trend_chart(digest)) for name, digest in named]
    outcome = _post(sessions, client, audience=audience, week=label, now=now, message=message, charts=charts)
    if outcome.result == "posted":  # next week's changes compare with these figures, as leaders read them
        with sessions.begin() as session:
            for team_id, digest in digests.items():
                store.record_posted_figures(session=session, team_id=team_id, week=label,
                                            figures=digest.figures.to_json(), now=now)
    return [outcome]


def _sender(client_for: ClientFor, weeks: dict[str, Week]) -> tuple[str, WebClient]:
    """The first of the workspaces with an installation speaks: on an org-wide install they share its token."""
    for team_id in weeks:
        try:
            return team_id, client_for(team_id)
        except WorkspaceNotInstalled:
            continue
    raise WorkspaceNotInstalled(", ".join(weeks))


def _names(session: Session, team_ids: list[str]) -> dict[str, str]:
    """How each workspace is named in a shared digest: its Slack name, else its team id."""
    workspaces = workspaces_by_id(session=session, team_ids=team_ids)
    return {t: (workspaces[t].name if t in workspaces and workspaces[t].name else f"Workspace {t}")
            for t in team_ids}


def _join(client: WebClient, channel: str) -> None:
    """Be a member of a public digest channel: chat:write.public can post without it, but the chart
    upload into the thread and the history read after a crash cannot. Private channels need an invite."""
    try:
        client.conversations_join(channel=channel)
    except SlackApiError as error:
        logger.info("not joining %s: %s", channel, error.response.get("error") if error.response else error)


def _post(
    sessions: sessionmaker[Session], client: WebClient, *, audience: DigestAudience, week: str, now: datetime,
    message, charts: list[tuple[str | None, bytes | None]]
) -> DigestOutcome:
    text, blocks = message
    channel = audience.channel
    try:
        response = without_connection_retries(client).chat_postMessage(
            channel=channel,
            text=text,
            blocks=blocks,
            metadata={"event_type": EVENT_TYPE, "event_payload": {"team_id": audience.posted_for, "week": week}},
        )
    except SlackApiError as error:
        reason = error.response.get("error") if error.response is not None else str(error)
        if may_have_posted(error):
            # Slack may have posted it before failing: the claim stays, and the run after its lease
            # looks for the message in the channel before posting again.
            logger.error("digest %s for %s in %s may have posted (%s); checked after the claim's lease",
                         week, audience.posted_for, channel, reason)
            return DigestOutcome(channel, week, f"failed: {reason}")
        with sessions.begin() as session:
            store.release_claim(session=session, posted_for=audience.posted_for, channel_id=channel, week=week)
        logger.error("digest %s for %s in %s failed: %s; the next run tries again",
                     week, audience.posted_for, channel, reason)
        return DigestOutcome(channel, week, f"failed: {reason}")
    with sessions.begin() as session:
        store.mark_digest_posted(session=session, posted_for=audience.posted_for, channel_id=channel, week=week,
                                 ts=response["ts"], now=now)
    for name, chart in charts:
        if not chart:
            continue
        try:
            client.files_upload_v2(
                channel=response["channel"],
                thread_ts=response["ts"],
                file=chart,
                filename=f"alignment-{week}.png",
                title=f"{name}: alignment trend to {week}" if name else f"Alignment trend to {week}",
            )
        except Exception:
            logger.warning("the digest's chart could not be uploaded; the digest was posted without it", exc_info=True)
    return DigestOutcome(channel, week, "posted")


def _reconcile(sessions: sessionmaker[Session], client: WebClient, *, audience: DigestAudience, week: str, claim,
               now: datetime) -> str:
    """A claim left by a crash between posting and recording: look for our message before posting again."""
    posted = find_posted(client, channel=audience.channel, since=claim.claimed_at - timedelta(seconds=60),
                         event_type=EVENT_TYPE, payload={"team_id": audience.posted_for, "week": week})
    if posted is not None:
        with sessions.begin() as session:
            store.mark_digest_posted(session=session, posted_for=audience.posted_for, channel_id=audience.channel,
                                     week=week, ts=posted["ts"], now=now)
        return "reconciled"
    with sessions.begin() as session:
        if not store.retake_claim(session=session, claim_id=claim.id, now=now):
            return "already posted"
    return "repost"
