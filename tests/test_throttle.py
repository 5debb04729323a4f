"""Inbound throttling (bot/throttle.py) over a fake clock."""

from __future__ import annotations

from bot.throttle import Rule, Throttle, Verdict


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _throttle(clock: Clock) -> Throttle:
    return Throttle(
        Rule(limit=4, window=10, mute=30), Rule(limit=2, window=20, mute=60), clock=clock
    )


def test_a_member_over_the_limit_is_warned_once_then_ignored_until_the_mute_ends() -> None:
    clock = Clock()
    throttle = _throttle(clock)
    verdicts = []
    for _ in range(10):
        verdict = throttle.check(7)
        if verdict is Verdict.ASK:
            verdict = throttle.check(7, known=True)
        verdicts.append(verdict)
        clock.now += 0.1
    assert verdicts == [Verdict.ALLOW] * 4 + [Verdict.WARN] + [Verdict.DROP] * 5
    assert throttle.muted(7)
    clock.now += 30
    assert not throttle.muted(7)
    assert throttle.check(7, known=True) is Verdict.ALLOW  # a fresh start


def test_strangers_are_throttled_harder_and_longer() -> None:
    clock = Clock()
    throttle = _throttle(clock)
    verdicts = []
    for _ in range(5):
        verdict = throttle.check(9)
        if verdict is Verdict.ASK:
            verdict = throttle.check(9, known=False)
        verdicts.append(verdict)
    assert verdicts == [Verdict.ALLOW] * 2 + [Verdict.WARN] + [Verdict.DROP] * 2
    clock.now += 59
    assert throttle.check(9) is Verdict.DROP
    clock.now += 1
    assert throttle.check(9) is Verdict.ALLOW


def test_the_role_is_asked_only_past_the_stranger_limit_and_asking_counts_nothing() -> None:
    clock = Clock()
    throttle = _throttle(clock)
    assert [throttle.check(1) for _ in range(2)] == [Verdict.ALLOW] * 2
    assert throttle.check(1) is Verdict.ASK
    assert throttle.check(1) is Verdict.ASK
    assert throttle.check(1, known=True) is Verdict.ALLOW  # 3 of 4


def test_a_steady_pace_under_the_limit_is_never_throttled() -> None:
    clock = Clock()
    throttle = _throttle(clock)
    for _ in range(200):
        assert throttle.check(3, known=True) is Verdict.ALLOW
        clock.now += 2.5  # 4 per 10 s exactly
    assert throttle.stats == {"warned": 0, "dropped": 0}


def test_accounts_are_independent_and_idle_ones_are_pruned() -> None:
    clock = Clock()
    throttle = Throttle(Rule(2, 10, 30), Rule(1, 10, 30), clock=clock, keep=3)
    assert throttle.check(1, known=True) is Verdict.ALLOW
    assert throttle.check(1, known=True) is Verdict.ALLOW
    assert throttle.check(1, known=True) is Verdict.WARN
    assert throttle.check(2, known=True) is Verdict.ALLOW
    for account in range(10, 20):
        throttle.check(account, known=True)
        clock.now += 11
    assert len(throttle._accounts) <= 4
