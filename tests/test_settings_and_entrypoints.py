"""Settings, and the processes of the runtime contract started as a person would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings, describe_settings_error

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


def test_release_step_migrates_an_empty_database(tmp_path):
    result = run(["-m", "storage", "upgrade"], {"DATABASE_URL": f"sqlite:///{tmp_path}/new.db",
                                                "PYTHONPATH": str(ROOT)}, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "is up to date" in result.stdout
