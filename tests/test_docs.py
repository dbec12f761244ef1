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


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_docs_build_offline_without_warnings(tmp_path: Path) -> None:
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
    assert "WARNING" not in proc.stderr, proc.stderr
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
