"""Times that committee staff write when scheduling a notice, in Chinese or English.

``parse_when`` turns a whole text into a :class:`When` (a one-off moment, or a
:class:`Recurrence` with its first occurrence); ``split_when`` reads the one-line form
"<time> <notice text>". All results are aware UTC; days and clock times are read in the
community's time zone.

How the text is read
--------------------
1. Normalised: NFKC (full-width ``９：００`` -> ``9:00``), lower case, the few traditional
   characters involved (點 週 號 後 時 個 兩 鐘 禮 這 …) made simplified, at most 200 characters
   (longer -> "unparseable").
2. Cut into tokens by small anchored regexes, one per part: a day (明天, 周五, 下周一, 12月3日,
   2026-12-03, tomorrow, next monday, dec 3), a period (凌晨 早上 上午 中午 下午 傍晚 晚上 夜里,
   morning, evening …), a clock (8点, 八点半, 九点一刻, 9:30, 9am, noon), a recurrence head
   (每天, 工作日, 每周一三五, 每月1日、15日, every monday, weekdays, monthly on the 1st), a
   relative duration (3小时后, in 90 min) or "now" (现在, 马上, right away). Chinese numerals
   (八, 十二, 两, 零五) are read wherever digits may appear. Filler (at, on, the, and, 的, 、, ,)
   is skipped. Anything else -> "unparseable".
3. The tokens must form: ``[recurrence | day] [period] clock`` (or a duration, or "now").

Rules
-----
- ``HH:MM`` is a 24-hour clock (9:00 = 09:00); a period or am/pm adjusts it (下午3:30 =
  15:30, 9:30pm = 21:30) unless it is already 13-23 (下午15:00 = 15:00).
- A bare hour (8点, "tomorrow 9") with no period: 7-11 morning, 12 noon, 0 and 13-23 as is,
  1-6 -> "ambiguous". "tonight 7" / "this evening 8" / 今晚7点 are evening hours.
- 12: 12点, 中午12点, 12pm, noon -> 12:00. 凌晨12点 / 12am / 0点 / 0:00 -> 00:00 at the
  *start* of the named day. 晚上12点 / 今晚12点 / 夜里12点 / midnight -> 00:00 at the *end* of
  the named day (the next calendar day): "今天晚上12点" is tonight's midnight.
- 夜里/半夜/深夜/night with 1-5 means the small hours after that night (明天夜里2点 = 02:00
  the day after tomorrow); 6-11 are evening hours.
- Hours above 23, minutes above 59, 24:00, am/pm on 0 or 13+ -> "unparseable".
- No day: today; a moment not after ``now`` -> "past" (never silently tomorrow).
- 周五 / friday: the next such weekday, today if the time is still ahead. 下周五 / next
  friday: that weekday in the next Monday-to-Sunday week. 这周六 / this saturday: in the
  current week (may be "past").
- A date without a year is this year's, or next year's if the date is already over (today's
  date stays today, so a passed time on today's date is "past"). 2月30日 -> "invalid_date".
- One-offs more than ``max_ahead_days`` ahead -> "too_far" (recurrences are never too far).
- A day, period or recurrence without a clock time (明天, 每周一, next monday) -> "ambiguous"
  (a notice needs a time of day).
- Durations (3小时后, in 2 hours) are truncated to the minute. "Now" gives ``first = now``
  and ``immediate=True``.
- Recurring: ``first`` is the next occurrence strictly after ``now``. 晚上12点 in a recurrence
  is 00:00 of the following day (daily, weekly); for weekdays/monthly it is "ambiguous".
- Local times in a DST gap move forward past it (02:30 -> 03:30); repeated local times take
  the first (fold=0). Occurrences keep their wall-clock time across offset changes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["Recurrence", "When", "WhenError", "format_local", "parse_when", "split_when"]

MAX_TEXT = 200
"""Longer texts are not a time expression."""

SPLIT_SCAN = 64
"""split_when looks for the time expression within this many leading characters."""

REASONS = ("empty", "unparseable", "ambiguous", "past", "too_far", "invalid_date")
KINDS = ("daily", "weekdays", "weekly", "monthly")


class WhenError(ValueError):
    """The text is not a usable time; ``reason`` says why (the UI translates by reason)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _to_utc(day: date, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    """hour:minute local wall-clock time on `day`, as UTC (gap: forward; fold: first)."""
    return datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)


