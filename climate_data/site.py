"""A site's climate years, as read from the indicator cube.

:class:`SiteClimate` is the value the cube reader returns for one site and the input of every
model in ``models``. It holds the nearest cell's per-year and per-month series at the cube's
reference height; :meth:`SiteClimate.summary` turns them into the site-climate object of the
API contract (README, "API and web page") at a chosen hub height.

Missing data (docs/conventions.rst, "Missing data is explicit, never filled"): a year whose
coverage is below :data:`YEAR_COVERAGE_MIN` is
*incomplete*. Its values stay in the arrays (for display) but ``complete`` is False, the
summary reports it as ``null``, and it takes no part in any multi-year figure.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from climate_data.sunshine import MINUTE_DATA_BIAS_PCT
from climate_data.wind import MIN_TREND_YEARS, inter_annual_variability, monthly_cv, wind_trend

#: Smallest fraction of a year's hours with valid wind for the year to count as complete.
YEAR_COVERAGE_MIN = 0.95
#: Smallest fraction of a month's hours with valid wind for the month to count as complete.
MONTH_COVERAGE_MIN = 0.90
#: Number of latest complete years in the trailing mean (the Changji rule).
TRAILING_YEARS = 3
#: Most cell figures (wind, solar and coverage parts of a summary, per hub height) that
#: :meth:`SiteClimate.summary` keeps per process, as JSON text of about 3 KB each.
SUMMARY_CACHE_SIZE = 4096


@dataclass(frozen=True)
class DatasetInfo:
    """Provenance of the cube a site was read from."""

    id: str
    sha256: str
    synthetic: bool
    start: str
    end: str


class Deferred:
    """An array computed when first read: values of a cell not yet decoded from the store.

    A site-climate summary never reads the wind histograms (the largest part of a cell), the
    monthly air density or the monthly solar figures; a wind assessment reads the histograms
    only. :class:`SiteClimate` accepts one of these for each of those fields (the
    :data:`DEFERRABLE` ones) and replaces it by its array on first access.
    """

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[], NDArray[np.float64]]) -> None:
        self._make = make

    def load(self) -> NDArray[np.float64]:
        """Compute the array."""
        return self._make()


#: Fields of :class:`SiteClimate` that may be given as a :class:`Deferred`.
DEFERRABLE = frozenset(
    {
        "wind_hist_hours",
        "monthly_wind_hist_hours",
        "monthly_air_density_kg_m3",
        "monthly_sunshine_hours",
        "monthly_ghi_kwh_m2",
        "monthly_pv_yield_kwh_kwp",
        "monthly_solar_coverage",
    }
)


class _DeferredField:
    """Data descriptor of a :class:`SiteClimate` field that may hold a :class:`Deferred`."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, obj: object, objtype: type | None = None) -> NDArray[np.float64]:
        if obj is None:
            raise AttributeError(self._name)  # a required dataclass field: no default
        return self._value(obj)  # type: ignore[no-any-return]

    def _value(self, obj: object) -> Any:
        value = obj.__dict__[self._name]
        if isinstance(value, Deferred):
            value = value.load()
            obj.__dict__[self._name] = value
        return value

    def __set__(self, obj: object, value: NDArray[np.float64] | Deferred | None) -> None:
        obj.__dict__[self._name] = value


class _OptionalDeferredField(_DeferredField):
    """A :class:`_DeferredField` that may be absent: None by default (a cube without solar)."""

    def __get__(  # type: ignore[override]
        self, obj: object, objtype: type | None = None
    ) -> NDArray[np.float64] | None:
        if obj is None:
            return None  # the dataclass default
        return self._value(obj)  # type: ignore[no-any-return]


