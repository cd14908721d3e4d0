"""Errors the sandbox answers with, in the Bot API's and the scripting API's shapes."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Bot API error: `{"ok": false, "error_code", "description", "parameters"}`."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        """The JSON body Telegram would send."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str, parameters: dict[str, Any] | None = None) -> ApiError:
    """A 400 "Bad Request: <detail>"."""
    return ApiError(400, f"Bad Request: {detail}", parameters)


def forbidden(detail: str) -> ApiError:
    """A 403 "Forbidden: <detail>"."""
    return ApiError(403, f"Forbidden: {detail}")


def too_many_requests(retry_after: int) -> ApiError:
    """A 429 with parameters.retry_after."""
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


class ActionError(Exception):
    """A scripting API error, explained in English and Chinese (HTTP 400 unless told)."""

    def __init__(self, message: str, message_zh: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh
        self.status = status

    def body(self) -> dict[str, Any]:
        """The JSON body of the error answer."""
        return {"ok": False, "error": self.message, "error_zh": self.message_zh}
