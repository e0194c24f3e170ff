"""``python -m tfst`` is the ``tfst`` command."""

import sys

from tfst.cli import main

sys.exit(main())
