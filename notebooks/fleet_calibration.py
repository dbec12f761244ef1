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
# # Calibrating σ_model and bias on an operating fleet
#
# Before a bank has evidence of its own, every reanalysis-only assessment uses a fixed model
# uncertainty σ_model = 8 % and no bias correction (`models.uncertainty`; the model document,
# chapters *Uncertainty* and *Calibrating σ_model and bias*). Once it finances operating wind
# farms, it can measure both: for each farm, compare the energy the model computes from
# reanalysis for the **same calendar years** with the metered output. The weather of those
# years is in both, so what remains is the model's error at that site.
#
# - **bias** `b` = mean over farms of ln(metered / modelled): the model's systematic error in
#   log terms (`exp(b)` < 1: the model over-predicts);
# - **σ_model** = spread of the farms' log ratios, less the part explained by year-to-year
#   noise within each farm's short record; with confidence intervals.
#
# **Data.** By default the notebook builds a **SYNTHETIC fleet**: the reanalysis is real
# (MERRA-2, four grid nodes near Dublin, shipped in `tests/data/`), the farms and their meters
# are made up — modelled energy comes from `models.wind.wind_energy` on the cube of that file,
# and metered energy is modelled energy times a known bias and known random errors. The
# estimates can therefore be checked against the truth. Point `NB_FLEET_CSV` at the bank's own
# table to calibrate on real data.
#
# The fleet table has one row per farm and year: `farm_id`, `year`, `metered_mwh`,
# `modelled_mwh`.
#
# **Parameters** (environment variables, read in the next cell):
#
# | variable | meaning | default |
# |---|---|---|
# | `NB_FLEET_CSV` | the bank's fleet table (CSV, columns below) | a synthetic fleet |
# | `NB_MERRA2_FILE` | reanalysis for the synthetic fleet | the file in `tests/data/` |
# | `NB_CONFIDENCE` | level of the confidence intervals | 0.90 |
# | `NB_SEED` | seed of the synthetic fleet and of the bootstrap | 0 |
# | `NB_SMALL` | `1`: 500 bootstrap replicates instead of 5000 (CI) | `0` |

# %% tags=["parameters"]
import os
from pathlib import Path

_here = Path.cwd()
_root = _here.parent if _here.name == "notebooks" else _here
FLEET_CSV = os.environ.get("NB_FLEET_CSV") or None
MERRA2_FILE = Path(
    os.environ.get(
        "NB_MERRA2_FILE",
        str(_root / "tests" / "data" / "merra2_ireland_2x2_hourly_2000_2017_subset.nc"),
    )
)
CONFIDENCE = float(os.environ.get("NB_CONFIDENCE", "0.90"))
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
from scipy import stats

from climate_data.cube import Cube, build_cube
from models.calibration import bootstrap_over_farms, calibrate_fleet, validate_fleet_table
from models.turbines import get_turbine
from models.uncertainty import SIGMA_MODEL_REANALYSIS, exceedance
from models.wind import WindProject, wind_energy

N_BOOT = 500 if SMALL else 5000
rng = np.random.default_rng(SEED)

# %% [markdown]
# ## The fleet
#
# One row per farm and calendar year of operation: `metered_mwh` is the metered net energy
# (after the farm's real losses), `modelled_mwh` the model's net energy for the same year
# (`energy.annual_mwh` of `climate-loan assess` or of the API, with the farm's turbine, hub
# height and loss assumptions). Leave out commissioning years and years with long outages or
# heavy curtailment that the model's losses do not represent — or add the curtailed energy
# back to the meter.
#
# The synthetic fleet: 6 turbine types on each of the 4 MERRA-2 nodes (24 farms), each with a
# random window of 3 to 8 operating years in 2000–2016. The **true** model error is known:
# a bias of −5 % (the model over-predicts), a farm-to-farm spread σ = 6 % and a year-to-year
# noise of 3 %.

