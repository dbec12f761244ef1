"""Climate-data subcommands: ``sample``, ``cube build|info``, ``site`` and ``demo``."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.cli_output import add_format_option, print_json, write_csv
from service.errors import UsageError

#: Environment variable naming the default cube for every ``--cube`` option.
CUBE_ENV = "CLIMATE_LOAN_CUBE"
#: Changji, Xinjiang: the wind farm of the original climate loan (approximate town centre).
CHANGJI_SITE = (44.0, 87.3)

if TYPE_CHECKING:
    from climate_data.era5 import BBox

    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]


def register(sub: SubParsers) -> None:
    """Add the climate-data subcommands (and ``era5``, :mod:`service.cli_era5`)."""
    from service import cli_era5

    p = sub.add_parser("sample", help="write the synthetic Changji sample (ERA5 layout)")
    p.add_argument("--out", required=True, type=Path, help="folder for the NetCDF files")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: fixed)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("cube", help="build or describe an indicator cube")
    cube_sub = p.add_subparsers(dest="cube_command", required=True, metavar="ACTION")
    b = cube_sub.add_parser("build", help="condense hourly weather into an indicator cube")
    b.add_argument(
        "inputs",
        nargs="+",
        help="NetCDF files, ZIPs or glob patterns, or one Zarr store in the ARCO-ERA5 layout",
    )
    add_selection_options(b)
    b.add_argument(
        "--out",
        required=True,
        type=Path,
        help="cube to write: CUBE.nc (version 1), CUBE.zarr or CUBE.zarr.zip (version-2 store)",
    )
    b.add_argument("--reference-height", type=float, default=100.0, help="wind height [m]")
    b.add_argument("--scheduler", default=None, help="dask.distributed scheduler address")
    b.add_argument(
        "--tile-cells", type=int, default=None, help="version 2: cells per tile side (4)"
    )
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.set_defaults(func=cmd_cube_build)
    m = cube_sub.add_parser("migrate", help="convert a version-1 cube into a version-2 store")
    m.add_argument("cube", type=Path, help="version-1 cube (NetCDF)")
    m.add_argument("--out", required=True, type=Path, help="CUBE.zarr or CUBE.zarr.zip")
    m.add_argument("--tile-cells", type=int, default=None, help="cells per tile side (4)")
    m.set_defaults(func=cmd_cube_migrate)
    u = cube_sub.add_parser(
        "update", help="append new months of hourly weather to a version-2 store"
    )
    u.add_argument("cube", type=Path, help="CUBE.zarr or CUBE.zarr.zip built by `cube build`")
    u.add_argument(
        "inputs",
        nargs="+",
        help="NetCDF files, ZIPs or glob patterns (new hours), or one ARCO-ERA5 Zarr store",
    )
    u.add_argument("--years", default=None, help="only these years of the input: A-B")
    u.add_argument("--scheduler", default=None, help="dask.distributed scheduler address")
    u.add_argument("--no-progress", action="store_true", help="no progress bar")
    u.set_defaults(func=cmd_cube_update)
    i = cube_sub.add_parser("info", help="describe a cube")
    i.add_argument("cube", type=Path)
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(func=cmd_cube_info)

    p = sub.add_parser("site", help="climate summary of the cell nearest to a site")
    p.add_argument("lat", type=float, help="latitude [degrees north]")
    p.add_argument("lon", type=float, help="longitude [degrees east]")
    add_cube_option(p)
    p.add_argument("--hub-height-m", type=float, default=None, help="height of wind figures [m]")
    add_format_option(p)  # json: the site-climate object of the API; csv: one row a year
    p.set_defaults(func=cmd_site)

    p = sub.add_parser(
        "demo", help="sample data, cube, a Changji site summary, an officer key, then serve"
    )
    p.add_argument("--dir", type=Path, default=Path("demo-data"), help="working folder")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on")
    p.add_argument("--port", type=int, default=8000, help="port to serve on")
    p.add_argument("--no-serve", action="store_true", help="stop after the site summary and key")
    p.set_defaults(func=cmd_demo)

    cli_era5.register(sub)


def add_selection_options(parser: argparse.ArgumentParser) -> None:
    """``--bbox W,S,E,N`` and ``--years A-B``: the part of the input to read."""
    parser.add_argument(
        "--bbox",
        default=None,
        help="only cells in this box: W,S,E,N [degrees], e.g. 73,18,135,54 "
        "(write --bbox=-10,... when W is negative)",
    )
    parser.add_argument("--years", default=None, help="only these calendar years: A-B")


def parse_selection(
    bbox: str | None, years: str | None
) -> tuple[BBox | None, tuple[int, int] | None]:
    """The ``--bbox`` and ``--years`` values, checked; a one-line usage error otherwise."""
    from climate_data.era5 import parse_bbox, parse_years

    try:
        box = None if bbox is None else parse_bbox(bbox)
        span = None if years is None else parse_years(years)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    return box, span


def add_cube_option(parser: argparse.ArgumentParser) -> None:
    """``--cube``, defaulting to ``$CLIMATE_LOAN_CUBE``."""
    parser.add_argument(
        "--cube",
        type=Path,
        default=None,
        help=f"indicator cube file (default: ${CUBE_ENV})",
    )


def resolve_cube_path(value: Path | None) -> Path:
    """The ``--cube`` value or ``$CLIMATE_LOAN_CUBE``; a clear error when neither is set."""
    if value is not None:
        return value
    env = os.environ.get(CUBE_ENV)
    if not env:
        raise UsageError(f"no cube given: pass --cube CUBE.nc or set {CUBE_ENV}")
    return Path(env)


def cmd_sample(args: argparse.Namespace) -> int:
    """Write the synthetic sample."""
    # lazy: CLI start-up (the sample writer loads pvlib and h5py, about 0.4 s)
    from climate_data.sample import SampleSpec, write_sample

    spec = SampleSpec() if args.seed is None else SampleSpec(seed=args.seed)
    paths = write_sample(args.out, spec)
    for p in paths:
        print(p)
    return 0


def cmd_cube_build(args: argparse.Namespace) -> int:
    """Build a cube."""
    # lazy: CLI start-up (climate_data.cube/store load dask, pint and pvlib, about 2 s)
    from climate_data.cube import build_cube

    bbox, years = parse_selection(args.bbox, args.years)
    t0 = time.perf_counter()
    # SIGTERM ends the build as Ctrl-C does (service.cli.main): the partial file is removed
    out = build_cube(
        args.inputs,
        args.out,
        reference_height_m=args.reference_height,
        scheduler=args.scheduler,
        progress=False if args.no_progress else None,
        tile_cells=args.tile_cells,
        bbox=bbox,
        years=years,
    )
    print(f"wrote {out} in {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_cube_migrate(args: argparse.Namespace) -> int:
    """Convert a version-1 cube into a version-2 store."""
    # lazy: CLI start-up (climate_data.cube/store load dask, pint and pvlib, about 2 s)
    from climate_data.store import DEFAULT_TILE_CELLS, is_store_path, migrate_cube

    if not is_store_path(args.out):
        raise UsageError(f"--out {args.out}: name the store CUBE.zarr or CUBE.zarr.zip")
    t0 = time.perf_counter()
    tile = DEFAULT_TILE_CELLS if args.tile_cells is None else args.tile_cells
    out = migrate_cube(args.cube, args.out, tile_cells=tile)
    print(f"wrote {out} in {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_cube_update(args: argparse.Namespace) -> int:
    """Append new months to a version-2 store."""
    # lazy: CLI start-up (climate_data.cube/store load dask, pint and pvlib, about 2 s)
    from climate_data.cube import Cube
    from climate_data.store import is_store_path, update_store

    if not is_store_path(args.cube):
        raise UsageError(f"{args.cube}: only a version-2 store (CUBE.zarr, CUBE.zarr.zip) updates")
    _, years = parse_selection(None, args.years)
    t0 = time.perf_counter()
    out = update_store(
        args.cube,
        args.inputs,
        scheduler=args.scheduler,
        progress=False if args.no_progress else None,
        years=years,
    )
    ds = Cube.open(out).dataset
    print(f"updated {out} to {ds.end} (dataset {ds.id}) in {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_cube_info(args: argparse.Namespace) -> int:
    """Describe a cube."""
    # lazy: CLI start-up (climate_data.cube loads dask, pint and pvlib, about 2 s)
    from climate_data.cube import Cube

    info = Cube.open(args.cube).info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    ds = info["dataset"]
    print(f"cube        {info['path']}")
    print(f"dataset     {ds['id']}  ({'SYNTHETIC' if ds['synthetic'] else 'real data'})")
    print(f"sha256      {ds['sha256']}")
    print(f"period      {ds['start']} to {ds['end']}  years {info['years'][0]}-{info['years'][-1]}")
    g = info["grid"]
    print(
        f"grid        lat {g['lat'][0]}..{g['lat'][1]} ({g['lat'][2]}), "
        f"lon {g['lon'][0]}..{g['lon'][1]} ({g['lon'][2]})"
    )
    print(f"wind height {info['reference_height_m']:g} m, shear {info['shear_source']}")
    print(f"solar       {'yes' if info['has_solar'] else 'no radiation in source'}")
    print(f"tolerance   {info['tolerance_km']} km from the nearest cell")
    print(f"built       {info['created_at']} by version {info['code_version']}")
    return 0


def cmd_site(args: argparse.Namespace) -> int:
    """Print a site's climate summary."""
    # lazy: CLI start-up (climate_data.cube loads dask, pint and pvlib, about 2 s)
    from climate_data.cube import Cube

    cube = Cube.open(resolve_cube_path(args.cube))
    summary = cube.site(args.lat, args.lon).summary(args.hub_height_m)
    if args.format == "json":
        print_json(summary)
    elif args.format == "csv":
        write_site_csv(summary)
    else:
        print_site(summary)
    return 0


