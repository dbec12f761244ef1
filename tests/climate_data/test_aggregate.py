"""Tests for climate_data.aggregate: calendar coverage, flagged means and sums, trailing means."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from climate_data import aggregate

DATA = (
    Path(__file__).resolve().parents[1] / "data" / "merra2_ireland_2x2_hourly_2000_2017_subset.nc"
)


def hourly(start: str, end: str, value: float = 1.0, cells: int = 0) -> xr.DataArray:
    """Hourly series from start to end inclusive (optionally with a 'cell' dim)."""
    t = pd.date_range(start, end, freq="h")
    if cells:
        data = np.full((t.size, cells), value)
        return xr.DataArray(data, dims=("time", "cell"), coords={"time": t})
    return xr.DataArray(np.full(t.size, value), dims="time", coords={"time": t}, name="x")


# ---------------------------------------------------------------------------------------------
# coverage
# ---------------------------------------------------------------------------------------------


def test_full_years_have_coverage_one_leap_or_not() -> None:
    da = hourly("2019-01-01T00:00", "2020-12-31T23:00")
    cov = aggregate.coverage(da, "YS")
    np.testing.assert_array_equal(cov["time"].values, pd.to_datetime(["2019-01-01", "2020-01-01"]))
    np.testing.assert_allclose(cov.values, [1.0, 1.0], rtol=0, atol=1e-15)


def test_missing_time_steps_lower_coverage() -> None:
    da = hourly("2019-01-01T00:00", "2019-12-31T23:00")
    da = da.drop_isel(time=np.arange(100, 110))  # ten time steps absent from the file
    cov = aggregate.coverage(da, "YS")
    assert cov.item() == pytest.approx((8760 - 10) / 8760, rel=1e-12)


def test_nan_values_lower_coverage_per_cell() -> None:
    da = hourly("2020-02-01T00:00", "2020-02-29T23:00", cells=2)  # leap February, 696 h
    da[:48, 1] = np.nan
    cov = aggregate.coverage(da, "MS")
    np.testing.assert_allclose(cov.values, [[1.0, (696 - 48) / 696]], rtol=1e-12)


def test_partial_year_at_end_has_low_coverage_on_merra() -> None:
    # The MERRA-2 subset ends 2017-06-30T23:00: 4344 of 8760 hours of 2017.
    with xr.open_dataset(DATA) as ds:
        cov = aggregate.coverage(ds["ws50m"], "YS")
    assert cov.sizes["time"] == 18
    np.testing.assert_allclose(cov.isel(time=slice(0, 17)).values, 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(cov.isel(time=-1).values, 4344 / 8760, rtol=1e-12)


def test_empty_month_inside_the_record_has_coverage_zero() -> None:
    da = hourly("2019-01-01T00:00", "2019-04-30T23:00")
    da = da.where(da["time.month"] != 2, drop=True)  # February missing from the file
    cov = aggregate.coverage(da, "MS")
    np.testing.assert_allclose(cov.values, [1.0, 0.0, 1.0, 1.0], rtol=0, atol=1e-15)


def test_hour_ending_labels_hour_by_its_middle() -> None:
    # Fluxes for the hours ending 2019-01-01T01:00 ... 2020-01-01T00:00 are exactly year 2019.
    da = hourly("2019-01-01T01:00", "2020-01-01T00:00")
    cov = aggregate.coverage(da, "YS", hour_ending=True)
    assert cov.sizes["time"] == 1
    assert pd.Timestamp(cov["time"].values[0]) == pd.Timestamp("2019-01-01")
    assert cov.item() == pytest.approx(1.0, abs=1e-15)
    # The same timestamps read as instantaneous put the last one into 2020.
    inst = aggregate.coverage(da, "YS")
    np.testing.assert_allclose(inst.values, [8759 / 8760, 1 / 8784], rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    n_hours=st.integers(1, 24 * 70),
    start_hour=st.integers(0, 24 * 365),
    drop_frac=st.floats(0.0, 0.9),
    nan_frac=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
    freq=st.sampled_from(["YS", "MS"]),
    hour_ending=st.booleans(),
)
def test_coverage_lies_in_unit_interval(
    n_hours: int,
    start_hour: int,
    drop_frac: float,
    nan_frac: float,
    seed: int,
    freq: str,
    hour_ending: bool,
) -> None:
    rng = np.random.default_rng(seed)
    t = pd.date_range("2019-01-01", periods=n_hours, freq="h") + pd.Timedelta(hours=start_hour)
    keep = rng.random(n_hours) >= drop_frac
    keep[0] = True
    t = t[keep]
    values = np.where(rng.random(t.size) < nan_frac, np.nan, 1.0)
    da = xr.DataArray(values, dims="time", coords={"time": t})
    cov = aggregate.coverage(da, freq, hour_ending=hour_ending)
    assert bool(((cov >= 0.0) & (cov <= 1.0)).all())
    # total valid hours are conserved across periods
    expected = np.diff(
        pd.date_range(cov["time"].values[0], periods=cov.sizes["time"] + 1, freq=freq)
    ) / np.timedelta64(1, "h")
    assert float((cov * expected).sum()) == pytest.approx(float(np.isfinite(values).sum()))


# ---------------------------------------------------------------------------------------------
# period_mean / period_sum
# ---------------------------------------------------------------------------------------------


def test_period_mean_flags_and_withholds_low_coverage() -> None:
    da = hourly("2019-01-01T00:00", "2019-02-28T23:00", value=5.0)
    da.attrs = {"units": "m s-1"}
    da.loc["2019-02-01":"2019-02-05"] = np.nan  # 120 of 672 h missing
    da.loc["2019-01-01T00:00":"2019-01-01T09:00"] = 1.0
    out = aggregate.period_mean(da, "MS", 0.9)
    assert set(out.data_vars) == {"mean", "coverage", "flag"}
    np.testing.assert_allclose(out["coverage"].values, [1.0, (672 - 120) / 672], rtol=1e-12)
    np.testing.assert_array_equal(out["flag"].values, [False, True])
    expected_jan = (10 * 1.0 + (744 - 10) * 5.0) / 744
    assert float(out["mean"][0]) == pytest.approx(expected_jan, rel=1e-12)
    assert np.isnan(float(out["mean"][1]))
    assert out["mean"].attrs["units"] == "m s-1"
    # With a threshold the period meets, February's mean is of its valid hours only.
    loose = aggregate.period_mean(da, "MS", 0.5)
    assert float(loose["mean"][1]) == pytest.approx(5.0, rel=1e-12)


def test_period_sum_of_all_nan_period_is_nan_not_zero() -> None:
    da = hourly("2019-01-01T00:00", "2019-03-31T23:00", value=0.5)
    da.loc["2019-02"] = np.nan
    out = aggregate.period_sum(da, "MS", 0.0)  # threshold 0: nothing is flagged
    assert not bool(out["flag"].any())
    assert float(out["sum"][0]) == pytest.approx(0.5 * 744, rel=1e-12)
    assert np.isnan(float(out["sum"][1]))  # xarray's plain .sum() would give 0 (GH 2230)
    assert float(out["sum"][2]) == pytest.approx(0.5 * 744, rel=1e-12)


def test_period_sum_scaled_to_period_is_explicit() -> None:
    da = hourly("2019-04-01T00:00", "2019-04-30T23:00", value=2.0)  # 720 h
    da[:36] = np.nan
    raw = aggregate.period_sum(da, "MS", 0.9)
    scaled = aggregate.period_sum(da, "MS", 0.9, scale_to_period=True)
    assert raw["sum"].item() == pytest.approx(2.0 * 684, rel=1e-12)
    assert scaled["sum"].item() == pytest.approx(2.0 * 720, rel=1e-12)
    assert "scaled" in scaled["sum"].attrs["cell_methods"]


def test_period_mean_on_dask_is_lazy_and_equal() -> None:
    with xr.open_dataset(DATA) as ds:
        ws = ds["ws50m"].sel(time=slice("2015", "2017")).astype(np.float64).load()
    eager = aggregate.period_mean(ws, "MS", 0.9, hour_ending=True)
    lazy = aggregate.period_mean(ws.chunk(time=2000), "MS", 0.9, hour_ending=True)
    assert lazy["mean"].chunks is not None
    xr.testing.assert_allclose(lazy.compute(), eager)


def test_bad_arguments_raise() -> None:
    da = hourly("2019-01-01", "2019-01-02")
    with pytest.raises(ValueError, match="freq"):
        aggregate.coverage(da, "D")
    with pytest.raises(ValueError, match="min_coverage"):
        aggregate.period_mean(da, "YS", 95.0)
    with pytest.raises(ValueError, match="no dimension"):
        aggregate.coverage(da.rename(time="t"), "YS")


# ---------------------------------------------------------------------------------------------
# trailing_mean
# ---------------------------------------------------------------------------------------------


def test_trailing_mean_skips_incomplete_years() -> None:
    annual = np.array([6.0, 7.0, 8.0, 9.0, 100.0])
    complete = np.array([True, True, True, True, False])
    assert aggregate.trailing_mean(annual, complete) == pytest.approx(8.0, rel=1e-15)
    assert aggregate.trailing_mean(annual, complete, n=2) == pytest.approx(8.5, rel=1e-15)
    gap = np.array([True, False, True, True, False])
    assert aggregate.trailing_mean(annual, gap) == pytest.approx((6.0 + 8.0 + 9.0) / 3, rel=1e-15)


def test_trailing_mean_needs_n_complete_years() -> None:
    annual = np.array([6.0, 7.0, 8.0])
    assert np.isnan(aggregate.trailing_mean(annual, np.array([True, False, True])))
    # a complete year with a NaN value is not filled
    assert np.isnan(aggregate.trailing_mean(np.array([6.0, np.nan, 8.0]), np.ones(3, bool)))
    with pytest.raises(ValueError, match="shape"):
        aggregate.trailing_mean(annual, np.ones(2, bool))


def test_trailing_mean_per_cell_dataarray_matches_numpy() -> None:
    rng = np.random.default_rng(5)
    values = rng.uniform(5.0, 9.0, size=(3, 4, 8))  # lat, lon, year
    mask = rng.random(values.shape) > 0.3
    da = xr.DataArray(values, dims=("lat", "lon", "time"))
    got = aggregate.trailing_mean(da, xr.DataArray(mask, dims=da.dims))
    assert got.dims == ("lat", "lon")
    for i in range(3):
        for j in range(4):
            want = aggregate.trailing_mean(values[i, j], mask[i, j])
            np.testing.assert_equal(got.values[i, j], want)
    lazy = aggregate.trailing_mean(da.chunk(lat=1), xr.DataArray(mask, dims=da.dims))
    np.testing.assert_array_equal(lazy.values, got.values)


@settings(max_examples=100, deadline=None)
@given(
    value=st.floats(-1e6, 1e6),
    mask=st.lists(st.booleans(), min_size=1, max_size=40),
    n=st.integers(1, 5),
)
def test_trailing_mean_of_constant_series_is_the_constant(
    value: float, mask: list[bool], n: int
) -> None:
    m = np.array(mask)
    got = aggregate.trailing_mean(np.full(m.size, value), m, n=n)
    if m.sum() >= n:
        assert got == pytest.approx(value, rel=1e-12, abs=1e-9)
    else:
        assert np.isnan(got)
