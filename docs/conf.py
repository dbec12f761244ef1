"""Sphinx configuration of the Climate Loan Risk model document.

Built and read offline: no intersphinx, no theme or script from the network (the built-in
``alabaster`` theme; MathJax 3.2.2 is vendored in ``_static/mathjax``, the TeX-input,
CommonHTML-output bundle with its fonts, see ``_static/mathjax/SOURCE.txt``). Build with
``make docs`` (warnings are errors); ``tests/test_docs.py`` checks that no page loads a script
from the network.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

project = "Climate Loan Risk"
author = "Climate Loan Risk developers"
copyright = "2026, Climate Loan Risk developers"
release = "0.1.0"
version = "0.1"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
]

root_doc = "index"
source_suffix = {".rst": "restructuredtext"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
language = "en"
today_fmt = "%Y-%m-%d"

# Equations are numbered per page; :math: roles and .. math:: blocks use LaTeX.
math_number_all = False
math_eqref_format = "({number})"

# autodoc: the public API as the code states it (numpydoc sections), in source order.
autodoc_member_order = "bysource"
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

nitpicky = False
# Several module docstrings list their sources under "References" without citing them as
# ``[1]_`` in the text, which docutils reports as "citation not referenced". The project's own
# pages are checked for that by tests/test_docs.py instead.
suppress_warnings = ["ref.citation"]

html_theme = "alabaster"
html_title = "Climate Loan Risk — model document"
html_short_title = "Climate Loan Risk"
html_static_path = ["_static"]
# MathJax from the vendored copy (a path relative to _static); its context menu is off, since
# the menu's speech options would fetch extra components from a CDN.
mathjax_path = "mathjax/tex-chtml.js"
mathjax3_config = {"options": {"enableMenu": False}}
html_last_updated_fmt = None
html_show_sourcelink = False
html_copy_source = False
html_theme_options = {
    "description": "Can a wind or solar project repay its loan? The models, their sources "
    "and their limits.",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "240px",
}


# Two slips in source docstrings that would stop the build of the API page are mended here,
# on the page only: a citation ("[3]_") of a source listed in the module's docstring rather
# than in the docstring's own References has no target there, so it is shown as plain "[3]"
# (the module's list is on the same page, just above); a section underline shorter than its
# title is lengthened.
_CITATION = re.compile(r"\[([0-9]+|[A-Za-z][A-Za-z0-9_.-]*)\]_")
_TARGET = re.compile(r"^\s*\.\. \[([^\]]+)\]", re.MULTILINE)


def _unlink_citations_without_target(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    defined = set(_TARGET.findall("\n".join(lines)))

    def plain(m: re.Match[str]) -> str:
        return m.group(0) if m.group(1) in defined else f"[{m.group(1)}]"

    lines[:] = [_CITATION.sub(plain, line) for line in lines]
    # A section underline one character short of its title is a docutils warning; lengthen it.
    for i in range(1, len(lines)):
        rule, title = lines[i].rstrip(), lines[i - 1].rstrip()
        if (
            len(rule.strip()) >= 3
            and set(rule.strip()) <= set("-=~^")
            and title.strip()
            and not set(title.strip()) <= set("-=~^")
            and len(rule) < len(title)
            and len(rule) - len(rule.lstrip()) == len(title) - len(title.lstrip())
        ):
            lines[i] = rule + rule.strip()[0] * (len(title) - len(rule))


def setup(app: Any) -> dict[str, Any]:
    """Register the docstring filter before numpydoc renames the references."""
    app.connect("autodoc-process-docstring", _unlink_citations_without_target, priority=100)
    return {"parallel_read_safe": True}
