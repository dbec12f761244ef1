r"""Site evidence for a wind project: an on-site mast (MCP) or a wind-atlas mean.

Without evidence a new-build site takes the nearest reanalysis cell as it is, with the model
uncertainty :data:`models.uncertainty.SIGMA_MODEL_REANALYSIS`. Reanalysis wind at hub height is
biased by several percent; a bias shifts the P50, it does not widen the spread. This module
corrects the cell's wind distribution with what is known about the site and sets the model
uncertainty that goes with that evidence:

- **Mast (measure-correlate-predict, MCP).** A mast's hourly or 10-minute wind speed, measured
  over at least :data:`MIN_CONCURRENT_MONTHS` months, is reduced to monthly means and correlated
  with the cell's monthly means at the mast height over the concurrent months (the cube holds
  monthly means and histograms, not hours). A linear map :math:`\hat y = a + b x` (ordinary
  least squares or the variance ratio) then predicts every month of the record, and each
  month's histogram is stretched along the speed axis by :math:`(a + b U_m) / U_m`
  (:func:`mcp`).
- **Atlas.** A long-term mean wind speed at a stated height from a wind atlas (e.g. the Global
  Wind Atlas) or a consultant's report: every histogram is scaled along the speed axis so that
  the cell's long-term mean at that height equals the atlas mean (:func:`atlas_scaling`).

:func:`apply_site_evidence` is the one entry point of :func:`models.assessment.assess`. It
returns the corrected :class:`climate_data.site.SiteClimate` (energy is then computed on it as
usual) and the model uncertainty with its basis (:func:`sigma_model_mcp`,
:data:`SIGMA_MODEL_ATLAS`, :data:`MODEL_BASIS`).

Thresholds: a mast needs :data:`MIN_CONCURRENT_MONTHS` (12) concurrent complete months and a
coefficient of determination of the monthly means of at least :data:`MIN_R_SQUARED` (0.6);
otherwise :class:`EvidenceError` names the field and the figure. A month of mast data counts
when at least :data:`climate_data.site.MONTH_COVERAGE_MIN` (90 %) of its intervals are valid.

References
----------
.. [1] Rogers, A. L., Rogers, J. W. and Manwell, J. F. (2005). Comparison of the performance
   of four measure-correlate-predict algorithms. J. Wind Eng. Ind. Aerodyn. 93, 243-264,
   doi:10.1016/j.jweia.2004.11.004 (linear regression understates the spread of the
   predicted wind; the variance-ratio method does not).
.. [2] Davis, N. N. et al. (2023). The Global Wind Atlas: a high-resolution dataset of
   climatologies and associated web-based application. Bull. Amer. Meteor. Soc. 104,
   E1507-E1525, doi:10.1175/BAMS-D-21-0075.1
.. [3] IEC 61400-12-1:2017, Power performance measurements of electricity producing wind
   turbines (anemometer calibration and classification, annex on measurement uncertainty).
.. [4] IEC 61400-15 (series), Assessment of site suitability and energy yield (uncertainty
   categories: measurement, long-term correction, vertical extrapolation, plant performance).
.. [5] Lee, J. C. Y. and Fields, M. J. (2021). An overview of wind-energy-production
   prediction bias, losses, and uncertainties. Wind Energ. Sci. 6, 311-365,
   doi:10.5194/wes-6-311-2021
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from climate_data.site import MONTH_COVERAGE_MIN, SiteClimate
from models.errors import ModelInputError
from models.longterm import RegressionFit, fit_monthly_regression
from models.uncertainty import SIGMA_MODEL_OPERATING, SIGMA_MODEL_REANALYSIS
from models.wind import WindProject, wind_energy

__all__ = [
    "MAX_MAST_VALUES",
    "MCP_METHODS",
    "MEASUREMENT_UNCERTAINTY",
    "MIN_CONCURRENT_MONTHS",
    "MIN_R_SQUARED",
    "MODEL_BASIS",
    "PLANT_UNCERTAINTY",
    "SIGMA_MODEL_ATLAS",
    "VERTICAL_UNCERTAINTY_PER_M",
    "AtlasMean",
    "EvidenceError",
    "EvidenceResult",
    "MastSeries",
    "SiteEvidence",
    "apply_site_evidence",
    "atlas_scaling",
    "energy_sensitivity",
    "mcp",
    "model_basis",
    "scale_months",
    "sigma_model_mcp",
]

#: Fewest concurrent complete months of mast and reanalysis for an MCP.
MIN_CONCURRENT_MONTHS = 12
#: Smallest coefficient of determination of concurrent monthly means for an MCP [-]. Monthly
#: means correlate far better than hours (R² 0.6 of monthly means is a weak reference); below
#: it the cell does not describe the site's month-to-month variation well enough to carry the
#: mast to the long term.
MIN_R_SQUARED = 0.6
#: Most values of a mast series (about 11 years hourly, 2 years of 10-minute values).
MAX_MAST_VALUES = 100_000
#: MCP methods: ``variance_ratio`` (default) and ``linear_regression`` (OLS).
MCP_METHODS: tuple[str, ...] = ("variance_ratio", "linear_regression")
#: Model uncertainty of annual energy after scaling to an atlas mean [-]: 0.065, between the
#: raw reanalysis (0.08) and a mast. A microscale atlas resolves terrain and roughness that a
#: reanalysis cell misses (Davis et al. 2023), but it is a model, not a measurement at the
#: site; a judgement within the ranges of Lee and Fields (2021).
SIGMA_MODEL_ATLAS = 0.065
#: Standard uncertainty of a mast's mean wind speed from the measurement [-]: 0.025, a
#: calibrated class-1 cup anemometer with mounting and operational effects (IEC 61400-12-1).
MEASUREMENT_UNCERTAINTY = 0.025
#: Uncertainty of moving wind speed vertically with the cell's shear exponent, per metre
#: between the evidence height and the hub [1/m]: 0.0005 (1 % of wind speed per 20 m), a
#: judgement for an exponent taken from reanalysis rather than measured at the mast.
VERTICAL_UNCERTAINTY_PER_M = 0.0005
#: Uncertainty of annual energy that site wind evidence does not remove [-]: 0.03 (power
#: curve, losses, wakes), within the ranges summarised by Lee and Fields (2021).
PLANT_UNCERTAINTY = 0.03
#: Relative speed step of the numerical energy sensitivity [-].
_SENSITIVITY_STEP = 0.01
#: The long-term corrected mean is reported to this many decimals [m s-1].
_MEAN_DIGITS = 4


def _pct(fraction: float, digits: int = 1) -> str:
    """A fraction as a percentage with a space before the sign, e.g. ``2.5 %``."""
    return f"{100 * fraction:.{digits}f} %"


#: Where each evidence level's model uncertainty comes from (``energy.sigma_components``).
MODEL_BASIS: Mapping[str, str] = {
    "reanalysis": (
        f"reanalysis only: default {_pct(SIGMA_MODEL_REANALYSIS)} (uncorrected reanalysis wind, "
        "Staffell and Pfenninger 2016; Lee and Fields 2021)"
    ),
    "atlas_scaled": (
        f"scaled to a wind-atlas mean: default {_pct(SIGMA_MODEL_ATLAS)} (Davis et al. 2023; "
        "Lee and Fields 2021)"
    ),
    "mcp": (
        "on-site mast, MCP: measurement, MCP fit and vertical extrapolation of wind speed times "
        "the energy sensitivity, with power curve and losses (IEC 61400-12-1, IEC 61400-15)"
    ),
    "operating_history": (
        f"operating history: bootstrap of the long-term correction, floored at "
        f"{_pct(SIGMA_MODEL_OPERATING)} (Lee and Fields 2021)"
    ),
}


def model_basis(method: str) -> str:
    """The default basis text of the model uncertainty of an evidence level (``method``)."""
    return MODEL_BASIS.get(method, MODEL_BASIS["reanalysis"])


class EvidenceError(ModelInputError):
    """Site evidence that cannot be used; ``field`` names the request field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


