"""The per-process cache of :meth:`climate_data.site.SiteClimate.summary` changes no figure."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from climate_data import site as site_mod
from climate_data.cube import Cube
from climate_data.site import SiteClimate


def _computed(site: SiteClimate, hub: float | None) -> dict[str, Any]:
    """The summary with an empty cache: the figures are computed, not looked up."""
    site_mod._SUMMARY_CACHE.clear()
    return site.summary(hub)


@pytest.mark.parametrize("hub", [None, 80.0, 120.0])
def test_cached_summary_equals_computed(small_cube: Path, hub: float | None) -> None:
    cube = Cube.open(small_cube)
    first = cube.site(44.0, 87.3)
    oracle = _computed(first, hub)
    assert len(site_mod._SUMMARY_CACHE) == 1
    # another read of the same cell (a new SiteClimate), from another point of the cell
    again = cube.site(44.01, 87.31)
    hit = again.summary(hub)
    assert len(site_mod._SUMMARY_CACHE) == 1  # served from the cache
    assert hit["wind"] == oracle["wind"] and hit["solar"] == oracle["solar"]
    assert hit["coverage"] == oracle["coverage"]
    # the parts of the point, not of the cell, are the new site's
    assert hit["site"] == {"lat": 44.01, "lon": 87.31}
    assert hit["cell"] == _computed(again, hub)["cell"]
    assert hit == _computed(again, hub)
    assert repr(hit) == repr(_computed(again, hub))  # same types too (int, float, bool, None)


def test_caller_changes_do_not_reach_the_cache(small_cube: Path) -> None:
    site = Cube.open(small_cube).site(44.0, 87.3)
    oracle = _computed(site, 100.0)
    changed = site.summary(100.0)
    changed["wind"]["annual_mean_ms"].clear()  # what models.assessment does to its copy
    changed["wind"]["trailing_3y_years"].append(1900)
    changed["coverage"]["x"] = 1.0
    assert site.summary(100.0) == oracle


def test_other_data_of_the_same_cell_is_not_served_from_the_cache(small_cube: Path) -> None:
    site = Cube.open(small_cube).site(44.0, 87.3)
    base = _computed(site, 100.0)
    # the same cell and dataset with one year's coverage below the rule: another key
    coverage = site.coverage.copy()
    coverage[0] = 0.5
    changed = dataclasses.replace(site, coverage=coverage)
    got = changed.summary(100.0)
    assert len(site_mod._SUMMARY_CACHE) == 2
    assert got == _computed(changed, 100.0)
    year = str(int(site.years[0]))
    assert base["wind"]["annual_mean_ms"][year] is not None
    assert got["wind"]["annual_mean_ms"][year] is None
    # a different shear exponent changes every height-moved figure
    sheared = dataclasses.replace(site, shear_exponent=site.shear_exponent + 0.05)
    high = site.summary(150.0)["wind"]["weibull_c_ms"]
    assert sheared.summary(150.0)["wind"]["weibull_c_ms"] > high


def test_cache_is_bounded(small_cube: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(site_mod, "_SUMMARY_CACHE", site_mod._FiguresCache(3))
    site = Cube.open(small_cube).site(44.0, 87.3)
    for hub in np.linspace(60.0, 150.0, 10):
        site.summary(float(hub))
    assert len(site_mod._SUMMARY_CACHE) == 3
    # the most recent heights are kept and still equal the computation
    kept = site.summary(150.0)
    assert len(site_mod._SUMMARY_CACHE) == 3
    assert kept == _computed(site, 150.0)


def test_figures_that_json_cannot_carry_exactly_are_not_cached(small_cube: Path) -> None:
    site = Cube.open(small_cube).site(44.0, 87.3)
    # a numpy bool (not JSON) from a hand-made SiteClimate: computed every time, never cached
    odd = dataclasses.replace(site, shear_from_data=np.bool_(True))  # type: ignore[arg-type]
    site_mod._SUMMARY_CACHE.clear()
    first = odd.summary(100.0)
    assert len(site_mod._SUMMARY_CACHE) == 0
    assert first["wind"]["shear_from_data"] is np.bool_(True)
    assert odd.summary(100.0)["wind"]["shear_from_data"] is np.bool_(True)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_per_year_map_rounds_each_value_as_json_float(dtype: str) -> None:
    # years not kept and non-finite values are None; every other value is json_float's
    rng = np.random.default_rng(3)
    years = np.arange(1991, 2031)
    values = (rng.normal(0, 1e3, years.size) * 10.0 ** rng.integers(-6, 4, years.size)).astype(
        dtype
    )
    if dtype != "int64":
        values[[1, 5, 9]] = [np.nan, np.inf, -np.inf]
        values[[2, 3]] = [0.0005, -2.675]  # halfway cases in decimal, not in binary
    keep = rng.random(years.size) < 0.8
    for digits in (0, 1, 3, 4):
        expected = {
            str(int(y)): (site_mod.json_float(v, digits) if k else None)
            for y, v, k in zip(years, values, keep, strict=True)
        }
        got = site_mod.per_year_map(years, values, keep, digits)
        assert got == expected
        assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]