def _check_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")


# ---------------------------------------------------------------------------------------------
# Recurrence, When
# ---------------------------------------------------------------------------------------------

_ZH_WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _is_english(language: str) -> bool:
    return language.lower().startswith("en")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True)
class Recurrence:
    """A repeating wall-clock time: hour:minute local time on matching local dates."""

    kind: str
    days: tuple[int, ...]
    hour: int
    minute: int

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown recurrence kind {self.kind!r}")
        for name in ("hour", "minute"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be an integer")
        if not (0 <= self.hour <= 23 and 0 <= self.minute <= 59):
            raise ValueError("hour must be 0..23 and minute 0..59")
        days = self.days
        if not isinstance(days, tuple | list) or any(
            not isinstance(d, int) or isinstance(d, bool) for d in days
        ):
            raise ValueError("days must be a sequence of integers")
        days = tuple(sorted(set(days)))
        if self.kind in ("daily", "weekdays"):
            if days:
                raise ValueError(f"{self.kind} takes no days")
        elif not days:
            raise ValueError(f"{self.kind} needs at least one day")
        elif self.kind == "weekly" and not all(0 <= d <= 6 for d in days):
            raise ValueError("weekly days are 0 (Monday) .. 6 (Sunday)")
        elif self.kind == "monthly" and not all(1 <= d <= 31 for d in days):
            raise ValueError("monthly days are 1..31")
        object.__setattr__(self, "days", days)

    def _matches(self, day: date) -> bool:
        if self.kind == "daily":
            return True
        if self.kind == "weekdays":
            return day.weekday() < 5
        if self.kind == "weekly":
            return day.weekday() in self.days
        return day.day in self.days

    def next_after(self, after: datetime, zone: ZoneInfo) -> datetime:
        """The first occurrence strictly after `after`, as aware UTC."""
        _check_aware(after, "after")
        start = after.astimezone(zone).date() - timedelta(days=1)
        # Any kind matches within 62 days (a 31st: two 30/31-day steps at most).
        for offset in range(70):
            day = start + timedelta(days=offset)
            if self._matches(day):
                moment = _to_utc(day, self.hour, self.minute, zone)
                if moment > after:
                    return moment
        raise AssertionError("unreachable: every recurrence matches within 62 days")

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "days": list(self.days),
            "hour": self.hour,
            "minute": self.minute,
        }

    @classmethod
    def from_json(cls, data: dict) -> Recurrence:
        """Rebuild from ``to_json`` output; ValueError on anything malformed."""
        if not isinstance(data, dict):
            raise ValueError("recurrence data must be an object")
        try:
            kind, days, hour, minute = data["kind"], data["days"], data["hour"], data["minute"]
        except KeyError as exc:
            raise ValueError(f"recurrence data lacks {exc.args[0]!r}") from None
        if not isinstance(days, list | tuple):
            raise ValueError("days must be a list")
        return cls(kind=kind, days=tuple(days), hour=hour, minute=minute)

    def describe(self, language: str = "zh-CN") -> str:
        clock = f"{self.hour:02d}:{self.minute:02d}"
        if _is_english(language):
            if self.kind == "daily":
                return f"every day {clock}"
            if self.kind == "weekdays":
                return f"weekdays {clock}"
            if self.kind == "weekly":
                return f"every {', '.join(_EN_WEEKDAYS[d] for d in self.days)} {clock}"
            return f"monthly on the {', '.join(_ordinal(d) for d in self.days)} {clock}"
        if self.kind == "daily":
            return f"每天 {clock}"
        if self.kind == "weekdays":
            return f"工作日 {clock}"
        if self.kind == "weekly":
            return f"每{'、'.join(_ZH_WEEKDAYS[d] for d in self.days)} {clock}"
        return f"每月{'、'.join(f'{d}日' for d in self.days)} {clock}"


