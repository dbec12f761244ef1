"""Integration: ``climate-loan demo`` as ``make demo`` runs it, server and portfolio worker.

The demo writes the sample, builds the cube, serves the API and web page with gunicorn and
starts one portfolio worker beside it. A portfolio run posted to the demo's server is
computed by that worker; Ctrl-C (SIGINT) stops the server and the worker with it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.service.test_portfolio_runs import _rows
from tests.service.test_serve import free_port, request

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[int]:
    """Pids of the direct children of ``pid`` (from /proc)."""
    out = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            out.append(int(status.parent.name))
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _wait_healthy(port: int, proc: subprocess.Popen[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the demo stopped"
        try:
            status, _, _ = request(port, "GET", "/api/v1/health")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the demo did not serve within {timeout_s} s")


def test_demo_serves_and_computes_portfolio_runs(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "climate-loan"
    port = free_port()
    env = {
        **os.environ,
        "CLIMATE_LOAN_CUBE": "",
        "CLIMATE_LOAN_DATABASE_URL": "",
        "CLIMATE_LOAN_MC_PATHS": "300",
    }
    log = (tmp_path / "demo.log").open("w+")
    proc = subprocess.Popen(
        [str(exe), "demo", "--dir", str(tmp_path / "demo"), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        _wait_healthy(port, proc, timeout_s=240.0)
        workers = [p for p in _children(proc.pid) if "portfolio worker" in _cmdline(p)]
        assert len(workers) == 1, _children(proc.pid)
        key = (tmp_path / "demo" / "instance" / "demo-officer.key").read_text().strip()
        headers = {"X-API-Key": key}

        payload = {"loans": _rows(), "seed": 5}
        status, _, body = request(port, "POST", "/api/v1/portfolio-runs", payload, headers)
        assert status == 202, body
        url = json.loads(body)["url"]
        deadline = time.monotonic() + 240.0
        while True:
            status, _, body = request(port, "GET", url, headers=headers)
            run = json.loads(body)
            assert status == 200 and run["status"] != "failed", run
            if run["status"] == "done":
                break
            assert time.monotonic() < deadline, f"the demo's worker did not finish: {run}"
            time.sleep(0.5)
        assert run["progress"] == {"loans_done": 3, "loans_total": 3}
        assert run["result"]["portfolio"]["n_loans"] == 3
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.seek(0)
        text = log.read()
        log.close()
    assert "[demo] portfolio worker started" in text
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in (
            Path(f"/proc/{pid}/status").read_text().lower()
        ), "the worker outlived the demo"