# %%
TRUE_BIAS = np.log(0.95)  # metered = modelled x 0.95 on average (in logs)
TRUE_SIGMA = 0.06  # farm-to-farm spread of the model error [log units ~ fraction]
TRUE_YEAR_NOISE = 0.03  # year-to-year noise of the ratio within a farm
FARMS = [  # turbine type, hub height [m], capacity [MW]
    ("E-82/2300", 98.0, 46.0),
    ("V112/3075", 94.0, 49.2),
    ("E-115/3000", 122.0, 48.0),
    ("N117/2400", 91.0, 48.0),
    ("S114/3200", 93.0, 48.0),
    ("GE103/2750", 98.3, 49.5),
]

synthetic = FLEET_CSV is None
if synthetic:
    workdir = Path(tempfile.mkdtemp(prefix="nb-fleet-"))
    cube = Cube.open(
        build_cube(
            [MERRA2_FILE], workdir / "merra2_cube.nc", reference_height_m=50.0, progress=False
        )
    )
    rows = []
    for lat in cube.lats:
        for lon in cube.lons:
            site = cube.site(float(lat), float(lon))
            for turbine, hub, capacity in FARMS:
                energy = wind_energy(site, WindProject(capacity, hub, get_turbine(turbine)))
                years = energy.years[energy.complete & (energy.years <= 2016)]
                n = int(rng.integers(3, 9))
                start = int(rng.integers(0, years.size - n + 1))
                farm_error = TRUE_BIAS + TRUE_SIGMA * rng.standard_normal()
                for year in years[start : start + n]:
                    modelled = float(energy.net_mwh[energy.years == year][0])
                    noise = TRUE_YEAR_NOISE * rng.standard_normal()
                    rows.append(
                        {
                            "farm_id": f"{turbine} @ {lat:.1f}N {abs(lon):.3f}W",
                            "year": int(year),
                            "metered_mwh": modelled * np.exp(farm_error + noise),
                            "modelled_mwh": modelled,
                        }
                    )
    fleet = pd.DataFrame(rows)
else:
    fleet = pd.read_csv(FLEET_CSV)

fleet = validate_fleet_table(fleet)  # names a missing column, a bad row or a repeated year
fleet.groupby("farm_id").agg(years=("year", "size"), first=("year", "min"), last=("year", "max"))

# %%
if synthetic:
    display(
        Markdown(
            "> **Synthetic fleet.** The reanalysis is real MERRA-2 data; the farms and their "
            "meters are made up with a known bias and spread. The figures below show how the "
            "method behaves and that it recovers the truth; they say nothing about any real "
            "fleet. Never set a bank's σ_model from them."
        )
    )

# %% [markdown]
# ## Estimates
#
# For farm *i* with *n_i* years, the farm's log ratio over its record and the year-to-year
# residuals are
#
# r_i = ln(Σ_y metered_iy / Σ_y modelled_iy),  e_iy = ln(metered_iy / modelled_iy) − mean_y
# ln(metered_iy / modelled_iy).
#
# Over *K* farms: bias **b = mean(r_i)** with a Student-t interval (K − 1 degrees of
# freedom); the spread **s² = var(r_i)** (ddof 1) holds the model error σ_model² plus the
# year noise τ² / n_i that a short record leaves in r_i; τ² is the pooled within-farm
# variance of e_iy. So σ_model² = s² − τ² · mean(1 / n_i) (floored at 0), with a chi-square
# interval for s² (K − 1 degrees of freedom) carried through the same subtraction, and a
# bootstrap over farms as a check that does not assume normality. The estimator is the
# package's (`models.calibration.calibrate_fleet`, tested against a hand case and statsmodels);
# the cell below only calls it.

# %%
cal = calibrate_fleet(fleet, confidence=CONFIDENCE)  # models.calibration
per_farm, K, b, b_ci = cal.per_farm, cal.n_farms, cal.bias, cal.bias_ci
sigma, sigma_ci, tau2 = cal.sigma_model, cal.sigma_model_ci, cal.year_noise**2
alpha = 1.0 - CONFIDENCE

# bootstrap over farms (whole farms resampled; the year noise is kept fixed)
boot_b, boot_sigma = bootstrap_over_farms(cal, N_BOOT, rng)
q = [100 * alpha / 2, 100 * (1 - alpha / 2)]

