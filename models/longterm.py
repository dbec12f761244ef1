r"""Long-term correction of a project's energy (or mast wind) from its operating history.

A project with a few years of operation has measured monthly net energy. Those years may have
been windier or calmer than usual; the long-term correction regresses the measured months on
the site's reanalysis wind for the same months and applies the regression to the reanalysis'
long record, giving the long-term annual energy and its uncertainty.

The method follows the Monte Carlo AEP method of NREL's OpenOA (Perr-Sauer et al. 2021; Bodini
& Optis 2020); this is an independent implementation, reduced to one reanalysis product:

1. **Normalise** every month to a 30-day equivalent (energy × 30 / days in month), and gross
   up net energy for the reported losses: potential = net / (1 − availability − curtailment).
2. **Drop** months whose reported losses exceed a threshold, months whose reanalysis month is
   incomplete (:attr:`climate_data.site.SiteClimate.monthly_complete`) or absent, and months
   with a missing value. Nothing is filled in (docs/conventions.rst, "Missing data is explicit,
   never filled"); each drop is counted.
3. **Flag outliers** with a robust regression (statsmodels ``RLM``, Huber's T norm): a month
   whose residual exceeds ``outlier_threshold`` robust standard deviations is left out.
4. **Fit** potential energy ~ reanalysis wind by ordinary least squares (statsmodels ``OLS``):
   slope, intercept, R², residual σ and 95 % confidence intervals.
5. **Apply** the fit to each complete month of the long-term reanalysis record, average each
   calendar month over the record and add the twelve averages (scaled back to their length in
   days), then subtract the mean loss of the operating months.
6. **Bootstrap** (seeded :class:`numpy.random.Generator`): each replicate resamples the usable
   months with replacement and refits, draws the loss threshold of step 2 from a range, draws
   the length of the long-term window (the latest N years of the record) from a range, and
   applies the mean loss of its own resampled months. P50 is the median of the replicates,
   σ their standard deviation and P90 their 10th percentile.

σ here is the uncertainty of the *long-term mean* annual value (what the uncertainty model calls
σ_model for an estimate calibrated on operating data); year-to-year variability is reported
apart as ``iav`` from the per-year predictions.

With ``quantity="wind_ms"`` the input is a mast's monthly mean wind speed: no length
normalisation (a mean does not scale with days), no losses, and the annual value is the
day-weighted mean of the twelve calendar-month means [m s-1].

Notes
-----
30-day normalisation of month :math:`m` with :math:`d_m` days and net energy :math:`E_m`:

.. math:: E^{30}_m = \frac{30}{d_m} \, \frac{E_m}{1 - L^{avail}_m - L^{curt}_m}

Fit :math:`E^{30}_m = a + b\,U_m + \varepsilon_m` by OLS, with :math:`U_m` the reanalysis
monthly mean wind; residual :math:`\sigma = \sqrt{\mathrm{SSR} / (n - 2)}`. Long-term annual
net energy over a window of years:

.. math:: E_{LT} = (1 - \bar L) \sum_{c=1}^{12} \frac{\bar d_c}{30}
          \overline{\max(0, a + b\,U)}_c

with :math:`\overline{\,\cdot\,}_c` the mean over the window's complete months of calendar
month :math:`c`, :math:`\bar d_c` its mean length in days (28.25 for February over leap
cycles) and :math:`\bar L` the mean total loss fraction of the months used in the fit.
Predictions are clipped at zero: a month cannot produce negative energy.

References
----------
.. [1] Perr-Sauer, J., Optis, M., Fields, J. M., et al. (2021). OpenOA: An open-source
   codebase for operational analysis of wind farms. Journal of Open Source Software, 6(58),
   2171. https://doi.org/10.21105/joss.02171
.. [2] Bodini, N., & Optis, M. (2020). Operational-based annual energy production
   uncertainty: are its components actually uncorrelated? Wind Energy Science, 5, 1435-1448.
   https://doi.org/10.5194/wes-5-1435-2020
.. [3] Huber, P. J. (1964). Robust estimation of a location parameter. The Annals of
   Mathematical Statistics, 35(1), 73-101. https://doi.org/10.1214/aoms/1177703732
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from climate_data.site import SiteClimate
from models.errors import InsufficientData as InsufficientData  # re-exported
from models.errors import ModelInputError
from models.registry import ModelCard, software_versions, utc_now

Quantity = Literal["energy_mwh", "wind_ms"]

#: Fewest usable months for a fit; fewer raise :class:`InsufficientData`.
MIN_MONTHS = 12
#: z of the 90 % exceedance level (one-sided normal quantile).
Z_P90 = 1.2815515655446004

_UNITS: dict[str, str] = {"energy_mwh": "MWh", "wind_ms": "m s-1"}
#: How far below 1 the loss fraction of a month that lost all its energy is set [-].
_ALL_LOST = 1e-9
_MONTH_RE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


class OperatingHistoryError(ModelInputError):
    """The operating history has a bad value; the message names the month."""


@dataclass(frozen=True, eq=False)
class OperatingHistory:
    """Monthly operating record of a project.

    Attributes
    ----------
    months : ndarray of datetime64[M], shape (M,)
        Calendar months, unique (any order).
    values : ndarray, shape (M,)
        Monthly net energy [MWh] when ``quantity == "energy_mwh"``, or monthly mean mast wind
        speed [m s-1] when ``quantity == "wind_ms"``. NaN marks a missing month.
    quantity : {"energy_mwh", "wind_ms"}
        What ``values`` holds.
    availability_loss, curtailment_loss : ndarray, shape (M,), or None
        Fraction of the month's potential energy lost to unavailability and to curtailment
        [0-1]; None when not reported (taken as zero). Only for energy.
    """

    months: NDArray[np.datetime64]
    values: NDArray[np.float64]
    quantity: Quantity = "energy_mwh"
    availability_loss: NDArray[np.float64] | None = None
    curtailment_loss: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        """Check shapes, uniqueness and ranges; freeze the arrays."""
        months = _as_months(self.months, "months")
        values = np.asarray(self.values, dtype=np.float64)
        if values.shape != months.shape:
            raise OperatingHistoryError(
                f"operating history has {months.size} months but {values.size} values"
            )
        if self.quantity not in _UNITS:
            raise OperatingHistoryError(
                f"quantity must be 'energy_mwh' or 'wind_ms', got {self.quantity!r}"
            )
        uniq, counts = np.unique(months, return_counts=True)
        if np.any(counts > 1):
            raise OperatingHistoryError(
                f"month {uniq[counts > 1][0]} appears more than once in the operating history"
            )
        bad = ~np.isnan(values) & ~np.isfinite(values)
        bad |= values < 0
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise OperatingHistoryError(
                f"month {months[i]}: {self.quantity} must be a finite number >= 0, got {values[i]}"
            )
        losses = {
            name: self._checked_loss(name, getattr(self, name), months)
            for name in ("availability_loss", "curtailment_loss")
        }
        total = sum((v for v in losses.values() if v is not None), np.zeros(months.shape))
        if np.any(total >= 1):
            i = int(np.flatnonzero(total >= 1)[0])
            raise OperatingHistoryError(
                f"month {months[i]}: availability + curtailment loss is {total[i]:.3f}, "
                "which leaves no energy; it must be below 1"
            )
        months.setflags(write=False)
        values.setflags(write=False)
        object.__setattr__(self, "months", months)
        object.__setattr__(self, "values", values)
        for name, loss_arr in losses.items():
            object.__setattr__(self, name, loss_arr)

    def _checked_loss(
        self, name: str, raw: ArrayLike | None, months: NDArray[np.datetime64]
    ) -> NDArray[np.float64] | None:
        """A loss series as a read-only array of fractions in [0, 1) (NaN: unknown), or None."""
        if raw is None:
            return None
        if self.quantity == "wind_ms":
            raise OperatingHistoryError(f"{name} applies to energy, not to mast wind")
        arr = np.asarray(raw, dtype=np.float64)
        if arr.shape != months.shape:
            raise OperatingHistoryError(f"{name} has {arr.size} values for {months.size} months")
        bad = ~((arr >= 0) & (arr < 1)) & ~np.isnan(arr)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise OperatingHistoryError(
                f"month {months[i]}: {name} must be a fraction in [0, 1), got {arr[i]}"
            )
        arr.setflags(write=False)
        return arr

    @property
    def total_loss(self) -> NDArray[np.float64]:
        """Availability plus curtailment loss per month [0-1]; NaN where either is missing."""
        total = np.zeros(self.months.shape)
        for arr in (self.availability_loss, self.curtailment_loss):
            if arr is not None:
                total = total + arr
        return total

    @classmethod
    def from_energy_mwh(
        cls,
        months: ArrayLike,
        net_mwh: ArrayLike,
        availability_loss_mwh: ArrayLike | None = None,
        curtailment_loss_mwh: ArrayLike | None = None,
    ) -> OperatingHistory:
        r"""Build from metered net energy and losses in MWh (OpenOA's convention).

        Parameters
        ----------
        months : array_like
            Calendar months (datetime64[M] or ``"YYYY-MM"``).
        net_mwh : array_like
            Metered net energy per month [MWh]; NaN marks a missing month.
        availability_loss_mwh, curtailment_loss_mwh : array_like, optional
            Energy lost per month to unavailability and to curtailment [MWh], >= 0; NaN or
            omitted is no reported loss (0).

        Notes
        -----
        Gross (potential) energy is net plus losses, and the loss fractions are of the gross,
        as in OpenOA's ``MonteCarloAEP`` (``availability_kwh``, ``curtailment_kwh``) [1]_:

        .. math:: E^{gross}_m = E^{net}_m + L^{avail}_m + L^{curt}_m, \qquad
                  f^{avail}_m = L^{avail}_m / E^{gross}_m, \quad
                  f^{curt}_m = L^{curt}_m / E^{gross}_m

        (both 0 in a month with no gross energy; in a month with no net energy but some
        losses they add up to 1 - 1e-9, so the loss filter always drops it).
        """
        m = _as_months(months, "months")
        net = np.asarray(net_mwh, dtype=np.float64)
        fractions: dict[str, NDArray[np.float64] | None] = {}
        given: dict[str, NDArray[np.float64]] = {}
        for name, raw in (
            ("availability", availability_loss_mwh),
            ("curtailment", curtailment_loss_mwh),
        ):
            if raw is None:
                continue
            arr = np.asarray(raw, dtype=np.float64)
            if arr.shape != net.shape:
                raise OperatingHistoryError(
                    f"{name}_loss_mwh has {arr.size} values for {net.size} months"
                )
            bad = ~np.isnan(arr) & ~(np.isfinite(arr) & (arr >= 0))
            if np.any(bad):
                i = int(np.flatnonzero(bad)[0])
                raise OperatingHistoryError(
                    f"month {m[i]}: {name}_loss_mwh must be a finite number >= 0, got {arr[i]}"
                )
            given[name] = np.nan_to_num(arr, nan=0.0)
        gross = net + sum(given.values(), np.zeros(net.shape))
        # A month with no net energy but reported losses lost everything (fraction 1); the
        # fractions are scaled to a total of 1 - 1e-9 (OperatingHistory needs < 1), far above
        # any loss threshold, so the month is always dropped from the fit as a high-loss month.
        scale = np.where((net <= 0) & (gross > 0), 1.0 - _ALL_LOST, 1.0)
        for name in ("availability", "curtailment"):
            if name not in given:
                fractions[name] = None
                continue
            with np.errstate(invalid="ignore", divide="ignore"):
                frac = np.where(gross > 0, given[name] / gross * scale, 0.0)
            fractions[name] = np.where(np.isfinite(net), frac, 0.0)
        return cls(
            months=m,
            values=net,
            availability_loss=fractions["availability"],
            curtailment_loss=fractions["curtailment"],
        )

    @classmethod
    def from_request(cls, obj: Mapping[str, Any]) -> OperatingHistory:
        """Build from the ``operating_history`` object of an assessment request.

        Parameters
        ----------
        obj : mapping
            Either ``{"monthly_energy_mwh": [{"month": "2014-01", "energy_mwh": 812.0,
            "availability_loss_pct": 2.1, "curtailment_loss_pct": 0.0}, ...]}`` (the loss
            keys are optional, in percent) or ``{"monthly_wind_ms": [{"month": "2014-01",
            "wind_ms": 7.3}, ...]}`` for a mast. ``null`` energy marks a missing month.

        Raises
        ------
        OperatingHistoryError
            Unknown layout, a row without ``month``, or a value that is not a number.
        """
        if "monthly_energy_mwh" in obj:
            rows, key, quantity = obj["monthly_energy_mwh"], "energy_mwh", "energy_mwh"
        elif "monthly_wind_ms" in obj:
            rows, key, quantity = obj["monthly_wind_ms"], "wind_ms", "wind_ms"
        else:
            raise OperatingHistoryError(
                "operating_history needs 'monthly_energy_mwh' (or 'monthly_wind_ms' for a mast)"
            )
        if not isinstance(rows, Sequence) or isinstance(rows, str):
            raise OperatingHistoryError(f"operating_history.{quantity} must be a list of months")
        months: list[str] = []
        values: list[float] = []
        loss_cols: dict[str, list[float]] = {"availability": [], "curtailment": []}
        seen_loss = {"availability": False, "curtailment": False}
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping) or "month" not in row:
                raise OperatingHistoryError(
                    f"operating_history row {i}: expected an object with 'month' and '{key}'"
                )
            months.append(str(row["month"]))
            values.append(_number(row.get(key), f"row {i} ({row['month']}): {key}"))
            for loss in loss_cols:
                pct_key = f"{loss}_loss_pct"
                if row.get(pct_key) is not None:
                    seen_loss[loss] = True
                    loss_cols[loss].append(
                        _number(row[pct_key], f"row {i} ({row['month']}): {pct_key}") / 100.0
                    )
                else:
                    loss_cols[loss].append(0.0)
        return cls(
            months=_as_months(months, "operating_history month"),
            values=np.asarray(values, dtype=np.float64),
            quantity=quantity,  # type: ignore[arg-type]
            availability_loss=(
                np.asarray(loss_cols["availability"]) if seen_loss["availability"] else None
            ),
            curtailment_loss=(
                np.asarray(loss_cols["curtailment"]) if seen_loss["curtailment"] else None
            ),
        )


@dataclass(frozen=True, eq=False)
class MonthlyReference:
    """The site's monthly reanalysis wind, the regressor and the long-term record.

    Attributes
    ----------
    months : ndarray of datetime64[M], shape (R,)
        Calendar months, ascending and unique.
    wind_ms : ndarray, shape (R,)
        Monthly mean wind speed [m s-1].
    complete : ndarray of bool, shape (R,)
        Months that meet the coverage rule; the others take no part in anything.
    """

    months: NDArray[np.datetime64]
    wind_ms: NDArray[np.float64]
    complete: NDArray[np.bool_]

    def __post_init__(self) -> None:
        """Check shapes and order; mark non-finite wind as incomplete; freeze."""
        months = _as_months(self.months, "reference months")
        wind = np.asarray(self.wind_ms, dtype=np.float64)
        complete = np.asarray(self.complete, dtype=bool)
        if not (months.shape == wind.shape == complete.shape):
            raise ModelInputError(
                f"reference months, wind and complete differ in length: "
                f"{months.size}, {wind.size}, {complete.size}"
            )
        if months.size > 1 and np.any(np.diff(months.astype(np.int64)) <= 0):
            raise ModelInputError("reference months must be ascending and unique")
        complete = complete & np.isfinite(wind)
        for arr in (months, wind, complete):
            arr.setflags(write=False)
        object.__setattr__(self, "months", months)
        object.__setattr__(self, "wind_ms", wind)
        object.__setattr__(self, "complete", complete)

    @classmethod
    def from_site(cls, site: SiteClimate, hub_height_m: float | None = None) -> MonthlyReference:
        """Take the monthly series of a :class:`~climate_data.site.SiteClimate`.

        Parameters
        ----------
        site : SiteClimate
            The site read from the cube.
        hub_height_m : float, optional
            Height to scale the wind to with the cell's shear exponent [m]; the cube's
            reference height when omitted. (Scaling changes the slope, not the fit quality.)
        """
        f = 1.0 if hub_height_m is None else site.height_factor(hub_height_m)
        return cls(
            months=site.months,
            wind_ms=np.asarray(site.monthly_wind_mean_ms, dtype=np.float64) * f,
            complete=site.monthly_complete,
        )


@dataclass(frozen=True)
class LongTermSettings:
    """Thresholds and bootstrap ranges of the long-term correction.

    Attributes
    ----------
    max_loss_fraction : float
        Nominal threshold: months with availability + curtailment loss above it are dropped
        [0-1]. Default 15 %, the middle of the bootstrap range.
    loss_threshold_range : (float, float)
        Range the bootstrap draws the loss threshold from, uniformly [0-1]. Default 10-20 %,
        OpenOA ``MonteCarloAEP``'s default ``uncertainty_loss_max = (10, 20)`` percent [1]_.
    outlier_threshold : float
        A month is an outlier when its RLM residual exceeds this many robust standard
        deviations [-].
    huber_t : float
        Tuning constant of Huber's T norm [-]; 1.345 gives 95 % efficiency for normal errors.
    long_term_years : (int, int)
        Range of the long-term window length drawn by the bootstrap [years], clipped to the
        years the reference has. The point estimate uses the upper end.
    n_bootstrap : int
        Number of bootstrap replicates.
    min_months : int
        Fewest usable months for a fit.
    """

    max_loss_fraction: float = 0.15
    loss_threshold_range: tuple[float, float] = (0.10, 0.20)
    outlier_threshold: float = 3.0
    huber_t: float = 1.345
    long_term_years: tuple[int, int] = (10, 20)
    n_bootstrap: int = 2000
    min_months: int = MIN_MONTHS

    def __post_init__(self) -> None:
        """Reject settings that cannot work."""
        lo, hi = self.loss_threshold_range
        if not (0 <= lo <= hi < 1 and 0 <= self.max_loss_fraction < 1):
            raise ModelInputError("loss thresholds must be fractions in [0, 1) with low <= high")
        ylo, yhi = self.long_term_years
        if not (1 <= ylo <= yhi):
            raise ModelInputError(f"long_term_years must satisfy 1 <= low <= high, got {ylo, yhi}")
        if self.n_bootstrap < 100:
            raise ModelInputError(f"n_bootstrap must be at least 100, got {self.n_bootstrap}")
        if self.min_months < 3:
            raise ModelInputError(f"min_months must be at least 3, got {self.min_months}")
        if not (self.outlier_threshold > 0 and self.huber_t > 0):
            raise ModelInputError("outlier_threshold and huber_t must be positive")


@dataclass(frozen=True)
class RegressionFit:
    r"""OLS fit of the monthly operating value on the reanalysis wind.

    Attributes
    ----------
    slope : float
        [MWh per (m s-1)] per 30-day month for energy; [-] for mast wind.
    intercept : float
        [MWh] per 30-day month for energy; [m s-1] for mast wind.
    r_squared : float
        Coefficient of determination [-].
    sigma : float
        Residual standard deviation, :math:`\sqrt{SSR / (n - 2)}`, in the units of the
        intercept.
    slope_ci, intercept_ci : (float, float)
        95 % confidence intervals (t distribution).
    n : int
        Months in the fit.
    covariance : ((float, float), (float, float))
        Covariance of (intercept, slope).
    """

    slope: float
    intercept: float
    r_squared: float
    sigma: float
    slope_ci: tuple[float, float]
    intercept_ci: tuple[float, float]
    n: int
    covariance: tuple[tuple[float, float], tuple[float, float]] = ((math.nan, math.nan),) * 2

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "slope": self.slope,
            "intercept": self.intercept,
            "r_squared": self.r_squared,
            "sigma": self.sigma,
            "slope_ci95": list(self.slope_ci),
            "intercept_ci95": list(self.intercept_ci),
            "n_months": self.n,
        }


@dataclass(frozen=True, eq=False)
class LongTermResult:
    """Long-term annual value of a project from its operating history.

    Attributes
    ----------
    quantity : {"energy_mwh", "wind_ms"}
        What was regressed; ``units`` says the unit of every annual figure.
    units : str
        "MWh" (annual net energy) or "m s-1" (annual mean wind).
    p50 : float
        Median of the bootstrap distribution of the long-term annual value.
    sigma : float
        Standard deviation of that distribution (uncertainty of the long-term mean).
    sigma_fraction : float
        ``sigma / p50`` [-], what the assessment uses as σ_model.
    p90 : float
        10th percentile of the bootstrap distribution (exceeded with 90 % probability).
    point_estimate : float
        Long-term annual value from the nominal fit over the longest window.
    fit : RegressionFit
        The nominal OLS fit.
    annual_by_year : dict of str to float or None
        Predicted annual value per reference year from the nominal fit; None for a year with
        an incomplete month.
    iav : float or None
        Sample standard deviation (ddof 1) of the complete years in ``annual_by_year``
        divided by their mean [-]; None with fewer than two.
    mean_loss_fraction : float
        Mean availability + curtailment loss of the months in the fit [0-1].
    n_months_input, n_months_used : int
        Months given, months in the nominal fit.
    n_dropped_missing, n_dropped_reference, n_dropped_loss, n_outliers : int
        Months dropped for a missing value, for an absent or incomplete reanalysis month, for
        losses above ``max_loss_fraction``, and as RLM outliers.
    months_used, outlier_months : tuple of str
        ``YYYY-MM`` of the months in the fit and of the outliers.
    long_term_period : (int, int)
        First and last year of the longest window.
    long_term_years : (int, int)
        Window lengths the bootstrap drew from [years].
    n_bootstrap, seed : int
        Replicates and seed (rerun with the same seed gives the same figures).
    samples : ndarray
        The bootstrap replicates (not in :meth:`to_dict`).
    mean_availability_loss_fraction, mean_curtailment_loss_fraction : float
        Mean availability and curtailment loss fractions of the months in the fit [0-1]; their
        sum is ``mean_loss_fraction``, the long-term loss subtracted from the gross estimate.
    max_loss_fraction : float
        Nominal loss threshold: months above it were dropped from the fit [0-1].
    loss_threshold_range : (float, float)
        Range the bootstrap drew the loss threshold from [0-1].
    """

    quantity: Quantity
    units: str
    p50: float
    sigma: float
    sigma_fraction: float
    p90: float
    point_estimate: float
    fit: RegressionFit
    annual_by_year: dict[str, float | None]
    iav: float | None
    mean_loss_fraction: float
    n_months_input: int
    n_months_used: int
    n_dropped_missing: int
    n_dropped_reference: int
    n_dropped_loss: int
    n_outliers: int
    months_used: tuple[str, ...]
    outlier_months: tuple[str, ...]
    long_term_period: tuple[int, int]
    long_term_years: tuple[int, int]
    n_bootstrap: int
    seed: int
    samples: NDArray[np.float64] = field(repr=False)
    mean_availability_loss_fraction: float = 0.0
    mean_curtailment_loss_fraction: float = 0.0
    max_loss_fraction: float = 0.15
    loss_threshold_range: tuple[float, float] = (0.10, 0.20)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; annual figures are keyed with their unit (``p50_mwh``/``p50_ms``)."""
        suffix = "mwh" if self.quantity == "energy_mwh" else "ms"
        return {
            "method": "operating_history",
            "quantity": self.quantity,
            f"p50_{suffix}": self.p50,
            f"p90_{suffix}": self.p90,
            f"sigma_{suffix}": self.sigma,
            "sigma_fraction": self.sigma_fraction,
            f"point_estimate_{suffix}": self.point_estimate,
            f"annual_{suffix}": dict(self.annual_by_year),
            "iav": self.iav,
            "mean_loss_fraction": self.mean_loss_fraction,
            "mean_availability_loss_fraction": self.mean_availability_loss_fraction,
            "mean_curtailment_loss_fraction": self.mean_curtailment_loss_fraction,
            "max_loss_fraction": self.max_loss_fraction,
            "loss_threshold_range": list(self.loss_threshold_range),
            "fit": self.fit.to_dict(),
            "months": {
                "input": self.n_months_input,
                "used": self.n_months_used,
                "dropped_missing": self.n_dropped_missing,
                "dropped_reference_incomplete": self.n_dropped_reference,
                "dropped_high_loss": self.n_dropped_loss,
                "outliers": self.n_outliers,
                "outlier_months": list(self.outlier_months),
            },
            "long_term_period": list(self.long_term_period),
            "long_term_years": list(self.long_term_years),
            "n_bootstrap": self.n_bootstrap,
            "seed": self.seed,
        }


#: Lowest plausible median monthly capacity factor of an operating wind farm's net energy
#: [-]: 1 %. Real onshore farms run at 15-45 % a year and rarely below 5 % in any month; a
#: median of 1 % means the numbers are not monthly MWh of this plant (wind speeds in m s-1,
#: GWh, or another plant's capacity).
MIN_MEDIAN_CAPACITY_FACTOR = 0.01
#: Largest monthly mean wind speed the check reads as "looks like m/s" [m s-1].
_MAX_WIND_LIKE_MS = 40.0


def check_energy_plausible(
    history: OperatingHistory, capacity_mw: float, field: str = "monthly_energy_mwh"
) -> None:
    r"""Reject an operating history that cannot be this plant's monthly energy in MWh.

    Parameters
    ----------
    history : OperatingHistory
        Monthly net energy [MWh] and loss fractions.
    capacity_mw : float
        Installed capacity of the plant [MW], > 0.
    field : str
        Name of the series in messages.

    Raises
    ------
    OperatingHistoryError
        Not energy; a month whose gross energy exceeds the capacity times the month's hours;
        or a median month below :data:`MIN_MEDIAN_CAPACITY_FACTOR` of that (with "looks like
        wind speeds in m/s" when every value is at most 40). The message names the field
        and the month.

    Notes
    -----
    Upper bound, month :math:`m` with :math:`h_m` hours:
    :math:`E^{gross}_m = E^{net}_m / (1 - f_m) \le P h_m` (a plant cannot make more than its
    nameplate output every hour). Lower bound: the median over the months with positive
    energy of :math:`E^{net}_m / (P h_m)` is at least 1 %. Months with zero energy (before
    commissioning, outages) are left out of the median, so they never cause a rejection.
    """
    if history.quantity != "energy_mwh":
        raise OperatingHistoryError(
            f"{field}: the series holds {history.quantity}, not monthly energy in MWh"
        )
    if not (math.isfinite(capacity_mw) and capacity_mw > 0):
        raise ModelInputError(f"capacity_mw must be > 0, got {capacity_mw}")
    net = history.values
    ok = np.isfinite(net)
    if not np.any(ok):
        return
    hours = days_in_month(history.months) * 24.0
    full = capacity_mw * hours
    gross = net / (1.0 - history.total_loss)
    over = ok & (gross > full * (1.0 + 1e-9))
    if np.any(over):
        i = int(np.flatnonzero(over)[0])
        raise OperatingHistoryError(
            f"{field}: month {history.months[i]} has {gross[i]:,.0f} MWh (net plus losses), "
            f"more than a {capacity_mw:g} MW plant makes running at full output all "
            f"{hours[i]:.0f} hours of the month ({full[i]:,.0f} MWh); check the units (MWh, "
            "not kWh) and the capacity"
        )
    positive = ok & (net > 0)
    if not np.any(positive):
        raise OperatingHistoryError(
            f"{field}: every month with a value has zero energy; send the metered net energy "
            "in MWh (null for a month without data)"
        )
    cf = net[positive] / full[positive]
    median_cf = float(np.median(cf))
    if median_cf < MIN_MEDIAN_CAPACITY_FACTOR:
        median_value = float(np.median(net[positive]))
        if float(np.max(net[ok])) <= _MAX_WIND_LIKE_MS:
            raise OperatingHistoryError(
                f"{field}: the values (median {median_value:g}, largest "
                f"{float(np.max(net[ok])):g}) look like wind speeds in m/s, not monthly energy "
                f"in MWh: as energy, the {capacity_mw:g} MW plant would run at "
                f"{100 * median_cf:.3f} % of its capacity; send metered energy in MWh (mast "
                "wind speeds belong in project.site_evidence.mast)"
            )
        raise OperatingHistoryError(
            f"{field}: the median month is {median_value:,.1f} MWh, {100 * median_cf:.2f} % of "
            f"what the {capacity_mw:g} MW plant makes at full output (at least "
            f"{100 * MIN_MEDIAN_CAPACITY_FACTOR:g} % is plausible); check the units (MWh, not "
            "GWh) and the capacity"
        )


def days_in_month(months: ArrayLike) -> NDArray[np.float64]:
    """Length of each calendar month [days].

    Parameters
    ----------
    months : array_like of datetime64[M] or "YYYY-MM" strings

    Returns
    -------
    ndarray of float
    """
    m = _as_months(months, "months")
    days = (m + np.timedelta64(1, "M")).astype("datetime64[D]") - m.astype("datetime64[D]")
    return np.asarray(days.astype(np.float64), dtype=np.float64)


def fit_monthly_regression(x: ArrayLike, y: ArrayLike) -> RegressionFit:
    """Fit ``y = intercept + slope * x`` by OLS (statsmodels) and return the fit figures.

    Parameters
    ----------
    x : array_like, shape (n,)
        Regressor, e.g. reanalysis monthly mean wind [m s-1].
    y : array_like, shape (n,)
        Response, e.g. 30-day-normalised potential energy [MWh].

    Returns
    -------
    RegressionFit

    Raises
    ------
    ValueError
        Different lengths, non-finite values, fewer than 3 points or constant ``x``.
    """
    import statsmodels.api as sm  # lazy: about 1.7 s to load; only a fit needs it

    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.shape != ya.shape or xa.ndim != 1:
        raise ModelInputError(
            f"x and y must be 1-d and of equal length, got {xa.shape}, {ya.shape}"
        )
    if xa.size < 3:
        raise ModelInputError(f"a regression needs at least 3 points, got {xa.size}")
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya))):
        raise ModelInputError("x and y must be finite (drop missing months first)")
    if np.ptp(xa) == 0:
        raise ModelInputError("x is constant; the slope cannot be estimated")
    if np.ptp(ya) == 0:
        raise ModelInputError("y is constant (e.g. all zero); the fit has no variance to explain")
    res = sm.OLS(ya, sm.add_constant(xa, has_constant="add"), missing="raise").fit()
    ci = np.asarray(res.conf_int(alpha=0.05))
    cov = np.asarray(res.cov_params())
    return RegressionFit(
        slope=float(res.params[1]),
        intercept=float(res.params[0]),
        r_squared=float(res.rsquared),
        sigma=float(math.sqrt(res.scale)),
        slope_ci=(float(ci[1, 0]), float(ci[1, 1])),
        intercept_ci=(float(ci[0, 0]), float(ci[0, 1])),
        n=int(xa.size),
        covariance=(
            (float(cov[0, 0]), float(cov[0, 1])),
            (float(cov[1, 0]), float(cov[1, 1])),
        ),
    )


