"""The shared rate limit lets requests through when its storage is down, and says so once."""

from __future__ import annotations

import logging
import socket

import pytest

from service.ratelimit import AuthThrottle, StorageRateLimiter


def closed_port() -> int:
    """A local TCP port with nothing listening on it (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_an_unreachable_redis_lets_requests_through_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    uri = f"redis://127.0.0.1:{closed_port()}/0?socket_connect_timeout=1"
    limiter = StorageRateLimiter(1, uri, "test", "key")
    throttle = AuthThrottle(1, uri, "test")
    with caplog.at_level(logging.ERROR, logger="climate_loan.ratelimit"):
        # over the limit of 1, yet allowed: the storage cannot count
        assert [limiter.check("k") for _ in range(3)] == [None, None, None]
        throttle.failed("10.0.0.1")
        throttle.failed("10.0.0.1")
        assert throttle.blocked("10.0.0.1") is None
    messages = [r.getMessage() for r in caplog.records]
    # once a minute per limiter (the request limiter and the throttle's own), naming the error
    assert len(messages) == 2, messages
    assert all("ConnectionError" in m and "not limited" in m for m in messages)


def test_the_memory_storage_limits_as_configured() -> None:
    limiter = StorageRateLimiter(2, "memory://", "test", "key")
    assert limiter.check("k") is None and limiter.check("k") is None
    wait = limiter.check("k")
    assert wait is not None and 1 <= wait <= 60
    assert limiter.check("other") is None
