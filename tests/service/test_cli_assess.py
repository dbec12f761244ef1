"""Assessment requests (service/requests.py) and ``climate-loan assess`` (service/cli_assess.py).

The end-to-end tests build a cube from the real MERRA-2 subset in tests/data (source in
tests/data/README.md) with the cube builder, run the CLI on a request file, and check the
energy against an hourly computation written here from the raw file with windpowerlib's
density and temperature functions.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from models.policy import DEFAULT_POLICY
from models.solar import DEFAULT_DC_AC_RATIO, DEFAULT_DEGRADATION_PCT_PER_YEAR, DEFAULT_LOSSES_PCT
from models.wind import Losses, WindProject
from service import cli
from service.errors import UsageError
from service.requests import (
    MAX_LISTED_PROBLEMS,
    AssessmentRequest,
    describe_error,
    parse_request,
    to_model_inputs,
)

DATA = Path(__file__).resolve().parents[1] / "data"
MERRA2 = DATA / "merra2_ireland_2x2_hourly_2000_2017_subset.nc"

WIND_REQUEST: dict[str, Any] = {
    "site": {"lat": 53.5, "lon": -5.625, "name": "Irish Sea node"},
    "project": {
        "technology": "wind",
        "capacity_mw": 46.0,
        "turbine_type": "E-82/2300",
        "hub_height_m": 80,
    },
    "finance": {
        "loan_amount": 60_000_000,
        "currency": "EUR",
        "tenor_years": 12,
        "interest_rate_pct": 5.0,
        "repayment": "annuity",
        "tariff_per_mwh": 70,
        "opex_per_year": 2_500_000,
    },
    "seed": 7,
}
SOLAR_REQUEST: dict[str, Any] = {
    "site": {"lat": 44.0, "lon": 87.3},
    "project": {"technology": "solar", "capacity_mw": 100.0},
    "finance": {**WIND_REQUEST["finance"], "currency": "CNY"},
}


def with_change(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Copy of ``base`` with the dotted ``path`` set to ``value`` (deleted for ``...``)."""
    out = copy.deepcopy(base)
    *parents, leaf = path.split(".")
    node = out
    for p in parents:
        node = node[p]
    if value is ...:
        del node[leaf]
    else:
        node[leaf] = value
    return out


# ----------------------------------------------------------------------------- requests


def test_wind_request_defaults() -> None:
    inputs = to_model_inputs(parse_request(WIND_REQUEST))
    assert isinstance(inputs.project, WindProject)
    assert inputs.project.losses == Losses()  # documented defaults 3 / 7 / 2 / 2 %
    assert inputs.project.turbine.turbine_type == "E-82/2300"
    assert inputs.policy.id == DEFAULT_POLICY["wind"]
    assert inputs.terms.target_dscr == 1.30 and inputs.terms.tariff_escalation_pct == 0.0
    assert (inputs.seed, inputs.site_name, inputs.operating_history) == (7, "Irish Sea node", None)


def test_explicit_zero_losses_mean_zero() -> None:
    req = with_change(WIND_REQUEST, "project.losses", {"wake_pct": 0, "other_pct": 0.0})
    losses = to_model_inputs(parse_request(req)).project.losses  # type: ignore[union-attr]
    assert losses == Losses(availability_pct=3.0, wake_pct=0.0, electrical_pct=2.0, other_pct=0.0)


def test_solar_request_defaults() -> None:
    inputs = to_model_inputs(parse_request(SOLAR_REQUEST))
    p = inputs.project
    assert not isinstance(p, WindProject)
    assert (p.dc_ac_ratio, p.losses_pct, p.degradation_pct_per_year) == (
        DEFAULT_DC_AC_RATIO,
        DEFAULT_LOSSES_PCT,
        DEFAULT_DEGRADATION_PCT_PER_YEAR,
    )
    assert inputs.policy.id == DEFAULT_POLICY["solar"]


def test_custom_power_curve_and_history() -> None:
    req = with_change(WIND_REQUEST, "project.turbine_type", ...)
    req["project"]["power_curve"] = {
        "wind_speed_ms": [3, 5, 8, 12, 25],
        "power_kw": [0, 200, 900, 2000, 2000],
    }
    req["operating_history"] = {
        "monthly_energy_mwh": [
            {"month": "2015-01", "energy_mwh": 9000.5},
            {"month": "2015-02", "energy_mwh": None},
        ]
    }
    inputs = to_model_inputs(parse_request(req))
    assert inputs.project.turbine.rated_power_kw == 2000.0  # type: ignore[union-attr]
    assert inputs.operating_history is not None
    assert np.isnan(inputs.operating_history.values[1])  # null is missing, not filled


