"""Scheduled jobs: functions of their runtime, calling the same services as handlers.

Whoever starts a scheduler (the clock process, or `python -m bot` in-process) builds one
`JobRuntime` and hands it to every job as its argument; `python -m schedules run JOB` does the same.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from bot.actions import queue_due_reminders as queue_action_reminders
from bot.container import ClientFor, Crossfeed
from bot.digest_posting import post_due_digests
from bot.follow_up import queue_due_follow_ups, teams_with_follow_ups_due
from bot.handoff import route_pending_leads
from bot.installs import purge_expired_workspaces
from bot.messaging import close_due_asks, queue_due_ask_reminders
from bot.outbox import Outbox
from bot.people import refresh_profiles
from bot.pulse import open_due_round, queue_due_prompts, queue_due_reminders, seal_closed_rounds, secret_of
from bot.results.follow_up import FollowUpCounts
from bot.settings import Settings
from storage.teams import all_configs

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobRuntime:
    """What the jobs use: transactions, settings, the outbox and the Slack client for a workspace."""

    settings: Settings
    sessions: sessionmaker[Session]
    outbox: Outbox
    client_for: ClientFor
    # Whether a workspace has an installation (installs into many workspaces); one bot token serves every one.
    installed: Callable[[str], bool] = lambda team_id: True

    @classmethod
    def of(cls, crossfeed: Crossfeed) -> JobRuntime:
        installed = crossfeed.installations.is_installed if crossfeed.installations else (lambda team_id: True)
        return cls(settings=crossfeed.settings, sessions=crossfeed.sessions, outbox=crossfeed.outbox,
                   client_for=crossfeed.client_for, installed=installed)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back if it raises."""
        with self.sessions.begin() as session:
            yield session


def deliver_outbox(runtime: JobRuntime) -> str:
    """Send queued Slack messages that are due, including retries of earlier failures."""
    report = runtime.outbox.deliver_due()
    summary = f"outbox: {report.sent} sent, {report.failed} failed, {report.skipped} skipped"
    if report.sent or report.failed:
        logger.info(summary)
    return summary


# Seconds of users.info calls one run of the pulse job may spend before it stops reading profiles (workspaces
# past it are read in a later minute): many workspaces' reads must not hold up the rounds they open.
PROFILE_READING_BUDGET = 20


def open_pulse_rounds(runtime: JobRuntime) -> str:
    """Open every workspace's pulse round that is due (each workspace in its own transaction), after reading the
    zone and status of the team members Slack hasn't been asked about lately (a few each minute)."""
    now = datetime.now(UTC)
    with runtime.transaction() as session:
        team_ids = [config.team_id for config in all_configs(session=session)]
    team_ids = [team_id for team_id in team_ids if runtime.installed(team_id)]
    opened = []
    reading_ends = time.monotonic() + PROFILE_READING_BUDGET
    for team_id in team_ids:
        if time.monotonic() < reading_ends:
            try:
                refreshed = refresh_profiles(sessions=runtime.sessions, client_for=runtime.client_for,
                                             team_id=team_id, now=now)
                if refreshed:
                    logger.info("read %s people's zone and status in %s", refreshed, team_id)
            except Exception:  # the pulse opens all the same, with what is known of people's zones
                logger.exception("could not read the people's profiles of workspace %s", team_id)
        try:
            with runtime.transaction() as session:
                result = open_due_round(session=session, team_id=team_id, now=now,
                                        default_zone=runtime.settings.workspace_timezone)
        except Exception:
            logger.exception("could not open the pulse round of workspace %s", team_id)
            continue
        if result:
            logger.info("opened pulse %s in %s: %s people asked", result.period, team_id, result.asked)
            opened.append(result)
    # Each person's DM goes at their own opening time (the same day and time in their own zone).
    prompts = _queue(runtime, partial(queue_due_prompts, secret=secret_of(runtime.settings),
                                      default_zone=runtime.settings.workspace_timezone))
    _queue(runtime, seal_closed_rounds)
    return f"pulse: {len(opened)} round(s) opened, {sum(r.asked for r in opened)} people asked, {prompts} prompted"


def _queue(runtime: JobRuntime, queue: Callable[..., int]) -> int:
    """Run a service that queues Slack messages in one transaction; its commit starts their delivery."""
    with runtime.transaction() as session:
        return queue(session=session, now=datetime.now(UTC))


