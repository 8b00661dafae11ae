"""Interactive figures for the HTML report (Bokeh, its JavaScript inline: works offline).

Two explorers for a lecture:

* :func:`saturation_explorer` — sliders for the weight variance σ_w² (log scale),
  the number of inputs n_in and how many of them are 1; the page redraws the density
  of z = Σ w_j x_j + b against σ(z) and σ′(z) and updates Var z, the saturated
  fraction P(|z| > z_sat) and the learning-slowdown factor E σ′(z) / σ′(0).  All of it
  is computed in the page from the closed forms (Var z = active·σ_w² + σ_b²; the
  saturated fraction 2Φ(−z_sat/s) = erfc(z_sat/(s√2)); E σ′(z) by Simpson's rule),
  with z_sat taken from :meth:`satsim.activations.Activation.saturation_bounds`, so the
  page shows satsim's numbers (a browser test checks it against scipy).
* :func:`phase_explorer` — a slider for σ_w² over the tanh phase diagram at a fixed
  σ_b², showing q*, χ1 and 6ξ_c from :mod:`satsim.meanfield` (precomputed on a grid;
  the page only looks values up).

Each returns an :class:`Interactive`: the ``<div>`` and ``<script>`` that Bokeh's
``components`` writes; the document model pairs it with a static matplotlib figure of
the same content, which the PDF shows instead.  :func:`resources` is the inline
JavaScript the page needs once.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from satsim._namespace import public_dir

__all__ = ["Interactive", "phase_explorer", "phase_table", "resources", "saturation_explorer"]

__dir__ = public_dir(globals())


@dataclasses.dataclass(frozen=True)
class Interactive:
    """An interactive figure: Bokeh's markup (``div`` where it shows, ``script`` that
    builds it)."""

    id: str
    title: str
    caption: str
    div: str
    script: str


def resources() -> str:
    """The inline ``<script>`` blocks (BokehJS and its widgets) the explorers need.

    Returns
    -------
    str
        HTML ``<script>`` elements holding BokehJS and its widgets library inline (no
        CDN), to be written once in the page's head.

    Raises
    ------
    ImportError
        Bokeh is not installed.
    """
    from bokeh.resources import Resources

    return Resources(mode="inline", components=["bokeh", "bokeh-widgets"]).render_js()


# JavaScript shared by the callbacks: erfc to ~1e-7 relative error (Numerical Recipes'
# Chebyshev fit, "erfcc"), enough for the 3–4 significant digits shown.
_ERFC = """
function erfc(x) {
  const z = Math.abs(x), t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 +
    t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 +
    t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}
function fmt(v, digits) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) {
    return v.toExponential(digits - 1).replace("e-", "e−").replace("e+", "e");
  }
  return Number(v.toPrecision(digits)).toString();
}
function pct(p) {  // a percentage to 3 significant digits, as the report prints it
  return fmt(100 * p, 3) + "%";
}
"""

_SATURATION_JS = _ERFC + """
const n = Math.round(n_in.value);
if (active.end !== n) { active.end = n; }
const k = Math.min(Math.round(active.value), n);
const sw2 = Math.pow(10, log_sw2.value);
const var_z = k * sw2 + bias_variance;
const s = Math.sqrt(var_z);
const sat = erfc(z_sat / (s * Math.SQRT2));
// E σ'(z), z ~ N(0, s²): Simpson's rule on [-60, 60] (σ'(60) ≈ 1e-26), h = 0.005
const m = 24000, h = 120 / m;
let acc = 0;
for (let i = 0; i <= m; i++) {
  const zz = -60 + i * h;
  const sg = 1 / (1 + Math.exp(-zz));
  const f = sg * (1 - sg) * Math.exp(-0.5 * zz * zz / var_z);
  acc += (i === 0 || i === m) ? f : (i % 2 ? 4 * f : 2 * f);
}
const mean_grad = acc * h / 3 / Math.sqrt(2 * Math.PI * var_z);
const slowdown = mean_grad / 0.25;
// redraw: density of z scaled to peak 1, shaded where saturated
const half = Math.max(10, 4 * s);
const xs = [], dens = [], satd = [], sig = [], dsig = [];
for (let i = 0; i <= 800; i++) {
  const x = -half + 2 * half * i / 800;
  const d = Math.exp(-0.5 * x * x / var_z);
  const sg = 1 / (1 + Math.exp(-x));
  xs.push(x); dens.push(d); satd.push(Math.abs(x) > z_sat ? d : 0);
  sig.push(sg); dsig.push(4 * sg * (1 - sg));
}
source.data = {x: xs, density: dens, saturated: satd, sigmoid: sig, dsigmoid: dsig};
xr.start = -half; xr.end = half;
readout.text = "<b>σ<sub>w</sub><sup>2</sup> = " + fmt(sw2, 4) + "</b> (σ<sub>w</sub> = " +
  fmt(Math.sqrt(sw2), 4) + "), n<sub>in</sub> = " + n + ", " + k + " inputs equal to 1, bias " +
  "N(0, " + fmt(bias_variance, 4) + ")<br>Var z = " + k + "·" + fmt(sw2, 4) + " + " +
  fmt(bias_variance, 4) + " = <b>" + fmt(var_z, 4) + "</b>, std " + fmt(s, 4) +
  "<br>saturated (|z| &gt; " + fmt(z_sat, 4) + ", σ′(z) &lt; 0.01): <b id=\\"sat-value\\">" +
  pct(sat) + "</b><br>learning-slowdown factor E σ′(z) / σ′(0): <b id=\\"slow-value\\">" +
  fmt(slowdown, 3) + "</b> (gradients through this neuron are on average " +
  fmt(slowdown, 3) + " × those of a neuron at z = 0)";
