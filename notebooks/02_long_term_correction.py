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
# # 02 · Long-term correction from operating data
#
# A project with a few years of operation knows its real monthly output. Those years may
# have been windier or calmer than usual. `models.longterm.long_term_correction` regresses
# the operating months on the site's monthly reanalysis wind, applies the fit to the long
# reanalysis record and bootstraps the whole chain for the long-term P50, σ and P90 (after
# NREL OpenOA's Monte Carlo AEP method; the module docstring has the equations and
# references). This notebook shows the regression diagnostics a modeller checks before
# trusting the result.
#
# Two examples, both on **real MERRA-2 reanalysis** (NASA GMAO; four grid nodes near Dublin,
# 2000-01 to 2017-06, shipped in `tests/data/`, source in its README):
#
# - **A. Mast wind (real data).** One node's monthly mean wind at 50 m plays an on-site mast
#   with three years of measurements; the neighbouring node 55 km north plays the
#   reanalysis. The mast node's own 17-year record is the truth to compare with.
# - **B. Wind-farm energy (SYNTHETIC operating record).** Monthly net energy of a made-up
#   27.6 MW farm at the mast node, computed from its reanalysis wind with `models.wind` and then
#   given made-up noise, availability and curtailment losses, a breakdown month and two
#   meter errors. It is labelled synthetic wherever it appears: it shows how the method
#   behaves, not how any real farm performed.
#
# **Parameters** (environment variables, read in the next cell):
#
# | variable | meaning | default |
# |---|---|---|
# | `NB_MERRA2_FILE` | the MERRA-2 subset | the file in `tests/data/` |
# | `NB_OPERATING_MONTHS` | months of operation (the latest ones of the record) | 36 |
# | `NB_SEED` | seed of the synthetic record and of the bootstrap | 0 |
# | `NB_SMALL` | `1`: 500 bootstrap replicates instead of 2000 (CI) | `0` |

# %% tags=["parameters"]
import os
from pathlib import Path

_here = Path.cwd()
_root = _here.parent if _here.name == "notebooks" else _here
MERRA2_FILE = Path(
    os.environ.get(
        "NB_MERRA2_FILE",
        str(_root / "tests" / "data" / "merra2_ireland_2x2_hourly_2000_2017_subset.nc"),
    )
)
OPERATING_MONTHS = int(os.environ.get("NB_OPERATING_MONTHS", "36"))
SEED = int(os.environ.get("NB_SEED", "0"))
SMALL = os.environ.get("NB_SMALL", "0") == "1"

# %%
import sys
import tempfile

import matplotlib

if "ipykernel" not in sys.modules:  # run as a plain script: draw off-screen
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from climate_data.cube import Cube, build_cube
from models.longterm import (
    LongTermSettings,
    MonthlyReference,
    OperatingHistory,
    days_in_month,
    long_term_correction,
)
from models.turbines import get_turbine
from models.wind import Losses, WindProject, wind_energy

settings = LongTermSettings(n_bootstrap=500 if SMALL else 2000)
MAST = (53.0, -6.25)  # node playing the mast / the wind farm
REANALYSIS = (53.5, -6.25)  # neighbouring node playing the site's reanalysis

# %% [markdown]
# ## The reanalysis cube
#
# The MERRA-2 file goes through the same reader and cube builder as any ERA5 download
# (`climate-loan cube build FILE --reference-height 50`), so the monthly means and their
# coverage flags are the ones the service uses. A month below 90 % coverage would be dropped,
# never filled.

# %%
workdir = Path(tempfile.mkdtemp(prefix="nb02-"))
cube = Cube.open(build_cube(MERRA2_FILE, workdir / "merra2_cube.nc", reference_height_m=50.0))
mast_site = cube.site(*MAST)
ref_site = cube.site(*REANALYSIS)
reference = MonthlyReference.from_site(ref_site)
print(
    f"cube: {cube.dataset.id}, {cube.dataset.start} .. {cube.dataset.end}, "
    f"synthetic={cube.synthetic}; {int(reference.complete.sum())} of {reference.months.size} "
    "reanalysis months complete"
)

