r"""Exceedance levels (P50, P90, P99) of annual energy for one year and ten years.

The spread of annual energy has three parts, combined in quadrature:

- inter-annual variability :math:`\sigma_{IAV}`, measured on the site's own complete climate
  years (sample standard deviation over mean); it averages out over an N-year horizon;
- the uncertainty of the long-term mean itself, :math:`\sigma_{IAV} / \sqrt{N_{rec}}` with
  :math:`N_{rec}` the complete years of the record: the P50 is the mean of a finite sample of
  climate years, so it is off by the standard error of that mean, and this error does not
  average out over the loan's years (it shrinks only with a longer record) [1]_ [2]_;
- model uncertainty :math:`\sigma_{model}` (reanalysis bias, power curve, losses, shear and
  density), which does not average out. It is larger for an estimate from reanalysis alone
  (:data:`SIGMA_MODEL_REANALYSIS`) than for one calibrated on the project's operating data
  (:data:`SIGMA_MODEL_OPERATING`); site evidence (a wind-atlas mean or an on-site mast) sets
  values in between (:mod:`models.evidence`).

.. math:: \sigma_N = \sqrt{\sigma_{IAV}^2 / N + \sigma_{IAV}^2 / N_{rec} + \sigma_{model}^2},
          \qquad P_{xx,N} = P_{50} (1 - z_{xx} \sigma_N)

This is the combination of the IEC 61400-15 series and of consultants' practice (the "future
variability" and "historical / long-term period" terms of an energy yield assessment).

References
----------
.. [1] IEC 61400-15 (series), Wind energy generation systems - Part 15: assessment of site
   suitability and energy yield; its uncertainty categories "historical wind resource"
   (long-term period, the error of the mean) and "future wind resource" (variability over
   the horizon), as also used in DNV's energy yield assessments.
.. [2] Lee, J. C. Y. and Fields, M. J. (2021). An overview of wind-energy-production
   prediction bias, losses, and uncertainties. Wind Energ. Sci. 6, 311-365 (long-term
   period and inter-annual variability uncertainty), doi:10.5194/wes-6-311-2021
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import norm

from models.errors import InsufficientData as InsufficientData  # re-exported
from models.errors import ModelInputError

#: Model uncertainty of annual energy estimated from reanalysis alone [-]: 0.08. Raw
#: reanalysis wind misses site-scale terrain and needs regional bias correction to reproduce
#: metered wind output (Staffell and Pfenninger 2016, doi:10.1016/j.energy.2016.08.068); the
#: power curve, losses, shear and density add their own errors. With the inter-annual
#: variability of energy at a typical site (5.7 % for an E-126/4200 at the Irish MERRA-2
#: test node, 2000-2016) it gives a 1-year total near 10 %, at the top of the 8-10 % usual for
#: onshore wind assessed with on-site measurements (Lee and Fields
#: 2021, doi:10.5194/wes-6-311-2021), as an estimate without measurements should be.
SIGMA_MODEL_REANALYSIS = 0.08
#: Model uncertainty after a long-term correction on the project's own operating data [-]:
#: 0.04. Metered production removes the power-curve, loss and local-wind biases; what remains
#: is the regression and long-term reference uncertainty, typically 3-5 % in operational
#: assessments (Lee and Fields 2021, doi:10.5194/wes-6-311-2021).
SIGMA_MODEL_OPERATING = 0.04
#: Standard-normal quantile for 90 % exceedance, ``norm.ppf(0.90)`` = 1.2816.
Z_P90 = float(norm.ppf(0.90))
#: Standard-normal quantile for 99 % exceedance, ``norm.ppf(0.99)`` = 2.3263.
Z_P99 = float(norm.ppf(0.99))
#: Horizon of the long-term exceedance figures [years].
LONG_TERM_YEARS = 10
#: Fewest complete years from which an inter-annual variability is computed.
MIN_YEARS = 2


def sigma_n_years(
    sigma_iav: float,
    sigma_model: float,
    n_years: float,
    n_record_years: float | None = None,
) -> float:
    r"""Relative standard deviation of the mean energy over ``n_years`` [-].

    Parameters
    ----------
    sigma_iav : float
        Inter-annual variability [-].
    sigma_model : float
        Model uncertainty [-].
    n_years : float
        Horizon N [years], >= 1.
    n_record_years : float, optional
        Complete years N_rec of the record the long-term mean was estimated from; None leaves
        out the long-term-mean term (an exactly known mean).

    Notes
    -----
    .. math:: \sigma_N = \sqrt{\sigma_{IAV}^2 / N + \sigma_{IAV}^2 / N_{rec}
              + \sigma_{model}^2}
    """
    if not n_years >= 1:
        raise ModelInputError(f"n_years must be >= 1, got {n_years}")
    lt = 0.0
    if n_record_years is not None:
        if not n_record_years >= 1:
            raise ModelInputError(f"n_record_years must be >= 1, got {n_record_years}")
        lt = sigma_iav**2 / n_record_years
    return math.sqrt(sigma_iav**2 / n_years + lt + sigma_model**2)


def exceedance_level(p50: float, z: float, sigma: float) -> float:
    r"""Energy exceeded with the probability of quantile ``z``, floored at zero.

    Notes
    -----
    .. math:: P = \max(0, P_{50} (1 - z \sigma))

    The normal approximation gives negative energy when :math:`z\sigma > 1`; the floor keeps
    the figure physical (no energy is a valid, if extreme, outcome).
    """
    return max(0.0, p50 * (1.0 - z * sigma))


@dataclass(frozen=True)
class Exceedance:
    r"""Exceedance levels of annual energy.

    Attributes
    ----------
    p50 : float
        Mean annual energy of the complete years [MWh].
    sigma_iav : float
        Inter-annual variability: sample standard deviation (ddof 1) over mean [-].
    sigma_model : float
        Model uncertainty [-].
    sigma_1y, sigma_10y : float
        Total relative standard deviation for one year and for a ten-year mean [-].
    sigma_lt_mean : float
        Uncertainty of the long-term mean, :math:`\sigma_{IAV} / \sqrt{N_{rec}}` [-].
    p90, p99 : float
        Annual energy exceeded in 90 % and 99 % of single years [MWh].
    p90_10y, p99_10y : float
        Ten-year mean annual energy exceeded with 90 % and 99 % probability [MWh].
    n_years : int
        Number of complete years used.
    """

    p50: float
    sigma_iav: float
    sigma_model: float
    sigma_1y: float
    sigma_10y: float
    p90: float
    p99: float
    p90_10y: float
    p99_10y: float
    n_years: int
    sigma_lt_mean: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; energies rounded to kWh, sigmas to 1e-6."""
        return {
            "p50_mwh": round(self.p50, 3),
            "p90_mwh": round(self.p90, 3),
            "p99_mwh": round(self.p99, 3),
            "p90_10y_mwh": round(self.p90_10y, 3),
            "p99_10y_mwh": round(self.p99_10y, 3),
            "sigma": {
                "iav": round(self.sigma_iav, 6),
                "lt_mean": round(self.sigma_lt_mean, 6),
                "model": round(self.sigma_model, 6),
                "total_1y": round(self.sigma_1y, 6),
                "total_10y": round(self.sigma_10y, 6),
            },
            "n_years": self.n_years,
        }


