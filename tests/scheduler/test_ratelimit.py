"""The per-thread and per-app send windows, on a clock the tests move by hand; and the retry backoff."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.delivery import DeliveryPolicy, backoff
from scheduler.ratelimit import APP_LIMITS, THREAD_LIMITS, RateLimiter

THREAD = "conversation:19:oakwood-lodge-case@thread.tacv2"
TOM = "user:t:tom"


class Clock:
    """A monotonic clock that only moves when told to."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


def limiter_at(now: float = 0.0) -> tuple[RateLimiter, Clock]:
    clock = Clock(now)
    return RateLimiter(monotonic=clock), clock


def send(limiter: RateLimiter, lane: str, times: int = 1) -> None:
    for _ in range(times):
        assert limiter.wait(lane) == 0.0
        limiter.record(lane)


def test_the_limits_are_the_ones_teams_documents() -> None:
    assert THREAD_LIMITS == ((7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0))
    assert APP_LIMITS == ((50, 1.0),)


def test_seven_a_second_go_at_once_and_the_eighth_waits_for_the_first_to_leave_the_window() -> None:
    limiter, clock = limiter_at(100.0)
    send(limiter, THREAD, 7)
    assert limiter.wait(THREAD) == 1.0
    clock.advance(0.25)
    assert limiter.wait(THREAD) == 0.75
    clock.advance(0.75)
    assert limiter.wait(THREAD) == 0.0
    assert limiter.wait(TOM) == 0.0  # another conversation has its own windows


def test_the_wait_is_counted_from_the_oldest_send_in_the_window() -> None:
    limiter, clock = limiter_at()
    for _ in range(7):  # 0.0, 0.125, ..., 0.75
        send(limiter, THREAD)
        clock.advance(0.125)
    assert clock.now == 0.875
    assert limiter.wait(THREAD) == 0.125  # the send at 0.0 leaves the 1 s window at 1.0
    clock.advance(0.125)
    send(limiter, THREAD)  # the eighth, at 1.0
    # The 1 s window would free up at 1.125, but the 2 s window now holds eight since 0.0: 2.0.
    assert limiter.wait(THREAD) == 1.0


def test_eight_in_two_seconds() -> None:
    limiter, clock = limiter_at()
    send(limiter, THREAD, 7)
    clock.advance(1.0)
    send(limiter, THREAD)  # the eighth, at 1.0: the 1 s window is empty again
    # The 1 s window holds one send; the 2 s window holds eight, the oldest at 0.0.
    assert limiter.wait(THREAD) == 1.0
    clock.advance(0.5)
    assert limiter.wait(THREAD) == 0.5
    clock.advance(0.5)
    assert limiter.wait(THREAD) == 0.0


def test_sixty_in_thirty_seconds() -> None:
    limiter, clock = limiter_at()
    # Every quarter of a second stays within 7/1 s and 8/2 s: sixty of them take until 14.75 s.
    for index in range(60):
        clock.advance(0.25 if index else 0.0)
        send(limiter, THREAD)
    assert clock.now == 14.75
    # The 2 s window alone would allow one more at 15.0; the 30 s window holds sixty since 0.0, so 30.0.
    assert limiter.wait(THREAD) == 15.25
    clock.advance(15.0)
    assert limiter.wait(THREAD) == 0.25
    clock.advance(0.25)
    send(limiter, THREAD)  # at 30.0
    assert limiter.wait(THREAD) == 0.25  # the send at 0.25 is now the oldest of the sixty


def test_eighteen_hundred_an_hour() -> None:
    limiter, clock = limiter_at()
    # Every half second stays within 60/30 s: 1800 of them take until 899.5 s.
    waits = []
    for index in range(1800):
        clock.advance(0.5 if index else 0.0)
        waits.append(limiter.wait(THREAD))
        limiter.record(THREAD)
    assert set(waits) == {0.0}
    assert clock.now == 899.5
    assert limiter.wait(THREAD) == 3600.0 - 899.5  # the hour holds 1800 sends since 0.0
    clock.now = 3599.75
    assert limiter.wait(THREAD) == 0.25
    clock.now = 3600.0
    assert limiter.wait(THREAD) == 0.0
    limiter.record(THREAD)
    assert limiter.wait(THREAD) == 0.5  # the send at 0.5 is now the oldest of the 1800


