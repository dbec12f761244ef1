"""Wind turbine library: power curves from the oedb data shipped inside windpowerlib.

The windpowerlib wheel carries a snapshot of the Open Energy Database (oedb) turbine library in
``windpowerlib/oedb``: ``turbine_data.csv`` (one row per turbine type: manufacturer, nominal
power [W], rotor diameter [m], offered hub heights [m], flags) and ``power_curves.csv`` (one
row per turbine with a power curve, wide format over 0-35 m/s, power in W, empty where the
curve has no point). This module reads both once (cached), converts power to kW and offers
:func:`list_turbines`, :func:`get_turbine` and :func:`search_turbines`.

Not every turbine has a curve (67 of 140 in windpowerlib 0.2.2); a project may bring its own
curve instead, built with :meth:`PowerCurve.from_points` and :meth:`Turbine.custom`.
"""

from __future__ import annotations

import csv
import difflib
import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np
from numpy.typing import ArrayLike, NDArray

from models.errors import ModelInputError

#: Smallest number of points a power curve must have.
MIN_CURVE_POINTS = 5
#: Largest relative gap between a curve's peak and the declared rated power. Manufacturers'
#: curves often peak a little above or below nameplate: in the oedb library the E-82/2000 curve
#: peaks at 2,050 kW (+2.5 %) and the S152/6330 curve at 6,150 kW (-2.8 %).
RATED_POWER_TOLERANCE = 0.05

_OEDB_PACKAGE = "windpowerlib"
_OEDB_FOLDER = "oedb"
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


class PowerCurveError(ModelInputError):
    """A power curve is not usable (too few points, unordered speeds, negative power, ...)."""


class UnknownTurbineError(ModelInputError):
    """A turbine type is not in the library.

    Parameters
    ----------
    turbine_type : str
        The name asked for.
    suggestions : sequence of str
        Close matches from the library (may be empty).
    """

    def __init__(self, turbine_type: str, suggestions: Sequence[str]) -> None:
        self.turbine_type = turbine_type
        self.suggestions = tuple(suggestions)
        hint = (
            f"; did you mean {', '.join(repr(s) for s in self.suggestions)}?"
            if self.suggestions
            else "; no close match in the turbine library (search it by name or "
            "manufacturer, or give a custom power curve)"
        )
        super().__init__(f"unknown turbine type {turbine_type!r}{hint}")


