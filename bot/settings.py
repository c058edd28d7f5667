"""Crossfeed's settings, read from the environment or a `.env` file."""

from __future__ import annotations

import sys
from typing import Annotated, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///crossfeed.db"
# The databases Crossfeed is built and tested on, as SQLAlchemy driver names after normalise_database_url.
SUPPORTED_DATABASE_DRIVERS = frozenset({"sqlite", "sqlite+pysqlite", "postgresql+psycopg"})
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def normalise_database_url(url: str) -> str:
    """Point postgres:// URLs at psycopg 3; Heroku-style platforms hand them out, SQLAlchemy rejects them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class DatabaseSettings(BaseSettings):
    """Just DATABASE_URL, for tools that touch only the database (`python -m storage upgrade`)."""

    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL

    @field_validator("database_url", mode="before")
    @classmethod
    def _use_psycopg3(cls, url: str) -> str:
        return normalise_database_url(url) if isinstance(url, str) else url

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, url: str) -> str:
        # Checked here so a wrong URL is one line at start-up, not a traceback from the engine. The
        # message names only the scheme: the URL may hold a password.
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        hint = "use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:5432/NAME"
        try:
            driver = make_url(url).drivername
        except (ArgumentError, ValueError):
            raise ValueError(f"not a database URL; {hint}") from None
        if driver not in SUPPORTED_DATABASE_DRIVERS:
            raise ValueError(f"unsupported database {driver.partition('+')[0]!r}; {hint}")
        return url


class Settings(DatabaseSettings):
    """Every setting Crossfeed reads; the README lists them with their meaning."""

    slack_bot_token: str = Field(min_length=1)
    slack_signing_secret: str = ""
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    port: int = 3000
    log_level: str = "INFO"
    run_scheduler: bool = True
    lead_feed_channel: str | None = None
    sales_channel: str | None = None
    admin_user_ids: Annotated[frozenset[str], NoDecode] = frozenset()
    workspace_timezone: str | None = None
    slack_max_rate_limit_retries: int = Field(default=3, ge=0, le=10)
    # Keys pulse respondents (README "Security and privacy"); unset, one is derived from the Slack secrets.
    pulse_key: SecretStr | None = None

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, level: str) -> str:
        name = level.strip().upper()
        if name not in LOG_LEVELS:
            raise ValueError(f"unknown level {level!r}; use one of {', '.join(LOG_LEVELS)}")
        return name

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, url: str) -> str:
        # urljoin(base_url, method) drops the last path segment without it.
        return url if url.endswith("/") else url + "/"

    @field_validator("admin_user_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.replace(" ", ",").split(",") if part.strip())
        return value

    @field_validator("workspace_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}; use an IANA name like Europe/Paris") from None
        return value

    @field_validator("lead_feed_channel", "sales_channel", "workspace_timezone", mode="before")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if isinstance(value, str) else value

    @property
    def verifies_slack_requests(self) -> bool:
        """HTTP mode verifies each request with the signing secret; Socket Mode needs none."""
        return not self.slack_app_token


def load_settings(*, serves_slack: bool = True) -> Settings:
    """Read settings, or print one line naming what is missing or wrong and exit 2.

    `serves_slack=False` is for the clock, which only calls Slack and so needs no signing secret.
    """
    try:
        settings = Settings()
    except ValidationError as error:
        exit_with(describe_settings_error(error))
    if serves_slack and settings.verifies_slack_requests and not settings.slack_signing_secret:
        exit_with("missing required setting SLACK_SIGNING_SECRET (set it in the environment or in .env; "
                  "Socket Mode with SLACK_APP_TOKEN needs none)")
    return settings


def load_database_settings() -> DatabaseSettings:
    """DATABASE_URL alone, for `python -m storage upgrade` and the export; exits 2 like load_settings."""
    try:
        return DatabaseSettings()
    except ValidationError as error:
        exit_with(describe_settings_error(error))


def exit_with(problem: str) -> NoReturn:
    print(f"crossfeed: {problem}", file=sys.stderr)
    raise SystemExit(2)


def describe_settings_error(error: ValidationError) -> str:
    """One line naming the first bad or missing setting, as its environment variable."""
    first = error.errors()[0]
    if first["loc"]:
        name = str(first["loc"][0]).upper()
        if first["type"] == "missing":
            return f"missing required setting {name} (set it in the environment or in .env)"
        return f"invalid setting {name}: {first['msg'].removeprefix('Value error, ')}"
    return f"invalid settings: {first['msg'].removeprefix('Value error, ')}"
