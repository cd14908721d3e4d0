"""The proving suite (issue 10): hostile input, Telegram's failures, crashes, permissions."""

from tests.e2e.conftest import linli  # noqa: F401  (the running bot, as in the e2e tests)
from tests.e2e.privacy import group_privacy  # noqa: F401  (autouse: residents' groups stay private)
