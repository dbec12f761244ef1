"""A damaged cube is one line and exit 2; an interrupted or failed build leaves no `.part` file."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

CLI = [sys.executable, "-m", "service.cli"]


def corrupt_copy(cube_path: Path, out: Path) -> Path:
    """A copy of the cube with garbage inside the compressed block of one variable."""
    import h5py

    shutil.copy(cube_path, out)
    with h5py.File(out) as f:
        info = f["wind_speed_hist"].id.get_chunk_info(0)
    with out.open("r+b") as fh:
        fh.seek(info.byte_offset + min(100, info.size // 4))
        fh.write(b"\xff" * min(200, info.size // 2))
    return out


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120)


def test_corrupt_cube_is_one_line_and_exit_2(cube_path: Path, tmp_path: Path) -> None:
    pytest.importorskip("h5py")
    bad = corrupt_copy(cube_path, tmp_path / "bad.nc")
    env = {
        **os.environ,
        "CLIMATE_LOAN_CUBE": str(bad),
        "CLIMATE_LOAN_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    env.pop("CLIMATE_LOAN_DATABASE_URL", None)
    for args in (("site", "44.1", "87.3"), ("serve", "--port", "0", "--workers", "1")):
        done = run(*args, env=env)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert "not a readable NetCDF cube" in done.stderr and done.stdout == ""


def test_failed_write_leaves_no_part_file(tmp_path: Path) -> None:
    from climate_data.cube import _write_atomic

    # an object array cannot be written to NetCDF: to_netcdf fails after the .part exists
    bad = xr.Dataset({"x": ("n", np.array([object(), object()], dtype=object))})
    with pytest.raises((TypeError, ValueError)):
        _write_atomic(bad, tmp_path / "cube.nc")
    assert list(tmp_path.iterdir()) == []
    good = xr.Dataset({"x": ("n", np.arange(3.0))})
    assert _write_atomic(good, tmp_path / "cube.nc").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["cube.nc"]


def catches_sigterm(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    caught = int(next(x for x in status.splitlines() if x.startswith("SigCgt:")).split()[1], 16)
    return bool(caught & (1 << (signal.SIGTERM - 1)))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_sigterm_during_a_build_is_clean(tmp_path: Path) -> None:
    from climate_data.sample import SampleSpec, write_sample

    spec = SampleSpec(
        lats=(44.5, 44.0, 43.5), lons=(87.0, 87.5, 88.0), years=(2019, 2020, 2021, 2022, 2023)
    )
    paths = write_sample(tmp_path / "sample", spec)
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(
        [*CLI, "cube", "build", *map(str, paths), "--out", str(out / "cube.nc"), "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not catches_sigterm(proc.pid):  # the command is running (handler installed)
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.0)  # inside the build (several seconds on the development machine)
    assert proc.poll() is None, "the build ended before it could be interrupted"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip() == "climate-loan cube: interrupted"
    assert list(out.iterdir()) == []  # neither a cube nor a .part file
