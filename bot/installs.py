"""Installs into many workspaces (OAuth v2): each workspace's bot client, the install flow and its pages,
uninstalls, and the deletion of an uninstalled workspace's data once the retention period has passed."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store.models.installation import Installation
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import install_pages
from bot.settings import Settings
from storage import installations as store

logger = logging.getLogger("crossfeed.installs")

# How long a workspace's bot token is used before it is read again from the database: an uninstall seen by
# another process reaches this one within it (this process forgets at once).
TOKEN_CACHE_SECONDS = 60
STATE_EXPIRATION_SECONDS = 600  # an install started must be approved within 10 minutes (Bolt's default)
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# auth.teams.list's page size (Slack allows up to 1000 a page; the method is Tier 2, 20+ calls a minute).
ORG_TEAMS_PAGE = 200
# Events that say a token lost access (Bolt runs no authorize for them): no request from the workspace.
ACCESS_GONE_EVENTS = ("app_uninstalled", "tokens_revoked", "team_access_revoked")
# Events about the install itself, not something that happened in a workspace: their outer team_id names none.
INSTALL_EVENTS = (*ACCESS_GONE_EVENTS, "team_access_granted")
NOT_INSTALLED = ("Crossfeed isn't installed in this workspace (any more), so it can't answer here. "
                 "An admin can add it again from the install page.")


class WorkspaceNotInstalled(Exception):
    """No installation speaks for this workspace: it never installed Crossfeed, or uninstalled it."""

    def __init__(self, team_id: str):
        super().__init__(f"Crossfeed is not installed in workspace {team_id}")
        self.team_id = team_id


@dataclass
class _Cached:
    read_at: float
    token: str
    client: WebClient


class Installations:
    """The installation store on the app's engine, and each installed workspace's bot client."""

    def __init__(self, *, settings: Settings, engine: Engine, sessions: sessionmaker[Session],
                 make_client: Callable[..., WebClient]):
        """`make_client(token=…, team_id=…)`: a Web API client for a workspace's bot token."""
        self.settings = settings
        self.sessions = sessions
        self.make_client = make_client
        self.client_id = settings.slack_client_id or ""
        self.store = store.WorkspaceInstallationStore(client_id=self.client_id, engine=engine)
        self.state_store = store.oauth_state_store(engine, STATE_EXPIRATION_SECONDS)
        self._clients: dict[str, _Cached] = {}
        self._lock = threading.Lock()
        self._org_workspaces: set[tuple[str, str]] = set()  # (team, org) pairs this process has recorded

    # --- each workspace's client ------------------------------------------------------------------------

    def client_for(self, team_id: str) -> WebClient:
        """The client with this workspace's bot token; WorkspaceNotInstalled if none speaks for it."""
        now = time.monotonic()
        with self._lock:
            cached = self._clients.get(team_id)
        if cached is not None and now - cached.read_at < TOKEN_CACHE_SECONDS:
            return cached.client
        with self.sessions() as session:
            token = store.bot_token_for(session=session, client_id=self.client_id, team_id=team_id)
        if token is None:
            self.forget(team_id)
            raise WorkspaceNotInstalled(team_id)
        # The same client while the token is the same: the outbox keeps a sender per client.
        same = cached is not None and cached.token == token
        client = cached.client if same else self.make_client(token=token, team_id=team_id)
        with self._lock:
            self._clients[team_id] = _Cached(read_at=now, token=token, client=client)
        return client

    def is_installed(self, team_id: str) -> bool:
        try:
            self.client_for(team_id)
        except WorkspaceNotInstalled:
            return False
        return True

    def forget(self, team_id: str) -> None:
        with self._lock:
            self._clients.pop(team_id, None)

    # --- uninstalls ---------------------------------------------------------------------------------------

    def uninstalled(self, *, enterprise_id: str | None, team_id: str | None, now: datetime) -> None:
        """Slack said the app was uninstalled from this workspace (or its bot token revoked): its installation
        goes, its jobs stop, and its data is kept DATA_RETENTION_DAYS for a reinstall. With no team, an org-wide
        install was removed: so is every workspace of the org it served."""
        self.store.delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        self.store.delete_installation(enterprise_id=enterprise_id, team_id=team_id)
        with self.sessions.begin() as session:
            if team_id:
                store.mark_uninstalled(session=session, team_id=team_id, now=now)
                gone = [team_id]
            elif enterprise_id:
                gone = store.mark_org_uninstalled(session=session, enterprise_id=enterprise_id, now=now)
            else:
                gone = []
        self._forget_workspaces(gone)
        logger.info("uninstalled from workspace %s (org %s)", team_id or ", ".join(gone), enterprise_id)

    def org_access_revoked(self, *, enterprise_id: str, team_ids: list[str], now: datetime) -> None:
        """Slack said the org-wide install may no longer speak in these workspaces of the org: each is uninstalled
        as an uninstall marks it (jobs stop, data kept DATA_RETENTION_DAYS), unless it has an install of its own.
        A retry changes nothing more (the first time counts)."""
        with self.sessions.begin() as session:
            gone = store.mark_org_uninstalled(session=session, enterprise_id=enterprise_id, now=now,
                                              team_ids=team_ids)
        self._forget_workspaces(gone)
        logger.info("the org-wide install of org %s lost access to %s", enterprise_id, ", ".join(gone) or "nothing")

    def _forget_workspaces(self, team_ids: list[str]) -> None:
        for team in team_ids:
            self.forget(team)
        with self._lock:
            self._org_workspaces = {pair for pair in self._org_workspaces if pair[0] not in team_ids}

    def note_org_workspace(self, *, team_id: str, enterprise_id: str) -> None:
        """A request from a workspace through its org's org-wide install: recorded once per process, so that jobs
        and the outbox find the org's token for the workspace."""
        with self._lock:
            if (team_id, enterprise_id) in self._org_workspaces:
                return
        self._note_org_workspaces(enterprise_id, [(team_id, None)])

    def org_installed(self, enterprise_id: str) -> None:
        """An org-wide install was stored: every workspace of the org it was granted is recorded in the org, named,
        so that the clock reaches each before anyone there sends a request. If Slack won't list them, the install
        stands all the same (each workspace is then recorded at its first request)."""
        teams = self._granted_workspaces(enterprise_id)
        if teams:
            self._note_org_workspaces(enterprise_id, teams)
        logger.info("org %s: %s workspace(s) recorded from auth.teams.list", enterprise_id, len(teams or []))

    def org_access_granted(self, *, enterprise_id: str, team_ids: list[str]) -> None:
        """Slack said the org-wide install may now speak in these workspaces of the org: each is recorded in the
        org (named if auth.teams.list answers, else nameless). A retry records nothing new."""
        names = dict(self._granted_workspaces(enterprise_id) or [])
        self._note_org_workspaces(enterprise_id, [(team_id, names.get(team_id)) for team_id in team_ids])

    def _note_org_workspaces(self, enterprise_id: str, teams: list[tuple[str, str | None]]) -> None:
        with self.sessions.begin() as session:
            store.note_org_workspaces(session=session, enterprise_id=enterprise_id, teams=teams)
        with self._lock:
            self._org_workspaces.update((team_id, enterprise_id) for team_id, _ in teams)
        for team_id, _ in teams:
            self.forget(team_id)  # a token read while its access was revoked is read again

    def _granted_workspaces(self, enterprise_id: str) -> list[tuple[str, str | None]] | None:
        """The workspaces of the org its org-wide install was granted, as (team id, name), from auth.teams.list
        with the org's token; None when there is no such install or Slack didn't answer (logged)."""
        with self.sessions() as session:
            token = store.org_bot_token(session=session, client_id=self.client_id, enterprise_id=enterprise_id)
        if token is None:
            return None
        try:
            return granted_workspaces(self.make_client(token=token, team_id=enterprise_id))
        except Exception:  # an error answer, a dropped connection: nothing is recorded, nothing fails
            logger.warning("could not list the workspaces of org %s with auth.teams.list", enterprise_id,
                           exc_info=True)
            return None

    # --- the install flow ---------------------------------------------------------------------------------

    def authorize(self) -> InstallationStoreAuthorize:
        """Bolt's authorize on this store, bot tokens only; auth.test answers are cached per token (the token is
        still looked up on every request, so an uninstalled workspace is refused at once)."""
        return InstallationStoreAuthorize(installation_store=self.store, client_id=self.client_id,
                                          client_secret=self._client_secret(), logger=logger, bot_only=True,
                                          cache_enabled=True)

    def oauth_flow(self, client: WebClient) -> OAuthFlow:
        """Bolt's OAuth v2 flow at /slack/install and /slack/oauth_redirect, calling oauth.v2.access through
        `client` (so at SLACK_API_URL), with Crossfeed's own pages."""
        settings = OAuthSettings(
            client_id=self.client_id, client_secret=self._client_secret(), scopes=list(self.settings.slack_scopes),
            user_scopes=[], redirect_uri=self.settings.slack_redirect_uri, install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH, install_page_rendering_enabled=True,
            callback_options=CallbackOptions(success=self._installed_page, failure=self._failed_page),
            installation_store=self.store, installation_store_bot_only=True, state_store=self.state_store,
            state_expiration_seconds=STATE_EXPIRATION_SECONDS, logger=logger,
        )
        return CrossfeedOAuthFlow(client=client, logger=logger, settings=settings, installations=self)

    def _client_secret(self) -> str:
        return self.settings.slack_client_secret.get_secret_value() if self.settings.slack_client_secret else ""

    def uninstall_notice(self, team_id: str | None) -> install_pages.Uninstalled | None:
        """For the install page of a workspace that uninstalled Crossfeed: when, and until when its data is kept."""
        if not team_id:
            return None
        with self.sessions() as session:
            when = store.uninstalled_at(session=session, team_id=team_id)
        if when is None:
            return None
        return install_pages.Uninstalled(on=when.date(),
                                         kept_until=(when + timedelta(days=self.settings.data_retention_days)).date())

    def _installed_page(self, args: SuccessArgs) -> BoltResponse:
        installation = args.installation
        self.forget(installation.team_id or "")
        logger.info("installed into workspace %s (org %s)", installation.team_id, installation.enterprise_id)
        html = install_pages.installed_page(workspace=installation.team_name or installation.enterprise_name or "",
                                            app_id=installation.app_id, team_id=installation.team_id)
        return _page(200, html, cookie=args.settings.state_utils.build_set_cookie_for_deletion())

    def _failed_page(self, args: FailureArgs) -> BoltResponse:
        logger.info("an install failed: %s", args.reason)
        html = install_pages.failed_page(reason=args.reason, install_path=INSTALL_PATH)
        return _page(args.suggested_status_code, html, cookie=args.settings.state_utils.build_set_cookie_for_deletion())