def robust_outliers(
    x: ArrayLike, y: ArrayLike, threshold: float = 3.0, huber_t: float = 1.345
) -> NDArray[np.bool_]:
    r"""Flag points far from a robust (Huber) regression line.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Regressor and response.
    threshold : float
        Flag where ``|residual| > threshold * scale`` [-].
    huber_t : float
        Tuning constant of statsmodels' ``HuberT`` norm [-].

    Returns
    -------
    ndarray of bool, shape (n,)
        True for outliers.

    Notes
    -----
    statsmodels ``RLM`` with ``HuberT(t)`` minimises :math:`\sum \rho(r_i / s)` with
    :math:`\rho(z) = z^2/2` for :math:`|z| \le t` and :math:`t|z| - t^2/2` beyond, and
    estimates the scale :math:`s` robustly (Huber's proposal 2 / MAD) [3]_.
    """
    import statsmodels.api as sm  # lazy: about 1.7 s to load; only a fit needs it

    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    model = sm.RLM(ya, sm.add_constant(xa, has_constant="add"), M=sm.robust.norms.HuberT(huber_t))
    res = model.fit()
    scale = float(res.scale)
    if not scale > 0:
        return np.zeros(xa.shape, dtype=bool)
    return np.asarray(np.abs(res.resid) > threshold * scale)


