"""/tickets export through the sandbox: two files for staff, nothing for residents."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.clock import FakeClock
from bot.demo import RESIDENTS_GROUP, STAFF_GROUP
from bot.settings import Settings
from tests.e2e.harness import Linli, running, text_of
from tests.e2e.test_repair import LI, WANG, ZHANG, press, staff_card, submit


@pytest.fixture
async def linli(make_settings: Callable[..., Settings]) -> AsyncIterator[Linli]:
    async with running(make_settings(), clock=FakeClock(), tick_seconds=None) as linli:
        yield linli


async def export(linli: Linli, chat_id: int, text: str) -> dict[str, bytes]:
    """The documents Linli sends for `text`, by file extension."""
    sent = await linli.sandbox.send(chat_id, ZHANG, text)
    documents = [m for m in await linli.replies(chat_id, sent) if m.get("document")]
    files = {}
    for message in documents:
        document = message["document"]
        assert "报修单：" in message["caption"]
        files[Path(document["file_name"]).suffix] = await linli.sandbox.download(
            document["file_id"]
        )
    return files


async def test_staff_get_a_csv_and_an_xlsx_of_the_tickets(linli: Linli) -> None:
    await submit(linli)
    await press(linli, STAFF_GROUP, ZHANG, await staff_card(linli), "受理")
    files = await export(linli, STAFF_GROUP, "/tickets export")
    assert set(files) == {".csv", ".xlsx"}

    assert files[".csv"].startswith(b"\xef\xbb\xbf")
    header, row = list(csv.reader(io.StringIO(files[".csv"].decode("utf-8-sig"))))
    assert header[:3] == ["编号", "状态", "类别"] and len(header) == 18
    record = dict(zip(header, row, strict=True))
    assert record["编号"] == "BX-2026-0001" and record["状态"] == "已受理"
    assert "电梯" in record["类别"] and record["楼号"] == "3" and record["室"] == "302"
    assert record["电话"] == "13812345678" and record["问题描述"] == "电梯按钮失灵，按了没反应"
    assert record["提交时间"] == "2026-11-30 09:00" and record["受理时间"] == "2026-11-30 09:00"
    assert record["记录条数"] == "2"

    sheet = load_workbook(io.BytesIO(files[".xlsx"])).active
    rows = [[c.value or "" for c in r] for r in sheet.iter_rows()]  # an empty cell is None
    assert rows[0] == header and rows[1] == row

    # filters as /tickets, in Chinese too; the private chat works for staff
    assert set(await export(linli, STAFF_GROUP, "/tickets 导出 open 3 lift")) == {".csv", ".xlsx"}
    [nothing] = await linli.say(STAFF_GROUP, ZHANG, "/tickets export 9")
    assert "没有符合条件" in nothing["text"] and not nothing.get("document")
    assert set(await export(linli, ZHANG, "/tickets export")) == {".csv", ".xlsx"}


async def test_residents_and_the_residents_group_get_no_file(linli: Linli) -> None:
    await submit(linli)
    for chat_id, user in ((WANG, WANG), (RESIDENTS_GROUP, WANG), (LI, LI)):
        replies = await linli.say(chat_id, user, "/tickets export")
        assert not any(m.get("document") for m in replies)
        assert "只有" in text_of(replies) and "13812345678" not in text_of(replies)
    # staff in the residents' group: not there, phones would be shown to everyone
    replies = await linli.say(RESIDENTS_GROUP, ZHANG, "/tickets export")
    assert not any(m.get("document") for m in replies) and "工作群" in text_of(replies)
    # /tickets itself is unchanged for a resident
    assert "BX-2026-0001" in text_of(await linli.say(WANG, WANG, "/tickets"))
