r"""Risk drivers beyond the weather: curtailment, market price, availability, opex, ageing, trend.

The Monte Carlo of :mod:`models.risk` draws the weather (climate years) and the energy-model
error. This module describes the other drivers of a project's cash flow and draws them per
path and loan year, as multipliers of that path-year's CFADS terms:

.. math:: CFADS_{j,t} = E_{j,t}\, d_t\, g_{j,t}\, p_t - O_t\, o_{j,t}

with :math:`E_{j,t}` the simulated energy, :math:`d_t` the deterministic output factor
(degradation or ageing, and an energy trend; :meth:`RiskDrivers.output_factors`),
:math:`p_t` the escalated tariff, :math:`O_t` the inflated opex, and the random multipliers

* :math:`g_{j,t} = (1 - c_{j,t}/100)\,(1 - \delta_{j,t}/100)\,\bigl((1 - m) + m\, r_{j,t}\bigr)`
  of revenue: curtailment :math:`c`, availability shock :math:`\delta`, market price
  :math:`r` (relative to the tariff) on the merchant share :math:`m`;
* :math:`o_{j,t}` of opex (a lognormal shock with mean 1).

Every random number comes from its own stream, seeded from the Monte Carlo seed and the
component's index (``numpy.random.SeedSequence(seed, spawn_key=(k,))``). The main stream of
:func:`models.risk.simulate_default` is therefore untouched — with every driver at zero the
result is bit for bit the one without drivers — and the draws do not depend on the drivers'
sizes, so runs with the same seed share them (common random numbers): PD is exactly monotone
in the curtailment mean and in a negative trend, whatever the sample.

The deterministic P50/P90/P99 cash flows take the expected value of each driver: the mean
curtailment actually applied (:meth:`Curtailment.effective_mean_pct`), availability and
price shocks of mean zero and one, and the deterministic output factors.

References
----------
.. [1] National Energy Administration of China (国家能源局), yearly wind grid-operation
   statistics (风电并网运行情况): wind curtailment in Xinjiang 38 % in 2016 and 29 % in 2017
   (national about 17 % and 12 %); single digits since about 2020. http://www.nea.gov.cn/
.. [2] National Development and Reform Commission and National Energy Administration (2025).
   Notice on deepening the market-based reform of on-grid tariffs of new-energy generation
   (发改价格〔2025〕136号, "Document 136"), February 2025: all new wind and solar output is
   traded in the electricity market; a "mechanism price" settled like a contract for
   difference covers a set volume, the rest sells at market prices.
.. [3] Staffell, I. and Green, R. (2014). How does wind farm performance decline with age?
   *Renewable Energy* 66, 775–786. doi:10.1016/j.renene.2013.10.041 — UK fleet 2002–2012:
   output falls by 1.6 ± 0.2 % a year of the initial output (load factor 28.5 % new, 21 % at
   age 19).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from models.errors import ModelInputError

__all__ = [
    "SOURCE_KEY",
    "STAFFELL_GREEN_AGEING_PCT_PER_YEAR",
    "Curtailment",
    "DriverDefaults",
    "DriverDraws",
    "PathFactors",
    "RiskDrivers",
    "climate_anomaly",
    "combine_factors",
    "curtailed_fraction",
    "draw_driver_normals",
    "market_and_operations",
    "parse_driver_defaults",
    "path_factors",
    "resolve_drivers",
    "trend_factors",
]

FloatArray = NDArray[np.float64]

#: Output decline with age of the UK wind fleet, 2002–2012 [% of initial output per year]
#: (Staffell and Green 2014, doi:10.1016/j.renene.2013.10.041). An upper reference for older
#: turbines; the product default (policy YAML) may be lower.
STAFFELL_GREEN_AGEING_PCT_PER_YEAR = 1.6

# Spawn keys of the random streams, one per component (never reuse or renumber: a stored
# assessment replays with the same numbers).
_STREAM_CURTAILMENT_PATH = 101
_STREAM_CURTAILMENT_YEAR = 102
_STREAM_PRICE = 103
_STREAM_OPERATIONS = 104


def _real(name: str, value: object, low: float, high: float, *, high_open: bool = False) -> float:
    """Validate a number in ``[low, high]`` (or ``[low, high)``); the message names the field."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ModelInputError(f"{name} must be a number, got {value!r}")
    v = float(value)
    top_ok = v < high if high_open else v <= high
    if not (math.isfinite(v) and low <= v and top_ok):
        bracket = ")" if high_open else "]"
        raise ModelInputError(f"{name} must be in [{low:g}, {high:g}{bracket}, got {v!r}")
    return v


