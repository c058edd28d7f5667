"""GET /metrics as an operator's Prometheus reads it: scraped over HTTP from the running app (and from the clock's own
endpoint), parsed with prometheus-client's parser, before and after what it reports happened.

Counters and histograms belong to the test process and keep counting from test to test, so each test compares a
scrape after with a scrape before.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from freezegun import freeze_time
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics
from bot.metrics import COMMANDS, FAMILIES, serve_metrics
from schedules import jobs
from storage.models import OutboxMessage
from storage.queries import ensure_workspace
from tests.clock_kit import TurnedClock
from tests.helpers import APP_SETTINGS, ROOT, SECRET, SlackDriver, free_port, make_teams, run
from tests.test_home import open_home
from tests.test_settings_and_entrypoints import procfile_command, start_and_wait_for_the_clock

Samples = dict[tuple[str, frozenset], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape by (name, labels)."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        return parse(response.read().decode())


def value(samples: Samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


# --- requests per surface -------------------------------------------------------------------------------------

def test_each_request_is_timed_under_its_surface_never_a_person_or_their_text(running, slack):
    before = scrape(running.url)

    slack.command("/leadfeedback", "help", user="U_SECRET_PERSON")
    slack.command("/pulse", "results")
    slack.click("pulse.answer.0.4", "nonsense")  # a button Slack sends: its family is known whatever its value
    slack.click("U_SECRET_PERSON.typed", "x")  # an action id no surface gives out
    slack.submit({"callback_id": "messaging.ask_modal"}, {})
    open_home(slack)
    slack.post("text=hello", signed=False)  # refused before Bolt reads it
    slack.get("/healthz")
    slack.post("{}", content_type="application/json", path="/hooks/leads", signed=False)
    running.settle()
    after = scrape(running.url)

    expected = {"/leadfeedback": 1, "/pulse": 1, "action:pulse": 1, "action:other": 1, "view:messaging": 1,
                "home": 1, "rejected": 1, "healthz": 1, "lead_webhook": 1}
    for surface, count in expected.items():
        assert moved(before, after, "crossfeed_request_duration_seconds_count", surface=surface) == count, surface
    surfaces = {dict(labels)["surface"] for name, labels in after if name.startswith("crossfeed_request_duration")}
    assert "U_SECRET_PERSON" not in json.dumps(sorted(surfaces))
    allowed = {*COMMANDS, *(f"{kind}:{family}" for kind in ("action", "view", "options", "shortcut")
                            for family in (*FAMILIES, "other")), "command:other", "home", "events", "rejected",
               "healthz", "lead_webhook", "other"}
    assert surfaces <= allowed
    # A histogram: its buckets count the same requests, the slowest within Slack's 3 s.
    assert moved(before, after, "crossfeed_request_duration_seconds_bucket", surface="/pulse", le="3.0") == 1


@pytest.mark.parametrize("body", [
    {"type": ["block_actions"], "command": {"name": "/pulse"}},
    {"type": "block_actions", "actions": "pulse.answer"},
    {"type": "view_submission", "view": ["pulse.form"]},
    {"type": "event_callback", "event": "app_home_opened"},
    {"type": "shortcut", "callback_id": {"id": "intel.shortcut"}},
])
def test_a_body_of_any_shape_has_a_surface_from_the_fixed_set(body):
    assert metrics.slack_surface(body) in {"command:other", "action:other", "view:other", "events", "shortcut:other",
                                           "other"}


def test_the_commands_known_to_metrics_are_the_manifests():
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert {c["command"] for c in manifest["features"]["slash_commands"]} == COMMANDS


# --- the outbox, read from the database at each scrape --------------------------------------------------------

def put_messages(crossfeed, now: datetime, rows: list[tuple[str, str, timedelta]]) -> None:
    """Outbox rows as the database holds them (kind, status, due in), written without starting a delivery; each a
    Home refresh of a person of its own when its kind is `home`."""
    with crossfeed.transaction() as session:
        ensure_workspace(session=session, team_id="T1")
        for number, (kind, status, due_in) in enumerate(rows):
            session.add(OutboxMessage(team_id="T1", kind=kind, dedupe_key=f"{kind}:U{number}", channel=None,
                                      payload={"user_id": f"U{number}"}, status=status, attempts=0, requests=1,
                                      next_attempt_at=now + due_in, created_at=now - timedelta(hours=1)))


def test_outbox_depth_oldest_wait_and_failures_by_kind_and_the_clocks_job_runs(running, settings):
    now = datetime.now(UTC).replace(microsecond=0)
    put_messages(running.crossfeed, now, [
        ("home", "pending", timedelta(seconds=-90)),  # due a minute and a half ago, not sent yet
        ("home", "pending", timedelta(hours=1)),  # held for later: waiting, not late
        ("reply_dm", "failed", timedelta(0)),
        ("reply_dm", "sent", timedelta(0)),
    ])

    with freeze_time(now) as frozen:
        backlog = scrape(running.url)

        assert value(backlog, "crossfeed_outbox_pending", kind="home") == 2
        assert value(backlog, "crossfeed_outbox_oldest_pending_seconds", kind="home") == 90
        assert value(backlog, "crossfeed_outbox_failed", kind="reply_dm") == 1
        assert value(backlog, "crossfeed_outbox_pending", kind="reply_dm") == 0, "every kind is there, at 0"
        assert ("crossfeed_outbox_pending", frozenset({("kind", "pulse_prompt")})) in backlog

        clock = TurnedClock(settings)
        try:
            frozen.tick(timedelta(minutes=5, seconds=1))  # every job's first run is due (reminders: each 5 min)
            clock.turn()
        finally:
            clock.stop()
        after = scrape(running.url)

    # The clock's outbox job sent the due message; the held one still waits and is not late.
    assert value(after, "crossfeed_outbox_pending", kind="home") == 1
    assert value(after, "crossfeed_outbox_oldest_pending_seconds", kind="home") == 0
    assert value(after, "crossfeed_outbox_failed", kind="reply_dm") == 1
    for job_id in jobs.JOBS:
        assert moved(backlog, after, "crossfeed_job_runs_total", job=job_id, outcome="ok") == 1, job_id
        assert moved(backlog, after, "crossfeed_job_duration_seconds_count", job=job_id) == 1, job_id


def test_a_scrape_still_answers_when_the_database_does_not_without_the_backlog(running, slack):
    running.crossfeed.engine.dispose()
    running.crossfeed.engine.pool._creator = lambda *a: (_ for _ in ()).throw(OSError("database is down"))

    samples = scrape(running.url)

    assert not any(name.startswith("crossfeed_outbox_") for name, _ in samples)
    assert any(name.startswith("crossfeed_request_duration_seconds") for name, _ in samples)


def test_a_job_that_raises_is_counted_as_an_error_and_still_raises():
    def broken(runtime):
        raise RuntimeError("no database")

    before = parse(metrics.exposition().decode())
    with pytest.raises(RuntimeError):
        metrics.measured_job("digest", broken)(None)
    after = parse(metrics.exposition().decode())

    assert moved(before, after, "crossfeed_job_runs_total", job="digest", outcome="error") == 1
    assert moved(before, after, "crossfeed_job_duration_seconds_count", job="digest") == 1


# --- Slack's answers ------------------------------------------------------------------------------------------

def test_429s_are_counted_per_workspace_and_slack_errors_by_method_and_code(start_app):
    app = start_app(lead_feed_channel="C_FEED")
    make_teams(app.crossfeed, sales=["U1"], marketing=["UM1"])
    before = scrape(app.url)
    app.fake.script.fail("chat.postMessage", times=2, status=429, retry_after=0)  # a 0 s pause: tried again
    app.fake.script.fail("chat.postMessage", error="channel_not_found")  # then a refusal: retried later

    app.slack.command("/leadfeedback", "ACME-1 1 spam")
    app.settle()
    after = scrape(app.url)

    assert moved(before, after, "crossfeed_slack_rate_limited_total", team="T1") == 2
    assert moved(before, after, "crossfeed_slack_api_errors_total", method="chat.postMessage",
                 error="ratelimited") == 2
    assert moved(before, after, "crossfeed_slack_api_errors_total", method="chat.postMessage",
                 error="channel_not_found") == 1
    assert value(after, "crossfeed_outbox_pending", kind="lead_feed") == 1, "the refused post waits for its retry"


# --- the clock's endpoint -------------------------------------------------------------------------------------

def test_the_clock_serves_its_job_runs_at_its_own_metrics_endpoint(settings):
    endpoint = serve_metrics(0, host="127.0.0.1")
    try:
        url = f"http://127.0.0.1:{endpoint.server_address[1]}"
        before = scrape(url)
        with freeze_time(datetime.now(UTC)) as frozen:
            clock = TurnedClock(settings)
            try:
                frozen.tick(timedelta(minutes=5, seconds=1))
                clock.turn()
            finally:
                clock.stop()
        after = scrape(url)
    finally:
        endpoint.shutdown()
        endpoint.server_close()

    assert moved(before, after, "crossfeed_job_runs_total", job="reminders", outcome="ok") == 1
    assert "crossfeed_outbox_pending" not in {name for name, _ in after}, "the backlog is the web's to report"


def test_python_m_schedules_serves_metrics_on_metrics_port(tmp_path, fake_slack):
    port = free_port()
    env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": fake_slack.url, "DATABASE_URL": f"sqlite:///{tmp_path}/c.db",
           "METRICS_PORT": str(port), "PYTHONPATH": str(ROOT)}
    scraped = []

    start_and_wait_for_the_clock(["-m", "schedules"], env, tmp_path,
                                 then=lambda _: scraped.append(scrape(f"http://127.0.0.1:{port}")))

    [samples] = scraped
    assert ("process_start_time_seconds", frozenset()) in samples


# --- many processes, one scrape -------------------------------------------------------------------------------

WRITER = """
import sys
from bot import metrics
for _ in range(int(sys.argv[1])):
    metrics.measured_job("pulse", lambda: "ok")()
