"""Settings, and the processes of the runtime contract started as a person would."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings, describe_settings_error
from storage.models import Workspace
from storage.teams import workspace_config

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    return subprocess.run([sys.executable, *args], env={**clean, **env}, cwd=cwd, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("missing, env", [
    ("SLACK_BOT_TOKEN", {"SLACK_SIGNING_SECRET": "s"}),
    ("SLACK_SIGNING_SECRET", {"SLACK_BOT_TOKEN": "xoxb-1"}),
])
def test_starting_without_a_required_setting_prints_one_line_and_exits_2(tmp_path, missing, env):
    result = run(["-m", "bot"], env, cwd=tmp_path)

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and missing in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_socket_mode_needs_no_signing_secret():
    settings = Settings(_env_file=None, slack_bot_token="xoxb-1", slack_app_token="xapp-1")
    assert settings.slack_signing_secret == ""


@pytest.mark.parametrize("given, expected", [
    ("postgres://u:p@db:5432/crossfeed", "postgresql+psycopg://u:p@db:5432/crossfeed"),
    ("postgresql://u@db/x", "postgresql+psycopg://u@db/x"),
    ("postgresql+psycopg://u@db/x", "postgresql+psycopg://u@db/x"),
    ("sqlite:///crossfeed.db", "sqlite:///crossfeed.db"),
])
def test_database_urls_are_normalised_for_psycopg(given, expected):
    settings = Settings(_env_file=None, slack_bot_token="x", slack_signing_secret="s", database_url=given)
    assert settings.database_url == expected


def test_slack_api_url_gets_its_trailing_slash():
    settings = Settings(_env_file=None, slack_bot_token="x", slack_signing_secret="s",
                        slack_api_url="http://127.0.0.1:9/api")
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"


def test_settings_come_from_a_dot_env_file(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-file\nSLACK_SIGNING_SECRET=s\nPORT=4000\n")
    monkeypatch.chdir(tmp_path)

    settings = Settings()

    assert (settings.slack_bot_token, settings.port) == ("xoxb-from-file", 4000)


def test_a_bad_value_is_named():
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None, slack_bot_token="x", slack_signing_secret="s", port="eighty")
    assert describe_settings_error(raised.value).startswith("invalid setting PORT:")
    assert "Value error" not in describe_settings_error(raised.value)


def test_release_step_migrates_an_empty_database(tmp_path):
    result = run(["-m", "storage", "upgrade"], {"DATABASE_URL": f"sqlite:///{tmp_path}/new.db",
                                                "PYTHONPATH": str(ROOT)}, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "is up to date" in result.stdout


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_python_m_bot_serves_slack_and_health_over_http(tmp_path, fake_slack):
    import time
    import urllib.request

    from sqlalchemy import create_engine, text

    from tests.conftest import SECRET
    from tests.slack_driver import SlackDriver

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    env.update(SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=fake_slack.url,
               DATABASE_URL=f"sqlite:///{tmp_path}/bot.db", PORT=str(port), RUN_SCHEDULER="0",
               PYTHONPATH=str(ROOT), LOG_LEVEL="WARNING")
    server = subprocess.Popen([sys.executable, "-m", "bot"], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1) as health:
                    assert health.status == 200
                    break
            except OSError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "python -m bot did not start"
                time.sleep(0.1)

        reply = SlackDriver(app_url=url, secret=SECRET, fake=fake_slack).command("/leadfeedback", "ACME-1 2 no-budget")

        assert reply.status == 200 and reply.json["text"] == "Rated ACME-1: 2/5"
        engine = create_engine(f"sqlite:///{tmp_path}/bot.db")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT lead_ref, rating FROM lead_ratings")).all() == [("ACME-1", 2)]
        engine.dispose()
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_schedules_run_outbox_delivers_what_is_due(tmp_path, fake_slack):
    from tests.conftest import SECRET

    env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake_slack.url,
           "DATABASE_URL": f"sqlite:///{tmp_path}/clock.db", "PYTHONPATH": str(ROOT)}

    result = run(["-m", "schedules", "run", "outbox"], env, cwd=tmp_path)
    unknown = run(["-m", "schedules", "run", "nonsense"], env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "outbox: 0 sent, 0 failed, 0 skipped"
    assert unknown.returncode == 2 and "outbox" in unknown.stderr


def test_schedules_run_digest_posts_last_weeks_digest_once(tmp_path, fake_slack):
    from bot.app import Crossfeed
    from tests.conftest import SECRET, make_settings

    url = f"sqlite:///{tmp_path}/clock.db"
    runtime = Crossfeed.start(make_settings(url, fake_slack))
    with runtime.transaction() as session:
        config = workspace_config(session=session, team_id="T1")
        # Due every Monday at 00:00 UTC: whenever this runs, last week's digest is due.
        config.timezone, config.digest_day, config.digest_time = "UTC", "mon", "00:00"
        config.digest_channels = ["C_LEADERS"]
        # In use for a month: last week's digest is owed (a week before the workspace began gets none).
        session.get(Workspace, "T1").created_at = datetime.now(UTC) - timedelta(days=30)
    runtime.close()
    env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake_slack.url,
           "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}

    first = run(["-m", "schedules", "run", "digest"], env, cwd=tmp_path)
    calls_after_first = len(fake_slack.calls)
    second = run(["-m", "schedules", "run", "digest"], env, cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "digest: 1 posted, 0 failed, 0 already posted"
    [post] = fake_slack.calls_to("chat.postMessage")
    assert post.params["channel"] == "C_LEADERS" and "alignment" in post.params["text"]
    assert second.stdout.strip() == "digest: 0 posted, 0 failed, 1 already posted"
    assert len(fake_slack.calls) == calls_after_first, "a posted week costs no Slack call (no join, no history)"


def test_release_step_reads_database_url_from_dot_env(tmp_path):
    (tmp_path / ".env").write_text(f"DATABASE_URL=sqlite:///{tmp_path}/from-env-file.db\n")

    result = run(["-m", "storage", "upgrade"], {"PYTHONPATH": str(ROOT)}, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "from-env-file.db").exists() and not (tmp_path / "crossfeed.db").exists()