_MAST_FIELD = "project.site_evidence.mast"
_ATLAS_FIELD = "project.site_evidence.atlas"


@dataclass(frozen=True, eq=False)
class MastSeries:
    """A mast's wind speed at one height, on a regular time axis.

    Attributes
    ----------
    height_m : float
        Measurement height above ground [m].
    interval_minutes : int
        Spacing of the values [min], 10 or 60.
    start : numpy.datetime64
        Time of the first value (UTC, minute resolution); the ``k``-th value is at
        ``start + k * interval``.
    wind_speed_ms : ndarray, shape (T,)
        Wind speed [m s-1]; NaN marks a missing value (never filled).
    wind_direction_deg : ndarray or None
        Direction [degrees from north], recorded but not used (the cube has no monthly
        directional data to correlate with).
    """

    height_m: float
    interval_minutes: int
    start: np.datetime64
    wind_speed_ms: NDArray[np.float64]
    wind_direction_deg: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.height_m) and 0 < self.height_m <= 300):
            raise EvidenceError(_MAST_FIELD, f"height_m must be in (0, 300] m, got {self.height_m}")
        if self.interval_minutes not in (10, 60):
            raise EvidenceError(
                _MAST_FIELD, f"interval_minutes must be 10 or 60, got {self.interval_minutes}"
            )
        v = np.asarray(self.wind_speed_ms, dtype=np.float64)
        if v.ndim != 1 or v.size == 0 or v.size > MAX_MAST_VALUES:
            raise EvidenceError(
                _MAST_FIELD, f"wind_speed_ms must hold 1 to {MAX_MAST_VALUES:,} values"
            )
        ok = v[np.isfinite(v)]
        if np.any(ok < 0) or np.any(ok > 75):
            raise EvidenceError(_MAST_FIELD, "wind_speed_ms must be in [0, 75] m/s")

    @property
    def times(self) -> NDArray[np.datetime64]:
        """Time of each value (UTC, minutes)."""
        start = np.asarray(self.start).astype("datetime64[m]")
        steps = np.arange(self.wind_speed_ms.size) * np.timedelta64(self.interval_minutes, "m")
        return np.asarray(start + steps, dtype="datetime64[m]")

    def monthly_means(
        self,
    ) -> tuple[NDArray[np.datetime64], NDArray[np.float64], NDArray[np.float64]]:
        """Calendar months touched by the series, their mean wind and their coverage.

        Returns
        -------
        months : ndarray of datetime64[M]
        mean_ms : ndarray
            Mean of the month's valid values [m s-1]; NaN without any.
        coverage : ndarray
            Valid values over the intervals of the whole calendar month [0-1].
        """
        t = self.times
        month = t.astype("datetime64[M]")
        months = np.arange(month[0], month[-1] + np.timedelta64(1, "M"))
        idx = (month - months[0]).astype(np.int64)
        v = np.asarray(self.wind_speed_ms, dtype=np.float64)
        valid = np.isfinite(v)
        n = np.bincount(idx[valid], minlength=months.size).astype(np.float64)
        s = np.bincount(idx[valid], weights=v[valid], minlength=months.size)
        minutes = (
            (months + np.timedelta64(1, "M")).astype("datetime64[m]")
            - months.astype("datetime64[m]")
        ).astype(np.float64)
        expected = minutes / self.interval_minutes
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, s / n, np.nan)
        return months, mean, n / expected


