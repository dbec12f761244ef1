"""Tests of climate_data.units: parsing CF/ECMWF unit strings and lazy affine conversions.

Reference values are exact definitions: 0 degC = 273.15 K (SI Brochure, 9th ed., 2019, §2.3.1),
1 hPa = 100 Pa, 1 W = 1 J s-1, 1 kWh = 3.6e6 J.
"""

from __future__ import annotations

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

from climate_data.errors import UnitsError
from climate_data.units import (
    accumulated_to_rate,
    conversion,
    convert,
    is_accumulation_of,
    parse_quantity,
    parse_units,
    rate_to_accumulated,
)

FILE = "/data/era5_2020.nc"

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=0.0, max_value=1e7, allow_nan=False, allow_infinity=False)


def _da(values: object, units: str | None, name: str = "x") -> xr.DataArray:
    attrs = {} if units is None else {"units": units}
    return xr.DataArray(np.asarray(values, dtype=np.float64), dims="time", name=name, attrs=attrs)


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        ("m s**-1", "m s-1"),  # ECMWF notation
        ("m s-1", "m/s"),  # UDUNITS notation
        ("J m**-2", "J m-2"),
        ("W m-2", "J m-2 s-1"),
        ("K", "kelvin"),
        ("Pa", "pascal"),
        ("(0 - 1)", "1"),  # ECMWF's fraction, e.g. total cloud cover
        ("degrees_north", "degrees_north"),
    ],
)
def test_parse_units_reads_cf_and_ecmwf_spellings(text: str, same_as: str) -> None:
    parse_units(text)
    scale, offset = conversion(text, same_as)
    assert scale == pytest.approx(1.0, rel=1e-12)
    assert offset == 0.0


def test_fraction_is_dimensionless() -> None:
    assert parse_units("(0 - 1)").dimensionless
    assert conversion("(0 - 1)", "1") == (1.0, 0.0)


@pytest.mark.parametrize(
    ("units", "fragment"),
    [
        (None, "no 'units' attribute"),
        ("", "empty 'units'"),
        ("   ", "empty 'units'"),
        ("furlongs per fortnight per bogon", "unknown units"),
        ("50 m", "numeric factor"),
        (3.0, "not a string"),
    ],
)
def test_parse_units_errors_name_file_and_variable(units: object, fragment: str) -> None:
    with pytest.raises(UnitsError, match=fragment) as err:
        parse_units(units, file=FILE, variable="u10")
    assert FILE in str(err.value)
    assert "'u10'" in str(err.value)


@pytest.mark.parametrize(
    ("source", "target", "scale", "offset"),
    [
        ("degC", "K", 1.0, 273.15),  # definition of the Celsius scale
        ("K", "degC", 1.0, -273.15),
        ("hPa", "Pa", 100.0, 0.0),
        ("km", "m", 1000.0, 0.0),
        ("m s**-1", "m s-1", 1.0, 0.0),
        ("J m**-2", "kWh m-2", 1.0 / 3.6e6, 0.0),
    ],
)
def test_conversion_coefficients(source: str, target: str, scale: float, offset: float) -> None:
    got_scale, got_offset = conversion(source, target)
    assert got_scale == pytest.approx(scale, rel=1e-12)
    assert got_offset == pytest.approx(offset, abs=1e-9)


def test_incompatible_units_raise_with_file_and_variable() -> None:
    with pytest.raises(UnitsError, match="cannot be converted") as err:
        convert(_da([1.0], "hPa"), "K", file=FILE, variable="sp")
    assert FILE in str(err.value) and "'sp'" in str(err.value)


def test_convert_missing_units_names_variable_from_dataarray() -> None:
    with pytest.raises(UnitsError, match="no 'units' attribute") as err:
        convert(_da([1.0], None, name="t2m"), "K", file=FILE)
    assert "'t2m'" in str(err.value) and FILE in str(err.value)


def test_convert_known_values_and_attributes() -> None:
    t = _da([-40.0, 0.0, 25.0], "degC", name="t2m")
    t.attrs["long_name"] = "2 m temperature"
    t.encoding = {"scale_factor": 0.01, "dtype": "int16"}
    k = convert(t, "K")
    # 0 degC = 273.15 K exactly; -40 degC = 233.15 K
    np.testing.assert_allclose(k.values, [233.15, 273.15, 298.15], rtol=0, atol=1e-12)
    assert k.attrs == {"units": "K", "long_name": "2 m temperature"}
    assert k.encoding == {}  # the source packing must not follow converted values
    assert t.attrs["units"] == "degC"  # input untouched