@dataclass(frozen=True)
class When:
    """A parsed time: a one-off at `first`, or `recurrence` whose first occurrence is `first`."""

    first: datetime
    recurrence: Recurrence | None
    immediate: bool = False


def format_local(moment: datetime, zone: ZoneInfo, language: str) -> str:
    """'2026年12月1日（周二）08:00' or 'Tue 1 Dec 2026, 08:00', in `zone`."""
    _check_aware(moment, "moment")
    local = moment.astimezone(zone)
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if _is_english(language):
        weekday = _EN_WEEKDAYS[local.weekday()][:3]
        return f"{weekday} {local.day} {_EN_MONTHS[local.month - 1]} {local.year}, {clock}"
    weekday = _ZH_WEEKDAYS[local.weekday()]
    return f"{local.year}年{local.month}月{local.day}日（{weekday}）{clock}"


# ---------------------------------------------------------------------------------------------
# Normalising
# ---------------------------------------------------------------------------------------------

_TRADITIONAL = str.maketrans(
    {
        "點": "点",
        "週": "周",
        "號": "号",
        "後": "后",
        "時": "时",
        "個": "个",
        "兩": "两",
        "鐘": "钟",
        "頭": "头",
        "禮": "礼",
        "這": "这",
        "現": "现",
        "馬": "马",
        "間": "间",
        "裡": "里",
        "裏": "里",
        "於": "于",
        "與": "与",
    }
)
_SPACES = re.compile(r"\s+")


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().translate(_TRADITIONAL)
    return _SPACES.sub(" ", text).strip()


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_CN_DIGITS.update({"五": 5, "六": 6, "七": 7, "八": 8, "九": 9})


def _number(text: str) -> int:
    """'12' -> 12; '十二' -> 12; '二十五' -> 25; '零五' -> 5; '二〇二六' -> 2026."""
    if text.isascii():
        return int(text)
    if "十" not in text and "百" not in text:
        return int("".join(str(_CN_DIGITS[ch]) for ch in text))
    total = current = 0
    for ch in text:
        if ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            current = _CN_DIGITS[ch]
    return total + current


# ---------------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clock:
    hour: int
    minute: int
    colon: bool = False  # HH:MM, a 24-hour clock
    ampm: str | None = None
    fixed: bool = False  # noon / midnight: already final (midnight = 24)


@dataclass(frozen=True)
class _Token:
    kind: str
    value: Any = None  # what the rule read: an int, a tuple, a _Clock …


_N = r"([0-9]{1,4}|[零〇一二两三四五六七八九十百]{1,6})"  # a number, digits or Chinese
_E = r"(?![a-z])"  # the end of an English word
_AMPM = r"(a\.?m\.?|p\.?m\.?)"
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_MONTHS = {m.lower(): i for i, m in enumerate(_EN_MONTHS, start=1)}
_EN_DAY = (
    r"(mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?"
    r"|sat(?:urday)?|sun(?:day)?)s?"
)
_EN_DAYS = {d[:3].lower(): i for i, d in enumerate(_EN_WEEKDAYS)}
_ZH_DAY_CHARS = "一二三四五六七日天"
_ZH_DAY = {ch: min(i, 6) for i, ch in enumerate(_ZH_DAY_CHARS)}

_PERIODS = {
    "凌晨": "early",
    "清晨": "morning",
    "早上": "morning",
    "早晨": "morning",
    "上午": "morning",
    "早": "morning",
    "中午": "noon",
    "下午": "afternoon",
    "午后": "afternoon",
    "傍晚": "evening",
    "晚上": "evening",
    "晚": "evening",
    "夜里": "night",
    "夜间": "night",
    "半夜": "night",
    "深夜": "night",
    "morning": "morning",
    "afternoon": "afternoon",
    "evening": "evening",
    "night": "night",
}
_DAY_PERIODS = {
    "今晚": (0, "evening"),
    "今早": (0, "morning"),
    "明早": (1, "morning"),
    "明晚": (1, "evening"),
    "tonight": (0, "evening"),
    "this morning": (0, "morning"),
    "this afternoon": (0, "afternoon"),
    "this evening": (0, "evening"),
}
_REL_DAYS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "大后天": 3}
_REL_DAYS.update({"today": 0, "tomorrow": 1, "tmr": 1, "the day after tomorrow": 2})


