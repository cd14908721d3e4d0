"""The scripting API under /sandbox/api: act as people, read transcripts, inject faults."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.sandbox import actions, membership
from bot.sandbox.errors import ActionError
from bot.sandbox.faults import Fault
from bot.sandbox.hub import Hub

log = logging.getLogger(__name__)

Route = Callable[[web.Request], Awaitable[Any]]
MAX_WAIT = 60.0


def _reply(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _guarded(route: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Run a route; ActionError → 400 JSON, anything unexpected → 500 JSON, never a traceback."""

    async def handler(request: web.Request) -> web.Response:
        try:
            return _reply(await route(request))
        except ActionError as error:
            return _reply(error.body(), error.status)
        except Exception:
            log.exception("sandbox scripting API failed on %s", request.path)
            return _reply({"ok": False, "error": "internal error", "error_zh": "沙盒内部错误"}, 500)

    return handler


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.text() or "{}")
    except (ValueError, UnicodeDecodeError):
        raise ActionError("malformed JSON", "JSON 格式错误") from None
    if not isinstance(data, dict):
        raise ActionError("the body must be a JSON object", "请求体必须是 JSON 对象")
    return data


def _need(data: dict[str, Any], *names: str) -> None:
    missing = [n for n in names if data.get(n) in (None, "")]
    if missing:
        raise ActionError(f"missing {', '.join(missing)}", f"缺少 {', '.join(missing)}")


