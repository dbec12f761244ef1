# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Climate data: the indicator cube
#
# What the loan officer's decision rests on: the site's climate years as condensed in the
# indicator cube (`climate_data.cube`). This notebook opens a cube, maps the trailing 3-year
# mean wind against the 6.5 m/s rule of the Changji climate loan and the mean annual sunshine
# hours, and looks at one site's years and volatility.
#
# Everything here calls the package; nothing is computed that the service does not compute
# the same way (`Cube.layer`, `Cube.site`, `SiteClimate.summary`).
#
# **Parameters** (environment variables, read in the next cell):
#
# | variable | meaning | default |
# |---|---|---|
# | `CLIMATE_LOAN_CUBE` | cube file to open | none: build the synthetic sample cube |
# | `NB_SITE_LAT`, `NB_SITE_LON` | site to look at [degrees] | 44.0, 87.3 (Changji) |
# | `NB_HUB_HEIGHT_M` | hub height of the wind figures [m] | 100 |
# | `NB_SMALL` | `1`: a small sample (4 × 4 cells, 3 years) so CI runs in seconds | `0` |

# %% tags=["parameters"]
import os

CUBE = os.environ.get("CLIMATE_LOAN_CUBE") or None
SITE_LAT = float(os.environ.get("NB_SITE_LAT", "44.0"))
SITE_LON = float(os.environ.get("NB_SITE_LON", "87.3"))
HUB_HEIGHT_M = float(os.environ.get("NB_HUB_HEIGHT_M", "100"))
SMALL = os.environ.get("NB_SMALL", "0") == "1"

# %%
import sys
import tempfile
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # run as a plain script: draw off-screen
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from climate_data.cube import Cube, build_cube
from climate_data.sample import SampleSpec, write_sample

#: The Changji rule: a 3-year trailing mean wind speed of at least 6.5 m/s.
RULE_MS = 6.5

# %% [markdown]
# ## Open the cube
#
# Without `CLIMATE_LOAN_CUBE` the notebook writes the deterministic **synthetic** sample
# (`climate_data.sample`, the same as `climate-loan sample`) and builds its cube, as
# `climate-loan cube build` would. A real cube comes from ERA5 or MERRA-2 files:
# `climate-loan cube build INPUT... --out CUBE.nc` (see the README).

# %%
if CUBE is None:
    workdir = Path(tempfile.mkdtemp(prefix="nb01-"))
    if SMALL:
        spec = SampleSpec(
            lats=(45.0, 44.5, 44.0, 43.5),
            lons=(86.3, 86.8, 87.3, 87.8),
            years=(2022, 2023, 2024),
        )
    else:
        spec = SampleSpec()
    files = write_sample(workdir / "sample", spec)
    CUBE = str(build_cube(files, workdir / "sample_cube.nc", progress=False))
cube = Cube.open(CUBE)
info = cube.info()
pd.Series(
    {
        "file": info["path"],
        "dataset id": info["dataset"]["id"],
        "period": f"{info['dataset']['start']} .. {info['dataset']['end']}",
        "grid lat (min, max, n)": info["grid"]["lat"],
        "grid lon (min, max, n)": info["grid"]["lon"],
        "reference height [m]": info["reference_height_m"],
        "share of complete cell-years": round(info["complete_years_share"], 3),
        "radiation (sunshine hours)": info["has_solar"],
        "shear": info["shear_source"],
        "synthetic": info["synthetic"],
    }
).to_frame("cube")

# %%
if cube.synthetic:
    display(
        Markdown(
            "> **Synthetic data.** This cube was built from made-up weather "
            "(`synthetic = true` in its attributes). The figures below show how the indicators "
            "behave; they say nothing about any real site. Never lend on them."
        )
    )

