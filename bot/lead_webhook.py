"""`POST /hooks/leads`: leads from the CRM, signed the way Slack signs its own requests.

Headers `X-Crossfeed-Request-Timestamp` (Unix seconds) and `X-Crossfeed-Signature: v0=` + hex HMAC-SHA256 of
`v0:{timestamp}:{body}` under LEAD_WEBHOOK_SECRET, within five minutes (slack-sdk's SignatureVerifier does the
arithmetic). The lead is stored in one transaction and answered with 202; routing it (an owner lookup, the DM)
happens after the commit, so the answer never waits on Slack. Every refusal is JSON naming the problem.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

from bot.container import Crossfeed
from bot.handoff import InvalidLead, LeadInput, receive_lead

HOOK_PATH = "/hooks/leads"
# A lead is nine short fields (at most ~1,900 characters); even escaped to \uXXXX it stays far below this.
MAX_LEAD_BYTES = 64 * 1024
WINDOW_SECONDS = 5 * 60  # SignatureVerifier's window, checked first here only to say "stale" rather than "wrong"
TIMESTAMP_HEADER = "HTTP_X_CROSSFEED_REQUEST_TIMESTAMP"
SIGNATURE_HEADER = "HTTP_X_CROSSFEED_SIGNATURE"
_TEAM = re.compile(r"[TE][A-Z0-9]{1,31}")

logger = logging.getLogger("crossfeed.requests")


class Refused(Exception):
    def __init__(self, status: HTTPStatus, error: str):
        super().__init__(error)
        self.status = status
        self.error = error


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not JSON")  # Python's json reads NaN and Infinity; JSON has neither


class LeadWebhook:
    """The WSGI endpoint for leads; one per web process."""

    def __init__(self, crossfeed: Crossfeed):
        self.crossfeed = crossfeed
        secret = crossfeed.settings.lead_webhook_secret
        secret_text = secret.get_secret_value() if secret is not None else ""
        self.verifier = SignatureVerifier(secret_text) if secret_text.strip() else None
        self._team_id: str | None = None
        self._team_lock = threading.Lock()

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        try:
            received = self._receive(environ)
        except Refused as refused:
            logger.info("refused a lead at %s with %s: %s", HOOK_PATH, refused.status.value, refused.error)
            return _json(start_response, refused.status, {"ok": False, "error": refused.error})
        return _json(start_response, HTTPStatus.ACCEPTED,
                     {"ok": True, "lead": received.crm_id, "status": received.status})

    def _receive(self, environ: dict):
        if environ.get("REQUEST_METHOD") != "POST":
            raise Refused(HTTPStatus.METHOD_NOT_ALLOWED, "send leads with POST")
        if self.verifier is None:
            raise Refused(HTTPStatus.SERVICE_UNAVAILABLE,
                          "lead intake is off: set LEAD_WEBHOOK_SECRET on the server to the secret the CRM signs with")
        raw = self._body(environ)
        self._check_signature(environ, raw)
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
        except (UnicodeDecodeError, ValueError) as error:
            raise Refused(HTTPStatus.BAD_REQUEST, f"bad JSON: {_first_line(error)}") from None
        try:
            lead = LeadInput.parse(data)
        except InvalidLead as invalid:
            raise Refused(HTTPStatus.BAD_REQUEST, str(invalid)) from None
        team_id = self._team(environ)
        with self.crossfeed.transaction() as session:
            return receive_lead(session=session, team_id=team_id, lead=lead, now=datetime.now(UTC),
                                default_zone=self.crossfeed.settings.workspace_timezone)

    @staticmethod
    def _body(environ: dict) -> bytes:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise Refused(HTTPStatus.BAD_REQUEST, "Content-Length is not a number") from None
        if length > MAX_LEAD_BYTES:
            raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                          f"the body is {length} bytes; a lead may have at most {MAX_LEAD_BYTES}")
        if length <= 0:
            raise Refused(HTTPStatus.BAD_REQUEST, "empty body: send the lead as a JSON object")
        return environ["wsgi.input"].read(length)

    def _check_signature(self, environ: dict, raw: bytes) -> None:
        timestamp, signature = environ.get(TIMESTAMP_HEADER), environ.get(SIGNATURE_HEADER)
        if not timestamp or not signature:
            raise Refused(HTTPStatus.UNAUTHORIZED,
                          "missing signature: send X-Crossfeed-Request-Timestamp and X-Crossfeed-Signature")
        if not timestamp.isdigit():
            raise Refused(HTTPStatus.UNAUTHORIZED, "X-Crossfeed-Request-Timestamp must be Unix seconds")
        if abs(self.verifier.clock.now() - int(timestamp)) > WINDOW_SECONDS:
            raise Refused(HTTPStatus.UNAUTHORIZED,
                          "stale timestamp: X-Crossfeed-Request-Timestamp is more than 5 minutes from now")
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(HTTPStatus.BAD_REQUEST, "bad JSON: the body is not UTF-8") from None
        if not self.verifier.is_valid(body, timestamp, signature):
            raise Refused(HTTPStatus.UNAUTHORIZED,
                          "bad signature: sign v0:{timestamp}:{body} with HMAC-SHA256 under LEAD_WEBHOOK_SECRET")

    def _team(self, environ: dict) -> str:
        """The workspace the lead is for: `?team=T…` if given, else the bot token's (auth.test, asked once)."""
        given = parse_qs(environ.get("QUERY_STRING") or "").get("team")
        if given:
            if not _TEAM.fullmatch(given[0]):
                raise Refused(HTTPStatus.BAD_REQUEST, "team must be a Slack team id (T…)")
            installations = self.crossfeed.installations
            if installations is not None and not installations.is_installed(given[0]):
                raise Refused(HTTPStatus.NOT_FOUND, "Crossfeed is not installed in that workspace")
            return given[0]
        if self.crossfeed.installations is not None:
            raise Refused(HTTPStatus.BAD_REQUEST, "name the workspace the lead is for: ?team=T…")
        if self._team_id is None:
            with self._team_lock:
                if self._team_id is None:
                    try:
                        self._team_id = self.crossfeed.client.auth_test()["team_id"]
                    except Exception as error:
                        logger.warning("could not ask Slack which workspace the bot token is for: %s", error)
                        raise Refused(HTTPStatus.SERVICE_UNAVAILABLE,
                                      "could not ask Slack which workspace this is; send the lead again") from None
        return self._team_id


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0][:200]


def _json(start_response, status: HTTPStatus, body: dict) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(f"{status.value} {status.phrase}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
