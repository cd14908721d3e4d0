"""Bot API request parameters: read from query, JSON, form or multipart, checked like Telegram."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.sandbox.errors import bad_request

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    """A file sent in a multipart request."""

    data: bytes
    filename: str
    content_type: str


class Params:
    """The parameters of one Bot API call, with Telegram's checks and error messages."""

    def __init__(self, values: dict[str, Any], uploads: dict[str, Upload] | None = None) -> None:
        self.values = values
        self.uploads = uploads or {}

    @classmethod
    async def from_request(cls, request: web.Request) -> Params:
        """Read the query string and a JSON, urlencoded or multipart body."""
        values: dict[str, Any] = dict(request.query)
        uploads: dict[str, Upload] = {}
        ctype = request.content_type
        if request.can_read_body:
            if ctype == "application/json":
                try:
                    body = json.loads(await request.text() or "{}")
                except (ValueError, UnicodeDecodeError) as exc:
                    raise bad_request("can't parse JSON request body") from exc
                if not isinstance(body, dict):
                    raise bad_request("request body must be a JSON object")
                values.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        data = value.file.read()
                        uploads[key] = Upload(data, value.filename or key, value.content_type)
                    else:
                        values[key] = value
        return cls(values, uploads)

    def has(self, name: str) -> bool:
        """True when the parameter is present and not empty."""
        return self.values.get(name) not in (None, "") or name in self.uploads

    def chat_id(self, name: str = "chat_id") -> int | str:
        """A chat id (integer) or @username; missing → "chat_id is empty"."""
        value = self.values.get(name)
        if value is None or value == "":
            raise bad_request(f"{name} is empty")
        if isinstance(value, bool):
            raise bad_request("chat not found")
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if text.startswith("@") and len(text) > 1:
            return text
        try:
            return int(text)
        except ValueError:
            raise bad_request("chat not found") from None

    def integer(self, name: str, *, required: bool = False, empty: str | None = None) -> int | None:
        """An integer parameter; `empty` is the description when a required one is missing."""
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(empty or f"{name} is empty")
            return None
        if isinstance(value, bool):
            raise bad_request(f'field "{name}" must be of type Integer')
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(f'field "{name}" must be of type Integer') from None

    def number(self, name: str) -> float | None:
        """A float parameter (timeouts)."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise bad_request(f'field "{name}" must be of type Number')
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f'field "{name}" must be of type Number') from None

    def string(self, name: str, *, required: bool = False, empty: str | None = None) -> str | None:
        """A string parameter; numbers are accepted and turned into text, as Telegram does."""
        value = self.values.get(name)
        if value is None or (value == "" and not required):
            if required:
                raise bad_request(empty or f"{name} is empty")
            return None
        if isinstance(value, bool) or isinstance(value, dict | list):
            raise bad_request(f'field "{name}" must be of type String')
        return str(value)

    def boolean(self, name: str) -> bool:
        """A boolean parameter; "true"/"1" and JSON true are true."""
        value = self.values.get(name)
        if isinstance(value, bool):
            return value
        if value is None:
            return False
        return str(value).strip().lower() in ("true", "1", "yes")

    def obj(self, name: str, what: str) -> Any:
        """A JSON object or array parameter (sent as a JSON string in forms)."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, dict | list):
            return value
        try:
            return json.loads(str(value))
        except ValueError:
            raise bad_request(f"can't parse {what} JSON object") from None

    def summary(self) -> dict[str, Any]:
        """A short, loggable view of the parameters (long text cut, uploads named)."""
        out: dict[str, Any] = {}
        for key, value in self.values.items():
            if isinstance(value, str) and len(value) > 200:
                value = value[:200] + "…"
            out[key] = value
        for key, upload in self.uploads.items():
            out[key] = f"<upload {upload.filename} {len(upload.data)} bytes>"
        return out