def long_term_correction(
    history: OperatingHistory,
    reference: SiteClimate | MonthlyReference,
    *,
    hub_height_m: float | None = None,
    settings: LongTermSettings | None = None,
    seed: int = 0,
) -> LongTermResult:
    """Long-term annual energy (or mast wind) from operating months and reanalysis wind.

    Parameters
    ----------
    history : OperatingHistory
        Monthly net energy [MWh] (with optional loss fractions) or mast wind [m s-1].
    reference : SiteClimate or MonthlyReference
        The site's monthly reanalysis wind; a ``SiteClimate`` is read with
        :meth:`MonthlyReference.from_site`.
    hub_height_m : float, optional
        Height to scale the reanalysis wind to [m] (``SiteClimate`` only).
    settings : LongTermSettings, optional
        Thresholds and bootstrap ranges; defaults when omitted.
    seed : int
        Seed of the bootstrap's :class:`numpy.random.Generator`.

    Returns
    -------
    LongTermResult

    Raises
    ------
    InsufficientData
        Fewer than ``settings.min_months`` usable months, or a calendar month with no complete
        reanalysis month in the shortest long-term window.

    Notes
    -----
    See the module docstring for the method and equations.
    """
    cfg = settings or LongTermSettings()
    if isinstance(reference, SiteClimate):
        ref = MonthlyReference.from_site(reference, hub_height_m)
    else:
        if hub_height_m is not None:
            raise ModelInputError("hub_height_m applies to a SiteClimate reference only")
        ref = reference
    energy = history.quantity == "energy_mwh"
    if ref.months.size == 0:
        raise InsufficientData("the reanalysis record has no months")

    # --- align operating months with reference months --------------------------------------
    pos = np.searchsorted(ref.months, history.months)
    pos_c = np.clip(pos, 0, ref.months.size - 1)
    in_ref = ref.months[pos_c] == history.months
    ref_ok = in_ref & ref.complete[pos_c]
    x_all = np.where(ref_ok, ref.wind_ms[pos_c], np.nan)

    loss = history.total_loss
    if energy:
        y_all = history.values * 30.0 / days_in_month(history.months) / (1.0 - loss)
    else:
        y_all = history.values.copy()
    missing = ~np.isfinite(history.values) | ~np.isfinite(loss)
    drop_ref = ~missing & ~ref_ok
    candidate = ~missing & ref_ok
    high_loss = candidate & (loss > cfg.max_loss_fraction)

    # --- outliers: one robust fit on every month any bootstrap replicate may use -------------
    pool = candidate & (loss <= max(cfg.loss_threshold_range[1], cfg.max_loss_fraction))
    outlier = np.zeros(history.months.shape, dtype=bool)
    if pool.sum() >= cfg.min_months and np.ptp(x_all[pool]) > 0:
        outlier[pool] = robust_outliers(
            x_all[pool], y_all[pool], cfg.outlier_threshold, cfg.huber_t
        )
    used = candidate & ~high_loss & ~outlier
    n_used = int(used.sum())
    if n_used < cfg.min_months:
        raise InsufficientData(
            f"only {n_used} usable operating months (need at least {cfg.min_months}): "
            f"{int(missing.sum())} missing, {int(drop_ref.sum())} without a complete reanalysis "
            f"month, {int(high_loss.sum())} with losses above {cfg.max_loss_fraction:.0%}, "
            f"{int((outlier & candidate & ~high_loss).sum())} outliers; supply more months of "
            "operation or use the reanalysis-only estimate"
        )
    fit = fit_monthly_regression(x_all[used], y_all[used])

    # --- long-term record ----------------------------------------------------------------------
    lt = _LongTermRecord(ref, cfg.long_term_years, energy)
    mean_loss = float(loss[used].mean()) if energy else 0.0
    mean_avail = (
        float(history.availability_loss[used].mean())
        if energy and history.availability_loss is not None
        else 0.0
    )
    mean_curt = (
        float(history.curtailment_loss[used].mean())
        if energy and history.curtailment_loss is not None
        else 0.0
    )
    point = lt.annual(fit.intercept, fit.slope, lt.n_years_max) * (1.0 - mean_loss)
    by_year = lt.by_year(fit.intercept, fit.slope, 1.0 - mean_loss)
    complete_years = [v for v in by_year.values() if v is not None]
    iav = (
        float(np.std(complete_years, ddof=1) / np.mean(complete_years))
        if len(complete_years) >= 2
        else None
    )

    # --- bootstrap ---------------------------------------------------------------------------
    base = candidate & ~outlier
    samples = _bootstrap(
        x_all[base],
        y_all[base],
        loss[base] if energy else np.zeros(int(base.sum())),
        lt,
        cfg,
        np.random.default_rng(seed),
    )
    samples = samples[np.isfinite(samples)]
    samples.setflags(write=False)
    p50 = float(np.median(samples))
    sigma = float(np.std(samples, ddof=1))

    return LongTermResult(
        quantity=history.quantity,
        units=_UNITS[history.quantity],
        p50=p50,
        sigma=sigma,
        sigma_fraction=sigma / p50 if p50 > 0 else math.nan,
        p90=float(np.quantile(samples, 0.10)),
        point_estimate=float(point),
        fit=fit,
        annual_by_year=by_year,
        iav=iav,
        mean_loss_fraction=mean_loss,
        n_months_input=int(history.months.size),
        n_months_used=n_used,
        n_dropped_missing=int(missing.sum()),
        n_dropped_reference=int(drop_ref.sum()),
        n_dropped_loss=int(high_loss.sum()),
        n_outliers=int((outlier & candidate & ~high_loss).sum()),
        months_used=tuple(str(m) for m in np.sort(history.months[used])),
        outlier_months=tuple(
            str(m) for m in np.sort(history.months[outlier & candidate & ~high_loss])
        ),
        long_term_period=lt.period,
        long_term_years=(lt.n_years_min, lt.n_years_max),
        n_bootstrap=cfg.n_bootstrap,
        seed=seed,
        samples=samples,
        mean_availability_loss_fraction=mean_avail,
        mean_curtailment_loss_fraction=mean_curt,
        max_loss_fraction=cfg.max_loss_fraction,
        loss_threshold_range=cfg.loss_threshold_range,
    )