def _duration_zh(m: re.Match[str]) -> float:
    hours = 0.5 if m[1] == "半" else _number(m[1])
    return hours * 60 + (30 if m[2] else 0) + (_number(m[3]) if m[3] else 0)


def _duration_en(m: re.Match[str]) -> float:
    amount = m[1]
    if amount.startswith("half"):
        count = 0.5
    elif amount in ("a", "an", "one"):
        count = 1.0
    else:
        count = float(amount)
    minutes = count * 60 if m[2].startswith("h") else count
    if m[3]:
        minutes += 30 if m[3].endswith("half") else float(m[4])
    return minutes


def _zh_weekdays(m: re.Match[str]) -> tuple[int, ...]:
    if m[1] == "末":
        return (5, 6)
    return tuple(sorted({_ZH_DAY[ch] for ch in m[1]}))


def _date_en(month: str, day: str, year: str | None) -> tuple[int | None, int, int]:
    return (int(year) if year else None, _MONTHS[month[:3]], int(day))


def _ampm(value: str) -> str:
    return "am" if value.startswith("a") else "pm"


def _clock_zh(m: re.Match[str]) -> _Clock:
    if m[2]:
        minute = 30
    elif m[3]:
        minute = _number(m[3]) * 15
    else:
        minute = _number(m[4]) if m[4] else 0
    return _Clock(_number(m[1]), minute)


def _clock_en(m: re.Match[str]) -> _Clock:
    return _Clock(int(m[1]), 0, ampm=_ampm(m[2]))


def _clock_colon(m: re.Match[str]) -> _Clock:
    return _Clock(int(m[1]), int(m[2]), colon=True, ampm=_ampm(m[3]) if m[3] else None)


# After a number these make it a count (3号楼, 30人), not the minutes of a clock time.
_COUNTED = "号日楼栋层单元月个人户名位室间块元"

_Rule = tuple[str, re.Pattern[str], Callable[[re.Match[str]], object]]


def _rule(kind: str, pattern: str, value: Callable[[re.Match[str]], object]) -> _Rule:
    return (kind, re.compile(pattern), value)


def _none(m: re.Match[str]) -> None:
    return None


