"""`climate-loan keys create|list` and `serve` start-up checks (one line, no traceback)."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

from service import auth
from service.cli import main
from service.store import AuditStore


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("CLIMATE_LOAN_DATABASE_URL", "CLIMATE_LOAN_CUBE", "CLIMATE_LOAN_MODELS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLIMATE_LOAN_INSTANCE_PATH", str(tmp_path / "instance"))
    return tmp_path


def test_keys_create_prints_the_key_alone_on_the_last_line(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "create", "--role", "officer", "--name", "Ana Officer"]) == 0
    out = capsys.readouterr().out
    last = out.rstrip("\n").splitlines()[-1]
    assert auth.key_id_of(last) is not None and last == last.strip()
    # The same database configuration as the server: SQLite in the instance folder.
    store = AuditStore(f"sqlite:///{env / 'instance' / 'audit.sqlite3'}")
    record = auth.authenticate(store, last)
    assert record is not None and record.role == "officer" and record.name == "Ana Officer"
    assert main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert record.id in listing and "Ana Officer" in listing and last not in listing


def test_keys_create_uses_the_database_url(
    env: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLIMATE_LOAN_DATABASE_URL", db_url)
    assert main(["keys", "create", "--role", "admin", "--name", "Root"]) == 0
    key = capsys.readouterr().out.splitlines()[-1]
    store = AuditStore(db_url)
    record = auth.authenticate(store, key)
    store.dispose()
    assert record is not None and record.role == "admin"


def test_keys_create_refuses_an_unknown_role(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["keys", "create", "--role", "root", "--name", "x"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_keys_create_with_unreachable_database_is_one_line(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(
        "CLIMATE_LOAN_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:9/test"
    )
    monkeypatch.setenv("CLIMATE_LOAN_DB_TIMEOUT_S", "1")
    assert main(["keys", "create", "--role", "officer", "--name", "x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "audit database error" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        ("none", "no indicator cube configured: set CLIMATE_LOAN_CUBE"),
        ("missing", "no such file"),
        ("garbage", "cannot load the cube"),
    ],
)
def test_serve_with_a_bad_cube_stops_with_one_line(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    needle: str,
) -> None:
    if setup == "missing":
        monkeypatch.setenv("CLIMATE_LOAN_CUBE", str(env / "nope.nc"))
    elif setup == "garbage":
        bad = env / "bad.nc"
        bad.write_bytes(b"this is not NetCDF")
        monkeypatch.setenv("CLIMATE_LOAN_CUBE", str(bad))
    assert main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_serve_with_a_bad_setting_stops_with_one_line(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLIMATE_LOAN_MAX_CONTENT_LENGTH", "lots")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "CLIMATE_LOAN_MAX_CONTENT_LENGTH='lots' is not a whole number" in err
    assert err.count("\n") == 1


_FAULTS = """
import resource, sys
import numpy as np
if sys.argv[1] == "tuned":
    from service.cli_server import tune_malloc
    assert tune_malloc()
def work():  # arrays the size of the Monte Carlo's (10 years x 10,000 paths), freed each time
    for _ in range(20):
        a = np.ones((10, 10_000)); b = a * 2.0; c = np.cumsum(b, axis=0); del a, b, c
work()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
work()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_tuned_malloc_reuses_freed_arrays_without_page_faults() -> None:
    """What ``serve`` sets before forking its workers: the second round of the same
    allocations takes its memory from the heap (no new pages), unlike glibc's defaults."""

    def faults(mode: str) -> int:
        out = subprocess.run(
            [sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True, check=True
        )
        return int(out.stdout.strip())

    default, tuned = faults("default"), faults("tuned")
    assert default > 1000  # 20 rounds of three 0.8 MB arrays: fresh zeroed pages each time
    assert tuned < 50
