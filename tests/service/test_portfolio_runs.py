"""Integration: portfolio runs over HTTP (real gunicorn), computed by a real worker process.

The audit database is SQLite or PostgreSQL (``db_url``), shared by the server, the worker
and the key commands; the queue is the Redis on this machine. The run is posted to one
server, which is then stopped; the worker and a second server start afterwards and the run
completes: a restarted server loses no run.
"""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.portfolio import loan_seed
from tests.service.test_serve import free_port, request, start_server

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "portfolio_book.csv"
PICK = ("PF-001", "PF-002", "PF-008")  # two wind loans, one solar; three regions


def _rows() -> list[dict[str, Any]]:
    with EXAMPLE.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["loan_id"] in PICK]
    # as a JSON client sends them: numbers as numbers, empty cells left out
    out = []
    for r in rows:
        obj: dict[str, Any] = {}
        for k, v in r.items():
            if v == "":
                continue
            try:
                obj[k] = float(v) if k not in ("loan_id", "region") and "." in v else int(v)
            except ValueError:
                obj[k] = v
        out.append(obj)
    return out


def _multipart(csv_text: str, fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="book"; '
        f'filename="book.csv"\r\nContent-Type: text/csv\r\n\r\n{csv_text}\r\n'
    )
    body = "".join(parts) + f"--{boundary}--\r\n"
    return body.encode(), f"multipart/form-data; boundary={boundary}"


