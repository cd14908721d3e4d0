"""Ticket export files: CSV with a BOM, XLSX with text cells, Chinese kept, formulas inert."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from bot.ticket_export import COLUMNS, Labels, TicketExport, ticket_rows, to_csv, to_xlsx
from storage.models import Ticket, TicketStatus

HEADER = ["编号", "状态", "描述", "电话"]
ROWS = [
    ["BX-2026-0001", "已完成", '=HYPERLINK("http://evil","点我")', "13812345678"],
    ["BX-2026-0002", "已受理", "+1 楼道灯不亮", "-"],
    ["BX-2026-0003", "已提交", "@SUM(A1)\n第二行", "-5"],
    ["BX-2026-0004", "已提交", "厨房\x07漏水", ""],
]


def ticket(**values: object) -> Ticket:
    base: dict[str, object] = {
        "id": 7,
        "number": "BX-2026-0007",
        "category": "lift",
        "building": "3",
        "unit": "1",
        "room": "302",
        "public_spot": None,
        "description": "电梯按钮失灵",
        "urgent": True,
        "phone": "13812345678",
        "preferred_time": "明天上午",
        "assignee_name": "赵师傅",
        "status": TicketStatus.DONE,
        "created_at": datetime(2026, 11, 30, 1, 0, tzinfo=UTC),
        "accepted_at": datetime(2026, 11, 30, 1, 5, tzinfo=UTC),
        "finished_at": datetime(2026, 11, 30, 16, 30, tzinfo=UTC),
        "rating": 5,
        "rating_comment": "很快",
    }
    base.update(values)
    return Ticket(**base)


def test_the_csv_starts_with_a_bom_and_keeps_chinese() -> None:
    data = to_csv(HEADER, ROWS)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == HEADER
    assert rows[1][0] == "BX-2026-0001" and rows[1][3] == "13812345678"
    assert "楼道灯不亮" in rows[2][2] and rows[3][2].endswith("第二行")


def test_formula_looking_text_stays_text_in_the_csv() -> None:
    rows = list(csv.reader(io.StringIO(to_csv(HEADER, ROWS).decode("utf-8-sig"))))
    assert rows[1][2] == '\'=HYPERLINK("http://evil","点我")'
    assert rows[2][2] == "'+1 楼道灯不亮" and rows[2][3] == "-"  # a lone dash is no formula
    assert rows[3][2].startswith("'@SUM(A1)")
    assert rows[3][3] == "-5"  # a plain number is not a formula


def test_the_xlsx_has_text_cells_only() -> None:
    book = load_workbook(io.BytesIO(to_xlsx(HEADER, ROWS, "报修单")))
    sheet = book["报修单"]
    assert [c.value for c in sheet[1]] == HEADER
    cell = sheet["C2"]
    assert cell.value == '=HYPERLINK("http://evil","点我")' and cell.data_type == "s"
    assert sheet["C3"].value == "+1 楼道灯不亮" and sheet["C3"].data_type == "s"
    assert sheet["D4"].value == "-5" and sheet["D4"].data_type == "s"
    assert sheet["D2"].value == "13812345678" and sheet["D2"].data_type == "s"
    assert sheet["C5"].value == "厨房漏水"  # a control character Excel cannot hold is dropped
    assert all(c.data_type == "s" for row in sheet.iter_rows() for c in row if c.value)


def test_a_ticket_becomes_one_row_in_the_column_order() -> None:
    labels = Labels(
        category=lambda code: {"lift": "电梯"}[code],
        status=lambda status: {TicketStatus.DONE: "已完成"}[status],
        yes="是",
        no="否",
    )
    export = TicketExport([ticket()], {7: 6}, ZoneInfo("Asia/Shanghai"))
    [row] = ticket_rows(export, labels)
    assert len(row) == len(COLUMNS)
    assert dict(zip(COLUMNS, row, strict=True)) == {
        "Ticket number": "BX-2026-0007",
        "Status": "已完成",
        "Category": "电梯",
        "Building": "3",
        "Unit": "1",
        "Room": "302",
        "Public spot": "",
        "Description": "电梯按钮失灵",
        "Urgent": "是",
        "Phone": "13812345678",
        "Preferred time": "明天上午",
        "Assignee": "赵师傅",
        "Submitted at": "2026-11-30 09:00",
        "Accepted at": "2026-11-30 09:05",
        "Finished at": "2026-12-01 00:30",
        "Rating": "5",
        "Rating comment": "很快",
        "History count": "6",
    }
    [empty] = ticket_rows(
        TicketExport(
            [ticket(accepted_at=None, finished_at=None, rating=None, urgent=False, phone=None)],
            {},
            ZoneInfo("Asia/Shanghai"),
        ),
        labels,
    )
    assert empty[8] == "否" and empty[9] == "" and empty[13:16] == ["", "", ""]
    assert empty[17] == "0"
