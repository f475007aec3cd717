"""``python -m lstmfast``: the same as the ``lstmfast`` command (see :mod:`lstmfast.cli`)."""

import sys

from .app.cli import main

if __name__ == "__main__":
    sys.exit(main())