@pytest.mark.parametrize(
    ("path", "value", "expect"),
    [
        ("site.lat", 91.0, "site.lat: Input should be less than or equal to 90"),
        ("site.lon", -180.5, "site.lon: Input should be greater than or equal to -180"),
        ("site.lat", float("nan"), "site.lat: Input should be a finite number"),
        ("project.capacity_mw", float("inf"), "project.capacity_mw: Input should be a finite"),
        ("project.capacity_mw", 0, "project.capacity_mw: Input should be greater than 0"),
        ("project.capacity_mw", "50", "project.capacity_mw: Input should be a valid number"),
        ("project.hub_height_m", 9.9, "project.hub_height_m: Input should be greater than or"),
        ("project.hub_height_m", 251, "project.hub_height_m: Input should be less than or"),
        ("project.hub_height_m", ..., "project: a wind project needs hub_height_m"),
        ("project.technology", "hydro", "project.technology: Input should be 'wind' or 'solar'"),
        ("project.turbine_type", "E-82/230", "project.turbine_type: unknown turbine type"),
        ("project.turbine_type", ..., "project: a wind project needs exactly one of"),
        ("project.dc_ac_ratio", 1.2, "project.dc_ac_ratio: applies to solar projects only"),
        ("project.losses", {"wake_pct": 100}, "project.losses.wake_pct: Input should be less"),
        ("project.losses", {"wake_pct": -1}, "project.losses.wake_pct: Input should be greater"),
        ("project.losses", {"wakes": 5}, "project.losses.wakes: unknown field"),
        ("finance.tenor_years", 31, "finance.tenor_years: Input should be less than or equal"),
        ("finance.tenor_years", 0, "finance.tenor_years: Input should be greater than or"),
        ("finance.tenor_years", 10.5, "finance.tenor_years: Input should be a valid integer"),
        ("finance.repayment", "bullet", "finance.repayment: Input should be 'annuity'"),
        ("finance.currency", "eur", "finance.currency: String should match pattern"),
        ("finance.loan_amount", -1, "finance.loan_amount: Input should be greater than 0"),
        ("finance.interest_rate_pct", True, "finance.interest_rate_pct: Input should be a valid"),
        ("finance", ..., "finance: required field is missing"),
        ("policy", "../../etc/passwd", "policy: policy must be a policy id"),
        ("policy", "wind_nowhere_v9", "policy: unknown policy 'wind_nowhere_v9'"),
        ("policy", "solar_default_v1", "policy 'solar_default_v1' is for solar projects"),
        ("seed", -1, "seed: Input should be greater than or equal to 0"),
        ("notes", "hello", "notes: unknown field"),
    ],
)
def test_bad_request_names_the_field(path: str, value: Any, expect: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_request(with_change(WIND_REQUEST, path, value))
    message = str(info.value)
    assert expect in message
    assert "\n" not in message


def test_wind_fields_rejected_for_solar() -> None:
    req = with_change(SOLAR_REQUEST, "project.hub_height_m", 100)
    with pytest.raises(UsageError, match=r"project\.hub_height_m: applies to wind projects only"):
        parse_request(req)


def test_operating_history_errors() -> None:
    bad_month = {"monthly_energy_mwh": [{"month": "2015-13", "energy_mwh": 1.0}]}
    with pytest.raises(UsageError, match=r"monthly_energy_mwh\.0\.month: month must be 'YYYY-MM'"):
        parse_request({**WIND_REQUEST, "operating_history": bad_month})
    twice = {"monthly_energy_mwh": [{"month": "2015-01", "energy_mwh": 1.0}] * 2}
    with pytest.raises(UsageError, match="2015-01 appears more than once"):
        parse_request({**WIND_REQUEST, "operating_history": twice})


def test_operating_history_is_wind_only() -> None:
    history = {"monthly_energy_mwh": [{"month": "2015-01", "energy_mwh": 1.0}]}
    with pytest.raises(UsageError, match=r"operating_history: applies to wind projects only"):
        parse_request({**SOLAR_REQUEST, "operating_history": history})


def test_describe_error_lists_every_problem() -> None:
    bad = with_change(with_change(WIND_REQUEST, "site.lat", 100.0), "site.lon", 200.0)
    with pytest.raises(ValidationError) as info:
        AssessmentRequest.model_validate(bad)
    text = describe_error(info.value)
    assert text == (
        "site.lat: Input should be less than or equal to 90; "
        "site.lon: Input should be less than or equal to 180"
    )
    assert "\n" not in text


def test_describe_error_counts_beyond_the_listed_problems() -> None:
    bad = copy.deepcopy(WIND_REQUEST)
    bad["operating_history"] = {
        "monthly_energy_mwh": [{"month": "2015-13", "energy_mwh": 1.0} for _ in range(25)]
    }
    with pytest.raises(ValidationError) as info:
        AssessmentRequest.model_validate(bad)
    n = len(info.value.errors())
    assert n > MAX_LISTED_PROBLEMS
    text = describe_error(info.value)
    assert text.count("; ") == MAX_LISTED_PROBLEMS - 1
    assert text.endswith(f"(and {n - MAX_LISTED_PROBLEMS} more problems)")


@given(
    st.floats(min_value=-90, max_value=90),
    st.floats(min_value=-180, max_value=180),
    st.floats(min_value=1e-3, max_value=1e4),
)
def test_valid_numbers_round_trip(lat: float, lon: float, capacity: float) -> None:
    req = with_change(with_change(WIND_REQUEST, "site.lat", lat), "site.lon", lon)
    req = with_change(req, "project.capacity_mw", capacity)
    parsed = parse_request(req)
    again = AssessmentRequest.model_validate_json(parsed.model_dump_json())
    assert again == parsed
    assert parsed.site.lat == lat and parsed.project.capacity_mw == capacity


@given(st.one_of(st.floats(max_value=-90.000001), st.floats(min_value=90.000001)))
def test_latitude_out_of_range_rejected(lat: float) -> None:
    with pytest.raises(UsageError, match=r"site\.lat"):
        parse_request(with_change(WIND_REQUEST, "site.lat", lat))


# ------------------------------------------------------------------- CLI without a cube


def write(tmp_path: Path, obj: Any, name: str = "request.json") -> Path:
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(["assess", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_bad_field_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the request is validated before the cube is opened: no cube needed for this error
    req = write(tmp_path, with_change(WIND_REQUEST, "project.hub_height_m", 400))
    status, out, err = run_cli(capsys, "--cube", str(tmp_path / "none.nc"), "--request", str(req))
    assert status == 2 and out == ""
    assert err.count("\n") == 1
    assert err.startswith("climate-loan assess: error: bad request: project.hub_height_m:")


def test_cli_bad_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    req = write(tmp_path, '{"site": {"lat": 1,}}')
    status, _, err = run_cli(capsys, "--cube", "x.nc", "--request", str(req))
    assert status == 2
    assert "is not valid JSON" in err and "line 1 column" in err


def test_cli_nan_in_json_names_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps(WIND_REQUEST).replace('"loan_amount": 60000000', '"loan_amount": NaN')
    status, _, err = run_cli(capsys, "--cube", "x.nc", "--request", str(write(tmp_path, text)))
    assert status == 2 and "finance.loan_amount: Input should be a finite number" in err


def test_cli_missing_file_and_cube(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, _, err = run_cli(capsys, "--request", str(tmp_path / "absent.json"))
    assert status == 2 and "cannot read request file" in err
    monkeypatch.delenv("CLIMATE_LOAN_CUBE", raising=False)
    req = write(tmp_path, WIND_REQUEST)
    status, _, err = run_cli(capsys, "--request", str(req))
    assert status == 2 and "no cube given: pass --cube CUBE.nc or set CLIMATE_LOAN_CUBE" in err
    status, _, err = run_cli(capsys, "--cube", str(tmp_path / "none.nc"), "--request", str(req))
    assert status == 2 and "no such cube file" in err


# ------------------------------------------------------------- end to end on MERRA-2


@pytest.fixture(scope="module")
def merra2_cube(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from climate_data.cube import build_cube

    out = tmp_path_factory.mktemp("cube") / "merra2.nc"
    return build_cube(MERRA2, out, reference_height_m=50.0, progress=False)


def hourly_energy_by_year(
    lat: float, lon: float, hub_m: float, n_turbines: int
) -> dict[int, float]:
    """Net energy per complete year from the raw hourly file, hour by hour.

    Wind moved from 50 m with the power law and the default exponent 1/7 (the file has one
    height); density at hub height from windpowerlib's barometric formula with the
    temperature moved by its linear gradient, averaged per year; the power curve moved to that
    density with the reference formula (IEC 61400-12-1 density correction); default losses.
    """
    import netCDF4
    from windpowerlib import density as wdensity
    from windpowerlib import temperature as wtemperature

    from models.turbines import get_turbine

    with netCDF4.Dataset(MERRA2) as f:
        i = int(np.argmin(np.abs(f["latitude"][:] - lat)))
        j = int(np.argmin(np.abs(f["longitude"][:] - lon)))
        times = netCDF4.num2date(f["time"][:], f["time"].units, only_use_cftime_datetimes=False)
        years = np.array([t.year for t in times])
        ws = np.asarray(f["ws50m"][:, i, j], dtype=float)  # m s-1
        t2m = np.asarray(f["t2m"][:, i, j], dtype=float) + 273.15  # degC -> K
        ps = np.asarray(f["ps"][:, i, j], dtype=float) * 100.0  # hPa -> Pa
    v_hub = ws * (hub_m / 50.0) ** (1.0 / 7.0)
    rho = np.asarray(
        wdensity.barometric(ps, 0.0, hub_m, wtemperature.linear_gradient(t2m, 2.0, hub_m))
    )
    curve = get_turbine("E-82/2300").power_curve
    assert curve is not None
    v_std, p_kw = np.asarray(curve.wind_speed_ms), np.asarray(curve.power_kw)
    loss_factor = 0.97 * 0.93 * 0.98 * 0.98
    out = {}
    for y in range(2000, 2017):  # 2017 holds half a year only
        sel = years == y
        exponent = np.interp(v_std, [7.5, 12.5], [1 / 3, 2 / 3])
        v_site = v_std * (1.225 / rho[sel].mean()) ** exponent
        power = np.interp(v_hub[sel], v_site, p_kw, left=0.0, right=0.0)
        out[y] = float(power.sum() * n_turbines * loss_factor / 1000.0)
    return out


@pytest.mark.slow
def test_end_to_end_wind_on_merra2(
    merra2_cube: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    req = write(tmp_path, WIND_REQUEST)
    status, out, err = run_cli(
        capsys, "--cube", str(merra2_cube), "--request", str(req), "--json", "--paths", "2000"
    )
    assert status == 0, err
    d = json.loads(out)

    # climate: 50 m reference values of tests/climate_data/test_wind.py moved to 80 m with 1/7
    f = (80.0 / 50.0) ** (1.0 / 7.0)
    wind = d["climate"]["wind"]
    assert wind["trailing_3y_years"] == [2014, 2015, 2016]
    assert wind["trailing_3y_mean_ms"] == pytest.approx(7.7729 * f, abs=2e-3)
    assert wind["iav"] == pytest.approx(0.0406, abs=1e-4)
    assert d["climate"]["complete_years"] == 17

    # energy: per year within 0.5 % of the hourly computation (measured: < 0.07 %; the
    # remainder is 0.25 m/s histogram bins and the ISA density step against windpowerlib's)
    hourly = hourly_energy_by_year(53.5, -5.625, 80.0, n_turbines=20)  # 46 MW / 2.3 MW
    annual = d["energy"]["annual_mwh"]
    assert annual["2017"] is None  # incomplete year: null, not filled
    for year, expected in hourly.items():
        assert annual[str(year)] == pytest.approx(expected, rel=5e-3)
    values = np.array(list(hourly.values()))
    p50 = values.mean()
    assert d["energy"]["p50_mwh"] == pytest.approx(p50, rel=5e-3)
    iav = values.std(ddof=1) / p50
    s1 = math.sqrt(iav**2 + 0.08**2)  # sigma_model for reanalysis (models.uncertainty)
    assert d["energy"]["sigma"] == pytest.approx(s1, rel=2e-2)
    assert d["energy"]["p90_mwh"] == pytest.approx(p50 * (1 - 1.2816 * s1), rel=5e-3)

    # repayment from that P50 (annuity formula A = D r / (1 - (1 + r)^-n))
    # with the policy's default drivers: mean curtailment c (clipped normal mean) and ageing
    # a %/yr, so the lowest P50 DSCR is in the last year, p50 (1 - c) (1 - a)^11 70 - opex
    annuity = 60e6 * 0.05 / (1 - 1.05**-12)
    rd = d["risk_drivers"]
    assert rd["sources"]["curtailment"].startswith("policy wind_changji_v1: National Energy")
    c = rd["curtailment"]
    assert 5.0 < c["mean_pct"] == 6.0 <= c["effective_mean_pct"] < 7.0
    sold = 1 - c["effective_mean_pct"] / 100
    assert rd["sold_fraction"] == pytest.approx(sold, abs=1e-6)
    last = sold * (1 - rd["ageing_pct_per_year"] / 100) ** 11
    assert d["repayment"]["dscr_p50_min"] == pytest.approx(
        (p50 * last * 70.0 - 2.5e6) / annuity, rel=1e-2
    )
    sens = d["sensitivities"]
    assert sens["cases"][0]["id"] == "base"
    assert sens["cases"][0]["pd_tenor"] == d["repayment"]["pd_tenor"]
    assert d["decision"] in {"approve", "refer", "decline"}
    for rule in d["rules"]:
        if rule["value"] is not None and rule["passed"]:
            assert rule["outcome"] == "approve"
    assert d["provenance"]["seed"] == 7 and d["provenance"]["synthetic"] is False

    # the same request again: identical apart from id and time
    status, out2, _ = run_cli(
        capsys, "--cube", str(merra2_cube), "--request", str(req), "--json", "--paths", "2000"
    )
    d2 = json.loads(out2)
    for obj in (d, d2):
        del obj["id"], obj["provenance"]["created_at"]
    assert d == d2


@pytest.mark.slow
def test_table_and_cube_from_environment(
    merra2_cube: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLIMATE_LOAN_CUBE", str(merra2_cube))
    req = write(tmp_path, with_change(WIND_REQUEST, "finance.loan_amount", 5e8))
    status, out, err = run_cli(capsys, "--request", str(req), "--paths", "500")
    assert status == 0, err
    assert "Decision    DECLINE" in out
    assert "dscr_p50" in out and "FAIL -> decline" in out
    assert "DSCR_P50_BELOW_ONE" in out
    assert "P50" in out and "PD annual" in out
    # the drivers and the sensitivity table, with every case and the break-even values
    assert "Drivers     curtailment 6 %" in out
    for label in ("Base case", "σ_model −50 %", "Curtailment +10 points", "DSRA 12 months"):
        assert label in out
    assert "Break-even  tariff" in out and "binding rule" in out


@pytest.mark.slow
def test_site_outside_coverage_one_line(
    merra2_cube: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    req = write(tmp_path, with_change(WIND_REQUEST, "site", {"lat": 44.0, "lon": 87.3}))
    status, out, err = run_cli(capsys, "--cube", str(merra2_cube), "--request", str(req))
    assert status == 2 and out == ""
    assert err.count("\n") == 1
    assert "site (44.0000, 87.3000) is outside the data: the nearest cell" in err


@pytest.mark.slow
def test_solar_on_wind_only_cube(
    merra2_cube: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    req = write(tmp_path, with_change(SOLAR_REQUEST, "site", WIND_REQUEST["site"]))
    status, _, err = run_cli(capsys, "--cube", str(merra2_cube), "--request", str(req))
    assert status == 2 and "no solar radiation" in err


# ------------------------------------------------------------------ project cost -> scorecard


def test_project_cost_reaches_the_model_inputs() -> None:
    req = with_change(WIND_REQUEST, "finance.project_cost", 80_000_000)
    assert to_model_inputs(parse_request(req)).project_cost == 80_000_000
    assert to_model_inputs(parse_request(WIND_REQUEST)).project_cost is None


def test_project_cost_below_loan_is_refused() -> None:
    req = with_change(WIND_REQUEST, "finance.project_cost", 50_000_000)
    with pytest.raises(UsageError, match=r"finance: .*project_cost .* is below loan_amount"):
        parse_request(req)


def test_cli_scorecard_pd_needs_project_cost(
    cube_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The shipped scorecard uses leverage = loan / project cost: without the cost its PD is
    # null with a note; with it, a number (the synthetic cube has sunshine for the other feature).
    base = with_change(WIND_REQUEST, "site", {"lat": 44.0, "lon": 87.3})
    models_dir = str(tmp_path / "models")
    for cost, expect_pd in ((None, False), (100_000_000, True)):
        req = base if cost is None else with_change(base, "finance.project_cost", cost)
        status, out, err = run_cli(
            capsys,
            "--cube",
            str(cube_path),
            "--request",
            str(write(tmp_path, req)),
            "--json",
            "--paths",
            "500",
            "--models-dir",
            models_dir,
        )
        assert status == 0, err
        rep = json.loads(out)["repayment"]
        assert (rep["pd_scorecard"] is not None) is expect_pd
        if expect_pd:
            assert 0.0 < rep["pd_scorecard"] < 1.0
            assert rep["scorecard"]["features"]["leverage"] == pytest.approx(0.6, abs=1e-9)