# Tried in this order at each position; the first that matches wins. The text is normalised,
# so a space is a single " ". No pattern nests repetition: matching is linear.
_RULES: tuple[_Rule, ...] = (
    _rule(
        "immediate",
        r"(?:right now|right away|immediately|now)" + _E + r"|现在|马上|立即|立刻",
        _none,
    ),
    # durations: 3小时后, 一个半小时后, 半小时后, 2小时30分钟后, 30分钟后, in 90 min, in half an hour
    _rule(
        "duration",
        r"([0-9]{1,4}(?:\.[0-9]{1,2})?|[零〇一二两三四五六七八九十百]{1,6}|半) ?个? ?(半)? ?"
        r"(?:小时|钟头)(?: ?" + _N + r" ?分钟?)? ?(?:之后|以后|后)",
        _duration_zh,
    ),
    _rule("duration", _N + r" ?分钟? ?(?:之后|以后|后)", lambda m: float(_number(m[1]))),
    _rule(
        "duration",
        r"in ([0-9]{1,4}(?:\.[0-9]{1,2})?|half an?|an?|one) ?(hours?|hrs?|h|minutes?|mins?|m)"
        + _E
        + r"(?: (and a half|and ([0-9]{1,4}) ?(?:minutes?|mins?|m)"
        + _E
        + r"))?",
        _duration_en,
    ),
    # days, with or without a period
    _rule(
        "dayperiod",
        r"(?:今晚|今早|明早|明晚|tonight|this morning|this afternoon|this evening)" + _E,
        lambda m: _DAY_PERIODS[m[0]],
    ),
    _rule(
        "relday",
        r"(?:大后天|后天|明天|明日|今天|今日|(?:the )?day after tomorrow|tomorrow|tmr|today)" + _E,
        lambda m: 2 if "after" in m[0] else _REL_DAYS[m[0]],
    ),
    _rule(
        "period",
        r"(?:凌晨|清晨|早上|早晨|上午|中午|下午|午后|傍晚|晚上|夜里|夜间|半夜|深夜|早|晚)"
        r"|(?:in the )?(morning|afternoon|evening|night)" + _E,
        lambda m: _PERIODS[m[1] or m[0]],
    ),
    # recurrence heads
    _rule("weekdays", r"(?:每 ?个?)?工作日(?: ?每天)?|(?:(?:every|on) )?weekdays?" + _E, _none),
    _rule("daily", r"每天|每日|天天|每一天|(?:daily|every ?day|each day)" + _E, _none),
    _rule("monthly", r"每 ?个?月|(?:monthly|every month|each month)" + _E, _none),
    _rule(
        "weekday",
        r"(?:周|星期|礼拜)(末|[一二三四五六七日天](?:[一二三四五六七日天](?![点时半刻十百零〇两分:]))*)",
        _zh_weekdays,
    ),
    _rule("weekday", _EN_DAY + _E, lambda m: (_EN_DAYS[m[1][:3]],)),
    _rule("weekday", r"weekends?" + _E, lambda m: (5, 6)),
    _rule("next", r"下 ?个?(?=周|星期|礼拜)|next" + _E, _none),
    _rule("this", r"(?:这 ?个?|本)(?=周|星期|礼拜)|this" + _E, _none),
    _rule("every", r"每 ?个?|(?:every|each)" + _E, _none),
    # dates
    _rule(
        "date",
        r"([0-9]{4}) ?[-/.] ?([0-9]{1,2}) ?[-/.] ?([0-9]{1,2})(?![0-9])",
        lambda m: (int(m[1]), int(m[2]), int(m[3])),
    ),
    _rule(
        "date",
        _N + r" ?年 ?" + _N + r" ?月 ?" + _N + r" ?[日号]",
        lambda m: (_number(m[1]), _number(m[2]), _number(m[3])),
    ),
    _rule(
        "date", _N + r" ?月 ?" + _N + r" ?[日号]", lambda m: (None, _number(m[1]), _number(m[2]))
    ),
    _rule(
        "date",
        r"([0-9]{1,2})[-/]([0-9]{1,2})(?![0-9:])",
        lambda m: (None, int(m[1]), int(m[2])),
    ),
    _rule(
        "date",
        _MONTH + r"\.? ?([0-9]{1,2})(?:st|nd|rd|th)?(?:,? ([0-9]{4}))?(?![0-9a-z])",
        lambda m: _date_en(m[1], m[2], m[3]),
    ),
    _rule(
        "date",
        r"([0-9]{1,2})(?:st|nd|rd|th)? ?(?:of )?" + _MONTH + r"\.?(?:,? ([0-9]{4}))?(?![0-9a-z])",
        lambda m: _date_en(m[2], m[1], m[3]),
    ),
    # clock times
    _rule("clock", r"([0-9]{1,2}):([0-9]{2})(?![0-9])(?: ?" + _AMPM + r")?" + _E, _clock_colon),
    _rule("clock", r"([0-9]{1,2}) ?" + _AMPM + _E, _clock_en),
    _rule(
        "clock",
        # 8点, 八点半, 九点一刻, 十点零五, 3点15分; '8点3号楼' is 8点 then 3号楼
        _N
        + r" ?(?:点钟|点|时)(?:(半)|"
        + _N
        + r"刻|"
        + _N
        + r"(?:分钟?|(?![0-9"
        + _COUNTED
        + r"])))?",
        _clock_zh,
    ),
    _rule("clock", r"([0-9]{1,2}) ?o'?clock" + _E, lambda m: _Clock(int(m[1]), 0)),
    _rule("clock", r"(?:noon|midday)" + _E, lambda m: _Clock(12, 0, fixed=True)),
    _rule("clock", r"midnight" + _E, lambda m: _Clock(24, 0, fixed=True)),
    # days of the month: 1号, 15日, 1st
    _rule("daynum", _N + r" ?[日号]", lambda m: _number(m[1])),
    _rule("daynum", r"([0-9]{1,2})(?:st|nd|rd|th)" + _E, lambda m: int(m[1])),
    _rule("month_of", r"of (?:the |each |every )?month" + _E, _none),
    # a bare hour: 'tomorrow 9', 'tonight 7'
    _rule("clock", r"([0-9]{1,2})(?![0-9:a-z])", lambda m: _Clock(int(m[1]), 0)),
)

