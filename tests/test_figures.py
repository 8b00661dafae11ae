"""Report figures are readable (issue 18 §7): tick labels never touch, series that
coincide all show, every glyph is in the font, every point says what it is, and a
proportion is drawn as a point with its interval.

The checks on every figure of every built-in study measure what is drawn (Agg
bounding boxes, the SVG's text), not what the figure specs ask for."""

import unicodedata
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from satsim import plotting, saturation
from satsim.study import discover, run_study


# ------------------------------------------------------------------ measuring helpers
def _drawn(fig):
    """Draw ``fig`` with the Agg renderer (as the PNG output does); return the renderer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _tick_label_boxes(fig):
    """(axes index, axis name, text, bbox) of every tick label the figure shows: a
    non-empty, visible label of a tick inside its axes' view."""
    renderer = _drawn(fig)
    out = []
    for n, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        box = ax.get_window_extent(renderer)
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = (box.x0, box.x1) if axis.axis_name == "x" else (box.y0, box.y1)
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                for label in (tick.label1, tick.label2):
                    if not (label.get_visible() and label.get_text()):
                        continue
                    bb = label.get_window_extent(renderer)
                    centre = (bb.x0 + bb.x1) / 2 if axis.axis_name == "x" else (bb.y0 + bb.y1) / 2
                    if lo - 1 <= centre <= hi + 1:  # ticks outside the view are not drawn
                        out.append((n, axis.axis_name, label.get_text(), bb))
    return out


def _overlapping_tick_labels(fig):
    """Pairs of tick labels whose boxes overlap, anywhere in the figure (the last
    label of one panel against the first of the next included)."""
    boxes = _tick_label_boxes(fig)
    return [(a[:3], b[:3]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
            if a[3].overlaps(b[3])]


def _dejavu_charmap():
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans"),
                                 fallback_to_default=False)
    return FT2Font(path).get_charmap()


def _svg_texts(svg):
    """The text of every ``<text>`` element of an SVG (mathtext's spans included)."""
    root = ET.fromstring(svg)
    return ["".join(el.itertext()) for el in root.iter() if el.tag.split("}")[-1] == "text"]


def _unrenderable(svg, charmap):
    """(character, text) for every character of the SVG's text that DejaVu Sans does not
    have, or that is a combining mark (drawn as a separate "◌" mark); the whitespace
    that lays out mathtext's spans is not drawn."""
    bad = []
    for text in _svg_texts(svg):
        for c in text:
            if c.isspace() and c != "\u00a0":
                continue
            if (unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me")
                    or ord(c) not in charmap):
                bad.append((f"U+{ord(c):04X}", text.strip()))
    return bad


# ------------------------------------------------------------------ every study's figures
BUILTIN = [name for name, info in discover().items() if info.origin == "built-in"]


@pytest.fixture(scope="module")
def study_figures(tmp_path_factory):
    """(study-figure id, rendered Figure) for every figure of every built-in study at
    test scale (studies run once for the module; trainability takes tens of seconds)."""
    out = tmp_path_factory.mktemp("figures")
    figures = []
    for name in BUILTIN:
        res = run_study(name, scale="test", seed=0, out=out, reuse=True)
        figures += [(f"{name}-{spec.id}", spec.render(res.tables)) for spec in res.figures]
    return figures


def test_every_built_in_study_is_checked():
    assert {"z_distribution", "saturation", "trainability"} <= set(BUILTIN)


@pytest.mark.slow
def test_no_two_tick_labels_overlap_in_any_report_figure(study_figures):
    overlaps = {fid: pairs for fid, fig in study_figures
                if (pairs := _overlapping_tick_labels(fig))}
    assert not overlaps
    assert all(_tick_label_boxes(fig) for _, fig in study_figures)  # labels were measured


@pytest.mark.slow
def test_every_character_of_every_report_figure_is_in_the_font(study_figures):
    charmap = _dejavu_charmap()
    bad = {fid: chars for fid, fig in study_figures
           if (chars := _unrenderable(plotting.to_svg(fig, prefix=fid), charmap))}
    assert not bad
    assert all(_svg_texts(plotting.to_svg(fig, prefix="x")) for _, fig in study_figures)


