"""The runtime every surface and job shares: settings, the database, Slack clients, background work."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.models.views import View
from slack_sdk.webhook import WebhookClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.background import AfterAck
from bot.handoff import LeadRouter
from bot.installs import Installations
from bot.metrics import SlackCallCounter
from bot.outbox import Outbox, composers_for
from bot.settings import Settings
from bot.slack_connections import KeepAliveWebClient
from bot.slack_history import WAIT_OUT_RATE_LIMITS
from bot.slack_requests import is_slack_response_url, team_of
from storage.db import make_engine, make_session_factory, migrate

logger = logging.getLogger("crossfeed")

# The Slack client that speaks for a workspace, by team id: the one bot token's, or (installs into many
# workspaces) the one of the team's installation.
ClientFor = Callable[[str], WebClient]


class RetryAfterHandler(RateLimitErrorRetryHandler):
    """Waits out HTTP 429 for Slack's Retry-After plus at most 0.1 s.

    slack-sdk's handler adds a random 0–1 s to every wait: lost time for a request or a job that must
    wait. (The outbox never waits in the client: it pauses the workspace and goes on.)
    """

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        # Not while the outbox delivers: it pauses the workspace and moves on (bot.slack_history).
        return WAIT_OUT_RATE_LIMITS.get() and super()._can_retry(state=state, request=request, response=response,
                                                                 error=error)

    def prepare_for_next_attempt(self, *, state, request, response=None, error=None) -> None:
        if response is None:
            raise error
        retry_after = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), ["1"])
        value = retry_after[0] if isinstance(retry_after, list) else retry_after
        time.sleep(max(0.0, float(value)) + random.uniform(0, 0.1))
        state.next_attempt_requested = True
        state.increment_current_attempt()


def one_client(settings: Settings) -> ClientFor:
    """Every workspace spoken for by the one bot token (a multi-workspace install looks up each team's), through a
    client of its own, so that its Slack errors and 429s are counted under its team id (bot.metrics)."""
    clients: dict[str, WebClient] = {}

    def client_for(team_id: str) -> WebClient:
        client = clients.get(team_id)
        if client is None:
            client = clients.setdefault(team_id, slack_client(settings, token=settings.slack_bot_token,
                                                              team_id=team_id))
        return client

    return client_for


def slack_client(settings: Settings, *, token: str | None, team_id: str | None) -> WebClient:
    """A Web API client at SLACK_API_URL that waits out 429s, counts its failures under `team_id` and keeps its
    connection to Slack open between calls."""
    return KeepAliveWebClient(token=token, base_url=settings.slack_api_url,
                     retry_handlers=[SlackCallCounter(team_id), *slack_retry_handlers(settings)])


def slack_retry_handlers(settings: Settings) -> list:
    # Only connection errors and 429s are retried: a retried 5xx on chat.postMessage can post twice.
    return [
        ConnectionErrorRetryHandler(),
        RetryAfterHandler(max_retry_count=settings.slack_max_rate_limit_retries),
    ]


@dataclass
class Crossfeed:
    """What every surface needs: settings, the database, Slack clients and background delivery."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    client: WebClient  # the one bot token's client; below the handlers, ask client_for(team_id)
    # The client that speaks for a workspace: every Slack call below the handlers starts here.
    client_for: ClientFor
    outbox: Outbox
    after_ack: AfterAck
    router: LeadRouter  # routes new leads to their owners, started by the commit that stored them
    # Installs into many workspaces (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, no SLACK_BOT_TOKEN); else None.
    installations: Installations | None = None

    @classmethod
    def start(cls, settings: Settings, *, apply_migrations: bool = True) -> Crossfeed:
        engine = make_engine(settings.database_url)
        if apply_migrations:
            migrate(engine)
        sessions = make_session_factory(engine)
        # Bolt's client: it knows no team of its own, and Bolt's per-request clients copy its retry handlers.
        # With installs into many workspaces it has no token: Bolt gives each request's copy its workspace's
        # token, and the OAuth flow calls oauth.v2.access through it.
        client = slack_client(settings, token=settings.slack_bot_token, team_id=None)
        installations = None
        if settings.installs_into_many_workspaces:
            installations = Installations(settings=settings, engine=engine, sessions=sessions,
                                          make_client=partial(slack_client, settings))
            client_for = installations.client_for
        else:
            client_for = one_client(settings)
        outbox = Outbox(sessions=sessions, client_for=client_for, composers=composers_for(settings))
        if settings.outbox_workers:
            outbox.wake_workers_after_commit()  # the outbox workers deliver: a commit that queued wakes them
        else:
            outbox.deliver_after_commit()  # a commit that queued a message starts its delivery
        router = LeadRouter(sessions=sessions, client_for=client_for, default_sales_channel=settings.sales_channel)
        router.route_after_commit()  # a commit that stored a lead starts its routing
        return cls(settings=settings, engine=engine, sessions=sessions, client=client, client_for=client_for,
                   after_ack=AfterAck(), outbox=outbox, router=router, installations=installations)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back if it raises."""
        with self.sessions.begin() as session:
            yield session

    def usergroup_choices(self, team_id: str) -> list[tuple[str, str]]:
        """The workspace's live user groups as (id, handle); none if Slack won't list them (e.g. a missing scope)."""
        try:
            listed = self.client_for(team_id).usergroups_list()["usergroups"]
        except Exception:
            logger.warning("could not list user groups", exc_info=True)
            return []
        return [(g["id"], g.get("handle") or g.get("name", "")) for g in listed if not g.get("date_delete")]

    def is_response_url(self, url: object) -> bool:
        """Whether `url` may be answered through: Slack's hooks host (or SLACK_API_URL's host), nothing else."""
        return is_slack_response_url(url, api_url=self.settings.slack_api_url)

    def webhook(self, url: str) -> WebhookClient:
        """A response_url client with the same retry policy as the Web API client; only for Slack's hosts."""
        if not self.is_response_url(url):
            raise ValueError("not a Slack response_url")  # never post people's words to another host
        return WebhookClient(url, retry_handlers=slack_retry_handlers(self.settings))

    def tell_privately(self, body: dict, response_url: str | None, text: str, blocks: list) -> None:
        """Answer whoever sent `body` privately: ephemerally through the request's response_url, or in their
        DM with the app when there is none, it has expired (they last 30 minutes) or it isn't Slack's."""
        if self.is_response_url(response_url):
            response = self.webhook(response_url).send(text=text, blocks=blocks, response_type="ephemeral",
                                                       replace_original=False)
            if response.status_code == 200:
                return
        self.client_for(team_of(body)).chat_postMessage(channel=body["user"]["id"], text=text, blocks=blocks)

    def later(self, body: dict, work: Callable[[], object]) -> None:
        """Run `work` after Slack has been answered; a failure is reported to the person in `body`."""
        from bot.error_reply import error_reply

        report = error_reply(self)

        def on_error(error: Exception) -> None:
            report(error=error, body={**body, "type": "after_ack"}, request=None, response=None)

        self.after_ack.run(work, on_error=on_error)

    def open_modal_after_ack(self, body: dict, view: View | Callable[[], View]) -> None:
        """Open `view` for whoever sent `body` (its trigger_id), once Slack has been answered; a callable is
        called then, for a modal whose making needs Slack (e.g. listing user groups)."""
        client = self.client_for(team_of(body))
        self.later(body, lambda: client.views_open(trigger_id=body["trigger_id"],
                                                   view=view() if callable(view) else view))

    def wait_idle(self, timeout: float = 5) -> bool:
        """Wait for after-ack work, lead routing and outbox deliveries to finish (shutdown and tests)."""
        return (self.after_ack.wait_idle(timeout) and self.router.wait_idle(timeout)
                and self.outbox.wait_idle(timeout))

    def close(self) -> None:
        self.after_ack.shutdown()
        self.router.shutdown()
        self.outbox.shutdown()
        self.engine.dispose()