# Filler between parts.
_SKIP = re.compile(r"(?:[ ,，、;；.。&+]|(?:at|on|the|and)(?![a-z])|[的在于和及与])+")


def _tokenize(text: str) -> tuple[list[_Token], bool]:
    """The tokens, and whether the text ends in filler."""
    tokens: list[_Token] = []
    position = 0
    trailing_filler = False
    while position < len(text):
        for kind, pattern, value in _RULES:
            match = pattern.match(text, position)
            if match and match.end() > position:
                tokens.append(_Token(kind, value(match)))
                position = match.end()
                trailing_filler = False
                break
        else:
            skip = _SKIP.match(text, position)
            if not skip:
                raise WhenError("unparseable", f"cannot read {text[position : position + 12]!r}")
            position = skip.end()
            trailing_filler = True
    return tokens, trailing_filler


# ---------------------------------------------------------------------------------------------
# Interpreting tokens
# ---------------------------------------------------------------------------------------------


def _unparseable(message: str) -> WhenError:
    return WhenError("unparseable", message)


class _Cursor:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self) -> str | None:
        return self.tokens[self.index].kind if self.index < len(self.tokens) else None

    def take(self, kind: str) -> _Token | None:
        if self.peek() != kind:
            return None
        self.index += 1
        return self.tokens[self.index - 1]

    @property
    def done(self) -> bool:
        return self.index >= len(self.tokens)


def _take_weekdays(cur: _Cursor) -> set[int]:
    days: set[int] = set()
    while token := cur.take("weekday"):
        days.update(token.value)
    return days


def _single_weekday(cur: _Cursor) -> int:
    days = _take_weekdays(cur)
    if len(days) != 1:
        raise _unparseable("a one-off needs exactly one weekday")
    return days.pop()


def _take_month_days(cur: _Cursor) -> list[int]:
    days: list[int] = []
    while token := cur.take("daynum"):
        day = token.value
        if not 1 <= day <= 31:
            raise WhenError("invalid_date", f"there is no day {day} in a month")
        days.append(day)
    return days


_Head = tuple[str, set[int] | list[int] | tuple[int, ...], str | None]


def _recurrence_head(cur: _Cursor) -> _Head | None:
    """(kind, days, period) for 每天 / 工作日 / 每周一 / 每月1号 / every …; None if not recurring."""
    if cur.take("daily"):
        return ("daily", (), None)
    if cur.take("weekdays"):
        cur.take("daily")
        return ("weekdays", (), None)
    if cur.take("monthly"):
        days = _take_month_days(cur)
        if not days:
            raise _unparseable("every month needs a day of the month")
        return ("monthly", days, None)
    if cur.take("every"):
        if cur.peek() == "weekday":
            return ("weekly", _take_weekdays(cur), None)
        if period := cur.take("period"):
            return ("daily", (), period.value)
        days = _take_month_days(cur)
        if days and cur.take("month_of"):
            return ("monthly", days, None)
        raise _unparseable("'every' what?")
    return None


def _day_head(cur: _Cursor) -> tuple[tuple[str, Any] | None, str | None]:
    """((kind, value), period) for 明天 / 今晚 / 下周一 / 周五 / 12月3日 …; (None, None) if none."""
    if token := cur.take("relday"):
        return ("rel", token.value), None
    if token := cur.take("dayperiod"):
        offset, period = token.value
        return ("rel", offset), period
    for kind in ("next", "this"):
        if cur.take(kind):
            return (kind, _single_weekday(cur)), None
    if cur.peek() == "weekday":
        return ("weekday", _single_weekday(cur)), None
    if token := cur.take("date"):
        return ("date", token.value), None
    return None, None


