"""Staff manage the knowledge base with /faq, through the sandbox, as on a phone."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from openpyxl import Workbook

from bot.demo import RESIDENTS_GROUP, STAFF_GROUP, demo_world
from bot.runtime import Runtime
from bot.settings import Settings
from tests.e2e.harness import Linli, SandboxClient, buttons_of, text_of, with_probe
from tests.e2e.test_repair import outbox_idle

WANG, LI, EMMA, ZHANG = 1001, 1002, 1003, 2001
UNCOVERED = "明年世界杯在哪个国家举办"
GYM_ANSWER = "健身房每天早上六点到晚上十点开放，在3号楼地下一层。"
REFUSED = "只有本社区的工作人员才能管理知识库"


async def _export(linli: Linli, chat_id: int = STAFF_GROUP) -> dict[str, bytes]:
    """/faq export: the documents Linli sends, by file extension."""
    replies = await _replies_with_files(linli, chat_id, "/faq export", count=2)
    files = {}
    for message in replies:
        document = message["document"]
        suffix = Path(document["file_name"]).suffix
        files[suffix] = await linli.sandbox.download(document["file_id"])
    assert set(files) == {".yaml", ".xlsx"}
    return files


async def _replies_with_files(
    linli: Linli, chat_id: int, text: str, count: int
) -> list[dict[str, Any]]:
    sent = await linli.sandbox.send(chat_id, ZHANG, text)
    replies = await linli.replies(chat_id, sent)
    documents = [m for m in replies if m.get("document")]
    assert len(documents) == count, text_of(replies)
    return documents


async def _import(
    linli: Linli, data: bytes, name: str, chat_id: int = STAFF_GROUP
) -> list[dict[str, Any]]:
    sent = await linli.sandbox.send_document(chat_id, ZHANG, data, name, caption="/faq import")
    return await linli.replies(chat_id, sent)


def _xlsx(rows: list[list[str]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _entries(yaml_bytes: bytes) -> list[dict[str, Any]]:
    return yaml.safe_load(yaml_bytes.decode("utf-8"))  # type: ignore[no-any-return]


async def test_a_resident_is_refused_politely_in_the_group_and_in_private(linli: Linli) -> None:
    assert REFUSED in text_of(await linli.say(RESIDENTS_GROUP, WANG, "/faq"))
    assert REFUSED in text_of(
        await linli.say(RESIDENTS_GROUP, LI, "/faq delete property-fee-payment")
    )
    assert "只有社区工作人员才能管理知识库" in text_of(await linli.say(WANG, WANG, "/faq list"))
    [english] = await linli.say(EMMA, EMMA, "/faq export")
    assert "Only a community's staff" in english["text"] and not english.get("document")


async def test_the_usage_card_counts_and_search(linli: Linli) -> None:
    card = text_of(await linli.say(STAFF_GROUP, ZHANG, "/faq"))
    assert "知识库：52 条" in card and "/faq add" in card and "/faq import" in card
    [found] = await linli.say(STAFF_GROUP, ZHANG, "/faq 物业费")
    assert "property-fee-payment" in found["text"] and "👍 0 👎 0" in found["text"]
    assert found["text"].count("\n") <= 8  # at most five entries
    [same] = await linli.say(STAFF_GROUP, ZHANG, "/faq search 物业费")
    assert same["text"] == found["text"]
    # in private too: 张主任 is staff of exactly one community
    assert "property-fee-payment" in text_of(await linli.say(ZHANG, ZHANG, "/faq 物业费"))


async def test_staff_add_an_entry_and_a_resident_gets_its_answer_in_the_group(
    linli: Linli,
) -> None:
    example = text_of(await linli.say(STAFF_GROUP, ZHANG, "/faq add 健身房几点开门"))
    assert "/faq add 健身房几点开门 | 健身房开放时间" in example
    [added] = await linli.say(
        STAFF_GROUP,
        ZHANG,
        f"/faq add 健身房几点开门 | 健身房开放时间 | gym opening hours\n{GYM_ANSWER}",
    )
    assert "已添加 c-gym-opening-hours-1" in added["text"]
    [answer] = await linli.say(RESIDENTS_GROUP, WANG, "请问健身房几点开门？")
    assert GYM_ANSWER in answer["text"]
    shown = text_of(await linli.say(STAFF_GROUP, ZHANG, "/faq show c-gym-opening-hours-1"))
    assert "健身房开放时间" in shown and GYM_ANSWER in shown and "👍 0 👎 0" in shown
    duplicate = text_of(await linli.say(STAFF_GROUP, ZHANG, "/faq add 物业费在哪里交？\n别处"))
    assert duplicate.startswith("无法保存")
    assert "duplicates a question of entry property-fee-payment" in duplicate


async def test_edit_add_a_phrasing_and_delete_with_confirmation(linli: Linli) -> None:
    await linli.say(STAFF_GROUP, ZHANG, f"/faq add 健身房几点开门\n{GYM_ANSWER}")
    [edited] = await linli.say(
        STAFF_GROUP, ZHANG, "/faq edit c-entry-1\n健身房暂停开放，装修到下个月。"
    )
    assert "c-entry-1 的答案已更新" in edited["text"]
    [phrasing] = await linli.say(STAFF_GROUP, ZHANG, "/faq addq c-entry-1 健身房开了吗")
    assert "现在共有 2 种问法" in phrasing["text"]
    assert "装修到下个月" in text_of(await linli.say(WANG, WANG, "健身房开了吗"))

    # a default entry edited by staff: the community's own version answers from then on
    await linli.say(STAFF_GROUP, ZHANG, "/faq edit property-fee-payment\n物业费只能在线上交。")
    await linli.say(STAFF_GROUP, ZHANG, "/faq edit property-fee-payment en\nOnline only.")
    assert "只能在线上交" in text_of(await linli.say(LI, LI, "物业费在哪交"))
    assert "Online only." in text_of(
        await linli.say(EMMA, EMMA, "Where do I pay the property fee?")
    )

    # another staff member cannot confirm someone else's deletion
    await linli.say(RESIDENTS_GROUP, ZHANG, "/staff @li_xiansheng")
    [ask] = await linli.say(RESIDENTS_GROUP, ZHANG, "/faq delete c-entry-1")
    assert "要从本社区知识库删除" in ask["text"]
    buttons = dict(buttons_of(ask))
    wrong = await linli.sandbox.press(RESIDENTS_GROUP, LI, ask["message_id"], buttons["确认删除"])
    assert wrong["answer"]["text"] == "只有发起的人才能确认。"
    resident = await linli.sandbox.press(
        RESIDENTS_GROUP, WANG, ask["message_id"], buttons["确认删除"]
    )
    assert REFUSED in resident["answer"]["text"]
    await linli.sandbox.press(RESIDENTS_GROUP, ZHANG, ask["message_id"], buttons["确认删除"])
    await linli.settle()  # the toast comes first, then the edit
    [done] = [
        m
        for m in await linli.sandbox.transcript(RESIDENTS_GROUP)
        if m["message_id"] == ask["message_id"]
    ]
    assert done["text"] == "已删除 c-entry-1。" and not buttons_of(done)
    assert "没有编号为 c-entry-1 的条目" in text_of(
        await linli.say(STAFF_GROUP, ZHANG, "/faq show c-entry-1")
    )

    [again] = await linli.say(STAFF_GROUP, ZHANG, "/faq delete property-fee-payment")
    cancel = dict(buttons_of(again))["取消"]
    await linli.sandbox.press(STAFF_GROUP, ZHANG, again["message_id"], cancel)
    assert "property-fee-payment" in text_of(
        await linli.say(STAFF_GROUP, ZHANG, "/faq show property-fee-payment")
    )


async def test_a_good_csv_and_xlsx_are_imported_and_answer(linli: Linli) -> None:
    csv_text = (
        "id,questions,answer,answer_en,tags,keywords\n"
        'gym-hours,"健身房几点开门|健身房开放时间|When does the gym open?",健身房六点开门。,The gym opens at six.,设施,健身房\n'
        "pool-hours,游泳池几点开放,游泳池夏天开放，九点到晚上九点。,,设施,游泳池\n"
    )
    [report] = await _import(linli, csv_text.encode("gb18030"), "faq.csv")
    assert report["text"] == "已导入 faq.csv：新增 2 条，修改 0 条，未变 0 条。"
    assert "健身房六点开门" in text_of(await linli.say(WANG, WANG, "健身房几点开门"))
    assert "The gym opens at six." in text_of(
        await linli.say(EMMA, EMMA, "When does the gym open?")
    )

    workbook = _xlsx(
        [
            ["id", "questions", "answer"],
            ["library-hours", "图书室几点开门\n图书室开放时间", "图书室每天九点开门。"],
        ]
    )
    sent = await linli.sandbox.send_document(STAFF_GROUP, ZHANG, workbook, "图书室.xlsx")
    assert await linli.silent_after(STAFF_GROUP, sent)  # a file without the caption is left alone
    [report] = await linli.say(STAFF_GROUP, ZHANG, "/faq import", reply_to_message_id=sent)
    assert "新增 1 条" in report["text"]
    [answer] = await linli.say(RESIDENTS_GROUP, LI, "图书室几点开门？")
    assert "九点开门" in answer["text"]


async def test_broken_files_are_refused_with_a_report_and_nothing_changes(linli: Linli) -> None:
    before = await _export(linli)
    broken_yaml = b"- id: x\n  questions: [a\n  answer: b\n"
    [report] = await _import(linli, broken_yaml, "faq.yaml")
    assert "没有导入任何内容" in report["text"] and "不是有效的 YAML（第" in report["text"]

    [report] = await _import(linli, b"this is not a spreadsheet", "faq.xlsx")
    assert "不是 Excel .xlsx 文件" in report["text"]

    bad_rows = ("id,questions,answer,notes\nok-1,新问题一,答案一,x\n").encode()
    [report] = await _import(linli, bad_rows, "bad.csv")
    assert "unknown column 'notes'" in report["text"]

    many = "id,questions,answer\n" + "".join(f"bad id {n},问题{n},\n" for n in range(30))
    [report] = await _import(linli, many.encode(), "many.csv")
    assert "请改正以下问题" in report["text"] and "bad.csv" not in report["text"]
    assert "many.csv: row 2:" in report["text"] and "另有" in report["text"]

    duplicate = "id,questions,answer\nnew-fee,物业费在哪里交？,别处交\n"
    [report] = await _import(linli, duplicate.encode(), "dup.csv")
    assert "property-fee-payment" in report["text"]

    other = await linli.sandbox.send_document(
        STAFF_GROUP, ZHANG, b"id,questions,answer\n", "x.csv", caption="/faq@other_bot import"
    )
    assert await linli.silent_after(STAFF_GROUP, other)

    [report] = await _import(linli, b" \r\n\n", "empty.csv")
    assert report["text"] == "没有导入任何内容。\n文件 empty.csv 是空的。"

    big = b"id,questions,answer\n" + b"x" * (2 * 1024 * 1024)
    [report] = await _import(linli, big, "big.csv")
    assert report["text"] == "文件太大（2048 KB），上限是 2048 KB。"

    after = await _export(linli)
    assert _entries(after[".yaml"]) == _entries(before[".yaml"])


async def test_an_export_imports_back_unchanged(linli: Linli) -> None:
    await linli.say(STAFF_GROUP, ZHANG, f"/faq add 健身房几点开门\n{GYM_ANSWER}")
    exported = await _export(linli)
    entries = _entries(exported[".yaml"])
    assert len(entries) == 53 and entries[-1]["answer"] == GYM_ANSWER
    [report] = await _import(linli, exported[".yaml"], "back.yaml")
    assert report["text"] == "已导入 back.yaml：新增 0 条，修改 0 条，未变 53 条。"
    [report] = await _import(linli, exported[".xlsx"], "back.xlsx")
    assert report["text"] == "已导入 back.xlsx：新增 0 条，修改 0 条，未变 53 条。"
    again = await _export(linli)
    assert _entries(again[".yaml"]) == entries


async def test_gaps_list_unanswered_questions_with_the_add_as_faq_flow(linli: Linli) -> None:
    assert "没有未回答的问题" in text_of(await linli.say(STAFF_GROUP, ZHANG, "/faq gaps"))
    hidden = text_of(await linli.say(RESIDENTS_GROUP, ZHANG, "/faq gaps"))
    assert hidden == "未回答的问题只在工作群或私聊中显示。"
    await linli.say(WANG, WANG, UNCOVERED)
    await linli.say(LI, LI, UNCOVERED)
    await outbox_idle(linli)  # the staff group's cards for both questions are out, not in the way
    [gaps] = await linli.say(STAFF_GROUP, ZHANG, "/faq gaps")
    assert UNCOVERED in gaps["text"] and "被问 2 次" in gaps["text"]
    [(label, data)] = buttons_of(gaps)
    assert label == "➕ 1：添加为常见问题" and data.startswith("faq:g:")
    await linli.sandbox.press(STAFF_GROUP, ZHANG, gaps["message_id"], data)
    [prompt] = await linli.replies(STAFF_GROUP, gaps["message_id"])
    assert "请回复这条消息" in prompt["text"] and UNCOVERED in prompt["text"]
    confirm = await linli.say(
        STAFF_GROUP, ZHANG, "在美国、加拿大和墨西哥举办。", reply_to_message_id=prompt["message_id"]
    )
    assert "已加入知识库" in text_of(confirm)
    assert "没有未回答的问题" in text_of(await linli.say(STAFF_GROUP, ZHANG, "/faq gaps"))
    hidden = text_of(await linli.say(RESIDENTS_GROUP, ZHANG, "/faq gaps"))
    assert hidden == "未回答的问题只在工作群或私聊中显示。"


async def test_the_list_pages_with_buttons(linli: Linli) -> None:
    [page] = await linli.say(STAFF_GROUP, ZHANG, "/faq list")
    assert "第 1–30 条，共 52 条（第 1/2 页）" in page["text"]
    [(label, data)] = buttons_of(page)
    assert label == "下一页 ▶"
    await linli.sandbox.press(STAFF_GROUP, ZHANG, page["message_id"], data)
    await linli.settle()
    [edited] = [
        m
        for m in await linli.sandbox.transcript(STAFF_GROUP)
        if m["message_id"] == page["message_id"]
    ]
    assert "第 31–52 条" in edited["text"] and [b for b, _ in buttons_of(edited)] == ["◀ 上一页"]


@pytest.fixture
async def linli_with_files(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> AsyncIterator[tuple[Linli, Path]]:
    """Linli with an extra knowledge-base file that a test can break and reload."""
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        "- id: extra-bbq\n  questions: [小区可以烧烤吗]\n  answer: 小区内禁止烧烤。\n",
        encoding="utf-8",
    )
    runtime = Runtime(
        make_settings(LINLI_KNOWLEDGE_PATHS=str(extra)), world=with_probe(demo_world())
    )
    await runtime.start()
    client = SandboxClient(runtime.sandbox.base_url)
    try:
        yield Linli(runtime, client), extra
    finally:
        await client.close()
        await runtime.stop()


async def test_reload_reads_the_files_again_and_a_broken_file_changes_nothing(
    linli_with_files: tuple[Linli, Path],
) -> None:
    linli, extra = linli_with_files
    assert "禁止烧烤" in text_of(await linli.say(WANG, WANG, "小区可以烧烤吗"))
    extra.write_text(
        "- id: extra-bbq\n  questions: [小区可以烧烤吗]\n  answer: 只能在烧烤区烧烤。\n",
        encoding="utf-8",
    )
    [done] = await linli.say(STAFF_GROUP, ZHANG, "/faq reload")
    assert "已重新读取知识库文件：53 条" in done["text"]
    assert "烧烤区" in text_of(await linli.say(LI, LI, "小区可以烧烤吗"))
    extra.write_text("- id: extra-bbq\n  anwser: typo\n", encoding="utf-8")
    [report] = await linli.say(STAFF_GROUP, ZHANG, "/faq reload")
    assert "正在使用的知识库保持不变" in report["text"] and "anwser" in report["text"]
    assert "烧烤区" in text_of(await linli.say(WANG, WANG, "小区可以烧烤吗"))
