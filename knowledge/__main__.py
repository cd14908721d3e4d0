"""`python -m knowledge faq match|check`: the FAQ commands without the bot."""

import sys

from knowledge.cli import main

sys.exit(main())