def bolt_install_options(installations: Installations | None, client: WebClient) -> dict:
    """App() options for installs into many workspaces: Bolt's OAuth flow, and authorize on the installation
    store, so that each request is answered with its workspace's installation and a workspace without one is
    told so (never served with another's token or data). None with one bot token."""
    if installations is None:
        return {}
    return dict(oauth_flow=installations.oauth_flow(client), authorize=installations.authorize(),
                before_authorize=access_granted_as_the_orgs, user_facing_authorize_error_message=NOT_INSTALLED)


def access_granted_as_the_orgs(body: dict, context, next: Callable[[], object]) -> None:
    """Bolt middleware run before authorize: `team_access_granted` is only ever sent to an org-wide install, so it
    is authorized as the org's. Slack's reference shows it with `authorizations` naming a workspace and
    `is_enterprise_install: false`, which would look for that workspace's own install and refuse the event (the
    access-gone events skip authorize in Bolt)."""
    event = body.get("event") if isinstance(body.get("event"), dict) else {}
    if event.get("type") == "team_access_granted" and context.enterprise_id:
        context["is_enterprise_install"] = True
    next()


BOLT_OAUTH_ENVIRONMENT = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")


def hide_bolt_oauth_environment(installations: Installations | None) -> dict[str, str]:
    """With one bot token, Bolt must not see SLACK_CLIENT_ID and SLACK_CLIENT_SECRET while App() is built: given
    both in the environment it turns on an OAuth flow of its own (with a file installation store) and stops
    answering with the token. Removed from the environment and returned, for the caller to put back."""
    if installations is not None or not all(os.environ.get(name) for name in BOLT_OAUTH_ENVIRONMENT):
        return {}
    return {name: os.environ.pop(name) for name in BOLT_OAUTH_ENVIRONMENT}