def test_the_font_check_catches_a_combining_circumflex():
    # mathtext's \hat is a combining U+0302 too: it is no way out
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.subplots()
    ax.set_xlabel(r"$\hat{L}$")
    ax.set_ylabel("L\u0302")
    bad = _unrenderable(plotting.to_svg(fig), _dejavu_charmap())
    assert [code for code, _ in bad] == ["U+0302", "U+0302"]


def test_a_combining_character_in_drawn_text_is_refused_and_composed_ones_kept():
    kw = dict(id="f", table="t", title="T", caption="L\u0302 in the caption is HTML",
              x="x", y="y")
    with pytest.raises(ValueError, match=r"`measured_label` has the combining character "
                                         r"U\+0302 .* after 'L'.*write it in words"):
        plotting.LinePlot(**kw, measured_label="trainable depth L\u0302")
    with pytest.raises(ValueError, match="`labels` has the combining"):
        plotting.SaturationHero(id="h", table="t", title="T", caption="c",
                                labels=("fine", "x\u0303"))
    spec = plotting.LinePlot(**{**kw, "title": "Cafe\u0301"})  # e + U+0301 composes to é
    assert spec.title == "Caf\u00e9"


# ------------------------------------------------------------------ ticks
def _sweep_table(fan_in=(10, 20, 50, 100, 200, 500, 1000)):
    rows = [{"fan_in": n, "activation": act, "initializer": init,
             "y": 0.1 + 0.2 * k + 0.05 * np.log10(n)}
            for act in ("sigmoid", "tanh", "relu")
            for k, init in enumerate(("standard_normal", "he_normal"))
            for n in fan_in]
    return {"t": pd.DataFrame(rows)}


def _xtick_labels(fig, ax):
    return [text for n, name, text, _ in _tick_label_boxes(fig)
            if fig.axes[n] is ax and name == "x"]


def test_log_ticks_thin_out_in_narrow_facets_and_stay_fine_when_there_is_room():
    spec = dict(id="f", table="t", title="T", caption="c", x="fan_in", y="y",
                hue="initializer", logx=True)
    narrow = plotting.LinePlot(**spec, col="activation", size=(7.2, 3.2)).render(_sweep_table())
    assert not _overlapping_tick_labels(narrow)
    assert _xtick_labels(narrow, narrow.axes[0]) == ["10", "100", "1000"]
    wide = plotting.LinePlot(**spec, size=(9.0, 3.2)).render(_sweep_table())
    assert not _overlapping_tick_labels(wide)
    assert _xtick_labels(wide, wide.axes[0]) == ["10", "20", "50", "100", "200", "500", "1000"]


def test_many_decades_keep_powers_of_ten_and_never_crowd():
    t = pd.DataFrame({"x": np.arange(1, 41), "y": np.geomspace(1e-12, 1.0, 40)})
    fig = plotting.LinePlot(id="f", table="t", title="T", caption="c", x="x", y="y",
                            logy=True, size=(3.0, 2.0)).render({"t": t})
    labels = [text for _, name, text, _ in _tick_label_boxes(fig) if name == "y"]
    assert len(labels) >= 2 and not _overlapping_tick_labels(fig)
    assert all(float(v) == 10.0 ** round(np.log10(float(v))) for v in labels)


def test_linear_ticks_of_small_panels_do_not_touch():
    rows = [{"step": s, "net": net, "acc": 0.1 + 0.001 * s} for net in ("a", "b", "c")
            for s in range(0, 12_001, 1_500)]
    fig = plotting.LinePlot(id="f", table="t", title="T", caption="c", x="step", y="acc",
                            col="net", size=(5.0, 2.4)).render({"t": pd.DataFrame(rows)})
    assert not _overlapping_tick_labels(fig)
    assert len(_xtick_labels(fig, fig.axes[0])) >= 2


