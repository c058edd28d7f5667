"""Where the app answers through a URL it read from a request or from a modal's private_metadata: only Slack's
hooks host (here, the fake Slack's host that SLACK_API_URL names). A forged URL gets nothing: the person is told
by DM instead, and nothing reaches the other host."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.blocks.ids import ActionIds, IntelIds
from bot.blocks.ids import LeadFeedbackIds as LeadIds
from bot.slack_requests import is_slack_response_url
from tests.helpers import make_teams
from tests.test_field_intel import values as intel_values
from tests.test_leadfeedback_modal import values as rating_values

API = "https://slack.com/api/"
MARKETER = "UMKT"


@pytest.mark.parametrize("url", [
    "https://hooks.slack.com/commands/T1/1/abc", "https://hooks.slack.com:443/actions/T1/1/abc",
    "https://slack.com/api/x",
])
def test_slacks_own_response_urls_are_answered(url):
    assert is_slack_response_url(url, api_url=API)


@pytest.mark.parametrize("url", [
    "http://hooks.slack.com/commands/T1/1/abc", "https://hooks.slack.com.evil.example/x",
    "https://evil.example/hooks.slack.com/x", "https://hooks.slack.com@evil.example/x",
    "https://user:pw@hooks.slack.com/x", "https://evil.example\\@hooks.slack.com/x", "https://hooks.slack.com:8443/x",
    "https://hooks.slack.com:bad/x", "https://hooks.slack.com/x y", "http://169.254.169.254/latest/meta-data",
    "file:///etc/passwd", "", None, 42, ["https://hooks.slack.com/x"],
])
def test_anything_else_is_not(url):
    assert not is_slack_response_url(url, api_url=API)


class Catcher(ThreadingHTTPServer):
    """Another host on loopback that records whatever is posted to it."""

    daemon_threads = True

    def __init__(self):
        self.posts: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(handler) -> None:  # noqa: N805
                self.posts.append(handler.rfile.read(int(handler.headers.get("Content-Length") or 0)).decode())
                handler.send_response(200)
                handler.end_headers()

            def log_message(handler, *args) -> None:  # noqa: N805
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/steal"


@pytest.fixture
def catcher():
    server = Catcher()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def app(start_app):
    running = start_app(lead_feed_channel="C_FEED")
    make_teams(running.crossfeed, sales=["U1"], marketing=[MARKETER])
    return running


def dms_to(app, user: str) -> list[dict]:
    return [c.params for c in app.fake.calls_to("chat.postMessage") if c.params["channel"] == user]


@pytest.mark.parametrize("callback, values, confirmed", [
    (IntelIds.MODAL, intel_values, "LedgerLoop"), (LeadIds.MODAL, rating_values, "ACME-4411"),
])
def test_a_modal_whose_metadata_names_another_host_is_confirmed_by_dm(app, catcher, callback, values, confirmed):
    view = {"id": "V1", "callback_id": callback, "private_metadata": json.dumps({"response_url": catcher.url})}

    reply = app.slack.submit(view, values(), user="U1")
    app.settle()

    assert reply.status == 200
    assert catcher.posts == []
    assert any(confirmed in json.dumps(dm) for dm in dms_to(app, "U1"))


def test_an_outcome_modal_whose_list_url_names_another_host_refreshes_nothing_there(app, catcher):
    app.slack.command("/alignment", f'action "Fix webinar targeting" <@{MARKETER}|m>', user=MARKETER)
    app.settle()
    metadata = json.dumps({"a": 1, "s": "dropped", "url": catcher.url, "mine": False})
    view = {"id": "V2", "callback_id": ActionIds.DONE_MODAL, "private_metadata": metadata}

    reply = app.slack.submit(view, {ActionIds.OUTCOME: {ActionIds.OUTCOME: {"type": "plain_text_input",
                                                                           "value": "Superseded"}}}, user=MARKETER)
    app.settle()

    assert reply.status == 200 and reply.json["response_action"] == "update"
    assert catcher.posts == []


def test_an_error_for_a_click_whose_response_url_is_another_host_goes_by_dm(app, catcher):
    payload_url = catcher.url
    reply = app.slack.interactive({
        "type": "block_actions", "team": {"id": "T1"}, "user": {"id": MARKETER, "team_id": "T1"}, "api_app_id": "A1",
        "trigger_id": "1.2", "response_url": payload_url,
        "actions": [{"type": "button", "action_id": ActionIds.DONE, "block_id": "b", "value": "-1", "action_ts": "1"}],
    })
    app.settle()

    assert reply.status == 200
    assert catcher.posts == []
    assert any("old version" in dm["text"] for dm in dms_to(app, MARKETER))
