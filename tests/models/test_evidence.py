"""Tests of site evidence for wind (models.evidence): mast MCP and atlas scaling.

Known truths: (1) the real MERRA-2 subset in tests/data (source in its README). One node,
53.0 N 6.25 W, is the "mast": two years (2014-2015) of its hourly 50 m wind times 1.08 plus
Gaussian noise. Its neighbour 53.5 N 6.25 W is the reanalysis cell, read from a cube built from
the same file. The truth is 1.08 times the mast node's own 2000-2016 mean of annual means,
computed here with xarray from the hours (8.4050 m/s by an independent numpy computation).
(2) An atlas mean is met exactly by construction. (3) The variance-ratio slope is
sd(y)/sd(x) (Rogers et al. 2005), checked against numpy.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

from climate_data.cube import Cube, build_cube
from climate_data.site import SiteClimate
from models.assessment import assess
from models.evidence import (
    MIN_R_SQUARED,
    SIGMA_MODEL_ATLAS,
    AtlasMean,
    EvidenceError,
    MastSeries,
    SiteEvidence,
    apply_site_evidence,
    energy_sensitivity,
    mcp,
    scale_months,
)
from models.finance import FinanceTerms
from models.policy import load_policy
from models.turbines import get_turbine
from models.uncertainty import SIGMA_MODEL_REANALYSIS
from models.wind import WindProject, wind_energy

DATA = Path(__file__).resolve().parents[1] / "data"
MERRA2 = DATA / "merra2_ireland_2x2_hourly_2000_2017_subset.nc"
MAST_NODE = {"latitude": 53.0, "longitude": -6.25}
CELL = (53.5, -6.25)
TRUE_FACTOR = 1.08
MAST_START = np.datetime64("2014-01-01T00:00")
PROJECT = WindProject(capacity_mw=50.0, hub_height_m=100.0, turbine=get_turbine("E-126/4200"))


@pytest.fixture(scope="module")
def cell(tmp_path_factory: pytest.TempPathFactory) -> SiteClimate:
    path = build_cube(
        MERRA2, tmp_path_factory.mktemp("evidence") / "merra2.nc", reference_height_m=50.0
    )
    return Cube.open(path).site(*CELL)


@pytest.fixture(scope="module")
def node_hours() -> tuple[np.ndarray, float]:
    """The mast node's 2014-2015 hours and its own 2000-2016 mean of annual means."""
    with xr.open_dataset(MERRA2) as ds:
        ws = ds["ws50m"].sel(**MAST_NODE).astype("float64")
        hours = ws.sel(time=slice("2014-01-01", "2015-12-31T23:00")).values
        annual = ws.sel(time=slice("2000", "2016")).groupby("time.year").mean()
        return hours, float(annual.mean())


def _mast(hours: np.ndarray, *, seed: int = 0, noise_ms: float = 0.5) -> MastSeries:
    rng = np.random.default_rng(seed)
    v = np.clip(TRUE_FACTOR * hours + rng.normal(0.0, noise_ms, hours.size), 0.0, None)
    return MastSeries(height_m=50.0, interval_minutes=60, start=MAST_START, wind_speed_ms=v)


@pytest.mark.parametrize("method", ["variance_ratio", "linear_regression"])
def test_mcp_on_real_merra2_recovers_the_scaled_node_within_one_percent(
    cell: SiteClimate, node_hours: tuple[np.ndarray, float], method: str
) -> None:
    hours, node_mean = node_hours
    assert node_mean == pytest.approx(8.4050, abs=5e-4)  # the independent reference value
    truth = TRUE_FACTOR * node_mean
    res = apply_site_evidence(cell, PROJECT, SiteEvidence(mast=_mast(hours), mcp_method=method))
    assert res.method == "mcp"
    assert len(res.concurrent_months) == 24
    assert res.concurrent_months[0] == "2014-01" and res.concurrent_months[-1] == "2015-12"
    assert res.fit is not None and res.fit.r_squared > 0.95  # measured 0.993
    # measured -0.45 % (variance ratio) and -0.44 % (OLS)
    assert res.corrected_mean_ms == pytest.approx(truth, rel=0.01)
    # The raw cell is 3.5 % below the node and 10 % below the mast: the MCP removes the bias.
    assert res.reanalysis_mean_ms < 0.92 * truth
    d = res.to_dict()
    assert d["mcp"]["concurrent_months"] == 24 and d["mcp"]["method"] == method
    assert d["corrected_mean_ms"] == pytest.approx(res.corrected_mean_ms, abs=1e-4)


