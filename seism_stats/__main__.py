"""``python -m seism_stats``: the ``seism`` command line (see :mod:`seism_stats.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
