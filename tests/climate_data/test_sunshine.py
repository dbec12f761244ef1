"""Tests for climate_data.sunshine: WMO rule, fractional rule, and measured biases on TMY3 data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pvlib
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from climate_data import sunshine

PVLIB_DATA = Path(pvlib.__file__).parent / "data"


def series(values: np.ndarray, start: str = "2021-06-21T01:00") -> xr.DataArray:
    t = pd.date_range(start, periods=len(values), freq="h")
    return xr.DataArray(np.asarray(values, dtype=float), dims="time", coords={"time": t})


def test_from_duration() -> None:
    got = sunshine.sunshine_from_duration(
        series(np.array([0.0, 1800.0, 3600.0, 3601.0, -0.5, np.nan]))
    )
    np.testing.assert_allclose(got.values, [0.0, 0.5, 1.0, 1.0, 0.0, np.nan], rtol=0, atol=1e-15)
    assert got.attrs["units"] == "h"


def test_from_dni_count_and_fraction() -> None:
    dni = series(np.array([0.0, 95.9, 96.0, 119.9, 120.0, 144.0, 800.0, np.nan]))
    count = sunshine.sunshine_from_dni(dni, method="count")
    np.testing.assert_array_equal(count.values, [0, 0, 0, 0, 1, 1, 1, np.nan])
    frac = sunshine.sunshine_from_dni(dni)
    # ramp over the WMO tolerance band 96-144 W m-2 (120 +- 20 %)
    np.testing.assert_allclose(
        frac.values, [0, 0, 0, 23.9 / 48, 0.5, 1, 1, np.nan], rtol=0, atol=1e-12
    )
    with pytest.raises(ValueError, match="method"):
        sunshine.sunshine_from_dni(dni, method="campbell")


@settings(max_examples=100, deadline=None)
@given(
    values=arrays(
        np.float64,
        st.integers(1, 50),
        elements=st.one_of(st.floats(-50.0, 1400.0), st.just(np.nan)),
    )
)
def test_sunshine_lies_in_unit_interval_and_grows_with_dni(values: np.ndarray) -> None:
    dni = series(values)
    for method in ("fraction", "count"):
        s = sunshine.sunshine_from_dni(dni, method=method).values
        ok = np.isfinite(values)
        assert np.array_equal(np.isnan(s), ~ok)
        assert ((s[ok] >= 0.0) & (s[ok] <= 1.0)).all()
        order = np.argsort(values[ok])
        assert (np.diff(s[ok][order]) >= 0.0).all()


def test_ghi_and_beam_methods_keep_nan_and_give_zero_at_night() -> None:
    ghi = series(np.where(np.arange(24) == 10, np.nan, 0.0))
    for got in (
        sunshine.sunshine_from_ghi(ghi, 44.0, 87.3),
        sunshine.sunshine_from_ghi(ghi, 44.0, 87.3, method="carpentras"),
        sunshine.sunshine_from_direct_horizontal(ghi, 44.0, 87.3),
    ):
        assert np.isnan(got.values[10])
        np.testing.assert_array_equal(np.delete(got.values, 10), 0.0)


def test_beam_guard_on_low_sun() -> None:
    # 2021-06-21 at (0, 0): the hour ending 19:00 UTC has its middle (18:30) below the
    # horizon; a beam of 10 W m-2 there becomes DNI = 10 / 0.065 = 154 W m-2 -> sunny.
    bhi = series(np.array([10.0]), start="2021-06-21T19:00")
    assert float(sunshine.sunshine_from_direct_horizontal(bhi, 0.0, 0.0, "count")[0]) == 1.0
    bhi_noon = series(np.array([110.0]), start="2021-06-21T12:30")  # sun near zenith
    assert float(sunshine.sunshine_from_direct_horizontal(bhi_noon, 0.0, 0.0, "count")[0]) == 0.0


def test_grid_inputs_stay_lazy() -> None:
    rng = np.random.default_rng(2)
    t = pd.date_range("2021-03-01T01:00", periods=200, freq="h")
    ghi = xr.DataArray(
        rng.uniform(0, 900, (200, 2, 3)),
        dims=("time", "lat", "lon"),
        coords={"time": t, "lat": [30.0, 45.0], "lon": [80.0, 85.0, 90.0]},
    )
    lazy = sunshine.sunshine_from_ghi(ghi.chunk(time=50), ghi["lat"], ghi["lon"])
    assert lazy.chunks is not None
    assert lazy.dims == ("time", "lat", "lon")
    eager = sunshine.sunshine_from_ghi(ghi, ghi["lat"], ghi["lon"])
    np.testing.assert_allclose(lazy.values, eager.values, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Measured biases on the TMY3 files shipped with pvlib (the table in the module docstring).
# Reference: whole hours with the file's hourly DNI >= 120 W m-2. Tolerance 2 h a year.
# ---------------------------------------------------------------------------------------------
BIAS_TOL_H = 2.0
REFERENCE_HOURS = {"723170TYA.CSV": 2710, "703165TY.csv": 1554}
BIASES_H = {
    # method: (Greensboro, Sand Point), annual hours minus reference (measured)
    "dni_fraction": (-6.0, 7.8),
    "beam_spa_fraction": (-30.8, -27.6),
    "beam_spa_count": (-31.0, -34.0),
    "beam_file_fraction": (28.4, -12.5),
    "erbs_fraction": (-226.8, -194.5),
    "erbs_count": (-226.0, -196.0),
    "carpentras": (-242.0, -127.0),
    # the clear-sky-ratio fraction (the cube's "dni_fraction" for fdir): it removes the
    # whole-hour over-count, calibrated to the published 10-13 % (module docstring)
    "clearsky_beam_file": (-362.5, -91.7),
    "clearsky_beam_spa": (-413.5, -106.5),
}


@pytest.fixture(scope="module", params=["723170TYA.CSV", "703165TY.csv"])
def tmy3_case(request: pytest.FixtureRequest) -> tuple[str, dict[str, float]]:
    name: str = request.param
    df, meta = pvlib.iotools.read_tmy3(PVLIB_DATA / name, coerce_year=2001)
    df.index = df.index.tz_convert("UTC").tz_localize(None)
    lat, lon = meta["latitude"], meta["longitude"]
    t = df.index.to_numpy()

    def da(values: np.ndarray) -> xr.DataArray:
        return xr.DataArray(np.asarray(values, dtype=float), dims="time", coords={"time": t})

    dni = df["dni"].to_numpy(dtype=float)
    # beam from the file's DNI with pvlib's SPA zenith at mid-hour (independent geometry)
    mid = pd.DatetimeIndex(df.index) - pd.Timedelta("30min")
    zen = pvlib.solarposition.get_solarposition(mid, lat, lon, altitude=meta["altitude"])
    beam_spa = dni * np.maximum(np.cos(np.radians(zen["zenith"].to_numpy())), 0.0)
    beam_file = np.maximum(df["ghi"].to_numpy(float) - df["dhi"].to_numpy(float), 0.0)
    ghi = da(df["ghi"].to_numpy())
    hours = {
        "reference": float((dni >= 120.0).sum()),
        "dni_count": float(sunshine.sunshine_from_dni(da(dni), "count").sum()),
        "dni_fraction": float(sunshine.sunshine_from_dni(da(dni)).sum()),
        "beam_spa_fraction": float(
            sunshine.sunshine_from_direct_horizontal(da(beam_spa), lat, lon).sum()
        ),
        "beam_spa_count": float(
            sunshine.sunshine_from_direct_horizontal(da(beam_spa), lat, lon, "count").sum()
        ),
        "beam_file_fraction": float(
            sunshine.sunshine_from_direct_horizontal(da(beam_file), lat, lon).sum()
        ),
        "erbs_fraction": float(sunshine.sunshine_from_ghi(ghi, lat, lon).sum()),
        "erbs_count": float(sunshine.sunshine_from_ghi(ghi, lat, lon, dni_method="count").sum()),
        "carpentras": float(sunshine.sunshine_from_ghi(ghi, lat, lon, "carpentras").sum()),
        "clearsky_beam_file": float(
            sunshine.sunshine_from_direct_horizontal(da(beam_file), lat, lon, "clearsky").sum()
        ),
        "clearsky_beam_spa": float(
            sunshine.sunshine_from_direct_horizontal(da(beam_spa), lat, lon, "clearsky").sum()
        ),
    }
    return name, hours


def test_reference_hours_and_count_rule(tmy3_case: tuple[str, dict[str, float]]) -> None:
    name, hours = tmy3_case
    assert hours["reference"] == REFERENCE_HOURS[name]
    assert hours["dni_count"] == hours["reference"]


@pytest.mark.parametrize("method", sorted(BIASES_H))
def test_measured_bias_against_reference(
    tmy3_case: tuple[str, dict[str, float]], method: str
) -> None:
    name, hours = tmy3_case
    expected = BIASES_H[method][0 if name == "723170TYA.CSV" else 1]
    bias = hours[method] - hours["reference"]
    assert bias == pytest.approx(expected, abs=BIAS_TOL_H)


def test_beam_route_is_within_a_few_percent_and_ghi_routes_undercount(
    tmy3_case: tuple[str, dict[str, float]],
) -> None:
    _, hours = tmy3_case
    ref = hours["reference"]
    for method in ("dni_fraction", "beam_spa_fraction", "beam_file_fraction"):
        assert abs(hours[method] / ref - 1.0) < 0.025
    for method in ("erbs_fraction", "erbs_count", "carpentras"):
        assert -0.14 < hours[method] / ref - 1.0 < 0.0


def test_clearsky_fraction_removes_the_published_over_count(
    tmy3_case: tuple[str, dict[str, float]],
) -> None:
    # Whole-hour counting over-counts by 10-13 % against 1-minute DNI (WMO-No. 8 practice;
    # see the module docstring). The calibrated clear-sky-ratio fraction lands within 6 % of
    # the whole-hour count / 1.115 on both files (measured -3.4 % Greensboro, +4.9 % Sand
    # Point) and always below the whole-hour count.
    _, hours = tmy3_case
    target = hours["reference"] / 1.115
    assert abs(hours["clearsky_beam_file"] / target - 1.0) < 0.06
    assert hours["clearsky_beam_file"] < hours["reference"]


def test_clearsky_fraction_values() -> None:
    # DNI at 0.83 x the clear-sky DNI (Ineichen, Linke 3, sea level) and above is sunny the
    # whole hour, half of it half an hour; NaN stays NaN; no beam, no sunshine.
    t0 = "2021-03-21T12:30"  # hour ending 12:30 UTC: middle at 12:00, near solar noon at 0 E
    clear = sunshine._clearsky_fraction_np(np.array([1e4]), np.array([10.0]), np.array([80.0]))
    assert float(clear[0]) == 1.0
    bhi = series(np.array([0.0, np.nan]), start=t0)
    got = sunshine.sunshine_from_direct_horizontal(bhi, 0.0, 0.0, "clearsky").values
    assert got[0] == 0.0 and np.isnan(got[1])
    pvlib_clear = pvlib.clearsky.ineichen(
        10.0,
        pvlib.atmosphere.get_absolute_airmass(pvlib.atmosphere.get_relative_airmass(10.0)),
        3.0,
        altitude=0.0,
        dni_extra=pvlib.irradiance.get_extra_radiation(80),
    )["dni"]
    half = 0.5 * sunshine.CLEARSKY_SCALE * float(pvlib_clear)
    got_half = sunshine._clearsky_fraction_np(np.array([half]), np.array([10.0]), np.array([80.0]))
    assert float(got_half[0]) == pytest.approx(0.5, rel=1e-12)


BSRN_HOURLY = (
    Path(__file__).resolve().parents[1] / "data" / ("bsrn_payerne_2016-06_hourly_from_1min.csv")
)
PAYERNE = (46.815, 6.944)

# Bias against one-minute truth (hours, percent), BSRN Payerne June 2016 (module docstring of
# climate_data.sunshine, "Measured against one-minute DNI").
MINUTE_BIASES = {
    "count": (20.1, 14.9),
    "fraction": (20.6, 15.3),
    "dni_fraction": (-5.3, -3.9),
    "ghi_erbs_fraction": (24.2, 17.9),
    "carpentras": (16.1, 11.9),
}


@pytest.fixture(scope="module")
def payerne() -> tuple[pd.DataFrame, dict[str, xr.DataArray]]:
    raw = pd.read_csv(BSRN_HOURLY, comment="#", parse_dates=["time_end_utc"])
    whole = (raw[["minutes_ghi", "minutes_dni", "minutes_dhi"]] == 60).all(axis=1)
    h = raw[whole].reset_index(drop=True)

    def da(col: pd.Series) -> xr.DataArray:
        t = pd.DatetimeIndex(h["time_end_utc"]).to_numpy()
        return xr.DataArray(col.to_numpy(float), dims="time", coords={"time": t})

    lat, lon = PAYERNE
    beam = da((h["ghi"] - h["dhi"]).clip(lower=0.0))
    est = {
        "count": sunshine.sunshine_from_dni(da(h["dni"]), method="count"),
        "fraction": sunshine.sunshine_from_dni(da(h["dni"]), method="fraction"),
        "dni_fraction": sunshine.sunshine_from_direct_horizontal(beam, lat, lon, "clearsky"),
        "ghi_erbs_fraction": sunshine.sunshine_from_ghi(da(h["ghi"]), lat, lon, "erbs"),
        "carpentras": sunshine.sunshine_from_ghi(da(h["ghi"]), lat, lon, "carpentras"),
    }
    return h, est


def test_bsrn_truth_is_the_minute_count(
    payerne: tuple[pd.DataFrame, dict[str, xr.DataArray]],
) -> None:
    h, _ = payerne
    assert len(h) == 463
    assert h["sunshine_minutes"].sum() / 60 == pytest.approx(134.95, abs=1e-9)
    # a sunny minute carries DNI >= 120 W m-2, so the hour's mean DNI is at least
    # 120 x (sunny minutes / 60) whatever the other minutes hold (DNI >= 0 up to noise)
    assert (h["dni"] >= 120 * h["sunshine_minutes"] / 60 - 0.5).all()


@pytest.mark.parametrize("method", sorted(MINUTE_BIASES))
def test_measured_bias_against_one_minute_dni(
    payerne: tuple[pd.DataFrame, dict[str, xr.DataArray]], method: str
) -> None:
    h, est = payerne
    truth = h["sunshine_minutes"].to_numpy(float) / 60
    got = est[method].values
    assert np.isfinite(got).all()
    bias_h = float(got.sum() - truth.sum())
    hours, pct = MINUTE_BIASES[method]
    assert bias_h == pytest.approx(hours, abs=0.1)
    assert 100 * bias_h / truth.sum() == pytest.approx(pct, abs=0.1)
    if method in sunshine.MINUTE_DATA_BIAS_PCT:  # what the site climate reports
        assert sunshine.MINUTE_DATA_BIAS_PCT[method] == pytest.approx(pct, abs=0.05)


def test_clear_sky_fraction_beats_whole_hour_counting_on_minute_data(
    payerne: tuple[pd.DataFrame, dict[str, xr.DataArray]],
) -> None:
    h, est = payerne
    truth = h["sunshine_minutes"].to_numpy(float) / 60
    over = est["count"].values.sum() / truth.sum() - 1
    assert 0.10 <= over <= 0.20  # the whole-hour over-count the issue reports (about 15 %)
    mae = {m: float(np.abs(est[m].values - truth).mean()) for m in ("count", "dni_fraction")}
    assert mae["dni_fraction"] == pytest.approx(0.0364, abs=0.001)
    assert mae["dni_fraction"] < 0.5 * mae["count"]
    assert abs(est["dni_fraction"].values.sum() / truth.sum() - 1) <= 0.05
    assert sunshine.MINUTE_DATA_BIAS_PCT["era5_sund"] is None
    # each half of the month (docstring): -8.7 % (1-15 June) and -2.6 % (16-30 June)
    first = pd.DatetimeIndex(h["time_end_utc"]).day.to_numpy() <= 15
    for part, pct in ((first, -8.7), (~first, -2.6)):
        bias = est["dni_fraction"].values[part].sum() / truth[part].sum() - 1
        assert 100 * bias == pytest.approx(pct, abs=0.1)