def test_convert_keeps_dask_lazy_and_float32() -> None:
    values = np.array([1013.25, 850.0], dtype=np.float32)
    data = dsa.from_array(values, chunks=1)  # type: ignore[no-untyped-call]
    p = xr.DataArray(data, dims="time", attrs={"units": "hPa"})
    out = convert(p, "Pa")
    assert isinstance(out.data, dsa.Array)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.values, [101325.0, 85000.0], rtol=1e-6)


def test_accumulation_to_mean_flux() -> None:
    # ERA5: 1.8e6 J m-2 accumulated over one hour is a mean flux of 500 W m-2
    ssrd = _da([0.0, 1.8e6, 3.6e6], "J m**-2", name="ssrd")
    assert is_accumulation_of("J m**-2", "W m-2")
    assert not is_accumulation_of("W m-2", "W m-2")
    ghi = accumulated_to_rate(ssrd, 3600.0, "W m-2", file=FILE)
    np.testing.assert_allclose(ghi.values, [0.0, 500.0, 1000.0], rtol=1e-12)
    assert ghi.attrs["units"] == "W m-2"
    # 1000 W m-2 for one hour is 1 kWh m-2
    kwh = rate_to_accumulated(ghi, 3600.0, "kWh m-2")
    np.testing.assert_allclose(kwh.values, [0.0, 0.5, 1.0], rtol=1e-12)


def test_accumulation_with_wrong_units_raises() -> None:
    with pytest.raises(UnitsError, match="cannot be converted") as err:
        accumulated_to_rate(_da([1.0], "W m-2", name="ssrd"), 3600.0, "W m-2", file=FILE)
    assert "'ssrd'" in str(err.value) and FILE in str(err.value)
    with pytest.raises(ValueError, match="positive"):
        accumulated_to_rate(_da([1.0], "J m-2"), 0.0, "W m-2")


def test_parse_quantity() -> None:
    assert parse_quantity("50 m", "m") == 50.0
    assert parse_quantity("0.1 km", "m") == pytest.approx(100.0, rel=1e-12)
    with pytest.raises(UnitsError, match="no units") as err:
        parse_quantity("50", "m", file=FILE, variable="ws50m")
    assert "'ws50m'" in str(err.value)
    with pytest.raises(UnitsError, match="cannot be expressed"):
        parse_quantity("50 s", "m", file=FILE, variable="ws50m")
    with pytest.raises(UnitsError, match="not a quantity"):
        parse_quantity(50.0, "m", file=FILE, variable="ws50m")


@given(finite)
def test_celsius_kelvin_round_trip(x: float) -> None:
    k = convert(_da([x], "degC"), "K")
    back = convert(k, "degC")
    assert k.values[0] == pytest.approx(x + 273.15, rel=1e-12, abs=1e-9)
    assert back.values[0] == pytest.approx(x, rel=1e-12, abs=1e-9)


@given(finite)
def test_hpa_pa_round_trip(x: float) -> None:
    pa = convert(_da([x], "hPa"), "Pa")
    back = convert(pa, "hPa")
    assert pa.values[0] == pytest.approx(100.0 * x, rel=1e-12, abs=1e-9)
    assert back.values[0] == pytest.approx(x, rel=1e-12, abs=1e-9)


@given(positive, st.sampled_from([900.0, 3600.0, 10800.0]))
def test_accumulation_round_trip(energy: float, period_s: float) -> None:
    acc = _da([energy], "J m**-2")
    flux = accumulated_to_rate(acc, period_s, "W m-2")
    back = rate_to_accumulated(flux, period_s, "J m-2")
    assert flux.values[0] == pytest.approx(energy / period_s, rel=1e-12, abs=1e-12)
    assert back.values[0] == pytest.approx(energy, rel=1e-12, abs=1e-9)


@given(
    st.sampled_from(["K", "degC", "degF"]),
    st.sampled_from(["K", "degC", "degF"]),
    finite,
)
def test_conversion_is_affine_and_invertible(a: str, b: str, x: float) -> None:
    s1, o1 = conversion(a, b)
    s2, o2 = conversion(b, a)
    y = s1 * x + o1
    assert s2 * y + o2 == pytest.approx(x, rel=1e-9, abs=1e-6)
