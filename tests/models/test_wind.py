"""Wind energy: power-curve lookup against windpowerlib, histogram energy against hourly energy."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from windpowerlib import ModelChain, WindTurbine, density, temperature
from windpowerlib import power_output as wpl_power

from climate_data.site import DatasetInfo, SiteClimate
from climate_data.wind import DEFAULT_BIN_EDGES_MS
from models.turbines import PowerCurve, Turbine, get_turbine
from models.wind import (
    STANDARD_AIR_DENSITY_KG_M3,
    Losses,
    WindProject,
    WindProjectError,
    air_density_at_height,
    mean_power_in_bins,
    power_at,
    turbine_count,
    wind_energy,
)

DATA = Path(__file__).resolve().parents[1] / "data"
MERRA2 = DATA / "merra2_ireland_2x2_hourly_2000_2017_subset.nc"
WPL_WARNINGS = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


# --------------------------------------------------------------------------------------------
# Test helper: a SiteClimate built directly from hourly series (no cube needed)
# --------------------------------------------------------------------------------------------


def _period_hours(start: NDArray[np.datetime64], unit: str) -> NDArray[np.float64]:
    nxt = start + np.timedelta64(1, unit)
    return np.asarray(
        (nxt.astype("datetime64[h]") - start.astype("datetime64[h]")).astype(float), dtype=float
    )


def site_from_hourly(
    time: NDArray[np.datetime64],
    speed_ms: NDArray[np.float64],
    density_kg_m3: NDArray[np.float64],
    reference_height_m: float = 50.0,
    shear_exponent: float = 1.0 / 7.0,
    edges_ms: NDArray[np.float64] = DEFAULT_BIN_EDGES_MS,
    pv_yield_kwh_kwp: NDArray[np.float64] | None = None,
) -> SiteClimate:
    """Aggregate hourly wind (and optionally hourly PV yield) into a SiteClimate.

    Histograms use ``np.histogram`` over ``edges_ms`` (independent of the cube's indicator
    code); coverage is the fraction of the calendar period's hours with a finite speed.
    """
    t = np.asarray(time).astype("datetime64[h]")
    ws = np.asarray(speed_ms, dtype=float)
    rho = np.asarray(density_kg_m3, dtype=float)
    ok = np.isfinite(ws)

    def aggregate(
        key: NDArray[np.datetime64], unit: str
    ) -> tuple[NDArray[np.datetime64], dict[str, NDArray[np.float64]]]:
        periods = np.unique(key)
        hist = np.zeros((periods.size, edges_ms.size - 1))
        out = {k: np.full(periods.size, np.nan) for k in ("cov", "mean", "rho", "pv")}
        for i, p in enumerate(periods):
            sel = (key == p) & ok
            hist[i], _ = np.histogram(ws[sel], edges_ms)
            out["cov"][i] = sel.sum() / _period_hours(np.array([p]), unit)[0]
            out["mean"][i] = ws[sel].mean()
            out["rho"][i] = rho[sel].mean()
            if pv_yield_kwh_kwp is not None:
                out["pv"][i] = np.asarray(pv_yield_kwh_kwp)[key == p].sum()
        out["hist"] = hist
        return periods, out

    years, ya = aggregate(t.astype("datetime64[Y]"), "Y")
    months, ma = aggregate(t.astype("datetime64[M]"), "M")
    has_pv = pv_yield_kwh_kwp is not None
    return SiteClimate(
        lat=53.5,
        lon=-5.625,
        cell_lat=53.5,
        cell_lon=-5.625,
        distance_km=0.0,
        dataset=DatasetInfo("test", "0" * 64, False, str(t[0])[:10], str(t[-1])[:10]),
        reference_height_m=reference_height_m,
        years=years.astype(int) + 1970,
        coverage=ya["cov"],
        wind_mean_ms=ya["mean"],
        wind_hist_hours=ya["hist"],
        wind_bin_edges_ms=np.asarray(edges_ms, dtype=float),
        shear_exponent=shear_exponent,
        shear_from_data=False,
        air_density_kg_m3=ya["rho"],
        weibull_k=2.0,
        weibull_c_ms=8.0,
        months=months,
        monthly_coverage=ma["cov"],
        monthly_wind_mean_ms=ma["mean"],
        monthly_wind_hist_hours=ma["hist"],
        monthly_air_density_kg_m3=ma["rho"],
        sunshine_hours=ya["pv"] * 0 + 2000.0 if has_pv else None,
        ghi_kwh_m2=ya["pv"] * 0 + 1500.0 if has_pv else None,
        pv_yield_kwh_kwp=ya["pv"] if has_pv else None,
        monthly_sunshine_hours=ma["pv"] * 0 + 150.0 if has_pv else None,
        monthly_ghi_kwh_m2=ma["pv"] * 0 + 120.0 if has_pv else None,
        monthly_pv_yield_kwh_kwp=ma["pv"] if has_pv else None,
    )


@functools.lru_cache(maxsize=1)
def synthetic_hourly() -> tuple[NDArray[np.datetime64], NDArray[np.float64], NDArray[np.float64]]:
    """Three years of hourly Weibull wind (k 2.1, c 8.5 m/s with a seasonal cycle) and density.

    Realistic features: winter-strong seasonal scale (+-15 %), hour-to-hour persistence
    (AR(1) Gaussian copula, lag-1 correlation 0.95), density 1.225 +- 0.03 kg m-3 seasonally.
    """
    rng = np.random.default_rng(20240611)
    t = np.arange("2019-01-01T00", "2022-01-01T00", dtype="datetime64[h]")
    n = t.size
    z = np.empty(n)
    z[0] = rng.standard_normal()
    eps = rng.standard_normal(n)
    for i in range(1, n):
        z[i] = 0.95 * z[i - 1] + math.sqrt(1 - 0.95**2) * eps[i]
    from scipy.special import ndtr

    u = ndtr(z)
    doy = (t - t.astype("datetime64[Y]")).astype(float) / 24.0
    season = np.cos(2 * np.pi * doy / 365.25)
    c = 8.5 * (1 + 0.15 * season)
    ws = c * (-np.log1p(-u)) ** (1 / 2.1)
    rho = 1.225 + 0.03 * season + 0.01 * rng.standard_normal(n)
    return t, ws, rho


@functools.lru_cache(maxsize=1)
def merra2_node() -> tuple[NDArray[np.datetime64], NDArray[np.float64], NDArray[np.float64]]:
    """MERRA-2 node (53.5 N, 5.625 W): hourly ws50m and air density at 50 m.

    Density: windpowerlib's ideal-gas density at 50 m from surface pressure (ps, hPa) and
    2 m temperature moved to 50 m with its linear gradient (independent of our code).
    """
    with xr.open_dataset(MERRA2) as ds:
        node = ds.sel(latitude=53.5, longitude=-5.625).load()
    t = node["time"].to_numpy()
    ws = node["ws50m"].to_numpy().astype(float)
    t2m_k = node["t2m"].to_numpy().astype(float) + 273.15
    ps_pa = node["ps"].to_numpy().astype(float) * 100.0
    rho50 = np.asarray(density.ideal_gas(ps_pa, 0, 50, temperature.linear_gradient(t2m_k, 2, 50)))
    return t, ws, rho50


def hourly_energy_mwh(
    t: NDArray[np.datetime64],
    ws_hub: NDArray[np.float64],
    rho_hub_by_period: dict[np.datetime64, float],
    unit: str,
    curve: PowerCurve,
) -> dict[np.datetime64, float]:
    """Energy of one turbine per period, hour by hour, with the period's density [MWh]."""
    periods, inverse = np.unique(t.astype(f"datetime64[{unit}]"), return_inverse=True)
    rho_hour = np.array([rho_hub_by_period[p] for p in periods])[inverse]
    power = power_at(ws_hub, curve, rho_hour)
    sums = np.bincount(inverse, weights=np.nan_to_num(power), minlength=periods.size)
    return {p: float(s / 1000.0) for p, s in zip(periods, sums, strict=True)}