@dataclass(frozen=True)
class AtlasMean:
    """A long-term mean wind speed at the site from a wind atlas or a consultant's report.

    Attributes
    ----------
    mean_wind_ms : float
        Long-term mean wind speed [m s-1].
    height_m : float
        Its height above ground [m].
    source : str
        Where it comes from (e.g. ``"Global Wind Atlas 3.3, 250 m, 2008-2017"``).
    """

    mean_wind_ms: float
    height_m: float
    source: str

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mean_wind_ms) and 0 < self.mean_wind_ms <= 30):
            raise EvidenceError(
                _ATLAS_FIELD, f"mean_wind_ms must be in (0, 30] m/s, got {self.mean_wind_ms}"
            )
        if not (math.isfinite(self.height_m) and 0 < self.height_m <= 300):
            raise EvidenceError(
                _ATLAS_FIELD, f"height_m must be in (0, 300] m, got {self.height_m}"
            )
        if not self.source.strip():
            raise EvidenceError(_ATLAS_FIELD, "source must say where the mean comes from")


@dataclass(frozen=True)
class SiteEvidence:
    """What is known about the site's wind beyond the reanalysis: a mast or an atlas mean.

    Attributes
    ----------
    mast : MastSeries or None
    atlas : AtlasMean or None
    mcp_method : {'variance_ratio', 'linear_regression'}
        MCP method for a mast.
    """

    mast: MastSeries | None = None
    atlas: AtlasMean | None = None
    mcp_method: Literal["variance_ratio", "linear_regression"] = "variance_ratio"

    def __post_init__(self) -> None:
        if (self.mast is None) == (self.atlas is None):
            raise EvidenceError("project.site_evidence", "give exactly one of 'mast' and 'atlas'")
        if self.mcp_method not in MCP_METHODS:
            raise EvidenceError(
                "project.site_evidence.mcp_method",
                f"must be one of {', '.join(MCP_METHODS)}, got {self.mcp_method!r}",
            )