def _raw(port: int, path: str, body: bytes, ctype: str, key: str) -> tuple[int, bytes]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": ctype, "X-API-Key": key})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _new_key(env: dict[str, str], role: str = "officer") -> str:
    made = subprocess.run(
        [sys.executable, "-m", "service.cli", "keys", "create", "--role", role, "--name", "other"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return made.stdout.rstrip("\n").splitlines()[-1]


def _worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    out = log.open("w+")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "service.cli",
            "portfolio",
            "worker",
            "--workers",
            "1",
            "--poll-s",
            "1",
        ],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()


def _wait_done(
    port: int, url: str, key: str, worker: subprocess.Popen[bytes], timeout_s: float = 240.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        assert worker.poll() is None, "the worker stopped"
        status, _, body = request(port, "GET", url, headers={"X-API-Key": key})
        assert status == 200, body
        run = json.loads(body)
        assert run["status"] != "failed", run["detail"]
        if run["status"] == "done":
            return run
        assert 0 <= run["progress"]["loans_done"] <= run["progress"]["loans_total"]
        if time.monotonic() > deadline:
            pytest.fail(f"run not done in {timeout_s} s: {run}")
        time.sleep(0.5)


def _check_bad_books(port: int, headers: dict[str, str], rows: list[dict[str, Any]]) -> None:
    """Bad books: every bad cell named, nothing queued."""
    bad = [dict(rows[0]), {**rows[1], "loan_id": rows[0]["loan_id"], "finance.tenor_years": 99}]
    status, _, body = request(port, "POST", "/api/v1/portfolio-runs", {"loans": bad}, headers)
    assert status == 422, body
    problem = json.loads(body)
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {"row 2, column loan_id", "row 2, column finance.tenor_years"}
    assert {e["pointer"] for e in problem["errors"]} == {
        "/loans/1/loan_id",
        "/loans/1/finance.tenor_years",
    }
    outside = [{**rows[0], "site.lat": 10.0}]
    status, _, body = request(port, "POST", "/api/v1/portfolio-runs", {"loans": outside}, headers)
    assert status == 422 and "outside the cube" in json.loads(body)["detail"]
    status, _, body = request(port, "POST", "/api/v1/portfolio-runs", [1, 2], headers)
    assert status == 422 and json.loads(body)["errors"][0]["field"] == "loans"


def _check_loans_stored(
    port: int, headers: dict[str, str], run_id: str, loans: list[dict[str, Any]]
) -> None:
    """Every loan is a normal stored assessment of the run's owner, with the loan's seed."""
    assert [r["loan_id"] for r in loans] == list(PICK)
    for r in loans:
        assert r["assessment_id"] == f"{run_id}-{r['row']}"
        status, _, body = request(
            port, "GET", f"/api/v1/assessments/{r['assessment_id']}", headers=headers
        )
        assert status == 200, body
        stored = json.loads(body)
        assert stored["decision"] == r["decision"]
        assert stored["repayment"]["pd_tenor"] == r["pd_tenor"]
        assert stored["provenance"]["seed"] == r["seed"] == loan_seed(11, r["loan_id"])


def _check_downloads_and_scope(
    port: int, url: str, headers: dict[str, str], other: dict[str, str], assessment_id: str
) -> None:
    """The finished run downloads as CSV and xlsx; another officer sees neither it nor its loans."""
    status, hdrs, data = request(port, "GET", url + "/export.csv", headers=headers)
    assert status == 200 and hdrs["content-type"].startswith("text/csv")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("row,loan_id,assessment_id") and len(lines) == 4
    status, hdrs, data = request(port, "GET", url + "/export.xlsx", headers=headers)
    assert status == 200 and data[:2] == b"PK"  # a zip container (xlsx)
    status, _, body = request(port, "GET", url, headers=other)
    assert status == 404, body
    status, _, _ = request(port, "GET", f"/api/v1/assessments/{assessment_id}", headers=other)
    assert status == 404


def _csv_upload_run(
    port: int, key: str, rows: list[dict[str, Any]], worker_proc: subprocess.Popen[bytes]
) -> dict[str, Any]:
    """The book uploaded as CSV (seed 11, tolerance 2.5 %), once the running worker is done."""
    text = io.StringIO()
    w = csv.DictWriter(text, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
    w.writeheader()
    w.writerows(rows)
    data, ctype = _multipart(text.getvalue(), {"seed": "11", "npl_tolerance_pct": "2.5"})
    status, body = _raw(port, "/api/v1/portfolio-runs", data, ctype, key)
    assert status == 202, body
    return _wait_done(port, json.loads(body)["url"], key, worker_proc)


def test_run_survives_a_server_restart_and_is_stored(
    cube_path: Path, db_url: str, tmp_path: Path
) -> None:
    extra = {"CLIMATE_LOAN_DATABASE_URL": db_url, "CLIMATE_LOAN_MC_PATHS": "300"}
    rows = _rows()
    first = start_server(cube_path, tmp_path, extra, workers=1)
    server = next(first)
    port, key = server["port"], server["key"]
    headers = {"X-API-Key": key}
    _check_bad_books(port, headers, rows)

    # a good book, with no worker running yet: accepted and queued
    payload = {"loans": rows, "seed": 11, "npl_tolerance_pct": 2.5}
    status, hdrs, body = request(port, "POST", "/api/v1/portfolio-runs", payload, headers)
    assert status == 202, body
    accepted = json.loads(body)
    assert hdrs["location"] == accepted["url"] == f"/api/v1/portfolio-runs/{accepted['id']}"
    status, _, body = request(port, "GET", accepted["url"], headers=headers)
    assert status == 200 and json.loads(body)["status"] == "queued"
    status, _, body = request(port, "GET", accepted["url"] + "/export.csv", headers=headers)
    assert status == 409 and "no results yet" in json.loads(body)["detail"]
    first.close()  # the server stops before any worker has seen the run

    worker = _worker(server["env"], tmp_path / "worker.log")
    worker_proc = next(worker)
    (tmp_path / "second").mkdir()
    again = start_server(cube_path, tmp_path / "second", extra, workers=1)
    server2 = next(again)
    try:
        port2 = server2["port"]
        run = _wait_done(port2, accepted["url"], key, worker_proc)
        result = run["result"]
        assert run["progress"] == {"loans_done": 3, "loans_total": 3}
        assert run["seed"] == 11 and run["n_paths"] == 300 and run["npl_tolerance_pct"] == 2.5
        portfolio = result["portfolio"]
        assert portfolio["n_loans"] == 3 and portfolio["npl_tolerance_pct"] == 2.5
        assert portfolio["joint"]["expected_loss"] >= 0.0
        loans = result["loans"]
        _check_loans_stored(port2, headers, accepted["id"], loans)
        # scoped like assessments: another officer sees neither the run nor its loans
        other = {"X-API-Key": _new_key(server["env"])}
        _check_downloads_and_scope(
            port2, accepted["url"], headers, other, loans[0]["assessment_id"]
        )

        # a CSV upload, computed by the running worker
        run2 = _csv_upload_run(port2, key, rows, worker_proc)
        # the same book and seed: the same figures (other assessment ids)
        strip = ("assessment_id",)
        assert [
            {k: v for k, v in r.items() if k not in strip} for r in run2["result"]["loans"]
        ] == [{k: v for k, v in r.items() if k not in strip} for r in loans]
        assert run2["result"]["portfolio"] == portfolio
    finally:
        again.close()
        worker.close()


def test_upload_errors_are_problems(cube_path: Path, tmp_path: Path) -> None:
    gen = start_server(cube_path, tmp_path, {}, workers=1)
    server = next(gen)
    try:
        port, key = server["port"], server["key"]
        data, ctype = _multipart("loan_id,site.lat\nA,abc\n", {})
        status, body = _raw(port, "/api/v1/portfolio-runs", data, ctype, key)
        problem = json.loads(body)
        assert status == 422
        assert "header, column site.lon: required column is missing" in problem["detail"]
        status, body = _raw(port, "/api/v1/portfolio-runs", b"a,b\n", "text/csv", key)
        assert status == 415 and json.loads(body)["status"] == 415
        data, ctype = _multipart("x", {"paths": "1"})
        status, body = _raw(port, "/api/v1/portfolio-runs", data, ctype, key)
        assert status == 422
        status, _, body = request(
            port, "GET", "/api/v1/portfolio-runs/nope", headers={"X-API-Key": key}
        )
        assert status == 404 and "no portfolio run" in json.loads(body)["detail"]
        assert free_port() > 0
    finally:
        gen.close()


@pytest.fixture
def run_store(db_url: str) -> Iterator[Any]:
    from service.store import AuditStore

    s = AuditStore(db_url, timeout_s=2.0)
    s.migrate()
    s.add_key("0123456789abcdef", "Ana", "officer", "f" * 64)
    yield s
    s.dispose()


def test_run_tables_are_append_only_and_claimed_once(run_store: Any) -> None:
    import sqlalchemy as sa

    from service.store import (
        PortfolioRunEvent,
        PortfolioRunRecord,
        PortfolioRunTaken,
        StoreUnavailable,
        utcnow,
    )

    run = PortfolioRunRecord(
        "r1", utcnow(), "req", "0123456789abcdef", 2, 100, 1, 3.0, "ab" * 32, '{"rows": []}'
    )
    run_store.add_portfolio_run(run)
    assert [e.status for e in run_store.portfolio_events("r1")] == ["queued"]
    assert [r for r, _ in run_store.open_portfolio_runs()] == ["r1"]
    # one worker claims the run with event 1; a second claim of the same number is refused
    run_store.add_portfolio_event(PortfolioRunEvent("r1", 1, utcnow(), "running", 0))
    with pytest.raises(PortfolioRunTaken):
        run_store.add_portfolio_event(PortfolioRunEvent("r1", 1, utcnow(), "running", 0))
    run_store.add_portfolio_event(PortfolioRunEvent("r1", 2, utcnow(), "done", 2, None, "{}"))
    assert run_store.open_portfolio_runs() == []
    assert run_store.get_portfolio_run("r1", owner="someone-else") is None
    for statement in (
        "UPDATE portfolio_run_events SET status = 'queued'",
        "DELETE FROM portfolio_run_events",
        "UPDATE portfolio_runs SET n_paths = 1",
        "DELETE FROM portfolio_runs",
    ):
        with (
            pytest.raises(sa.exc.DBAPIError, match="append-only"),
            run_store.engine.begin() as conn,
        ):
            conn.execute(sa.text(statement))
    assert [e.status for e in run_store.portfolio_events("r1")] == ["queued", "running", "done"]
    with pytest.raises(StoreUnavailable):
        run_store.add_portfolio_run(run)  # the same id again
