"""The Bot API endpoint: /bot<token>/<method>, faults and flood limits, and the bot-level methods."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.sandbox import media, members, messaging
from bot.sandbox.errors import ApiError, bad_request
from bot.sandbox.faults import SENDING_METHODS, Fault
from bot.sandbox.hub import Hub
from bot.sandbox.params import Params
from bot.sandbox.updates import Webhook

log = logging.getLogger(__name__)

Handler = Callable[[Hub, Params], Awaitable[Any]]
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def get_me(hub: Hub, params: Params) -> dict[str, Any]:
    """getMe."""
    return {
        **hub.world.bot.to_api(),
        "can_join_groups": True,
        "can_read_all_group_messages": not hub.world.privacy_mode,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


async def get_updates(hub: Hub, params: Params) -> list[dict[str, Any]]:
    """getUpdates with offset, limit, long-poll timeout and allowed_updates."""
    allowed = params.obj("allowed_updates", "allowed updates")
    return await hub.feed.get_updates(
        params.integer("offset"),
        params.integer("limit") or 100,
        min(params.number("timeout") or 0.0, 50.0),
        allowed if isinstance(allowed, list) else None,
    )


async def set_webhook(hub: Hub, params: Params) -> bool:
    """setWebhook (http URLs are allowed: the sandbox is local)."""
    url = params.string("url") or ""
    allowed = params.obj("allowed_updates", "allowed updates")
    drop = params.boolean("drop_pending_updates")
    if not url:
        hub.feed.set_webhook(None, drop)
        return True
    if not url.startswith(("http://", "https://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = params.string("secret_token")
    if secret is not None and not _SECRET.match(secret):
        raise bad_request("secret token contains unallowed characters")
    hook = Webhook(
        url=url,
        secret_token=secret,
        max_connections=params.integer("max_connections") or 40,
        allowed_updates=allowed if isinstance(allowed, list) else None,
    )
    hub.feed.set_webhook(hook, drop)
    return True


async def delete_webhook(hub: Hub, params: Params) -> bool:
    """deleteWebhook."""
    hub.feed.set_webhook(None, params.boolean("drop_pending_updates"))
    return True


async def get_webhook_info(hub: Hub, params: Params) -> dict[str, Any]:
    """getWebhookInfo."""
    return hub.feed.webhook_info()


def _commands_key(params: Params) -> str:
    scope = params.obj("scope", "bot command scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True) + "|" + (params.string("language_code") or "")


async def set_my_commands(hub: Hub, params: Params) -> bool:
    """setMyCommands (stored per scope and language)."""
    commands = params.obj("commands", "bot commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse bot commands JSON object")
    for command in commands:
        if not isinstance(command, dict) or not _COMMAND.match(str(command.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    hub.commands[_commands_key(params)] = commands
    return True


async def get_my_commands(hub: Hub, params: Params) -> list[dict[str, Any]]:
    """getMyCommands."""
    return hub.commands.get(_commands_key(params), [])


async def delete_my_commands(hub: Hub, params: Params) -> bool:
    """deleteMyCommands."""
    hub.commands.pop(_commands_key(params), None)
    return True


def _description(kind: str) -> Handler:
    async def setter(hub: Hub, params: Params) -> bool:
        hub.descriptions[f"{kind}|{params.string('language_code') or ''}"] = (
            params.string(kind) or ""
        )
        return True

    return setter


def _described(kind: str) -> Handler:
    async def getter(hub: Hub, params: Params) -> dict[str, str]:
        return {kind: hub.descriptions.get(f"{kind}|{params.string('language_code') or ''}", "")}

    return getter


async def leave_chat(hub: Hub, params: Params) -> bool:
    """leaveChat: the bot leaves a group (my_chat_member follows)."""
    chat = hub.world.chat(params.chat_id())
    if chat is None:
        raise bad_request("chat not found")
    if not chat.is_group:
        raise bad_request("chat member status can't be changed in private chats")
    bot_id = hub.world.bot.id
    old = chat.status(bot_id)
    if old not in ("member", "administrator"):
        raise bad_request("bot is not a member of the chat" if old != "creator" else "can't leave")
    chat.statuses[bot_id] = "left"
    hub.member_changed(chat, bot_id, old, "left", hub.world.bot.to_api())
    hub.emit({"type": "members", "chat_id": chat.id})
    return True


async def accepted(hub: Hub, params: Params) -> bool:
    """Methods the sandbox accepts and ignores (close, logOut, menu buttons…)."""
    return True


def _with_world(fn: Callable[[Any, Params], Awaitable[Any]]) -> Handler:
    async def call(hub: Hub, params: Params) -> Any:
        return await fn(hub.world, params)

    return call


METHODS: dict[str, Handler] = {
    "getme": get_me,
    "getupdates": get_updates,
    "setwebhook": set_webhook,
    "deletewebhook": delete_webhook,
    "getwebhookinfo": get_webhook_info,
    "setmycommands": set_my_commands,
    "getmycommands": get_my_commands,
    "deletemycommands": delete_my_commands,
    "setmydescription": _description("description"),
    "getmydescription": _described("description"),
    "setmyshortdescription": _description("short_description"),
    "getmyshortdescription": _described("short_description"),
    "setmyname": _description("name"),
    "getmyname": _described("name"),
    "leavechat": leave_chat,
    "close": accepted,
    "logout": accepted,
    "setchatmenubutton": accepted,
    "setmydefaultadministratorrights": accepted,
    **messaging.METHODS,
    **media.METHODS,
    **{name: _with_world(fn) for name, fn in members.METHODS.items()},
}


class BotApi:
    """Answers /bot<token>/<method> like api.telegram.org, with injected faults and limits."""

    def __init__(self, hub: Hub, token: str, latency: float = 0.0) -> None:
        self.hub = hub
        self.token = token
        self.latency = latency  # seconds each answer is held back (the network's round trip)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """One Bot API call."""
        if not hmac.compare_digest(request.match_info["token"].encode(), self.token.encode()):
            return _json({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        method = request.match_info["method"]
        handler = METHODS.get(method.lower())
        if handler is None:
            return _json({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        try:
            params = await Params.from_request(request)
        except ApiError as error:
            return self._answer(method, {}, error)
        fault = self.hub.faults.take(method, params.values.get("chat_id"))
        if fault is not None:
            return await self._faulty(request, method, params, handler, fault)
        answer = await self._run(method, params, handler)
        if self.latency:
            await asyncio.sleep(self.latency)
        return answer

    async def _run(self, method: str, params: Params, handler: Handler) -> web.Response:
        try:
            if method.lower() in SENDING_METHODS:
                chat = self.hub.world.chat(params.chat_id())
                if chat is not None:
                    self.hub.limits.check(method, chat.id, chat.is_group)
            result = await handler(self.hub, params)
        except ApiError as error:
            return self._answer(method, params.summary(), error)
        except Exception:
            log.exception("sandbox failed on %s", method)
            error = ApiError(500, "Internal Server Error")
            return self._answer(method, params.summary(), error)
        self.hub.calls.add(method, params.summary(), "ok", 200)
        return _json({"ok": True, "result": result})

    def _answer(self, method: str, summary: dict[str, Any], error: ApiError) -> web.Response:
        self.hub.calls.add(method, summary, error.description, error.code)
        return _json(error.body(), error.code)

    async def _faulty(
        self, request: web.Request, method: str, params: Params, handler: Handler, fault: Fault
    ) -> web.StreamResponse:
        log.info("injecting %s into %s", fault.error, method)
        if isinstance(fault.error, int):
            return self._answer(method, params.summary(), fault.api_error())
        if fault.error == "timeout_after":
            await self._run(method, params, handler)
        self.hub.calls.add(method, params.summary(), f"fault {fault.error}", 0)
        if fault.error in ("timeout_before", "timeout_after"):
            await self._hold(request, fault.hold)
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError  # nothing is answered: the connection is gone

    async def _hold(self, request: web.Request, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.hub.changes.closed:
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            await asyncio.sleep(0.05)
