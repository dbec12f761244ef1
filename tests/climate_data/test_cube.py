"""Indicator cube: build, reopen, and compare site queries with direct hourly computations."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from climate_data import sunshine
from climate_data.cube import CUBE_SCHEMA_VERSION, Cube, build_cube, haversine_km
from climate_data.errors import CubeFormatError, SiteOutsideCoverage
from climate_data.site import YEAR_COVERAGE_MIN


def _raw(paths: list[Path]) -> xr.Dataset:
    """The sample files read directly with xarray, independently of the reader."""
    ds = xr.open_mfdataset(paths, combine="by_coords", decode_timedelta=False)
    ds = ds.drop_vars(["expver", "number"], errors="ignore")
    return ds.rename({"valid_time": "time", "latitude": "lat", "longitude": "lon"}).load()


def test_cube_attributes_and_layout(small_cube: Path, small_sample: list[Path]) -> None:
    with xr.open_dataset(small_cube) as ds:
        assert ds.attrs["cube_schema_version"] == CUBE_SCHEMA_VERSION
        assert ds.attrs["synthetic"] == "true"
        assert ds.attrs["reference_height_m"] == 100.0
        sources = json.loads(ds.attrs["source_files"])
        assert [s["path"] for s in sources] == [p.name for p in small_sample]
        assert all(len(s["sha256"]) == 64 for s in sources)
        assert list(ds["year"].values) == [2019, 2020, 2021, 2022]
        assert ds.sizes["month"] == 48
        assert list(ds["lat"].values) == [43.5, 44.0, 44.5]  # ascending
        # every valid hour lands in exactly one bin
        np.testing.assert_allclose(
            ds["wind_speed_hist"].sum("wind_bin").values,
            ds["coverage"].values * np.array([8760, 8784, 8760, 8760])[:, None, None],
            rtol=1e-12,
        )
    assert not list(small_cube.parent.glob("*.part"))


def test_site_matches_direct_hourly_computation(small_cube: Path, small_sample: list[Path]) -> None:
    raw = _raw(small_sample)
    cube = Cube.open(small_cube)
    site = cube.site(44.02, 87.31)
    assert (site.cell_lat, site.cell_lon) == (44.0, 87.3)
    cell = raw.sel(lat=44.0, lon=87.3)
    ws100 = np.hypot(cell.u100.astype(float), cell.v100.astype(float))
    annual = ws100.groupby("time.year").mean().values
    np.testing.assert_allclose(site.wind_mean_ms, annual, rtol=1e-7)
    monthly = ws100.resample(time="MS").mean().values
    np.testing.assert_allclose(site.monthly_wind_mean_ms, monthly, rtol=1e-7)
    # (float32 input summed in float64 in different orders: agreement to 1e-7 relative)
    # shear exponent from the two heights' long-term means
    ws10 = np.hypot(cell.u10.astype(float), cell.v10.astype(float))
    alpha = math.log(float(ws100.mean()) / float(ws10.mean())) / math.log(10.0)
    assert site.shear_exponent == pytest.approx(alpha, rel=1e-9)
    assert site.shear_from_data
    # irradiation: each hourly flux belongs to the year of the middle of its hour
    label = (cell.time - pd.Timedelta("30min")).dt.year
    ghi = (cell.ssrd.astype(float) / 3600.0 / 1000.0).groupby(label).sum()
    expected = ghi.sel(year=[2019, 2020, 2021, 2022]).values
    np.testing.assert_allclose(site.ghi_kwh_m2, expected, rtol=1e-7)
    # sunshine: the file has ERA5's sund, passed through exactly: seconds summed / 3600
    sun_year = (cell.sund.astype(float) / 3600.0).groupby(label).sum()
    np.testing.assert_allclose(
        site.sunshine_hours, sun_year.sel(year=[2019, 2020, 2021, 2022]).values, rtol=1e-7
    )
    assert site.sunshine_method == "era5_sund"
    assert site.summary()["solar"]["sunshine_method_bias_pct"] is None  # ECMWF's, not measured
    assert site.pv_transposition == "perez"


def test_sample_statistics_are_realistic(small_cube: Path) -> None:
    cube = Cube.open(small_cube)
    s = cube.site(44.0, 87.3).summary(100.0)
    assert 2600.0 <= s["solar"]["mean_sunshine_hours"] <= 3000.0
    assert 0.01 <= s["wind"]["iav"] <= 0.08
    assert 1.7 <= s["wind"]["weibull_k"] <= 2.4
    assert all(1.0 <= v <= 1.35 for v in cube.site(44.0, 87.3).air_density_kg_m3)


def test_summary_contract_fields(small_cube: Path) -> None:
    s = Cube.open(small_cube).site(44.0, 87.3).summary(120.0)
    assert set(s) == {"site", "cell", "dataset", "wind", "solar", "coverage"}
    assert s["dataset"]["synthetic"] is True
    assert s["wind"]["height_m"] == 120.0
    assert s["wind"]["trailing_3y_years"] == [2020, 2021, 2022]
    means = [s["wind"]["annual_mean_ms"][str(y)] for y in (2020, 2021, 2022)]
    assert s["wind"]["trailing_3y_mean_ms"] == pytest.approx(np.mean(means), abs=2e-3)
    assert set(s["coverage"]) == {"2019", "2020", "2021", "2022"}
    json.dumps(s, allow_nan=False)


def test_hub_height_scaling_uses_power_law(small_cube: Path) -> None:
    site = Cube.open(small_cube).site(44.0, 87.3)
    s100 = site.summary(100.0)["wind"]["long_term_mean_ms"]
    s150 = site.summary(150.0)["wind"]["long_term_mean_ms"]
    assert s150 == pytest.approx(s100 * 1.5**site.shear_exponent, rel=1e-3)


def test_site_outside_coverage_names_nearest_cell(small_cube: Path) -> None:
    cube = Cube.open(small_cube)
    with pytest.raises(SiteOutsideCoverage) as err:
        cube.site(30.0, 87.3)
    assert err.value.cell_lat == 43.5 and err.value.cell_lon == 87.3
    assert "43.5000, 87.3000" in str(err.value) and "km away" in str(err.value)
    assert err.value.distance_km == pytest.approx(haversine_km(30.0, 87.3, 43.5, 87.3))
    # just inside the tolerance (1.5 grid spacings) still answers
    edge_km = cube.tolerance_km * 0.99
    lat = 43.5 - edge_km / 111.195
    assert cube.site(lat, 87.3).cell_lat == 43.5


@settings(max_examples=200, deadline=None)
@given(lat=st.floats(43.0, 45.0), lon=st.floats(86.3, 88.3))
def test_nearest_cell_is_nearest(small_cube_obj: Cube, lat: float, lon: float) -> None:
    _, _, d = small_cube_obj.nearest(lat, lon)
    all_d = [
        haversine_km(lat, lon, float(a), float(b))
        for a in small_cube_obj.lats
        for b in small_cube_obj.lons
    ]
    assert d == pytest.approx(min(all_d), abs=1e-9)


@pytest.fixture(scope="module")
def small_cube_obj(small_cube: Path) -> Cube:
    return Cube.open(small_cube)


def test_incomplete_year_is_null_and_excluded(small_sample: list[Path], tmp_path: Path) -> None:
    # Remove six weeks of 2022 wind: the year falls below the coverage rule.
    src = xr.open_dataset(small_sample[-1]).load()
    gap = (src.valid_time >= np.datetime64("2022-03-01")) & (
        src.valid_time < np.datetime64("2022-04-12")
    )
    for v in ("u100", "v100", "u10", "v10"):
        src[v] = src[v].where(~gap)
    damaged = tmp_path / "era5_sample_2022.nc"
    src.to_netcdf(damaged)
    out = build_cube([*small_sample[:-1], damaged], tmp_path / "gap.nc", progress=False)
    site = Cube.open(out).site(44.0, 87.3)
    assert site.coverage[-1] < YEAR_COVERAGE_MIN
    s = site.summary(100.0)
    assert s["wind"]["annual_mean_ms"]["2022"] is None
    assert s["wind"]["trailing_3y_years"] == [2019, 2020, 2021]
    assert s["solar"]["annual_sunshine_hours"]["2022"] is None
    assert s["coverage"]["2022"] == pytest.approx(1.0 - 42 * 24 / 8760, abs=1e-4)


def test_real_merra2_node_statistics(merra2_cube: Path) -> None:
    # Reference: independent numpy/scipy computation on the raw MERRA-2 file (tests/data).
    cube = Cube.open(merra2_cube)
    site = cube.site(53.5, -5.625)
    s = site.summary(50.0)
    assert site.shear_from_data is False  # one height only: default exponent, flagged
    assert s["wind"]["annual_mean_ms"]["2017"] is None  # half a year
    full = [y for y in range(2000, 2017)]
    lt = np.mean([s["wind"]["annual_mean_ms"][str(y)] for y in full])
    assert lt == pytest.approx(7.7011, abs=6e-4)  # table gives 4 decimals; we round per-year to 3
    assert s["wind"]["trailing_3y_years"] == [2014, 2015, 2016]
    assert s["wind"]["trailing_3y_mean_ms"] == pytest.approx(7.7729, abs=1e-3)
    assert s["wind"]["iav"] == pytest.approx(0.0406, abs=1e-4)
    # binned MLE (0.25 m/s bins) against MLE on the hours: within 1 %
    assert site.weibull_k == pytest.approx(2.2225, rel=0.01)
    assert site.weibull_c_ms == pytest.approx(8.6993, rel=0.01)
    # density from real T (degC) and p (hPa) converted by the reader
    assert 1.17 < float(np.nanmean(site.air_density_kg_m3)) < 1.27


def test_open_rejects_non_cube(tmp_path: Path) -> None:
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"not a netcdf file")
    with pytest.raises(CubeFormatError, match=r"junk\.nc"):
        Cube.open(junk)
    with pytest.raises(CubeFormatError, match="no such cube"):
        Cube.open(tmp_path / "missing.nc")
    raw = tmp_path / "raw.nc"
    xr.Dataset({"x": ("t", [1.0])}).to_netcdf(raw)
    with pytest.raises(CubeFormatError, match="schema version"):
        Cube.open(raw)


def test_map_layers(small_cube: Path) -> None:
    cube = Cube.open(small_cube)
    layer = cube.layer("trailing_3y_wind_ms", 100.0)
    assert layer.shape == (3, 3)
    site = cube.site(44.0, 87.3).summary(100.0)
    assert float(layer.sel(lat=44.0, lon=87.3)) == pytest.approx(
        site["wind"]["trailing_3y_mean_ms"], abs=1e-3
    )
    iav = cube.layer("iav")
    assert float(iav.sel(lat=44.0, lon=87.3)) == pytest.approx(site["wind"]["iav"], abs=1e-4)
    with pytest.raises(ValueError, match="unknown map layer"):
        cube.layer("rainfall")


def test_radiation_gap_makes_solar_year_incomplete(
    small_sample: list[Path], tmp_path: Path
) -> None:
    # Six weeks of 2021 radiation missing, wind intact: the year stays complete for wind,
    # is null in every solar figure, and the solar energy model leaves it out.
    from models.solar import SolarProject, solar_energy

    src = xr.open_dataset(small_sample[2]).load()
    gap = (src.valid_time >= np.datetime64("2021-05-01")) & (
        src.valid_time < np.datetime64("2021-06-12")
    )
    for v in ("ssrd", "fdir"):
        src[v] = src[v].where(~gap)
    damaged = tmp_path / "era5_sample_2021.nc"
    src.to_netcdf(damaged)
    paths = [*small_sample[:2], damaged, *small_sample[3:]]
    site = Cube.open(build_cube(paths, tmp_path / "solar_gap.nc", progress=False)).site(44.0, 87.3)
    assert site.solar_coverage is not None
    assert site.solar_coverage[2] == pytest.approx(1.0 - 42 * 24 / 8760, abs=2e-4)
    assert list(site.complete) == [True, True, True, True]
    assert list(site.solar_complete) == [True, True, False, True]
    s = site.summary(100.0)
    assert s["wind"]["annual_mean_ms"]["2021"] is not None
    assert s["solar"]["annual_sunshine_hours"]["2021"] is None
    assert s["solar"]["annual_ghi_kwh_m2"]["2021"] is None
    energy = solar_energy(site, SolarProject(capacity_mw=10.0))
    assert list(energy.complete) == [True, True, False, True]
    assert energy.to_dict()["annual_mwh"]["2021"] is None


def test_calendar_hours_of_site_periods(small_cube_obj: Cube) -> None:
    site = small_cube_obj.site(44.0, 87.3)
    np.testing.assert_array_equal(site.year_hours, [8760.0, 8784.0, 8760.0, 8760.0])
    assert site.month_hours[1] == 28 * 24 and site.month_hours[13] == 29 * 24  # Feb 2019, 2020
    assert site.month_hours.sum() == site.year_hours.sum()


def test_real_merra2_site_wind_trend(merra2_cube: Path) -> None:
    # The site-climate object reports Sen's slope [% per decade] and the Mann-Kendall p-value
    # of the complete years' annual means; scipy on the same years gives the same figures, and
    # the percentage does not depend on the height the summary is read at.
    from scipy.stats import kendalltau, theilslopes

    site = Cube.open(merra2_cube).site(53.5, -5.625)
    s = site.summary(50.0)["wind"]
    years = site.years[site.complete]
    means = site.wind_mean_ms[site.complete]
    assert years.size == 17
    sen = theilslopes(means, years).slope
    assert s["trend_pct_per_decade"] == pytest.approx(1000 * sen / means.mean(), abs=5e-4)
    assert s["trend_p_value"] == pytest.approx(kendalltau(years, means).pvalue, abs=5e-5)
    assert site.summary(100.0)["wind"]["trend_pct_per_decade"] == s["trend_pct_per_decade"]


def test_sunshine_from_fdir_when_the_file_has_no_sund(
    small_sample: list[Path], tmp_path: Path
) -> None:
    # Without sund the cube counts the clear-sky-ratio fraction of each hour from fdir and
    # records "dni_fraction"; the figure equals the indicator applied to the hourly series.
    paths = []
    for p in small_sample[:2]:
        with xr.open_dataset(p, decode_timedelta=False) as ds:
            out = tmp_path / p.name
            ds.drop_vars("sund").load().to_netcdf(out)
        paths.append(out)
    cube = Cube.open(build_cube(paths, tmp_path / "fdir.nc", progress=False))
    assert cube.attrs["sunshine_method"] == "dni_fraction"
    site = cube.site(44.0, 87.3)
    assert site.sunshine_method == "dni_fraction"
    assert site.summary()["solar"]["sunshine_method"] == "dni_fraction"
    # its bias measured against one-minute DNI (tests/climate_data/test_sunshine.py)
    assert site.summary()["solar"]["sunshine_method_bias_pct"] == -3.9
    raw = _raw(paths).sel(lat=44.0, lon=87.3)
    label = (raw.time - pd.Timedelta("30min")).dt.year
    fdir = (raw.fdir.astype(float) / 3600.0).expand_dims(lat=[44.0], lon=[87.3], axis=(1, 2))
    sun = sunshine.sunshine_from_direct_horizontal(
        fdir, fdir.lat, fdir.lon, method="clearsky"
    ).isel(lat=0, lon=0)
    expected = sun.groupby(label).sum().sel(year=[2019, 2020]).values
    np.testing.assert_allclose(site.sunshine_hours, expected, rtol=1e-7)


def test_cube_without_the_new_attributes_stays_readable(small_cube: Path, tmp_path: Path) -> None:
    # A v1 cube written before sunshine_method and pv_transposition existed: it opens, its
    # sunshine method is "unrecorded" and its PV yield is taken as Hay-Davies.
    with xr.open_dataset(small_cube) as ds:
        old = ds.load()
    del old.attrs["sunshine_method"], old.attrs["pv_transposition"]
    path = tmp_path / "old.nc"
    old.to_netcdf(path)
    site = Cube.open(path).site(44.0, 87.3)
    assert site.sunshine_method is None
    assert site.summary()["solar"]["sunshine_method"] == "unrecorded"
    assert site.summary()["solar"]["sunshine_method_bias_pct"] is None
    assert site.pv_transposition == "haydavies"