# %% [markdown]
# ## Maps
#
# `Cube.layer` gives a map over the grid. Only complete years (coverage ≥ 95 %) count; a cell
# with fewer complete years than a figure needs is blank (NaN), never filled.
#
# The trailing 3-year mean is the mean of each cell's latest three complete years, moved from
# the cube's reference height to the hub height with the cell's shear exponent. The black line
# is the 6.5 m/s contour: cells inside it pass the Changji rule.

# %%
wind_map = cube.layer("trailing_3y_wind_ms", HUB_HEIGHT_M)
has_sun = bool(info["has_solar"])
fig, axes = plt.subplots(1, 2 if has_sun else 1, figsize=(12 if has_sun else 6, 4.5), squeeze=False)
ax = axes[0, 0]
mesh = ax.pcolormesh(wind_map["lon"], wind_map["lat"], wind_map, shading="nearest", cmap="viridis")
fig.colorbar(mesh, ax=ax, label=f"trailing 3-year mean wind at {HUB_HEIGHT_M:g} m [m/s]")
finite = wind_map.values[np.isfinite(wind_map.values)]
if finite.size and finite.min() < RULE_MS < finite.max() and min(wind_map.shape) >= 2:
    cs = ax.contour(wind_map["lon"], wind_map["lat"], wind_map, levels=[RULE_MS], colors="k")
    ax.clabel(cs, fmt="%.1f m/s")
else:
    ax.set_title("(no cell crosses 6.5 m/s)", fontsize=9, loc="right")
ax.plot(SITE_LON, SITE_LAT, marker="*", color="red", markersize=12, label="site")
ax.set(xlabel="longitude [°E]", ylabel="latitude [°N]", title="Trailing 3-year mean wind")
ax.legend(loc="lower right")
if has_sun:
    sun_map = cube.layer("sunshine_hours")
    ax = axes[0, 1]
    mesh = ax.pcolormesh(sun_map["lon"], sun_map["lat"], sun_map, shading="nearest", cmap="YlOrRd")
    fig.colorbar(mesh, ax=ax, label="mean annual sunshine [h]")
    ax.plot(SITE_LON, SITE_LAT, marker="*", color="blue", markersize=12)
    ax.set(
        xlabel="longitude [°E]",
        ylabel="latitude [°N]",
        title="Sunshine hours (WMO, DNI ≥ 120 W m⁻²)",
    )
fig.tight_layout()

# %%
share_pass = float(np.mean(finite >= RULE_MS)) if finite.size else float("nan")
print(
    f"{finite.size} cells with three complete years; {share_pass:.0%} of them pass "
    f"{RULE_MS} m/s at {HUB_HEIGHT_M:g} m"
)

# %% [markdown]
# ## One site: its years against 6.5 m/s
#
# `Cube.site` returns the nearest cell's years (`SiteClimate`); `summary()` is exactly the
# site-climate object of the API (`GET /api/v1/sites/climate`, `climate-loan site --json`).
# An incomplete year is `null` there and left out of every multi-year figure.

# %%
site = cube.site(SITE_LAT, SITE_LON)
summary = site.summary(HUB_HEIGHT_M)
w = summary["wind"]
annual = pd.Series(w["annual_mean_ms"], dtype="float64")
annual.index = annual.index.astype(int)
fig, ax = plt.subplots(figsize=(8, 4))
colors = ["tab:green" if v >= RULE_MS else "tab:orange" for v in annual.fillna(0.0)]
ax.bar(annual.index, annual.fillna(0.0), color=colors, label="annual mean (green: ≥ 6.5 m/s)")
for year in annual.index[annual.isna()]:
    ax.annotate("incomplete", (year, 0.2), ha="center", rotation=90)
ax.axhline(RULE_MS, color="k", ls="--", label="6.5 m/s rule")
if w["trailing_3y_mean_ms"] is not None:
    years = w["trailing_3y_years"]
    ax.hlines(
        w["trailing_3y_mean_ms"],
        years[0] - 0.4,
        years[-1] + 0.4,
        color="tab:blue",
        lw=3,
        label=f"trailing 3-year mean {w['trailing_3y_mean_ms']:.2f} m/s",
    )
