"""bot.when: Chinese and English schedule times, recurrences and wall-clock occurrences."""

from __future__ import annotations

import time as clock
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.when import Recurrence, When, WhenError, format_local, parse_when, split_when

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
# Tuesday 1 December 2026, 10:00 in Shanghai (02:00 UTC).
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def local(text: str, zone: ZoneInfo = SH) -> datetime:
    """'2026-12-02 08:00' as an aware datetime in `zone`."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=zone)


def shown(moment: datetime, zone: ZoneInfo = SH) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def test_now_is_a_tuesday_at_ten_in_shanghai() -> None:
    assert shown(NOW) == "2026-12-01 10:00"
    assert NOW.astimezone(SH).weekday() == 1


ONE_OFF = [
    # Chinese: days and periods
    ("明天8点", "2026-12-02 08:00"),
    ("明早8点", "2026-12-02 08:00"),
    ("明天上午9点", "2026-12-02 09:00"),
    ("明天下午3点", "2026-12-02 15:00"),
    ("今晚7点半", "2026-12-01 19:30"),
    ("今天下午3点15分", "2026-12-01 15:15"),
    ("今天15:30", "2026-12-01 15:30"),
    ("后天9:00", "2026-12-03 09:00"),
    ("大后天10点", "2026-12-04 10:00"),
    ("下周一上午9点", "2026-12-07 09:00"),
    ("下周五14:00", "2026-12-11 14:00"),
    ("下个星期一9点", "2026-12-07 09:00"),
    ("周五下午3点", "2026-12-04 15:00"),
    ("星期五下午3点", "2026-12-04 15:00"),
    ("礼拜五下午3点", "2026-12-04 15:00"),
    ("周二11点", "2026-12-01 11:00"),  # today, still ahead
    ("周二9点", "2026-12-08 09:00"),  # today but passed: next week
    ("星期天10点", "2026-12-06 10:00"),
    ("周日10点", "2026-12-06 10:00"),
    ("这周六10点", "2026-12-05 10:00"),
    ("本周六10点", "2026-12-05 10:00"),
    ("12月3日9点", "2026-12-03 09:00"),
    ("12月3号上午10点", "2026-12-03 10:00"),
    ("十二月三日九点", "2026-12-03 09:00"),
    ("2026年12月3日9点", "2026-12-03 09:00"),
    ("2026-12-03 09:00", "2026-12-03 09:00"),
    ("2026/12/3 9:00", "2026-12-03 09:00"),
    ("12-03 09:00", "2026-12-03 09:00"),
    ("11月3日9点", "2027-11-03 09:00"),  # already over this year: next year
    ("1月5日上午9点", "2027-01-05 09:00"),
    ("12月1日11点", "2026-12-01 11:00"),  # today's date stays today
    # Chinese: durations (now is exactly 10:00)
    ("3小时后", "2026-12-01 13:00"),
    ("半小时后", "2026-12-01 10:30"),
    ("半个小时后", "2026-12-01 10:30"),
    ("30分钟后", "2026-12-01 10:30"),
    ("两小时后", "2026-12-01 12:00"),
    ("一个半小时后", "2026-12-01 11:30"),
    ("2小时30分钟后", "2026-12-01 12:30"),
    # Chinese numerals and clock words
    ("明天八点", "2026-12-02 08:00"),
    ("明天十二点半", "2026-12-02 12:30"),
    ("明天九点一刻", "2026-12-02 09:15"),
    ("明天下午三点三刻", "2026-12-02 15:45"),
    ("明天十点零五", "2026-12-02 10:05"),
    ("明天下午两点", "2026-12-02 14:00"),
    ("明天8点钟", "2026-12-02 08:00"),
    ("明天8时", "2026-12-02 08:00"),
    ("明天8点30分", "2026-12-02 08:30"),
    ("明天8点30", "2026-12-02 08:30"),
    ("明天12点", "2026-12-02 12:00"),
    ("明天中午12点", "2026-12-02 12:00"),
    ("明天中午1点", "2026-12-02 13:00"),
    ("明天凌晨2点", "2026-12-02 02:00"),
    ("明天凌晨12点", "2026-12-02 00:00"),
    ("明天早上7点", "2026-12-02 07:00"),
    ("明天早晨7点", "2026-12-02 07:00"),
    ("明天傍晚6点", "2026-12-02 18:00"),
    ("明天晚上8点", "2026-12-02 20:00"),
    ("明晚8点", "2026-12-02 20:00"),
    ("明天夜里11点", "2026-12-02 23:00"),
    ("明天夜里2点", "2026-12-03 02:00"),  # the small hours after that night
    ("今天晚上12点", "2026-12-02 00:00"),  # midnight at the end of today
    ("今晚12点", "2026-12-02 00:00"),
    ("明天下午15:00", "2026-12-02 15:00"),
    ("明天下午3:30", "2026-12-02 15:30"),
    ("明天21:00", "2026-12-02 21:00"),
    ("明天9:00", "2026-12-02 09:00"),
    ("15:30", "2026-12-01 15:30"),
    ("下午3点", "2026-12-01 15:00"),
    # normalisation: full width, traditional, spaces
    ("明天８點", "2026-12-02 08:00"),
    ("明天９：００", "2026-12-02 09:00"),
    ("下週一上午9點", "2026-12-07 09:00"),
    ("12月3號9點", "2026-12-03 09:00"),
    ("3小時後", "2026-12-01 13:00"),
    ("兩小時後", "2026-12-01 12:00"),
    ("  明天   8点  ", "2026-12-02 08:00"),
    ("明天 下午 3点", "2026-12-02 15:00"),
    # English
    ("tomorrow 9am", "2026-12-02 09:00"),
    ("Tomorrow 9AM", "2026-12-02 09:00"),
    ("tomorrow 9 a.m.", "2026-12-02 09:00"),
    ("tomorrow at 9:30", "2026-12-02 09:30"),
    ("tomorrow 9:30pm", "2026-12-02 21:30"),
    ("tomorrow 9", "2026-12-02 09:00"),
    ("tomorrow 12pm", "2026-12-02 12:00"),
    ("tomorrow 12am", "2026-12-02 00:00"),
    ("tomorrow morning 8", "2026-12-02 08:00"),
    ("tomorrow afternoon 3", "2026-12-02 15:00"),
    ("today 3pm", "2026-12-01 15:00"),
    ("tonight 7:30", "2026-12-01 19:30"),
    ("tonight 7", "2026-12-01 19:00"),
    ("this evening 8", "2026-12-01 20:00"),
    ("next monday 9am", "2026-12-07 09:00"),
    ("next friday 9am", "2026-12-11 09:00"),
    ("monday 9am", "2026-12-07 09:00"),
    ("on monday at 9", "2026-12-07 09:00"),
    ("fri 14:00", "2026-12-04 14:00"),
    ("Friday at 2pm", "2026-12-04 14:00"),
    ("dec 3 9am", "2026-12-03 09:00"),
    ("December 3rd at 9am", "2026-12-03 09:00"),
    ("3 dec 9:00", "2026-12-03 09:00"),
    ("3 december at 10am", "2026-12-03 10:00"),
    ("jan 5 9am", "2027-01-05 09:00"),
    ("2026-12-03 09:00", "2026-12-03 09:00"),
    ("in 2 hours", "2026-12-01 12:00"),
    ("in 30 minutes", "2026-12-01 10:30"),
    ("in 90 min", "2026-12-01 11:30"),
    ("in an hour", "2026-12-01 11:00"),
    ("in half an hour", "2026-12-01 10:30"),
    ("in 1 hour and a half", "2026-12-01 11:30"),
    ("at 18:00", "2026-12-01 18:00"),
    ("at 6pm", "2026-12-01 18:00"),
    ("noon", "2026-12-01 12:00"),
    ("midnight", "2026-12-02 00:00"),
    ("tomorrow noon", "2026-12-02 12:00"),
]


@pytest.mark.parametrize(("text", "expected"), ONE_OFF)
def test_one_off(text: str, expected: str) -> None:
    when = parse_when(text, NOW, SH)
    assert when.recurrence is None
    assert not when.immediate
    assert when.first.tzinfo is UTC
    assert shown(when.first) == expected


@pytest.mark.parametrize(
    "text",
    ["现在", "马上", "立即", "立刻", "now", "right now", "immediately", "right away", " NOW "],
)
def test_immediate(text: str) -> None:
    when = parse_when(text, NOW, SH)
    assert when == When(first=NOW, recurrence=None, immediate=True)


def test_durations_drop_seconds() -> None:
    now = NOW + timedelta(seconds=45, microseconds=12)
    assert shown(parse_when("3小时后", now, SH).first) == "2026-12-01 13:00"
    first = parse_when("in 30 minutes", now, SH).first
    assert (first.second, first.microsecond) == (0, 0)
    assert first > now


RECURRING = [
    # text, kind, days, hour, minute, first (local)
    ("每天8点", "daily", (), 8, 0, "2026-12-02 08:00"),
    ("每天早上8点", "daily", (), 8, 0, "2026-12-02 08:00"),
    ("每天11点", "daily", (), 11, 0, "2026-12-01 11:00"),
    ("每日9:00", "daily", (), 9, 0, "2026-12-02 09:00"),
    ("每天晚上12点", "daily", (), 0, 0, "2026-12-02 00:00"),
    ("工作日每天8:00", "weekdays", (), 8, 0, "2026-12-02 08:00"),
    ("工作日8点", "weekdays", (), 8, 0, "2026-12-02 08:00"),
    ("每个工作日早上8点", "weekdays", (), 8, 0, "2026-12-02 08:00"),
    ("每周一9:00", "weekly", (0,), 9, 0, "2026-12-07 09:00"),
    ("每周一 9:00", "weekly", (0,), 9, 0, "2026-12-07 09:00"),
    ("每星期一9点", "weekly", (0,), 9, 0, "2026-12-07 09:00"),
    ("每礼拜一9点", "weekly", (0,), 9, 0, "2026-12-07 09:00"),
    ("每週一9:00", "weekly", (0,), 9, 0, "2026-12-07 09:00"),
    ("每周一三五 9点", "weekly", (0, 2, 4), 9, 0, "2026-12-02 09:00"),
    ("每周一三五9点", "weekly", (0, 2, 4), 9, 0, "2026-12-02 09:00"),
    ("每周一、周三 9点", "weekly", (0, 2), 9, 0, "2026-12-02 09:00"),
    ("每周末10点", "weekly", (5, 6), 10, 0, "2026-12-05 10:00"),
    ("每周日晚上12点", "weekly", (0,), 0, 0, "2026-12-07 00:00"),
    ("每月1号10点", "monthly", (1,), 10, 0, "2027-01-01 10:00"),  # strictly after now
    ("每月1日、15日 10:00", "monthly", (1, 15), 10, 0, "2026-12-15 10:00"),
    ("每月15号上午9点", "monthly", (15,), 9, 0, "2026-12-15 09:00"),
    ("每月十五号下午三点", "monthly", (15,), 15, 0, "2026-12-15 15:00"),
    ("every monday 9:00", "weekly", (0,), 9, 0, "2026-12-07 09:00"),
    ("every monday at 9am", "weekly", (0,), 9, 0, "2026-12-07 09:00"),
    ("every mon and wed 9am", "weekly", (0, 2), 9, 0, "2026-12-02 09:00"),
    ("every weekday 8:00", "weekdays", (), 8, 0, "2026-12-02 08:00"),
    ("weekdays at 8am", "weekdays", (), 8, 0, "2026-12-02 08:00"),
    ("every day 8am", "daily", (), 8, 0, "2026-12-02 08:00"),
    ("daily 8:00", "daily", (), 8, 0, "2026-12-02 08:00"),
    ("every morning 8", "daily", (), 8, 0, "2026-12-02 08:00"),
    ("every evening 8", "daily", (), 20, 0, "2026-12-01 20:00"),
    ("every month on the 1st at 10am", "monthly", (1,), 10, 0, "2027-01-01 10:00"),
    ("monthly on the 1st 10:00", "monthly", (1,), 10, 0, "2027-01-01 10:00"),
    ("every 1st of the month 10am", "monthly", (1,), 10, 0, "2027-01-01 10:00"),
    ("monthly on the 1st and 15th 10:00", "monthly", (1, 15), 10, 0, "2026-12-15 10:00"),
    ("every weekend 10am", "weekly", (5, 6), 10, 0, "2026-12-05 10:00"),
]


@pytest.mark.parametrize(("text", "kind", "days", "hour", "minute", "first"), RECURRING)
def test_recurring(
    text: str, kind: str, days: tuple[int, ...], hour: int, minute: int, first: str
) -> None:
    when = parse_when(text, NOW, SH)
    assert when.recurrence == Recurrence(kind, days, hour, minute)
    assert not when.immediate
    assert when.first.tzinfo is UTC
    assert shown(when.first) == first
    assert when.first == when.recurrence.next_after(NOW, SH)


ERRORS = [
    ("", "empty"),
    ("   ", "empty"),
    # a day but no time of day
    ("明天", "ambiguous"),
    ("明天上午", "ambiguous"),
    ("今晚", "ambiguous"),
    ("礼拜五", "ambiguous"),
    ("每周一", "ambiguous"),
    ("每天", "ambiguous"),
    ("tomorrow", "ambiguous"),
    ("next monday", "ambiguous"),
    ("every day", "ambiguous"),
    # a bare hour 1-6
    ("明天3点", "ambiguous"),
    ("明天两点", "ambiguous"),
    ("周五三点", "ambiguous"),
    ("每天5点", "ambiguous"),
    ("tomorrow 3", "ambiguous"),
    ("monday at 3", "ambiguous"),
    ("每月1号晚上12点", "ambiguous"),
    # past
    ("8点", "past"),
    ("9:00", "past"),
    ("at 9am", "past"),
    ("今天9点", "past"),
    ("今天上午10点", "past"),  # exactly now is not after now
    ("这周一9点", "past"),
    ("12月1日9点", "past"),
    ("2026-11-30 09:00", "past"),
    ("in 0 minutes", "past"),
    # too far
    ("2028-01-01 9:00", "too_far"),
    ("in 9000 hours", "too_far"),
    ("2月29日9点", "too_far"),  # the next 29 February is in 2028
    # invalid dates
    ("2月30日9点", "invalid_date"),
    ("feb 30 9am", "invalid_date"),
    ("2026-02-30 09:00", "invalid_date"),
    ("4月31日9点", "invalid_date"),
    ("13月1日9点", "invalid_date"),
    ("每月32号10点", "invalid_date"),
    ("0000-01-01 09:00", "invalid_date"),
    # not a time
    ("25点", "unparseable"),
    ("明天25:00", "unparseable"),
    ("24:00", "unparseable"),
    ("明天24点", "unparseable"),
    ("明天9:60", "unparseable"),
    ("15pm", "unparseable"),
    ("0am", "unparseable"),
    ("上午15点", "unparseable"),
    ("hello", "unparseable"),
    ("🙂", "unparseable"),
    ("明天8点🙂", "unparseable"),
    ("\x00明天8点", "unparseable"),
    ("明天\x07 8点", "unparseable"),
    ("明天后天8点", "unparseable"),
    ("明天8点9点", "unparseable"),
    ("每月", "unparseable"),
    ("every", "unparseable"),
    ("每周一三五 周五下午3点 明天", "unparseable"),
    ("周一、周三 9点", "unparseable"),  # a one-off needs one weekday
    ("nowhere", "unparseable"),
    ("明天8点" + " 好" * 150, "unparseable"),  # longer than 200 characters
]


@pytest.mark.parametrize(("text", "reason"), ERRORS)
def test_errors(text: str, reason: str) -> None:
    with pytest.raises(WhenError) as caught:
        parse_when(text, NOW, SH)
    assert caught.value.reason == reason
    assert str(caught.value)  # a short English explanation for logs
    assert isinstance(caught.value, ValueError)


def test_max_ahead_days() -> None:
    assert shown(parse_when("12月8日9点", NOW, SH, max_ahead_days=7).first) == "2026-12-08 09:00"
    with pytest.raises(WhenError) as caught:
        parse_when("12月9日9点", NOW, SH, max_ahead_days=7)
    assert caught.value.reason == "too_far"


def test_huge_input_is_quick() -> None:
    for text in ("明天8点" * 20_000, "a" * 100_000, "1" * 100_000, " " * 99_999 + "x"):
        started = clock.process_time()
        with pytest.raises(WhenError) as caught:
            parse_when(text, NOW, SH)
        assert caught.value.reason == "unparseable"
        try:
            split_when(text, NOW, SH)  # '明天8点明天8点…' does start with a time
        except WhenError:
            pass
        assert clock.process_time() - started < 1.0


def test_split_long_notice_is_quick() -> None:
    started = clock.process_time()
    when, rest = split_when("明天8点 " + "停水" * 50_000, NOW, SH)
    assert shown(when.first) == "2026-12-02 08:00"
    assert len(rest) == 100_000
    assert clock.process_time() - started < 1.0


def test_other_time_zone() -> None:
    now = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # 10:00 in New York
    when = parse_when("tomorrow 9am", now, NY)
    assert shown(when.first, NY) == "2026-12-02 09:00"
    assert when.first == datetime(2026, 12, 2, 14, 0, tzinfo=UTC)


def test_now_in_any_time_zone() -> None:
    now = NOW.astimezone(SH)
    assert parse_when("明天8点", now, SH).first == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_when("明天8点", datetime(2026, 12, 1, 10, 0), SH)


# --- split_when --------------------------------------------------------------------------------

SPLITS = [
    (
        "明天8点 停水通知：3号楼明天9:00-12:00停水",
        "2026-12-02 08:00",
        "停水通知：3号楼明天9:00-12:00停水",
    ),
    ("每周一 9:00 本周垃圾分类宣传…", "2026-12-07 09:00", "本周垃圾分类宣传…"),
    ("tomorrow 9am Water cut in building 3", "2026-12-02 09:00", "Water cut in building 3"),
    ("明天8点：停水", "2026-12-02 08:00", "停水"),
    ("明天8点，停水", "2026-12-02 08:00", "停水"),
    ("明天8点停水", "2026-12-02 08:00", "停水"),
    ("明天8点3号楼停水", "2026-12-02 08:00", "3号楼停水"),
    ("明天上午9点半 开会", "2026-12-02 09:30", "开会"),
    ("明天８：３０ 开会", "2026-12-02 08:30", "开会"),
    ("12月3日9点 电梯检修", "2026-12-03 09:00", "电梯检修"),
    ("3小时后 记得收衣服", "2026-12-01 13:00", "记得收衣服"),
    ("today 3pm: lift repair", "2026-12-01 15:00", "lift repair"),
    ("in 2 hours - water back", "2026-12-01 12:00", "water back"),
    ("at 18:00 the gate closes", "2026-12-01 18:00", "the gate closes"),
    ("monday 9am on the 3rd floor", "2026-12-07 09:00", "on the 3rd floor"),
    ("  明天 8点   物业通知  ", "2026-12-02 08:00", "物业通知"),
]


@pytest.mark.parametrize(("text", "first", "rest"), SPLITS)
def test_split_when(text: str, first: str, rest: str) -> None:
    when, remainder = split_when(text, NOW, SH)
    assert shown(when.first) == first
    assert remainder == rest


def test_split_when_recurring_takes_the_longest_prefix() -> None:
    when, rest = split_when("每周一三五 9点 晨练", NOW, SH)
    assert when.recurrence == Recurrence("weekly", (0, 2, 4), 9, 0)
    assert rest == "晨练"
    when, rest = split_when("every mon and wed 9am Yoga in the garden", NOW, SH)
    assert when.recurrence == Recurrence("weekly", (0, 2), 9, 0)
    assert rest == "Yoga in the garden"


@pytest.mark.parametrize(
    ("text", "rest"),
    [
        ("现在 紧急通知", "紧急通知"),
        ("now: meeting", "meeting"),
        ("Now the lift works", "the lift works"),
    ],
)
def test_split_when_immediate(text: str, rest: str) -> None:
    when, remainder = split_when(text, NOW, SH)
    assert when.immediate
    assert remainder == rest


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("明天8点", "empty"),
        ("明天8点，", "empty"),
        ("tomorrow 9am  ", "empty"),
        ("停水通知 明天8点", "unparseable"),
        ("nowhere to park", "unparseable"),
        ("Water cut tomorrow 9am", "unparseable"),
        ("明天3点 开会", "ambiguous"),
        ("明天 开会", "ambiguous"),
        ("8点 开会", "past"),
        ("2月30日9点 开会", "invalid_date"),
    ],
)
def test_split_when_errors(text: str, reason: str) -> None:
    with pytest.raises(WhenError) as caught:
        split_when(text, NOW, SH)
    assert caught.value.reason == reason


# --- Recurrence --------------------------------------------------------------------------------


def occurrences(recurrence: Recurrence, after: datetime, zone: ZoneInfo, count: int) -> list:
    found = []
    for _ in range(count):
        after = recurrence.next_after(after, zone)
        found.append(after)
    return found


def test_next_after_across_a_month_end() -> None:
    daily = Recurrence("daily", (), 8, 0)
    after = local("2026-12-31 09:00").astimezone(UTC)
    assert shown(daily.next_after(after, SH)) == "2027-01-01 08:00"
    monthly = Recurrence("monthly", (1, 15), 10, 0)
    assert [shown(t) for t in occurrences(monthly, after, SH, 3)] == [
        "2027-01-01 10:00",
        "2027-01-15 10:00",
        "2027-02-01 10:00",
    ]


def test_next_after_skips_a_month_without_the_day() -> None:
    monthly = Recurrence("monthly", (31,), 10, 0)
    after = local("2026-03-31 11:00")
    assert [shown(t) for t in occurrences(monthly, after, SH, 3)] == [
        "2026-05-31 10:00",  # April has no 31st
        "2026-07-31 10:00",
        "2026-08-31 10:00",
    ]
    thirtieth = Recurrence("monthly", (30,), 9, 0)
    assert shown(thirtieth.next_after(local("2027-01-31 00:00"), SH)) == "2027-03-30 09:00"


def test_next_after_weekdays_across_a_weekend() -> None:
    weekdays = Recurrence("weekdays", (), 8, 0)
    friday = local("2026-12-04 09:00")
    assert [shown(t) for t in occurrences(weekdays, friday, SH, 2)] == [
        "2026-12-07 08:00",
        "2026-12-08 08:00",
    ]


def test_next_after_is_strict_and_accepts_any_time_zone() -> None:
    weekly = Recurrence("weekly", (0,), 9, 0)
    monday_nine = local("2026-12-07 09:00")
    assert shown(weekly.next_after(monday_nine, SH)) == "2026-12-14 09:00"
    in_utc = monday_nine.astimezone(UTC) - timedelta(minutes=1)
    result = weekly.next_after(in_utc, SH)
    assert result.tzinfo is UTC
    assert shown(result) == "2026-12-07 09:00"


def test_daily_keeps_wall_clock_across_dst() -> None:
    daily = parse_when("every day 9:00", datetime(2026, 3, 6, 15, 0, tzinfo=UTC), NY).recurrence
    assert daily == Recurrence("daily", (), 9, 0)
    spring = occurrences(daily, local("2026-03-06 10:00", NY), NY, 3)
    assert [shown(t, NY) for t in spring] == [
        "2026-03-07 09:00",
        "2026-03-08 09:00",
        "2026-03-09 09:00",
    ]
    assert [t.hour for t in spring] == [14, 13, 13]  # EST (-5), then EDT (-4)
    autumn = occurrences(daily, local("2026-10-30 10:00", NY), NY, 3)
    assert [shown(t, NY) for t in autumn] == [
        "2026-10-31 09:00",
        "2026-11-01 09:00",
        "2026-11-02 09:00",
    ]
    assert [t.hour for t in autumn] == [13, 14, 14]


def test_spring_forward_gap_moves_forward() -> None:
    daily = Recurrence("daily", (), 2, 30)
    after = local("2026-03-07 12:00", NY)
    gap_day, next_day = occurrences(daily, after, NY, 2)
    assert gap_day == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert shown(gap_day, NY) == "2026-03-08 03:30"  # 02:30 does not exist that night
    assert shown(next_day, NY) == "2026-03-09 02:30"


def test_fall_back_takes_the_first_of_two() -> None:
    daily = Recurrence("daily", (), 1, 30)
    first = daily.next_after(local("2026-10-31 12:00", NY), NY)
    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, not 01:30 EST
    assert daily.next_after(first, NY) == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)


def test_one_off_in_the_spring_forward_gap() -> None:
    now = datetime(2026, 3, 7, 17, 0, tzinfo=UTC)
    when = parse_when("tomorrow 2:30am", now, NY)
    assert shown(when.first, NY) == "2026-03-08 03:30"


@pytest.mark.parametrize(
    "recurrence",
    [
        Recurrence("daily", (), 8, 0),
        Recurrence("weekdays", (), 7, 45),
        Recurrence("weekly", (0, 2, 4), 9, 0),
        Recurrence("monthly", (1, 15, 31), 23, 59),
    ],
)
def test_json_round_trip(recurrence: Recurrence) -> None:
    data = recurrence.to_json()
    assert data == {
        "kind": recurrence.kind,
        "days": list(recurrence.days),
        "hour": recurrence.hour,
        "minute": recurrence.minute,
    }
    assert Recurrence.from_json(data) == recurrence


def test_days_are_sorted_and_unique() -> None:
    assert Recurrence("weekly", (4, 0, 2, 0), 9, 0).days == (0, 2, 4)
    assert Recurrence.from_json(
        {"kind": "monthly", "days": [15, 1], "hour": 1, "minute": 0}
    ).days == (
        1,
        15,
    )


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "daily",
        {},
        {"kind": "daily", "days": [], "hour": 8},
        {"kind": "yearly", "days": [], "hour": 8, "minute": 0},
        {"kind": "daily", "days": [], "hour": 24, "minute": 0},
        {"kind": "daily", "days": [], "hour": 8, "minute": 60},
        {"kind": "daily", "days": [], "hour": -1, "minute": 0},
        {"kind": "daily", "days": [], "hour": "8", "minute": 0},
        {"kind": "daily", "days": [], "hour": True, "minute": 0},
        {"kind": "daily", "days": [], "hour": 8.0, "minute": 0},
        {"kind": "daily", "days": [1], "hour": 8, "minute": 0},
        {"kind": "weekly", "days": [], "hour": 8, "minute": 0},
        {"kind": "weekly", "days": [7], "hour": 8, "minute": 0},
        {"kind": "weekly", "days": ["1"], "hour": 8, "minute": 0},
        {"kind": "weekly", "days": "1", "hour": 8, "minute": 0},
        {"kind": "weekly", "days": None, "hour": 8, "minute": 0},
        {"kind": "monthly", "days": [0], "hour": 8, "minute": 0},
        {"kind": "monthly", "days": [32], "hour": 8, "minute": 0},
        {"kind": ["daily"], "days": [], "hour": 8, "minute": 0},
    ],
)
def test_from_json_rejects_bad_data(data: object) -> None:
    with pytest.raises(ValueError):
        Recurrence.from_json(data)  # type: ignore[arg-type]


DESCRIPTIONS = [
    (Recurrence("daily", (), 8, 0), "每天 08:00", "every day 08:00"),
    (Recurrence("weekdays", (), 8, 0), "工作日 08:00", "weekdays 08:00"),
    (Recurrence("weekly", (0, 2), 9, 0), "每周一、周三 09:00", "every Monday, Wednesday 09:00"),
    (Recurrence("weekly", (6,), 18, 30), "每周日 18:30", "every Sunday 18:30"),
    (
        Recurrence("monthly", (1, 15), 10, 0),
        "每月1日、15日 10:00",
        "monthly on the 1st, 15th 10:00",
    ),
    (
        Recurrence("monthly", (2, 3, 11, 22, 31), 7, 5),
        "每月2日、3日、11日、22日、31日 07:05",
        "monthly on the 2nd, 3rd, 11th, 22nd, 31st 07:05",
    ),
]


@pytest.mark.parametrize(("recurrence", "zh", "en"), DESCRIPTIONS)
def test_describe(recurrence: Recurrence, zh: str, en: str) -> None:
    assert recurrence.describe("zh-CN") == zh
    assert recurrence.describe() == zh
    assert recurrence.describe("en") == en


def test_format_local() -> None:
    moment = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    assert format_local(moment, SH, "zh-CN") == "2026年12月1日（周二）08:00"
    assert format_local(moment, SH, "en") == "Tue 1 Dec 2026, 08:00"
    assert format_local(moment, NY, "en") == "Mon 30 Nov 2026, 19:00"
    sunday = datetime(2026, 12, 6, 12, 5, tzinfo=SH)
    assert format_local(sunday, SH, "zh-CN") == "2026年12月6日（周日）12:05"


# --- properties --------------------------------------------------------------------------------

WORDS = [
    "明天",
    "今晚",
    "下周",
    "周",
    "一",
    "三",
    "五",
    "每",
    "月",
    "号",
    "日",
    "点",
    "半",
    "刻",
    "下午",
    "晚上",
    "凌晨",
    "小时",
    "后",
    "分",
    "工作日",
    "12",
    "3",
    "8",
    "0",
    "25",
    ":",
    "：",
    "00",
    "30",
    "-",
    "/",
    " ",
    "、",
    "am",
    "pm",
    "tomorrow",
    "every",
    "monday",
    "in",
    "hours",
    "next",
    "dec",
    "the",
    "1st",
    "of",
    "month",
    "now",
    "现在",
    "2026",
    "年",
    "十",
    "两",
]


def _valid(text: str) -> None:
    try:
        when = parse_when(text, NOW, SH)
    except WhenError as exc:
        assert exc.reason in {
            "empty",
            "unparseable",
            "ambiguous",
            "past",
            "too_far",
            "invalid_date",
        }
        return
    assert when.first.tzinfo is UTC
    if when.immediate:
        assert when.first == NOW
    else:
        assert when.first > NOW
    if when.recurrence is None:
        assert when.first - NOW <= timedelta(days=366)
    else:
        assert Recurrence.from_json(when.recurrence.to_json()) == when.recurrence


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_raises_when_error(text: str) -> None:
    _valid(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=8).map("".join))
def test_time_like_text_parses_or_raises_when_error(text: str) -> None:
    _valid(text)
    try:
        split_when(text + " 通知", NOW, SH)
    except WhenError:
        pass
