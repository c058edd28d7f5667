"""`python -m storage upgrade`: apply migrations (the Procfile's release step)."""

import sys

from storage.settings import load_database_settings


def main(argv: list[str]) -> int:
    if argv != ["upgrade"]:
        print("usage: python -m storage upgrade", file=sys.stderr)
        return 2
    settings = load_database_settings()  # a bad DATABASE_URL is told before SQLAlchemy's and Alembic's imports

    from storage.db import make_engine, migrate

    engine = make_engine(settings.database_url)
    migrate(engine)
    print(f"crossfeed: database at {engine.url.render_as_string(hide_password=True)} is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