def history_sha256(history: OperatingHistory, reference: MonthlyReference) -> str:
    """Return the sha256 of the inputs of a long-term correction (a card's training data).

    The hash is taken over canonical JSON of the months, values, losses and reference series,
    so it does not depend on how the arrays were built.
    """
    return hashlib.sha256(_history_blob(history, reference)).hexdigest()


def _history_blob(history: OperatingHistory, reference: MonthlyReference) -> bytes:
    """Canonical JSON bytes of a long-term correction's inputs."""
    doc = {
        "quantity": history.quantity,
        "months": [str(m) for m in history.months],
        "values": [_json_float(v) for v in history.values],
        "total_loss": [_json_float(v) for v in history.total_loss],
        "reference_months": [str(m) for m in reference.months],
        "reference_wind_ms": [_json_float(v) for v in reference.wind_ms],
        "reference_complete": [bool(c) for c in reference.complete],
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def longterm_card(
    result: LongTermResult,
    history: OperatingHistory,
    reference: MonthlyReference,
    *,
    author: str,
    description: str,
    created_at: str | None = None,
) -> ModelCard:
    """Return an unsaved candidate model card (kind ``longterm``) of a long-term correction.

    Parameters
    ----------
    result : LongTermResult
        The correction.
    history, reference : OperatingHistory, MonthlyReference
        Its inputs (hashed into ``training_data``).
    author, description : str
        Card fields.
    created_at : str, optional
        ISO 8601 UTC time; now when omitted.
    """
    fit = result.fit
    return ModelCard(
        kind="longterm",
        version=None,
        status="candidate",
        created_at=created_at or utc_now(),
        author=author,
        description=description,
        parameters={
            "model": "ols",
            "quantity": result.quantity,
            "names": ["intercept", "slope"],
            "intercept": fit.intercept,
            "slope": fit.slope,
            "residual_sigma": fit.sigma,
            "mean_loss_fraction": result.mean_loss_fraction,
        },
        covariance={"names": ["intercept", "slope"], "matrix": [list(r) for r in fit.covariance]},
        features=[
            {
                "name": "reanalysis_monthly_wind_ms",
                "transform": "identity",
                "units": "m s-1",
                "description": "site's monthly mean reanalysis wind (complete months only)",
            },
            {
                "name": f"monthly_{result.quantity}",
                "transform": "30-day normalised, grossed up for losses"
                if result.quantity == "energy_mwh"
                else "identity",
                "units": result.units,
                "description": "response: operating months after loss and outlier filters",
            },
        ],
        training_data={
            "sha256": history_sha256(history, reference),
            "n_rows": result.n_months_input,
            "n_used": result.n_months_used,
            "size_bytes": len(_history_blob(history, reference)),
            "synthetic": False,
        },
        metrics=result.to_dict(),
        software=software_versions(),
    )


# --- helpers --------------------------------------------------------------------------------


class _LongTermRecord:
    """Complete reference months arranged by year and calendar month for fast re-use."""

    def __init__(self, ref: MonthlyReference, years_range: tuple[int, int], energy: bool) -> None:
        months = ref.months
        if months.size == 0:
            raise InsufficientData("the reanalysis record has no months")
        year = months.astype("datetime64[Y]").astype(np.int64) + 1970
        cal = months.astype(np.int64) % 12
        self.years = np.arange(int(year.min()), int(year.max()) + 1)
        ny = self.years.size
        self.wind = np.full((ny, 12), np.nan)
        rows = year - self.years[0]
        self.wind[rows[ref.complete], cal[ref.complete]] = ref.wind_ms[ref.complete]
        first = np.datetime64(f"{self.years[0]}-01", "M")
        grid = first + np.arange(ny * 12).reshape(ny, 12)
        self.days = days_in_month(grid.ravel()).reshape(ny, 12)
        self.energy = energy
        self.n_years_max = min(years_range[1], ny)
        self.n_years_min = min(years_range[0], self.n_years_max)
        short = self.wind[-self.n_years_min :]
        empty = np.all(np.isnan(short), axis=0)
        if np.any(empty):
            names = ", ".join(str(c + 1) for c in np.flatnonzero(empty))
            raise InsufficientData(
                f"the latest {self.n_years_min} years of the reanalysis have no complete month "
                f"for calendar month(s) {names}; the long-term record is too short"
            )
        self.period = (int(self.years[-self.n_years_max]), int(self.years[-1]))

    def _monthly(self, a: float, b: float) -> NDArray[np.float64]:
        pred = a + b * self.wind
        return np.maximum(pred, 0.0) if self.energy else pred

    def annual(self, a: float, b: float, n_years: int) -> float:
        """Long-term annual value over the latest ``n_years``."""
        pred = self._monthly(a, b)[-n_years:]
        days = self.days[-n_years:].mean(axis=0)
        cal_mean = np.nanmean(pred, axis=0)
        if self.energy:
            return float(np.sum(cal_mean * days / 30.0))
        return float(np.sum(cal_mean * days) / np.sum(days))

    def annual_many(
        self, a: NDArray[np.float64], b: NDArray[np.float64], n_years: int
    ) -> NDArray[np.float64]:
        """:meth:`annual` for many (intercept, slope) pairs at once; NaN where slope is NaN."""
        wind = self.wind[-n_years:]
        pred = a[:, None, None] + b[:, None, None] * wind[None]
        if self.energy:
            pred = np.maximum(pred, 0.0)
        count = np.sum(~np.isnan(wind), axis=0)
        cal_mean = np.nansum(pred, axis=1) / count
        days = self.days[-n_years:].mean(axis=0)
        if self.energy:
            total = np.sum(cal_mean * days / 30.0, axis=1)
        else:
            total = np.sum(cal_mean * days, axis=1) / np.sum(days)
        return np.asarray(np.where(np.isfinite(b), total, np.nan), dtype=np.float64)

    def by_year(self, a: float, b: float, keep: float) -> dict[str, float | None]:
        """Predicted value per year; None for a year with an incomplete month."""
        pred = self._monthly(a, b)
        out: dict[str, float | None] = {}
        for i, y in enumerate(self.years):
            if np.any(np.isnan(pred[i])):
                out[str(int(y))] = None
            elif self.energy:
                out[str(int(y))] = float(np.sum(pred[i] * self.days[i] / 30.0) * keep)
            else:
                out[str(int(y))] = float(np.sum(pred[i] * self.days[i]) / np.sum(self.days[i]))
        return out


def _bootstrap(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    loss: NDArray[np.float64],
    lt: _LongTermRecord,
    cfg: LongTermSettings,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Bootstrap replicates of the long-term annual value (vectorised over replicates).

    Replicate ``i`` draws a loss threshold, keeps the ``k_i`` months with loss at or below it
    (all months with loss <= ``max_loss_fraction`` if fewer than ``min_months`` remain),
    resamples ``k_i`` of them with replacement, refits by least squares, draws a window
    length and applies the fit to that window, net of its own months' mean loss.
    """
    order = np.argsort(loss, kind="stable")
    xs, ys, ls = x[order], y[order], loss[order]
    n, b_count = xs.size, cfg.n_bootstrap
    lo, hi = cfg.loss_threshold_range
    thr = rng.uniform(lo, hi, b_count)
    u = rng.random((b_count, n))
    n_years = rng.integers(lt.n_years_min, lt.n_years_max + 1, b_count)
    k = np.searchsorted(ls, thr, side="right")
    k_nominal = int(np.searchsorted(ls, cfg.max_loss_fraction, side="right"))
    k = np.where(k < cfg.min_months, k_nominal, k)
    pick = np.minimum((u * k[:, None]).astype(np.int64), n - 1)
    w = (np.arange(n)[None, :] < k[:, None]).astype(np.float64)
    xp, yp, lp = xs[pick], ys[pick], ls[pick]
    kf = k.astype(np.float64)
    xm = (w * xp).sum(axis=1) / kf
    ym = (w * yp).sum(axis=1) / kf
    dx = (xp - xm[:, None]) * w
    sxx = (dx * dx).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(sxx > 0, (dx * (yp - ym[:, None])).sum(axis=1) / sxx, np.nan)
    intercept = ym - slope * xm
    keep = 1.0 - (w * lp).sum(axis=1) / kf
    out = np.full(b_count, np.nan)
    for years in np.unique(n_years):
        sel = n_years == years
        out[sel] = lt.annual_many(intercept[sel], slope[sel], int(years)) * keep[sel]
    return out


def _as_months(values: ArrayLike, what: str) -> NDArray[np.datetime64]:
    """Parse to datetime64[M]; a bad string raises OperatingHistoryError naming it."""
    arr = np.asarray(values)
    if np.issubdtype(arr.dtype, np.datetime64):
        out = arr.astype("datetime64[M]")
    else:
        parsed = []
        for v in arr.ravel().tolist():
            if not (isinstance(v, str) and _MONTH_RE.fullmatch(v)):
                raise OperatingHistoryError(f"{what} {v!r} is not a calendar month; use 'YYYY-MM'")
            parsed.append(np.datetime64(v, "M"))
        out = np.asarray(parsed, dtype="datetime64[M]").reshape(arr.shape)
    if np.any(np.isnat(out)):
        raise OperatingHistoryError(f"{what} contains a missing month (NaT)")
    return np.array(out, dtype="datetime64[M]")


def _number(value: Any, where: str) -> float:
    """Return a JSON number as float, null as NaN; anything else is an error naming ``where``."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OperatingHistoryError(f"{where} must be a number, got {value!r}")
    return float(value)


def _json_float(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None
