"""Crossfeed's settings, read from the environment or a `.env` file."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import NoDecode

from bot.zones import zone_named
from storage.settings import DatabaseSettings, describe_settings_error, exit_with

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# manifest.yml's bot scopes: what an install through /slack/install asks for unless SLACK_SCOPES says otherwise.
DEFAULT_BOT_SCOPES = ("commands", "chat:write", "chat:write.public", "im:write", "im:history", "channels:join",
                      "channels:history", "groups:history", "users:read", "users:read.email", "usergroups:read",
                      "files:write")


class Settings(DatabaseSettings):
    """Every setting Crossfeed reads; the README lists them with their meaning."""

    # One workspace: its bot token. Many workspaces (OAuth): no token, the app's client id and secret instead.
    slack_bot_token: str | None = Field(default=None, min_length=1)
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_scopes: Annotated[tuple[str, ...], NoDecode] = DEFAULT_BOT_SCOPES
    # Where Slack sends people back after they approve an install; unset, the app's configured one.
    slack_redirect_uri: str | None = None
    # Days an uninstalled workspace's data is kept (README "Installing into many workspaces").
    data_retention_days: int = Field(default=30, ge=0)
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
    # The port of GET /metrics for `python -m schedules` and Socket Mode (README "Observing it"); unset, none.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # When set, every GET /metrics must send `Authorization: Bearer <token>` (README "Observing it").
    metrics_token: SecretStr | None = None
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

    @field_validator("slack_scopes", mode="before")
    @classmethod
    def _scope_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.replace(" ", ",").split(",") if part.strip())
        return value

    @field_validator("slack_client_id", "slack_redirect_uri", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return value.strip() or None if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_way_to_speak_to_slack(self) -> Settings:
        if not self.slack_bot_token and not (self.slack_client_id and self.slack_client_secret):
            raise ValueError("missing required setting SLACK_BOT_TOKEN (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET "
                             "for installs into many workspaces; set them in the environment or in .env)")
        return self

    @property
    def installs_into_many_workspaces(self) -> bool:
        """OAuth mode: each workspace installs the app and has its own bot token; SLACK_BOT_TOKEN wins if set."""
        return not self.slack_bot_token

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
    def scrape_token(self) -> str | None:
        """The bearer token every GET /metrics must send (METRICS_TOKEN), or None: metrics are open."""
        return self.metrics_token.get_secret_value() if self.metrics_token else None

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
    if serves_slack and settings.installs_into_many_workspaces and settings.slack_app_token:
        exit_with("installs into many workspaces (SLACK_CLIENT_ID, no SLACK_BOT_TOKEN) are served over HTTP: "
                  "unset SLACK_APP_TOKEN")
    if serves_slack and settings.verifies_slack_requests and not settings.slack_signing_secret:
        exit_with("missing required setting SLACK_SIGNING_SECRET (set it in the environment or in .env; "
                  "Socket Mode with SLACK_APP_TOKEN needs none)")
    return settings