@dataclass(frozen=True, eq=False)
class EvidenceResult:
    r"""A site's wind corrected with evidence, and the model uncertainty that goes with it.

    Attributes
    ----------
    method : {'atlas_scaled', 'mcp'}
        Evidence level (``energy.method``).
    site : SiteClimate
        The cell's climate with the wind histograms and means corrected (speed axis).
    height_m : float
        Height of the evidence (mast or atlas) [m].
    reanalysis_mean_ms, corrected_mean_ms : float
        Long-term mean wind speed at ``height_m`` over the complete years, before and after
        the correction [m s-1].
    scale_factor : float
        ``corrected_mean_ms / reanalysis_mean_ms`` [-].
    sigma_model : float
        Model uncertainty of annual energy [-].
    sigma_parts : mapping of str to float
        Its parts: wind-speed uncertainties (``measurement``, ``mcp``, ``vertical``,
        ``atlas``, fractions of wind speed), ``energy_sensitivity`` [-] and ``plant`` (energy).
    model_basis : str
        Where ``sigma_model`` comes from, in words.
    source : str or None
        The atlas's source text.
    fit : RegressionFit or None
        OLS fit of mast on reanalysis monthly means (MCP).
    mcp_method : str or None
    slope, intercept : float or None
        The map used, :math:`\hat y = a + b x` [-], [m s-1].
    concurrent_months : tuple of str
        The concurrent complete months (``YYYY-MM``) of an MCP.
    mast_concurrent_mean_ms, reanalysis_concurrent_mean_ms : float or None
        Means of the concurrent months, mast and reanalysis at mast height [m s-1].
    notes : tuple of str
    """

    method: str
    site: SiteClimate
    height_m: float
    reanalysis_mean_ms: float
    corrected_mean_ms: float
    scale_factor: float
    sigma_model: float
    sigma_parts: Mapping[str, float]
    model_basis: str
    source: str | None = None
    fit: RegressionFit | None = None
    mcp_method: str | None = None
    slope: float | None = None
    intercept: float | None = None
    concurrent_months: tuple[str, ...] = ()
    mast_concurrent_mean_ms: float | None = None
    reanalysis_concurrent_mean_ms: float | None = None
    notes: tuple[str, ...] = ()
    used: bool = True

    def to_dict(self) -> dict[str, Any]:
        """``energy.evidence`` of the assessment object (JSON-safe)."""

        def num(v: float | None, digits: int = 6) -> float | None:
            return None if v is None or not math.isfinite(v) else round(float(v), digits)

        out: dict[str, Any] = {
            "method": self.method,
            "used": self.used,
            "height_m": self.height_m,
            "reanalysis_mean_ms": num(self.reanalysis_mean_ms, _MEAN_DIGITS),
            "corrected_mean_ms": num(self.corrected_mean_ms, _MEAN_DIGITS),
            "scale_factor": num(self.scale_factor),
            "sigma_model": num(self.sigma_model),
            "sigma_parts": {k: num(v) for k, v in self.sigma_parts.items()},
            "model_basis": self.model_basis,
            "source": self.source,
            "mcp": None,
            "notes": list(self.notes),
        }
        if self.method == "mcp" and self.fit is not None:
            out["mcp"] = {
                "method": self.mcp_method,
                "r_squared": num(self.fit.r_squared),
                "slope": num(self.slope),
                "intercept_ms": num(self.intercept),
                "ols_slope": num(self.fit.slope),
                "ols_intercept_ms": num(self.fit.intercept),
                "residual_sigma_ms": num(self.fit.sigma),
                "concurrent_months": len(self.concurrent_months),
                "concurrent_start": self.concurrent_months[0],
                "concurrent_end": self.concurrent_months[-1],
                "mast_concurrent_mean_ms": num(self.mast_concurrent_mean_ms, _MEAN_DIGITS),
                "reanalysis_concurrent_mean_ms": num(
                    self.reanalysis_concurrent_mean_ms, _MEAN_DIGITS
                ),
            }
        return out


# --------------------------------------------------------------------- wind distribution


def _long_term_mean(site: SiteClimate, height_m: float) -> float:
    """Mean of the complete years' annual mean wind at ``height_m`` [m s-1]."""
    good = site.wind_mean_ms[site.complete]
    if good.size == 0:
        raise EvidenceError(
            "site", "the cell has no complete climate year to correct with site evidence"
        )
    return float(good.mean()) * site.height_factor(height_m)


def _scale_uniform(site: SiteClimate, factor: float) -> SiteClimate:
    """Every wind speed of ``site`` times ``factor`` (bin edges, means, Weibull scale)."""
    return replace(
        site,
        wind_bin_edges_ms=np.asarray(site.wind_bin_edges_ms, dtype=np.float64) * factor,
        wind_mean_ms=np.asarray(site.wind_mean_ms, dtype=np.float64) * factor,
        monthly_wind_mean_ms=np.asarray(site.monthly_wind_mean_ms, dtype=np.float64) * factor,
        weibull_c_ms=site.weibull_c_ms * factor,
    )