def _phi(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _lognormal_sigma(sd_fraction: float) -> float:
    """σ of log X for a lognormal X with mean 1 and standard deviation ``sd_fraction``."""
    return math.sqrt(math.log1p(sd_fraction * sd_fraction))


@dataclass(frozen=True)
class Curtailment:
    r"""Share of the available energy the grid refuses, in persistent regimes.

    Attributes
    ----------
    mean_pct : float
        Location :math:`\mu` of the yearly curtailment [%], 0 to < 100.
    sd_pct : float
        Standard deviation :math:`s` of the yearly curtailment before clipping [percentage
        points], 0 to 50.
    persistent_share : float
        Share :math:`\phi` of the variance that persists over a path's whole tenor (a regime:
        grid build-out, demand, transmission), 0 to 1; the rest varies year by year.

    Notes
    -----
    Path :math:`j`, loan year :math:`t`, with independent standard normals :math:`u_j`
    (one per path) and :math:`v_{j,t}`:

    .. math:: c_{j,t} = \min\bigl(\max(\mu + s(\sqrt{\phi}\, u_j
              + \sqrt{1 - \phi}\, v_{j,t}),\ 0),\ 100\bigr)

    so every year is :math:`\mathcal{N}(\mu, s^2)` clipped to [0, 100] %, and two years of
    a path correlate with :math:`\phi`. Clipping at zero raises the mean above :math:`\mu`;
    the deterministic cash flows use the mean actually applied,
    :meth:`effective_mean_pct`. With :math:`s = 0` curtailment is :math:`\mu` every year.
    """

    mean_pct: float = 0.0
    sd_pct: float = 0.0
    persistent_share: float = 0.0

    def __post_init__(self) -> None:
        _real("curtailment.mean_pct", self.mean_pct, 0.0, 100.0, high_open=True)
        _real("curtailment.sd_pct", self.sd_pct, 0.0, 50.0)
        _real("curtailment.persistent_share", self.persistent_share, 0.0, 1.0)

    @property
    def is_zero(self) -> bool:
        """True when no energy is ever curtailed."""
        return self.mean_pct == 0.0 and self.sd_pct == 0.0

    def effective_mean_pct(self) -> float:
        r"""Mean curtailment after clipping to [0, 100] % [%].

        Notes
        -----
        For :math:`X \sim \mathcal{N}(\mu, s^2)` and :math:`h(a) = E[\max(X - a, 0)]
        = (\mu - a)\Phi(\frac{\mu - a}{s}) + s\,\varphi(\frac{\mu - a}{s})`,
        :math:`E[\min(\max(X, 0), 100)] = h(0) - h(100)`.
        """
        mu, s = float(self.mean_pct), float(self.sd_pct)
        if s == 0.0:
            return mu

        def h(a: float) -> float:
            z = (mu - a) / s
            return (mu - a) * _cdf(z) + s * _phi(z)

        return h(0.0) - h(100.0)

    def to_dict(self) -> dict[str, float]:
        """JSON-ready parameters, with the effective mean."""
        return {
            "mean_pct": float(self.mean_pct),
            "sd_pct": float(self.sd_pct),
            "persistent_share": float(self.persistent_share),
            "effective_mean_pct": round(self.effective_mean_pct(), 6),
        }


@dataclass(frozen=True)
class RiskDrivers:
    r"""Sizes of the non-weather risk drivers of one project.

    Attributes
    ----------
    curtailment : Curtailment
        Grid curtailment (:class:`Curtailment`).
    merchant_share_pct : float
        Share of the output sold at market price [%], 0 to 100; the rest earns the fixed
        (mechanism) tariff.
    price_sd_pct : float
        Yearly standard deviation of the market price relative to the tariff [%], 0 to 100.
    price_wind_corr : float
        Correlation of the (log) market price with the path-year's climate energy anomaly
        [-], -1 to 1; negative means windy (sunny) years sell lower.
    availability_sd_pct : float
        Yearly standard deviation of availability around the mean already in the losses
        [percentage points of energy], 0 to 10.
    opex_sd_pct : float
        Yearly standard deviation of opex relative to plan [%], 0 to 100 (lognormal, mean 1).
    ageing_pct_per_year : float
        Output lost each year with age [% of first-year output per year, compound], 0 to < 10.
    energy_trend_pct_per_year : float
        Trend of energy over the tenor [% per year, compound], -10 to 10 (a stress; e.g. a
        declining wind resource).

    Notes
    -----
    Per path :math:`j` and loan year :math:`t` (standard normals :math:`\eta, \zeta`
    independent of each other and of the weather):

    * market price relative to the tariff :math:`r_{j,t} = \exp(\sigma_r w_{j,t} -
      \sigma_r^2/2)`, :math:`w = \rho\, a_{j,t} + \sqrt{1 - \rho^2}\, \eta_{j,t}`, with
      :math:`a_{j,t}` the standardised energy anomaly of the climate year the path drew
      (:func:`climate_anomaly`), :math:`\sigma_r = \sqrt{\ln(1 + s_r^2)}` so that
      :math:`E[r] = 1` and :math:`sd(r) = s_r`;
    * one operations shock :math:`\zeta_{j,t}` per path-year drives both availability and
      opex — a year with a major failure loses output *and* costs repairs, so the two move
      together (fully correlated; conservative, and one draw instead of two):
      availability factor :math:`\max(1 - s_a \zeta_{j,t} / 100, 0)` (mean 1), opex factor
      :math:`o_{j,t} = \exp(\sigma_o \zeta_{j,t} - \sigma_o^2/2)`,
      :math:`\sigma_o = \sqrt{\ln(1 + s_o^2)}` (lognormal, mean 1);
    * deterministic factor :math:`d_t = (1 - a/100)^{t-1} (1 + \tau/100)^{t-1}` times any
      module degradation (solar), applied to the deterministic cases and to every path.

    The expected market price equals the tariff: a price *level* below the tariff is the
    tariff sensitivity of :mod:`models.sensitivity`.
    """

    curtailment: Curtailment = field(default_factory=Curtailment)
    merchant_share_pct: float = 0.0
    price_sd_pct: float = 0.0
    price_wind_corr: float = 0.0
    availability_sd_pct: float = 0.0
    opex_sd_pct: float = 0.0
    ageing_pct_per_year: float = 0.0
    energy_trend_pct_per_year: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.curtailment, Curtailment):
            raise ModelInputError(f"curtailment must be a Curtailment, got {self.curtailment!r}")
        _real("merchant_share_pct", self.merchant_share_pct, 0.0, 100.0)
        _real("price_sd_pct", self.price_sd_pct, 0.0, 100.0)
        _real("price_wind_corr", self.price_wind_corr, -1.0, 1.0)
        _real("availability_sd_pct", self.availability_sd_pct, 0.0, 10.0)
        _real("opex_sd_pct", self.opex_sd_pct, 0.0, 100.0)
        _real("ageing_pct_per_year", self.ageing_pct_per_year, 0.0, 10.0, high_open=True)
        _real("energy_trend_pct_per_year", self.energy_trend_pct_per_year, -10.0, 10.0)

    @property
    def price_risk(self) -> bool:
        """True when market-price draws change revenue."""
        return self.merchant_share_pct > 0.0 and self.price_sd_pct > 0.0

    @property
    def is_stochastic(self) -> bool:
        """True when some driver differs between paths or years (needs random draws)."""
        return (
            self.curtailment.sd_pct > 0.0
            or self.price_risk
            or self.availability_sd_pct > 0.0
            or self.opex_sd_pct > 0.0
        )

    @property
    def is_zero(self) -> bool:
        """True when the drivers change nothing (the Monte Carlo is the one without them)."""
        return (
            self.curtailment.is_zero
            and not self.price_risk
            and self.availability_sd_pct == 0.0
            and self.opex_sd_pct == 0.0
            and self.ageing_pct_per_year == 0.0
            and self.energy_trend_pct_per_year == 0.0
        )

    def sold_fraction(self) -> float:
        """Expected share of the energy sold after curtailment, ``1 - c̄/100`` [-]."""
        return 1.0 - self.curtailment.effective_mean_pct() / 100.0

    def output_factors(self, n_years: int, base: ArrayLike | None = None) -> FloatArray | None:
        r"""Deterministic output factor per loan year, :math:`d_t` [-].

        Parameters
        ----------
        n_years : int
            Loan years.
        base : array_like, optional
            Factors already applying (solar module degradation), length ``n_years``.

        Returns
        -------
        ndarray or None
            :math:`b_t (1 - a/100)^{t-1} (1 + \tau/100)^{t-1}`; ``base`` itself (None for
            None) when ageing and trend are zero, so results without them stay bit-identical.
        """
        if self.ageing_pct_per_year == 0.0 and self.energy_trend_pct_per_year == 0.0:
            return None if base is None else np.asarray(base, dtype=np.float64)
        t = np.arange(int(n_years), dtype=np.float64)
        out: FloatArray = (1.0 - self.ageing_pct_per_year / 100.0) ** t * trend_factors(
            n_years, self.energy_trend_pct_per_year
        )
        if base is not None:
            out = out * np.asarray(base, dtype=np.float64)
        return out

    def with_overrides(self, **changes: Any) -> RiskDrivers:
        """A copy with some fields replaced (``curtailment`` may be a mapping of its fields)."""
        c = changes.get("curtailment")
        if isinstance(c, Mapping):
            changes["curtailment"] = replace(self.curtailment, **c)
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready sizes of every driver."""
        out: dict[str, Any] = {"curtailment": self.curtailment.to_dict()}
        for f in fields(self):
            if f.name != "curtailment":
                out[f.name] = float(getattr(self, f.name))
        return out


def trend_factors(n_years: int, pct_per_year: float) -> FloatArray:
    r"""Energy factor per loan year of a compound trend, :math:`(1 + \tau/100)^{t-1}` [-]."""
    t = np.arange(int(n_years), dtype=np.float64)
    out: FloatArray = (1.0 + float(pct_per_year) / 100.0) ** t
    return out


@dataclass(frozen=True)
class DriverDefaults:
    """A lending product's default drivers and where each default comes from.

    Attributes
    ----------
    drivers : RiskDrivers
        Defaults used when a request does not give a value.
    sources : tuple of (str, str)
        ``(driver, source text)`` pairs, e.g. ``("curtailment", "NEA ... 2020-2024")``.
    """

    drivers: RiskDrivers
    sources: tuple[tuple[str, str], ...] = ()

    def to_policy_dict(self) -> dict[str, Any]:
        """The ``risk_drivers`` block as in a policy file (:func:`parse_driver_defaults`)."""
        d = self.drivers
        out: dict[str, Any] = {
            "curtailment": {
                "mean_pct": float(d.curtailment.mean_pct),
                "sd_pct": float(d.curtailment.sd_pct),
                "persistent_share": float(d.curtailment.persistent_share),
            }
        }
        for name in _DEFAULT_KEYS - {"curtailment", "sources"}:
            out[name] = float(getattr(d, name))
        out["sources"] = dict(self.sources)
        return dict(sorted(out.items()))


_DEFAULT_KEYS = frozenset(
    {
        "curtailment",
        "merchant_share_pct",
        "price_sd_pct",
        "price_wind_corr",
        "availability_sd_pct",
        "opex_sd_pct",
        "ageing_pct_per_year",
        "sources",
    }
)
_CURTAILMENT_KEYS = frozenset({"mean_pct", "sd_pct", "persistent_share"})


def parse_driver_defaults(raw: Any, where: str) -> DriverDefaults:
    """Read the ``risk_drivers`` block of a policy file.

    Parameters
    ----------
    raw : mapping
        The block: optional ``curtailment`` (``mean_pct``, ``sd_pct``, ``persistent_share``),
        ``merchant_share_pct``, ``price_sd_pct``, ``price_wind_corr``,
        ``availability_sd_pct``, ``opex_sd_pct``, ``ageing_pct_per_year``, and ``sources``
        (a mapping of driver name to the text of its source).
    where : str
        The policy, for error messages.

    Raises
    ------
    ValueError
        On an unknown key or a value out of range; the message names both.
    """
    if not isinstance(raw, Mapping):
        raise ModelInputError(f"{where}: 'risk_drivers' must be a mapping")
    extra = sorted(set(raw) - _DEFAULT_KEYS)
    if extra:
        raise ModelInputError(
            f"{where}: unknown risk_drivers field(s) {extra}; allowed: {sorted(_DEFAULT_KEYS)}"
        )
    values = {k: v for k, v in raw.items() if k not in ("curtailment", "sources")}
    curt = raw.get("curtailment", {})
    if not isinstance(curt, Mapping) or set(curt) - _CURTAILMENT_KEYS:
        raise ModelInputError(
            f"{where}: risk_drivers.curtailment must be a mapping of {sorted(_CURTAILMENT_KEYS)}"
        )
    sources = raw.get("sources", {})
    if not isinstance(sources, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in sources.items()
    ):
        raise ModelInputError(f"{where}: risk_drivers.sources must map driver names to texts")
    try:
        drivers = RiskDrivers(curtailment=Curtailment(**curt), **values)
    except (TypeError, ValueError) as exc:
        raise ModelInputError(f"{where}: risk_drivers: {exc}") from None
    return DriverDefaults(drivers, tuple((k, " ".join(v.split())) for k, v in sources.items()))


# ----------------------------------------------------------------------- per-path draws


def _stream(seed: int, key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(key,))))


@dataclass(frozen=True, eq=False)
class DriverDraws:
    r"""Standard normal draws of the drivers (None where a driver needs none).

    Attributes
    ----------
    curtailment : ndarray or None, shape (years, paths)
        :math:`\sqrt{\phi} u_j + \sqrt{1 - \phi} v_{j,t}`.
    price, operations : ndarray or None, shape (years, paths)
        :math:`\eta` (market price) and :math:`\zeta` (availability and opex).
    """

    curtailment: FloatArray | None
    price: FloatArray | None
    operations: FloatArray | None


def draw_driver_normals(drivers: RiskDrivers, seed: int, n_years: int, n_paths: int) -> DriverDraws:
    r"""Draw the standard normals that ``drivers`` needs, each from its own stream.

    The draws depend only on the seed, the shape, which drivers are stochastic and the
    curtailment's ``persistent_share``; never on the drivers' sizes (common random numbers).
    Yearly shocks are antithetic: with :math:`h = \lceil N/2 \rceil`, path :math:`j + h`
    gets :math:`-z` where path :math:`j` gets :math:`z` (half the draws, and a lower variance
    of the PD estimate; each path's marginal distribution is unchanged). Arrays are
    (years, paths), each year's row contiguous like the Monte Carlo's.
    """
    n_years, n_paths = int(n_years), int(n_paths)
    h = (n_paths + 1) // 2

    def normals(key: int) -> FloatArray:
        half = _stream(seed, key).standard_normal((n_years, h))
        z = np.empty((n_years, n_paths))
        z[:, :h] = half
        np.negative(half[:, : n_paths - h], out=z[:, h:])
        return z

    curt = None
    c = drivers.curtailment
    if c.sd_pct > 0.0:
        phi = float(c.persistent_share)
        curt = normals(_STREAM_CURTAILMENT_YEAR)
        if phi > 0.0:
            u = _stream(seed, _STREAM_CURTAILMENT_PATH).standard_normal(n_paths)
            curt *= math.sqrt(1.0 - phi)
            curt += math.sqrt(phi) * u
    price = normals(_STREAM_PRICE) if drivers.price_risk else None
    ops = (
        normals(_STREAM_OPERATIONS)
        if drivers.availability_sd_pct > 0.0 or drivers.opex_sd_pct > 0.0
        else None
    )
    return DriverDraws(curt, price, ops)


def climate_anomaly(climate_year_energy_mwh: ArrayLike) -> FloatArray:
    r"""Standardised energy anomaly of each climate year, :math:`(E_y - \bar E) / s_E` [-].

    :math:`s_E` is the sample standard deviation (ddof 1); all zeros with fewer than two
    years or no variability.
    """
    e = np.asarray(climate_year_energy_mwh, dtype=np.float64)
    if e.size < 2:
        return np.zeros_like(e)
    sd = float(e.std(ddof=1))
    if not sd > 0.0:
        return np.zeros_like(e)
    out: FloatArray = (e - e.mean()) / sd
    return out


@dataclass(frozen=True, eq=False)
class PathFactors:
    """Multipliers of one simulation's CFADS terms, broadcastable to (years, paths).

    Attributes
    ----------
    revenue : ndarray or None
        :math:`g_{j,t}`, multiplies energy × tariff; None for 1.
    opex : ndarray or None
        :math:`o_{j,t}`, multiplies opex; None for 1.
    """

    revenue: FloatArray | None
    opex: FloatArray | None


def curtailed_fraction(curtailment: Curtailment, draws: DriverDraws) -> FloatArray | float:
    """Share of energy sold after curtailment, ``1 - c/100``, per path-year (or a scalar)."""
    if draws.curtailment is None or curtailment.sd_pct == 0.0:
        return 1.0 - float(curtailment.mean_pct) / 100.0
    c = draws.curtailment * float(curtailment.sd_pct)
    c += float(curtailment.mean_pct)
    np.clip(c, 0.0, 100.0, out=c)
    c *= -0.01
    c += 1.0
    return c


def market_and_operations(
    drivers: RiskDrivers,
    draws: DriverDraws,
    anomaly_by_path_year: FloatArray | None = None,
) -> tuple[FloatArray | None, FloatArray | None]:
    r"""Revenue multiplier of availability and market price, and the opex multiplier.

    Returns
    -------
    revenue : ndarray or None, shape (years, paths)
        :math:`\max(1 - s_a \zeta / 100, 0)\,((1 - m) + m r)`; None for 1.
    opex : ndarray or None, shape (years, paths)
        :math:`o_{j,t}`; None for 1.
    """
    other: FloatArray | None = None
    if drivers.availability_sd_pct > 0.0 and draws.operations is not None:
        other = draws.operations * (-float(drivers.availability_sd_pct) / 100.0)
        other += 1.0
        np.maximum(other, 0.0, out=other)
    if drivers.price_risk and draws.price is not None:
        rho = float(drivers.price_wind_corr)
        s_r = _lognormal_sigma(float(drivers.price_sd_pct) / 100.0)
        w = draws.price * math.sqrt(1.0 - rho * rho)
        if anomaly_by_path_year is not None and rho != 0.0:
            w += rho * anomaly_by_path_year
        w *= s_r
        w -= 0.5 * s_r * s_r
        np.exp(w, out=w)
        m = float(drivers.merchant_share_pct) / 100.0
        w *= m
        w += 1.0 - m
        other = w if other is None else other * w
    opex: FloatArray | None = None
    if drivers.opex_sd_pct > 0.0 and draws.operations is not None:
        s_o = _lognormal_sigma(float(drivers.opex_sd_pct) / 100.0)
        opex = draws.operations * s_o
        opex -= 0.5 * s_o * s_o
        np.exp(opex, out=opex)
    return other, opex


def combine_factors(
    sold: FloatArray | float, other: FloatArray | None, opex: FloatArray | None
) -> PathFactors:
    """:class:`PathFactors` from the sold fraction and :func:`market_and_operations`."""
    revenue: FloatArray | None
    if isinstance(sold, np.ndarray):
        revenue = sold
    else:
        revenue = None if sold == 1.0 else np.asarray(sold, dtype=np.float64)
    if other is not None:
        revenue = other if revenue is None else revenue * other
    return PathFactors(revenue, opex)


def path_factors(
    drivers: RiskDrivers,
    draws: DriverDraws,
    anomaly_by_path_year: FloatArray | None = None,
    *,
    curtailment: Curtailment | None = None,
) -> PathFactors:
    r"""Per path-year multipliers from the drivers' sizes and their standard normal draws.

    Parameters
    ----------
    drivers : RiskDrivers
        Sizes.
    draws : DriverDraws
        From :func:`draw_driver_normals` with the same stochastic drivers.
    anomaly_by_path_year : ndarray, optional, shape (years, paths)
        Standardised energy anomaly of each path-year's climate year (price correlation);
        zero when omitted.
    curtailment : Curtailment, optional
        Curtailment to use instead of ``drivers.curtailment`` (a stress on its mean, with the
        same draws).

    Returns
    -------
    PathFactors
        See :class:`RiskDrivers` (Notes) for the formulas.
    """
    curt = drivers.curtailment if curtailment is None else curtailment
    other, opex = market_and_operations(drivers, draws, anomaly_by_path_year)
    return combine_factors(curtailed_fraction(curt, draws), other, opex)


#: Source key of each driver field (``DriverDefaults.sources`` and the assessment's record).
SOURCE_KEY: dict[str, str] = {
    "curtailment": "curtailment",
    "merchant_share_pct": "price",
    "price_sd_pct": "price",
    "price_wind_corr": "price",
    "availability_sd_pct": "availability",
    "opex_sd_pct": "opex",
    "ageing_pct_per_year": "ageing",
    "energy_trend_pct_per_year": "trend",
}


def resolve_drivers(
    defaults: DriverDefaults | None,
    overrides: Mapping[str, Any] | None,
    policy_id: str = "",
) -> tuple[RiskDrivers, dict[str, str]]:
    """The drivers of one assessment: the request's values over the product's defaults.

    Parameters
    ----------
    defaults : DriverDefaults or None
        The policy's ``risk_drivers`` (None: every driver zero unless requested).
    overrides : mapping or None
        Values the request gives, by :class:`RiskDrivers` field; ``curtailment`` is a mapping
        of :class:`Curtailment` fields, each omitted one taking the product default. None
        values are ignored.
    policy_id : str
        For the source texts.

    Returns
    -------
    drivers : RiskDrivers
    sources : dict of str to str
        Where each field's value came from: ``"request"``, ``"policy <id>: <source>"``, or
        ``"none (0)"``.

    Raises
    ------
    ValueError
        A value out of range or an unknown field; the message names it.
    """
    base = defaults.drivers if defaults is not None else RiskDrivers()
    texts = dict(defaults.sources) if defaults is not None else {}
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(given) - set(SOURCE_KEY))
    if unknown:
        raise ModelInputError(f"unknown risk driver(s) {unknown}; known: {sorted(SOURCE_KEY)}")
    drivers = base.with_overrides(**given)
    sources: dict[str, str] = {}
    for name, key in SOURCE_KEY.items():
        if name in given:
            sources[name] = "request"
        elif defaults is not None and (name != "energy_trend_pct_per_year"):
            text = texts.get(key)
            sources[name] = f"policy {policy_id}" + (f": {text}" if text else "")
        else:
            sources[name] = "none (0)"
    return drivers, sources