def _apply_period(hour: int, period: str) -> int:
    """The hour (24 or more: the next day) that `hour` means in `period`."""
    if hour >= 13:
        if period in ("early", "morning"):
            raise _unparseable(f"{hour} o'clock is not in the morning")
        return hour
    if period == "early":
        return 0 if hour == 12 else hour
    if period == "morning":
        return hour
    if period == "noon":
        if hour in (11, 12):
            return hour
        if 1 <= hour <= 5:
            return hour + 12
        raise _unparseable(f"{hour} o'clock is not around noon")
    if period == "afternoon":
        if hour == 0:
            raise _unparseable("0 o'clock is not in the afternoon")
        return hour if hour == 12 else hour + 12
    if hour in (0, 12):  # evening, night: midnight at the end of the day
        return 24
    if period == "night" and hour <= 5:
        return hour + 24
    return hour + 12


def _resolve_clock(clock: _Clock, period: str | None) -> tuple[int, int]:
    hour, minute = clock.hour, clock.minute
    if clock.fixed:
        return hour, minute
    if hour > 23 or minute > 59:
        raise _unparseable(f"{hour}:{minute:02d} is not a time of day")
    if clock.ampm:
        if not 1 <= hour <= 12:
            raise _unparseable(f"{hour}{clock.ampm} is not a time of day")
        return hour % 12 + (12 if clock.ampm == "pm" else 0), minute
    if period:
        return _apply_period(hour, period), minute
    if clock.colon or hour == 0 or hour >= 7:
        return hour, minute
    raise WhenError("ambiguous", f"{hour} o'clock: morning or afternoon? (write 15:00 or 下午3点)")


def _resolve_date(year: int | None, month: int, day: int, today: date) -> date:
    if year is not None:
        try:
            return date(year, month, day)
        except ValueError:
            raise WhenError("invalid_date", f"{year}-{month}-{day} is not a date") from None
    if 1 <= month <= 12:
        for candidate_year in range(today.year, today.year + 9):
            try:
                candidate = date(candidate_year, month, day)
            except ValueError:
                continue
            if candidate >= today:
                return candidate
    raise WhenError("invalid_date", f"month {month} has no day {day}")


def _check_window(moment: datetime, now: datetime, max_ahead_days: int) -> None:
    if moment <= now:
        raise WhenError("past", "that time has already passed")
    if moment - now > timedelta(days=max_ahead_days):
        raise WhenError("too_far", f"more than {max_ahead_days} days ahead")


def _one_off(
    day: tuple[str, Any] | None,
    hour: int,
    minute: int,
    now: datetime,
    zone: ZoneInfo,
    max_ahead_days: int,
) -> When:
    today = now.astimezone(zone).date()
    extra_days, hour = divmod(hour, 24)

    def at(on: date) -> datetime:
        return _to_utc(on + timedelta(days=extra_days), hour, minute, zone)

    kind, value = day or ("today", 0)
    monday = today - timedelta(days=today.weekday())
    if kind == "rel":
        on = today + timedelta(days=value)
    elif kind == "weekday":
        on = today + timedelta(days=(value - today.weekday()) % 7)
        if at(on) <= now:
            on += timedelta(days=7)
    elif kind == "next":
        on = monday + timedelta(days=7 + value)
    elif kind == "this":
        on = monday + timedelta(days=value)
    elif kind == "date":
        on = _resolve_date(*value, today)
    else:
        on = today
    moment = at(on)
    _check_window(moment, now, max_ahead_days)
    return When(moment, None)


def _recurring(kind: str, days: Any, hour: int, minute: int, now: datetime, zone: ZoneInfo) -> When:
    day_set = set(days)
    if hour >= 24:  # 晚上12点: 00:00 of the following day
        hour -= 24
        if kind == "weekly":
            day_set = {(d + 1) % 7 for d in day_set}
        elif kind != "daily":
            raise WhenError("ambiguous", "midnight at the end of which day? write 0:00")
    recurrence = Recurrence(kind, tuple(sorted(day_set)), hour, minute)
    return When(recurrence.next_after(now, zone), recurrence)


