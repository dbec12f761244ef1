"""Splitting CDS requests: every field once, every piece within the limit."""

from __future__ import annotations

import calendar
import re
from collections import Counter
from pathlib import Path

import pytest

from climate_data.cds import CDS_VARIABLES, MAX_FIELDS_PER_REQUEST, plan_requests
from climate_data.era5 import ARCO_VARIABLES, parse_bbox

ROOT = Path(__file__).resolve().parents[2]
CHINA = parse_bbox("73,18,135,54")


@pytest.mark.parametrize("max_fields", [MAX_FIELDS_PER_REQUEST, 20_000, 6_696, 744])
def test_pieces_cover_every_field_once_within_the_limit(max_fields: int) -> None:
    pieces = plan_requests(CHINA, (2019, 2021), max_fields=max_fields)
    covered: Counter[tuple[str, int, int]] = Counter()
    for p in pieces:
        assert p.fields <= max_fields
        # the count is the product of the request's lists, as the CDS form counts them
        r = p.request()
        product = (
            len(r["variable"]) * len(r["month"]) * len(r["day"]) * len(r["time"]) * len(r["year"])
        )
        assert p.fields == product
        assert list(p.months) == list(range(p.months[0], p.months[-1] + 1))  # consecutive
        assert r["area"] == [54.0, 73.0, 18.0, 135.0]  # N, W, S, E
        for v in p.variables:
            for m in p.months:
                covered[(v, p.year, m)] += 1
    expected = {(v, y, m) for v in CDS_VARIABLES for y in (2019, 2020, 2021) for m in range(1, 13)}
    assert set(covered) == expected
    assert max(covered.values()) == 1
    hours = sum(366 if calendar.isleap(y) else 365 for y in (2019, 2020, 2021)) * 24
    assert sum(p.valid_fields for p in pieces) == len(CDS_VARIABLES) * hours


def test_piece_sizes() -> None:
    # 9 variables x 31 days x 24 h = 6,696 per month: 8 months fit in 60,000
    pieces = plan_requests(CHINA, (2020, 2020))
    assert [p.months for p in pieces] == [tuple(range(1, 9)), tuple(range(9, 13))]
    assert [p.name for p in pieces] == ["era5_2020_01-08", "era5_2020_09-12"]
    one_var_month = plan_requests(CHINA, (2020, 2020), max_fields=744)
    assert len(one_var_month) == 9 * 12 and one_var_month[0].name == "era5_2020_01_vars1of9"
    with pytest.raises(ValueError, match="below one month of one variable"):
        plan_requests(CHINA, (2020, 2020), max_fields=700)
    with pytest.raises(ValueError, match="unknown ERA5 variable"):
        plan_requests(CHINA, (2020, 2020), variables=["total_precipitation"])


def test_variables_match_the_readme_and_the_zarr_reader() -> None:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("- **ERA5** (Copernicus Climate Data Store)")
    listed = re.findall(r"`([0-9a-z_]+)`", readme[start : readme.index("for your region", start)])
    assert tuple(listed) == CDS_VARIABLES
    assert set(ARCO_VARIABLES) == set(CDS_VARIABLES)
