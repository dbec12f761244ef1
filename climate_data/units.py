"""Units of weather variables: parse CF and ECMWF unit strings, convert DataArrays lazily.

Units are checked and converted once, in the readers (docs/conventions.rst, "Units"). Every
function here takes
the ``file`` and ``variable`` it works for, so that a :class:`~climate_data.errors.UnitsError`
names both. A missing, unknown or incompatible unit is always an error, never a guess.

Parsing uses the pint registry of ``cf_xarray.units``, which reads UDUNITS/CF strings
(``"m s-1"``, ``"W m-2"``, ``"degC"``, ``"hPa"``) as well as ECMWF's ``"m s**-1"`` and
``"J m**-2"``. ECMWF writes ``"(0 - 1)"`` for a fraction; it is read as dimensionless ``1``.

Conversions are affine, ``y = scale * x + offset`` (the offset is non-zero only between
temperature scales), and are applied as dask-friendly arithmetic, so a lazy array stays lazy.
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from typing import Any

import xarray as xr

from climate_data.errors import UnitsError

with warnings.catch_warnings():
    # cf_xarray warns at import time when matplotlib is absent; that is irrelevant here.
    warnings.simplefilter("ignore", UserWarning)
    from cf_xarray.units import units as _REGISTRY

__all__ = [
    "accumulated_to_rate",
    "conversion",
    "convert",
    "is_accumulation_of",
    "parse_quantity",
    "parse_units",
    "rate_to_accumulated",
]

#: Unit strings that mean "a dimensionless fraction" in ECMWF and CF files.
_FRACTION_SPELLINGS = re.compile(r"^\(?\s*0\s*-\s*1\s*\)?$|^~$")


def _where(file: str | os.PathLike[str] | None, variable: str | None) -> str:
    """Return ``"file, variable 'x'"`` for error messages (either part may be absent)."""
    parts = []
    if file is not None:
        parts.append(os.fspath(file))
    if variable is not None:
        parts.append(f"variable {variable!r}")
    return ", ".join(parts) if parts else "<unnamed input>"


def parse_units(
    units: object,
    *,
    file: str | os.PathLike[str] | None = None,
    variable: str | None = None,
) -> Any:
    """Parse a unit string into a pint unit of the CF registry.

    Parameters
    ----------
    units : str
        Unit string as written in a file, e.g. ``"m s**-1"``, ``"W m-2"``, ``"degC"``,
        ``"(0 - 1)"``.
    file, variable : optional
        Where the string comes from; used in error messages.

    Returns
    -------
    pint.Unit
        The parsed unit (registry of ``cf_xarray.units``).

    Raises
    ------
    UnitsError
        When ``units`` is missing, not a string, unknown to the registry, or carries a numeric
        factor (``"50 m"`` is a quantity, not a unit; see :func:`parse_quantity`).
    """
    where = _where(file, variable)
    if units is None:
        raise UnitsError(f"{where}: no 'units' attribute; add CF units (e.g. 'm s-1')")
    if not isinstance(units, str):
        raise UnitsError(f"{where}: units attribute {units!r} is not a string")
    text = units.strip()
    if not text:
        raise UnitsError(f"{where}: empty 'units' attribute; add CF units (e.g. 'm s-1')")
    if _FRACTION_SPELLINGS.match(text):
        return _REGISTRY.dimensionless
    quantity = _parse(text, where)
    if float(quantity.magnitude) != 1.0:
        raise UnitsError(
            f"{where}: units {units!r} carry a numeric factor; scaled units are not supported"
        )
    return quantity.units


def parse_quantity(
    text: object,
    target_units: str,
    *,
    file: str | os.PathLike[str] | None = None,
    variable: str | None = None,
) -> float:
    """Read a quantity written as text (``"50 m"``) and return its magnitude in target units.

    Parameters
    ----------
    text : str
        Number followed by units, as in CF's ``height`` attributes.
    target_units : str
        Units of the returned magnitude.
    file, variable : optional
        Where the text comes from; used in error messages.

    Returns
    -------
    float
        Magnitude in ``target_units``.

    Raises
    ------
    UnitsError
        When ``text`` has no units, unknown units or units incompatible with the target.
    """
    where = _where(file, variable)
    if not isinstance(text, str) or not text.strip():
        raise UnitsError(f"{where}: {text!r} is not a quantity with units (e.g. '50 m')")
    quantity = _parse(text.strip(), where)
    if quantity.dimensionless:
        raise UnitsError(f"{where}: {text!r} has no units; write e.g. '50 m'")
    target = parse_units(target_units, file=file, variable=variable)
    if quantity.dimensionality != target.dimensionality:
        raise UnitsError(f"{where}: {text!r} cannot be expressed in {target_units!r}")
    return float(quantity.to(target).magnitude)


def conversion(
    source_units: object,
    target_units: str,
    *,
    file: str | os.PathLike[str] | None = None,
    variable: str | None = None,
) -> tuple[float, float]:
    r"""Return ``(scale, offset)`` such that ``target = scale * source + offset``.

    Parameters
    ----------
    source_units : str
        Units of the data as written in the file.
    target_units : str
        Units wanted.
    file, variable : optional
        Used in error messages.

    Returns
    -------
    scale, offset : float
        Coefficients of the affine map; ``(1.0, 0.0)`` when the units are equal.

    Raises
    ------
    UnitsError
        When either unit is unknown or they measure different things.

    Notes
    -----
    Every unit conversion between CF units is affine. The coefficients follow from converting
    the two source values 0 and 1:

    .. math:: \text{offset} = f(0), \qquad \text{scale} = f(1) - f(0)

    which also handles offset scales (degC → K: scale 1, offset 273.15).
    """
    src = parse_units(source_units, file=file, variable=variable)
    dst = parse_units(target_units, file=file, variable=variable)
    return _coefficients(src, dst, _where(file, variable), source_units, target_units)


def convert(
    da: xr.DataArray,
    target_units: str,
    *,
    file: str | os.PathLike[str] | None = None,
    variable: str | None = None,
) -> xr.DataArray:
    """Convert a DataArray from its ``units`` attribute to ``target_units`` (lazily).

    Parameters
    ----------
    da : xarray.DataArray
        Data with a ``units`` attribute. Dask-backed data stay dask-backed.
    target_units : str
        Units of the result; written verbatim into its ``units`` attribute.
    file, variable : optional
        Used in error messages (``variable`` defaults to ``da.name``).

    Returns
    -------
    xarray.DataArray
        Converted data with the same attributes except ``units``; encoding is dropped so that
        the source's packing (``scale_factor``) never applies to converted values.

    Raises
    ------
    UnitsError
        When ``units`` is missing, unknown or incompatible with ``target_units``.
    """
    name = variable if variable is not None else _name(da)
    scale, offset = conversion(da.attrs.get("units"), target_units, file=file, variable=name)
    return _affine(da, scale, offset, target_units)


def is_accumulation_of(
    source_units: object,
    rate_units: str,
    *,
    file: str | os.PathLike[str] | None = None,
    variable: str | None = None,
) -> bool:
    """Tell whether ``source_units`` measure a time integral of ``rate_units``.

    Parameters
    ----------
    source_units : str
        Units in the file, e.g. ``"J m**-2"``.
    rate_units : str
        Units of the rate, e.g. ``"W m-2"``.
    file, variable : optional
        Used in error messages.

    Returns
    -------
    bool
        True when ``source_units`` have the dimensions of ``rate_units`` times a time.

    Raises
    ------
    UnitsError
        When either unit cannot be parsed.
    """
    src = parse_units(source_units, file=file, variable=variable)
    rate = parse_units(rate_units, file=file, variable=variable)
    return bool(src.dimensionality == (rate * _REGISTRY.second).dimensionality)


def accumulated_to_rate(
    da: xr.DataArray,
    period_s: float,
    target_units: str,
    *,
    file: str | os.PathLike[str] | None = None,
    variable: str | None = None,
) -> xr.DataArray:
    r"""Turn a time integral over ``period_s`` into the mean rate over that period.

    Parameters
    ----------
    da : xarray.DataArray
        Accumulation with a ``units`` attribute, e.g. ERA5 ``ssrd`` in ``"J m**-2"``.
    period_s : float
        Accumulation period [s], e.g. 3600 for ERA5 hourly data.
    target_units : str
        Units of the mean rate, e.g. ``"W m-2"``.
    file, variable : optional
        Used in error messages.

    Returns
    -------
    xarray.DataArray
        Mean rate over the accumulation period, in ``target_units`` (lazy if ``da`` is).

    Raises
    ------
    UnitsError
        When the units are missing or not an integral of ``target_units`` over time.
    ValueError
        When ``period_s`` is not positive.

    Notes
    -----
    .. math:: \bar{F} = \frac{E}{\Delta t}

    with :math:`E` the accumulation (e.g. J m-2) and :math:`\Delta t` the period [s].
    """
    if not period_s > 0:
        raise ValueError(f"accumulation period must be positive, got {period_s!r} s")
    name = variable if variable is not None else _name(da)
    source = da.attrs.get("units")
    src = parse_units(source, file=file, variable=name)
    dst = parse_units(target_units, file=file, variable=name)
    where = _where(file, name)
    scale, offset = _coefficients(
        src / _REGISTRY.second, dst, where, f"{source} per s", target_units
    )
    return _affine(da, scale / period_s, offset, target_units)


def rate_to_accumulated(
    da: xr.DataArray,
    period_s: float,
    target_units: str,
    *,
    file: str | os.PathLike[str] | None = None,
    variable: str | None = None,
) -> xr.DataArray:
    r"""Turn a mean rate over ``period_s`` into the time integral over that period.

    The inverse of :func:`accumulated_to_rate`, e.g. hourly mean irradiance [W m-2] into
    irradiation per hour [kWh m-2] (``period_s=3600``, ``target_units="kWh m-2"``).

    Parameters
    ----------
    da : xarray.DataArray
        Mean rate with a ``units`` attribute.
    period_s : float
        Length of the period [s].
    target_units : str
        Units of the integral.
    file, variable : optional
        Used in error messages.

    Returns
    -------
    xarray.DataArray
        Integral over the period, in ``target_units``.

    Raises
    ------
    UnitsError
        When the units are missing or ``target_units`` is not the rate's units times a time.
    ValueError
        When ``period_s`` is not positive.

    Notes
    -----
    .. math:: E = \bar{F} \, \Delta t
    """
    if not period_s > 0:
        raise ValueError(f"accumulation period must be positive, got {period_s!r} s")
    name = variable if variable is not None else _name(da)
    source = da.attrs.get("units")
    src = parse_units(source, file=file, variable=name)
    dst = parse_units(target_units, file=file, variable=name)
    where = _where(file, name)
    scale, offset = _coefficients(
        src * _REGISTRY.second, dst, where, f"{source} times s", target_units
    )
    return _affine(da, scale * period_s, offset, target_units)


def _coefficients(
    src: Any, dst: Any, where: str, source_label: object, target_label: object
) -> tuple[float, float]:
    """Return ``(scale, offset)`` of the affine map from unit ``src`` to unit ``dst``."""
    if src.dimensionality != dst.dimensionality:
        raise UnitsError(
            f"{where}: units {source_label!r} cannot be converted to {target_label!r} "
            "(they measure different quantities)"
        )
    if src == dst:
        return 1.0, 0.0
    return _affine_cached(src, dst)


@functools.lru_cache(maxsize=512)
def _parse_cached(text: str) -> Any:
    """Parse ``text`` with the registry (cached: files repeat the same few unit strings)."""
    return _REGISTRY(text)


@functools.lru_cache(maxsize=512)
def _affine_cached(src: Any, dst: Any) -> tuple[float, float]:
    """Return the affine coefficients between two compatible pint units (cached)."""
    zero = float(_REGISTRY.Quantity(0.0, src).to(dst).magnitude)
    one = float(_REGISTRY.Quantity(1.0, src).to(dst).magnitude)
    return one - zero, zero


def _parse(text: str, where: str) -> Any:
    """Parse ``text`` with the registry, turning any parser failure into UnitsError."""
    try:
        return _parse_cached(text)
    except Exception as exc:  # pint raises many unrelated types (tokenize, syntax, lookup)
        raise UnitsError(f"{where}: unknown units {text!r} ({exc})") from exc


def _affine(da: xr.DataArray, scale: float, offset: float, target_units: str) -> xr.DataArray:
    """Return ``scale * da + offset`` with ``units`` set and encoding dropped."""
    attrs = dict(da.attrs)
    out = da if (scale == 1.0 and offset == 0.0) else da * scale + offset
    out = out.copy(deep=False)
    attrs["units"] = target_units
    out.attrs = attrs
    out.encoding = {}
    return out


def _name(da: xr.DataArray) -> str | None:
    """Return the DataArray's name as a string, if it has one."""
    return None if da.name is None else str(da.name)
