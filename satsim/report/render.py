"""Renderers of the document model: self-contained HTML (Jinja2) and PDF (WeasyPrint).

One template, two targets.  ``target="screen"`` is the page a browser opens: prose
with MathML, the interactive explorers (Bokeh, its JavaScript inline, so the page
works offline).  ``target="print"`` is what WeasyPrint lays out for the PDF: the same
document with every formula as SVG and each explorer replaced by its static figure.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import pandas as pd
from markupsafe import Markup

from satsim._atomic import atomic_write
from satsim._namespace import public_dir
from satsim.report import prose
from satsim.report.model import Document, build_document

if TYPE_CHECKING:
    from satsim.study import StudyResult

__all__ = ["TARGETS", "render_html", "render_pdf", "write_report"]

__dir__ = public_dir(globals())

#: what the HTML is for: a browser, or WeasyPrint's PDF
TARGETS = ("screen", "print")


@jinja2.pass_context
def _rst(ctx: Any, text: str) -> Markup:
    return Markup(prose.rst_to_html(str(text), math=ctx["math"]))


@jinja2.pass_context
def _rst_inline(ctx: Any, text: str) -> Markup:
    return Markup(prose.inline(str(text), math=ctx["math"]))


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("satsim.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)
_ENV.filters["rst"] = _rst
_ENV.filters["rst_inline"] = _rst_inline


def render_html(doc: Document, *, target: str = "screen") -> str:
    """One self-contained HTML page (inline CSS and JavaScript; vector figures as inline
    SVG, raster ones as data URIs).

    Parameters
    ----------
    doc : Document
        The document model (:func:`satsim.report.build_document`).
    target : {"screen", "print"}
        ``"screen"``: MathML and the interactive figures; ``"print"``: mathematics as
        SVG and static figures, for :func:`render_pdf`.
    """
    if target not in TARGETS:
        raise ValueError(f"`target` must be one of {TARGETS}; got target={target!r}")
    scripts = ""
    if target == "screen" and doc.explorers:
        from satsim.report.interactive import resources

        scripts = resources()
    html = _ENV.get_template("report.html.j2").render(
        doc=doc, target=target, math="mathml" if target == "screen" else "svg",
        scripts=Markup(scripts))  # Bokeh's own inline bundle
    return prose.unique_math_ids(html) if target == "print" else html


def render_pdf(html: str, path: str | os.PathLike) -> Path:
    """HTML through WeasyPrint (its @page/print CSS): page numbers, running header,
    figures kept whole.  Give it ``render_html(doc, target="print")``."""
    import weasyprint

    return atomic_write(path, weasyprint.HTML(string=html).write_pdf())


def write_report(
    results: Sequence[StudyResult], out: str | os.PathLike, *, pdf: bool = True,
    title: str = "satsim report", question: str | None = None,
    key_numbers: Sequence[Any] | None = None,
) -> dict[str, Path]:
    """Write ``index.html``, ``satsim-report.pdf``, ``findings.json`` and
    ``findings.csv`` into ``out``; return their paths.

    ``title``, ``question`` (the opening paragraph) and ``key_numbers`` replace the
    study report's (as :mod:`satsim.analyze` does); a report with its own ``question``
    has no teaching sections.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    doc = build_document(results, title=title, question=question, key_numbers=key_numbers)
    paths = {"html": out / "index.html"}
    atomic_write(paths["html"], render_html(doc, target="screen"))
    findings = pd.concat([r.findings_frame() for r in results], ignore_index=True)
    paths["json"] = out / "findings.json"
    records = [dict(f.to_dict(), study=res.name) for res in results for f in res.findings]
    atomic_write(paths["json"], json.dumps(records, indent=2))
    paths["csv"] = out / "findings.csv"
    atomic_write(paths["csv"], findings.to_csv(index=False))
    if pdf:
        paths["pdf"] = render_pdf(render_html(doc, target="print"), out / "satsim-report.pdf")
    return paths