def granted_workspaces(client: WebClient) -> list[tuple[str, str | None]]:
    """Every workspace an org-wide install's token may speak in (auth.teams.list, page by page: slack-sdk follows
    the cursor), as (team id, name)."""
    teams: list[tuple[str, str | None]] = []
    for page in client.auth_teams_list(limit=ORG_TEAMS_PAGE):
        teams += [(team["id"], team.get("name")) for team in page.get("teams") or [] if team.get("id")]
    return teams


def org_workspaces_recorded(installations: Installations) -> Callable[..., None]:
    """Bolt middleware for Enterprise Grid: a request from a workspace served by its org's org-wide install
    records the workspace in its org (once per process), so that jobs and the outbox find the org's token. An event
    about the install itself (access granted or gone) records nothing here: its listener does what it says.

    It also names the workspace of an event under an org-wide install: Bolt reads an event's team from its
    `authorizations`, which for an org-wide install carry the org and no workspace, so `context.team_id` would
    be None (a Home opened, a status changed) though the event's own `team_id` says where it happened."""

    def record(body: dict, context, next: Callable[[], object]) -> None:
        event = body.get("event") if isinstance(body.get("event"), dict) else {}
        if event.get("type") in INSTALL_EVENTS:
            return next()  # their listeners record or remove the workspaces they name
        if context.is_enterprise_install and context.team_id is None and isinstance(body.get("team_id"), str):
            context["team_id"] = body["team_id"]
        if context.is_enterprise_install and context.enterprise_id and context.team_id:
            installations.note_org_workspace(team_id=context.team_id, enterprise_id=context.enterprise_id)
        next()

    return record