def write_site_csv(s: dict[str, Any]) -> None:
    """One row per calendar year: wind mean at the summary's height, coverage, solar sums."""
    solar = s["solar"] or {}
    sunshine = solar.get("annual_sunshine_hours", {})
    ghi = solar.get("annual_ghi_kwh_m2", {})
    height = s["wind"]["height_m"]
    write_csv(
        [
            "year",
            "lat",
            "lon",
            "cell_lat",
            "cell_lon",
            f"wind_mean_{height:g}m_ms",
            "coverage",
            "sunshine_hours",
            "ghi_kwh_m2",
            "synthetic",
        ],
        (
            [
                year,
                s["site"]["lat"],
                s["site"]["lon"],
                s["cell"]["lat"],
                s["cell"]["lon"],
                wind,
                s["coverage"][year],
                sunshine.get(year),
                ghi.get(year),
                s["dataset"]["synthetic"],
            ]
            for year, wind in s["wind"]["annual_mean_ms"].items()
        ),
    )


def _pct(fraction: float | None) -> str:
    return "n/a" if fraction is None else f"{100 * fraction:.1f} %"


def print_site(s: dict[str, Any]) -> None:
    """Readable site summary."""
    w = s["wind"]
    cell = s["cell"]
    print(
        f"site ({s['site']['lat']}, {s['site']['lon']}) -> cell ({cell['lat']}, {cell['lon']}), "
        f"{cell['distance_km']} km; dataset {s['dataset']['id']}"
        + ("  [SYNTHETIC]" if s["dataset"]["synthetic"] else "")
    )
    print(f"wind at {w['height_m']:g} m")
    for year, v in w["annual_mean_ms"].items():
        cov = s["coverage"][year]
        shown = f"{v:6.2f} m/s" if v is not None else "   incomplete"
        print(f"  {year}  {shown}   coverage {cov:.3f}")
    t3 = w["trailing_3y_mean_ms"]
    years = ", ".join(str(y) for y in w["trailing_3y_years"])
    print(f"  trailing 3-year mean ({years}): " + (f"{t3:.2f} m/s" if t3 is not None else "n/a"))
    print(
        f"  long-term mean {w['long_term_mean_ms']} m/s, IAV {_pct(w['iav'])}, "
        f"monthly CV {w['monthly_cv']}"
    )
    trend = w.get("trend_pct_per_decade")
    print(
        "  trend (Sen's slope) "
        + (
            f"{trend:+.2f} % per decade, Mann-Kendall p = {w['trend_p_value']:.3f}"
            if trend is not None
            else "n/a (fewer than 4 complete years)"
        )
    )
    print(
        f"  Weibull k {w['weibull_k']}, c {w['weibull_c_ms']} m/s; "
        f"shear exponent {w['shear_exponent']}"
    )
    if s["solar"]:
        print(
            f"sunshine {s['solar']['mean_sunshine_hours']} h/yr, "
            f"GHI {s['solar']['mean_ghi_kwh_m2']} kWh/m2/yr"
        )


