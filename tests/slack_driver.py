"""Signed Slack requests sent over HTTP to the running app, shaped like Slack's own."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

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

    def command_body(self, command: str, text: str, *, user: str = "U1", channel: str = "C1") -> str:
        return urlencode({
            "token": "legacy", "team_id": TEAM, "team_domain": "acme", "channel_id": channel,
            "channel_name": "sales", "user_id": user, "user_name": user.lower(), "command": command,
            "text": text, "api_app_id": "A1", "is_enterprise_install": "false",
            "response_url": self.fake.response_url(f"{command.strip('/')}-{user}"), "trigger_id": "13345.trigger",
        })

    def command(self, command: str, text: str = "", *, user: str = "U1", channel: str = "C1", **kwargs) -> Reply:
        return self.post(self.command_body(command, text, user=user, channel=channel), **kwargs)

    def interactive(self, payload: dict, **kwargs) -> Reply:
        return self.post(urlencode({"payload": json.dumps(payload)}), **kwargs)

    def click(self, action_id: str, value: str | None = None, *, user: str = "U1", block_id: str = "b1",
              response_url: bool = True, channel: str = "C1", message_ts: str = "1.1", **kwargs) -> Reply:
        action = {"type": "button", "action_id": action_id, "block_id": block_id, "action_ts": "1.2",
                  "text": {"type": "plain_text", "text": "Button"}}
        if value is not None:
            action["value"] = value
        payload = {
            "type": "block_actions", "team": {"id": TEAM, "domain": "acme"}, "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A1", "trigger_id": "13345.trigger", "actions": [action],
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": True},
            "channel": {"id": channel}, "message": {"ts": message_ts, "type": "message", "text": "", "blocks": []},
        }
        if response_url:
            payload["response_url"] = self.fake.response_url(f"click-{user}")
        return self.interactive(payload, **kwargs)

    def submit(self, view: dict, values: dict, *, user: str = "U1", **kwargs) -> Reply:
        """Submit a modal the app opened, with `values` as state.values ({block_id: {action_id: ...}})."""
        submitted = {
            "id": view.get("id", "V123"), "type": "modal", "team_id": TEAM,
            "callback_id": view["callback_id"], "private_metadata": view.get("private_metadata", ""),
            "hash": "h1", "state": {"values": values}, "title": view.get("title"), "blocks": view.get("blocks", []),
        }
        payload = {"type": "view_submission", "team": {"id": TEAM, "domain": "acme"},
                   "user": {"id": user, "team_id": TEAM}, "api_app_id": "A1", "trigger_id": "13345.trigger",
                   "view": submitted, "response_urls": []}
        return self.interactive(payload, **kwargs)

    def suggest(self, action_id: str, value: str, *, user: str = "U1", block_id: str | None = None) -> Reply:
        payload = {"type": "block_suggestion", "team": {"id": TEAM}, "user": {"id": user, "team_id": TEAM},
                   "api_app_id": "A1", "action_id": action_id, "block_id": block_id or action_id, "value": value,
                   "view": {"id": "V123", "type": "modal", "callback_id": "x"}}
        return self.interactive(payload)