def send_pulse_reminders(runtime: JobRuntime) -> str:
    """Queue one reminder to each person who has not answered a round whose reminder time came."""
    secret = secret_of(runtime.settings)  # to skip people whose "answered" mark isn't written yet
    queue = partial(queue_due_reminders, secret=secret, default_zone=runtime.settings.workspace_timezone)
    return f"reminders: {_queue(runtime, queue)} queued"


def close_messaging_asks(runtime: JobRuntime) -> str:
    """Close messaging asks whose time is up (summary DM to the asker, card marked closed), then queue the one
    reminder of each open ask whose reminder time came to the reps who haven't answered."""
    closed = _queue(runtime, close_due_asks)  # first: an ask that is closing needs no reminder
    remind = partial(queue_due_ask_reminders, default_zone=runtime.settings.workspace_timezone)
    return f"messaging: {closed} ask(s) closed, {_queue(runtime, remind)} reminder(s) queued"


def post_weekly_digests(runtime: JobRuntime) -> str:
    """Post last week's digest to each digest channel whose workspace's scheduled time has come, once."""
    outcomes = post_due_digests(sessions=runtime.sessions, client_for=runtime.client_for, settings=runtime.settings,
                                now=datetime.now(UTC))
    for outcome in outcomes:
        if outcome.result != "already posted":
            logger.info("digest %s in %s: %s", outcome.week, outcome.channel, outcome.result)
    posted = sum(outcome.result == "posted" for outcome in outcomes)
    failed = sum(outcome.result.startswith("failed") for outcome in outcomes)
    return f"digest: {posted} posted, {failed} failed, {len(outcomes) - posted - failed} already posted"


def remind_action_owners(runtime: JobRuntime) -> str:
    """Queue one reminder DM to the owner of each open action whose due date has come."""
    queue = partial(queue_action_reminders, default_zone=runtime.settings.workspace_timezone)
    return f"actions: {_queue(runtime, queue)} reminder(s) queued"


def route_leads(runtime: JobRuntime) -> str:
    """Route leads a routing pass left behind (a crash after the lead was stored, an owner lookup that failed
    for now, no sales channel yet): each to its owner's DM, or to the sales channel to be claimed."""
    report = route_pending_leads(sessions=runtime.sessions, client_for=runtime.client_for,
                                 default_sales_channel=runtime.settings.sales_channel)
    summary = (f"routing: {report.assigned} to owners, {report.to_claim} to claim, "
               f"{report.waiting} still waiting")
    if report.assigned or report.to_claim:
        logger.info(summary)
    return summary


def follow_up_leads(runtime: JobRuntime) -> str:
    """Route pending leads, then queue each workspace's due follow-ups once: reminders at half the SLA,
    escalations at the breach, rating prompts and their one reminder (each workspace in its own transaction)."""
    routed = route_leads(runtime)
    now = datetime.now(UTC)
    with runtime.transaction() as session:
        team_ids = teams_with_follow_ups_due(session=session, now=now)
    team_ids = [team_id for team_id in team_ids if runtime.installed(team_id)]
    total = FollowUpCounts()
    for team_id in team_ids:
        try:
            with runtime.transaction() as session:
                total += queue_due_follow_ups(session=session, team_id=team_id, now=now,
                                              default_zone=runtime.settings.workspace_timezone,
                                              default_sales_channel=runtime.settings.sales_channel)
        except Exception:
            logger.exception("could not queue the lead follow-ups of workspace %s", team_id)
    summary = (f"leads: {total.reminders} reminder(s), {total.escalations} escalation(s), {total.rate_prompts} "
               f"rating prompt(s), {total.rate_reminders} rating reminder(s) queued")
    return f"{routed}; {summary}" if routed else summary


def purge_uninstalled_workspaces(runtime: JobRuntime) -> str:
    """Delete the data of each workspace that uninstalled Crossfeed more than DATA_RETENTION_DAYS ago."""
    purged = purge_expired_workspaces(sessions=runtime.sessions, retention_days=runtime.settings.data_retention_days,
                                      now=datetime.now(UTC))
    return f"retention: the data of {len(purged)} uninstalled workspace(s) deleted"


Job = Callable[[JobRuntime], str]
JOBS: dict[str, Job] = {"pulse": open_pulse_rounds, "reminders": send_pulse_reminders,
                        "messaging": close_messaging_asks, "digest": post_weekly_digests,
                        "outbox": deliver_outbox, "actions": remind_action_owners, "leads": follow_up_leads,
                        "retention": purge_uninstalled_workspaces}
