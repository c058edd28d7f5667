"""What tests share: a test runtime's settings, the signed-request driver, readers of the database, the
pulse kit, and the app's processes started as a person would. Fixtures are in conftest.py, the fake Slack
in fake_slack.py and the clock the test turns in clock_kit.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

from freezegun import freeze_time
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select

from bot.settings import Settings
from schedules import jobs
from storage import teams as store
from storage.models import (
    LeadRating,
    LeadSource,
    OutboxMessage,
    PulseAnswer,
    PulseComment,
    PulseParticipation,
)

ROOT = Path(__file__).resolve().parents[1]
SECRET = "test-signing-secret"

# The app's settings (README "Settings"): a developer's own must reach neither a test nor a process it starts.
APP_SETTINGS = ("SLACK_", "DATABASE_URL", "LEAD_FEED", "LEAD_WEBHOOK", "LOG_LEVEL", "WEB_CONCURRENCY", "METRICS_PORT",
                "PROMETHEUS_MULTIPROC_DIR")


# --- a test runtime's settings ----------------------------------------------------------------------------

def make_settings(database_url: str, fake_slack, **overrides) -> Settings:
    values = dict(slack_bot_token="xoxb-test", slack_signing_secret=SECRET, slack_api_url=fake_slack.url,
                  database_url=database_url, slack_max_rate_limit_retries=2)
    return Settings(_env_file=None, **{**values, **overrides})


# --- installs into many workspaces (OAuth): settings, and an install as a person's browser makes it ----------

# Settings of an app installed into many workspaces: the app's client id and secret, no bot token.
OAUTH = dict(slack_bot_token=None, slack_client_id="1111.2222", slack_client_secret="client-secret")


def browse(url: str, headers: dict | None = None) -> Reply:
    """GET `url` as a browser would, without following redirects."""
    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirects)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
            return Reply(response.status, response.read().decode(), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.read().decode(), dict(error.headers))


def install(app, team_id: str, *, code: str | None = None) -> Reply:
    """Open /slack/install, approve in Slack (the fake's oauth.v2.access takes `code-TEAM`), and land on
    /slack/oauth_redirect with the state and the browser's state cookie: the page the installer sees."""
    page = browse(app.url + "/slack/install")
    assert page.status == 200, page.body
    cookie = {k.lower(): v for k, v in page.headers.items()}["set-cookie"].split(";")[0]
    state = cookie.split("=", 1)[1]
    query = urlencode({"code": code or f"code-{team_id}", "state": state})
    return browse(f"{app.url}/slack/oauth_redirect?{query}", {"Cookie": cookie})


# --- signed Slack requests sent over HTTP to the running app, shaped like Slack's own ---------------------

TEAM = "T1"


@dataclass
class Reply:
    status: int
    body: str
    headers: dict

    @property
    def json(self) -> dict:
        return json.loads(self.body) if self.body else {}

    def text_everywhere(self) -> str:
        return self.body


def sign(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body),
    }


class SlackDriver:
    """Acts like Slack towards the app: signs each request and posts it to /slack/events."""

    def __init__(self, *, app_url: str, secret: str, fake):
        self.app_url = app_url
        self.secret = secret
        self.fake = fake

    def post(self, body: str, *, content_type="application/x-www-form-urlencoded",
             headers: dict | None = None, signed: bool = True, secret: str | None = None,
             timestamp: int | None = None, path: str = "/slack/events") -> Reply:
        all_headers = {"Content-Type": content_type}
        if signed:
            all_headers.update(sign(body, secret or self.secret, timestamp))
        all_headers.update(headers or {})
        request = urllib.request.Request(self.app_url + path, data=body.encode(), headers=all_headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return Reply(response.status, response.read().decode(), dict(response.headers))
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read().decode(), dict(error.headers))

    def get(self, path: str) -> Reply:
        try:
            with urllib.request.urlopen(self.app_url + path, timeout=10) as response:
                return Reply(response.status, response.read().decode(), dict(response.headers))
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read().decode(), dict(error.headers))

    # --- what a person does in Slack ---

    def command_body(self, command: str, text: str, *, user: str = "U1", channel: str = "C1", team: str = TEAM) -> str:
        return urlencode({
            "token": "legacy", "team_id": team, "team_domain": "acme", "channel_id": channel,
            "channel_name": "sales", "user_id": user, "user_name": user.lower(), "command": command,
            "text": text, "api_app_id": "A1", "is_enterprise_install": "false",
            "response_url": self.fake.response_url(f"{command.strip('/')}-{user}"), "trigger_id": "13345.trigger",
        })

    def command(self, command: str, text: str = "", *, user: str = "U1", channel: str = "C1", team: str = TEAM,
                **kwargs) -> Reply:
        return self.post(self.command_body(command, text, user=user, channel=channel, team=team), **kwargs)

    def interactive(self, payload: dict, **kwargs) -> Reply:
        return self.post(urlencode({"payload": json.dumps(payload)}), **kwargs)

    def click(self, action_id: str, value: str | None = None, *, user: str = "U1", block_id: str = "b1",
              response_url: bool = True, channel: str = "C1", message_ts: str = "1.1", team: str = TEAM,
              **kwargs) -> Reply:
        action = {"type": "button", "action_id": action_id, "block_id": block_id, "action_ts": "1.2",
                  "text": {"type": "plain_text", "text": "Button"}}
        if value is not None:
            action["value"] = value
        payload = {
            "type": "block_actions", "team": {"id": team, "domain": "acme"}, "user": {"id": user, "team_id": team},
            "api_app_id": "A1", "trigger_id": "13345.trigger", "actions": [action],
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": True},
            "channel": {"id": channel}, "message": {"ts": message_ts, "type": "message", "text": "", "blocks": []},
        }
        if response_url:
            payload["response_url"] = self.fake.response_url(f"click-{user}")
        return self.interactive(payload, **kwargs)

    def submit(self, view: dict, values: dict, *, user: str = "U1", team: str = TEAM, **kwargs) -> Reply:
        """Submit a modal the app opened, with `values` as state.values ({block_id: {action_id: ...}})."""
        submitted = {
            "id": view.get("id", "V123"), "type": "modal", "team_id": team,
            "callback_id": view["callback_id"], "private_metadata": view.get("private_metadata", ""),
            "hash": "h1", "state": {"values": values}, "title": view.get("title"), "blocks": view.get("blocks", []),
        }
        payload = {"type": "view_submission", "team": {"id": team, "domain": "acme"},
                   "user": {"id": user, "team_id": team}, "api_app_id": "A1", "trigger_id": "13345.trigger",
                   "view": submitted, "response_urls": []}
        return self.interactive(payload, **kwargs)

    def suggest(self, action_id: str, value: str, *, user: str = "U1", block_id: str | None = None,
                team: str = TEAM) -> Reply:
        payload = {"type": "block_suggestion", "team": {"id": team}, "user": {"id": user, "team_id": team},
                   "api_app_id": "A1", "action_id": action_id, "block_id": block_id or action_id, "value": value,
                   "view": {"id": "V123", "type": "modal", "callback_id": "x"}}
        return self.interactive(payload)


