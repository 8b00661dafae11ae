"""Renderers of the document model: self-contained HTML (Jinja2) and PDF (WeasyPrint)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import pandas as pd

from satsim._atomic import atomic_write
from satsim._namespace import public_dir
from satsim.report.model import Document, build_document

if TYPE_CHECKING:
    from satsim.study import StudyResult

__all__ = ["render_html", "render_pdf", "write_report"]

__dir__ = public_dir(globals())

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("satsim.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)


def render_html(doc: Document) -> str:
    """One self-contained HTML page (inline CSS; vector figures as inline SVG, raster
    ones as data URIs)."""
    return _ENV.get_template("report.html.j2").render(doc=doc)


def render_pdf(html: str, path: str | os.PathLike) -> Path:
    """The same HTML through WeasyPrint (its @page/print CSS): page numbers, running
    header, figures kept whole."""
    import weasyprint

    return atomic_write(path, weasyprint.HTML(string=html).write_pdf())


def write_report(
    results: Sequence[StudyResult], out: str | os.PathLike, *, pdf: bool = True,
    title: str = "satsim report", question: str | None = None,
    key_numbers: Sequence[Any] | None = None,
) -> dict[str, Path]:
    """Write ``index.html``, ``satsim-report.pdf``, ``findings.json`` and
    ``findings.csv`` into ``out``; return their paths.  ``title``, ``question`` (the
    opening paragraph) and ``key_numbers`` replace the study report's (as
    :mod:`satsim.analyze` does)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    doc = build_document(results, title=title, question=question, key_numbers=key_numbers)
    html = render_html(doc)
    paths = {"html": out / "index.html"}
    atomic_write(paths["html"], html)
    findings = pd.concat([r.findings_frame() for r in results], ignore_index=True)
    paths["json"] = out / "findings.json"
    records = [dict(f.to_dict(), study=res.name) for res in results for f in res.findings]
    atomic_write(paths["json"], json.dumps(records, indent=2))
    paths["csv"] = out / "findings.csv"
    atomic_write(paths["csv"], findings.to_csv(index=False))
    if pdf:
        paths["pdf"] = render_pdf(html, out / "satsim-report.pdf")
    return paths
