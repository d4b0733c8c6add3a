"""`python -m ganaudio`: the same entry point as the `ganaudio` command."""

import sys

from ganaudio.cli import main

sys.exit(main())
