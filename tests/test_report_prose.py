"""The report's prose, tables and teaching layer, unit by unit (no browser)."""

import re

import numpy as np
import pandas as pd
import pytest

from satsim.report import prose, teaching
from satsim.report.model import table_blocks


# ------------------------------------------------------------------ prose
def test_rst_renders_markup_roles_and_math():
    html = prose.rst_to_html(
        "Some ``literal``, **strong**, *em* and :func:`satsim.meanfield.chi1`.\n\n"
        "* one\n* two\n\n.. math::\n\n   \\frac{a}{b}\n")
    assert "``" not in html and "**" not in html and ":func:" not in html
    assert "<strong>strong</strong>" in html and "<em>em</em>" in html
    assert re.search(r"<span class=\"docutils literal\">satsim.meanfield.chi1</span>", html)
    assert html.count("<li>") == 2
    assert "<mfrac>" in html and 'display="block"' in html  # MathML
    svg = prose.rst_to_html(":math:`\\frac{a}{b}`", math="svg")
    assert '<svg class="math"' in svg and "<math" not in svg and "\\frac" not in svg.split(
        'aria-label="')[0]


def test_untrusted_text_cannot_inject_html():
    html = prose.rst_to_html(".. raw:: html\n\n   <script>alert(1)</script>\n\n"
                             "<b>x</b> & y")
    assert "<script" not in html and "<b>x</b>" not in html and "&lt;b&gt;" in html


def test_text_that_is_not_rst_is_shown_as_written():
    # a user's plain docstring: |x| would be a substitution, `a` unbalanced…
    text = "mean |Δ| < 0.05 and a stray ``x\n\nsecond paragraph"
    assert prose.problems(text)
    html = prose.rst_to_html(text)
    assert "System Message" not in html and "|Δ|" in html and html.count("<p>") == 2
    assert prose.rst_to_html(prose.escape("w*x |Δ| n_in `a`")).count("<p>") == 1
    assert prose.problems(prose.escape("w*x |Δ| n_in `a` [1]_")) == []


def test_math_target_is_validated():
    with pytest.raises(ValueError, match="`math` must be one of"):
        prose.rst_to_html("x", math="tex")
    with pytest.raises(TypeError, match="`text` must be a string"):
        prose.rst_to_html(3)


def test_every_lesson_formula_renders_both_ways():
    """The teaching texts use LaTeX that docutils' MathML converter *and* matplotlib's
    mathtext read: no fallback to plain text, no formula left as TeX."""
    for text in teaching.math_sources():
        assert prose.problems(text) == []
        mathml = prose.rst_to_html(text)
        n = text.count(":math:`") + text.count(".. math::")
        assert mathml.count("<math") == n
        svg = prose.rst_to_html(text, math="svg")
        assert svg.count('<svg class="math"') == n
        assert "<tt" not in svg and "<pre class=\"math\"" not in svg


def test_svg_math_sits_on_the_baseline():
    svg = prose.latex_to_svg("\\frac{1}{4}")
    depth = float(re.search(r"vertical-align: -([\d.]+)pt", svg).group(1))
    height = float(re.search(r'height="([\d.]+)pt"', svg).group(1))
    assert 0 < depth < height  # a fraction reaches below the baseline
    flat = prose.latex_to_svg("x")
    assert float(re.search(r"vertical-align: -([\d.]+)pt", flat).group(1)) < depth


# ------------------------------------------------------------------ tables
def _wide_frame():
    rng = np.random.default_rng(0)
    rows = [{"weights": w, "n_in": n, "activation": "sigmoid",
             **{f"statistic_{k}": float(rng.random()) for k in range(9)}}
            for w in ("uniform", "rademacher") for n in (1, 2, 4)]
    return pd.DataFrame(rows)


def test_split_parts_repeat_the_key_and_constant_columns_are_said_once():
    blocks = table_blocks("clt", _wide_frame())
    assert len(blocks) > 1  # eleven numeric columns do not fit 740 px
    for b in blocks:
        assert b.columns[:2] == ["weights", "n_in"] and b.key == 2
        assert "activation" not in b.columns
        assert all(len(r) == len(b.columns) for r in b.rows)
    assert blocks[0].constant == [("activation", "sigmoid")]
    assert all(not b.constant for b in blocks[1:])
    shown = [c for b in blocks for c in b.columns[2:]]
    assert shown == [f"statistic_{k}" for k in range(9)]  # every column once, in order


def test_a_table_that_fits_is_not_split():
    frame = _wide_frame().iloc[:, :6]
    blocks = table_blocks("t", frame)
    assert len(blocks) == 1 and blocks[0].part == ""


def test_key_is_the_shortest_unique_prefix():
    frame = pd.DataFrame({"case": ["a", "b", "c"], "kind": ["x", "x", "y"],
                          "v": [1.0, 2.0, 3.0]})
    assert table_blocks("t", frame)[0].key == 1
    frame = pd.DataFrame({"series": ["a", "a", "b", "b"], "epoch": [0, 1, 0, 1],
                          "v": [1.0, 2.0, 3.0, 4.0]})
    assert table_blocks("t", frame)[0].key == 2


def test_a_formula_written_twice_defines_its_ids_once_per_copy():
    html = prose.rst_to_html(":math:`\\sigma'(z)` and again :math:`\\sigma'(z)`", math="svg")
    ids = re.findall(r'id="([^"]+)"', prose.unique_math_ids(html))
    assert ids and len(ids) == len(set(ids))
    assert len(re.findall(r'id="([^"]+)"', html)) > len(set(re.findall(r'id="([^"]+)"', html)))
