"""Sliding-window rate limits, in process memory and in a real Redis shared by processes."""

from __future__ import annotations

import os
import time
import uuid

import pytest
import redis

from prodops.platform.ratelimit import RateLimiter

REDIS_URL = os.environ.get("PRODOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> RateLimiter:
    if request.param == "memory":
        return RateLimiter(f"test-{uuid.uuid4().hex}", redis_url="")
    redis.Redis.from_url(REDIS_URL).ping()  # a missing Redis fails the test, never skips it
    made = RateLimiter(f"test-{uuid.uuid4().hex}", redis_url=REDIS_URL)
    request.addfinalizer(made.reset)
    return made


def test_allows_the_limit_then_refuses_until_the_window_slides(limiter: RateLimiter) -> None:
    assert [limiter.hit("1.2.3.4", 3, window=1.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.hit("5.6.7.8", 3, window=1.0), "each key has its own allowance"
    assert limiter.retry_after("1.2.3.4", window=1.0) == 1
    time.sleep(1.05)
    assert limiter.hit("1.2.3.4", 3, window=1.0)


def test_refused_attempts_do_not_extend_the_wait(limiter: RateLimiter) -> None:
    assert limiter.hit("k", 1, window=30)
    for _ in range(5):
        assert not limiter.hit("k", 1, window=30)
    assert 29 <= limiter.retry_after("k", window=30) <= 30


def test_redis_counts_are_shared_between_limiters_of_the_same_name() -> None:
    name = f"test-{uuid.uuid4().hex}"
    one, two = RateLimiter(name, redis_url=REDIS_URL), RateLimiter(name, redis_url=REDIS_URL)
    try:
        assert one.hit("ip", 2, window=60) and two.hit("ip", 2, window=60)
        assert not one.hit("ip", 2, window=60), "a second process's hits count too"
        assert RateLimiter("other-" + name, redis_url=REDIS_URL).hit("ip", 2, window=60), "names do not share"
    finally:
        one.reset()
