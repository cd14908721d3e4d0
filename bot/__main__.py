"""`python -m bot` does what the `linli` command does."""

import sys

from bot.cli import main

sys.exit(main())