def exceedance(annual_energy_mwh: ArrayLike, sigma_model: float) -> Exceedance:
    r"""P50, P90 and P99 for one year and for ten years from the complete years' energy.

    Parameters
    ----------
    annual_energy_mwh : array_like, shape (N,)
        Net annual energy of the complete climate years only [MWh]; finite, non-negative.
    sigma_model : float
        Model uncertainty as a fraction [-], e.g. :data:`SIGMA_MODEL_REANALYSIS`.

    Returns
    -------
    Exceedance

    Raises
    ------
    InsufficientData
        Fewer than two years.
    ValueError
        NaN, infinite or negative energies, zero mean, or a bad ``sigma_model``.

    Notes
    -----
    .. math:: P_{50} = \bar E, \quad
              \sigma_{IAV} = \frac{s(E)}{\bar E}, \quad
              \sigma_N = \sqrt{\sigma_{IAV}^2 / N + \sigma_{IAV}^2 / N_{rec}
              + \sigma_{model}^2}, \quad
              P_{xx,N} = P_{50} (1 - z_{xx} \sigma_N)

    with :math:`s` the sample standard deviation (ddof 1), :math:`z_{90}` = 1.2816,
    :math:`z_{99}` = 2.3263, :math:`N` = 1 and 10, and :math:`N_{rec}` the number of years
    given (the record the mean comes from). Energies are floored at zero (see
    :func:`exceedance_level`).

    References
    ----------
    .. [1] Lee, J. C. Y. and Fields, M. J. (2021). An overview of wind-energy-production
       prediction bias, losses, and uncertainties. Wind Energ. Sci. 6, 311-365,
       doi:10.5194/wes-6-311-2021
    """
    e = np.asarray(annual_energy_mwh, dtype=float)
    if e.ndim != 1:
        raise ModelInputError(f"annual energy must be a 1-D array of years, got shape {e.shape}")
    if e.size < MIN_YEARS:
        raise InsufficientData(
            f"{e.size} complete year(s) of energy; at least {MIN_YEARS} are needed to measure "
            "inter-annual variability (use a longer dataset or one with fewer gaps)"
        )
    if not np.all(np.isfinite(e)):
        raise ModelInputError(
            "annual energy contains NaN or infinite values; pass complete years only"
        )
    if np.any(e < 0):
        raise ModelInputError("annual energy must be non-negative [MWh]")
    mean = float(e.mean())
    if not mean > 0:
        raise ModelInputError("mean annual energy is zero; exceedance levels are undefined")
    if not (isinstance(sigma_model, int | float) and math.isfinite(sigma_model)):
        raise ModelInputError(f"sigma_model must be a number, got {sigma_model!r}")
    if not 0 <= sigma_model < 1:
        raise ModelInputError(f"sigma_model is a fraction in [0, 1), got {sigma_model}")
    sigma_iav = float(e.std(ddof=1)) / mean
    n_rec = int(e.size)
    s1 = sigma_n_years(sigma_iav, sigma_model, 1, n_rec)
    s10 = sigma_n_years(sigma_iav, sigma_model, LONG_TERM_YEARS, n_rec)
    return Exceedance(
        p50=mean,
        sigma_iav=sigma_iav,
        sigma_model=float(sigma_model),
        sigma_1y=s1,
        sigma_10y=s10,
        p90=exceedance_level(mean, Z_P90, s1),
        p99=exceedance_level(mean, Z_P99, s1),
        p90_10y=exceedance_level(mean, Z_P90, s10),
        p99_10y=exceedance_level(mean, Z_P99, s10),
        n_years=n_rec,
        sigma_lt_mean=sigma_iav / math.sqrt(n_rec),
    )
