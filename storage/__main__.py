"""`python -m storage upgrade`: apply migrations (the Procfile's release step)."""

import sys

from storage.db import make_engine, migrate
from storage.settings import load_database_settings


def main(argv: list[str]) -> int:
    if argv != ["upgrade"]:
        print("usage: python -m storage upgrade", file=sys.stderr)
        return 2
    engine = make_engine(load_database_settings().database_url)
    migrate(engine)
    print(f"crossfeed: database at {engine.url.render_as_string(hide_password=True)} is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
