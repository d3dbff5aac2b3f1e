"""`python -m app.cli ...`, the same as the `lantern` command."""

import sys

from app.cli import main

sys.exit(main())
