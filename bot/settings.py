"""Crossfeed's settings, read from the environment or a `.env` file."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import NoDecode

from bot.zones import zone_named
from storage.settings import DatabaseSettings, describe_settings_error, exit_with

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


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
    # Signs `POST /hooks/leads` (README "Lead handoff"); unset, the endpoint refuses every lead.
    lead_webhook_secret: SecretStr | None = None
    # `python -m schedules worker` processes deliver the outbox (README "Running on PostgreSQL"): the web and
    # clock processes then only queue messages, and their commits wake the workers.
    outbox_workers: bool = False

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
        if value and zone_named(value) is None:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name like Europe/Paris")
        return value

    @field_validator("lead_feed_channel", "sales_channel", "workspace_timezone", mode="before")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("outbox_workers")
    @classmethod
    def _workers_need_postgresql(cls, workers: bool, info: ValidationInfo) -> bool:
        if workers and not str(info.data.get("database_url", "")).startswith("postgresql"):
            raise ValueError("outbox workers need PostgreSQL (DATABASE_URL=postgresql://…); on SQLite leave it "
                             "unset: each process delivers what it queues")
        return workers

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
