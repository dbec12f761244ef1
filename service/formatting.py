"""One way to show each figure, on every surface.

The web page, the history, the memo (HTML and PDF) and the ``climate-loan assess`` table all
format numbers here.

=====================  ==============================  ========================================
figure                 function                        shown as
=====================  ==============================  ========================================
any number             :func:`number`                  ``1,234,567.89`` (locale separators)
fraction as percent    :func:`percent`                 ``4.1 %`` (a space before the sign)
IAV, σ, monthly CV     :func:`iav`                     ``4.1 %`` (one decimal)
probability (PD)       :func:`probability`             ``0.85 %``; ``12 %`` from 10 % up
DSCR, LLCR             :func:`ratio`                   ``1.23×`` (two decimals, times sign)
energy                 :func:`energy`                  ``123,456 MWh``
amount of money        :func:`money`                   ``200,000,000 CNY``
a policy rule's value  :func:`metric_value`            by metric and unit, as above
=====================  ==============================  ========================================

A missing or non-finite value is an en dash (:data:`NA`) everywhere. The functions take the
Babel locale (``"en"``, ``"zh_CN"``); they do not depend on Flask, so the command line uses
them as they are (English). The web page binds the request's locale
(:func:`service.web.common.fmt_num` and friends are thin wrappers).
"""

from __future__ import annotations

import math
from typing import Any

from babel.numbers import format_decimal

from models.policy import METRICS

__all__ = [
    "NA",
    "RATIO_SIGN",
    "energy",
    "iav",
    "metric_value",
    "money",
    "number",
    "percent",
    "probability",
    "ratio",
    "to_float",
]

#: Shown for a missing value.
NA = "–"
#: Suffix of a coverage ratio (DSCR, LLCR): U+00D7 MULTIPLICATION SIGN.
RATIO_SIGN = "×"


def to_float(value: Any) -> float | None:
    """``value`` as a finite float, or None (None, NaN, infinity, bool, text)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _locale(locale: Any) -> str:
    text = str(locale or "en")
    return "zh_Hans_CN" if text.startswith("zh") else text


def number(value: Any, digits: int = 2, locale: Any = "en") -> str:
    """``value`` with ``digits`` decimals and the locale's grouping: ``1,234.57``."""
    v = to_float(value)
    if v is None:
        return NA
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    if round(v, digits) == 0:
        v = 0.0  # no "-0.00"
    return str(format_decimal(v, format=pattern, locale=_locale(locale)))


def percent(fraction: Any, digits: int = 1, locale: Any = "en") -> str:
    """A fraction as a percentage with a space before the sign: 0.041 -> ``4.1 %``."""
    v = to_float(fraction)
    if v is None:
        return NA
    return f"{number(v * 100.0, digits, locale)} %"


def iav(fraction: Any, locale: Any = "en") -> str:
    """Inter-annual variability (or another relative spread) as ``4.1 %``."""
    return percent(fraction, 1, locale)


def probability(p: Any, locale: Any = "en") -> str:
    """A probability of default: two decimals below 10 % (``0.85 %``), none above (``12 %``)."""
    v = to_float(p)
    if v is None:
        return NA
    return percent(v, 2 if v < 0.1 else 0, locale)


def ratio(value: Any, digits: int = 2, locale: Any = "en") -> str:
    """A coverage ratio (DSCR, LLCR) as ``1.23×``."""
    v = to_float(value)
    if v is None:
        return NA
    return f"{number(v, digits, locale)}{RATIO_SIGN}"


def energy(mwh: Any, locale: Any = "en") -> str:
    """Annual energy in whole MWh: ``123,456 MWh``."""
    v = to_float(mwh)
    if v is None:
        return NA
    return f"{number(v, 0, locale)} MWh"


def money(amount: Any, currency: str = "", locale: Any = "en") -> str:
    """A whole amount with its currency code: ``200,000,000 CNY``."""
    v = to_float(amount)
    if v is None:
        return NA
    return f"{number(v, 0, locale)} {currency}".strip()


def _metrics_shown_as(display: str) -> frozenset[str]:
    """Rule metrics of the catalogue (:data:`models.policy.METRICS`) with this display kind."""
    return frozenset(path for path, m in METRICS.items() if m.display == display)


#: Rule metrics shown like the IAV (relative spreads, one decimal: ``4.1 %``).
SPREAD_METRICS = _metrics_shown_as("spread")
#: Rule metrics that are probabilities of default.
PD_METRICS = _metrics_shown_as("probability")
#: Other rule metrics that are fractions (two decimals: ``31.25 %``).
FRACTION_METRICS = _metrics_shown_as("fraction")
#: Coverage ratios (DSCR, LLCR: ``1.23×``).
RATIO_METRICS = _metrics_shown_as("ratio")


def metric_value(metric: str, unit: str, value: Any, currency: str = "", locale: Any = "en") -> str:
    """A policy rule's value or threshold with its unit; ``–`` when missing.

    By metric, then by unit: ``climate.wind.iav`` -> ``4.1 %``, ``repayment.dscr_p90_min`` ->
    ``1.23×``, ``repayment.pd_annual`` -> ``0.85 %``, ``m s-1`` -> ``6.68 m/s``.
    """
    if to_float(value) is None:
        return NA
    if metric in SPREAD_METRICS:
        return iav(value, locale)
    if metric in PD_METRICS:
        return probability(value, locale)
    if metric in FRACTION_METRICS:
        return percent(value, 2, locale)
    if metric in RATIO_METRICS:
        return ratio(value, 2, locale)
    suffix = {
        "count": ("", 0),
        "m s-1": (" m/s", 2),
        "h": (" h", 0),
        "MWh": (" MWh", 0),
        "km": (" km", 1),
        "kWh m-2": (" kWh/m²", 0),
        "currency": (f" {currency}", 0),
    }.get(unit)
    if suffix is None:
        return number(value, 3, locale)
    text, digits = suffix
    return f"{number(value, digits, locale)}{text}".rstrip()
