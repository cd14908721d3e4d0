"""Telegram's limits, kept locally: 30 a second in all, 20 a minute per group, 1 a second per private chat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.ratelimit import RateLimiter, RateLimits, SlidingWindow

GROUP = -1001234567890
OTHER_GROUP = -1009876543210
RESIDENT = 8_123_456_789
START = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def send_while_allowed(limiter: RateLimiter, chat: int, most: int = 1000) -> int:
    sent = 0
    while sent < most and limiter.allows(chat):
        limiter.record(chat)
        sent += 1
    return sent


def test_a_group_gets_20_messages_a_minute_and_the_21st_when_the_first_ages_out(
    clock: Clock,
) -> None:
    limiter = RateLimiter(clock=clock)
    assert send_while_allowed(limiter, GROUP) == 20
    assert limiter.ready_at(GROUP) == START + timedelta(seconds=60)
    clock.advance(59.9)
    assert not limiter.allows(GROUP)
    clock.advance(0.1)
    assert send_while_allowed(limiter, GROUP) == 20


def test_a_private_chat_gets_about_one_message_a_second(clock: Clock) -> None:
    limiter = RateLimiter(clock=clock)
    assert send_while_allowed(limiter, RESIDENT) == 1
    clock.advance(0.5)
    assert not limiter.allows(RESIDENT)
    assert limiter.ready_at(RESIDENT) == START + timedelta(seconds=1)
    clock.advance(0.5)
    assert send_while_allowed(limiter, RESIDENT) == 1


def test_thirty_messages_a_second_in_all_whatever_the_chats(clock: Clock) -> None:
    limiter = RateLimiter(clock=clock)
    sent = sum(send_while_allowed(limiter, user) for user in range(1, 41))
    assert sent == 30
    assert not limiter.allows(41)
    assert limiter.overall_ready_at() == START + timedelta(seconds=1)
    clock.advance(1)
    assert limiter.allows(41)


def test_one_busy_group_does_not_hold_up_another(clock: Clock) -> None:
    limiter = RateLimiter(clock=clock)
    send_while_allowed(limiter, GROUP)
    assert send_while_allowed(limiter, OTHER_GROUP) == 10  # 30 in all this second
    clock.advance(1)
    assert send_while_allowed(limiter, OTHER_GROUP) == 10
    assert not limiter.allows(GROUP)


def test_a_group_never_gets_more_than_20_in_any_minute_even_when_sent_to_steadily(
    clock: Clock,
) -> None:
    limiter = RateLimiter(clock=clock)
    sent_at: list[datetime] = []
    for _ in range(600):  # five minutes, a try every half second
        if limiter.allows(GROUP):
            limiter.record(GROUP)
            sent_at.append(clock.now)
        clock.advance(0.5)
    busiest = max(
        sum(1 for t in sent_at if start <= t < start + timedelta(seconds=60)) for start in sent_at
    )
    assert busiest == 20
    assert len(sent_at) == 100  # and the limit is used in full: 20 a minute for five minutes


def test_a_pause_holds_one_chat_and_a_pause_without_a_chat_holds_everything(
    clock: Clock,
) -> None:
    limiter = RateLimiter(clock=clock)
    limiter.pause(GROUP, 7)
    assert not limiter.allows(GROUP)
    assert limiter.ready_at(GROUP) == START + timedelta(seconds=7)
    assert limiter.allows(RESIDENT)
    limiter.pause(GROUP, 3)  # a shorter pause does not cut the longer one short
    clock.advance(6)
    assert not limiter.allows(GROUP)
    clock.advance(1)
    assert limiter.allows(GROUP)

    limiter.pause(None, 5)
    assert not limiter.allows(RESIDENT)
    assert limiter.ready_at(OTHER_GROUP) == clock.now + timedelta(seconds=5)
    clock.advance(5)
    assert limiter.allows(RESIDENT)


def test_limits_can_be_configured(clock: Clock) -> None:
    limiter = RateLimiter(
        RateLimits(overall_per_second=5, group_per_minute=2, private_per_second=3), clock=clock
    )
    assert send_while_allowed(limiter, GROUP) == 2
    assert send_while_allowed(limiter, RESIDENT) == 3
    assert not limiter.allows(RESIDENT + 1)  # 5 in all


def test_idle_chats_are_forgotten(clock: Clock) -> None:
    limiter = RateLimiter(clock=clock)
    for user in range(1, 11):
        limiter.record(user)
    clock.advance(600)
    limiter.record(RESIDENT)  # a send after a while sweeps the quiet chats away
    assert list(limiter._chats) == [RESIDENT]


def test_a_window_needs_a_positive_limit() -> None:
    with pytest.raises(ValueError):
        SlidingWindow(0, 60)
