"""The document model: what a report says, independent of how it is rendered."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd

from satsim._namespace import public_dir

__all__ = ["Document", "FigureBlock", "Section", "TableBlock", "build_document", "fmt"]

__dir__ = public_dir(globals())

MAX_ROWS = 40


def fmt(value: Any, digits: int = 4) -> str:
    """Round for display (the only place numbers are rounded)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        return f"{value:.{digits}g}"
    return str(value)


@dataclasses.dataclass
class FigureBlock:
    id: str
    title: str
    caption: str
    uri: str


@dataclasses.dataclass
class TableBlock:
    title: str
    columns: list[str]
    rows: list[list[str]]
    truncated: int = 0


@dataclasses.dataclass
class Section:
    id: str
    title: str
    paragraphs: list[str]
    findings: list[dict]
    figures: list[FigureBlock]
    tables: list[TableBlock]
    notes: list[str]
    provenance: dict

    @property
    def passed(self) -> bool:
        return all(f["passed"] is not False for f in self.findings)  # undecided ≠ failed


@dataclasses.dataclass
class Document:
    title: str
    generated: str
    sections: list[Section]

    @property
    def findings(self) -> list[dict]:
        return [dict(f, study=s.id, study_title=s.title) for s in self.sections
                for f in s.findings]

    @property
    def n_passed(self) -> int:
        return sum(f["passed"] is True for f in self.findings)


def _table(name: str, frame: pd.DataFrame) -> TableBlock:
    shown = frame.head(MAX_ROWS)
    rows = [[fmt(v) for v in row] for row in shown.itertuples(index=False)]
    return TableBlock(title=name, columns=[str(c) for c in frame.columns], rows=rows,
                      truncated=max(0, len(frame) - MAX_ROWS))


def _paragraphs(text: str) -> list[str]:
    # plain text: Jinja2 autoescapes when rendering
    return [" ".join(p.split()) for p in text.strip().split("\n\n") if p.strip()]


def build_document(results: Sequence, *, title: str = "satsim report") -> Document:
    """Build the document model from StudyResults (figures drawn here, from tables)."""
    from satsim import plotting

    sections = []
    for res in results:
        figures = []
        for spec in res.figures:
            fig = plotting.build(spec, res.tables)
            figures.append(FigureBlock(id=f"{res.name}-{spec.id}", title=spec.title,
                                       caption=spec.caption,
                                       uri=plotting.to_data_uri(plotting.to_png(fig))))
        findings = [{"id": f.id, "claim": f.claim, "expected": fmt(f.expected),
                     "observed": fmt(f.observed), "method": f.method,
                     "passed": None if f.passed is None else bool(f.passed),
                     "verdict": "undecided" if f.passed is None
                     else ("pass" if f.passed else "fail")}
                    for f in res.findings]
        sections.append(Section(
            id=res.name, title=res.title, paragraphs=_paragraphs(res.description),
            findings=findings, figures=figures,
            tables=[_table(n, res.tables[n]) for n in res.display if n in res.tables],
            notes=list(res.notes),
            provenance={k: fmt(v) for k, v in res.provenance.items() if k != "params"}
            | {"params": ", ".join(f"{k}={v}" for k, v in res.params.items())},
        ))
    return Document(title=title, sections=sections,
                    generated=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