def test_variance_ratio_slope_is_the_ratio_of_standard_deviations(
    cell: SiteClimate, node_hours: tuple[np.ndarray, float]
) -> None:
    mast = _mast(node_hours[0])
    _, fig = mcp(cell, mast, "variance_ratio")
    months, y, _ = mast.monthly_means()
    sel = np.isin(cell.months.astype("datetime64[M]"), months)
    x = cell.monthly_wind_mean_ms[sel]
    assert fig["slope"] == pytest.approx(np.std(y, ddof=1) / np.std(x, ddof=1), rel=1e-12)
    assert fig["intercept"] == pytest.approx(y.mean() - fig["slope"] * x.mean(), rel=1e-9)
    _, ols = mcp(cell, mast, "linear_regression")
    # OLS shrinks the slope by r (Rogers et al. 2005)
    r = math.sqrt(ols["fit"].r_squared)
    assert ols["slope"] == pytest.approx(r * fig["slope"], rel=1e-9)


def test_atlas_scaling_hits_the_atlas_mean_exactly(cell: SiteClimate) -> None:
    atlas = AtlasMean(mean_wind_ms=9.12, height_m=100.0, source="Global Wind Atlas 3.3")
    res = apply_site_evidence(cell, PROJECT, SiteEvidence(atlas=atlas))
    assert res.method == "atlas_scaled"
    assert res.corrected_mean_ms == pytest.approx(9.12, rel=1e-12)
    # independent: the cell's own summary at the atlas height, times the factor
    lt = cell.summary(100.0)["wind"]["long_term_mean_ms"]
    assert res.reanalysis_mean_ms == pytest.approx(lt, abs=5e-4)
    assert res.scale_factor == pytest.approx(9.12 / res.reanalysis_mean_ms, rel=1e-12)
    assert res.site.summary(100.0)["wind"]["long_term_mean_ms"] == pytest.approx(9.12, abs=1e-3)
    assert res.to_dict()["source"] == "Global Wind Atlas 3.3"
    # the atlas at the hub height adds no vertical term
    assert res.sigma_model == pytest.approx(SIGMA_MODEL_ATLAS, rel=1e-12)


def test_scale_months_uniform_factor_matches_scaling_the_bin_edges(cell: SiteClimate) -> None:
    s = 1.06
    rebinned = scale_months(cell, np.full(cell.months.size, s))
    # hours are conserved, the means scale exactly
    np.testing.assert_allclose(
        rebinned.monthly_wind_hist_hours.sum(1), cell.monthly_wind_hist_hours.sum(1), rtol=1e-12
    )
    np.testing.assert_allclose(rebinned.wind_mean_ms, cell.wind_mean_ms * s, rtol=1e-12)
    from dataclasses import replace

    edges = replace(cell, wind_bin_edges_ms=cell.wind_bin_edges_ms * s)
    e1 = wind_energy(rebinned, PROJECT).net_mwh[cell.complete]
    e2 = wind_energy(edges, PROJECT).net_mwh[cell.complete]
    # re-binning onto 0.25 m/s bins costs well under 0.1 % of energy
    np.testing.assert_allclose(e1, e2, rtol=1e-3)


def test_energy_sensitivity_is_a_central_difference(cell: SiteClimate) -> None:
    g = energy_sensitivity(cell, PROJECT)
    assert 0.5 < g < 3.0


def _terms() -> FinanceTerms:
    return FinanceTerms(
        loan_amount=150e6,
        currency="CNY",
        tenor_years=12,
        interest_rate_pct=5.0,
        repayment="annuity",
        tariff_per_mwh=300.0,
        opex_per_year=6e6,
    )


def _assess(cell: SiteClimate, evidence: SiteEvidence | None) -> dict[str, Any]:
    a = assess(
        cell,
        PROJECT,
        _terms(),
        load_policy("wind_changji_v1"),
        seed=3,
        n_paths=500,
        site_evidence=evidence,
    )
    out: dict[str, Any] = a.to_dict()
    return out


def test_sigma_model_follows_the_evidence_reanalysis_atlas_mcp(
    cell: SiteClimate, node_hours: tuple[np.ndarray, float]
) -> None:
    plain = _assess(cell, None)
    atlas = _assess(cell, SiteEvidence(atlas=AtlasMean(9.1, 100.0, "consultant report 2026")))
    mast = _assess(cell, SiteEvidence(mast=_mast(node_hours[0])))
    methods = [o["energy"]["method"] for o in (plain, atlas, mast)]
    assert methods == ["reanalysis", "atlas_scaled", "mcp"]
    sig = [o["energy"]["sigma_components"]["model"] for o in (plain, atlas, mast)]
    assert sig[0] == SIGMA_MODEL_REANALYSIS
    assert sig[0] > sig[1] > sig[2]
    basis = [o["energy"]["sigma_components"]["model_basis"] for o in (plain, atlas, mast)]
    assert "reanalysis" in basis[0] and "atlas" in basis[1] and "MCP" in basis[2]
    assert plain["energy"]["evidence"] is None
    assert mast["energy"]["evidence"]["mcp"]["r_squared"] > 0.95
    # the climate block stays the reanalysis cell's
    assert mast["climate"] == plain["climate"]
    # more wind at the mast: a higher P50
    assert mast["energy"]["p50_mwh"] > plain["energy"]["p50_mwh"]


