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
    target : {"screen", "print"}, default "screen"
        ``"screen"``: MathML and the interactive figures; ``"print"``: mathematics as
        SVG and static figures, for :func:`render_pdf`.

    Returns
    -------
    str
        The complete HTML document; it loads nothing from the network (BokehJS, when
        the page has explorers, is inlined).

    Raises
    ------
    ValueError
        ``target`` is not ``"screen"`` or ``"print"``.
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
    figures kept whole.  Give it ``render_html(doc, target="print")``.

    Parameters
    ----------
    html : str
        The page to print, normally ``render_html(doc, target="print")``.
    path : str or os.PathLike
        The PDF file to write (atomically; an existing file is replaced).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ImportError
        WeasyPrint is not installed.
    """
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

    Parameters
    ----------
    results : sequence of StudyResult
        The studies to report, in order.
    out : str or os.PathLike
        Output directory (created if needed); the files in it are replaced atomically.
    pdf : bool, default True
        Also print ``satsim-report.pdf`` (needs WeasyPrint).
    title : str, default "satsim report"
        The report's title.
    question : str, optional
        The opening question; default satsim's, followed by the teaching sections.
    key_numbers : sequence of KeyNumber, optional
        The key numbers; default those read from the studies.

    Returns
    -------
    dict of str to pathlib.Path
        ``"html"``, ``"json"``, ``"csv"`` and, with ``pdf``, ``"pdf"``: the files
        written.  ``findings.json`` holds every finding with its study's name,
        ``findings.csv`` the studies' findings tables.

    Raises
    ------
    ImportError
        ``pdf=True`` without WeasyPrint, or a page with explorers without Bokeh.
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