@dataclass(frozen=True, eq=False)
class SiteClimate:
    """Per-year and per-month climate of the cell nearest to a site.

    All wind figures are at ``reference_height_m``; use :meth:`height_factor` to move them
    to a hub height with the cell's shear exponent (power law).

    Attributes
    ----------
    lat, lon : float
        Requested site [degrees].
    cell_lat, cell_lon : float
        Centre of the nearest cell [degrees].
    distance_km : float
        Great-circle distance from the site to the cell centre [km].
    dataset : DatasetInfo
        Cube provenance.
    reference_height_m : float
        Height of every wind figure here [m].
    years : ndarray of int, shape (Y,)
        Calendar years, ascending.
    coverage : ndarray, shape (Y,)
        Fraction of each year's hours with valid wind [0-1].
    wind_mean_ms : ndarray, shape (Y,)
        Annual mean wind speed at the reference height [m s-1].
    wind_hist_hours : ndarray, shape (Y, B)
        Hours per wind-speed bin at the reference height, per year [h].
    wind_bin_edges_ms : ndarray, shape (B + 1,)
        Bin edges [m s-1].
    shear_exponent : float
        Power-law (Hellman) exponent of the cell [-].
    shear_from_data : bool
        True when the exponent was fitted from two heights, False for the default.
    air_density_kg_m3 : ndarray, shape (Y,)
        Annual mean air density at the reference height [kg m-3].
    weibull_k, weibull_c_ms : float
        Weibull shape [-] and scale [m s-1] of all complete hours at the reference height.
    months : ndarray of datetime64[M], shape (M,)
        Calendar months, ascending.
    monthly_coverage : ndarray, shape (M,)
        Fraction of each month's hours with valid wind [0-1].
    monthly_wind_mean_ms : ndarray, shape (M,)
        Monthly mean wind speed at the reference height [m s-1].
    monthly_wind_hist_hours : ndarray, shape (M, B)
        Hours per wind-speed bin per month [h].
    monthly_air_density_kg_m3 : ndarray, shape (M,)
        Monthly mean air density [kg m-3].
    sunshine_hours, ghi_kwh_m2, pv_yield_kwh_kwp : ndarray, shape (Y,), or None
        Annual sunshine duration [h], global horizontal irradiation [kWh m-2] and specific
        yield of the reference PV system [kWh kWp-1]; None when the source has no radiation.
    monthly_sunshine_hours, monthly_ghi_kwh_m2, monthly_pv_yield_kwh_kwp : ndarray or None
        The same per month.
    solar_coverage, monthly_solar_coverage : ndarray or None
        Fraction of each year's (month's) hours with valid radiation [0-1]; a solar figure
        needs both its wind-data coverage and this to meet the rule.
    sunshine_method : str or None
        How the cube counted sunshine (cube attribute ``sunshine_method``):
        ``"era5_sund"`` (the source's sunshine duration), ``"dni_fraction"`` (fraction of
        each hour from direct irradiance, :mod:`climate_data.sunshine`) or
        ``"ghi_erbs_fraction"``; None for a cube that predates the attribute.
    pv_transposition : str or None
        Transposition model of the cube's reference PV yield (cube attribute
        ``pv_transposition``; :meth:`climate_data.cube.Cube.site` gives ``"haydavies"`` for a
        cube that predates it); None means the current reference system's (Perez).
    """

    lat: float
    lon: float
    cell_lat: float
    cell_lon: float
    distance_km: float
    dataset: DatasetInfo
    reference_height_m: float
    years: NDArray[np.int64]
    coverage: NDArray[np.float64]
    wind_mean_ms: NDArray[np.float64]
    wind_bin_edges_ms: NDArray[np.float64]
    shear_exponent: float
    shear_from_data: bool
    air_density_kg_m3: NDArray[np.float64]
    weibull_k: float
    weibull_c_ms: float
    months: NDArray[np.datetime64]
    monthly_coverage: NDArray[np.float64]
    monthly_wind_mean_ms: NDArray[np.float64]
    # Required (no default: the descriptor raises on class access), after every plain
    # required field for the type checker, which takes a descriptor for a default.
    monthly_air_density_kg_m3: _DeferredField = _DeferredField()
    wind_hist_hours: _DeferredField = _DeferredField()
    monthly_wind_hist_hours: _DeferredField = _DeferredField()
    sunshine_hours: NDArray[np.float64] | None = None
    ghi_kwh_m2: NDArray[np.float64] | None = None
    pv_yield_kwh_kwp: NDArray[np.float64] | None = None
    monthly_sunshine_hours: _OptionalDeferredField = _OptionalDeferredField()
    monthly_ghi_kwh_m2: _OptionalDeferredField = _OptionalDeferredField()
    monthly_pv_yield_kwh_kwp: _OptionalDeferredField = _OptionalDeferredField()
    solar_coverage: NDArray[np.float64] | None = None
    monthly_solar_coverage: _OptionalDeferredField = _OptionalDeferredField()
    sunshine_method: str | None = None
    pv_transposition: str | None = None

    @property
    def complete(self) -> NDArray[np.bool_]:
        """Which years meet the coverage rule (``coverage >= YEAR_COVERAGE_MIN``)."""
        return np.asarray(self.coverage >= YEAR_COVERAGE_MIN)

    @property
    def monthly_complete(self) -> NDArray[np.bool_]:
        """Which months meet the coverage rule (``coverage >= MONTH_COVERAGE_MIN``)."""
        return np.asarray(self.monthly_coverage >= MONTH_COVERAGE_MIN)

    @property
    def year_hours(self) -> NDArray[np.float64]:
        """Hours in each calendar year of ``years`` (8760 or 8784)."""
        starts = np.asarray(self.years, dtype=np.int64).astype(str).astype("datetime64[Y]")
        return _hours_between(starts, starts + np.timedelta64(1, "Y"))

    @property
    def month_hours(self) -> NDArray[np.float64]:
        """Hours in each calendar month of ``months``."""
        starts = self.months.astype("datetime64[M]")
        return _hours_between(starts, starts + np.timedelta64(1, "M"))

    @property
    def solar_complete(self) -> NDArray[np.bool_]:
        """Which years meet the coverage rule for wind and, when recorded, for radiation."""
        if self.solar_coverage is None:
            return self.complete
        return np.asarray(self.complete & (self.solar_coverage >= YEAR_COVERAGE_MIN))

    @property
    def monthly_solar_complete(self) -> NDArray[np.bool_]:
        """Which months meet the coverage rule for wind and, when recorded, for radiation."""
        if self.monthly_solar_coverage is None:
            return self.monthly_complete
        return np.asarray(
            self.monthly_complete & (self.monthly_solar_coverage >= MONTH_COVERAGE_MIN)
        )

    @property
    def complete_years(self) -> NDArray[np.int64]:
        """The complete calendar years, ascending."""
        return self.years[self.complete]

    @property
    def has_solar(self) -> bool:
        """True when the source carried radiation."""
        return self.sunshine_hours is not None

    @property
    def wind_bin_centres_ms(self) -> NDArray[np.float64]:
        """Centres of the wind-speed bins [m s-1]."""
        e = self.wind_bin_edges_ms
        return np.asarray(0.5 * (e[:-1] + e[1:]))

    def height_factor(self, hub_height_m: float) -> float:
        r"""Ratio of wind speed at ``hub_height_m`` to wind speed at the reference height.

        Notes
        -----
        Power law (Hellman): :math:`v_h = v_{ref} (h / h_{ref})^{\alpha}` with the cell's
        shear exponent :math:`\alpha`.
        """
        if not hub_height_m > 0:
            raise ValueError(f"hub height must be positive, got {hub_height_m} m")
        return float((hub_height_m / self.reference_height_m) ** self.shear_exponent)

    def trailing_years(self, n: int = TRAILING_YEARS) -> NDArray[np.int64]:
        """The latest ``n`` complete years (fewer when the data has fewer)."""
        return self.complete_years[-n:]

    def summary(self, hub_height_m: float | None = None) -> dict[str, Any]:
        """The site-climate object of API contract v1 at ``hub_height_m``.

        Parameters
        ----------
        hub_height_m : float, optional
            Height of the wind figures [m]; the cube's reference height when omitted.

        Returns
        -------
        dict
            JSON-ready; incomplete years are ``None`` in per-year maps and excluded from every
            multi-year figure. Multi-year figures are ``None`` when too few complete years exist.
            ``wind.trend_pct_per_decade`` and ``wind.trend_p_value`` are Sen's slope of the
            complete years' annual means [% of the mean per decade] and its Mann-Kendall
            p-value (:func:`climate_data.wind.wind_trend`); null with fewer than
            :data:`climate_data.wind.MIN_TREND_YEARS` complete years. A new dict each call.

        Notes
        -----
        The wind, solar and coverage figures (Sen's slope and the Mann-Kendall test among them)
        are kept per process in a bounded least-recently-used cache of
        :data:`SUMMARY_CACHE_SIZE` entries, keyed by the hub height and a digest of every
        field they read, so a cached result is the one the computation gives.
        """
        h = self.reference_height_m if hub_height_m is None else float(hub_height_m)
        f = self.height_factor(h)
        key = (h, self._figures_digest())
        text = _SUMMARY_CACHE.get(key)
        if text is not None:
            figures = json.loads(text)  # new dicts each call: callers may change theirs
        else:
            figures = self._figures(h, f)
            _SUMMARY_CACHE.put(key, _json_exact(figures))
        return {
            "site": {"lat": self.lat, "lon": self.lon},
            "cell": {
                "lat": self.cell_lat,
                "lon": self.cell_lon,
                "distance_km": json_float(self.distance_km, 2),
            },
            "dataset": {
                "id": self.dataset.id,
                "sha256": self.dataset.sha256,
                "synthetic": self.dataset.synthetic,
                "start": self.dataset.start,
                "end": self.dataset.end,
            },
            **figures,
        }

    def _figures_digest(self) -> bytes:
        """Digest of every field the wind, solar and coverage parts of the summary read.

        The key of the summary cache: equal digests mean equal inputs, so a cached result is
        exactly the one the computation would give (a cell read twice, or the three summaries
        an assessment asks of one site).
        """
        d = hashlib.blake2b(digest_size=20)
        d.update(
            repr(
                (
                    self.reference_height_m,
                    self.shear_exponent,
                    self.shear_from_data,
                    self.weibull_k,
                    self.weibull_c_ms,
                    self.sunshine_method,
                )
            ).encode()
        )
        for a in (
            self.years,
            self.coverage,
            self.wind_mean_ms,
            self.monthly_coverage,
            self.monthly_wind_mean_ms,
            self.sunshine_hours,
            self.ghi_kwh_m2,
            self.pv_yield_kwh_kwp,
            self.solar_coverage,
        ):
            if a is None:
                d.update(b"-")
            else:
                arr = np.ascontiguousarray(a)
                d.update(f"{arr.dtype.str}{arr.shape}".encode())
                d.update(arr.tobytes())
        return d.digest()

    def _figures(self, h: float, f: float) -> dict[str, Any]:
        """The wind, solar and coverage parts of :meth:`summary` (the costly statistics)."""
        ok = self.complete
        annual = self.wind_mean_ms * f
        good = annual[ok]
        trailing = self.trailing_years()
        trailing_vals = annual[np.isin(self.years, trailing)]
        months_ok = self.monthly_complete
        monthly = self.monthly_wind_mean_ms[months_ok] * f
        trend_pct: float | None = None
        trend_p: float | None = None
        if good.size >= MIN_TREND_YEARS:
            t_pct, t_p = wind_trend(self.years[ok], good)
            trend_pct, trend_p = json_float(t_pct, 3), json_float(t_p, 4)

        def per_year(values: NDArray[np.float64], digits: int) -> dict[str, float | None]:
            return per_year_map(self.years, values, ok, digits)

        wind = {
            "height_m": json_float(h, 2),
            "annual_mean_ms": per_year(annual, 3),
            "trailing_3y_mean_ms": (
                json_float(float(trailing_vals.mean()), 3)
                if len(trailing) == TRAILING_YEARS
                else None
            ),
            "trailing_3y_years": [int(y) for y in trailing],
            "long_term_mean_ms": json_float(float(good.mean()), 3) if good.size else None,
            "iav": json_float(float(inter_annual_variability(good)), 4) if good.size >= 2 else None,
            "monthly_cv": (
                json_float(float(monthly_cv(monthly)), 4) if monthly.size >= 12 else None
            ),
            "trend_pct_per_decade": trend_pct,
            "trend_p_value": trend_p,
            "weibull_k": json_float(self.weibull_k, 3),
            "weibull_c_ms": json_float(self.weibull_c_ms * f, 3),
            "shear_exponent": json_float(self.shear_exponent, 4),
            "shear_from_data": self.shear_from_data,
        }
        solar: dict[str, Any] | None = None
        if self.sunshine_hours is not None and self.ghi_kwh_m2 is not None:
            sok = self.solar_complete
            sun_ok = self.sunshine_hours[sok]
            solar = {
                "annual_sunshine_hours": per_year_map(self.years, self.sunshine_hours, sok, 1),
                "mean_sunshine_hours": json_float(float(sun_ok.mean()), 1) if sun_ok.size else None,
                "annual_ghi_kwh_m2": per_year_map(self.years, self.ghi_kwh_m2, sok, 1),
                "mean_ghi_kwh_m2": (
                    json_float(float(self.ghi_kwh_m2[sok].mean()), 1) if sun_ok.size else None
                ),
                "sunshine_method": self.sunshine_method or "unrecorded",
                "sunshine_method_bias_pct": MINUTE_DATA_BIAS_PCT.get(self.sunshine_method or ""),
            }
            if self.pv_yield_kwh_kwp is not None:
                solar["annual_pv_yield_kwh_kwp"] = per_year_map(
                    self.years, self.pv_yield_kwh_kwp, sok, 1
                )
        return {
            "wind": wind,
            "solar": solar,
            "coverage": per_year_map(
                self.years, self.coverage, np.ones(self.years.size, dtype=bool), 4
            ),
        }