def test_fifty_a_second_across_all_conversations() -> None:
    limiter, clock = limiter_at()
    for person in range(50):
        send(limiter, f"user:t:person-{person}")
    # No conversation is near its own limits, but the app has sent fifty this second.
    assert limiter.wait("user:t:person-50") == 1.0
    assert limiter.wait("user:t:person-0") == 1.0
    clock.advance(0.5)
    assert limiter.wait(THREAD) == 0.5
    clock.advance(0.5)
    assert limiter.wait(THREAD) == 0.0


def test_the_wait_is_the_longest_of_the_windows_it_breaks() -> None:
    limiter, clock = limiter_at()
    for person in range(43):
        send(limiter, f"user:t:person-{person}")
    clock.advance(0.25)
    send(limiter, THREAD, 7)  # the app's fiftieth send this second is the thread's seventh
    # The app's window frees up at 1.0, the thread's 1 s window only at 1.25: the thread waits for both.
    assert limiter.wait(THREAD) == 1.0
    assert limiter.wait(TOM) == 0.75


def test_custom_limits_are_used() -> None:
    clock = Clock()
    limiter = RateLimiter(limits=((2, 10.0),), overall=((3, 1.0),), monotonic=clock)
    send(limiter, THREAD, 2)
    assert limiter.wait(THREAD) == 10.0
    send(limiter, TOM)
    assert limiter.wait("user:t:priya") == 1.0


def test_the_wait_is_exact_a_moment_sooner_is_too_soon() -> None:
    limiter, clock = limiter_at(1_000.0)
    send(limiter, THREAD, 7)
    clock.advance(0.3)
    wait = limiter.wait(THREAD)
    assert wait == pytest.approx(0.7)
    clock.advance(wait - 1e-6)
    assert 0 < limiter.wait(THREAD) <= 2e-6
    clock.advance(limiter.wait(THREAD))
    assert limiter.wait(THREAD) == 0.0


def test_when_wait_says_go_the_window_has_room_by_its_own_count() -> None:
    # Seven sends at 1023.024 s; a quarter second later the eighth is told to wait ~0.75 s and does exactly that.
    limiter, clock = limiter_at(1023.024)
    send(limiter, THREAD, 7)
    clock.advance(0.25)
    clock.advance(limiter.wait(THREAD))
    assert clock.now == 1024.024
    # The limiter counts a send as in the window while `t > now - window`; 1024.024 - 1.0 rounds to
    # 1023.0239999999999, so all seven still are. A zero wait now lets an eighth go into that full window.
    assert 1023.024 > clock.now - 1.0
    # `recent[-count] + window - now` rounds to 0.0 here while the window still counts the send: never "go now".
    assert limiter.wait(THREAD) > 0.0


def test_forgetting_idle_conversations_keeps_the_busy_ones_limited() -> None:
    limiter, clock = limiter_at()
    send(limiter, TOM)
    clock.advance(3000.0)
    send(limiter, THREAD, 7)
    clock.advance(0.5)
    assert limiter.wait(THREAD) == 0.5
    clock.advance(600.5)  # Tom's one send has left the longest window; the thread's have not
    limiter.forget_idle()
    assert TOM not in limiter._sent and THREAD in limiter._sent  # what lets a long-running process not grow
    assert limiter.wait(TOM) == 0.0
    send(limiter, THREAD, 7)
    assert limiter.wait(THREAD) == 1.0  # the thread's windows are still kept


# -- property: a sender that always waits as told never breaks a window ----------------------------


# Sends closer than this to a window's edge are taken as on it: float rounding of `t + window - now` is ~1e-13 s
# here (see test_when_wait_says_go_the_window_has_room_by_its_own_count for that edge on its own).
EDGE = 1e-9


def broken_windows(times: list[float], limits: tuple[tuple[int, float], ...]) -> list[tuple[int, float, float]]:
    """Each (count, window, at) where a send at `at` made more than `count` sends in the window ending there."""
    broken = []
    for index, at in enumerate(times):
        for count, window in limits:
            in_window = sum(1 for earlier in times[: index + 1] if earlier > at - window + EDGE)
            if in_window > count:
                broken.append((count, window, at))
    return broken


def would_break(times: list[float], at: float, limits: tuple[tuple[int, float], ...]) -> bool:
    """Whether one more send at `at`, after `times`, would put more than a window's count in it."""
    return any(sum(1 for earlier in times if earlier > at - window) + 1 > count for count, window in limits)


SMALL_THREAD = ((2, 1.0), (3, 2.5), (5, 10.0))
SMALL_APP = ((4, 1.0), (9, 5.0))