# --- readers of the database, for assertions -------------------------------------------------------------

def ratings(crossfeed) -> list[LeadRating]:
    with crossfeed.sessions() as session:
        return list(session.scalars(select(LeadRating).order_by(LeadRating.id)).unique())


def rating_count(crossfeed) -> int:
    with crossfeed.sessions() as session:
        return session.scalar(select(func.count()).select_from(LeadRating))


def outbox(crossfeed) -> list[OutboxMessage]:
    with crossfeed.sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def sources(crossfeed) -> list[LeadSource]:
    with crossfeed.sessions() as session:
        return list(session.scalars(select(LeadSource).order_by(LeadSource.position)))


def reason_codes(rating: LeadRating) -> list[str]:
    return [reason.code for reason in rating.reasons]


# --- pulse: teams, opening a round at a frozen time, reading the DMs ----------------------------------------

# Wednesday 25 November 2026, 10:00 in New York (EST, UTC-5): the default opening.
OPENING = datetime.fromisoformat("2026-11-25T15:00:00+00:00")


def make_teams(crossfeed, *, sales: list[str], marketing: list[str], timezone: str = "America/New_York",
               **config) -> None:
    with crossfeed.transaction() as session:
        workspace = store.workspace_config(session=session, team_id="T1")
        workspace.timezone = timezone
        for key, value in config.items():
            setattr(workspace, key, value)
        store.put_members(session=session, team_id="T1", user_ids=sales, side="sales", origin="explicit")
        store.put_members(session=session, team_id="T1", user_ids=marketing, side="marketing", origin="explicit")


def open_round(crossfeed, at: datetime = OPENING) -> str:
    runtime = jobs.JobRuntime.of(crossfeed)
    with freeze_time(at):
        summary = jobs.open_pulse_rounds(runtime)
        # The opening's commit started the prompts' delivery in the background: wait for it, at that time.
        assert crossfeed.wait_idle(30), "the prompts' delivery did not finish"
        return summary


def prompts(fake) -> dict[str, dict]:
    """user → the pulse DM they got (the last successful post to them)."""
    return {call.params["channel"]: call.params for call in fake.calls_to("chat.postMessage", succeeded=True)
            if "pulse" in call.params.get("text", "").casefold()}


def button(dm: dict, question: int, score: int) -> tuple[str, str]:
    """(action_id, value) of a score button in a pulse DM."""
    action_id = f"pulse.answer.{question}.{score}"
    for block in dm["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return action_id, element["value"]
    raise AssertionError(f"no button {action_id}")


def comment_button(dm: dict) -> str:
    for block in dm["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == "pulse.comment":
                return element["value"]
    raise AssertionError("no comment button")


def answers(crossfeed) -> list[tuple]:
    with crossfeed.sessions() as session:
        return [tuple(r) for r in session.execute(
            select(PulseAnswer.side, PulseAnswer.question, PulseAnswer.score).order_by(
                PulseAnswer.side, PulseAnswer.question, PulseAnswer.score))]


def answer_count(crossfeed) -> int:
    with crossfeed.sessions() as session:
        return session.scalar(select(func.count()).select_from(PulseAnswer))


def comments(crossfeed) -> list[str]:
    with crossfeed.sessions() as session:
        return list(session.scalars(select(PulseComment.text)))


def ledger(crossfeed) -> dict[str, str | None]:
    with crossfeed.sessions() as session:
        return {p.user_id: p.answered_via for p in session.scalars(select(PulseParticipation))}


def value_of(raw: str) -> dict:
    return json.loads(raw)


# --- the app's processes, started as a person would -------------------------------------------------------

def environment(settings: dict[str, str]) -> dict[str, str]:
    """This environment without the app's settings, plus `settings`."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith(APP_SETTINGS)}, **settings}


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """`python ARGS` in `cwd` with only the settings in `env`."""
    return subprocess.run([sys.executable, *args], env=environment(env), cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def run_shell(command: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """A shell command line (e.g. the Procfile's) in `cwd` with only the settings in `env`."""
    # The Procfile runs gunicorn by name: the one installed beside this Python.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(["sh", "-c", command], env=environment({"PATH": path, **env}), cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