def cmd_demo(args: argparse.Namespace) -> int:
    """Sample data -> cube -> Changji site summary -> demo officer key -> serve."""
    # lazy: CLI start-up (climate_data.cube/store load dask, pint and pvlib, about 2 s)
    from climate_data.cube import Cube, build_cube
    from climate_data.sample import write_sample
    from service.cli_server import check_port_free, demo_key, serve

    if not args.no_serve:
        check_port_free(args.host, args.port)  # before any work: one line if it is taken
    work: Path = args.dir.resolve()
    sample_dir = work / "sample"
    cube_path = work / "changji_cube.nc"
    if not cube_path.exists():
        started = time.monotonic()
        print(f"[demo] writing the synthetic sample to {sample_dir} ...", flush=True)
        paths = write_sample(sample_dir)
        print(f"[demo] building the indicator cube {cube_path} ...", flush=True)
        build_cube(paths, cube_path)
        print(f"[demo] sample and cube ready in {time.monotonic() - started:.0f} s", flush=True)
    cube = Cube.open(cube_path)
    print_site(cube.site(*CHANGJI_SITE).summary(100.0))
    env = {
        CUBE_ENV: str(cube_path),
        "CLIMATE_LOAN_INSTANCE_PATH": str(work / "instance"),
    }
    key, reused = demo_key(work / "instance" / "demo-officer.key", env)
    print_next_steps(env, args.host, args.port, serving=not args.no_serve)
    print(
        "demo officer API key"
        + (" (the one made by an earlier demo run)" if reused else "")
        + " - log in with it, or send it as the X-API-Key header:"
    )
    print(key, flush=True)
    if args.no_serve:
        return 0
    # the portfolio page's runs are computed outside the web workers: start one worker beside
    # the server (it polls the audit database when Redis is not there) and stop it with it
    worker = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "portfolio", "worker", "--workers", "1"],
        env={**os.environ, **env},
    )
    print(f"[demo] portfolio worker started (pid {worker.pid})", flush=True)
    try:
        serve(args.host, args.port, workers=2, config_env=env)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
    return 0