# %% [markdown]
# ## Diagnostics
#
# One helper draws the three checks for either example: the scatter of operating months
# against reanalysis wind with the OLS line and the outliers the robust (Huber) fit flagged;
# the residuals against time, where a trend or a step would show a change at the plant or in
# the reanalysis; and the bootstrap distribution of the long-term annual value with P50 and
# P90. It only plots what `long_term_correction` returned.
#
# For energy the regression runs on 30-day normalised *potential* energy,
# $E^{30}_m = \frac{30}{d_m} \frac{E_m}{1 - L^{avail}_m - L^{curt}_m}$ (module docstring of
# `models.longterm`), so the plot shows the same quantity.


# %%
def plot_diagnostics(history, reference, result, title):
    """Scatter + fit, residuals over time, bootstrap histogram of a long-term correction."""
    pos = np.searchsorted(reference.months, history.months)
    x = reference.wind_ms[pos]
    y = history.values.copy()
    if history.quantity == "energy_mwh":
        y = y * 30.0 / days_in_month(history.months) / (1.0 - history.total_loss)
    months = history.months.astype(str)
    used = np.isin(months, result.months_used)
    outlier = np.isin(months, result.outlier_months)
    other = ~used & ~outlier  # dropped for losses or missing data
    fit = result.fit
    resid = y - (fit.intercept + fit.slope * x)
    unit = "MWh per 30 days" if history.quantity == "energy_mwh" else "m/s"

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    ax = axes[0]
    ax.scatter(x[used], y[used], s=18, label=f"used ({used.sum()})")
    ax.scatter(x[outlier], y[outlier], marker="x", color="red", s=50, label="outlier (RLM)")
    if other.any():
        ax.scatter(
            x[other],
            y[other],
            marker="s",
            facecolors="none",
            edgecolors="grey",
            label="dropped (losses)",
        )
    xx = np.linspace(np.nanmin(x), np.nanmax(x), 50)
    ax.plot(
        xx,
        fit.intercept + fit.slope * xx,
        color="k",
        label=f"OLS: R²={fit.r_squared:.3f}, slope={fit.slope:.3g}",
    )
    ax.set(
        xlabel="reanalysis monthly mean wind [m/s]",
        ylabel=f"operating [{unit}]",
        title="Regression",
    )
    ax.legend(fontsize=8)

    ax = axes[1]
    t = pd.PeriodIndex(months, freq="M").to_timestamp()
    ax.axhspan(-2 * fit.sigma, 2 * fit.sigma, color="0.9", label="±2σ (OLS residual)")
    ax.plot(t[used], resid[used], marker="o", ms=4, lw=0.8, label="used")
    ax.scatter(t[outlier], resid[outlier], marker="x", color="red", s=50, label="outlier")
    ax.axhline(0, color="k", lw=0.8)
    ax.set(ylabel=f"residual [{unit}]", title="Residuals over time")
    ax.tick_params(axis="x", labelrotation=30)
    ax.legend(fontsize=8)

    ax = axes[2]
    ax.hist(result.samples, bins=40, color="tab:blue", alpha=0.7)
    ax.axvline(result.p50, color="k", label=f"P50 {result.p50:,.4g}")
    ax.axvline(result.p90, color="tab:red", ls="--", label=f"P90 {result.p90:,.4g}")
    ax.set(
        xlabel=f"long-term annual value [{result.units}]",
        ylabel="replicates",
        title=f"Bootstrap ({result.n_bootstrap} replicates)",
    )
    ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# %% [markdown]
# ## A. Mast wind (real MERRA-2 data)
#
# The latest `NB_OPERATING_MONTHS` complete months of the mast node are the "mast record";
# the correction predicts the mast's long-term annual mean wind from the neighbour's 17-year
# record. The truth is the mast node's own long-term mean over its complete years
# (`SiteClimate.summary`).

# %%
ok = mast_site.monthly_complete
mast_months = mast_site.months[ok][-OPERATING_MONTHS:]
mast_values = mast_site.monthly_wind_mean_ms[ok][-OPERATING_MONTHS:]
mast = OperatingHistory(mast_months, mast_values, quantity="wind_ms")
res_a = long_term_correction(mast, reference, settings=settings, seed=SEED)
truth_a = mast_site.summary()["wind"]["long_term_mean_ms"]
fig = plot_diagnostics(mast, reference, res_a, "A. mast wind at 50 m, real MERRA-2 nodes")

# %%
short_mean = float(mast_values.mean())
pd.DataFrame(
    {
        "value [m/s]": {
            "mean of the mast months (uncorrected)": short_mean,
            "long-term P50 (corrected)": res_a.p50,
            "long-term P90": res_a.p90,
            "σ of the long-term mean": res_a.sigma,
            "truth: mast node's own long-term mean": truth_a,
        }
    }
).assign(**{"vs truth [%]": lambda d: 100 * (d["value [m/s]"] / truth_a - 1)}).round(3)