class _FiguresCache:
    """Bounded least-recently-used map of summary figures, safe across threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[float, bytes], str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[float, bytes]) -> str | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: tuple[float, bytes], value: str | None) -> None:
        if value is None:
            return
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


_SUMMARY_CACHE = _FiguresCache(SUMMARY_CACHE_SIZE)


def _json_exact(value: dict[str, Any]) -> str | None:
    """JSON text of ``value`` when reading it back gives an equal value, else None (not cached).

    Kept as text, a cache entry takes about 3 KB instead of about 17 KB of Python objects.
    """
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return text if json.loads(text) == value else None


def _hours_between(starts: NDArray[Any], ends: NDArray[Any]) -> NDArray[np.float64]:
    """Hours from each start to its end (datetime64 arrays of any unit)."""
    hours = ends.astype("datetime64[h]") - starts.astype("datetime64[h]")
    return np.asarray(hours.astype(float), dtype=float)


def json_float(value: float, digits: int) -> float | None:
    """Round for JSON; NaN or inf become None (JSON has no NaN)."""
    v = float(value)
    return round(v, digits) if math.isfinite(v) else None


def per_year_map(
    years: NDArray[np.int64], values: NDArray[np.float64], keep: NDArray[np.bool_], digits: int
) -> dict[str, float | None]:
    """``{"2022": value}`` for JSON: years not kept (incomplete) and non-finite values are None.

    The values are taken as Python floats at once (``tolist``): rounding numpy scalars one
    by one costs about twice as much, and a site summary rounds some 160 of them.
    """
    return {
        str(int(y)): (round(v, digits) if k and math.isfinite(v) else None)
        for y, v, k in zip(
            np.asarray(years).tolist(),
            np.asarray(values, dtype=np.float64).tolist(),
            np.asarray(keep).tolist(),
            strict=True,
        )
    }
