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
from tests.helpers import ROOT, free_port, run, run_shell


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


def test_schedules_run_outbox_delivers_what_is_due(tmp_path, fake_slack):
    from tests.helpers import SECRET

    env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake_slack.url,
           "DATABASE_URL": f"sqlite:///{tmp_path}/clock.db", "PYTHONPATH": str(ROOT)}

    result = run(["-m", "schedules", "run", "outbox"], env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "outbox: 0 sent, 0 failed, 0 skipped"


def test_schedules_run_of_an_unknown_job_shows_the_jobs_and_exits_2(tmp_path, monkeypatch, capsys):
    from schedules.__main__ import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    # In this process: `python -m schedules` exits with what main returns (a second process costs a second).
    assert main(["run", "nonsense"]) == 2
    assert "outbox" in capsys.readouterr().err


def test_schedules_run_digest_posts_last_weeks_digest_once(tmp_path, fake_slack):
    from bot.container import Crossfeed
    from tests.helpers import SECRET, make_settings

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


def test_release_step_migrates_an_empty_database_named_in_dot_env(tmp_path):
    from sqlalchemy import create_engine, text

    (tmp_path / ".env").write_text(f"DATABASE_URL=sqlite:///{tmp_path}/from-env-file.db\n")

    result = run(["-m", "storage", "upgrade"], {"PYTHONPATH": str(ROOT)}, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "is up to date" in result.stdout
    assert (tmp_path / "from-env-file.db").exists() and not (tmp_path / "crossfeed.db").exists()
    engine = create_engine(f"sqlite:///{tmp_path}/from-env-file.db")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar(), "migrated"
    engine.dispose()


# --- Start-up: settings checked before anything starts, and quiet at the default level ---------------------

ENTRY_POINTS = {
    "python -m bot": ["-m", "bot"],
    "python -m schedules": ["-m", "schedules"],
    "python -m schedules run outbox": ["-m", "schedules", "run", "outbox"],
}


@pytest.mark.parametrize("entry_point, setting, value", [
    # Each entry point with each setting, the URL with a password that must stay out of the line (the other
    # kinds of bad URL are checked once, in this process, below).
    *[(entry_point, setting, value) for entry_point in ENTRY_POINTS for setting, value in [
        ("LOG_LEVEL", "LOUD"),
        ("DATABASE_URL", "mysql://crossfeed:hunter2@db/crossfeed"),
    ]],
])
def test_a_bad_log_level_or_database_url_is_one_line_and_exit_2(tmp_path, entry_point, setting, value):
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": "http://127.0.0.1:9/",
           "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "PYTHONPATH": str(ROOT), setting: value}

    result = run(ENTRY_POINTS[entry_point], env, cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"crossfeed: invalid setting {setting}: ")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "hunter2" not in result.stderr, "a database password must not reach the logs"


@pytest.mark.parametrize("value", ["foo://x", "::not a url"])
def test_the_other_kinds_of_bad_database_url_are_one_line_and_exit_2(tmp_path, monkeypatch, capsys, value):
    # Once, in this process: every entry point checks them with the same load_settings, which ends a process
    # with what it raises here (the processes above show that).
    from bot.settings import load_settings

    monkeypatch.chdir(tmp_path)
    for name, setting in {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "DATABASE_URL": value}.items():
        monkeypatch.setenv(name, setting)

    with pytest.raises(SystemExit) as exited:
        load_settings()

    assert exited.value.code == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith("crossfeed: invalid setting DATABASE_URL: ") and len(stderr.strip().splitlines()) == 1


def test_the_release_step_names_a_bad_database_url_in_one_line(tmp_path):
    result = run(["-m", "storage", "upgrade"], {"DATABASE_URL": "foo://x", "PYTHONPATH": str(ROOT)}, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.strip() == ("crossfeed: invalid setting DATABASE_URL: unsupported database 'foo'; "
                                     "use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:5432/NAME")


def procfile_command(process: str) -> str:
    [line] = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith(f"{process}:")]
    return line.split(":", 1)[1].strip()


@pytest.mark.parametrize("problem, env", [
    ("missing required setting SLACK_SIGNING_SECRET", {"SLACK_BOT_TOKEN": "xoxb-1"}),
    ("invalid setting LOG_LEVEL", {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "LOG_LEVEL": "LOUD"}),
    ("invalid setting DATABASE_URL", {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
                                      "DATABASE_URL": "foo://x"}),
])
def test_the_procfile_web_line_checks_settings_before_forking_and_exits_2(tmp_path, problem, env):
    env = {"PORT": str(free_port()), "PYTHONPATH": str(ROOT), **env}

    result = run_shell(procfile_command("web"), env, cwd=tmp_path)

    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    [line] = [line for line in output.splitlines() if line.startswith("crossfeed:")]
    assert problem in line
    assert "Booting worker" not in output and "Traceback" not in output, "no worker is forked, let alone rebooted"


def test_a_worker_that_finds_a_setting_missing_stops_gunicorn_instead_of_being_rebooted(tmp_path):
    # gunicorn without the Procfile's config: the worker finds the problem, and the server must still stop.
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "PYTHONPATH": str(ROOT)}

    result = run_shell(f"gunicorn bot.wsgi:application --bind 127.0.0.1:{free_port()}", env, cwd=tmp_path)

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert output.count("Booting worker") == 1, output
    assert output.count("crossfeed: missing required setting SLACK_SIGNING_SECRET") == 1


CLOCK_RUNNING = "clock running: pulse, reminders, messaging, digest, outbox, actions"


def start_and_wait_for_the_clock(args: list[str], env: dict[str, str], cwd: Path, then=None) -> str:
    """Start a process, wait until its clock says it runs its five jobs, call `then(output so far)` if given,
    stop it; return what it printed."""
    import time

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "LOG_LEVEL"))}
    log = cwd / "output.log"
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, *args], env={**clean, **env}, cwd=cwd, stdout=output,
                                   stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 30
            while CLOCK_RUNNING not in log.read_text():
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the clock did not start"
                time.sleep(0.2)
            time.sleep(0.5)  # what it would log right after starting its jobs
            if then is not None:
                then(log.read_text())
        finally:
            process.terminate()
            process.wait(timeout=20)
    return log.read_text()


