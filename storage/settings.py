"""DATABASE_URL: the one setting storage/ reads, and the one-line report of a bad setting."""

from __future__ import annotations

import sys
from typing import NoReturn

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///crossfeed.db"
# The databases Crossfeed is built and tested on, as SQLAlchemy driver names after normalise_database_url.
SUPPORTED_DATABASE_DRIVERS = frozenset({"sqlite", "sqlite+pysqlite", "postgresql+psycopg"})


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
    problem = first["msg"].removeprefix("Value error, ")
    return problem if problem.startswith("missing required setting") else f"invalid settings: {problem}"
