"""``python -m satsim`` runs the command line (as the ``satsim`` console script)."""

import sys

from satsim.cli import main

sys.exit(main())