summary = pd.DataFrame(
    {
        "estimate": [b, np.exp(b), sigma, np.sqrt(tau2)],
        f"{CONFIDENCE:.0%} interval (t / chi-square)": [
            f"{b_ci[0]:.4f} .. {b_ci[1]:.4f}",
            f"{np.exp(b_ci[0]):.4f} .. {np.exp(b_ci[1]):.4f}",
            f"{sigma_ci[0]:.4f} .. {sigma_ci[1]:.4f}",
            "",
        ],
        f"{CONFIDENCE:.0%} interval (bootstrap over farms)": [
            "{:.4f} .. {:.4f}".format(*np.percentile(boot_b, q)),
            "{:.4f} .. {:.4f}".format(*np.exp(np.percentile(boot_b, q))),
            "{:.4f} .. {:.4f}".format(*np.percentile(boot_sigma, q)),
            "",
        ],
    },
    index=[
        "bias b = mean ln(metered / modelled)",
        "bias factor exp(b)",
        "sigma_model",
        "year noise tau",
    ],
)
if synthetic:
    summary["truth (synthetic)"] = [TRUE_BIAS, np.exp(TRUE_BIAS), TRUE_SIGMA, TRUE_YEAR_NOISE]
print(f"{K} farms, {len(fleet)} farm-years; code default sigma_model = {SIGMA_MODEL_REANALYSIS}")
display(summary)

# %%
order = per_farm.sort_values("r")
se_farm = np.sqrt(sigma**2 + tau2 / order["n_years"])
fig, ax = plt.subplots(figsize=(8, 0.28 * K + 1.5))
y = np.arange(K)
ax.errorbar(order["r"], y, xerr=stats.norm.ppf(1 - alpha / 2) * se_farm, fmt="o", ms=4)
ax.axvline(b, color="k", lw=1, label=f"bias b = {b:+.3f}")
ax.axvspan(*b_ci, color="k", alpha=0.12, label=f"{CONFIDENCE:.0%} interval of b")
ax.axvline(0.0, color="grey", lw=0.8, ls=":")
ax.set_yticks(y, order.index, fontsize=7)
ax.set_xlabel("ln(metered / modelled) over each farm's years")
ax.set_title("Model error per farm" + (" (SYNTHETIC fleet)" if synthetic else ""))
ax.legend(loc="lower right", fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What the calibration changes
#
# A farm's exceedance levels with the code's default σ_model and with the calibrated one
# (`models.uncertainty.exceedance` on the farm's modelled years), and the P50 once the bias is
# applied. The intervals above say how sure the estimate is: with a few tens of farms σ_model
# is known to within roughly ±30 %, so a prudent bank takes the upper end of its interval.

# %%
first = per_farm.index[0]
years_modelled = fleet.loc[fleet["farm_id"] == first, "modelled_mwh"].to_numpy()
if years_modelled.size >= 2:
    cases = {
        "code default": exceedance(years_modelled, SIGMA_MODEL_REANALYSIS),
        "calibrated (estimate)": exceedance(years_modelled * np.exp(b), min(sigma, 0.99)),
        "calibrated (upper end)": exceedance(years_modelled * np.exp(b), min(sigma_ci[1], 0.99)),
    }
    display(
        pd.DataFrame(
            {
                name: {
                    "sigma_model": ex.sigma_model,
                    "P50 [MWh]": ex.p50,
                    "P90 1y [MWh]": ex.p90,
                    "P99 1y [MWh]": ex.p99,
                    "P90 10y [MWh]": ex.p90_10y,
                }
                for name, ex in cases.items()
            }
        ).round(3)
    )

# %% [markdown]
# ## Using the result
#
# - **σ_model** replaces `models.uncertainty.SIGMA_MODEL_REANALYSIS` for reanalysis-only
#   assessments of comparable sites (same reanalysis, same kind of terrain and turbines). It is
#   a constant of the code today: changing it is a reviewed code change, recorded in every
#   assessment through the code version.
# - **bias**: the model has no bias parameter yet. Until it has, a negative bias can be carried
#   as an extra loss (`losses.other_pct` ≈ −100·b in the request); a positive bias should not
#   be used to raise energy without review.
# - Re-run the calibration when the fleet grows; keep the fleet table, this notebook's output
#   and the reanalysis version together as the evidence.
