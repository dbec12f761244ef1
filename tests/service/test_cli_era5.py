"""``climate-loan era5 request``: requests on disk, and the download through the real cdsapi
client against a loopback server that speaks the CDS API protocol cdsapi uses with a
``UID:KEY`` key (submit, poll the task, download the result, delete the task)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from service.cli import main

pytest.importorskip("cdsapi")

KEY = "4242:s3cret-api-key-never-shown"


class FakeCds(ThreadingHTTPServer):
    """Submissions, tasks and downloads in memory; records every submitted request."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.submitted: list[dict[str, Any]] = []
        self.results: dict[str, bytes] = {}
        self.fail_months: set[str] = set()
        self.garbage = False
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api"


class Handler(BaseHTTPRequestHandler):
    server: FakeCds

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass

    def _json(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        expected = "Basic " + base64.b64encode(KEY.encode()).decode()
        if self.headers.get("Authorization") != expected:
            self._json(401, {"message": "authentication failed"})
            return False
        return True

    def do_GET(self) -> None:
        if self.path == "/api/status.json":
            self._json(200, {})
        elif self.path.startswith("/api/tasks/"):
            rid = self.path.rsplit("/", 1)[1]
            self._json(200, self._completed(rid))
        elif self.path.startswith("/download/"):
            data = self.server.results[self.path.rsplit("/", 1)[1]]
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self._json(404, {"message": "not found"})

    def do_DELETE(self) -> None:
        self._json(200, {})

    def do_POST(self) -> None:
        if not self._authorised():
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.submitted.append(body)
            rid = f"r{len(self.server.submitted)}"
        if set(body["month"]) & self.server.fail_months:
            self._json(
                200,
                {
                    "state": "failed",
                    "request_id": rid,
                    "error": {"message": "request refused", "reason": "test failure"},
                },
            )
            return
        payload = b"<html>maintenance</html>" if self.server.garbage else b"CDF\x01"
        self.server.results[f"{rid}.nc"] = payload + json.dumps(body, sort_keys=True).encode()
        # the first submission is queued (cdsapi polls the task), the others complete at once
        if rid == "r1":
            self._json(202, {"state": "queued", "request_id": rid})
        else:
            self._json(200, self._completed(rid))

    def _completed(self, rid: str) -> dict[str, Any]:
        return {
            "state": "completed",
            "request_id": rid,
            "location": f"/download/{rid}.nc",
            "content_length": len(self.server.results[f"{rid}.nc"]),
            "content_type": "application/x-netcdf",
        }


@pytest.fixture
def cds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCds]:
    server = FakeCds()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rc = tmp_path / "cdsapirc"
    rc.write_text(f"url: {server.url}\nkey: {KEY}\n")
    monkeypatch.setenv("CDSAPI_RC", str(rc))  # cdsapi reads it as it reads ~/.cdsapirc
    monkeypatch.delenv("CDSAPI_URL", raising=False)
    monkeypatch.delenv("CDSAPI_KEY", raising=False)
    yield server
    server.shutdown()
    server.server_close()


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    assert KEY.split(":")[1] not in out + err  # the key is never shown
    return status, out, err


def test_requests_and_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "req"
    status, text, _ = _run(
        ["era5", "request", "--bbox", "73,18,135,54", "--years", "2020-2021", "--out", str(out)],
        capsys,
    )
    assert status == 0 and "wrote 4 request(s)" in text
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dataset"] == "reanalysis-era5-single-levels"
    names = [p["name"] for p in manifest["pieces"]]
    assert names == ["era5_2020_01-08", "era5_2020_09-12", "era5_2021_01-08", "era5_2021_09-12"]
    body = json.loads((out / "requests" / "era5_2021_09-12.json").read_text())
    assert body["request"]["month"] == ["09", "10", "11", "12"]
    assert body["request"]["area"] == [54.0, 73.0, 18.0, 135.0]
    assert body["target"] == "era5_2021_09-12.nc"
    assert not list(out.glob("*.nc"))  # nothing fetched without --download


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--bbox", "73,18,135", "--years", "2020"], "four numbers"),
        (["--bbox", "73,18,135,54", "--years", "20-21"], "year range"),
        (["--bbox", "73,18,135,54", "--years", "2020", "--max-fields", "100"], "below one month"),
    ],
)
def test_bad_arguments_are_one_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _run(["era5", "request", *argv, "--out", str(tmp_path)], capsys)
    assert status == 2 and message in err and err.count("\n") == 1


def test_download_skips_complete_pieces_and_resumes(
    cds: FakeCds,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    out = tmp_path / "era5"
    argv = ["era5", "request", "--bbox=-10,50,2,60", "--years", "2020", "--out", str(out)]
    argv += ["--max-fields", "30000", "--download"]  # 4 months of 9 variables per piece
    names = ["era5_2020_01-04", "era5_2020_05-08", "era5_2020_09-12"]

    cds.fail_months = {"05"}  # the second piece fails: the first is kept
    status, _, err = _run(argv, capsys)
    assert status == 2 and err.count("\n") == 1
    assert "piece era5_2020_05-08 failed: request refused" in err
    assert (out / f"{names[0]}.nc").is_file() and (out / f"{names[0]}.nc.done").is_file()
    assert not (out / f"{names[1]}.nc").exists()
    assert not list(out.glob(".*.part"))
    first = json.loads((out / f"{names[0]}.nc").read_bytes()[4:])
    assert first["month"] == ["01", "02", "03", "04"] and first["area"] == [60.0, -10.0, 50.0, 2.0]

    cds.fail_months = set()
    submitted = len(cds.submitted)
    status, text, _ = _run(argv, capsys)
    assert status == 0 and "fetched 2 piece(s), 1 already complete" in text
    assert [b["month"][0] for b in cds.submitted[submitted:]] == ["05", "09"]  # only missing ones

    submitted = len(cds.submitted)
    status, text, _ = _run(argv, capsys)
    assert status == 0 and "fetched 0 piece(s), 3 already complete" in text
    assert len(cds.submitted) == submitted  # nothing asked of the CDS

    # a damaged file (its bytes no longer match the marker) is fetched again, alone
    with (out / f"{names[2]}.nc").open("ab") as f:
        f.write(b"x")
    status, text, _ = _run(argv, capsys)
    assert status == 0 and "fetched 1 piece(s), 2 already complete" in text
    assert cds.submitted[-1]["month"][0] == "09"
    assert KEY.split(":")[1] not in caplog.text


def test_download_refuses_what_is_not_netcdf(
    cds: FakeCds, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cds.garbage = True
    argv = ["era5", "request", "--bbox", "0,50,2,60", "--years", "2020", "--out", str(tmp_path)]
    status, _, err = _run([*argv, "--download"], capsys)
    assert status == 2 and "neither NetCDF nor ZIP" in err and err.count("\n") == 1
    assert not list(tmp_path.glob("*.nc")) and not list(tmp_path.glob(".*.part"))


def test_download_without_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDSAPI_RC", str(tmp_path / "missing-rc"))
    monkeypatch.delenv("CDSAPI_URL", raising=False)
    monkeypatch.delenv("CDSAPI_KEY", raising=False)
    argv = ["era5", "request", "--bbox", "0,50,2,60", "--years", "2020", "--out", str(tmp_path)]
    status, _, err = _run([*argv, "--download"], capsys)
    assert status == 2 and "CDS API credentials" in err and err.count("\n") == 1
