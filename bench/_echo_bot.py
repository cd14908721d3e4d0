"""A bare python-telegram-bot echo bot: the floor a bot on this library and machine can reach.

    TELEGRAM_BOT_TOKEN=... ECHO_API_URL=http://127.0.0.1:PORT/bot python bench/_echo_bot.py

One Application, one MessageHandler that replies (quoting) with the message's text, long
polling as Linli does; prints "ready" once polling runs, stops on SIGTERM or SIGINT.
bench/throughput.py runs it as a process of its own beside Linli.
"""

from __future__ import annotations

import asyncio
import os
import signal

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.message
    if message is not None and message.text:
        await message.reply_text(message.text, do_quote=True)


async def main() -> None:
    app: Application = (  # type: ignore[type-arg]
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["ECHO_API_URL"])
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(allowed_updates=Update.ALL_TYPES)
        print("echo bot ready", flush=True)
        await stop.wait()
        await app.updater.stop()
        await app.stop()


if __name__ == "__main__":
    asyncio.run(main())
