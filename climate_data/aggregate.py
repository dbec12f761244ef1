"""Period aggregation with explicit missing data: coverage, flagged means and sums.

Every aggregate comes with the fraction of the period's hours that had a valid value, and a
flag where that fraction is below a threshold; flagged values are NaN, never filled
(STYLE.md §5). Works lazily on dask-backed DataArrays (resample + plain arithmetic).

Conventions
-----------
Periods are labelled by their START: ``"YS"`` gives ``2019-01-01`` for the calendar year
2019, ``"MS"`` gives the first of each month (as ``xarray.DataArray.resample`` labels them).

Which period an hour belongs to depends on what its timestamp means (DESIGN.md):

* instantaneous variables (wind speed, temperature, pressure) are valid AT ``time``; each
  value belongs to the period containing ``time`` (``hour_ending=False``, the default);
* hourly fluxes (irradiance, sunshine, PV energy) are means or totals over the hour ENDING at
  ``time``; each value is labelled by the middle of its hour, ``time - 30 min``
  (``hour_ending=True``). So the hour ending at 2020-01-01T00:00 belongs to 2019-12-31 and
  year 2019 holds the 8760 hours ending 2019-01-01T01:00 ... 2020-01-01T00:00.

Expected hours come from the calendar, not from the timestamps present: a year has 8760 or
8784 hours, a month 672 to 744. Missing time steps, NaN values and a partial year at either
end of the record all lower the coverage.
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike, NDArray

__all__ = ["coverage", "period_mean", "period_sum", "trailing_mean"]

_HALF_HOUR = np.timedelta64(30, "m")


def _labelled(da: xr.DataArray, dim: str, hour_ending: bool) -> xr.DataArray:
    """Return ``da`` with the time coordinate moved to the middle of each hour if needed."""
    if dim not in da.dims:
        raise ValueError(f"the data have no dimension {dim!r} (dims: {da.dims})")
    if not np.issubdtype(da[dim].dtype, np.datetime64):
        raise TypeError(f"dimension {dim!r} must hold datetime64 values, got {da[dim].dtype}")
    if hour_ending:
        return da.assign_coords({dim: da[dim] - _HALF_HOUR})
    return da


def _check_freq(freq: str) -> None:
    if freq not in ("YS", "MS"):
        raise ValueError(
            f"freq must be 'YS' (calendar year) or 'MS' (calendar month), got {freq!r}"
        )


def _expected_hours(starts: xr.DataArray, freq: str, step_hours: float) -> xr.DataArray:
    """Return the number of time steps in each calendar period, from the calendar alone."""
    idx = pd.DatetimeIndex(starts.values)
    bounds = pd.date_range(start=idx[0], periods=idx.size + 1, freq=freq)
    if not (bounds[:-1] == idx).all():
        raise ValueError("period labels are not consecutive calendar periods")
    hours = np.diff(bounds.to_numpy()) / np.timedelta64(1, "h")
    return xr.DataArray(hours / step_hours, dims=starts.dims, coords=starts.coords)


def _coverage_of_labelled(x: xr.DataArray, freq: str, dim: str, step_hours: float) -> xr.DataArray:
    valid = x.notnull().resample({dim: freq}).sum()
    # A period without any time step has no group values (NaN): it has zero valid hours.
    valid = valid.fillna(0)
    expected = _expected_hours(valid[dim], freq, step_hours)
    cov = valid / expected
    cov.attrs = {
        "units": "1",
        "long_name": f"fraction of the period's expected {step_hours:g}-hourly steps with a "
        "valid value",
    }
    return cov


def coverage(
    da: xr.DataArray,
    freq: str,
    *,
    hour_ending: bool = False,
    dim: str = "time",
    step_hours: float = 1.0,
) -> xr.DataArray:
    r"""Fraction of each calendar period's expected hours that have a valid value.

    Parameters
    ----------
    da : DataArray
        Hourly data with a datetime dimension ``dim`` (any other dims are kept).
    freq : {"YS", "MS"}
        Calendar years or calendar months.
    hour_ending : bool, default False
        True for fluxes over the hour ending at ``time`` (labelled by ``time - 30 min``);
        False for instantaneous values (see the module docstring).
    dim : str, default "time"
        The time dimension.
    step_hours : float, default 1
        Length of one time step [h].

    Returns
    -------
    DataArray
        Coverage in [0, 1] per period (labelled by period start) and cell [-]. Every
        calendar period from the one holding the first time step to the one holding the last
        is present, including periods without any time step (coverage 0).

    Notes
    -----
    .. math:: \mathrm{coverage} = \frac{n_{valid}}{(t_{end} - t_{start}) / \Delta t}

    with :math:`n_{valid}` the non-NaN values whose (labelled) time lies in
    :math:`[t_{start}, t_{end})`. Values are at most 1 for a time axis without duplicates
    (the readers reject duplicates).
    """
    _check_freq(freq)
    x = _labelled(da, dim, hour_ending)
    return _coverage_of_labelled(x, freq, dim, step_hours)


def _check_threshold(min_coverage: float) -> None:
    if not 0.0 <= min_coverage <= 1.0:
        raise ValueError(f"min_coverage must lie in [0, 1], got {min_coverage}")


def period_mean(
    da: xr.DataArray,
    freq: str,
    min_coverage: float,
    *,
    hour_ending: bool = False,
    dim: str = "time",
    step_hours: float = 1.0,
) -> xr.Dataset:
    """Mean per calendar period with its coverage and a low-coverage flag.

    Parameters
    ----------
    da : DataArray
        Hourly data with a datetime dimension ``dim``.
    freq : {"YS", "MS"}
        Calendar years or calendar months.
    min_coverage : float
        Smallest coverage [0-1] for a period's mean to be reported.
    hour_ending, dim, step_hours
        As in :func:`coverage`.

    Returns
    -------
    Dataset
        ``mean`` (units of ``da``; NaN where flagged), ``coverage`` [-] and ``flag`` (bool,
        True where ``coverage < min_coverage``), per period (labelled by its start) and cell.

    Notes
    -----
    The mean is over the valid values of the period only; it is never computed from filled
    values. A flagged period's mean is NaN, whatever its valid values say.
    """
    _check_freq(freq)
    _check_threshold(min_coverage)
    x = _labelled(da, dim, hour_ending)
    cov = _coverage_of_labelled(x, freq, dim, step_hours)
    mean = x.resample({dim: freq}).mean(skipna=True)
    flag = cov < min_coverage
    flag.attrs = {"long_name": f"coverage below {min_coverage:g}: value withheld"}
    mean = mean.where(~flag)
    mean.attrs = {**da.attrs, "cell_methods": f"{dim}: mean"}
    return xr.Dataset({"mean": mean, "coverage": cov, "flag": flag})


def period_sum(
    da: xr.DataArray,
    freq: str,
    min_coverage: float,
    *,
    hour_ending: bool = False,
    scale_to_period: bool = False,
    dim: str = "time",
    step_hours: float = 1.0,
) -> xr.Dataset:
    """Sum per calendar period with its coverage and a low-coverage flag.

    Parameters
    ----------
    da : DataArray
        Hourly data with a datetime dimension ``dim``, e.g. sunshine hours per hour [h] or
        PV energy per hour [kWh kWp-1].
    freq : {"YS", "MS"}
        Calendar years or calendar months.
    min_coverage : float
        Smallest coverage [0-1] for a period's sum to be reported.
    hour_ending : bool, default False
        As in :func:`coverage`; True for hourly fluxes.
    scale_to_period : bool, default False
        False: the sum of the valid values only (a period at 97 % coverage sums 97 % of its
        hours). True: that sum divided by the coverage, i.e. the period's mean times its
        expected number of steps: an explicit estimate for the missing hours, which the
        caller asks for and the ``cell_methods`` attribute records.
    dim, step_hours
        As in :func:`coverage`.

    Returns
    -------
    Dataset
        ``sum`` (units attribute of ``da`` kept: a sum of hourly values; convert W m-2 to
        W h m-2 by multiplying by ``step_hours``), ``coverage`` [-] and ``flag`` (bool),
        per period and cell. ``sum`` is NaN where flagged and in periods without any valid
        value (never 0; see pydata/xarray#2230).
    """
    _check_freq(freq)
    _check_threshold(min_coverage)
    x = _labelled(da, dim, hour_ending)
    cov = _coverage_of_labelled(x, freq, dim, step_hours)
    total = x.resample({dim: freq}).sum(skipna=True, min_count=1)
    method = f"{dim}: sum"
    if scale_to_period:
        total = total / cov.where(cov > 0)
        method += " (scaled to the whole period by 1/coverage)"
    flag = cov < min_coverage
    flag.attrs = {"long_name": f"coverage below {min_coverage:g}: value withheld"}
    total = total.where(~flag)
    total.attrs = {**da.attrs, "cell_methods": method}
    return xr.Dataset({"sum": total, "coverage": cov, "flag": flag})


def _trailing_last_axis(values: NDArray[Any], mask: NDArray[Any], n: int) -> NDArray[np.float64]:
    """Mean of the latest ``n`` True positions of ``mask`` along the last axis."""
    m = np.asarray(mask, dtype=bool)
    v = np.asarray(values, dtype=float)
    after = np.flip(np.cumsum(np.flip(m, axis=-1), axis=-1), axis=-1)  # complete at or after
    pick = m & (after <= n)
    total = np.where(pick, v, 0.0).sum(axis=-1)
    enough = m.sum(axis=-1) >= n
    return np.where(enough, total / n, np.nan)


@overload
def trailing_mean(
    annual: xr.DataArray, complete_mask: xr.DataArray | ArrayLike, n: int = 3, dim: str = "time"
) -> xr.DataArray: ...


@overload
def trailing_mean(
    annual: NDArray[Any] | list[float], complete_mask: ArrayLike, n: int = 3, dim: str = "time"
) -> float | NDArray[np.float64]: ...


def trailing_mean(
    annual: xr.DataArray | NDArray[Any] | list[float],
    complete_mask: xr.DataArray | ArrayLike,
    n: int = 3,
    dim: str = "time",
) -> xr.DataArray | float | NDArray[np.float64]:
    r"""Mean of the latest ``n`` complete years.

    Parameters
    ----------
    annual : ndarray or DataArray
        Annual values in ascending time order: along the last axis (ndarray) or along
        ``dim`` (DataArray, any other dims kept, e.g. per cell).
    complete_mask : array_like or DataArray of bool
        True for years that passed the coverage rule; same shape as ``annual``.
    n : int, default 3
        Number of latest complete years (3: the Changji climate-loan rule).
    dim : str, default "time"
        Year dimension of a DataArray.

    Returns
    -------
    float, ndarray or DataArray
        The mean [units of ``annual``]; NaN where fewer than ``n`` complete years exist. A
        1-D ndarray gives a float. Incomplete years are skipped, so the chosen years need not
        be consecutive; a complete year whose value is NaN makes the result NaN (never
        filled).

    Notes
    -----
    .. math:: \bar x_{trail} = \frac{1}{n} \sum_{i \in \mathcal{L}_n} x_i

    where :math:`\mathcal{L}_n` are the ``n`` latest indices with ``complete_mask`` True.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if isinstance(annual, xr.DataArray):
        mask = (
            complete_mask
            if isinstance(complete_mask, xr.DataArray)
            else xr.DataArray(np.asarray(complete_mask, dtype=bool), dims=annual.dims)
        )
        out: xr.DataArray = xr.apply_ufunc(
            _trailing_last_axis,
            annual,
            mask.astype(bool),
            kwargs={"n": n},
            input_core_dims=[[dim], [dim]],
            dask="parallelized",
            output_dtypes=[np.float64],
            dask_gufunc_kwargs={"allow_rechunk": True},
        )
        out.attrs = {**annual.attrs, "long_name": f"mean of the latest {n} complete years"}
        return out
    values = np.asarray(annual, dtype=float)
    m = np.asarray(complete_mask, dtype=bool)
    if values.shape != m.shape:
        raise ValueError(f"annual {values.shape} and complete_mask {m.shape} differ in shape")
    res = _trailing_last_axis(values, m, n)
    if res.ndim == 0:
        return float(res)
    return res
