"""The real `climate-loan serve` (gunicorn, 4 sync workers): gunicorn's own errors and the
rate limit shared by all workers."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.service.test_serve import request, start_server

pytestmark = pytest.mark.slow

REDIS = ("127.0.0.1", 6379)
WORKERS = 4
PER_MINUTE = 30


def redis_up() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(cube_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not redis_up():
        pytest.fail(f"Redis is not answering on {REDIS[0]}:{REDIS[1]}")
    tmp = tmp_path_factory.mktemp("serve-sec")
    prefix = f"clr-test-{os.getpid()}-{time.time_ns()}"
    yield from start_server(
        cube_path,
        tmp,
        {
            "CLIMATE_LOAN_RATE_LIMIT_PER_MINUTE": str(PER_MINUTE),
            "CLIMATE_LOAN_RATELIMIT_STORAGE_URI": f"redis://{REDIS[0]}:{REDIS[1]}/0",
            "CLIMATE_LOAN_RATELIMIT_PREFIX": prefix,
        },
        WORKERS,
    )


def raw_request(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(data)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:])}
    return status, headers, body


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET /api/v1/health?x=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
        (
            b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-H%d: 1\r\n" % i for i in range(150))
            + b"\r\n",
            431,
        ),
        (b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", 400),
    ],
    ids=["long-url", "big-header", "many-headers", "malformed-header"],
)
def test_gunicorn_errors_are_problem_json(server: dict[str, Any], data: bytes, status: int) -> None:
    got, headers, body = raw_request(server["port"], data)
    assert got == status
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == status and problem["type"].startswith("/docs#problem-")
    assert "<html" not in body.decode()


def test_a_url_within_the_limit_is_served(server: dict[str, Any]) -> None:
    status, _, _ = request(server["port"], "GET", "/api/v1/health?x=" + "a" * 6000)
    assert status == 200


def test_rate_limit_is_shared_by_the_four_workers(server: dict[str, Any]) -> None:
    # New connection per request, eight at a time: a sync worker serves one request at a
    # time, so concurrent requests must spread over the workers (one after another, the idle
    # worker that accepted the last one may well accept every one).
    headers = {"X-API-Key": server["key"]}

    def one(_: int) -> int:
        return int(request(server["port"], "GET", "/api/v1/policies", headers=headers)[0])

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(one, range(2 * PER_MINUTE)))
    assert statuses.count(200) == PER_MINUTE, statuses
    assert statuses.count(429) == PER_MINUTE
    # the requests were served by more than one worker (request log lines carry the pid)
    server["log"].seek(0)
    pids = {
        json.loads(line).get("pid")
        for line in server["log"]
        if line.startswith("{") and '"path": "/api/v1/policies"' in line
    }
    assert len(pids) > 1, pids