def test_the_clock_starts_without_a_signing_secret_and_is_quiet_at_the_default_level(tmp_path, fake_slack):
    url = f"sqlite:///{tmp_path}/clock.db"
    env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": fake_slack.url, "DATABASE_URL": url,
           "PYTHONPATH": str(ROOT)}

    output = start_and_wait_for_the_clock(["-m", "schedules"], env, tmp_path)

    assert "SLACK_SIGNING_SECRET" not in output
    assert "apscheduler" not in output and "WARNING" not in output, output


def test_python_m_bot_serves_slack_and_health_over_http_and_starts_quietly(tmp_path, fake_slack):
    """One start of `python -m bot` (about two seconds of a process) for both: it starts without a warning or
    scheduler chatter at the default level, and then serves Slack and /healthz over HTTP."""
    import urllib.request

    from sqlalchemy import create_engine, text

    from tests.helpers import SECRET, SlackDriver

    port = free_port()
    env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake_slack.url,
           "DATABASE_URL": f"sqlite:///{tmp_path}/bot.db", "PORT": str(port), "PYTHONPATH": str(ROOT)}
    started = []

    def serve(output_at_start: str) -> None:
        started.append(output_at_start)
        url = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(url + "/healthz", timeout=5) as health:
            assert health.status == 200
        reply = SlackDriver(app_url=url, secret=SECRET, fake=fake_slack).command("/leadfeedback", "ACME-1 2 no-budget")
        assert reply.status == 200 and reply.json["text"] == "Rated ACME-1: 2/5"

    start_and_wait_for_the_clock(["-m", "bot"], env, tmp_path, then=serve)

    [output] = started
    assert "Listening at" in output, output
    assert "WARNING" not in output and "`token` will be unused" not in output, output
    assert "apscheduler" not in output, output
    engine = create_engine(f"sqlite:///{tmp_path}/bot.db")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT lead_ref, rating FROM lead_ratings")).all() == [("ACME-1", 2)]
    engine.dispose()


