"""The model document in docs/ builds offline with Sphinx, warnings as errors, and stands alone.

``make docs`` runs the same build into ``docs/_build/html``; here it goes into a temporary
folder so the test leaves nothing behind. A broken cross-reference, a missing citation, an
equation Sphinx cannot parse or a docstring numpydoc cannot read fails ``make test``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: Chapters the issue asks for; each must be built.
CHAPTERS = (
    "architecture",
    "conventions",
    "contract",
    "models/readers",
    "models/indicators",
    "models/cube",
    "models/wind_energy",
    "models/solar_energy",
    "models/uncertainty",
    "models/finance",
    "models/risk",
    "models/policy",
    "models/statistical",
    "limitations",
    "validation",
    "calibration",
    "api",
    "glossary",
    "references",
)
#: A Markdown document named in the text (``README.md``, ``notebooks/README.md``, ...).
MD_NAME = re.compile(r"(?<![\w./-])((?:[\w-]+/)*[\w-]+\.md)\b")
#: A relative path that climbs out of the folder it is written in (``../limitations``).
CLIMBS = re.compile(r"(?<![\w.])(?:\.\./)+[\w./-]*")


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The document built once for this module: the output folder and Sphinx's stderr."""
    tmp_path = tmp_path_factory.mktemp("docs")
    out = tmp_path / "html"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIMATE_LOAN_")}
    # No proxy: a build that tried to fetch anything (intersphinx, a remote image) would fail.
    env.update(http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(DOCS),
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stderr}\n{proc.stdout}"
    return out, proc.stderr


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_docs_build_offline_without_warnings(built_docs: tuple[Path, str]) -> None:
    out, stderr = built_docs
    assert "WARNING" not in stderr, stderr
    for chapter in CHAPTERS:
        page = out / f"{chapter}.html"
        assert page.is_file(), f"{chapter}.html was not built"
    # Every citation of references.rst is defined once and every chapter's citation resolves
    # (Sphinx warns otherwise); the references page lists at least the core sources.
    refs = (out / "references.html").read_text(encoding="utf-8")
    for key in ("Hersbach2020", "LeeFields2021", "BCBS2017", "Dobos2014", "PerrSauer2021"):
        assert key in refs, key


def test_citations_in_docs_are_all_defined_and_used() -> None:
    text = {p: p.read_text(encoding="utf-8") for p in DOCS.rglob("*.rst")}
    defined = re.findall(r"^\.\. \[([A-Za-z0-9_.-]+)\]", text[DOCS / "references.rst"], re.M)
    assert len(defined) == len(set(defined)), "a citation is defined twice"
    cited = {
        key
        for path, body in text.items()
        if path.name != "references.rst"
        for key in re.findall(r"\[([A-Za-z][A-Za-z0-9_.-]*)\]_", body)
    }
    assert sorted(set(defined) - cited) == [], "sources listed but cited nowhere"
    assert sorted(cited - set(defined)) == [], "sources cited but not listed"


def test_project_documents_do_not_point_outside_the_repository() -> None:
    files = [*DOCS.rglob("*.rst"), DOCS / "conf.py", ROOT / "README.md"]
    files += [p for p in (ROOT / "notebooks").glob("fleet_calibration.*")]
    # Every Markdown document named must be one of the repository's own (by path when a path
    # is given, else by name), and no relative path may lead out of the repository: the
    # project is read without any notes that live beside it.
    own = [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.md") if ".venv" not in p.parts]
    names = {Path(p).name for p in own}

    def outside(folder: Path, line: str) -> bool:
        named = MD_NAME.findall(line)
        missing = [m for m in named if (m not in own if "/" in m else m not in names)]
        climbs = [
            c for c in CLIMBS.findall(line) if not (folder / c).resolve().is_relative_to(ROOT)
        ]
        return bool(missing or climbs)

    hits = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in files
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if outside(p.parent, line)
    ]
    assert hits == [], "\n".join(hits)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_built_pages_load_no_script_from_the_network(built_docs: tuple[Path, str]) -> None:
    # The docs must be readable offline: MathJax comes from docs/_static/mathjax (vendored),
    # so no page may reference an http(s) script, and every local script it names must exist.
    out, _ = built_docs
    script = re.compile(r"<script\b[^>]*\bsrc=\"([^\"]+)\"", re.I)
    pages = sorted(out.rglob("*.html"))
    assert len(pages) >= len(CHAPTERS)
    with_math = 0
    for page in pages:
        html = page.read_text(encoding="utf-8")
        for src in script.findall(html):
            assert not re.match(r"(?i)(https?:)?//", src), f"{page.name} loads {src}"
            local = (page.parent / src.split("?")[0]).resolve()
            assert local.is_file(), f"{page.name}: {src} is not in the build"
        with_math += "mathjax/tex-chtml.js" in html
        assert not re.search(r"(?i)<link\b[^>]*href=\"(https?:)?//", html), page.name
    assert with_math >= 5  # the model chapters typeset equations with the vendored MathJax
    fonts = out / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert (fonts / "MathJax_Main-Regular.woff").is_file()
    assert (fonts / "MathJax_Math-Italic.woff").is_file()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_equations_typeset_offline_in_chromium(built_docs: tuple[Path, str]) -> None:
    # A real browser with every http(s) request refused: the vendored MathJax must typeset
    # the equations of a chapter from the built files alone, without a script error.
    from tests.service.test_browser import ARGS, CHROMIUM, _need_browser

    _need_browser()
    from playwright.sync_api import sync_playwright

    out, _ = built_docs
    page_file = out / "models" / "uncertainty.html"
    assert "math notranslate" in page_file.read_text(encoding="utf-8")
    refused: list[str] = []
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            pg = browser.new_page()
            pg.on("pageerror", lambda exc: errors.append(str(exc)))

            def refuse(route: Any) -> None:
                refused.append(route.request.url)
                route.abort()

            pg.route(re.compile(r"^https?://"), refuse)
            pg.goto(page_file.as_uri())
            pg.wait_for_selector("mjx-container", timeout=30_000)
            typeset = pg.locator("mjx-container").count()
            unparsed = pg.locator("mjx-merror").count()
        finally:
            browser.close()
    assert refused == [] and errors == []
    assert typeset >= 5 and unparsed == 0