ax.set(
    xlabel="year",
    ylabel=f"mean wind speed at {HUB_HEIGHT_M:g} m [m/s]",
    title=(
        f"Site ({SITE_LAT:.2f}, {SITE_LON:.2f}); cell ({summary['cell']['lat']:.2f}, "
        f"{summary['cell']['lon']:.2f}), {summary['cell']['distance_km']:.1f} km away"
    ),
    ylim=(0, max(RULE_MS, float(annual.max(skipna=True))) * 1.2),
)
ax.set_xticks(annual.index)
ax.legend(loc="lower left", fontsize=8)
fig.tight_layout()

# %%
pd.DataFrame(
    {
        "annual mean wind [m/s]": annual,
        "coverage": pd.Series(summary["coverage"], dtype="float64").set_axis(annual.index),
        "sunshine [h]": (
            pd.Series(summary["solar"]["annual_sunshine_hours"], dtype="float64").set_axis(
                annual.index
            )
            if summary["solar"]
            else np.nan
        ),
    }
)

# %% [markdown]
# ## Volatility
#
# Two measures of how much the wind, and so the revenue, moves:
#
# - **IAV**, inter-annual variability: sample standard deviation (ddof 1) of the complete
#   years' annual means over their mean (Pryor et al. 2018,
#   [doi:10.5194/wes-3-651-2018](https://doi.org/10.5194/wes-3-651-2018)). It drives σ_IAV of
#   the P90 energy.
# - **Monthly CV**: the same ratio over the complete months' means, seasonal cycle included
#   (`climate_data.wind.monthly_cv`; it needs at least 12 complete months).
#
# The map shows IAV over the grid; the line plot the site's monthly means.

# %%
iav_map = cube.layer("iav")
months = pd.PeriodIndex(site.months.astype(str), freq="M").to_timestamp()
monthly = pd.Series(site.monthly_wind_mean_ms * site.height_factor(HUB_HEIGHT_M), index=months)
monthly_ok = monthly.where(site.monthly_complete)  # incomplete months are gaps, not values

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4), gridspec_kw={"width_ratios": [1, 2]})
mesh = ax1.pcolormesh(
    iav_map["lon"], iav_map["lat"], iav_map * 100, shading="nearest", cmap="magma"
)
fig.colorbar(mesh, ax=ax1, label="IAV of annual mean wind [%]")
ax1.plot(SITE_LON, SITE_LAT, marker="*", color="cyan", markersize=12)
ax1.set(xlabel="longitude [°E]", ylabel="latitude [°N]", title="Inter-annual variability")
ax2.plot(monthly_ok.index, monthly_ok.values, marker=".", label="monthly mean (complete months)")
ax2.axhline(RULE_MS, color="k", ls="--", label="6.5 m/s")
ax2.set(ylabel=f"wind at {HUB_HEIGHT_M:g} m [m/s]", title="Site's monthly means")
ax2.legend(fontsize=8)
fig.tight_layout()

# %%
pd.Series(
    {
        "long-term mean [m/s]": w["long_term_mean_ms"],
        "trailing 3-year mean [m/s]": w["trailing_3y_mean_ms"],
        "trailing years": w["trailing_3y_years"],
        "IAV [-]": w["iav"],
        "monthly CV [-]": w["monthly_cv"],
        "Weibull k [-]": w["weibull_k"],
        "Weibull c [m/s]": w["weibull_c_ms"],
        "shear exponent [-]": w["shear_exponent"],
        "shear fitted from two heights": w["shear_from_data"],
        "dataset synthetic": summary["dataset"]["synthetic"],
    }
).to_frame("site")

# %% [markdown]
# A short record gives an unreliable IAV: with three to six years the standard deviation of
# annual means is itself uncertain by tens of percent, and Lee et al. (2018) find about ten
# years of monthly data are needed for a stable variability estimate. Read the figures of the
# small synthetic sample as a demonstration of the method only.
