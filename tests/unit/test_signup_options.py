"""The one-line /signup form: the title and the options written after it."""

from __future__ import annotations

import pytest

from handlers.signup import REPLY_JOIN, parse_options


@pytest.mark.parametrize(
    ("text", "title", "options", "deadline"),
    [
        ("社区义诊 限30人 截止周五18点", "社区义诊", {"capacity": 30}, "周五18点"),
        ("包饺子 30人", "包饺子", {"capacity": 30}, None),
        ("亲子游 每户3人 名额20", "亲子游", {"max_party": 3, "capacity": 20}, None),
        ("插花课 限1人 不候补", "插花课", {"capacity": 1, "waitlist": False}, None),
        (
            "清洁家园 志愿2小时",
            "清洁家园 志愿",
            {"volunteering": True, "volunteer_hours": 2.0},
            None,
        ),
        (
            "上门理发 登记房号 留电话",
            "上门理发",
            {"ask_room": True, "ask_phone": True},
            None,
        ),
        ("Haircuts ask room ask phone", "Haircuts", {"ask_room": True, "ask_phone": True}, None),
        (
            "社区义诊 地点：社区活动室 限30人",
            "社区义诊",
            {"place": "社区活动室", "capacity": 30},
            None,
        ),
        ("Bingo 📍Clubhouse", "Bingo", {"place": "Clubhouse"}, None),
        # A title that merely mentions a phone asks for nothing.
        ("防电话诈骗讲座", "防电话诈骗讲座", {}, None),
        ("下午3点的讲座 3楼会议室", "下午3点的讲座 3楼会议室", {}, None),
    ],
)
def test_the_options_are_read_and_taken_out_of_the_title(
    text: str, title: str, options: dict[str, object], deadline: str | None
) -> None:
    assert parse_options(text) == (title, options, deadline)


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        ("+1", ("1", None, None, None)),
        ("+2", ("2", None, None, None)),
        ("接龙", (None, "接龙", None, None)),
        ("接龙 李奶奶", (None, "接龙", None, "李奶奶")),
        ("取消：王奶奶", (None, None, "取消", "王奶奶")),
    ],
)
def test_replies_to_the_list_are_understood(text: str, groups: tuple[str | None, ...]) -> None:
    found = REPLY_JOIN.match(text)
    assert found is not None and found.groups() == groups


@pytest.mark.parametrize("text", ["好的，收到", "+1 +1 +1 +1 " * 10, "我也想接龙但是没空", ""])
def test_other_replies_are_not_sign_ups(text: str) -> None:
    assert REPLY_JOIN.match(text) is None
