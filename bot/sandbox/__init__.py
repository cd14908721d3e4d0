"""The sandbox: a local server that speaks the Telegram Bot API, with a scripting API and a web chat page.

It never imports the bot: like Telegram itself, it only meets the bot over HTTP.
"""

from bot.sandbox.server import SandboxServer
from bot.sandbox.world import World

__all__ = ["SandboxServer", "World"]
