"""Posting the weekly digest to each digest channel exactly once per week.

A claim row (workspace, channel, week) is inserted before posting, under a unique constraint, so
two clocks never both post; the message carries metadata naming the week, so a claim left behind
by a crash between posting and recording is reconciled from the channel's history instead of
posting twice. The trend chart is uploaded after the message; if that fails the digest stands.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.digest import digest_message
from bot.chart import trend_chart
from bot.digest import Week, build_weekly_digest, last_complete_week, scheduled_time, week_of
from bot.installs import WorkspaceNotInstalled
from bot.settings import Settings
from bot.slack_history import find_posted, may_have_posted, without_connection_retries
from bot.zones import workspace_zone
from storage import digest as store
from storage.teams import all_configs, workspace_config, workspace_since

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


def post_due_digests(*, sessions: sessionmaker[Session], client_for: ClientFor, settings: Settings,
                     now: datetime) -> list[DigestOutcome]:
    """Post every workspace's digest of last week whose time has come (the scheduled job)."""
    outcomes = []
    with sessions.begin() as session:
        teams = [(c.team_id, list(c.digest_channels)) for c in all_configs(session=session) if c.digest_channels]
    for team_id, channels in teams:
        with sessions.begin() as session:
            config = workspace_config(session=session, team_id=team_id)
            zone = workspace_zone(config, settings.workspace_timezone)
            due = scheduled_time(config, week_of(now, zone))
            since = workspace_since(session=session, team_id=team_id)
        week = last_complete_week(now, zone)
        if now < due or (since is not None and week.end <= since):
            continue  # not due yet, or a week that ended before the workspace started using Crossfeed
        try:
            client = client_for(team_id)
        except WorkspaceNotInstalled:
            continue  # installs into many workspaces: none speaks for this one (it never installed Crossfeed)
        outcomes += post_digest(sessions, client, team_id=team_id, channels=channels, week=week,
                                now=now, late=now - due > LATE_AFTER)
    return outcomes


def post_digest(
    sessions: sessionmaker[Session], client: WebClient, *, team_id: str, channels: list[str], week: Week,
    now: datetime, late: bool = False
) -> list[DigestOutcome]:
    """Post `week`'s digest to each channel that has not had it; the claim makes it once per channel.

    The claims are read before anything else: a channel-week already posted, or being posted by another
    clock, costs that one read (no write, no Slack call, no digest built).
    """
    outcomes, message, chart = [], None, None
    with sessions.begin() as session:
        claims = store.digest_claims(session=session, posted_for=team_id, week=week.label)
    for channel in channels:
        claim = claims.get(channel)
        if claim is not None and (claim.status == "posted" or claim.claimed_at >= now - CLAIM_LEASE):
            outcomes.append(DigestOutcome(channel, week.label, "already posted"))
            continue
        if claim is None:
            with sessions.begin() as session:
                claimed = store.claim_digest_post(
                    session=session, team_id=team_id, posted_for=team_id, channel_id=channel, week=week.label, now=now,
                    late=late
                )
            if not claimed:  # another clock claimed it a moment ago
                outcomes.append(DigestOutcome(channel, week.label, "already posted"))
                continue
        _join(client, channel)
        if claim is not None:  # a stale claim: a crash between posting and recording, or a clock that died
            reconciled = _reconcile(sessions, client, team_id=team_id, channel=channel, week=week, claim=claim, now=now)
            if reconciled != "repost":
                outcomes.append(DigestOutcome(channel, week.label, reconciled))
                continue
        if message is None:
            with sessions.begin() as session:
                digest = build_weekly_digest(session=session, team_id=team_id, week=week, now=now)
            message, chart = digest_message(digest, late=late), trend_chart(digest)
        outcomes.append(
            _post(sessions, client, team_id=team_id, channel=channel, week=week, now=now, message=message, chart=chart)
        )
        if outcomes[-1].result == "posted":  # next week's changes compare with these figures, as leaders read them
            with sessions.begin() as session:
                store.record_posted_figures(session=session, team_id=team_id, week=week.label,
                                            figures=digest.figures.to_json(), now=now)
    return outcomes


def _join(client: WebClient, channel: str) -> None:
    """Be a member of a public digest channel: chat:write.public can post without it, but the chart
    upload into the thread and the history read after a crash cannot. Private channels need an invite."""
    try:
        client.conversations_join(channel=channel)
    except SlackApiError as error:
        logger.info("not joining %s: %s", channel, error.response.get("error") if error.response else error)


def _post(
    sessions: sessionmaker[Session], client: WebClient, *, team_id: str, channel: str, week: Week, now: datetime,
    message, chart
) -> DigestOutcome:
    text, blocks = message
    try:
        response = without_connection_retries(client).chat_postMessage(
            channel=channel,
            text=text,
            blocks=blocks,
            metadata={"event_type": EVENT_TYPE, "event_payload": {"team_id": team_id, "week": week.label}},
        )
    except SlackApiError as error:
        reason = error.response.get("error") if error.response is not None else str(error)
        if may_have_posted(error):
            # Slack may have posted it before failing: the claim stays, and the run after its lease
            # looks for the message in the channel before posting again.
            logger.error("digest %s for %s in %s may have posted (%s); checked after the claim's lease",
                         week.label, team_id, channel, reason)
            return DigestOutcome(channel, week.label, f"failed: {reason}")
        with sessions.begin() as session:
            store.release_claim(session=session, posted_for=team_id, channel_id=channel, week=week.label)
        logger.error(
            "digest %s for %s in %s failed: %s; the next run tries again", week.label, team_id, channel, reason
        )
        return DigestOutcome(channel, week.label, f"failed: {reason}")
    with sessions.begin() as session:
        store.mark_digest_posted(
            session=session, posted_for=team_id, channel_id=channel, week=week.label, ts=response["ts"], now=now
        )
    if chart:
        try:
            client.files_upload_v2(
                channel=response["channel"],
                thread_ts=response["ts"],
                file=chart,
                filename=f"alignment-{week.label}.png",
                title=f"Alignment trend to {week.label}",
            )
        except Exception:
            logger.warning("the digest's chart could not be uploaded; the digest was posted without it", exc_info=True)
    return DigestOutcome(channel, week.label, "posted")


def _reconcile(sessions: sessionmaker[Session], client: WebClient, *, team_id: str, channel: str, week: Week, claim,
               now: datetime) -> str:
    """A claim left by a crash between posting and recording: look for our message before posting again."""
    posted = find_posted(client, channel=channel, since=claim.claimed_at - timedelta(seconds=60),
                         event_type=EVENT_TYPE, payload={"week": week.label})
    if posted is not None:
        with sessions.begin() as session:
            store.mark_digest_posted(
                session=session, posted_for=team_id, channel_id=channel, week=week.label, ts=posted["ts"], now=now
            )
        return "reconciled"
    with sessions.begin() as session:
        if not store.retake_claim(session=session, claim_id=claim.id, now=now):
            return "already posted"
    return "repost"