def test_the_clock_logs_no_line_per_job_run_at_the_default_level_but_does_at_debug(settings, caplog):
    import logging

    from freezegun import freeze_time

    from bot.server import configure_logging
    from tests.clock_kit import TurnedClock

    def scheduler_lines_of_a_minute(level: int) -> list[str]:
        caplog.clear()
        caplog.set_level(level)
        configure_logging(settings)
        with freeze_time(datetime.now(UTC)) as frozen:
            clock = TurnedClock(settings)
            try:
                frozen.tick(timedelta(seconds=61))
                clock.turn()
            finally:
                clock.stop()
        return [r.getMessage() for r in caplog.records if r.name.startswith("apscheduler")]

    try:
        assert scheduler_lines_of_a_minute(logging.INFO) == []
        assert any(line.startswith("Running job") for line in scheduler_lines_of_a_minute(logging.DEBUG))
    finally:
        logging.getLogger("apscheduler").setLevel(logging.NOTSET)


# --- Socket Mode: connected first, then "running", then the clock -------------------------------------------

def test_socket_mode_that_cannot_connect_says_so_and_never_starts_the_clock(tmp_path, fake_slack):
    from storage.db import make_engine, migrate

    url = f"sqlite:///{tmp_path}/socket.db"
    engine = make_engine(url)
    migrate(engine)  # an installation that ran before: no migration lines to read past
    engine.dispose()
    fake_slack.script.fail("apps.connections.open", times=5, error="invalid_auth")
    env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": "xapp-1-bad", "SLACK_API_URL": fake_slack.url,
           "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}

    result = run(["-m", "bot"], env, cwd=tmp_path)

    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("crossfeed: could not connect to Slack in Socket Mode")
    assert "running" not in result.stderr.lower() and "Traceback" not in result.stderr, result.stderr
    assert fake_slack.calls_to("apps.connections.open")
    assert "clock running" not in result.stderr, "the clock never started"


# --- Install, dependencies and the Slack app ----------------------------------------------------------------

def python_310() -> str | None:
    import glob
    import shutil

    pyenv = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin/python3.10")))
    candidates = [shutil.which("python3.10"), *pyenv]
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys, pip; assert sys.version_info[:2] == (3, 10)"],
                               capture_output=True)
        if probe.returncode == 0:
            return candidate
    return None


def test_pip_install_on_python_3_10_stops_at_once_saying_what_to_do(tmp_path):
    import time

    python = python_310()
    if python is None:
        pytest.skip("no Python 3.10 with pip on this machine")
    started = time.monotonic()

    # --dry-run installs nothing; --no-build-isolation and --no-index keep it off the network.
    result = subprocess.run([python, "-m", "pip", "install", "--dry-run", "--no-build-isolation", "--no-index",
                             "--no-deps", "-e", str(ROOT)], capture_output=True, text=True, cwd=tmp_path, timeout=120)

    assert result.returncode != 0
    assert "crossfeed needs Python 3.11 or newer; this is Python 3.10" in result.stdout + result.stderr
    assert time.monotonic() - started < 60


def test_tools_are_pinned_and_runtime_dependencies_bounded_below_their_next_major():
    import tomllib
    from importlib.metadata import version

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = [Requirement(line) for line in project["dependencies"]]
    [ruff] = [Requirement(line) for line in project["optional-dependencies"]["dev"] if line.startswith("ruff")]

    unbounded = [str(r) for r in runtime if r.name != "tzdata" and not any(s.operator == "<" for s in r.specifier)]
    assert unbounded == []
    assert {str(s) for s in ruff.specifier if s.operator == "<"} == {"<0.18"}
    assert ruff.specifier.contains(version("ruff")), "the ruff linting this code is one the pin allows"


def test_the_messages_tab_is_read_only_as_the_app_answers_no_typed_message():
    from tests.test_manifest_and_home import manifest

    app_home = manifest()["features"]["app_home"]
    events = manifest()["settings"]["event_subscriptions"]["bot_events"]

    assert app_home["messages_tab_enabled"] is True, "DMs (pulse, asks, reminders) arrive in the Messages tab"
    assert app_home["messages_tab_read_only_enabled"] is True
    assert not any(event.startswith("message") for event in events)