def test_short_mast_is_rejected_naming_the_field(
    cell: SiteClimate, node_hours: tuple[np.ndarray, float]
) -> None:
    hours = node_hours[0][: 24 * 334]  # 2014-01-01 .. 2014-11-30: 11 months
    with pytest.raises(EvidenceError, match=r"11 complete month.*at least 12") as err:
        apply_site_evidence(cell, PROJECT, SiteEvidence(mast=_mast(hours)))
    assert err.value.field == "project.site_evidence.mast"
    assert str(err.value).startswith("project.site_evidence.mast: ")


def test_mast_outside_the_reanalysis_period_is_rejected(
    cell: SiteClimate, node_hours: tuple[np.ndarray, float]
) -> None:
    m = _mast(node_hours[0])
    late = MastSeries(50.0, 60, np.datetime64("2017-01-01T00:00"), m.wind_speed_ms)
    with pytest.raises(EvidenceError, match=r"only 6 complete month.*concurrent"):
        apply_site_evidence(cell, PROJECT, SiteEvidence(mast=late))


def test_poorly_correlated_mast_is_rejected(
    cell: SiteClimate, node_hours: tuple[np.ndarray, float]
) -> None:
    # each month's hours shuffled across months: the monthly means no longer follow the cell
    hours = node_hours[0]
    rng = np.random.default_rng(4)
    shuffled = rng.permutation(hours)
    with pytest.raises(
        EvidenceError, match=rf"R² 0\.\d\d over 24 months; at least {MIN_R_SQUARED}"
    ):
        apply_site_evidence(cell, PROJECT, SiteEvidence(mast=_mast(shuffled)))


def test_ten_minute_mast_gives_the_same_monthly_means() -> None:
    v = np.arange(6 * 24 * 31, dtype=float) % 7
    m = MastSeries(80.0, 10, np.datetime64("2020-01-01T00:00"), v)
    months, mean, cov = m.monthly_means()
    assert [str(x) for x in months] == ["2020-01"]
    assert mean[0] == pytest.approx(v.mean()) and cov[0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"height_m": 0.0}, "height_m"),
        ({"interval_minutes": 30}, "interval_minutes"),
        ({"wind_speed_ms": np.array([80.0])}, r"\[0, 75\]"),
    ],
)
def test_mast_bounds(kwargs: dict[str, Any], match: str) -> None:
    base: dict[str, Any] = {
        "height_m": 80.0,
        "interval_minutes": 60,
        "start": np.datetime64("2020-01-01T00:00"),
        "wind_speed_ms": np.ones(10),
    }
    base.update(kwargs)
    with pytest.raises(EvidenceError, match=match):
        MastSeries(**base)


def test_evidence_needs_exactly_one_source() -> None:
    with pytest.raises(EvidenceError, match="exactly one"):
        SiteEvidence()
    with pytest.raises(EvidenceError, match="source"):
        AtlasMean(8.0, 100.0, "  ")


def test_operating_history_takes_precedence_over_site_evidence(cell: SiteClimate) -> None:
    from models.longterm import OperatingHistory

    energy = wind_energy(cell, PROJECT)
    ok = np.flatnonzero(energy.monthly_complete)[-36:]
    rng = np.random.default_rng(9)
    history = OperatingHistory(
        energy.months[ok], energy.monthly_net_mwh[ok] * rng.normal(1.0, 0.03, ok.size)
    )
    evidence = SiteEvidence(atlas=AtlasMean(9.1, 100.0, "GWA"))
    a = assess(
        cell,
        PROJECT,
        _terms(),
        load_policy("wind_changji_v1"),
        seed=3,
        n_paths=500,
        operating_history=history,
        site_evidence=evidence,
    ).to_dict()
    e = a["energy"]
    assert e["method"] == "operating_history"
    assert e["evidence"]["used"] is False and e["evidence"]["method"] == "atlas_scaled"
    assert "operating history" in e["sigma_components"]["model_basis"]
    assert any("not used" in n for n in e["notes"])


def test_mcp_sigma_shrinks_with_mast_length_and_correlation(
    cell: SiteClimate, node_hours: tuple[np.ndarray, float]
) -> None:
    hours = node_hours[0]

    def sigma_mcp(mast: MastSeries) -> tuple[float, float]:
        res = apply_site_evidence(cell, PROJECT, SiteEvidence(mast=mast))
        assert res.fit is not None
        return float(res.sigma_parts["mcp"]), res.fit.r_squared

    one_year, _ = sigma_mcp(_mast(hours[: 24 * 365]))
    two_years, r2_two = sigma_mcp(_mast(hours))
    assert two_years < one_year
    # monthly noise of 4 % on the mast's level lowers R² and widens the MCP term
    rng = np.random.default_rng(2)
    months = (MAST_START + np.arange(hours.size) * np.timedelta64(60, "m")).astype("datetime64[M]")
    bump = rng.normal(1.0, 0.04, 24)[(months - months[0]).astype(int)]
    noisy, r2_noisy = sigma_mcp(_mast(hours * bump))
    assert r2_noisy < r2_two and noisy > two_years