def scale_months(site: SiteClimate, factors: ArrayLike) -> SiteClimate:
    r"""Stretch each month's wind distribution along the speed axis by its own factor.

    Parameters
    ----------
    site : SiteClimate
        The cell's climate.
    factors : array_like, shape (M,)
        Positive factor :math:`s_m` per month of ``site.months`` [-].

    Returns
    -------
    SiteClimate
        The same bins; monthly histograms re-binned, monthly means times :math:`s_m`, annual
        histograms changed by the sum of their months' changes, annual means the hour-weighted
        means of the scaled months.

    Notes
    -----
    Hours are spread evenly within a bin (as in :func:`models.wind.mean_power_in_bins`). A
    speed :math:`v` becomes :math:`s_m v`, so the cumulative hours of the scaled month at an
    edge :math:`e` are those of the original at :math:`e / s_m`:

    .. math:: C'_m(e) = C_m(e / s_m), \qquad H'_{m,b} = C'_m(e_{b+1}) - C'_m(e_b)

    with :math:`C_m` piecewise linear between the edges. Hours pushed above the last edge are
    kept in the last bin, as the cube does with hours above it.
    """
    s = np.asarray(factors, dtype=np.float64)
    months_hist = np.asarray(site.monthly_wind_hist_hours, dtype=np.float64)
    if s.shape != (months_hist.shape[0],) or not np.all(np.isfinite(s) & (s > 0)):
        raise ModelInputError("one positive, finite factor per month is needed")
    edges = np.asarray(site.wind_bin_edges_ms, dtype=np.float64)
    cum = np.concatenate([np.zeros((months_hist.shape[0], 1)), np.cumsum(months_hist, 1)], 1)
    new_cum = np.empty_like(cum)
    for m in range(months_hist.shape[0]):
        new_cum[m] = np.interp(edges / s[m], edges, cum[m])
    new_cum[:, -1] = cum[:, -1]  # hours beyond the last edge stay in the last bin
    new_hist = np.diff(new_cum, axis=1)
    # annual histograms and means from their months
    year_of = site.months.astype("datetime64[Y]").astype(np.int64) + 1970
    annual_hist = np.asarray(site.wind_hist_hours, dtype=np.float64).copy()
    annual_mean = np.asarray(site.wind_mean_ms, dtype=np.float64).copy()
    valid_hours = months_hist.sum(axis=1)
    u = np.asarray(site.monthly_wind_mean_ms, dtype=np.float64)
    for i, y in enumerate(site.years):
        sel = year_of == int(y)
        if not sel.any():
            continue
        annual_hist[i] = np.maximum(
            annual_hist[i] + (new_hist[sel] - months_hist[sel]).sum(axis=0), 0.0
        )
        w = valid_hours[sel] * np.where(np.isfinite(u[sel]), u[sel], 0.0)
        if w.sum() > 0:
            annual_mean[i] = annual_mean[i] * float((w * s[sel]).sum() / w.sum())
    return replace(
        site,
        monthly_wind_hist_hours=new_hist,
        monthly_wind_mean_ms=u * s,
        wind_hist_hours=annual_hist,
        wind_mean_ms=annual_mean,
    )


def energy_sensitivity(site: SiteClimate, project: WindProject) -> float:
    r"""Relative change of mean annual energy per relative change of wind speed [-].

    Notes
    -----
    A central difference on the project's own energy model with every speed scaled by
    :math:`1 \pm \delta` (:math:`\delta` = 1 %):
    :math:`g = (E_{+} - E_{-}) / (2 \delta E_0)`, over the complete years. Typically 1.2-2:
    larger at low-wind sites (the steep part of the power curve).
    """
    ok = site.complete

    def mean_energy(factor: float) -> float:
        e = wind_energy(_scale_uniform(site, factor), project).net_mwh[ok]
        return float(np.nanmean(e)) if e.size else math.nan

    e0 = mean_energy(1.0)
    ep = mean_energy(1.0 + _SENSITIVITY_STEP)
    em = mean_energy(1.0 - _SENSITIVITY_STEP)
    if not (math.isfinite(e0) and e0 > 0 and math.isfinite(ep) and math.isfinite(em)):
        return 2.0  # no usable energy: a conservative sensitivity
    return (ep - em) / (2 * _SENSITIVITY_STEP * e0)


