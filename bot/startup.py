"""Start-up failures that stop `linli run` with a clear message instead of a traceback."""


class StartupError(Exception):
    """Linli cannot start; the message says why and what to do."""