def _interpret(tokens: list[_Token], now: datetime, zone: ZoneInfo, max_ahead_days: int) -> When:
    kinds = [token.kind for token in tokens]
    if kinds == ["immediate"]:
        return When(now, None, immediate=True)
    if kinds == ["duration"]:
        minutes = float(tokens[0].value)
        moment = (now + timedelta(minutes=minutes)).replace(second=0, microsecond=0)
        _check_window(moment, now, max_ahead_days)
        return When(moment, None)
    cur = _Cursor(tokens)
    head = _recurrence_head(cur)
    day: tuple[str, Any] | None = None
    if head is not None:
        period = head[2]
    else:
        day, period = _day_head(cur)
    if extra := cur.take("period"):
        if period is not None and period != extra.value:
            raise _unparseable("two different times of day")
        period = extra.value
    clock = cur.take("clock")
    if not cur.done:
        raise _unparseable("unexpected words in the time")
    if clock is None:
        if head is not None or day is not None or period is not None:
            raise WhenError("ambiguous", "a time of day is needed, e.g. 8点 / 9:00 / 9am")
        raise _unparseable("no time in the text")
    hour, minute = _resolve_clock(clock.value, period)
    if head is not None:
        return _recurring(head[0], head[1], hour, minute, now, zone)
    return _one_off(day, hour, minute, now, zone, max_ahead_days)


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------


def _parse(
    text: str, now: datetime, zone: ZoneInfo, max_ahead_days: int, *, allow_filler: bool
) -> When:
    _check_aware(now, "now")
    if not isinstance(text, str):
        raise WhenError("unparseable", "the time must be text")
    stripped = text.strip()
    if not stripped:
        raise WhenError("empty", "no time given")
    if len(stripped) > MAX_TEXT:
        raise WhenError("unparseable", f"longer than {MAX_TEXT} characters")
    try:
        tokens, trailing_filler = _tokenize(_normalise(stripped))
        if trailing_filler and not allow_filler:
            raise _unparseable("ends in filler")
        return _interpret(tokens, now.astimezone(UTC), zone, max_ahead_days)
    except WhenError:
        raise
    except (ValueError, ArithmeticError, KeyError, IndexError) as exc:  # a safety net
        raise WhenError("unparseable", f"cannot read the time ({exc})") from exc


def parse_when(text: str, now: datetime, zone: ZoneInfo, *, max_ahead_days: int = 366) -> When:
    """The whole text is a time expression. Raises WhenError."""
    return _parse(text, now, zone, max_ahead_days, allow_filler=True)


_SEPARATORS = " \t\r\n\u3000,，、:：;；.。!！?？-–—|/"


def _wordish(char: str) -> bool:
    char = unicodedata.normalize("NFKC", char)
    return char.isascii() and char.isalnum()


def _is_digit(char: str) -> bool:
    return unicodedata.normalize("NFKC", char).isdigit() or char in _CN_DIGITS or char == "十"


def split_when(
    text: str, now: datetime, zone: ZoneInfo, *, max_ahead_days: int = 366
) -> tuple[When, str]:
    """A time expression at the start of `text`, and the rest of the text.

    The longest prefix (within the first SPLIT_SCAN characters, never cutting an English word
    or number in two) that parses, or that reads as a time but is wrong (past, ambiguous …,
    raised as such), is the time. Separators between it and the rest are dropped.
    """
    _check_aware(now, "now")
    if not isinstance(text, str) or not text.strip():
        raise WhenError("empty", "no text given")
    body = text.strip()
    head = body[:SPLIT_SCAN]
    for end in range(len(head), 0, -1):
        if head[end - 1] in _SEPARATORS or head[end - 1].isspace():
            continue
        if end < len(body) and _wordish(body[end - 1]) and _wordish(body[end]):
            continue  # inside an English word or a number
        if end < len(body) and _is_digit(body[end - 1]) and body[end] in _COUNTED:
            continue  # '明天8点3|号楼' is 8点 then 3号楼
        try:
            when = _parse(body[:end], now, zone, max_ahead_days, allow_filler=False)
        except WhenError as exc:
            if exc.reason in ("unparseable", "empty"):
                continue
            raise
        rest = body[end:].lstrip(_SEPARATORS).strip()
        if not rest:
            raise WhenError("empty", "nothing follows the time")
        return when, rest
    raise WhenError("unparseable", "the text does not start with a time")