def _vertical(evidence_height_m: float, hub_height_m: float) -> float:
    return VERTICAL_UNCERTAINTY_PER_M * abs(hub_height_m - evidence_height_m)


def sigma_model_mcp(
    sigma_mcp: float, vertical: float, sensitivity: float
) -> tuple[float, dict[str, float]]:
    r"""Model uncertainty of annual energy from a mast MCP [-], and its parts.

    Parameters
    ----------
    sigma_mcp : float
        Standard error of the predicted long-term mean wind over that mean [-].
    vertical : float
        Vertical extrapolation uncertainty of wind speed [-].
    sensitivity : float
        Energy sensitivity to wind speed :math:`g` (:func:`energy_sensitivity`) [-].

    Notes
    -----
    .. math:: \sigma_{model} = \sqrt{g^2 (\sigma_{meas}^2 + \sigma_{MCP}^2 + \sigma_{vert}^2)
              + \sigma_{plant}^2}

    with :math:`\sigma_{meas}` = :data:`MEASUREMENT_UNCERTAINTY` (IEC 61400-12-1 [3]_),
    :math:`\sigma_{plant}` = :data:`PLANT_UNCERTAINTY`; the categories are those of IEC
    61400-15 [4]_. It shrinks with the length of the mast record and with the fit's R²
    through :math:`\sigma_{MCP}`.

    References
    ----------
    .. [3] IEC 61400-12-1:2017.
    .. [4] IEC 61400-15 (series).
    """
    wind = math.sqrt(MEASUREMENT_UNCERTAINTY**2 + sigma_mcp**2 + vertical**2)
    total = math.sqrt((sensitivity * wind) ** 2 + PLANT_UNCERTAINTY**2)
    return total, {
        "measurement": MEASUREMENT_UNCERTAINTY,
        "mcp": sigma_mcp,
        "vertical": vertical,
        "wind_speed_total": wind,
        "energy_sensitivity": sensitivity,
        "plant": PLANT_UNCERTAINTY,
    }


def atlas_scaling(site: SiteClimate, atlas: AtlasMean) -> tuple[SiteClimate, float, float]:
    r"""Scale the cell's wind so that its long-term mean at the atlas height is the atlas's.

    Returns
    -------
    site : SiteClimate
        Every speed times :math:`k` (bin edges, annual and monthly means, Weibull scale).
    factor : float
        :math:`k = \bar U_{atlas} / \bar U_{cell}(h_{atlas})` [-].
    reanalysis_mean_ms : float
        :math:`\bar U_{cell}(h_{atlas})`, the cell's mean of its complete years moved to the
        atlas height with its shear exponent [m s-1].

    Notes
    -----
    Scaling the speed axis keeps the shape of the distribution (a Weibull shape stays, its
    scale is multiplied by :math:`k`) and makes the long-term mean exactly the atlas mean.
    This is how an atlas corrects a reanalysis series' level but not its time variation [2]_.

    References
    ----------
    .. [2] Davis, N. N. et al. (2023), Bull. Amer. Meteor. Soc. 104, E1507-E1525,
       doi:10.1175/BAMS-D-21-0075.1
    """
    before = _long_term_mean(site, atlas.height_m)
    factor = atlas.mean_wind_ms / before
    return _scale_uniform(site, factor), factor, before