def test_log_axis_within_one_decade_gets_round_linear_ticks():
    t = pd.DataFrame({"x": [1.0, 2.0, 4.0], "y": [4.0, 4.5, 5.0]})
    fig = plotting.LinePlot(id="f", table="t", title="T", caption="c", x="x", y="y",
                            logy=True).render({"t": t})
    labels = [text for _, name, text, _ in _tick_label_boxes(fig) if name == "y"]
    assert len(labels) >= 3 and not _overlapping_tick_labels(fig)


# ------------------------------------------------------------------ coinciding series
def _coinciding_table():
    x = np.array([10, 100, 1000])
    rows = []
    for init, y in (("standard_normal", [0.06, 0.5, 0.84]), ("nielsen", [1e-4, 1.5e-4, 2e-4]),
                    ("lecun_uniform", [1e-4, 1.5e-4, 2e-4]), ("he_normal", [0.1, 0.1, 0.1])):
        rows += [{"fan_in": a, "initializer": init, "y": b, "pred": b}
                 for a, b in zip(x, y, strict=True)]
    return {"t": pd.DataFrame(rows)}


def _pattern(line):
    # the dash pattern as given, before matplotlib scales it by the line width
    return line._unscaled_dash_pattern


def _dash_coverage(pattern):
    """Which part of one period of the path a dash pattern (offset, (on, off)) draws:
    a boolean mask, finely sampled."""
    offset, (on, off) = pattern
    period = on + off
    t = np.linspace(0, period, 600, endpoint=False)
    return ((t + offset) % period) < on


def test_identical_series_take_turns_so_both_show():
    spec = plotting.LinePlot(id="f", table="t", title="T", caption="c", x="fan_in", y="y",
                             hue="initializer", ref="pred", logx=True)
    fig = spec.render(_coinciding_table())
    ax = fig.axes[0]
    nielsen, lecun = (plotting.color_for(n) for n in ("nielsen", "lecun_uniform"))
    solid = [ln for ln in ax.get_lines() if ln.get_zorder() == 2]
    measured = {ln.get_color(): ln for ln in solid}
    # the two identical lines alternate dashes that tile the path between them
    a, b = (_dash_coverage(_pattern(measured[c])) for c in (nielsen, lecun))
    assert a.any() and b.any() and not (a & b).any() and (a | b).all()
    # their markers nest: the one drawn first is larger
    assert measured[nielsen].get_markersize() > measured[lecun].get_markersize()
    # lines apart from the others stay solid
    for name in ("standard_normal", "he_normal"):
        assert measured[plotting.color_for(name)].get_linestyle() == "-"
    # the dashed predictions take turns too, with gaps: neither hides the other
    refs = {ln.get_color(): ln for ln in ax.get_lines() if ln.get_zorder() == 3}
    a, b = (_dash_coverage(_pattern(refs[c])) for c in (nielsen, lecun))
    assert a.any() and b.any() and not (a & b).any() and not (a | b).all()
    assert refs[plotting.color_for("he_normal")].get_linestyle() == "--"
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[:4] == ["standard_normal", "nielsen", "lecun_uniform", "he_normal"]
    assert texts[-1] == "coinciding lines: colours alternate"
    # the legend shows each series as drawn alone: solid, same marker size
    assert all(h.get_linestyle() == "-" for h in legend.legend_handles[:4])
    assert len({h.get_markersize() for h in legend.legend_handles[:4]}) == 1


def test_series_apart_are_drawn_plainly_and_the_legend_has_no_key():
    t = _coinciding_table()["t"]
    t = t[t.initializer != "lecun_uniform"]
    fig = plotting.LinePlot(id="f", table="t", title="T", caption="c", x="fan_in", y="y",
                            hue="initializer", logx=True).render({"t": t})
    assert all(ln.get_linestyle() == "-" for ln in fig.axes[0].get_lines())
    assert len({ln.get_markersize() for ln in fig.axes[0].get_lines()}) == 1
    assert "coinciding" not in " ".join(t.get_text() for t in fig.legends[0].get_texts())


