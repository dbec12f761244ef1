r"""Fleet calibration: the energy model's bias and σ_model measured on operating farms.

A bank that finances operating wind farms can compare, farm by farm and for the same calendar
years, the energy the model computes from reanalysis with the metered output. The weather of
those years is in both numbers, so what remains is the model's error at that site (the
reanalysis bias at the site, power curve, shear, density and loss assumptions) plus metering
and operational noise. This is the same-period comparison used to bias-correct reanalysis
wind power by Staffell and Pfenninger (2016).

For farm :math:`i` with metered energy :math:`M_{iy}` and modelled energy :math:`E_{iy}` in its
:math:`n_i` years :math:`y \in Y_i`:

.. math::

   r_i = \ln\frac{\sum_{y} M_{iy}}{\sum_{y} E_{iy}}, \qquad
   e_{iy} = \ln\frac{M_{iy}}{E_{iy}} - \frac{1}{n_i}\sum_{y'} \ln\frac{M_{iy'}}{E_{iy'}}

and over :math:`K` farms the one-way random-effects layout
:math:`r_i = b + u_i + \bar\epsilon_i`, :math:`u_i \sim N(0, \sigma_{model}^2)`,
:math:`\bar\epsilon_i \sim N(0, \tau^2 / n_i)`, estimated by the method of moments:

.. math::

   \hat b = \bar r, \quad
   s^2 = \frac{\sum_i (r_i - \bar r)^2}{K - 1}, \quad
   \hat\tau^2 = \frac{\sum_{i,y} e_{iy}^2}{\sum_i (n_i - 1)}, \quad
   \hat\sigma_{model}^2 = \max\left(s^2 - \hat\tau^2\,\overline{1/n},\ 0\right)

Intervals at level :math:`1 - \alpha`: Student t for :math:`b` (:math:`K - 1` degrees of
freedom), chi-square for :math:`\operatorname{Var}(r_i)` carried through the same subtraction
for :math:`\sigma_{model}` (Casella and Berger 2002, ch. 9), and, as a check that assumes no
normality, a bootstrap over whole farms (:func:`bootstrap_over_farms`). The bias interval is
ordinary least squares of :math:`r_i` on a constant and :math:`\hat\tau^2` is the residual
variance of least squares of the yearly log ratios on farm indicators (fixed effects); the
tests check both against statsmodels, and :math:`\hat\sigma_{model}` against statsmodels'
REML random-intercept model (``MixedLM``). The model document's chapter *Calibrating
σ_model and bias* explains the method and how many farms it needs; the notebook
``notebooks/fleet_calibration`` runs it on a synthetic fleet with a known truth.

Logs make the error multiplicative: :math:`e^{\hat b}` is the factor by which metered output
differs from the model on average (below 1: the model over-predicts), and
:math:`\sigma_{model}` in log units is, at a few percent, the relative standard deviation
``models.uncertainty`` uses.

References
----------
.. [1] Staffell, I. and Pfenninger, S. (2016). Using bias-corrected reanalysis to simulate
   current and future wind power output. Energy 114, 1224–1239,
   doi:10.1016/j.energy.2016.08.068
.. [2] Casella, G. and Berger, R. L. (2002). Statistical Inference, 2nd ed. Duxbury.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from models.errors import ModelInputError

__all__ = [
    "FLEET_COLUMNS",
    "FleetCalibration",
    "FleetTableError",
    "bootstrap_over_farms",
    "calibrate_fleet",
    "validate_fleet_table",
]

#: Columns of a fleet table: one row per farm and calendar year of normal operation.
FLEET_COLUMNS: tuple[str, ...] = ("farm_id", "year", "metered_mwh", "modelled_mwh")


class FleetTableError(ValueError):
    """A fleet table that cannot be calibrated on (the message names the problem)."""


@dataclass(frozen=True)
class FleetCalibration:
    r"""Bias and σ_model of the energy model measured on a fleet (module docstring).

    Attributes
    ----------
    n_farms : int
        Number of farms :math:`K`.
    n_farm_years : int
        Number of farm-years in the table.
    confidence : float
        Level of the intervals, e.g. 0.90.
    bias : float
        :math:`\hat b`, mean over farms of :math:`r_i` [log units].
    bias_ci : tuple of float
        Student-t interval of :math:`b`.
    spread_var : float
        :math:`s^2`, variance (ddof 1) of the farms' :math:`r_i`.
    spread_var_ci : tuple of float
        Chi-square interval of :math:`\operatorname{Var}(r_i)`.
    year_noise : float
        :math:`\hat\tau`, pooled within-farm standard deviation of the yearly log ratio
        (0 when no farm has two years).
    mean_inv_years : float
        :math:`\overline{1/n}`, mean over farms of one over the farm's number of years.
    sigma_model : float
        :math:`\hat\sigma_{model}` [log units, about a fraction].
    sigma_model_ci : tuple of float
        ``spread_var_ci`` carried through the same subtraction.
    per_farm : DataFrame
        Index ``farm_id``; columns ``n_years``, ``metered`` and ``modelled`` (sums [MWh]),
        ``mean_log`` (mean of the yearly log ratios) and ``r``.
    """

    n_farms: int
    n_farm_years: int
    confidence: float
    bias: float
    bias_ci: tuple[float, float]
    spread_var: float
    spread_var_ci: tuple[float, float]
    year_noise: float
    mean_inv_years: float
    sigma_model: float
    sigma_model_ci: tuple[float, float]
    per_farm: pd.DataFrame

    @property
    def bias_factor(self) -> float:
        r""":math:`e^{\hat b}`: metered over modelled energy on average."""
        return math.exp(self.bias)

    def sigma_from_spread(self, spread_var: float | NDArray[Any]) -> Any:
        """σ_model from a variance of the farms' log ratios, less the year noise (floored)."""
        tau2 = self.year_noise**2
        return np.sqrt(
            np.maximum(np.asarray(spread_var, dtype=float) - tau2 * self.mean_inv_years, 0.0)
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-farm table)."""
        return {
            "n_farms": self.n_farms,
            "n_farm_years": self.n_farm_years,
            "confidence": self.confidence,
            "bias": self.bias,
            "bias_ci": list(self.bias_ci),
            "bias_factor": self.bias_factor,
            "sigma_model": self.sigma_model,
            "sigma_model_ci": list(self.sigma_model_ci),
            "year_noise": self.year_noise,
        }


def validate_fleet_table(table: pd.DataFrame) -> pd.DataFrame:
    """Check a fleet table and return its four columns (a copy).

    Raises
    ------
    FleetTableError
        A column is missing; a row has a missing or non-positive energy or a missing farm or
        year; a farm has the same year twice; fewer than two farms.
    """
    missing = [c for c in FLEET_COLUMNS if c not in table.columns]
    if missing:
        raise FleetTableError(
            f"fleet table lacks column(s) {', '.join(missing)}; required: {list(FLEET_COLUMNS)}"
        )
    t = table[list(FLEET_COLUMNS)].copy()
    energy = t[["metered_mwh", "modelled_mwh"]].apply(pd.to_numeric, errors="coerce")
    bad = t[["farm_id", "year"]].isna().any(axis=1) | ~(energy > 0).all(axis=1)
    bad |= ~np.isfinite(energy.to_numpy(float)).all(axis=1)
    if bad.any():
        raise FleetTableError(
            f"fleet rows {list(t.index[bad][:5])} have a missing farm or year, or a missing or "
            "non-positive energy"
        )
    t[["metered_mwh", "modelled_mwh"]] = energy
    dup = t.duplicated(["farm_id", "year"])
    if dup.any():
        first = t[dup].iloc[0]
        raise FleetTableError(f"farm {first['farm_id']!r} has year {first['year']} twice")
    if t["farm_id"].nunique() < 2:
        raise FleetTableError("a fleet calibration needs at least two farms")
    return t


def calibrate_fleet(table: pd.DataFrame, confidence: float = 0.90) -> FleetCalibration:
    """Bias and σ_model with intervals from a fleet table (module docstring).

    Parameters
    ----------
    table : DataFrame
        Columns :data:`FLEET_COLUMNS`, one row per farm and year.
    confidence : float
        Level of the intervals, in (0, 1).

    Returns
    -------
    FleetCalibration
    """
    if not (0.0 < confidence < 1.0):
        raise ModelInputError(f"confidence must be in (0, 1), got {confidence!r}")
    t = validate_fleet_table(table)
    log_ratio = np.log(t["metered_mwh"] / t["modelled_mwh"])
    per_farm = (
        t.assign(log_ratio=log_ratio)
        .groupby("farm_id")
        .agg(
            n_years=("year", "size"),
            metered=("metered_mwh", "sum"),
            modelled=("modelled_mwh", "sum"),
            mean_log=("log_ratio", "mean"),
        )
    )
    per_farm["r"] = np.log(per_farm["metered"] / per_farm["modelled"])
    resid = log_ratio - t["farm_id"].map(per_farm["mean_log"])
    dof_within = int((per_farm["n_years"] - 1).sum())
    tau2 = float((resid**2).sum() / dof_within) if dof_within > 0 else 0.0
    mean_inv_n = float((1.0 / per_farm["n_years"]).mean())

    k = len(per_farm)
    r = per_farm["r"].to_numpy(float)
    b = float(r.mean())
    s2 = float(r.var(ddof=1))
    alpha = 1.0 - confidence
    tq = float(stats.t.ppf(1.0 - alpha / 2.0, k - 1))
    half = tq * math.sqrt(s2 / k)
    s2_ci = (
        (k - 1) * s2 / float(stats.chi2.ppf(1.0 - alpha / 2.0, k - 1)),
        (k - 1) * s2 / float(stats.chi2.ppf(alpha / 2.0, k - 1)),
    )

    def sigma(v: float) -> float:
        return math.sqrt(max(v - tau2 * mean_inv_n, 0.0))

    return FleetCalibration(
        n_farms=k,
        n_farm_years=len(t),
        confidence=confidence,
        bias=b,
        bias_ci=(b - half, b + half),
        spread_var=s2,
        spread_var_ci=s2_ci,
        year_noise=math.sqrt(tau2),
        mean_inv_years=mean_inv_n,
        sigma_model=sigma(s2),
        sigma_model_ci=(sigma(s2_ci[0]), sigma(s2_ci[1])),
        per_farm=per_farm,
    )


def bootstrap_over_farms(
    calibration: FleetCalibration, n_boot: int, rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r"""Bootstrap replicates of the bias and σ_model, resampling whole farms.

    The year noise :math:`\hat\tau` is kept at its estimate. Percentiles of the replicates
    give intervals that do not assume normal farm errors.

    Parameters
    ----------
    calibration : FleetCalibration
        The fleet's estimates.
    n_boot : int
        Number of replicates, at least 1.
    rng : numpy.random.Generator
        Source of the resampling.

    Returns
    -------
    (ndarray, ndarray)
        Replicates of :math:`\hat b` and of :math:`\hat\sigma_{model}`, shape ``(n_boot,)``.
    """
    if n_boot < 1:
        raise ModelInputError(f"n_boot must be at least 1, got {n_boot!r}")
    r = calibration.per_farm["r"].to_numpy(float)
    k = r.size
    idx = rng.integers(0, k, size=(n_boot, k))
    boot_b = r[idx].mean(axis=1)
    boot_sigma = np.asarray(calibration.sigma_from_spread(r[idx].var(axis=1, ddof=1)), dtype=float)
    return np.asarray(boot_b, dtype=float), boot_sigma