def mcp(
    site: SiteClimate, mast: MastSeries, method: str = "variance_ratio"
) -> tuple[SiteClimate, dict[str, Any]]:
    r"""Measure-correlate-predict on monthly means: the cell's wind carried to the mast.

    Parameters
    ----------
    site : SiteClimate
        The reanalysis cell (monthly means and histograms at the reference height).
    mast : MastSeries
        At least :data:`MIN_CONCURRENT_MONTHS` complete months concurrent with the cell.
    method : {'variance_ratio', 'linear_regression'}

    Returns
    -------
    site : SiteClimate
        Every month stretched by :math:`s_m` (:func:`scale_months`).
    figures : dict
        ``fit`` (OLS, :func:`models.longterm.fit_monthly_regression`), ``slope``,
        ``intercept``, ``concurrent`` months, concurrent means, ``sigma_mcp`` (standard
        error of the predicted long-term mean over that mean).

    Raises
    ------
    EvidenceError
        Fewer than :data:`MIN_CONCURRENT_MONTHS` concurrent complete months, or R² below
        :data:`MIN_R_SQUARED`.

    Notes
    -----
    With :math:`x_m` the cell's monthly mean moved to the mast height with its shear
    exponent and :math:`y_m` the mast's monthly mean, over the concurrent months:

    - linear regression (OLS): :math:`b = s_{xy} / s_x^2`, :math:`a = \bar y - b \bar x`;
    - variance ratio: :math:`b = s_y / s_x`, :math:`a = \bar y - b \bar x` — the predicted
      months keep the mast's spread, which OLS shrinks by the factor :math:`r` [1]_.

    Every month of the record is predicted as :math:`\hat y_m = a + b x_m`; its histogram is
    stretched by :math:`s_m = \hat y_m / x_m` (the same ratio at every height). The standard
    error of the long-term mean is that of the OLS line at the long-term mean
    :math:`\bar x_{LT}`, :math:`\sqrt{\mathrm{Var}(a) + 2 \bar x_{LT} \mathrm{Cov}(a, b) +
    \bar x_{LT}^2 \mathrm{Var}(b)}`, used for both methods.

    References
    ----------
    .. [1] Rogers, A. L., Rogers, J. W. and Manwell, J. F. (2005). J. Wind Eng. Ind.
       Aerodyn. 93, 243-264, doi:10.1016/j.jweia.2004.11.004
    """
    f_mast = site.height_factor(mast.height_m)
    x_all = np.asarray(site.monthly_wind_mean_ms, dtype=np.float64) * f_mast
    ref_ok = site.monthly_complete & np.isfinite(x_all) & (x_all > 0)
    months, y_mean, coverage = mast.monthly_means()
    mast_ok = (coverage >= MONTH_COVERAGE_MIN) & np.isfinite(y_mean)
    mast_months = months[mast_ok]
    if mast_months.size < MIN_CONCURRENT_MONTHS:
        raise EvidenceError(
            _MAST_FIELD,
            f"{mast_months.size} complete month(s) of mast data (at least "
            f"{_pct(MONTH_COVERAGE_MIN, 0)} of the intervals valid); an MCP needs at least "
            f"{MIN_CONCURRENT_MONTHS} months measured",
        )
    cell_months = site.months.astype("datetime64[M]")
    common, i_cell, i_mast = np.intersect1d(cell_months[ref_ok], mast_months, return_indices=True)
    if common.size < MIN_CONCURRENT_MONTHS:
        raise EvidenceError(
            _MAST_FIELD,
            f"only {common.size} complete month(s) of the mast are concurrent with the "
            f"reanalysis ({cell_months[0]!s} to {cell_months[-1]!s}); an MCP needs at "
            f"least {MIN_CONCURRENT_MONTHS}",
        )
    x = x_all[ref_ok][i_cell]
    y = y_mean[mast_ok][i_mast]
    fit = fit_monthly_regression(x, y)
    if fit.r_squared < MIN_R_SQUARED:
        raise EvidenceError(
            _MAST_FIELD,
            f"the mast's monthly means correlate poorly with the reanalysis cell (R² "
            f"{fit.r_squared:.2f} over {common.size} months; at least {MIN_R_SQUARED:g} is "
            "needed): the cell does not represent the site",
        )
    if method == "variance_ratio":
        slope = float(np.std(y, ddof=1) / np.std(x, ddof=1))
        intercept = float(y.mean() - slope * x.mean())
    elif method == "linear_regression":
        slope, intercept = fit.slope, fit.intercept
    else:
        raise EvidenceError("project.site_evidence.mcp_method", f"unknown method {method!r}")
    predicted = intercept + slope * x_all
    with np.errstate(invalid="ignore", divide="ignore"):
        factors = np.where(ref_ok & (predicted > 0), predicted / x_all, np.nan)
    overall = float(np.nanmean(factors)) if np.isfinite(factors).any() else 1.0
    factors = np.where(np.isfinite(factors), factors, overall)
    corrected = scale_months(site, factors)
    x_lt = _long_term_mean(site, mast.height_m)
    (v00, v01), (_, v11) = fit.covariance
    se = math.sqrt(max(v00 + 2 * x_lt * v01 + x_lt**2 * v11, 0.0))
    y_lt = _long_term_mean(corrected, mast.height_m)
    return corrected, {
        "fit": fit,
        "slope": slope,
        "intercept": intercept,
        "concurrent": tuple(str(m) for m in common),
        "mast_concurrent_mean_ms": float(y.mean()),
        "reanalysis_concurrent_mean_ms": float(x.mean()),
        "sigma_mcp": se / y_lt if y_lt > 0 else math.nan,
        "reanalysis_mean_ms": x_lt,
        "corrected_mean_ms": y_lt,
    }


