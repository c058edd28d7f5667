"""Slack calls go over kept-alive connections, and answer exactly as slack-sdk's own transport would."""

from __future__ import annotations

import os
import socket
import time
from collections import Counter
from types import SimpleNamespace

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import slack_connections
from bot.container import slack_retry_handlers
from bot.slack_connections import KeepAliveWebClient
from tests import fake_slack as fake_module
from tests.helpers import make_teams, open_round

SALES = [f"US{i:03d}" for i in range(20)]
MARKETING = [f"UM{i:03d}" for i in range(20)]
RETRIES = SimpleNamespace(slack_max_rate_limit_retries=2)  # the settings slack_retry_handlers reads


@pytest.fixture(autouse=True)
def _no_kept_connections(monkeypatch):
    # Each test starts with no connection kept by this thread (another test's fake Slack is gone).
    monkeypatch.setattr(slack_connections, "_kept", slack_connections.KeptConnections())


def closed_by_server(fake) -> None:
    """The fake closes every open connection, as Slack's edge closes idle ones, and waits until they are gone."""
    with fake._connections_lock:
        for connection in fake.connections:
            connection.shutdown(socket.SHUT_RDWR)
    deadline = time.monotonic() + 5
    while fake.connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not fake.connections


def test_a_round_fan_out_reuses_a_few_connections_instead_of_one_per_message(crossfeed, fake_slack):
    make_teams(crossfeed, sales=SALES, marketing=MARKETING)
    opened_before = fake_slack.connections_opened

    open_round(crossfeed)
    assert crossfeed.wait_idle(30)

    delivered = Counter(call.params["channel"] for call in fake_slack.calls_to("chat.postMessage", succeeded=True))
    assert sorted(delivered) == sorted(SALES + MARKETING) and set(delivered.values()) == {1}
    # One per delivering thread, not one per call (40 prompts, and Home refreshes).
    assert fake_slack.connections_opened - opened_before <= 4


def test_a_connection_the_server_closed_is_replaced_without_an_error(fake_slack):
    client = KeepAliveWebClient(token="xoxb-1", base_url=fake_slack.url)
    assert client.auth_test()["ok"]
    assert client.auth_test()["ok"]
    assert fake_slack.connections_opened == 1

    closed_by_server(fake_slack)

    assert client.auth_test()["ok"]
    assert fake_slack.connections_opened == 2
    assert [call.method for call in fake_slack.calls] == ["auth.test"] * 3


def test_a_connection_idle_too_long_is_not_reused(fake_slack, monkeypatch):
    client = KeepAliveWebClient(token="xoxb-1", base_url=fake_slack.url)
    client.auth_test()
    monkeypatch.setattr(slack_connections, "IDLE_REUSE_LIMIT", 0.0)
    client.auth_test()
    assert fake_slack.connections_opened == 2


def test_workspaces_share_the_threads_connection_each_with_its_own_token(fake_slack):
    first = KeepAliveWebClient(token="xoxb-first", base_url=fake_slack.url)
    second = KeepAliveWebClient(token="xoxb-second", base_url=fake_slack.url)
    first.chat_postMessage(channel="C1", text="one")
    second.chat_postMessage(channel="C1", text="two")
    assert fake_slack.connections_opened == 1
    assert [call.auth for call in fake_slack.calls] == ["Bearer xoxb-first", "Bearer xoxb-second"]


def outcome(client: WebClient) -> tuple:
    """What a call came to: its answer, or the error raised, as a person debugging would compare them."""
    try:
        response = client.chat_postMessage(channel="C1", text="hello")
        return "answer", response.status_code, response["ok"]
    except SlackApiError as error:
        return "SlackApiError", error.response.status_code, error.response["error"]
    except Exception as error:  # noqa: BLE001 - the type is what is compared
        return type(error).__name__, None, None


@pytest.mark.parametrize(("status", "retry_after"), [(500, None), (503, None), (404, None), (429, 0), (0, None)])
def test_errors_come_back_as_slack_sdks_own_transport_gives_them(fake_slack, status, retry_after):
    """Retry handlers and the outbox's error handling see the same thing with either transport."""
    outcomes = []
    for make in (WebClient, KeepAliveWebClient):
        client = make(token="xoxb-1", base_url=fake_slack.url, retry_handlers=slack_retry_handlers(RETRIES))
        fake_slack.script.fail("chat.postMessage", times=1, status=status, retry_after=retry_after)
        outcomes.append(outcome(client))
        assert outcome(client) == ("answer", 200, True), "the next call goes through (a new connection if dropped)"
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] != "answer" or status in (429, 0)


def test_an_unreachable_slack_is_a_url_error_as_with_urllib():
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]  # nothing listens here once it closes
    client = KeepAliveWebClient(token="xoxb-1", base_url=f"http://127.0.0.1:{port}/api/", retry_handlers=[])
    plain = WebClient(token="xoxb-1", base_url=f"http://127.0.0.1:{port}/api/", retry_handlers=[])
    assert outcome(client) == outcome(plain) == ("URLError", None, None)


def test_a_forked_process_opens_its_own_connection(fake_slack):
    client = KeepAliveWebClient(token="xoxb-1", base_url=fake_slack.url)
    client.auth_test()
    assert slack_connections._kept.open

    child = os.fork()
    if child == 0:  # gunicorn's worker, forked from a master that had called Slack
        os._exit(0 if not slack_connections._kept.open else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_call_over_a_kept_connection_keeps_its_own_client_timeout(fake_slack, monkeypatch):
    """A quick call (a permalink asked for within a trigger's 3 s) is bounded by its own timeout, even over the
    connection a patient client opened."""
    patient = KeepAliveWebClient(token="xoxb-1", base_url=fake_slack.url, timeout=30)
    quick = KeepAliveWebClient(token="xoxb-1", base_url=fake_slack.url, timeout=0.2, retry_handlers=[])
    assert patient.auth_test()["ok"]
    answer = fake_module.ANSWERS["auth.test"]

    def slowly(server, params):
        time.sleep(1)
        return answer(server, params)

    monkeypatch.setitem(fake_module.ANSWERS, "auth.test", slowly)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        quick.auth_test()
    assert time.monotonic() - started < 0.9
    assert fake_slack.connections_opened == 1
