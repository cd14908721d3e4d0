"""The bot's aiohttp transport: what it sends, and what each way of failing tells the outbox."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qs

import pytest
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.transport import AiohttpRequest, AnswerLost, NotSent, may_have_left

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[str, bytes]:
    """The request line and body of one HTTP/1.1 request."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return head.split(b"\r\n", 1)[0].decode(), body


@pytest.fixture
async def server() -> AsyncIterator[Callable[[Serve], Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(serve: Serve) -> str:
        srv = await asyncio.start_server(serve, "127.0.0.1", 0)
        servers.append(srv)
        port = srv.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/botTOKEN/sendMessage"

    yield start
    for srv in servers:
        srv.close()


@pytest.fixture
async def request_() -> AsyncIterator[AiohttpRequest]:
    transport = AiohttpRequest(4, connect_timeout=2, read_timeout=0.3, write_timeout=2)
    await transport.initialize()
    yield transport
    await transport.shutdown()


def message(text: str) -> RequestData:
    return RequestData(
        [
            RequestParameter.from_input("chat_id", -100123),
            RequestParameter.from_input("text", text),
            RequestParameter.from_input("reply_markup", {"inline_keyboard": [[{"text": "👍"}]]}),
        ]
    )


async def test_a_request_carries_the_parameters_as_the_bot_api_reads_them(
    server: Callable[[Serve], Awaitable[str]], request_: AiohttpRequest
) -> None:
    seen: list[tuple[str, bytes]] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        body = b'{"ok":true,"result":true}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    url = await server(answer)
    status, body = await request_.do_request(url, "POST", message("物业费 & <b>交</b>"))
    assert (status, body) == (200, b'{"ok":true,"result":true}')
    [(line, sent)] = seen
    assert line == "POST /botTOKEN/sendMessage HTTP/1.1"
    form = {k: v[0] for k, v in parse_qs(sent.decode()).items()}
    assert json.loads(form.pop("reply_markup")) == {"inline_keyboard": [[{"text": "👍"}]]}
    assert form == {"chat_id": "-100123", "text": "物业费 & <b>交</b>"}


async def test_no_connection_means_nothing_was_sent(request_: AiohttpRequest) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(NotSent) as caught:
        await request_.do_request(
            f"http://127.0.0.1:{port}/botTOKEN/sendMessage", "POST", message("x")
        )
    assert not may_have_left(caught.value)


async def test_no_answer_in_time_is_an_unknown_outcome(
    server: Callable[[Serve], Awaitable[str]], request_: AiohttpRequest
) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.Event().wait()  # it holds the request past the bot's 0.3 s

    url = await server(silent)
    with pytest.raises(TimedOut) as caught:
        await request_.do_request(url, "POST", message("x"))
    assert may_have_left(caught.value)


async def test_an_answer_cut_off_is_an_unknown_outcome(
    server: Callable[[Serve], Awaitable[str]], request_: AiohttpRequest
) -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"ok":tr')
        await writer.drain()
        writer.close()

    url = await server(cut)
    with pytest.raises(AnswerLost) as caught:
        await request_.do_request(url, "POST", message("x"))
    assert may_have_left(caught.value)


async def test_a_connection_closed_without_an_answer_is_sent_again(
    server: Callable[[Serve], Awaitable[str]], request_: AiohttpRequest
) -> None:
    # A kept-alive connection the server had dropped: Telegram answered nothing, acted on nothing.
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.close()

    url = await server(hang_up)
    with pytest.raises(NetworkError) as caught:
        await request_.do_request(url, "POST", message("x"))
    assert not isinstance(caught.value, TimedOut | AnswerLost)
    assert not may_have_left(caught.value)


async def test_a_file_goes_as_multipart_with_the_other_parameters(
    server: Callable[[Serve], Awaitable[str]], request_: AiohttpRequest
) -> None:
    from telegram import InputFile

    seen: list[tuple[str, bytes]] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()

    url = await server(answer)
    data = RequestData(
        [
            RequestParameter.from_input("chat_id", 42),
            RequestParameter.from_input("document", InputFile(b"a,b\n1,2\n", filename="名单.csv")),
        ]
    )
    assert (await request_.do_request(url, "POST", data))[0] == 200
    [(_, body)] = seen
    assert b'name="chat_id"\r\n' in body and b"\r\n42\r\n" in body
    assert b"a,b\n1,2\n" in body and "名单.csv".encode() in body


async def test_a_proxy_from_the_environment_is_used(
    server: Callable[[Serve], Awaitable[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where Telegram is blocked, operators set HTTPS_PROXY (or HTTP_PROXY), as for httpx before.
    seen: list[str] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append((await read_request(reader))[0])
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()

    address = (await server(proxy)).split("/botTOKEN")[0]
    monkeypatch.setenv("HTTP_PROXY", address)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    transport = AiohttpRequest(1, read_timeout=2)
    await transport.initialize()
    try:
        url = "http://api.telegram.invalid/botTOKEN/getMe"
        assert await transport.do_request(url, "POST") == (200, b"{}")
    finally:
        await transport.shutdown()
    assert seen == ["POST http://api.telegram.invalid/botTOKEN/getMe HTTP/1.1"]
