"""Crossfeed's settings, read from the environment or a `.env` file."""

from __future__ import annotations

import sys
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///crossfeed.db"


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

    @model_validator(mode="after")
    def _signing_secret_for_http(self) -> Settings:
        # Socket Mode needs no signing secret; HTTP mode cannot verify requests without one.
        if not self.slack_app_token and not self.slack_signing_secret:
            raise ValueError("SLACK_SIGNING_SECRET is required unless SLACK_APP_TOKEN (Socket Mode) is set")
        return self


def load_settings() -> Settings:
    """Read settings, or print one line naming what is missing or wrong and exit 2."""
    try:
        return Settings()
    except ValidationError as error:
        print(f"crossfeed: {describe_settings_error(error)}", file=sys.stderr)
        raise SystemExit(2) from None


def describe_settings_error(error: ValidationError) -> str:
    """One line naming the first bad or missing setting, as its environment variable."""
    first = error.errors()[0]
    if first["loc"]:
        name = str(first["loc"][0]).upper()
        if first["type"] == "missing":
            return f"missing required setting {name} (set it in the environment or in .env)"
        return f"invalid setting {name}: {first['msg'].removeprefix('Value error, ')}"
    return f"invalid settings: {first['msg'].removeprefix('Value error, ')}"



