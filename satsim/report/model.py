"""The document model: what a report says, independent of how it is rendered.

A report opens with the answer — what was asked, the key numbers and the picture the
argument is about — then the findings table, then one section per study, then one
provenance table for the environment plus, per study, only what differs.  Rounding
happens here and only here (:func:`fmt`).  Wide tables are split into column groups
that each repeat the key column, so every table fits a 800 px window and an A4 page.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from satsim._namespace import public_dir

__all__ = ["Document", "FigureBlock", "KeyNumber", "Section", "TableBlock", "build_document",
           "fmt"]

__dir__ = public_dir(globals())

MAX_ROWS = 40
#: columns per table block (more are split into groups repeating the key column)
MAX_COLUMNS = 7
#: a float below this fraction of its column's largest magnitude is rounding error
ZERO_TOLERANCE = 1e-12
#: environment fields shown once for the whole report
ENVIRONMENT = ("satsim", "numpy", "scipy", "pandas", "python", "machine", "platform", "cpus",
               "git_revision")


def fmt(value: Any, digits: int = 4) -> str:
    """Round for display (the only place numbers are rounded)."""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        value = float(value)
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if value == 0:
            return "0"
        if abs(value) >= 1e5 or abs(value) < 1e-3:
            return f"{value:.{max(digits - 1, 1)}e}".replace("e-0", "e-").replace("e+0", "e")
        return f"{value:.{digits}g}"
    if value is None:
        return "–"
    return str(value)


@dataclasses.dataclass
class FigureBlock:
    id: str
    title: str
    caption: str
    svg: str | None = None  # inline vector markup
    uri: str | None = None  # raster data URI


@dataclasses.dataclass
class TableBlock:
    title: str
    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    truncated: int = 0
    part: str = ""
    note: str = ""


@dataclasses.dataclass
class KeyNumber:
    quantity: str
    value: str
    detail: str
    study: str


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
    question: str = ""
    key_numbers: list[KeyNumber] = dataclasses.field(default_factory=list)
    hero: FigureBlock | None = None
    environment: dict = dataclasses.field(default_factory=dict)

    @property
    def findings(self) -> list[dict]:
        return [dict(f, study=s.id, study_title=s.title) for s in self.sections
                for f in s.findings]

    @property
    def n_passed(self) -> int:
        return sum(f["passed"] is True for f in self.findings)

    @property
    def n_undecided(self) -> int:
        return sum(f["passed"] is None for f in self.findings)


QUESTION = (
    "With N(0, 1) weights, z = Σ w_j x_j + b has a very wide distribution, so most sigmoid "
    "neurons start saturated — σ(z) ≈ 0 or 1, σ′(z) ≈ 0 — and learn slowly; scaling the "
    "weights by 1/√n_in keeps z narrow. Is that so? Each step is measured below: the width "
    "of z, whether variances of independent sums add, how normal z is, the saturated "
    "fraction measured against its prediction, through depth, and in training.")


def _column_block(frame: pd.DataFrame) -> tuple[list[list[str]], list[bool], str]:
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(
        frame[c]) for c in frame.columns]
    zeroed = False
    cells = []
    scale = {}
    for c, is_num in zip(frame.columns, numeric, strict=True):
        if is_num and pd.api.types.is_float_dtype(frame[c]):
            vals = frame[c].to_numpy(float)
            finite = np.abs(vals[np.isfinite(vals)])
            scale[c] = float(finite.max()) if finite.size else 0.0
    for row in frame.itertuples(index=False):
        out = []
        for c, v in zip(frame.columns, row, strict=True):
            if c in scale and isinstance(v, float) and math.isfinite(v) and v != 0 \
                    and abs(v) < ZERO_TOLERANCE * scale[c]:
                zeroed = True
                v = 0.0
            out.append(fmt(v))
        cells.append(out)
    note = (f"values below {ZERO_TOLERANCE:g} × their column's largest are rounding error "
            "and print as 0" if zeroed else "")
    return cells, numeric, note


def _tables(name: str, frame: pd.DataFrame) -> list[TableBlock]:
    shown = frame.head(MAX_ROWS)
    truncated = max(0, len(frame) - MAX_ROWS)
    cols = list(shown.columns)
    if len(cols) <= MAX_COLUMNS:
        groups = [cols]
    else:  # split, repeating the key column so continuation rows can be told apart
        key, rest = cols[0], cols[1:]
        per = MAX_COLUMNS - 1
        groups = [[key, *rest[i:i + per]] for i in range(0, len(rest), per)]
    blocks = []
    for i, group in enumerate(groups):
        cells, numeric, note = _column_block(shown[group])
        part = f"columns {i + 1} of {len(groups)}" if len(groups) > 1 else ""
        blocks.append(TableBlock(title=name, columns=[str(c) for c in group], rows=cells,
                                 numeric=numeric, truncated=truncated, part=part, note=note))
    return blocks


def _paragraphs(text: str) -> list[str]:
    # plain text: Jinja2 autoescapes when rendering
    return [" ".join(p.split()) for p in text.strip().split("\n\n") if p.strip()]


def _figure(study: str, figure: Any, tables: dict) -> FigureBlock:
    from satsim import plotting

    fig = figure.render(tables)
    fid = f"{study}-{figure.id}"
    if figure.raster:
        return FigureBlock(id=fid, title=figure.title, caption=figure.caption,
                           uri=plotting.to_data_uri(plotting.to_png(fig)))
    return FigureBlock(id=fid, title=figure.title, caption=figure.caption,
                       svg=plotting.to_svg(fig, prefix=fid))


def _key_numbers(results: dict) -> list[KeyNumber]:
    """The numbers the argument turns on, from whichever studies were run."""
    out: list[KeyNumber] = []
    # (study, table, quantity, value, against) for both initializations of the argument
    rows = [
        ("z_distribution", "initializers", "std of z, {} weights",
         lambda r: fmt(r.simulated_std),
         lambda r: f"theory {fmt(r.predicted_std)}; CI [{fmt(r.ci_low)}, {fmt(r.ci_high)}]"),
        ("saturation", "mixture", "saturated hidden units at init, {}",
         lambda r: f"{fmt(100 * r.estimate, 3)}%",
         lambda r: f"predicted {fmt(100 * r.predicted, 3)}%; CI [{fmt(100 * r.ci_low, 3)}%, "
                   f"{fmt(100 * r.ci_high, 3)}%]"),
    ]
    for study, table, quantity, value, against in rows:
        res = results.get(study)
        if res is None or table not in res.tables:
            continue
        t = res.tables[table].set_index("initializer")
        for name, label in (("standard_normal", "N(0, 1)"), ("nielsen", "N(0, 1/n_in)")):
            if name in t.index:
                r = t.loc[name]
                out.append(KeyNumber(quantity=quantity.format(label), value=value(r),
                                     detail=against(r), study=study))
    tr = results.get("init_training")
    if tr is not None and "summary" in tr.tables:
        t = tr.tables["summary"]
        first = t[t.epoch == 1]
        names = {r.series: r.accuracy for r in first.itertuples()}
        a = next((v for k, v in names.items() if k.startswith("nielsen")), None)
        b = next((v for k, v in names.items() if k.startswith("standard_normal")), None)
        if a is not None and b is not None:
            out.append(KeyNumber(
                quantity="validation accuracy after 1 epoch", value=f"{fmt(100 * (a - b), 3)} "
                "points", detail=f"N(0, 1/n_in) {fmt(100 * a, 3)}% vs N(0, 1) "
                f"{fmt(100 * b, 3)}%", study="init_training"))
    d = results.get("deep_propagation")
    if d is not None:
        try:
            f = d.finding("critical_line_anchor")
            out.append(KeyNumber(quantity="tanh critical line at σ_b² = 0.05",
                                 value=f"σ_w² = {fmt(f.observed)}",
                                 detail="order-to-chaos transition χ1 = 1", study=d.name))
        except KeyError:
            pass
    t = results.get("trainability")
    if t is not None:
        for fid, quantity in (("trainable_depth_tracks_6xi_c",
                               "tanh trainable depth against 6ξ_c"),
                              ("relu30_xavier_stalls_he_trains",
                               "deep ReLU accuracy, Xavier vs He")):
            try:
                f = t.finding(fid)
            except KeyError:
                continue
            out.append(KeyNumber(quantity=quantity, value=str(f.observed).split(" (")[0],
                                 detail=f"{f.expected}: {f.verdict}", study=t.name))
    return out


def build_document(results: Sequence, *, title: str = "satsim report",
                   question: str | None = None,
                   key_numbers: Sequence[KeyNumber] | None = None) -> Document:
    """Build the document model from StudyResults (figures drawn here, from tables)."""
    by_name = {r.name: r for r in results}
    sections = []
    hero = None
    envs = [r.provenance for r in results if r.provenance]
    environment = {k: fmt(envs[0].get(k)) for k in ENVIRONMENT} if envs else {}
    for res in results:
        figures = []
        for figure in res.figures:
            figures.append(_figure(res.name, figure, res.tables))
            if figure.KIND == "saturation_hero" and hero is None:
                # the report's first screen shows it too (its own ids: one page, two SVGs)
                hero = _figure("answer", figure, res.tables)
        findings = [{"id": f.id, "claim": f.claim, "expected": fmt(f.expected),
                     "observed": fmt(f.observed), "method": f.method,
                     "passed": None if f.passed is None else bool(f.passed),
                     "verdict": "undecided" if f.passed is None
                     else ("pass" if f.passed else "fail")}
                    for f in res.findings]
        prov = res.provenance or {}
        own = {"scale": fmt(prov.get("scale")), "seed": fmt(prov.get("seed")),
               "wall time (s)": fmt(prov.get("wall_time_s"), 3),
               "finished": fmt(prov.get("finished")),
               "parameters": ", ".join(f"{k}={v}" for k, v in res.params.items())}
        differs = {k: fmt(prov.get(k)) for k in ENVIRONMENT
                   if k in prov and fmt(prov.get(k)) != environment.get(k)}
        own.update({f"{k} (differs)": v for k, v in differs.items()})
        tables = [b for n in res.display if n in res.tables for b in _tables(n, res.tables[n])]
        sections.append(Section(
            id=res.name, title=res.title, paragraphs=_paragraphs(res.description),
            findings=findings, figures=figures, tables=tables, notes=list(res.notes),
            provenance=own))
    return Document(title=title, sections=sections,
                    question=QUESTION if question is None else question,
                    key_numbers=_key_numbers(by_name) if key_numbers is None
                    else list(key_numbers), hero=hero, environment=environment,
                    generated=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