class CrossfeedOAuthFlow(OAuthFlow):
    """Bolt's flow with Crossfeed's "Add to Slack" page, which also tells a workspace that uninstalled
    Crossfeed (`/slack/install?team=T…`) until when its data is kept."""

    def __init__(self, *, installations: Installations, **kwargs):
        super().__init__(**kwargs)
        self.installations = installations

    def store_installation(self, request: BoltRequest, installation: Installation) -> None:
        super().store_installation(request, installation)
        if installation.is_enterprise_install and installation.enterprise_id:
            self.installations.org_installed(installation.enterprise_id)

    def build_install_page_html(self, url: str, request: BoltRequest) -> str:
        team = (request.query.get("team") or [None])[0]
        return install_pages.install_page(authorize_url=url,
                                          uninstalled=self.installations.uninstall_notice(team))


def _page(status: int, html: str, *, cookie: str | None = None) -> BoltResponse:
    headers: dict = {"Content-Type": "text/html; charset=utf-8"}
    if cookie:
        headers["Set-Cookie"] = [cookie]
    return BoltResponse(status=status, body=html, headers=headers)


def purge_expired_workspaces(*, sessions: sessionmaker[Session], retention_days: int, now: datetime) -> list[str]:
    """Delete every row of each workspace uninstalled more than `retention_days` ago (one transaction each), and
    the state of install links that expired unused; the workspaces purged."""
    cutoff = now - timedelta(days=retention_days)
    with sessions.begin() as session:
        store.delete_expired_oauth_states(session=session, now=now)
    with sessions() as session:
        team_ids = list(store.uninstalled_before(session=session, cutoff=cutoff))
    purged = []
    for team_id in team_ids:
        with sessions.begin() as session:
            # Read again, the row locked: a reinstall since cleared the mark, and then nothing goes.
            when = store.uninstalled_at(session=session, team_id=team_id, lock=True)
            if when is None or when > cutoff:
                continue
            rows = store.delete_workspace(session=session, team_id=team_id)
        logger.info("deleted the data of workspace %s, uninstalled over %s days ago (%s rows)", team_id,
                    retention_days, rows)
        purged.append(team_id)
    return purged
