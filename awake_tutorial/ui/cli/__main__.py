"""``python -m awake_tutorial.ui.cli``: the same as ``awake-tutorial``."""

import sys

from awake_tutorial.ui.cli import main

sys.exit(main())