def _b64(value: Any, name: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise ActionError(f"{name} must be base64", f"{name} 必须是 base64 编码") from None


def _float(value: Any, name: str) -> float:
    try:
        return min(max(float(value or 0), 0.0), MAX_WAIT)
    except (TypeError, ValueError):
        raise ActionError(f"{name} must be a number", f"{name} 必须是数字") from None


def _integer(value: Any, name: str) -> int:
    if value in (None, ""):
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ActionError(f"{name} must be an integer", f"{name} 必须是整数") from None


class Scripting:
    """Routes of the scripting API, bound to the hub (and to a reset that rebuilds the world)."""

    def __init__(self, hub: Hub, reset: Callable[[], None]) -> None:
        self.hub = hub
        self._reset = reset

    def routes(self) -> list[web.RouteDef]:
        """Every scripting route."""
        table = [
            ("GET", "state", self.state), ("POST", "send", self.send), ("POST", "edit", self.edit),
            ("POST", "press", self.press),
            ("POST", "delete", self.delete), ("GET", "transcript", self.transcript),
            ("GET", "answers", self.answers), ("POST", "users", self.users),
            ("POST", "chats", self.chats), ("POST", "members", self.members),
            ("POST", "migrate", self.migrate), ("POST", "block", self.block),
            ("POST", "reset", self.reset), ("GET", "faults", self.list_faults),
            ("POST", "faults", self.add_fault), ("DELETE", "faults", self.clear_faults),
            ("GET", "config", self.config), ("POST", "config", self.set_config),
            ("POST", "inject", self.inject), ("GET", "calls", self.calls),
        ]  # fmt: skip
        return [web.route(m, f"/sandbox/api/{path}", _guarded(fn)) for m, path, fn in table]

    async def state(self, request: web.Request) -> Any:
        """The bot, users and chats."""
        return self.hub.world.state()

    async def send(self, request: web.Request) -> Any:
        """A person sends a message: JSON (text, base64 photo/document/voice) or multipart."""
        if request.content_type == "multipart/form-data":
            form = await request.post()
            data: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
            upload = form.get("photo")
            if isinstance(upload, web.FileField):
                data["_photo"] = upload.file.read()
            doc = form.get("document")
            if isinstance(doc, web.FileField):
                data["_document"] = (doc.file.read(), doc.filename or "file", doc.content_type)
            voice = form.get("voice")
            if isinstance(voice, web.FileField):
                data["_voice"] = (voice.file.read(), _integer(data.get("duration"), "duration"))
        else:
            data = await _json(request)
            if data.get("photo"):
                data["_photo"] = _b64(data["photo"], "photo")
            if data.get("document"):
                name = str(data.get("file_name") or "file")
                data["_document"] = (
                    _b64(data["document"], "document"),
                    name,
                    data.get("mime_type"),
                )
            if data.get("voice"):
                data["_voice"] = (
                    _b64(data["voice"], "voice"),
                    _integer(data.get("duration"), "duration"),
                )
        _need(data, "chat_id", "user_id")
        before = self.hub.feed.last_queued
        message = actions.send(
            self.hub,
            data["chat_id"],
            data["user_id"],
            data.get("text") or data.get("caption"),
            reply_to=data.get("reply_to_message_id"),
            photo=data.get("_photo"),
            document=data.get("_document"),
            voice=data.get("_voice"),
            sender_chat=data.get("sender_chat") or None,
        )
        queued = self.hub.feed.last_queued
        update_id = queued if queued != before else None  # None: the bot does not see it
        return {
            "ok": True,
            "message_id": message["message_id"],
            "update_id": update_id,
            "message": message,
        }

    async def edit(self, request: web.Request) -> Any:
        """A person edits their message."""
        data = await _json(request)
        _need(data, "chat_id", "user_id", "message_id")
        message = actions.edit(
            self.hub, data["chat_id"], data["user_id"], data["message_id"], data.get("text")
        )
        return {"ok": True, "message_id": message["message_id"], "message": message}

    async def delete(self, request: web.Request) -> Any:
        """A person (the author, or a group admin) deletes a message."""
        data = await _json(request)
        _need(data, "chat_id", "user_id", "message_id")
        actions.delete(self.hub, data["chat_id"], data["user_id"], data["message_id"])
        return {"ok": True}

    async def press(self, request: web.Request) -> Any:
        """A person presses an inline button; with `wait`, the bot's answer is awaited."""
        data = await _json(request)
        _need(data, "chat_id", "user_id", "message_id", "data")
        query_id = actions.press(
            self.hub, data["chat_id"], data["user_id"], data["message_id"], data["data"]
        )

        def answer() -> dict[str, Any] | None:
            return next((a for a in self.hub.answers if a["callback_query_id"] == query_id), None)

        await self.hub.changes.wait_for(
            lambda: answer() is not None, _float(data.get("wait"), "wait")
        )
        return {"ok": True, "callback_query_id": query_id, "answer": answer()}

    async def transcript(self, request: web.Request) -> Any:
        """The chat's messages after `after`; with `wait`, until a new bot message arrives."""
        query = request.query
        _need(dict(query), "chat_id")
        chat = actions.find_chat(self.hub, query["chat_id"])
        after = _integer(query.get("after"), "after")
        bot_id = self.hub.world.bot.id

        def bot_wrote() -> bool:
            return any(m["from"]["id"] == bot_id for mid, m in chat.messages.items() if mid > after)

        await self.hub.changes.wait_for(bot_wrote, _float(query.get("wait"), "wait"))
        messages = self.hub.transcript(chat, after)
        return {"ok": True, "messages": messages, "event_seq": self.hub.event_seq}

    async def answers(self, request: web.Request) -> Any:
        """answerCallbackQuery calls (toasts) after sequence number `after`."""
        after = _integer(request.query.get("after"), "after")
        return {"ok": True, "answers": [a for a in self.hub.answers if a["seq"] > after]}

    async def users(self, request: web.Request) -> Any:
        """Create a user."""
        return {"ok": True, "user": membership.add_user(self.hub, await _json(request)).to_api()}

    async def chats(self, request: web.Request) -> Any:
        """Create a group or supergroup."""
        chat = membership.add_chat(self.hub, await _json(request))
        return {"ok": True, "chat": self.hub.world.chat_api(chat)}

    async def members(self, request: web.Request) -> Any:
        """Add, remove, promote, demote or kick a person or the bot."""
        data = await _json(request)
        _need(data, "chat_id", "user_id", "action")
        status = membership.change_member(
            self.hub, data["chat_id"], data["user_id"], str(data["action"]), data.get("by")
        )
        return {"ok": True, "status": status}

    async def migrate(self, request: web.Request) -> Any:
        """Upgrade a group to a supergroup."""
        data = await _json(request)
        _need(data, "chat_id")
        new = membership.migrate(self.hub, data["chat_id"])
        return {"ok": True, "migrate_to_chat_id": new.id}

    async def block(self, request: web.Request) -> Any:
        """A person blocks or unblocks the bot."""
        data = await _json(request)
        _need(data, "user_id")
        actions.block(self.hub, data["user_id"], bool(data.get("blocked", True)))
        return {"ok": True}

    async def reset(self, request: web.Request) -> Any:
        """Back to the world the server started with."""
        self._reset()
        return {"ok": True}

    async def list_faults(self, request: web.Request) -> Any:
        """Faults still queued."""
        return {"ok": True, "faults": [f.to_dict() for f in self.hub.faults.faults]}

    async def add_fault(self, request: web.Request) -> Any:
        """Queue a fault for the next matching Bot API calls."""
        fault = Fault.from_dict(await _json(request))
        self.hub.faults.add(fault)
        return {"ok": True, "fault": fault.to_dict()}

    async def clear_faults(self, request: web.Request) -> Any:
        """Forget every queued fault."""
        self.hub.faults.clear()
        return {"ok": True}

    async def config(self, request: web.Request) -> Any:
        """Rate limits and privacy mode."""
        return {
            "ok": True,
            "rate_limits": self.hub.limits.enabled,
            "privacy_mode": self.hub.world.privacy_mode,
        }

    async def set_config(self, request: web.Request) -> Any:
        """Turn rate limits or privacy mode on or off."""
        data = await _json(request)
        if "rate_limits" in data:
            self.hub.limits.enabled = bool(data["rate_limits"])
            self.hub.limits.reset()
        if "privacy_mode" in data:
            self.hub.world.privacy_mode = bool(data["privacy_mode"])
        return await self.config(request)

    async def inject(self, request: web.Request) -> Any:
        """Queue a raw update, or deliver an earlier one again."""
        data = await _json(request)
        if "repeat_update_id" in data:
            update = self.hub.feed.repeat(_integer(data["repeat_update_id"], "repeat_update_id"))
            if update is None:
                raise ActionError(
                    "no such update in the recent history", "最近的记录里没有这个更新"
                )
        elif isinstance(data.get("update"), dict):
            update = self.hub.feed.inject(data["update"])
            self._answerable(update.get("callback_query"))
        else:
            raise ActionError(
                "give update or repeat_update_id", "请提供 update 或 repeat_update_id"
            )
        return {"ok": True, "update_id": update["update_id"]}

    def _answerable(self, query: Any) -> None:
        """An injected callback query can be answered, as any query Telegram delivers."""
        if not isinstance(query, dict) or not query.get("id"):
            return
        message = query.get("message") if isinstance(query.get("message"), dict) else {}
        sender = query.get("from") if isinstance(query.get("from"), dict) else {}
        self.hub.queries[str(query["id"])] = {
            "chat_id": (message.get("chat") or {}).get("id"),
            "user_id": sender.get("id"),
            "message_id": message.get("message_id"),
        }

    async def calls(self, request: web.Request) -> Any:
        """Bot API calls so far (filter by method, after a sequence number)."""
        after = _integer(request.query.get("after"), "after")
        return {"ok": True, "calls": self.hub.calls.list(request.query.get("method"), after)}