def apply_site_evidence(
    site: SiteClimate, project: WindProject, evidence: SiteEvidence
) -> EvidenceResult:
    """Correct the site's wind with ``evidence`` and set the model uncertainty.

    Parameters
    ----------
    site : SiteClimate
        The reanalysis cell.
    project : WindProject
        The plant (its hub height and power curve give the vertical term and the energy
        sensitivity).
    evidence : SiteEvidence
        A mast or an atlas mean.

    Returns
    -------
    EvidenceResult

    Raises
    ------
    EvidenceError
        Unusable evidence; its ``field`` names the request field.
    """
    hub = project.hub_height_m
    if evidence.atlas is not None:
        atlas = evidence.atlas
        corrected, factor, before = atlas_scaling(site, atlas)
        g = energy_sensitivity(corrected, project)
        vertical = _vertical(atlas.height_m, hub)
        sigma = math.sqrt(SIGMA_MODEL_ATLAS**2 + (g * vertical) ** 2)
        basis = model_basis("atlas_scaled")
        if vertical > 0:
            basis += (
                f", with {_pct(vertical)} of wind speed for moving the atlas mean from "
                f"{atlas.height_m:g} m to {hub:g} m (sensitivity {g:.2f})"
            )
        notes = [
            f"reanalysis wind scaled by {factor:.4f} to the atlas mean "
            f"{atlas.mean_wind_ms:g} m/s at {atlas.height_m:g} m ({atlas.source})"
        ]
        if abs(factor - 1) > 0.25:
            notes.append(
                f"the atlas mean differs from the reanalysis by a factor {factor:.2f}: check "
                "the atlas height and location"
            )
        return EvidenceResult(
            method="atlas_scaled",
            site=corrected,
            height_m=atlas.height_m,
            reanalysis_mean_ms=before,
            corrected_mean_ms=_long_term_mean(corrected, atlas.height_m),
            scale_factor=factor,
            sigma_model=sigma,
            sigma_parts={
                "atlas": SIGMA_MODEL_ATLAS,
                "vertical": vertical,
                "energy_sensitivity": g,
            },
            model_basis=basis,
            source=atlas.source,
            notes=tuple(notes),
        )
    mast = evidence.mast
    if mast is None:  # pragma: no cover - SiteEvidence holds exactly one of mast and atlas
        raise RuntimeError("site evidence with neither a mast nor an atlas mean")
    corrected, fig = mcp(site, mast, evidence.mcp_method)
    g = energy_sensitivity(corrected, project)
    vertical = _vertical(mast.height_m, hub)
    sigma, parts = sigma_model_mcp(fig["sigma_mcp"], vertical, g)
    fit: RegressionFit = fig["fit"]
    n = len(fig["concurrent"])
    basis = (
        f"on-site mast, MCP ({evidence.mcp_method.replace('_', ' ')}, {n} months, R² "
        f"{fit.r_squared:.2f}): wind speed {_pct(MEASUREMENT_UNCERTAINTY)} measurement "
        f"(IEC 61400-12-1), {_pct(fig['sigma_mcp'])} MCP fit, {_pct(vertical)} vertical "
        f"extrapolation, times energy sensitivity {g:.2f}; {_pct(PLANT_UNCERTAINTY)} power "
        "curve and losses (IEC 61400-15; Lee and Fields 2021)"
    )
    notes = [
        f"MCP of {n} concurrent months ({fig['concurrent'][0]} to {fig['concurrent'][-1]}) "
        f"of a {mast.height_m:g} m mast on the reanalysis cell: R² {fit.r_squared:.3f}, "
        f"long-term mean {fig['corrected_mean_ms']:.3f} m/s at {mast.height_m:g} m "
        f"(reanalysis {fig['reanalysis_mean_ms']:.3f} m/s)"
    ]
    if mast.wind_direction_deg is not None:
        notes.append("mast wind direction recorded but not used (the cube has no directions)")
    return EvidenceResult(
        method="mcp",
        site=corrected,
        height_m=mast.height_m,
        reanalysis_mean_ms=fig["reanalysis_mean_ms"],
        corrected_mean_ms=fig["corrected_mean_ms"],
        scale_factor=fig["corrected_mean_ms"] / fig["reanalysis_mean_ms"],
        sigma_model=sigma,
        sigma_parts=parts,
        model_basis=basis,
        fit=fit,
        mcp_method=evidence.mcp_method,
        slope=fig["slope"],
        intercept=fig["intercept"],
        concurrent_months=fig["concurrent"],
        mast_concurrent_mean_ms=fig["mast_concurrent_mean_ms"],
        reanalysis_concurrent_mean_ms=fig["reanalysis_concurrent_mean_ms"],
        notes=tuple(notes),
    )
