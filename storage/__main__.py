"""`python -m storage upgrade`: apply migrations (the Procfile's release step)."""

import sys

from bot.settings import DEFAULT_DATABASE_URL, normalise_database_url
from storage.db import make_engine, migrate


def main(argv: list[str]) -> int:
    if argv != ["upgrade"]:
        print("usage: python -m storage upgrade", file=sys.stderr)
        return 2
    import os

    url = normalise_database_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    engine = make_engine(url)
    migrate(engine)
    print(f"crossfeed: database at {engine.url.render_as_string(hide_password=True)} is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