@dataclass(frozen=True)
class PowerCurve:
    """Electrical power of one turbine against hub-height wind speed.

    Power is zero outside the curve (below its first and above its last speed), as in
    windpowerlib. Construct with :meth:`from_points` to get input conversion and the rated
    power check; direct construction validates the same shape rules.

    Attributes
    ----------
    wind_speed_ms : tuple of float
        Wind speeds, strictly increasing, non-negative [m s-1].
    power_kw : tuple of float
        Power at each speed, finite and non-negative [kW].
    """

    wind_speed_ms: tuple[float, ...]
    power_kw: tuple[float, ...]

    def __post_init__(self) -> None:
        v = np.asarray(self.wind_speed_ms, dtype=float)
        p = np.asarray(self.power_kw, dtype=float)
        if v.ndim != 1 or p.ndim != 1:
            raise PowerCurveError("power curve speeds and powers must be flat lists of numbers")
        if v.size != p.size:
            raise PowerCurveError(
                f"power curve has {v.size} wind speeds but {p.size} power values; "
                "give one power per speed"
            )
        if v.size < MIN_CURVE_POINTS:
            raise PowerCurveError(
                f"power curve has {v.size} points; at least {MIN_CURVE_POINTS} are needed"
            )
        if not np.all(np.isfinite(v)) or np.any(v < 0):
            raise PowerCurveError("power curve wind speeds must be finite and non-negative [m/s]")
        steps = np.diff(v)
        if np.any(steps <= 0):
            i = int(np.argmax(steps <= 0))
            raise PowerCurveError(
                "power curve wind speeds must be strictly increasing; "
                f"{v[i + 1]:g} m/s follows {v[i]:g} m/s (point {i + 2})"
            )
        if not np.all(np.isfinite(p)) or np.any(p < 0):
            i = int(np.argmax(~np.isfinite(p) | (p < 0)))
            raise PowerCurveError(
                f"power curve power must be finite and non-negative [kW]; got {p[i]!r} "
                f"at {v[i]:g} m/s"
            )
        if not p.max() > 0:
            raise PowerCurveError("power curve is zero everywhere")

    @classmethod
    def from_points(
        cls,
        wind_speed_ms: ArrayLike,
        power_kw: ArrayLike,
        rated_power_kw: float | None = None,
        rated_tolerance: float = RATED_POWER_TOLERANCE,
    ) -> PowerCurve:
        """Build a validated curve from two sequences.

        Parameters
        ----------
        wind_speed_ms : array_like
            Wind speeds, strictly increasing [m s-1].
        power_kw : array_like
            Power at each speed [kW].
        rated_power_kw : float, optional
            Declared rated (nameplate) power [kW]; when given, the curve's peak must lie within
            ``rated_tolerance`` of it (catches curves entered in W or MW by mistake).
        rated_tolerance : float
            Largest relative gap between peak and declared rated power [-].

        Returns
        -------
        PowerCurve

        Raises
        ------
        PowerCurveError
            With a message naming the offending point or value.
        """
        try:
            v = np.asarray(wind_speed_ms, dtype=float)
            p = np.asarray(power_kw, dtype=float)
        except (TypeError, ValueError) as exc:
            raise PowerCurveError(f"power curve values must be numbers: {exc}") from None
        if v.ndim != 1 or p.ndim != 1:
            raise PowerCurveError("power curve speeds and powers must be flat lists of numbers")
        curve = cls(tuple(float(x) for x in v), tuple(float(x) for x in p))
        if rated_power_kw is not None:
            rated = float(rated_power_kw)
            if not (math.isfinite(rated) and rated > 0):
                raise PowerCurveError(f"rated power must be a positive number of kW, got {rated}")
            peak = curve.rated_power_kw
            if abs(peak - rated) > rated_tolerance * rated:
                raise PowerCurveError(
                    f"power curve peaks at {peak:g} kW but the rated power is {rated:g} kW "
                    f"(more than {rated_tolerance:.0%} apart); check the units (kW expected)"
                )
        return curve

    @property
    def rated_power_kw(self) -> float:
        """Largest power on the curve [kW]."""
        return max(self.power_kw)

    @property
    def speeds(self) -> NDArray[np.float64]:
        """Wind speeds as an array [m s-1]."""
        return np.asarray(self.wind_speed_ms, dtype=float)

    @property
    def powers(self) -> NDArray[np.float64]:
        """Powers as an array [kW]."""
        return np.asarray(self.power_kw, dtype=float)


@dataclass(frozen=True)
class Turbine:
    """One wind turbine type.

    Attributes
    ----------
    turbine_type : str
        Library key, e.g. ``"E-126/4200"``.
    manufacturer : str
        Manufacturer name (``"custom"`` for a user curve).
    rated_power_kw : float
        Nameplate power [kW].
    rotor_diameter_m : float or None
        Rotor diameter [m]; None when unknown (custom curves).
    hub_heights_m : tuple of float
        Hub heights the manufacturer offers [m]; empty when unknown.
    power_curve : PowerCurve or None
        None for library turbines without a published curve.
    """

    turbine_type: str
    manufacturer: str
    rated_power_kw: float
    rotor_diameter_m: float | None
    hub_heights_m: tuple[float, ...]
    power_curve: PowerCurve | None

    @classmethod
    def custom(
        cls,
        name: str,
        power_curve: PowerCurve,
        rated_power_kw: float | None = None,
        rotor_diameter_m: float | None = None,
    ) -> Turbine:
        """Define a turbine by a user's power curve.

        Parameters
        ----------
        name : str
            Label shown in results.
        power_curve : PowerCurve
            The curve [kW].
        rated_power_kw : float, optional
            Nameplate power [kW]; the curve's peak when omitted.
        rotor_diameter_m : float, optional
            Rotor diameter [m].
        """
        if not name.strip():
            raise ModelInputError("a custom turbine needs a non-empty name")
        rated = power_curve.rated_power_kw if rated_power_kw is None else float(rated_power_kw)
        if rated_power_kw is not None:
            # Reuse the curve validation for the rated-power consistency check.
            PowerCurve.from_points(power_curve.wind_speed_ms, power_curve.power_kw, rated)
        return cls(name.strip(), "custom", rated, rotor_diameter_m, (), power_curve)

    @property
    def has_power_curve(self) -> bool:
        """True when a power curve is known."""
        return self.power_curve is not None


