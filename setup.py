"""Stops an install on a Python older than 3.11 at once.

pyproject.toml says `requires-python = ">=3.11"`, but pip before 23.1 or so (3.10 ships 23.0.1) resolves every
dependency first and backtracks through their releases for many minutes before it reports that.
setuptools runs this file while pip is still preparing the project's metadata, before any resolving.
"""

import sys

if sys.version_info < (3, 11):  # noqa: UP036 - the point of this file is to run on older Pythons
    sys.exit(f"crossfeed needs Python 3.11 or newer; this is Python {sys.version.split()[0]}. "
             "Create the virtual environment with python3.11 (or newer) and install again.")

from setuptools import setup  # noqa: E402

setup()
