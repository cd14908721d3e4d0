"""The same answer is not repeated in a group within the cooldown."""

from __future__ import annotations

from knowledge import AnswerCooldown


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_is_not_repeated_in_the_same_chat_within_the_cooldown() -> None:
    clock = Clock()
    cooldown = AnswerCooldown(seconds=600, clock=clock)
    assert cooldown.allow(-100, "property-fee-payment")
    clock.now += 599
    assert not cooldown.allow(-100, "property-fee-payment")
    assert cooldown.remaining(-100, "property-fee-payment") == 1
    assert cooldown.allow(-200, "property-fee-payment")  # another group
    assert cooldown.allow(-100, "garbage-times")  # another answer
    clock.now += 1
    assert cooldown.allow(-100, "property-fee-payment")


def test_ready_does_not_record_and_old_keys_are_forgotten() -> None:
    clock = Clock()
    cooldown = AnswerCooldown(seconds=10, clock=clock, max_keys=2)
    assert cooldown.ready(1, "a") and cooldown.ready(1, "a")
    for chat in range(5):
        cooldown.record(chat, "a")
    assert len(cooldown._last) <= 2
    clock.now += 11
    cooldown.record(9, "b")
    assert len(cooldown._last) == 1
