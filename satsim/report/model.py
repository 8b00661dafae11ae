"""The document model: what a report says, independent of how it is rendered.

A report teaches before it audits (DESIGN.md §3.11).  It opens with the question and
the three answers in one box, then one section per question of the seed argument
(:mod:`satsim.report.teaching`: reasoning with mathematics, one measurement with its
interval and setting, one figure, interactive explorers on screen), then the key
numbers, then one section per study (the audit), the findings of every study as an
appendix, and one provenance table for the environment plus, per study, only what
differs.  Rounding happens here and only here (:func:`fmt`).

Prose (study docstrings, findings, lessons) stays reStructuredText in the model; the
renderer turns it into HTML with mathematics as MathML (screen) or SVG (print).

Tables are shown as people read them: columns constant over every row are dropped and
their value said once above the table; a table is split into column groups only when
its estimated width does not fit an 800 px window or an A4 page, and every part
repeats the table's key columns (the leading identifier columns that tell rows apart).
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
from satsim.report._format import fmt

__all__ = ["Document", "Explorer", "FigureBlock", "KeyNumber", "LessonBlock", "Section",
           "TableBlock", "build_document", "fmt", "table_blocks"]

__dir__ = public_dir(globals())

MAX_ROWS = 40
#: the width a table may take, in px at the report's table font (an 800 px window
#: less the page's padding; an A4 page's text width at the print font is about the same)
TABLE_WIDTH_PX = 740
#: average width of one character of the table font (0.82 rem of 15 px DejaVu Sans)
CHAR_PX = 7.3
#: a cell's padding and borders
CELL_PAD_PX = 14
#: more key columns than this are not repeated (the key is then the first column)
MAX_KEY_COLUMNS = 3
#: a float below this fraction of its column's largest magnitude is rounding error
ZERO_TOLERANCE = 1e-12
#: environment fields shown once for the whole report
ENVIRONMENT = ("satsim", "numpy", "scipy", "pandas", "python", "machine", "platform", "cpus",
               "git_revision")


@dataclasses.dataclass
class FigureBlock:
    id: str
    title: str
    caption: str
    svg: str | None = None  # inline vector markup
    uri: str | None = None  # raster data URI
    empty: str | None = None  # why there is no picture (its table has no rows)


@dataclasses.dataclass
class Explorer:
    """An interactive figure on screen and its static twin in print."""

    id: str
    title: str
    caption: str
    div: str
    script: str
    static: FigureBlock | None


@dataclasses.dataclass
class TableBlock:
    title: str
    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    truncated: int = 0
    part: str = ""
    note: str = ""
    #: columns with one value on every row, said once above the table
    constant: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    #: how many leading columns are the row key (repeated in every part)
    key: int = 1


@dataclasses.dataclass
class KeyNumber:
    quantity: str
    value: str
    detail: str
    study: str


@dataclasses.dataclass
class LessonBlock:
    id: str
    number: int
    question: str
    short: str  # reST
    headline: str
    reasoning: str  # reST
    measurement: str  # reST
    after: str  # reST
    figures: list[FigureBlock]
    explorers: list[Explorer]
    studies: list[tuple[str, str]]


@dataclasses.dataclass
class Section:
    id: str
    title: str
    description: str  # reST
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
    lessons: list[LessonBlock] = dataclasses.field(default_factory=list)
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

    @property
    def explorers(self) -> list[Explorer]:
        return [e for lesson in self.lessons for e in lesson.explorers]


QUESTION = (
    "With N(0, 1) weights, z = Σ w_j x_j + b has a very wide distribution, so most sigmoid "
    "neurons start saturated — σ(z) ≈ 0 or 1, σ′(z) ≈ 0 — and learn slowly; scaling the "
    "weights by 1/√n_in keeps z narrow.  The argument rests on three facts that are usually "
    "taken on faith.  This report answers them first, each with its reasoning, one "
    "measurement and one figure; then every step is audited: the width of z, whether "
    "variances of independent sums add, how normal z is, the saturated fraction measured "
    "against its prediction, through depth, and in training.")


# ---------------------------------------------------------------------- tables
def _is_float(col: pd.Series) -> bool:
    return pd.api.types.is_float_dtype(col)


def _key_columns(frame: pd.DataFrame) -> int:
    """How many leading columns identify a row: the shortest prefix of leading
    non-float columns whose values are unique over the rows (at most
    :data:`MAX_KEY_COLUMNS`); else the first column alone."""
    leading = 0
    for c in frame.columns:
        if _is_float(frame[c]) or leading == MAX_KEY_COLUMNS:
            break
        leading += 1
    for k in range(1, leading + 1):
        if not frame.iloc[:, :k].astype(str).duplicated().any():
            return k
    return max(1, leading)


def _cells(frame: pd.DataFrame) -> tuple[list[list[str]], list[bool], str]:
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(
        frame[c]) for c in frame.columns]
    zeroed = False
    scale = {}
    for c in frame.columns:
        if _is_float(frame[c]):
            vals = frame[c].to_numpy(float)
            finite = np.abs(vals[np.isfinite(vals)])
            scale[c] = float(finite.max()) if finite.size else 0.0
    cells = []
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


def _width_px(header: str, values: list[str], numeric: bool) -> float:
    """Estimated rendered width of a column: headers wrap at spaces and underscores
    (at most two lines), numbers do not wrap, text wraps at about 28 characters."""
    words = header.replace("_", "_ ").split() or [""]
    head = max(max(len(w) for w in words), math.ceil(len(header) / 2))
    longest = max((len(v) for v in values), default=0)
    body = longest if numeric else min(longest, 28)
    return max(head, body) * CHAR_PX + CELL_PAD_PX


def table_blocks(name: str, frame: pd.DataFrame, *,
                 width_px: float = TABLE_WIDTH_PX) -> list[TableBlock]:
    """Blocks of one table as the report shows it (constant columns said once, split
    into column groups that repeat the key columns only when it does not fit).

    Parameters
    ----------
    name : str
        The table's title.
    frame : pandas.DataFrame
        The table; at most ``MAX_ROWS`` (40) rows are shown.
    width_px : float, default ``TABLE_WIDTH_PX`` (740)
        The width a part may take, compared with each column's estimated width.

    Returns
    -------
    list of TableBlock
        One block per column group (one when the table fits), each with the key
        columns (the shortest prefix of leading non-float columns that tells rows
        apart, at most ``MAX_KEY_COLUMNS`` = 3) first and its cells formatted by
        :func:`fmt`; the first block lists the constant columns (of a table with more
        than one row) once, and every block counts the rows left out.
    """
    shown = frame.head(MAX_ROWS)
    truncated = max(0, len(frame) - MAX_ROWS)
    constant: list[tuple[str, str]] = []
    same = [c for c in frame.columns if frame[c].astype(str).nunique(dropna=False) == 1]
    if len(frame) > 1 and len(same) < len(frame.columns):  # a table keeps one column
        constant = [(str(c), fmt(frame[c].iloc[0])) for c in same]
        shown = shown[[c for c in frame.columns if c not in same]]
    key = _key_columns(shown)
    cells, numeric, note = _cells(shown)
    cols = [str(c) for c in shown.columns]
    widths = [_width_px(c, [r[i] for r in cells], numeric[i]) for i, c in enumerate(cols)]
    key_w = sum(widths[:key])
    groups: list[list[int]] = []
    current: list[int] = []
    used = key_w
    for i in range(key, len(cols)):
        if current and used + widths[i] > width_px:
            groups.append(current)
            current, used = [], key_w
        current.append(i)
        used += widths[i]
    if current or not groups:
        groups.append(current)
    blocks = []
    for g, group in enumerate(groups):
        idx = list(range(key)) + group
        part = f"columns {g + 1} of {len(groups)}" if len(groups) > 1 else ""
        blocks.append(TableBlock(
            title=name, columns=[cols[i] for i in idx],
            rows=[[r[i] for i in idx] for r in cells], numeric=[numeric[i] for i in idx],
            truncated=truncated, part=part, note=note, constant=constant if g == 0 else [],
            key=key))
    return blocks


# ---------------------------------------------------------------------- figures
def _figure(study: str, figure: Any, tables: dict) -> FigureBlock:
    from satsim import plotting

    fid = f"{study}-{figure.id}"
    if figure._frame(tables).empty:  # e.g. per-layer saturation of a network with no
        # hidden layer: say so instead of drawing an empty grid
        return FigureBlock(id=fid, title=figure.title, caption=figure.caption,
                           empty=f"nothing to draw: its table {figure.table!r} has no rows")
    fig = figure.render(tables)
    if figure.raster:
        return FigureBlock(id=fid, title=figure.title, caption=figure.caption,
                           uri=plotting.to_data_uri(plotting.to_png(fig)))
    return FigureBlock(id=fid, title=figure.title, caption=figure.caption,
                       svg=plotting.to_svg(fig, prefix=fid))


# ---------------------------------------------------------------------- key numbers
_NIELSEN = "Nielsen's neuron (1000 inputs, 500 equal to 1), bias N(0, 1)"
_CRITERION = "sigmoid, |z| > ln 99 (σ′ < 0.01)"


def _key_numbers(results: dict) -> list[KeyNumber]:
    """The numbers the argument turns on, from whichever studies were run; every
    saturated fraction says its inputs, network and criterion."""
    from satsim.report._format import pct

    out: list[KeyNumber] = []
    labels = (("standard_normal", "N(0, 1)"), ("nielsen", "N(0, 1/n_in)"))
    z = results.get("z_distribution")
    if z is not None and "initializers" in z.tables:
        t = z.tables["initializers"].set_index("initializer")
        level = fmt(100 * float(z.params.get("confidence_level", 0.95)))
        for name, label in labels:
            if name in t.index:
                r = t.loc[name]
                out.append(KeyNumber(
                    quantity=f"std of z, {label} weights ({_NIELSEN})",
                    value=fmt(r.simulated_std),
                    detail=f"theory {fmt(r.predicted_std)}; {level}% CI [{fmt(r.ci_low)}, "
                           f"{fmt(r.ci_high)}]", study=z.name))
    s = results.get("saturation")
    if s is not None and "sweep" in s.tables:
        sw = s.tables["sweep"]
        sw = sw[(sw.activation == "sigmoid") & (sw.fan_in == sw.fan_in.max())]
        t = sw.set_index("initializer")
        fan = int(sw.fan_in.max()) if len(sw) else 0
        for name, label in labels:
            if name in t.index:
                r = t.loc[name]
                out.append(KeyNumber(
                    quantity=f"saturated at init, {label} weights: one neuron, {fan} inputs "
                             f"(half equal to 1), bias N(0, 1); {_CRITERION}",
                    value=pct(r.estimate),
                    detail=f"predicted {pct(r.predicted)}; 99% CI [{pct(r.ci_low)}, "
                           f"{pct(r.ci_high)}]", study=s.name))
    if s is not None and "mixture" in s.tables:
        t = s.tables["mixture"].set_index("initializer")
        hidden = s.params.get("hidden", 30)
        rows = s.params.get("data_rows")
        for name, label in labels:
            if name in t.index:
                r = t.loc[name]
                out.append(KeyNumber(
                    quantity=f"saturated at init, {label} weights: hidden layer of a "
                             f"784-{hidden}-10 network on {fmt(rows)} Fashion-MNIST images; "
                             f"{_CRITERION}",
                    value=pct(r.estimate),
                    detail=f"predicted {pct(r.predicted)}; 99.9% CI [{pct(r.ci_low)}, "
                           f"{pct(r.ci_high)}]", study=s.name))
    tr = results.get("init_training")
    if tr is not None and "summary" in tr.tables:
        t = tr.tables["summary"]
        first = t[t.epoch == 1]
        names = {r.series: r.accuracy for r in first.itertuples()}
        a = next((v for k, v in names.items() if k.startswith("nielsen")), None)
        b = next((v for k, v in names.items() if k.startswith("standard_normal")), None)
        if a is not None and b is not None:
            out.append(KeyNumber(
                quantity="validation accuracy after 1 epoch (784-30-10 sigmoid, "
                         "Fashion-MNIST), N(0, 1/n_in) minus N(0, 1)",
                value=f"{fmt(100 * (a - b), 3)} points",
                detail=f"N(0, 1/n_in) {fmt(100 * a, 3)}% vs N(0, 1) {fmt(100 * b, 3)}%",
                study="init_training"))
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
        for fid, quantity in (("critical_trains_deepest",
                               "tanh: the σ_w² nearest the critical line trains deepest"),
                              ("depth_ratio_6xi_c", "tanh: trainable depth / 6ξ_c"),
                              ("relu30_xavier_stalls_he_trains",
                               "30-layer ReLU: Xavier stalls, He trains")):
            try:
                f = t.finding(fid)
            except KeyError:
                continue
            out.append(KeyNumber(quantity=quantity, value=f.verdict,
                                 detail=str(f.observed), study=t.name))
    return out


# ---------------------------------------------------------------------- lessons
def _lesson_blocks(by_name: dict) -> list[LessonBlock]:
    from satsim.report import interactive, teaching

    blocks = []
    for lesson in teaching.lessons(by_name):
        figures = [_figure(f"q{lesson.number}-{study}", spec, tables)
                   for study, spec, tables in lesson.figures]
        explorers = []
        for kind in lesson.interactive:
            if kind == "saturation":
                z = by_name.get("z_distribution")
                params = z.params if z is not None else {}
                ex = interactive.saturation_explorer(n_in=int(params.get("n_in", 1000)),
                                                     active=int(params.get("active", 500)))
                # the static twin (print) is the lesson's first figure: z against σ
                static = figures.pop(0) if figures and "hero" in figures[0].id else None
            else:
                table = interactive.phase_table(bias_variance=0.05)
                from satsim import meanfield

                crit = float(meanfield.critical_weight_variance(0.05))
                ex = interactive.phase_explorer(table, bias_variance=0.05, critical=crit)
                static = _figure("q4", _phase_static(), {"phase": _phase_long(table)})
            explorers.append(Explorer(id=ex.id, title=ex.title, caption=ex.caption,
                                      div=ex.div, script=ex.script, static=static))
        blocks.append(LessonBlock(
            id=lesson.id, number=lesson.number, question=lesson.question,
            short=lesson.short, headline=lesson.headline, reasoning=lesson.reasoning,
            measurement=lesson.measurement, after=lesson.after,
            figures=figures, explorers=explorers, studies=lesson.studies))
    return blocks


def _phase_long(table: pd.DataFrame) -> pd.DataFrame:
    long = table.melt(id_vars="sigma_w2", value_vars=["chi1", "six_xi_c"],
                      var_name="quantity", value_name="value")
    long["quantity"] = long.quantity.map({"chi1": "χ1", "six_xi_c": "6ξ_c (layers)"})
    return long


def _phase_static() -> Any:
    from satsim.plotting import LinePlot

    return LinePlot(id="phase", table="phase", x="sigma_w2", y="value", col="quantity",
                    logy=True, sharey=False, marker="",
                    title="The tanh phase diagram at σ_b² = 0.05",
                    caption="χ1 and 6ξ_c against σ_w² (satsim.meanfield). The interactive "
                            "report has a slider; χ1 = 1 on the critical line, where 6ξ_c "
                            "diverges.",
                    xlabel="σ_w²", ylabel="value")


# ---------------------------------------------------------------------- document
def build_document(results: Sequence, *, title: str = "satsim report",
                   question: str | None = None,
                   key_numbers: Sequence[KeyNumber] | None = None) -> Document:
    """Build the document model from StudyResults (figures drawn here, from tables).

    Parameters
    ----------
    results : sequence of StudyResult
        The studies, in the order their sections appear.
    title : str, default "satsim report"
        The document's title.
    question : str, optional
        The question the report opens with.  Default: satsim's own question (saturation
        with N(0, 1) weights), followed by the three lessons of
        :mod:`satsim.report.teaching` built from the studies they need; when a question
        is given there are no lessons.
    key_numbers : sequence of KeyNumber, optional
        The key numbers shown after the lessons; default those read from the studies'
        tables.

    Returns
    -------
    Document
        One section per result (findings, figures, tables listed in its ``display``,
        notes and the provenance that differs from the report's environment), the
        lessons, the key numbers, the hero figure and the generation time (UTC).
    """
    by_name = {r.name: r for r in results}
    sections = []
    hero = None
    envs = [r.provenance for r in results if r.provenance]
    environment = {k: fmt(envs[0].get(k)) for k in ENVIRONMENT} if envs else {}
    lessons = _lesson_blocks(by_name) if question is None else []
    for res in results:
        figures = []
        for figure in res.figures:
            figures.append(_figure(res.name, figure, res.tables))
            if figure.KIND == "saturation_hero" and hero is None and not lessons:
                # without lessons the first screen shows it (its own ids: one page)
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
        tables = [b for n in res.display if n in res.tables
                  for b in table_blocks(n, res.tables[n])]
        sections.append(Section(
            id=res.name, title=res.title, description=res.description,
            findings=findings, figures=figures, tables=tables, notes=list(res.notes),
            provenance=own))
    return Document(title=title, sections=sections,
                    question=QUESTION if question is None else question,
                    key_numbers=_key_numbers(by_name) if key_numbers is None
                    else list(key_numbers), lessons=lessons, hero=hero,
                    environment=environment,
                    generated=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
