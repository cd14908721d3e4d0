"""The `linli` command line: run the bot, manage the database."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import io
import logging
import signal
import sys
from collections.abc import Sequence

from bot import __version__
from bot.logs import JsonFormatter
from bot.ops import COMMANDS as OPS_COMMANDS
from bot.ops import add_ops_commands, run_ops
from bot.redact import RedactingFilter
from bot.redact import install as install_redaction
from bot.settings import Settings, SettingsError, load_settings
from bot.startup import StartupError
from knowledge.cli import add_faq_commands, run_faq

log = logging.getLogger("linli")


def configure_logging(level: str, fmt: str = "text") -> None:
    """Log to stderr, as text with timestamps or as JSON lines; quiet the chatty libraries."""
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if fmt == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
    for noisy in ("httpx", "httpcore", "aiohttp.access", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # The token is in every Bot API URL httpx and PTB log; secrets are masked at source.
    install_redaction()
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())


async def _run(settings: Settings) -> int:
    from bot.runtime import Runtime

    runtime = Runtime(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        # A standby waits inside start() until it becomes active; a signal ends the wait.
        starting = asyncio.create_task(runtime.start())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            return 0
        stopping.cancel()
        starting.result()  # a failed start raises here
        if runtime.sandbox is not None:
            url = f"http://{_browser_host(settings.sandbox_host)}:{runtime.sandbox.port}/"
            print(
                f"Linli 已就绪 ready in {runtime.ready_seconds:.1f} s — 打开 open {url}", flush=True
            )
            print(
                "沙盒模式 sandbox mode: no TELEGRAM_BOT_TOKEN set, chatting with a demo community.",
                flush=True,
            )
        else:
            print(
                f"Linli 已就绪 ready in {runtime.ready_seconds:.1f} s ({settings.mode.value})",
                flush=True,
            )
        lost = asyncio.create_task(runtime.lost.wait())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({lost, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if runtime.lost.is_set():
            print("Linli stepped down: the lock on the database was lost.", file=sys.stderr)
            return 3  # a supervisor restarts it; it comes back as a standby
    finally:
        await runtime.stop()
    return 0


def _browser_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


async def _db(settings: Settings, action: str) -> int:
    from storage.db import Database

    db = Database(settings.effective_database_url)
    try:
        if action == "upgrade":
            await db.upgrade()
            print(f"database at revision {await db.current_revision()}")
        else:
            current = await db.current_revision()
            print(f"current: {current or '(empty)'}; newest: {db.head_revision()}")
    finally:
        await db.dispose()
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    p = argparse.ArgumentParser(prog="linli", description="Linli (邻里) community assistant")
    p.add_argument("--version", action="version", version=f"linli {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot (the embedded sandbox when no token is set)")
    db = sub.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade", "current"])
    add_faq_commands(sub)
    add_ops_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `linli` console script."""
    args = parser().parse_args(argv)
    if args.command == "faq":  # needs no configuration: it reads files and stdin only
        if isinstance(sys.stdout, io.TextIOWrapper):
            sys.stdout.reconfigure(encoding="utf-8")
        return run_faq(args)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"linli: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        if args.command == "run":
            return asyncio.run(_run(settings))
        if args.command == "db":
            return asyncio.run(_db(settings, args.action))
        if args.command in OPS_COMMANDS:
            return asyncio.run(run_ops(settings, args))
    except KeyboardInterrupt:
        return 130
    except StartupError as exc:
        print(f"linli: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
            raise
        print(
            f"linli: cannot listen: {exc.strerror}. Another program uses the port; set "
            "LINLI_SANDBOX_PORT or LINLI_WEB_PORT to a free one.",
            file=sys.stderr,
        )
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
