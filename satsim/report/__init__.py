"""Reports: study results → a document model → HTML (Jinja2) and PDF (WeasyPrint).

Rounding happens here and only here.  ``write_report`` also exports the findings
as JSON and CSV straight from the results (never scraped from the HTML).
"""

from satsim._namespace import public_dir
from satsim.report.model import Document, build_document
from satsim.report.render import render_html, render_pdf, write_report

__all__ = ["Document", "build_document", "render_html", "render_pdf", "write_report"]

__dir__ = public_dir(globals())