metrics.REQUEST_SECONDS.labels("/pulse").observe(0.02)
"""


def test_in_multiprocess_mode_a_scrape_adds_up_what_every_process_wrote(running, tmp_path, monkeypatch):
    directory = tmp_path / "metrics"
    directory.mkdir()
    for runs in (2, 3):  # two processes, as two gunicorn workers would be
        result = run(["-c", WRITER, str(runs)], {"PROMETHEUS_MULTIPROC_DIR": str(directory),
                                                 "PYTHONPATH": str(ROOT)}, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert len({path.stem.rsplit("_", 1)[-1] for path in directory.glob("*.db")}) == 2, "one file set per process"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))

    samples = scrape(running.url)

    assert value(samples, "crossfeed_job_runs_total", job="pulse", outcome="ok") == 5
    assert value(samples, "crossfeed_request_duration_seconds_count", surface="/pulse") == 2
    assert ("crossfeed_outbox_pending", frozenset({("kind", "lead_feed")})) in samples, "read by the scraper"


@contextmanager
def procfile_web(tmp_path: Path, env: dict[str, str]) -> Iterator[str]:
    """The Procfile's web line running with `env` (and nothing of this environment's settings); its URL."""
    port = free_port()
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(APP_SETTINGS)}
    log_path = tmp_path / "web.log"
    with log_path.open("w") as log:
        web = subprocess.Popen(["sh", "-c", procfile_command("web")], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                               env={**clean, "PORT": str(port), "PYTHONPATH": str(ROOT), "PATH": path, **env},
                               start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(url, web, log_path)
            yield url
        finally:
            os.killpg(web.pid, signal.SIGTERM)  # the shell and the gunicorn it started: a session of their own
            web.wait(timeout=20)


def settings_for_web(fake_slack, database_url: str, **more: str) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake_slack.url,
            "DATABASE_URL": database_url, **more}


def test_the_procfile_web_line_with_two_workers_reports_every_workers_requests_in_one_scrape(tmp_path, fake_slack,
                                                                                           database_url):
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_1.db").write_bytes(b"left by an earlier run")  # emptied at start, never read
    env = settings_for_web(fake_slack, database_url, WEB_CONCURRENCY="2", PROMETHEUS_MULTIPROC_DIR=str(directory))

    with procfile_web(tmp_path, env) as url:
        slack = SlackDriver(app_url=url, secret=SECRET, fake=fake_slack)
        sent, deadline = 0, time.monotonic() + 20
        with ThreadPoolExecutor(16) as pool:
            # Until both workers have answered some (each writes files named by its pid; the second may still be
            # starting when the first answers), in rounds of concurrent requests.
            while len(worker_pids(directory)) < 2 and time.monotonic() < deadline:
                replies = list(pool.map(lambda _: slack.command("/leadfeedback", "help"), range(32)))
                assert all(reply.status == 200 for reply in replies)
                sent += len(replies)
        samples = scrape(url)

    assert len(worker_pids(directory)) == 2, (tmp_path / "web.log").read_text()[-2000:]
    assert value(samples, "crossfeed_request_duration_seconds_count", surface="/leadfeedback") == sent


def test_the_web_line_keeps_its_metrics_in_a_directory_of_its_own_and_removes_it_on_exit(tmp_path, fake_slack):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = settings_for_web(fake_slack, f"sqlite:///{tmp_path}/web.db", TMPDIR=str(temporary))

    with procfile_web(tmp_path, env) as url:
        SlackDriver(app_url=url, secret=SECRET, fake=fake_slack).command("/pulse", "results")
        samples = scrape(url)
        [directory] = temporary.glob("crossfeed-metrics-*")
        assert worker_pids(directory), "the worker writes its values there (multiprocess mode)"

    assert value(samples, "crossfeed_request_duration_seconds_count", surface="/pulse") == 1
    deadline = time.monotonic() + 20
    while directory.exists():
        assert time.monotonic() < deadline, "gunicorn left its metrics directory behind"
        time.sleep(0.1)


def worker_pids(directory: Path) -> set[str]:
    return {path.stem.rsplit("_", 1)[-1] for path in directory.glob("histogram_*.db")}


def wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the web line did not start: {log.read_text()}")



# --- METRICS_TOKEN --------------------------------------------------------------------------------------------

def get(url: str, authorization: str | None = None) -> tuple[int, str, dict]:
    request = urllib.request.Request(url, headers={"Authorization": authorization} if authorization else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def assert_only_the_token_reads(url: str) -> None:
    for authorization in (None, "Bearer wrong", "Bearer s3cret-token-x", "Basic czNjcmV0LXRva2Vu", "s3cret-token"):
        status, body, headers = get(url, authorization)
        assert status == 401, authorization
        assert body.count("\n") == 1 and "METRICS_TOKEN" in body and "crossfeed_" not in body
        assert headers["Content-Type"] == "text/plain" and headers["WWW-Authenticate"] == "Bearer"
    status, body, _ = get(url, "Bearer s3cret-token")
    assert status == 200 and "process_start_time_seconds" in body


def test_with_metrics_token_the_web_ports_metrics_need_it_and_the_rest_is_served_as_before(start_app):
    app = start_app(metrics_token="s3cret-token")

    assert_only_the_token_reads(app.url + "/metrics")
    assert get(app.url + "/healthz")[0] == 200
    assert app.slack.command("/leadfeedback", "ACME-1 4 great-fit").status == 200


def test_with_metrics_token_the_clocks_endpoint_needs_it_on_every_path():
    endpoint = serve_metrics(0, host="127.0.0.1", token="s3cret-token")
    try:
        url = f"http://127.0.0.1:{endpoint.server_address[1]}"
        assert_only_the_token_reads(url + "/metrics")
        assert get(url + "/")[0] == 401, "prometheus-client answers any path with the metrics"
    finally:
        endpoint.shutdown()
        endpoint.server_close()


def test_without_metrics_token_metrics_stay_open(running):
    status, body, _ = get(running.url + "/metrics", "Bearer anything")
    assert status == 200 and "process_start_time_seconds" in body
    assert get(running.url + "/metrics")[0] == 200
