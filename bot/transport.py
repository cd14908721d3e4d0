"""The bot's HTTP transport to the Bot API, on aiohttp, and what a failed request means.

python-telegram-bot talks HTTP through httpx by default. Measured against the sandbox, one
Bot API call cost about 1.4 ms of CPU through httpx (request building, httpcore, anyio, h11,
all in Python) and about 0.3 ms through aiohttp (its HTTP parser is compiled), for the same
request and answer. Linli already runs aiohttp for its web server and the sandbox, so the bot's
requests go through it too (`AiohttpRequest`, a PTB `BaseRequest`): the body is what PTB's own
transport sends (urlencoded parameters, or multipart with files), the answer is handed back to
PTB unread, and PTB turns it into objects and errors as before.

A request that fails says whether it may have reached Telegram, which the outbox needs (a
message that may have been delivered is not blindly sent again):

- `NotSent` (a `NetworkError`, or `ConnectTimedOut`, a `TimedOut`): no connection could be
  made or none was free in time; nothing was sent, so it is safe to send again.
- `AnswerLost` (a `NetworkError`): the connection broke while the answer was awaited; the
  request went out in full and its fate is unknown.
- `TimedOut`: no answer in time after the request was sent: unknown as well.
- A plain `NetworkError`: the server closed the connection without answering (a kept-alive
  connection it had already dropped); Telegram did not act on it, so it is sent again.
"""

from __future__ import annotations

import logging
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

log = logging.getLogger(__name__)


class NotSent(NetworkError):
    """The request never left: no connection could be made, or none was free in time."""


class ConnectTimedOut(TimedOut, NotSent):
    """Connecting (or waiting for a free pooled connection) timed out: nothing was sent."""


class AnswerLost(NetworkError):
    """The connection broke after the request was sent: Telegram may have acted on it."""


def may_have_left(exc: NetworkError) -> bool:
    """True when a failed request may have reached Telegram (its outcome is unknown)."""
    if isinstance(exc, NotSent):
        return False
    return isinstance(exc, TimedOut | AnswerLost)


class AiohttpRequest(BaseRequest):
    """python-telegram-bot's HTTP layer on an aiohttp client session.

    Timeouts as PTB's own transport takes them: `connect_timeout` to open a connection,
    `pool_timeout` to wait for a free one (both before anything is sent), `read_timeout` for the
    answer (a long poll passes its own), `write_timeout` for sending the body (uploads get
    `media_write_timeout`).
    """

    __slots__ = (
        "_session",
        "_pool_size",
        "_connect_timeout",
        "_read_timeout",
        "_write_timeout",
        "_pool_timeout",
        "_media_write_timeout",
        "_proxies",
    )

    def __init__(
        self,
        connection_pool_size: int = 1,
        *,
        connect_timeout: float | None = 5.0,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._pool_size = connection_pool_size
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._proxies: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        """The default time to wait for an answer (PTB adds it to a long poll's timeout)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the client session (on the running loop), unless it is open already."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                skip_auto_headers=("User-Agent",),
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one Bot API request; the status and the raw body of the answer."""
        if self._session is None or self._session.closed:
            await self.initialize()
        assert self._session is not None
        files = request_data.multipart_data if request_data else None
        read = self._given(read_timeout, self._read_timeout)
        write = self._given(
            write_timeout, self._media_write_timeout if files else self._write_timeout
        )
        connect = self._given(connect_timeout, self._connect_timeout)
        pool = self._given(pool_timeout, self._pool_timeout)
        body: Any = None
        headers = {"User-Agent": self.USER_AGENT}
        if files:
            form = aiohttp.FormData(quote_fields=False)
            for name, value in (request_data.json_parameters if request_data else {}).items():
                form.add_field(name, value)
            for name, part in files.items():
                filename, content, *rest = part
                form.add_field(
                    name, content, filename=filename, content_type=rest[0] if rest else None
                )
            body = form
        elif request_data is not None and request_data.json_parameters:
            body = request_data.url_encoded_parameters().encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        # Waiting for a connection and opening it happen before anything is sent: `connect`
        # covers both. Sending and reading the answer: `sock_read` (between reads), with a
        # total for the whole request so that a slow upload cannot hang it.
        before = None if connect is None and pool is None else (connect or 0) + (pool or 0)
        after = None if read is None or write is None else read + write
        timeout = aiohttp.ClientTimeout(
            total=None if before is None or after is None else before + after,
            connect=before,
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with self._session.request(
                method, url, data=body, headers=headers, timeout=timeout, proxy=self._proxy(url)
            ) as response:
                return response.status, await response.read()
        except aiohttp.ConnectionTimeoutError as exc:
            raise ConnectTimedOut(f"could not connect in time: {exc}") from exc
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientConnectorError as exc:
            raise NotSent(f"aiohttp.{type(exc).__name__}: {exc}") from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
        except (aiohttp.ClientOSError, aiohttp.ClientPayloadError) as exc:
            raise AnswerLost(f"aiohttp.{type(exc).__name__}: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc

    def _proxy(self, url: str) -> str | None:
        """The proxy for this URL's host from HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as PTB's httpx
        transport honoured them (where Telegram is blocked, a proxy is how it is reached). Read
        once per host: aiohttp's own `trust_env` reads the environment and ~/.netrc on every
        request, which doubled the CPU a request costs."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxies:
            proxy = None
            if not urllib.request.proxy_bypass(key[1]):
                proxy = urllib.request.getproxies().get(key[0])
            self._proxies[key] = proxy
        return self._proxies[key]

    @staticmethod
    def _given(value: Any, default: float | None) -> float | None:
        return default if isinstance(value, DefaultValue) else value