@settings(max_examples=200, deadline=None)
@given(
    limits=st.sampled_from([(THREAD_LIMITS, APP_LIMITS), (SMALL_THREAD, SMALL_APP)]),
    sends=st.lists(st.tuples(st.integers(0, 3), st.floats(0.0, 3.0, allow_nan=False, allow_infinity=False)),
                   max_size=250),
    start=st.floats(0.0, 1e6, allow_nan=False, allow_infinity=False),
)
def test_a_sender_that_waits_as_told_never_breaks_a_window(
    limits: tuple[tuple[tuple[int, float], ...], tuple[tuple[int, float], ...]],
    sends: list[tuple[int, float]],
    start: float,
) -> None:
    thread_limits, app_limits = limits
    clock = Clock(start)
    limiter = RateLimiter(limits=thread_limits, overall=app_limits, monotonic=clock)
    sent: dict[str, list[float]] = {}
    everything: list[float] = []
    for lane_number, pause in sends:
        lane = f"conversation:lane-{lane_number}"
        clock.advance(pause)
        for attempt in range(5):
            wait = limiter.wait(lane)
            assert wait >= 0.0
            if wait == 0.0:
                break
            if attempt == 0 and wait > 1e-6:
                # Not a moment longer than needed: halfway through the wait, a send would still break a window.
                halfway = clock.now + wait / 2
                assert (would_break(sent.get(lane, []), halfway, thread_limits)
                        or would_break(everything, halfway, app_limits))
            clock.advance(wait)
        else:
            pytest.fail(f"still told to wait {limiter.wait(lane)} s after waiting as told")
        limiter.record(lane)
        sent.setdefault(lane, []).append(clock.now)
        everything.append(clock.now)
    for lane, times in sent.items():
        assert broken_windows(times, thread_limits) == [], lane
    assert broken_windows(everything, app_limits) == []


# -- the retry backoff -----------------------------------------------------------------------------


class FixedRandom(random.Random):
    """A Random whose random() is always the same value, to see the ends of the jitter."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


def test_backoff_doubles_from_the_first_step_with_jitter_between_half_and_one_and_a_half() -> None:
    policy = DeliveryPolicy()  # first 2 s, longest 1800 s
    steps = {attempt: min(1800.0, 2.0 * 2 ** max(0, attempt - 1)) for attempt in range(0, 16)}
    assert [steps[a] for a in range(1, 12)] == [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1800]
    rng = random.Random(20261123)
    for attempt, step in steps.items():
        delays = [backoff(attempt, policy, rng) for _ in range(300)]
        assert all(0.5 * step <= d <= min(1.5 * step, policy.longest_backoff) for d in delays), attempt
        assert max(delays) <= policy.longest_backoff
        # Full jitter: the draws spread across the band rather than sitting on one value.
        band = min(1.5 * step, policy.longest_backoff) - 0.5 * step
        assert max(delays) - min(delays) > 0.5 * band, attempt


def test_backoff_at_the_ends_of_the_jitter() -> None:
    policy = DeliveryPolicy()
    low, high = FixedRandom(0.0), FixedRandom(0.999999)
    assert [backoff(a, policy, low) for a in (0, 1, 2, 3, 4)] == [1.0, 1.0, 2.0, 4.0, 8.0]
    assert backoff(3, policy, high) == pytest.approx(12.0, abs=1e-4)
    assert backoff(11, policy, low) == 900.0  # the step is capped at 1800, half of it is the least
    assert backoff(11, policy, high) == 1800.0  # and never more than the longest backoff
    assert backoff(40, policy, high) == 1800.0


def test_backoff_grows_exponentially_on_average_until_the_cap() -> None:
    policy = DeliveryPolicy(first_backoff=0.5, longest_backoff=60.0)
    rng = random.Random(7)
    means = [sum(backoff(a, policy, rng) for _ in range(400)) / 400 for a in range(1, 9)]
    for smaller, larger in itertools.pairwise(means[:7]):  # 0.5 s up to 32 s, below the cap
        assert 1.6 < larger / smaller < 2.4  # each step doubles, give or take the jitter
    assert all(backoff(a, policy, rng) <= 60.0 for a in range(1, 30))


def test_backoff_is_reproducible_with_a_seeded_random() -> None:
    policy = DeliveryPolicy()
    first = [backoff(a, policy, random.Random(42)) for a in range(1, 9)]
    second = [backoff(a, policy, random.Random(42)) for a in range(1, 9)]
    assert first == second
