"""The climate-data subcommands, in process and through the installed console script."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from climate_data.cube import build_cube
from climate_data.sample import SampleSpec, write_sample
from service.cli import main

SPEC = SampleSpec(
    lats=(44.5, 44.0, 43.5), lons=(86.8, 87.3, 87.8), years=(2021, 2022, 2023), seed=3
)


@pytest.fixture(scope="module")
def cube(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("cli")
    return build_cube(write_sample(work / "sample", SPEC), work / "cube.nc", progress=False)


def test_site_json_is_the_contract_object(cube: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["site", "44.0", "87.3", "--cube", str(cube), "--hub-height-m", "90", "--json"]) == 0
    )
    s = json.loads(capsys.readouterr().out)
    assert s["site"] == {"lat": 44.0, "lon": 87.3}
    assert s["wind"]["height_m"] == 90.0
    assert s["wind"]["trailing_3y_years"] == [2021, 2022, 2023]
    assert s["dataset"]["synthetic"] is True


def test_site_reads_cube_from_environment(
    cube: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLIMATE_LOAN_CUBE", str(cube))
    assert main(["site", "44.0", "87.3"]) == 0
    out = capsys.readouterr().out
    assert "trailing 3-year mean (2021, 2022, 2023)" in out
    assert "SYNTHETIC" in out


def test_site_outside_data_is_one_line(cube: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["site", "10", "10", "--cube", str(cube)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "outside the data" in err and "Traceback" not in err


def test_missing_cube_option_and_env(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLIMATE_LOAN_CUBE", raising=False)
    assert main(["site", "44", "87"]) == 2
    assert "CLIMATE_LOAN_CUBE" in capsys.readouterr().err


def test_corrupt_cube_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.nc"
    bad.write_bytes(b"\x89HDF garbage")
    assert main(["site", "44", "87", "--cube", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.nc" in err and err.count("\n") == 1


def test_cube_info(cube: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cube", "info", str(cube), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["synthetic"] is True
    assert info["years"] == [2021, 2022, 2023]
    assert info["grid"]["lat"] == [43.5, 44.5, 3]


def test_cube_build_bad_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.nc"
    junk.write_text("this is not NetCDF")
    assert main(["cube", "build", str(junk), "--out", str(tmp_path / "c.nc")]) == 2
    err = capsys.readouterr().err
    assert "junk.nc" in err and err.count("\n") == 1
    assert not (tmp_path / "c.nc").exists()


def test_cube_build_from_arco_zarr_with_box_and_years(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.climate_data.arco_store import write_arco_store

    arco = write_arco_store(tmp_path / "era5.zarr")
    out = tmp_path / "c.zarr"
    argv = ["cube", "build", str(arco), "--out", str(out), "--no-progress"]
    assert main([*argv, "--bbox=-15,40,15,50", "--years", "2021"]) == 0
    assert main(["cube", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert info["grid"]["lon"] == [-10.0, 10.0, 3]
    assert info["grid"]["lat"] == [40.0, 50.0, 3]
    assert info["years"] == [2021]
    for extra, message in (
        (["--bbox", "100,-40,120,-10"], "holds no grid cell"),
        (["--bbox", "1,2,3"], "four numbers"),
        (["--years", "1990-1991"], "no time step in the years 1990-1991"),
        (["--years", "2021-2020"], "first year is after the last"),
    ):
        assert main([*argv, *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_demo_then_site_through_console_script(tmp_path: Path) -> None:
    # The path of `make demo` without the server: sample -> cube -> summary -> officer key.
    exe = Path(sys.executable).parent / "climate-loan"
    env = {**os.environ, "CLIMATE_LOAN_CUBE": "", "CLIMATE_LOAN_DATABASE_URL": ""}
    run = subprocess.run(
        [str(exe), "demo", "--dir", str(tmp_path / "demo"), "--no-serve"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "trailing 3-year mean (2022, 2023, 2024)" in run.stdout
    assert len(lines[-1]) >= 32 and " " not in lines[-1]  # the key, alone on the last line
    cube = tmp_path / "demo" / "changji_cube.nc"
    run = subprocess.run(
        [str(exe), "site", "44.0", "87.3", "--cube", str(cube), "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    s = json.loads(run.stdout)
    assert len(s["wind"]["annual_mean_ms"]) == 6
    assert 2600 <= s["solar"]["mean_sunshine_hours"] <= 3000
    # The next steps name the cube and the instance folder the CLI needs.
    assert f"  export CLIMATE_LOAN_CUBE={cube}" in lines
    assert f"  export CLIMATE_LOAN_INSTANCE_PATH={tmp_path / 'demo' / 'instance'}" in lines
    # A second run reuses the data and the key instead of making another.
    again = subprocess.run(
        [str(exe), "demo", "--dir", str(tmp_path / "demo"), "--no-serve"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == lines[-1]
    assert "earlier demo run" in again.stdout
    assert "building the indicator cube" not in again.stdout
    key_file = tmp_path / "demo" / "instance" / "demo-officer.key"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_demo_and_serve_refuse_a_taken_port_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        status = main(["demo", "--dir", str(tmp_path / "demo"), "--port", str(port)])
        err = capsys.readouterr().err
        assert status == 2
        assert err.count("\n") == 1
        assert f"port {port} on 127.0.0.1 is already in use" in err
        assert "make demo PORT=N" in err
        assert not (tmp_path / "demo").exists()  # refused before any work
        assert main(["serve", "--port", str(port)]) == 2
        assert f"port {port} on 127.0.0.1 is already in use" in capsys.readouterr().err