# %% [markdown]
# ## B. Wind-farm energy (SYNTHETIC operating record)
#
# A made-up 27.6 MW farm of twelve Enercon E-82/2300 turbines at 78 m hub height stands at
# the mast node. Its
# monthly energy *before* availability and curtailment losses comes from the node's own
# reanalysis wind through `models.wind.wind_energy` (wake, electrical and other losses at the
# documented defaults). The notebook then invents an operating record from it:
#
# - availability loss 1-5 % a month and curtailment 0-3 %, reported with the energy;
# - one breakdown month with 25 % availability loss (above the 15 % limit: dropped);
# - two months whose meter under-read by 30 % with no loss reported (outliers);
# - multiplicative noise of 3 % (metering, icing, unmodelled effects).
#
# The truth is the farm's long-term potential energy from the same model over the node's
# complete years; the correction only sees the operating record and the *neighbour's*
# reanalysis.

# %%
farm = WindProject(
    capacity_mw=27.6,
    hub_height_m=78.0,
    turbine=get_turbine("E-82/2300"),
    losses=Losses(availability_pct=0.0),  # availability is in the operating record below
)
energy = wind_energy(mast_site, farm)
rng = np.random.default_rng(SEED)
ok = energy.monthly_complete
op_months = energy.months[ok][-OPERATING_MONTHS:]
potential = energy.monthly_net_mwh[ok][-OPERATING_MONTHS:]
n = op_months.size
availability = rng.uniform(0.01, 0.05, n)
curtailment = rng.uniform(0.0, 0.03, n)
availability[n // 3] = 0.25  # breakdown month
meter = np.ones(n)
meter[[n // 5, (3 * n) // 4]] = 0.7  # meter errors, no loss reported
noise = np.exp(rng.normal(0.0, 0.03, n))
net = potential * (1 - availability - curtailment) * meter * noise

synthetic_record = OperatingHistory(
    op_months, net, availability_loss=availability, curtailment_loss=curtailment
)
res_b = long_term_correction(
    synthetic_record, ref_site, hub_height_m=78.0, settings=settings, seed=SEED
)
display(Markdown("**SYNTHETIC operating record** (made-up losses, noise and meter errors)."))
fig = plot_diagnostics(
    synthetic_record,
    MonthlyReference.from_site(ref_site, 78.0),
    res_b,
    "B. SYNTHETIC 27.6 MW farm: monthly energy vs neighbour's reanalysis wind at 78 m",
)

# %%
truth_potential = float(energy.complete_net_mwh.mean())
keep = 1.0 - res_b.mean_loss_fraction
pd.DataFrame(
    {
        "MWh/yr": {
            "long-term P50 (net of the mean loss of the months used)": res_b.p50,
            "long-term P90": res_b.p90,
            "σ of the long-term mean": res_b.sigma,
            "P50 grossed up for that loss": res_b.p50 / keep,
            "truth: model's long-term potential energy": truth_potential,
        }
    }
).assign(**{"vs truth [%]": lambda d: 100 * (d["MWh/yr"] / truth_potential - 1)}).round(1)

# %%
pd.DataFrame(
    {
        "A. mast wind (real)": {**res_a.fit.to_dict(), **res_a.to_dict()["months"]},
        "B. farm energy (SYNTHETIC)": {**res_b.fit.to_dict(), **res_b.to_dict()["months"]},
    }
)

# %% [markdown]
# ## Reading the result
#
# - **R² and residuals.** Monthly energy against monthly reanalysis wind should give R² well
#   above 0.8 for a usable correction; structure in the residuals over time (a trend, a step)
#   means the plant or the data changed and the months before and after should not share a
#   fit.
# - **Outliers.** The robust fit should catch months that no loss explains (here the two
#   meter errors); check each one against the plant's logs before accepting the drop.
# - **σ** is the uncertainty of the *long-term mean* (what the assessment uses as σ_model when
#   a request carries `operating_history`); year-to-year variability stays in σ_IAV.
# - Fewer than 12 usable months raise `InsufficientData`: the service then falls back to the
#   reanalysis-only estimate or refers the case.
#
# The same correction runs inside an assessment when the request has an `operating_history`
# (`POST /api/v1/assessments`, `climate-loan assess`).