def _shell_path(path: str) -> str:
    """``path`` relative to the working folder when it lies below it (shorter to type)."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def print_next_steps(env: dict[str, str], host: str, port: int, *, serving: bool) -> None:
    """Tell a new user how to go on from the demo: shell set-up, CLI, web page, stopping."""
    venv = Path(sys.prefix)
    lines = ["", "Next steps (in another terminal, from this folder):"]
    if venv != Path(sys.base_prefix):
        lines.append(f"  source {_shell_path(str(venv / 'bin' / 'activate'))}")
    lines += [
        f"  export {CUBE_ENV}={_shell_path(env[CUBE_ENV])}",
        f"  export CLIMATE_LOAN_INSTANCE_PATH={_shell_path(env['CLIMATE_LOAN_INSTANCE_PATH'])}",
        f"  climate-loan site {CHANGJI_SITE[0]} {CHANGJI_SITE[1]}",
        "  climate-loan assess --request examples/wind_annuity.json",
        "  climate-loan portfolio assess --book examples/portfolio_book.csv --out book.xlsx",
    ]
    url = f"http://{host}:{port}/"
    if serving:
        lines += [
            f"Web page: {url}  (API docs: {url}docs); log in with the key below.",
            "Stop the server with Ctrl-C; `make demo` again reuses the data and the key.",
        ]
    else:
        lines.append(f"Serve the API and web page with: climate-loan serve --port {port}")
    print("\n".join(lines))