def _oedb_text(filename: str) -> str:
    return (resources.files(_OEDB_PACKAGE) / _OEDB_FOLDER / filename).read_text(encoding="utf-8")


def _parse_hub_heights(text: str) -> tuple[float, ...]:
    """Parse oedb hub heights such as ``"87,5; 100; 120"``, ``"75/85"`` or ``"68-90"``.

    The column is free text (decimal commas, stray separators, remarks); every number in it
    is taken as an offered hub height [m].
    """
    return tuple(sorted({float(m.replace(",", ".")) for m in _NUMBER.findall(text)}))


def _optional_float(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


@functools.lru_cache(maxsize=1)
def _library() -> dict[str, Turbine]:
    """Read the oedb CSVs once; keys are turbine types in file order."""
    curves: dict[str, tuple[list[float], list[float]]] = {}
    rows = csv.reader(_oedb_text("power_curves.csv").splitlines())
    header = next(rows)
    grid = [float(x) for x in header[1:]]
    for row in rows:
        if not row:
            continue
        speeds, powers = [], []
        for v, cell in zip(grid, row[1:], strict=True):
            if cell.strip():
                speeds.append(v)
                powers.append(float(cell) / 1000.0)  # W -> kW
        curves[row[0]] = (speeds, powers)

    library: dict[str, Turbine] = {}
    for rec in csv.DictReader(_oedb_text("turbine_data.csv").splitlines()):
        ttype = rec["turbine_type"].strip()
        rated_kw = float(rec["nominal_power"]) / 1000.0
        curve = None
        if rec["has_power_curve"].strip() == "True" and ttype in curves:
            speeds, powers = curves[ttype]
            curve = PowerCurve.from_points(speeds, powers, rated_power_kw=rated_kw)
        library[ttype] = Turbine(
            turbine_type=ttype,
            manufacturer=rec["manufacturer"].strip(),
            rated_power_kw=rated_kw,
            rotor_diameter_m=_optional_float(rec["rotor_diameter"]),
            hub_heights_m=_parse_hub_heights(rec["hub_height"]),
            power_curve=curve,
        )
    return library


def list_turbines(with_curve_only: bool = True) -> tuple[Turbine, ...]:
    """All library turbines, sorted by type.

    Parameters
    ----------
    with_curve_only : bool
        Only turbines that have a power curve (the ones a project can use directly).
    """
    return tuple(
        t
        for _, t in sorted(_library().items(), key=lambda kv: kv[0].lower())
        if t.has_power_curve or not with_curve_only
    )


def get_turbine(turbine_type: str) -> Turbine:
    """Look up a library turbine by type (exact, else case-insensitive match).

    Raises
    ------
    UnknownTurbineError
        With up to five close matches (difflib) in the message.
    """
    lib = _library()
    if turbine_type in lib:
        return lib[turbine_type]
    folded = {k.lower(): k for k in lib}
    key = turbine_type.strip().lower()
    if key in folded:
        return lib[folded[key]]
    close = difflib.get_close_matches(key, list(folded), n=5, cutoff=0.6)
    raise UnknownTurbineError(turbine_type, [folded[c] for c in close])


def search_turbines(query: str, with_curve_only: bool = False) -> tuple[Turbine, ...]:
    """Turbines whose type or manufacturer contains ``query`` (case-insensitive).

    Parameters
    ----------
    query : str
        Text to look for, e.g. ``"enercon"`` or ``"E-82"``.
    with_curve_only : bool
        Only turbines with a power curve.
    """
    q = query.strip().lower()
    return tuple(
        t
        for t in list_turbines(with_curve_only=with_curve_only)
        if q in t.turbine_type.lower() or q in t.manufacturer.lower()
    )
