"""A SQLite file that was read-only for a moment: health says so, and writes recover at once.

The tests run as root, which ignores file modes, so the database is used with the effective
user id of ``nobody`` (``os.seteuid``, restored afterwards) in a folder that user may write.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.service.conftest import WIND_REQUEST, make_config, new_key

NOBODY = 65534
_READER = (
    "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
    "c.execute('SELECT count(*) FROM assessments').fetchall(); print('open', flush=True); "
    "sys.stdin.read()"
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")


@pytest.fixture
def as_nobody() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="clr-ro-"))
    folder.chmod(0o777)
    try:
        yield folder
    finally:
        os.seteuid(0)
        os.setegid(0)
        shutil.rmtree(folder, ignore_errors=True)


def test_write_recovers_as_soon_as_the_file_is_writable(cube_path: Path, as_nobody: Path) -> None:
    from service.app import create_app

    db = as_nobody / "audit.sqlite3"
    app = create_app(make_config(cube_path, f"sqlite:///{db}", as_nobody))
    store = app.extensions["climate_loan"].store
    key = new_key(app, "officer")
    store.dispose()
    for p in as_nobody.rglob("*"):
        os.chown(p, NOBODY, NOBODY)
    # Another worker process holds the database open (so the -wal and -shm files stay);
    # SQLite run as root gives the files it creates the database file's owner.
    other = subprocess.Popen(
        [sys.executable, "-c", _READER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert other.stdout is not None and other.stdout.readline().strip() == "open"
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    client: Any = app.test_client()
    headers = {"X-API-Key": key}

    def post() -> int:
        return int(
            client.post("/api/v1/assessments", json=WIND_REQUEST, headers=headers).status_code
        )

    assert post() == 201
    try:
        db.chmod(0o444)
        store.dispose()  # a fresh pool: its next connection opens the file read-only
        assert post() == 503
        health = client.get("/api/v1/health")
        assert health.status_code == 503, health.get_json()  # reads work, writes do not
        assert health.get_json()["database"]["status"] == "unavailable"
        db.chmod(0o644)
        assert post() == 201  # at once, not after the pool recycles its connection
        assert client.get("/api/v1/health").status_code == 200
    finally:
        other.communicate("", timeout=30)
        store.dispose()
