"""`python -m harness.cli`: the console script."""

import sys

from harness.cli import main

sys.exit(main())