# --------------------------------------------------------------------------------------------
# Power-curve lookup: windpowerlib 0.2.2 reference vectors
# --------------------------------------------------------------------------------------------

REF_CURVE = ([4.0, 5.0, 6.0], [300.0, 400.0, 500.0])


def test_power_curve_reference_vector() -> None:
    # windpowerlib 0.2.2 power_curve: v = [2.0, 5.5, 7.0], curve [4, 5, 6] -> [300, 400, 500]
    # gives [0.0, 450.0, 0.0] (zero outside the curve). Tolerance 1e-6 relative.
    got = power_at([2.0, 5.5, 7.0], REF_CURVE)
    np.testing.assert_allclose(got, [0.0, 450.0, 0.0], rtol=1e-6, atol=0)


def test_power_curve_density_reference_vector() -> None:
    # windpowerlib 0.2.2 power_curve_density_correction: same at rho = 1.3 -> [0.0, 461.00290572,
    # 0.0].
    got = power_at([2.0, 5.5, 7.0], REF_CURVE, 1.3)
    np.testing.assert_allclose(got, [0.0, 461.00290572, 0.0], rtol=1e-6, atol=0)


@pytest.mark.parametrize("turbine_type", ["E-126/4200", "V90/2000", "GE130/3200"])
def test_power_at_equals_windpowerlib(turbine_type: str) -> None:
    # windpowerlib's own functions on the same curve (in W): 20,000 random speeds (0-35 m/s,
    # beyond cut-out too) and densities 1.0-1.4 kg m-3. Agreement to 1e-9 relative.
    curve = get_turbine(turbine_type).power_curve
    assert curve is not None
    rng = np.random.default_rng(7)
    v = rng.uniform(0, 35, 20_000)
    rho = rng.uniform(1.0, 1.4, v.size)
    ref_plain = wpl_power.power_curve(v, curve.speeds, curve.powers * 1000) / 1000
    ref_rho = wpl_power.power_curve_density_correction(v, curve.speeds, curve.powers * 1000, rho)
    np.testing.assert_allclose(power_at(v, curve), ref_plain, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(power_at(v, curve, rho), ref_rho / 1000, rtol=1e-9, atol=1e-9)


def test_power_at_broadcasts_and_keeps_nan() -> None:
    curve = get_turbine("E-126/4200").power_curve
    assert curve is not None
    v = np.array([[5.0, np.nan, 30.0]])
    rho = np.array([[1.2], [1.3]])
    out = power_at(v, curve, rho)
    assert out.shape == (2, 3)
    assert np.isnan(out[:, 1]).all()
    assert (out[:, 2] == 0).all()  # beyond cut-out
    assert np.isnan(power_at([8.0], curve, [np.nan])).all()
    assert np.isnan(power_at([np.nan], curve)).all()
    with pytest.raises(ValueError, match="positive and finite"):
        power_at([8.0], curve, 0.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        power_at([8.0], ([4.0, 4.0, 6.0], [1.0, 2.0, 3.0]))


# --------------------------------------------------------------------------------------------
# Bin means and density with height
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rho", [None, 1.15, 1.32])
@pytest.mark.parametrize("width", [0.5, 1.0])
def test_mean_power_in_bins_equals_numerical_average(rho: float | None, width: float) -> None:
    # Independent check: the average of power_at over 4,001 evenly spaced speeds in each bin
    # (trapezoid rule). Tolerance 1.5 kW absolute: the cut-out step inside a bin costs the
    # quadrature up to 4,200 kW / 4,000 = 1.05 kW; elsewhere it is exact to rounding.
    curve = get_turbine("E-126/4200").power_curve
    assert curve is not None
    edges = np.arange(0.0, 30.0 + width / 2, width)
    got = mean_power_in_bins(edges, curve, rho)
    frac = np.linspace(0.0, 1.0, 4_001)
    xs = edges[:-1, None] + frac[None, :] * width
    ys = power_at(xs, curve, rho)
    expected = np.sum(0.5 * (ys[:, 1:] + ys[:, :-1]), axis=1) / (frac.size - 1)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1.5)
    assert np.max(np.abs(got - expected)[edges[1:] < 24.0]) < 1e-4  # below cut-out: ~exact


def test_mean_power_in_bins_shapes_and_edge_cases() -> None:
    curve = get_turbine("V90/2000").power_curve
    assert curve is not None
    edges = np.append(np.arange(0.0, 40.25, 0.25), np.inf)
    plain = mean_power_in_bins(edges, curve)
    assert plain.shape == (edges.size - 1,)
    assert plain[-1] == 0.0  # open top bin [40, inf): mean power zero
    rows = mean_power_in_bins(edges, curve, [1.2, np.nan, 1.3])
    assert rows.shape == (3, edges.size - 1)
    assert np.isnan(rows[1]).all()
    np.testing.assert_allclose(rows[0], mean_power_in_bins(edges, curve, 1.2), rtol=1e-12)
    # At standard density the correction is the identity.
    np.testing.assert_allclose(
        mean_power_in_bins(edges, curve, STANDARD_AIR_DENSITY_KG_M3), plain, rtol=1e-12
    )
    with pytest.raises(ValueError, match="strictly increasing"):
        mean_power_in_bins([0.0, 2.0, 1.0], curve)


@pytest.mark.parametrize("turbine", ["E-82/2300", "V90/2000", "E-126/4200"])
def test_mean_power_in_bins_per_period_equals_numerical_average(turbine: str) -> None:
    # One density per row (as the monthly energy passes them), edges below the curve's first
    # point, on its points (the standard-density row) and past its last, an open top bin.
    # Oracle: the trapezoid average of power_at over 2,001 speeds in each bin; tolerance
    # rated power / 1,000 (a cut-in or cut-out step inside a bin costs the quadrature at most
    # rated / 2,000).
    curve = get_turbine(turbine).power_curve
    assert curve is not None
    rhos = [0.95, STANDARD_AIR_DENSITY_KG_M3, 1.38, np.nan]
    edges = np.concatenate([[0.25], curve.speeds[1:4], np.arange(4.5, 35.0, 0.5)])
    got = mean_power_in_bins(np.append(edges, np.inf), curve, rhos)
    assert got.shape == (len(rhos), edges.size)
    assert np.isnan(got[-1]).all() and not np.isnan(got[:-1]).any()
    np.testing.assert_array_equal(got[:-1, -1], 0.0)  # [35, inf): past every cut-out
    frac = np.linspace(0.0, 1.0, 2_001)
    xs = edges[:-1, None] + frac[None, :] * np.diff(edges)[:, None]
    for row, rho in zip(got[:-1], rhos[:-1], strict=True):
        ys = power_at(xs, curve, rho)
        expected = np.sum(0.5 * (ys[:, 1:] + ys[:, :-1]), axis=1) / (frac.size - 1)
        np.testing.assert_allclose(row[:-1], expected, rtol=0, atol=curve.rated_power_kw / 1e3)
    with pytest.raises(ValueError, match="out of order"):
        mean_power_in_bins(edges, curve, [1.2, 6.0])


def test_air_density_at_height_against_windpowerlib_barometric() -> None:
    # windpowerlib's barometric density (pressure -1 hPa per 8 m, 2 m temperature moved with
    # -6.5 K/km) at 50 m and 100 m for 1013.25 hPa, 15 degC: the 50 -> 100 m ratio is
    # 0.99514; ours (ISA) must agree to 0.05 %.
    p, t2 = 101325.0, 288.15
    rho50 = density.barometric(p, 0, 50, temperature.linear_gradient(t2, 2, 50))
    rho100 = density.barometric(p, 0, 100, temperature.linear_gradient(t2, 2, 100))
    ours = float(air_density_at_height(rho50, 50, 100))
    assert ours == pytest.approx(rho100, rel=5e-4)
    assert float(air_density_at_height(1.2, 80, 80)) == 1.2


# --------------------------------------------------------------------------------------------
# Losses, turbine count, project validation
# --------------------------------------------------------------------------------------------


def test_losses_defaults_and_zeros() -> None:
    assert Losses().loss_factor == pytest.approx(0.97 * 0.93 * 0.98 * 0.98, rel=1e-12)
    assert Losses(0, 0, 0, 0).loss_factor == 1.0
    assert Losses(wake_pct=0).loss_factor == pytest.approx(0.97 * 0.98 * 0.98, rel=1e-12)
    assert Losses().to_dict() == {
        "availability_pct": 3.0,
        "wake_pct": 7.0,
        "electrical_pct": 2.0,
        "other_pct": 2.0,
    }


@pytest.mark.parametrize("bad", [-1.0, 100.0, math.nan, math.inf, "3", True])
def test_losses_reject_bad_values(bad: object) -> None:
    with pytest.raises(WindProjectError, match="wake_pct"):
        Losses(wake_pct=bad)  # type: ignore[arg-type]


@given(
    a=st.floats(0, 99),
    w=st.floats(0, 99),
    e=st.floats(0, 99),
    o=st.floats(0, 99),
    which=st.sampled_from(["availability_pct", "wake_pct", "electrical_pct", "other_pct"]),
    extra=st.floats(0, 50),
)
def test_loss_factor_non_increasing_in_each_loss(
    a: float, w: float, e: float, o: float, which: str, extra: float
) -> None:
    base = Losses(a, w, e, o)
    values = base.to_dict()
    values[which] = min(99.9, values[which] + extra)
    more = Losses(**values)
    assert 0.0 <= more.loss_factor <= base.loss_factor <= 1.0


def test_turbine_count() -> None:
    tc = turbine_count(50.0, 4200.0)  # 11.9 turbines -> 12 = 50.4 MW
    assert (tc.count, tc.installed_capacity_mw) == (12, pytest.approx(50.4))
    assert tc.note is not None and "12 turbines" in tc.note and "50.4 MW" in tc.note
    exact = turbine_count(42.0, 4200.0)
    assert (exact.count, exact.installed_capacity_mw, exact.note) == (10, 42.0, None)
    small = turbine_count(0.5, 2000.0)  # 0.25 turbines rounds to 0: at least one
    assert (small.count, small.installed_capacity_mw) == (1, 2.0)
    assert small.note is not None and "1 turbine " in small.note
    with pytest.raises(WindProjectError, match="capacity"):
        turbine_count(0.0, 2000.0)
    with pytest.raises(WindProjectError, match="rated power"):
        turbine_count(10.0, math.nan)


def test_project_validation() -> None:
    with pytest.raises(WindProjectError, match=r"no power curve.*custom power_curve"):
        WindProject(50.0, 100.0, get_turbine("AD132/5000"))
    t = get_turbine("E-126/4200")
    with pytest.raises(WindProjectError, match="capacity_mw"):
        WindProject(-1.0, 100.0, t)
    with pytest.raises(WindProjectError, match="hub_height_m"):
        WindProject(10.0, 0.0, t)
    p = WindProject(50.0, 135.0, t)
    assert p.losses == Losses()
    assert p.turbines.count == 12


# --------------------------------------------------------------------------------------------
# Histogram energy against hourly energy
# --------------------------------------------------------------------------------------------


def _gaps_to_hourly(
    site: SiteClimate,
    t: NDArray[np.datetime64],
    ws: NDArray[np.float64],
    project: WindProject,
) -> tuple[float, float]:
    """Largest relative gap to the hour-by-hour energy over years and over months."""
    res = wind_energy(site, project)
    f = site.height_factor(project.hub_height_m)
    scale = project.turbines.count * project.losses.loss_factor
    worst = []
    years = site.years.astype(str).astype("datetime64[Y]")
    for unit, keys, rho_ref, cov, got in (
        ("Y", years, site.air_density_kg_m3, site.coverage, res.net_mwh),
        (
            "M",
            site.months,
            site.monthly_air_density_kg_m3,
            site.monthly_coverage,
            res.monthly_net_mwh,
        ),
    ):
        rho_hub = air_density_at_height(rho_ref, site.reference_height_m, project.hub_height_m)
        hourly = hourly_energy_mwh(
            t, ws * f, dict(zip(keys, rho_hub, strict=True)), unit, project.power_curve
        )
        # valid hours' energy, scaled to the calendar period as wind_energy does
        expected = np.array([hourly[k] for k in keys]) * scale / cov
        worst.append(float(np.max(np.abs(got / expected - 1))))
    return worst[0], worst[1]


@pytest.mark.parametrize("turbine_type", ["E-126/4200", "V90/2000", "N131/3000"])
def test_histogram_equals_hourly_synthetic_weibull(turbine_type: str) -> None:
    # Cube design goal: energy from bins within 0.5 % of energy from hours (per year). Synthetic
    # 3-year hourly Weibull series (see synthetic_hourly), hub 120 m from 50 m with alpha 0.2,
    # the cube's default 0.25 m/s bins. Measured worst yearly gap 0.15 % (V90/2000, whose
    # curve stops at 16.5 m/s); months hold ~720 hours, so a few per bin, and their worst gap
    # is 0.63 % (V90/2000): tolerance 1 % per month.
    t, ws, rho = synthetic_hourly()
    site = site_from_hourly(t, ws, rho, shear_exponent=0.2)
    project = WindProject(60.0, 120.0, get_turbine(turbine_type))
    worst_year, worst_month = _gaps_to_hourly(site, t, ws, project)
    assert worst_year < 0.005
    assert worst_month < 0.01


@pytest.mark.parametrize(("width", "year_tol"), [(0.25, 0.002), (1.0, 0.005)])
def test_histogram_equals_hourly_merra2(width: float, year_tol: float) -> None:
    # Real data: 17.5 years of MERRA-2 hourly 50 m wind at one node, E-126/4200 at 100 m
    # (alpha 0.143), per-year and per-month densities at 50 m from ps and t2m. Requirement
    # 0.5 % per year. Measured worst yearly gap: 0.05 % with 0.25 m/s bins (tolerance 0.2 %),
    # 0.30 % even with 1 m/s bins; worst month 0.29 % with 0.25 m/s bins (tolerance 1 %).
    t, ws, rho = merra2_node()
    edges = np.arange(0.0, 40.0 + width / 2, width)
    site = site_from_hourly(t, ws, rho, shear_exponent=0.143, edges_ms=edges)
    project = WindProject(42.0, 100.0, get_turbine("E-126/4200"))
    worst_year, worst_month = _gaps_to_hourly(site, t, ws, project)
    assert worst_year < year_tol
    if width == 0.25:
        assert worst_month < 0.01


@WPL_WARNINGS
def test_against_windpowerlib_modelchain_merra2() -> None:
    # windpowerlib's ModelChain on the same MERRA-2 hours: Hellman exponent 0.143 from 50 m to
    # 100 m, ideal-gas density at hub height from ps and t2m (linear gradient), density
    # correction on, for each hour. Ours uses the yearly mean density moved with the ISA.
    # Tolerance 0.5 % per year; measured largest gap 0.14 % (2012).
    t, ws, rho = merra2_node()
    with xr.open_dataset(MERRA2) as ds:
        node = ds.sel(latitude=53.5, longitude=-5.625).load()
    weather = pd.DataFrame(
        {
            ("wind_speed", 50): ws,
            ("temperature", 2): node["t2m"].to_numpy().astype(float) + 273.15,
            ("pressure", 0): node["ps"].to_numpy().astype(float) * 100.0,
            ("roughness_length", 0): np.full(ws.size, 0.15),  # unused by Hellman with exponent
        },
        index=pd.DatetimeIndex(t),
    )
    weather.columns = pd.MultiIndex.from_tuples(weather.columns, names=["variable_name", "height"])
    mc = ModelChain(
        WindTurbine(hub_height=100, turbine_type="E-126/4200"),
        wind_speed_model="hellman",
        hellman_exp=0.143,
        density_model="ideal_gas",
        temperature_model="linear_gradient",
        density_correction=True,
    ).run_model(weather)
    mc_mwh = (mc.power_output / 1e6).groupby(weather.index.year).sum()

    site = site_from_hourly(t, ws, rho, shear_exponent=0.143)
    project = WindProject(4.2, 100.0, get_turbine("E-126/4200"), Losses(0, 0, 0, 0))
    res = wind_energy(site, project)
    assert res.turbine_count == 1
    gaps = res.gross_mwh / mc_mwh.loc[res.years].to_numpy() - 1
    # complete years only: the half year 2017 is scaled to a whole year by wind_energy
    assert np.max(np.abs(gaps[res.complete])) < 0.005
    # Both mark 2017 (January-June only) the same way: ours as incomplete.
    assert list(res.years[~res.complete]) == [2017]


# --------------------------------------------------------------------------------------------
# wind_energy: structure, exact cases, missing data, properties
# --------------------------------------------------------------------------------------------


def test_constant_power_curve_gives_exact_energy() -> None:
    # A flat 1,000 kW curve over 0-40 m/s produces 1 MWh per turbine per hour whatever the
    # wind: gross = turbines x hours exactly (no density correction, which would move the
    # curve's top speed below 40 m/s).
    t, ws, rho = synthetic_hourly()
    site = site_from_hourly(t, ws, rho)
    curve = PowerCurve.from_points([0.0, 10.0, 20.0, 30.0, 40.0], [1000.0] * 5)
    project = WindProject(3.0, 50.0, Turbine.custom("flat", curve), Losses(0, 0, 0, 10.0))
    res = wind_energy(site, project, density_correction=False)
    hours = site.wind_hist_hours.sum(axis=1)
    np.testing.assert_allclose(res.gross_mwh, 3 * hours, rtol=1e-12)
    np.testing.assert_allclose(res.net_mwh, 0.9 * 3 * hours, rtol=1e-12)
    np.testing.assert_allclose(res.capacity_factor_net, 0.9, rtol=1e-12)
    assert res.height_factor == 1.0
    assert not any("wind moved" in n for n in res.notes)  # hub at the reference height


def test_months_add_up_to_years() -> None:
    # Without density correction the monthly histograms sum to the yearly ones, so monthly
    # energy sums to yearly energy (1e-12). With correction each month uses its own density:
    # the sum differs from the yearly figure by less than 0.2 % (seasonal density +-2.5 %).
    t, ws, rho = synthetic_hourly()
    site = site_from_hourly(t, ws, rho)
    project = WindProject(50.0, 100.0, get_turbine("E-126/4200"))
    month_year = site.months.astype("datetime64[Y]").astype(int) + 1970
    for corr, tol in ((False, 1e-12), (True, 2e-3)):
        res = wind_energy(site, project, density_correction=corr)
        sums = np.array([res.monthly_net_mwh[month_year == y].sum() for y in res.years])
        np.testing.assert_allclose(sums, res.net_mwh, rtol=tol)


def test_monthly_energy_on_first_access_is_the_formula() -> None:
    """Monthly energy, computed when first read, is the yearly formula on the monthly data."""
    t, ws, rho = merra2_node()
    site = site_from_hourly(t, ws, rho, shear_exponent=0.143)
    project = WindProject(50.0, 120.0, get_turbine("E-126/4200"))
    res = wind_energy(site, project)
    f = site.height_factor(120.0)
    hist = site.monthly_wind_hist_hours
    rho_hub = air_density_at_height(site.monthly_air_density_kg_m3, site.reference_height_m, 120.0)
    power = mean_power_in_bins(np.asarray(site.wind_bin_edges_ms) * f, project.power_curve, rho_hub)
    gross = (power * hist).sum(axis=1) * res.turbine_count / 1000.0
    valid = hist.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        gross = gross * np.where(valid > 0, site.month_hours / valid, np.nan)
    np.testing.assert_array_equal(res.monthly_gross_mwh, gross)
    np.testing.assert_array_equal(res.monthly_net_mwh, gross * res.loss_factor)
    assert res.monthly_gross_mwh is res.monthly_gross_mwh  # computed once


def test_result_fields_and_notes() -> None:
    t, ws, rho = merra2_node()
    site = site_from_hourly(t, ws, rho, shear_exponent=0.143)
    project = WindProject(50.0, 120.0, get_turbine("E-126/4200"))
    res = wind_energy(site, project)
    assert res.turbine_count == 12 and res.installed_capacity_mw == pytest.approx(50.4)
    assert res.height_factor == pytest.approx((120 / 50) ** 0.143, rel=1e-12)
    assert res.loss_factor == pytest.approx(Losses().loss_factor)
    assert res.years.tolist() == list(range(2000, 2018))
    assert res.complete.tolist() == [True] * 17 + [False]
    assert res.complete_net_mwh.size == 17
    assert res.monthly_net_mwh.size == 210
    notes = " | ".join(res.notes)
    assert "12 turbines" in notes
    assert "not among those offered" in notes  # E-126/4200: 99, 135, 159 m
    assert "default exponent" in notes
    d = res.to_dict()
    assert d["annual_mwh"]["2017"] is None
    assert d["annual_mwh"]["2016"] == pytest.approx(res.net_mwh[16], abs=1e-3)
    # Net capacity factor of a 4.2 MW turbine at an Irish Sea node at 120 m: about 0.4.
    assert 0.35 < float(np.mean(res.capacity_factor_net[res.complete])) < 0.5


def test_missing_density_gives_nan_not_a_guess() -> None:
    t, ws, rho = synthetic_hourly()
    rho = rho.copy()
    rho[t.astype("datetime64[Y]") == np.datetime64("2020", "Y")] = np.nan
    site = site_from_hourly(t, ws, rho)
    project = WindProject(50.0, 100.0, get_turbine("E-126/4200"))
    res = wind_energy(site, project)
    assert np.isnan(res.net_mwh[1]) and np.isfinite(res.net_mwh[[0, 2]]).all()
    assert any("air density missing for complete years 2020" in n for n in res.notes)
    plain = wind_energy(site, project, density_correction=False)
    assert np.isfinite(plain.net_mwh).all()
    assert any("standard air density" in n for n in plain.notes)


@functools.lru_cache(maxsize=1)
def _small_site() -> SiteClimate:
    t, ws, rho = synthetic_hourly()
    return site_from_hourly(t[:8760], ws[:8760], rho[:8760])


@settings(max_examples=40, deadline=None)
@given(
    cap=st.floats(1.0, 300.0),
    extra=st.floats(0.0, 300.0),
    hub=st.floats(60.0, 160.0),
)
def test_energy_monotone_in_capacity(cap: float, extra: float, hub: float) -> None:
    t = get_turbine("V112/3000")
    a = wind_energy(_small_site(), WindProject(cap, hub, t))
    b = wind_energy(_small_site(), WindProject(cap + extra, hub, t))
    assert np.all(b.net_mwh >= a.net_mwh)
    assert np.all(b.monthly_net_mwh >= a.monthly_net_mwh)


@settings(max_examples=40, deadline=None)
@given(
    which=st.sampled_from(["availability_pct", "wake_pct", "electrical_pct", "other_pct"]),
    base=st.floats(0.0, 50.0),
    extra=st.floats(0.0, 49.0),
)
def test_energy_non_increasing_in_each_loss(which: str, base: float, extra: float) -> None:
    t = get_turbine("V112/3000")
    lo = Losses(**{which: base})
    hi = Losses(**{which: base + extra})
    a = wind_energy(_small_site(), WindProject(30.0, 100.0, t, lo))
    b = wind_energy(_small_site(), WindProject(30.0, 100.0, t, hi))
    assert np.all(b.net_mwh <= a.net_mwh)
    np.testing.assert_array_equal(a.gross_mwh, b.gross_mwh)


@settings(max_examples=25, deadline=None)
@given(h1=st.floats(40.0, 200.0), h2=st.floats(40.0, 200.0))
def test_gross_energy_rises_with_hub_height_below_rated(h1: float, h2: float) -> None:
    # With positive shear the wind only grows with height; at this site (mean 8.5 m/s) the
    # E-82/2300 curve rises over the bulk of the hours, so gross energy rises with hub height
    # even though density falls (0.5 % per 50 m).
    lo, hi = sorted((h1, h2))
    t = get_turbine("E-82/2300")
    a = wind_energy(_small_site(), WindProject(23.0, lo, t))
    b = wind_energy(_small_site(), WindProject(23.0, hi, t))
    assert np.all(b.gross_mwh >= a.gross_mwh * (1 - 1e-12))


def test_gaps_in_a_complete_year_are_scaled_not_counted_as_zero() -> None:
    # A year with 4 % of its hours missing at random (still complete under the 95 % rule)
    # must give about the energy of the whole year, not 4 % less.
    t, ws, rho = synthetic_hourly()
    project = WindProject(60.0, 120.0, get_turbine("E-126/4200"))
    full = wind_energy(site_from_hourly(t, ws, rho, shear_exponent=0.2), project)
    holed = ws.copy()
    holed[np.random.default_rng(5).random(ws.size) < 0.04] = np.nan
    site = site_from_hourly(t, holed, rho, shear_exponent=0.2)
    assert site.complete.all() and (site.coverage < 0.97).all()
    gappy = wind_energy(site, project)
    np.testing.assert_allclose(gappy.net_mwh, full.net_mwh, rtol=0.01)
    assert any("scaled to the whole year" in n for n in gappy.notes)


def test_truncated_library_curve_is_flagged() -> None:
    # oedb's V90/2000 curve stops at 16.5 m/s at about rated power; energy above is zero.
    t, ws, rho = synthetic_hourly()
    site = site_from_hourly(t, ws, rho, shear_exponent=0.2)
    v90 = wind_energy(site, WindProject(20.0, 100.0, get_turbine("V90/2000")))
    assert any("ends at 16.5 m/s" in n for n in v90.notes)
    e126 = wind_energy(site, WindProject(42.0, 100.0, get_turbine("E-126/4200")))
    assert not any("ends at" in n for n in e126.notes)
