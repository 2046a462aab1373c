import sys

from harness.nightly.cli import main

sys.exit(main())
