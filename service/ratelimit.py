"""Rate limits shared by every worker: requests per API key, failed sign-ins per address.

Counters live in the storage named by ``CLIMATE_LOAN_RATELIMIT_STORAGE_URI`` — Redis
(``redis://host:6379/0``) in production, so that the four workers of ``climate-loan serve
--workers 4`` count against one limit. Fixed one-minute windows, through the ``limits`` library
(the storage and window layer of Flask-Limiter; Flask-Limiter's own decorators would count a
request before this service has authenticated its key, and the limit here is per *key*).

Without a storage URI the request limit falls back to :class:`RateLimiter`, which
counts in each worker's memory: the effective limit is then the setting times the number of
workers (README, "Security and operations"); ``climate-loan serve`` says so when it starts.

If the storage cannot be reached, requests are let through (the error is logged once a
minute): the rate limit protects the service, and an outage of Redis should not become an
outage of lending decisions.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from limits import RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

_log = logging.getLogger("climate_loan.ratelimit")


class RequestLimiter(Protocol):
    """What the API asks of a request limiter."""

    per_minute: int

    def check(self, key_id: str) -> int | None:
        """Count a request; None when allowed, else seconds to wait."""


class RateLimiter:
    """Fixed one-minute windows of requests per API key (per worker process).

    Parameters
    ----------
    per_minute : int
        Requests allowed per key per window; 0 means no limit.
    clock : callable
        Monotonic seconds (injected by tests that cross a window).
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}

    def check(self, key_id: str) -> int | None:
        """Count a request; return None when allowed, else seconds until the next window."""
        if self.per_minute <= 0:
            return None
        now = self.clock()
        window = int(now // 60)
        with self._lock:
            current, count = self._windows.get(key_id, (window, 0))
            if current != window:
                current, count = window, 0
            if count >= self.per_minute:
                return max(1, math.ceil((window + 1) * 60 - now))
            self._windows[key_id] = (current, count + 1)
        return None


class StorageRateLimiter:
    """Fixed one-minute windows per identifier in a ``limits`` storage.

    Parameters
    ----------
    per_minute : int
        Hits allowed per identifier per window; 0 means no limit.
    storage_uri : str
        ``redis://...`` or ``memory://`` (see :mod:`limits.storage`).
    prefix : str
        Namespace of the counters (several services may share one Redis).
    scope : str
        What is counted (``"key"``, ``"authfail"``), part of each counter's name.
    """

    def __init__(self, per_minute: int, storage_uri: str, prefix: str, scope: str) -> None:
        self.per_minute = per_minute
        self.storage_uri = storage_uri
        self.scope = scope
        # wrap_exceptions: every error of the storage's client (redis.RedisError: connection
        # refused, timeout, ...) arrives as limits.errors.StorageError, the one type caught here
        self._storage = storage_from_string(storage_uri, wrap_exceptions=True)
        self._strategy = FixedWindowRateLimiter(self._storage)
        self._item = RateLimitItemPerMinute(max(1, per_minute), namespace=prefix)
        self._last_error = 0.0

    def _failed(self, exc: StorageError) -> None:
        now = time.monotonic()
        if now - self._last_error > 60:
            self._last_error = now
            _log.error(
                "rate-limit storage unavailable (%s); requests are not limited meanwhile",
                exc.storage_error.__class__.__name__,
            )

    def _wait(self, identifier: str) -> int:
        try:
            stats: Any = self._strategy.get_window_stats(self._item, self.scope, identifier)
            return max(1, math.ceil(float(stats.reset_time) - time.time()))
        except StorageError:
            return 60

    def check(self, identifier: str) -> int | None:
        """Count a hit; return None when allowed, else seconds until the window ends."""
        if self.per_minute <= 0:
            return None
        try:
            allowed = self._strategy.hit(self._item, self.scope, identifier)
        except StorageError as exc:
            self._failed(exc)
            return None
        return None if allowed else self._wait(identifier)

    def blocked(self, identifier: str) -> int | None:
        """Without counting: None when a hit would be allowed, else seconds to wait."""
        if self.per_minute <= 0:
            return None
        try:
            allowed = self._strategy.test(self._item, self.scope, identifier)
        except StorageError as exc:
            self._failed(exc)
            return None
        return None if allowed else self._wait(identifier)


class AuthThrottle:
    """Failed sign-ins and bad API keys per client address (shared like the request limit).

    :meth:`blocked` is asked before a key is checked; :meth:`failed` counts a failure. Once an
    address has failed ``per_minute`` times in a window, every further attempt from it — even
    with a good key — is refused (429) until the window ends.
    """

    def __init__(self, per_minute: int, storage_uri: str | None, prefix: str) -> None:
        self.per_minute = per_minute
        self._limiter = StorageRateLimiter(
            per_minute, storage_uri or "memory://", prefix, "authfail"
        )

    def blocked(self, address: str) -> int | None:
        """Seconds to wait if ``address`` has used up its failures, else None."""
        return self._limiter.blocked(address)

    def failed(self, address: str) -> None:
        """Count one failure of ``address``."""
        self._limiter.check(address)


def make_request_limiter(per_minute: int, storage_uri: str | None, prefix: str) -> Any:
    """The per-key request limiter: shared storage when configured, else per-worker memory."""
    if storage_uri:
        return StorageRateLimiter(per_minute, storage_uri, prefix, "key")
    return RateLimiter(per_minute)