def test_coincidence_is_judged_at_the_drawn_scale():
    # 1e-4 and 2e-4 are the same height on a linear axis that reaches 0.84, and a
    # factor of two apart on a log axis
    t = _coinciding_table()["t"].copy()
    t.loc[t.initializer == "lecun_uniform", "y"] *= 2
    spec = dict(id="f", table="t", title="T", caption="c", x="fan_in", y="y",
                hue="initializer")
    linear = plotting.LinePlot(**spec).render({"t": t}).axes[0]
    assert sorted(ln.get_linestyle() for ln in linear.get_lines()).count("--") == 2
    log = plotting.LinePlot(**spec, logy=True).render({"t": t}).axes[0]
    assert all(ln.get_linestyle() == "-" for ln in log.get_lines())


@pytest.mark.parametrize("k", [2, 3, 5])
def test_interleaved_dashes_tile_the_path(k):
    for gaps in (False, True):
        masks = [_dash_coverage(plotting._base._interleave(j, k, gaps=gaps)) for j in range(k)]
        assert (np.sum(masks, axis=0) <= 1).all()  # no two draw the same stretch
        assert all(m.any() for m in masks)
        assert np.sum(masks, axis=0).all() != gaps  # without gaps they cover the path


# ------------------------------------------------------------------ labelled points
def test_interval_plot_labels_every_row_and_keeps_the_prediction_visible():
    names = [f"init_{i}" for i in range(16)]
    t = pd.DataFrame({"name": names, "est": np.geomspace(1, 22, 16)})
    t["lo"], t["hi"], t["pred"] = t.est * 0.95, t.est * 1.05, t.est * 1.01
    spec = plotting.IntervalPlot(id="f", table="t", title="T", caption="c", category="name",
                                 value="est", interval=("lo", "hi"), marker="pred",
                                 logx=True, size=(6.4, 4.6))
    fig = spec.render({"t": t})
    ax = fig.axes[0]
    assert [lab.get_text() for lab in ax.get_yticklabels()] == names  # top to bottom
    assert ax.get_xscale() == "log" and not _overlapping_tick_labels(fig)
    assert plotting.figure_from_dict(spec.to_dict()) == spec
    bad = spec.to_dict() | {"interval": ["lo", "nope"]}
    with pytest.raises(ValueError, match=r"has no column\(s\) \['nope'\]"):
        plotting.figure_from_dict(bad).render({"t": t})
    with pytest.raises(ValueError, match="`logx` needs positive values; column 'lo'"):
        spec.render({"t": t.assign(lo=t.lo - 2)})


# ------------------------------------------------------------------ a proportion's plot
@pytest.mark.parametrize("sd, n", [(22.4, 50_000), (1.22, 200_000), (0.5, 10_000)])
def test_a_proportion_is_a_point_with_its_interval_on_an_axis_scaled_to_it(sd, n):
    res = saturation.fraction(np.random.default_rng(0).normal(0, sd, n))
    ax = res.plot()
    lo, hi = ax.get_xlim()
    width = res.ci_high - res.ci_low
    # the interval fills most of the axis (not a sliver of 0 to 1), and the axis does
    # not run into impossible proportions
    assert lo <= res.ci_low and res.ci_high <= hi and width >= 0.55 * (hi - lo)
    assert lo >= -0.06 * (hi - lo) and hi <= 1 + 0.06 * (hi - lo)
    assert not ax.patches  # no shaded span
    (point,) = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert point.get_xdata()[0] == res.estimate
    text = " ".join(t.get_text() for t in ax.texts)
    assert f"estimate {res.estimate:.3g}" in text and f"{res.ci_high:.3g}" in text
    assert not _overlapping_tick_labels(ax.figure)
    labels = [lab for _, name, lab, _ in _tick_label_boxes(ax.figure) if name == "x"]
    assert len(labels) >= 3 and all(len(lab) <= 5 for lab in labels)  # "0.00015" is not
    assert not ax.xaxis.get_offset_text().get_text()  # no "1e-4" in a corner
    if res.ci_high < 0.01:
        assert "in units of 10⁻" in ax.get_xlabel()