"""


def saturation_explorer(*, n_in: int = 1000, active: int = 500, bias_variance: float = 1.0,
                        epsilon: float = 0.01) -> Interactive:
    """Sliders for σ_w², n_in and active inputs over the density of z against σ and σ′.

    Parameters
    ----------
    n_in, active : int
        Starting number of inputs and how many are 1 (Nielsen's 1000 and 500).
    bias_variance : float
        Var b (Nielsen's N(0, 1) bias: 1).
    epsilon : float
        The saturation criterion of :func:`satsim.saturation.fraction` (sigmoid
        output within ``epsilon`` of 0 or 1).

    Returns
    -------
    Interactive
    """
    from bokeh.layouts import column, row
    from bokeh.models import BoxAnnotation, Button, ColumnDataSource, CustomJS, Div, Range1d, Slider
    from bokeh.plotting import figure

    from satsim import activations

    _, hi = activations.get("sigmoid").saturation_bounds("output", epsilon=epsilon)
    z_sat = float(hi)
    source = ColumnDataSource(data={"x": [], "density": [], "saturated": [], "sigmoid": [],
                                    "dsigmoid": []})
    xr = Range1d(-80, 80)
    p = figure(height=300, sizing_mode="stretch_width", x_range=xr, y_range=(0, 1.05),
               x_axis_label="z = Σ w_j x_j + b", y_axis_label="value",
               title="z against the sigmoid", toolbar_location=None, name="sat_plot")
    p.add_layout(BoxAnnotation(right=-z_sat, fill_color="#d55e00", fill_alpha=0.08))
    p.add_layout(BoxAnnotation(left=z_sat, fill_color="#d55e00", fill_alpha=0.08))
    p.varea(x="x", y1=0, y2="saturated", source=source, fill_color="#d55e00", fill_alpha=0.45,
            legend_label="saturated share of z")
    p.line(x="x", y="density", source=source, color="#0173b2", line_width=2.5,
           legend_label="density of z (peak = 1)")
    p.line(x="x", y="sigmoid", source=source, color="black", line_width=2,
           legend_label="σ(z)")
    p.line(x="x", y="dsigmoid", source=source, color="black", line_width=2, line_dash="dashed",
           legend_label="4σ′(z) (peak = 1)")
    p.legend.location = "top_left"
    p.legend.background_fill_alpha = 0.85
    log_sw2 = Slider(start=-4, end=1, step=0.05, value=0.0, title="log10 σ_w² (weight variance)",
                     name="log_sigma_w2", sizing_mode="stretch_width")
    n_slider = Slider(start=10, end=2000, step=10, value=n_in, title="n_in (inputs)",
                      name="n_in", sizing_mode="stretch_width")
    act_slider = Slider(start=0, end=n_in, step=1, value=active,
                        title="inputs equal to 1 (the rest are 0)", name="active",
                        sizing_mode="stretch_width")
    readout = Div(text="", name="readout", sizing_mode="stretch_width")
    args = {"source": source, "xr": xr, "log_sw2": log_sw2, "n_in": n_slider,
            "active": act_slider, "readout": readout, "z_sat": z_sat,
            "bias_variance": float(bias_variance)}
    update = CustomJS(args=args, code=_SATURATION_JS)
    for s in (log_sw2, n_slider, act_slider):
        s.js_on_change("value", update)
    b1 = Button(label="N(0, 1) weights", name="preset_standard_normal", width=170)
    b2 = Button(label="N(0, 1/n_in) weights", name="preset_scaled", width=170)
    b1.js_on_click(CustomJS(args={"s": log_sw2}, code="s.value = 0;"))
    b2.js_on_click(CustomJS(args={"s": log_sw2, "n": n_slider},
                            code="s.value = -Math.log10(Math.round(n.value));"))
    layout = column(row(b1, b2), log_sw2, n_slider, act_slider, readout, p,
                    sizing_mode="stretch_width", name="saturation_explorer")
    script, div = _components(layout, CustomJS(args=args, code=_SATURATION_JS))
    return Interactive(
        id="explore-saturation", title="Try it: the weight scale against the sigmoid",
        caption=(f"Move σ_w² (or press a preset): the page recomputes Var z = active·σ_w² + "
                 f"σ_b², the saturated fraction P(|z| > {z_sat:.4g}) = erfc(z_sat / (s√2)) "
                 "and the mean slope E σ′(z) relative to σ′(0) = 1/4, from the closed forms "
                 "(the same ones satsim uses). The shaded band is where a unit is saturated."),
        div=div, script=script)


def _components(layout: Any, on_ready: Any) -> tuple[str, str]:
    """Bokeh's ``<script>`` and ``<div>`` for ``layout``, running ``on_ready`` once the
    page has loaded (so the first view is drawn by the same code as every later one)."""
    from bokeh.document import Document
    from bokeh.embed import components

    doc = Document()
    doc.add_root(layout)
    doc.js_on_event("document_ready", on_ready)
    return components(layout)


def phase_explorer(table: pd.DataFrame, *, bias_variance: float, critical: float,
                   ) -> Interactive:
    """A σ_w² slider over the tanh phase diagram: q*, χ1 and 6ξ_c at each value.

    Parameters
    ----------
    table : DataFrame
        Columns ``sigma_w2``, ``q_star``, ``chi1``, ``six_xi_c`` on a grid of σ_w²
        (see :func:`phase_table`).
    bias_variance : float
        The σ_b² the grid was computed at.
    critical : float
        The critical σ_w² (χ1 = 1) at that σ_b².

    Returns
    -------
    Interactive
    """
    from bokeh.layouts import column, row
    from bokeh.models import ColumnDataSource, CustomJS, Div, Slider, Span
    from bokeh.plotting import figure

    data = {c: table[c].to_numpy(float).tolist() for c in ("sigma_w2", "q_star", "chi1",
                                                             "six_xi_c")}
    src = ColumnDataSource(data=data)
    lo, hi = float(table.sigma_w2.min()), float(table.sigma_w2.max())
    p1 = figure(height=260, sizing_mode="stretch_width", x_range=(lo, hi),
                x_axis_label="σ_w²", y_axis_label="χ1", title="χ1 (order < 1 < chaos)",
                toolbar_location=None)
    p1.line("sigma_w2", "chi1", source=src, line_width=2, color="#0173b2")
    p1.add_layout(Span(location=1.0, dimension="width", line_dash="dotted", line_color="grey"))
    p2 = figure(height=260, sizing_mode="stretch_width", x_range=p1.x_range, y_axis_type="log",
                x_axis_label="σ_w²", y_axis_label="6ξ_c (layers)",
                title="trainable depth scale 6ξ_c", toolbar_location=None)
    p2.line("sigma_w2", "six_xi_c", source=src, line_width=2, color="#de8f05")
    marks = []
    for p in (p1, p2):
        p.add_layout(Span(location=critical, dimension="height", line_color="grey",
                          line_dash="dashed"))
        mark = Span(location=1.0, dimension="height", line_color="#d55e00", line_width=2)
        p.add_layout(mark)
        marks.append(mark)
    slider = Slider(start=lo, end=hi, step=float(np.round(np.diff(table.sigma_w2).min(), 6)),
                    value=1.0 if lo <= 1.0 <= hi else lo, title="σ_w² (weight variance × fan_in)",
                    name="phase_sigma_w2", sizing_mode="stretch_width")
    readout = Div(text="", name="phase_readout", sizing_mode="stretch_width")
    code = _ERFC + """
const xs = src.data.sigma_w2;
let best = 0;
for (let i = 1; i < xs.length; i++) {
  if (Math.abs(xs[i] - slider.value) < Math.abs(xs[best] - slider.value)) best = i;
}
for (const m of marks) { m.location = xs[best]; }
const chi = src.data.chi1[best];
const phase = Math.abs(chi - 1) < 0.005 ? "critical" : (chi < 1 ? "ordered" : "chaotic");
readout.text = "<b>σ<sub>w</sub><sup>2</sup> = " + fmt(xs[best], 4) +
  "</b>, σ<sub>b</sub><sup>2</sup> = " + fmt(sb2, 4) + ": q* = <b>" +
  fmt(src.data.q_star[best], 4) + "</b>, χ1 = <b>" + fmt(chi, 4) +
  "</b> (" + phase + "), 6ξ<sub>c</sub> = <b>" + fmt(src.data.six_xi_c[best], 4) +
  "</b> layers (critical σ<sub>w</sub><sup>2</sup> = " + fmt(crit, 4) + ")";
"""
    cb = CustomJS(args={"src": src, "slider": slider, "marks": marks, "readout": readout,
                        "sb2": float(bias_variance), "crit": float(critical)}, code=code)
    slider.js_on_change("value", cb)
    layout = column(slider, readout, row(p1, p2, sizing_mode="stretch_width"),
                    sizing_mode="stretch_width", name="phase_explorer")
    script, div = _components(layout, cb)
    return Interactive(
        id="explore-phase", title="Try it: the tanh phase diagram",
        caption=(f"Tanh networks with σ_b² = {bias_variance:g}: move σ_w² to see the fixed "
                 "point q* of the length map, χ1 (the mean squared slope, whether signals "
                 "shrink or grow layer to layer) and 6ξ_c, the depth Schoenholz et al. (2017) "
                 f"found trainable. χ1 = 1 at σ_w² = {critical:.4g} (dashed), where ξ_c "
                 "diverges. Values from satsim.meanfield on a grid."),
        div=div, script=script)


def phase_table(*, bias_variance: float = 0.05, lo: float = 0.5, hi: float = 4.0,
                step: float = 0.01) -> pd.DataFrame:
    """q*, χ1 and 6ξ_c of tanh on a grid of σ_w² (the phase explorer's data).

    Parameters
    ----------
    bias_variance : float, default 0.05
        σ_b², fixed along the grid (≥ 0).
    lo, hi : float, default 0.5, 4.0
        The grid's first and last σ_w² (> 0).
    step : float, default 0.01
        Spacing of the grid (values rounded to 10 decimals).

    Returns
    -------
    pandas.DataFrame
        One row per σ_w²: ``sigma_w2``, ``q_star`` (:func:`satsim.meanfield.fixed_point`
        from q0 = 1), ``chi1`` (:func:`satsim.meanfield.chi1`) and ``six_xi_c``
        (6 ξ_c from :func:`satsim.meanfield.depth_scales`, inf at criticality χ1 = 1).

    Raises
    ------
    ValueError
        From :mod:`satsim.meanfield`: a negative ``bias_variance`` or a grid value
        σ_w² ≤ 0.
    """
    from satsim import meanfield

    sw = np.round(np.arange(lo, hi + step / 2, step), 10)
    q = np.asarray(meanfield.fixed_point(sw, bias_variance), dtype=float)
    chi = np.asarray(meanfield.chi1(sw, bias_variance), dtype=float)
    _, xi_c = meanfield.depth_scales(sw, bias_variance)
    return pd.DataFrame({"sigma_w2": sw, "q_star": q, "chi1": chi,
                         "six_xi_c": 6 * np.asarray(xi_c, dtype=float)})
