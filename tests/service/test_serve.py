"""Integration: the real `climate-loan serve` (gunicorn, 2 sync workers) on a free loopback port."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.service.conftest import WIND_REQUEST

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def request(
    port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        data = None if body is None else json.dumps(body)
        hdrs = dict(headers or {})
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def start_server(
    cube_path: Path, tmp: Path, extra_env: dict[str, str], workers: int
) -> Iterator[dict[str, Any]]:
    """Run ``climate-loan serve`` (real gunicorn) on a free port with a new officer key.

    Yields ``{"port", "key", "log", "proc", "env"}`` once every worker has started; the
    server is stopped (gunicorn's quick shutdown) when the generator is closed.
    """
    env = {
        **os.environ,
        "CLIMATE_LOAN_CUBE": str(cube_path),
        "CLIMATE_LOAN_INSTANCE_PATH": str(tmp / "instance"),
        "CLIMATE_LOAN_MC_PATHS": "500",
    }
    env.pop("CLIMATE_LOAN_DATABASE_URL", None)  # SQLite in the instance folder unless given
    env.update(extra_env)
    cli = [sys.executable, "-m", "service.cli"]
    made = subprocess.run(
        [*cli, "keys", "create", "--role", "officer", "--name", "Integration"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key = made.stdout.rstrip("\n").splitlines()[-1]
    port = free_port()
    log = (tmp / "server.log").open("w+")
    proc = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    try:
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"serve exited with {proc.returncode}: {log.read()}")
            try:
                if request(port, "GET", "/api/v1/health")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("serve did not answer within 90 s")
            time.sleep(0.2)
        # every worker has started: each logs "service ready" once
        while time.monotonic() < deadline:
            log.seek(0)
            if log.read().count('"service ready"') >= workers:
                break
            time.sleep(0.2)
        yield {"port": port, "key": key, "log": log, "proc": proc, "env": env}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def server(cube_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("serve")
    yield from start_server(cube_path, tmp, {"CLIMATE_LOAN_MC_PATHS": "2000"}, workers=2)


def test_assessment_over_http_is_stored_and_read_back(server: dict[str, Any]) -> None:
    port, headers = server["port"], {"X-API-Key": server["key"], "X-Request-ID": "integration-0001"}
    status, hdrs, body = request(port, "POST", "/api/v1/assessments", WIND_REQUEST, headers)
    assert status == 201, body
    assert hdrs["x-request-id"] == "integration-0001"
    created = json.loads(body)
    assert created["decision"] in ("approve", "refer", "decline")
    status, _, again = request(port, "GET", hdrs["location"], headers=headers)
    assert status == 200 and again == body  # the stored response, byte for byte
    status, _, listing = request(port, "GET", "/api/v1/assessments?limit=5", headers=headers)
    items = json.loads(listing)["items"]
    assert status == 200 and items[0]["id"] == created["id"]
    assert items[0]["request_id"] == "integration-0001"


def test_server_binds_loopback_with_two_workers_and_logs_json(server: dict[str, Any]) -> None:
    headers = {"X-API-Key": server["key"], "X-Request-ID": "integration-0002"}
    assert request(server["port"], "GET", "/api/v1/policies", headers=headers)[0] == 200
    status, _, body = request(server["port"], "GET", "/api/v1/health")
    health = json.loads(body)
    assert status == 200 and health["database"]["backend"] == "sqlite"
    # Each worker logs "service ready" once, after the fork; request lines carry request ids.
    time.sleep(0.3)
    server["log"].flush()
    lines = Path(server["log"].name).read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    assert sum(e["message"] == "service ready" for e in entries) == 2
    requests_logged = [e for e in entries if e["message"] == "request"]
    assert requests_logged and all(len(e["request_id"]) >= 8 for e in requests_logged)
    assert any(
        e.get("request_id") == "integration-0002" and e["status"] == 200 for e in requests_logged
    )
