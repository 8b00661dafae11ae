r"""The report's teaching layer: the seed's three questions, answered before the audit.

A student reading Nielsen's chapter 3 gets stuck on three steps of the argument for
scaling initial weights by 1/√n_in.  Each :class:`Lesson` answers one, in the same
shape: the reasoning in a few lines of mathematics, the one measurement from the
studies that confirms it (with its interval and its setting), the one figure that
shows it, and a link to the study that audits it.

1. Why do variances of independent sums add?  (:mod:`satsim.studies.variance_additivity`)
2. Why is z ~ N(0, 501) under N(0, 1) weights?  (:mod:`satsim.studies.z_distribution`)
3. Why does that saturate hidden neurons and slow learning, and what does
   cross-entropy fix?  (:mod:`satsim.studies.saturation`,
   :mod:`satsim.studies.learning_slowdown`)

A fourth, shorter section carries the argument into depth (the tanh phase diagram).
Texts are reStructuredText rendered by :mod:`satsim.report.prose`; the formulas are
written in the LaTeX that both docutils' MathML converter and matplotlib's mathtext
read.  A lesson whose study was not run is left out, never shown without its
measurement.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from satsim._namespace import public_dir
from satsim.report._format import fmt, pct
from satsim.report.prose import escape as _e

__all__ = ["Lesson", "lessons"]

__dir__ = public_dir(globals())


@dataclasses.dataclass
class Lesson:
    """One question answered: reasoning, one measurement, its figure(s), the audit link.

    ``figures`` are ``(study, figure spec, tables)`` triples, drawn by the document
    builder; ``interactive`` names explorers of :mod:`satsim.report.interactive`
    (``"saturation"``, ``"phase"``) shown on screen in place of the static figure
    with the same ``replaces`` id.
    """

    id: str
    number: int
    question: str
    #: the answer in one sentence (reST), for the report's first screen
    short: str
    #: the measurement in a few words with its interval (plain text)
    headline: str
    reasoning: str
    measurement: str
    studies: list[tuple[str, str]]
    figures: list[tuple[str, Any, dict]] = dataclasses.field(default_factory=list)
    interactive: list[str] = dataclasses.field(default_factory=list)
    after: str = ""


def _figure(res: Any, fid: str) -> tuple[str, Any, dict] | None:
    for spec in res.figures:
        if spec.id == fid:
            return (res.name, spec, res.tables)
    return None


# ----------------------------------------------------------------------- lesson 1
_Q1 = r"""
For any two random variables, expanding the square in the definition of the variance
gives

.. math::

   \operatorname{Var}(X+Y) = \operatorname{Var}X + \operatorname{Var}Y
   + 2\operatorname{Cov}(X,Y),

because :math:`E[(X-EX+Y-EY)^2]` has the two squares and twice the cross term
:math:`E[(X-EX)(Y-EY)] = \operatorname{Cov}(X,Y)`.  When X and Y are independent,
the expectation of the product is the product of the expectations,
:math:`E[X-EX]\,E[Y-EY] = 0 \cdot 0`: the cross term vanishes.  With n summands there
are n(n − 1)/2 cross terms and each vanishes the same way:

.. math::

   \operatorname{Var}\left(\sum_j X_j\right) = \sum_j \operatorname{Var}X_j
   \quad \text{when every } \operatorname{Cov}(X_j, X_k) = 0.

Only the covariances have to be zero (independence is more than needed).  In
z = Σ w_j x_j + b the terms w_j x_j are independent when the weights are drawn
independently, so their variances add.  Where summands share a component, the
covariance term is what breaks the identity.
"""


def _lesson1(results: Mapping[str, Any]) -> Lesson | None:
    res = results.get("variance_additivity")
    if res is None or "cases" not in res.tables:
        return None
    cases = res.tables["cases"]
    alpha = float(res.params.get("alpha", 0.05))
    n = res.params.get("n_draws")
    # the argument's own setting: one fixed input, random weights
    pick = cases[cases.case == "w·x over weights"]
    row = (pick if len(pick) else cases[~cases.dependent.astype(bool)]).iloc[0]
    indep = cases[~cases.dependent.astype(bool)]
    rejected = indep[indep.reject.astype(bool)]
    text = (f"**Measured:** for the products w_j·x_j of one fixed input with random weights "
            f"(case “{_e(row.case)}”, {fmt(n)} draws of the sum), the ratio "
            f"R = Var(Σ)/Σ Var = **{fmt(row.ratio)}**, 95% CI [{fmt(row.ci_low)}, "
            f"{fmt(row.ci_high)}]: the variances add.  "
            f"A test at α = {fmt(alpha)} is built to reject a true identity about one "
            f"time in {round(1 / alpha)}: here {len(rejected)} of the {len(indep)} "
            "independent cases " + ("was" if len(rejected) == 1 else "were") + " rejected")
    if len(rejected):
        text += " (" + "; ".join(f"“{_e(r.case)}”, p = {fmt(r.p_value, 2)}"
                                 for r in rejected.itertuples()) + ")"
    cal = res.tables.get("calibration")
    if cal is not None and len(cal):
        c = cal.iloc[0]
        text += (f", and over {fmt(c.replications)} fresh replications of "
                 f"“{_e(c.null_family)}” the test rejected {pct(c['size'])} of them "
                 f"(95% CI [{pct(c.size_ci_low)}, {pct(c.size_ci_high)}]), as a "
                 f"{fmt(100 * alpha)}% test should")
    text += "."
    dep = cases[cases.dependent.astype(bool)]
    if len(dep):
        d = dep.iloc[0]
        text += (f"  A dependent counterexample (“{_e(d.case)}”) gives R = {fmt(d.ratio)}, "
                 f"CI [{fmt(d.ci_low)}, {fmt(d.ci_high)}]: its covariance term is "
                 f"{fmt(d.covariance_term)}.")
    fig = _figure(res, "ratios")
    return Lesson(id="q1", number=1, question="Why do variances of independent sums add?",
                  short="Because independence makes every covariance term of the expanded "
                        "square zero: only the variances are left.",
                  headline=f"R = Var(Σ)/Σ Var = {fmt(row.ratio)}, 95% CI [{fmt(row.ci_low)}, "
                           f"{fmt(row.ci_high)}]",
                  reasoning=_Q1, measurement=text, figures=[fig] if fig else [],
                  studies=[(res.name, res.title)])


# ----------------------------------------------------------------------- lesson 2
_Q2 = r"""
Nielsen's neuron has n_in = 1000 inputs, 500 equal to 1 and 500 equal to 0, and
weights and bias drawn from N(0, 1).  The terms :math:`w_j x_j` are independent, so by
question 1 their variances add, and :math:`\operatorname{Var}(w_j x_j) = x_j^2
\operatorname{Var} w_j`:

.. math::

   \operatorname{Var} z = \sum_{j=1}^{1000} x_j^2 \operatorname{Var} w_j
   + \operatorname{Var} b = 500 \cdot 1 + 500 \cdot 0 + 1 = 501.

Its mean is 0, and a sum of independent normal variables is normal, so
:math:`z \sim N(0, 501)`: a standard deviation of :math:`\sqrt{501} \approx 22.4`.
(For weights that are not normal, uniform say, the central limit theorem makes z
approximately normal; the CLT study measures how quickly.)  Scaling the weights to
N(0, 1/n_in) gives :math:`\operatorname{Var} z = 500/1000 + 1 = 1.5`, a standard
deviation of about 1.22.
"""


def _lesson2(results: Mapping[str, Any]) -> Lesson | None:
    res = results.get("z_distribution")
    if res is None or "initializers" not in res.tables:
        return None
    t = res.tables["initializers"].set_index("initializer")
    if "standard_normal" not in t.index:
        return None
    r = t.loc["standard_normal"]
    level = float(res.params.get("confidence_level", 0.95))
    n_in, active = res.params.get("n_in", 1000), res.params.get("active", 500)
    text = (f"**Measured:** the standard deviation of z over {fmt(res.params.get('n_samples'))} "
            f"simulated neurons (n_in = {n_in}, {active} inputs equal to 1, N(0, 1) weights "
            f"and bias) is **{fmt(r.simulated_std)}**, {fmt(100 * level)}% CI "
            f"[{fmt(r.ci_low)}, {fmt(r.ci_high)}], against √{fmt(r.predicted_std ** 2, 4)} = "
            f"{fmt(r.predicted_std)}.")
    if "nielsen" in t.index:
        s = t.loc["nielsen"]
        text += (f"  With N(0, 1/n_in) weights: {fmt(s.simulated_std)}, CI "
                 f"[{fmt(s.ci_low)}, {fmt(s.ci_high)}], against √1.5 = {fmt(s.predicted_std)}.")
    try:
        f = res.finding("standard_normal_is_normal")
        text += (f"  None of six normality tests rejects a normal shape "
                 f"({_e(f.observed)}, {_e(str(f.expected).split('(')[-1].rstrip(')'))}).")
    except KeyError:
        pass
    fig = _figure(res, "hist")
    return Lesson(id="q2", number=2, question="Why is z ~ N(0, 501) under N(0, 1) weights?",
                  short="The 500 inputs equal to 1 each add Var w = 1 and the bias adds 1: "
                        "Var z = 501; a sum of independent normal terms is normal.",
                  headline=f"std of z {fmt(r.simulated_std)}, {fmt(100 * level)}% CI "
                           f"[{fmt(r.ci_low)}, {fmt(r.ci_high)}], theory √501 = "
                           f"{fmt(r.predicted_std)}",
                  reasoning=_Q2, measurement=text, figures=[fig] if fig else [],
                  studies=[(res.name, res.title)] + (
                      [("clt", results["clt"].title)] if "clt" in results else []))


# ----------------------------------------------------------------------- lesson 3
_Q3 = r"""
The sigmoid :math:`\sigma(z) = 1/(1+e^{-z})` has slope
:math:`\sigma'(z) = \sigma(z)(1-\sigma(z)) \le 1/4`, largest at z = 0 and almost flat
away from it.  Once :math:`|z| > \ln 99 \approx 4.6` the output is within 1% of 0 or 1
and :math:`\sigma'(z) < 0.01`: the neuron is *saturated* (satsim's criterion throughout
this report).  With :math:`z \sim N(0, 501)`,

.. math::

   P(|z| > 4.595) = 2\,\Phi\left(-\frac{4.595}{\sqrt{501}}\right) = 2\,\Phi(-0.205)
   \approx 0.837,

so about 84% of such neurons start saturated; with N(0, 1/n_in) weights it is
:math:`2\,\Phi(-4.595/\sqrt{1.5}) \approx 0.000175`.

*Why that slows learning.*  Gradient descent moves a weight into neuron j by
:math:`\eta\,\partial C/\partial w_{jk} = \eta\, a_k \delta_j`, and backpropagation
multiplies every δ by the slope of the neuron it passes through:

.. math::

   \delta^l = \left((W^{l+1})^{T} \delta^{l+1}\right) \odot \sigma'(z^l).

Where :math:`\sigma'(z_j) < 0.01` the update is less than 1/25 of what it would be at
z = 0, whatever the error: the neuron learns slowly.

*What cross-entropy fixes, and what it does not.*  For an output neuron with the
cross-entropy cost :math:`C = -[y \ln a + (1-y)\ln(1-a)]`, the chain rule's
:math:`\sigma'(z^L)` cancels against :math:`\partial C/\partial a = (a-y)/(a(1-a))`:

.. math::

   \delta^L = \frac{\partial C}{\partial z^L} = a - y
   \quad \text{(quadratic cost: } (a-y)\,\sigma'(z^L)\text{)},

so a saturated output neuron that is wrong learns *fastest*.  But the hidden layers'
δ above still carry their own :math:`\sigma'(z^l)`: cross-entropy does nothing for
saturated hidden neurons.  That is what scaling the weights by 1/√n_in fixes.
"""


def _lesson3(results: Mapping[str, Any]) -> Lesson | None:
    res = results.get("saturation")
    if res is None or "sweep" not in res.tables:
        return None
    sw = res.tables["sweep"]
    sw = sw[(sw.activation == "sigmoid")]
    if not len(sw):
        return None
    fan = 1000 if (sw.fan_in == 1000).any() else int(sw.fan_in.max())
    at = sw[sw.fan_in == fan].set_index("initializer")
    if "standard_normal" not in at.index:
        return None
    r = at.loc["standard_normal"]
    inputs = "half of them equal to 1" if r.get("inputs", "") == "nielsen_half" else r.inputs
    text = (f"**Measured** (n_in = {fan} inputs, {inputs}; N(0, 1) weights and bias; "
            f"sigmoid; saturated = output within 1% of 0 or 1, :math:`|z| > \\ln 99`; "
            f"{fmt(r.n)} simulated neurons): **{pct(r.estimate)}** saturated, 99% Wilson "
            f"CI [{pct(r.ci_low)}, {pct(r.ci_high)}], against the closed form "
            f"{pct(r.predicted)}.")
    if "nielsen" in at.index:
        s = at.loc["nielsen"]
        text += (f"  With N(0, 1/n_in) weights: {pct(s.estimate)}, CI [{pct(s.ci_low)}, "
                 f"{pct(s.ci_high)}], closed form {pct(s.predicted)}.")
    figures = []
    zres = results.get("z_distribution")
    hero = _figure(zres, "hero") if zres is not None else None
    if hero:
        figures.append(hero)
    after = ""
    studies = [(res.name, res.title)]
    slow = results.get("learning_slowdown")
    if slow is not None:
        try:
            q = slow.finding("quadratic_slow_from_saturation").observed
            c = slow.finding("cross_entropy_fast_from_saturation").observed
            after = (f"**Measured** (Nielsen's single sigmoid neuron, input 1, target 0, "
                     f"saturated start w = b = 2, output 0.98, η = "
                     f"{fmt(slow.params.get('eta'))}): after 20 steps the quadratic cost has "
                     f"moved the output only to **{fmt(float(q), 3)}**, cross-entropy to "
                     f"**{fmt(float(c), 3)}** (exact iteration; the study also replays the "
                     "book's widgets).")
        except (KeyError, TypeError, ValueError):
            after = ""
        fig = _figure(slow, "output")
        if fig:
            figures.append(fig)
        studies.append((slow.name, slow.title))
    return Lesson(id="q3", number=3,
                  question="Why does that saturate hidden neurons and slow learning, and what "
                           "does cross-entropy fix?",
                  short="Most of that wide z lies where σ′(z) < 0.01, and every gradient "
                        "through a neuron is multiplied by σ′(z); cross-entropy removes σ′ "
                        "at the output layer only, not in the hidden layers.",
                  headline=f"{pct(r.estimate)} saturated, 99% CI [{pct(r.ci_low)}, "
                           f"{pct(r.ci_high)}], closed form {pct(r.predicted)} "
                           f"(n_in = {fan}, N(0, 1) weights, |z| > ln 99)",
                  reasoning=_Q3, measurement=text, figures=figures, after=after,
                  interactive=["saturation"], studies=studies)


# ----------------------------------------------------------------------- depth
_Q4 = r"""
In a deep network each layer's z is the next layer's input, so the width of z is a
map from layer to layer.  For tanh with weights :math:`N(0, \sigma_w^2/n_{in})` and
biases :math:`N(0, \sigma_b^2)`, the variance :math:`q^l` of z settles at a fixed point
:math:`q^*`, and the mean squared slope at it,

.. math::

   \chi_1 = \sigma_w^2 \, E\left[\tanh'(\sqrt{q^*}\,u)^2\right], \quad u \sim N(0, 1),

decides whether small differences between inputs shrink (:math:`\chi_1 < 1`, ordered)
or grow (:math:`\chi_1 > 1`, chaotic) from layer to layer.  On the critical line
:math:`\chi_1 = 1` signals travel deepest: the correlation depth scale :math:`\xi_c`
diverges, and Schoenholz et al. (2017) found networks trainable up to about
:math:`6\xi_c` layers.
"""


def _lesson_depth(results: Mapping[str, Any]) -> Lesson | None:
    res = results.get("deep_propagation")
    if res is None:
        return None
    try:
        f = res.finding("critical_line_anchor")
    except KeyError:
        return None
    text = (f"**Computed:** the tanh critical line at σ_b² = 0.05 lies at σ_w² = "
            f"**{fmt(f.observed)}** ({_e(f.method)}).")
    try:
        m = res.finding("saturation_matches_meanfield")
        text += (f"  **Measured** in random tanh, sigmoid and ReLU networks: the per-layer "
                 f"saturated fraction follows the mean-field prediction in {_e(m.observed)}.")
    except KeyError:
        pass
    studies = [(res.name, res.title)]
    tr = results.get("trainability")
    if tr is not None:
        studies.append((tr.name, tr.title))
    return Lesson(id="q4", number=4, question="And through depth?",
                  short="Each layer's z feeds the next; the mean squared slope χ1 decides "
                        "whether signals die out, explode or travel deep.",
                  headline=f"critical σ_w² = {fmt(f.observed)} at σ_b² = 0.05",
                  reasoning=_Q4,
                  measurement=text, interactive=["phase"], studies=studies)


def lessons(results: Mapping[str, Any]) -> list[Lesson]:
    """The lessons whose studies are among ``results`` (a name → StudyResult map).

    Parameters
    ----------
    results : mapping of str to StudyResult
        Study results by study name; the lessons read ``variance_additivity``,
        ``z_distribution``, ``saturation`` (with ``learning_slowdown`` when present)
        and ``deep_propagation``.

    Returns
    -------
    list of Lesson
        In order: why variances add, why z ~ N(0, 501), why that saturates and slows
        learning, and the depth section — each only when its study is in ``results``
        with the table or finding its measurement needs.
    """
    out = []
    for build in (_lesson1, _lesson2, _lesson3, _lesson_depth):
        lesson = build(results)
        if lesson is not None:
            out.append(lesson)
    return out


def math_sources() -> list[str]:
    """Every lesson's reST (for the test that each formula renders both ways)."""
    return [_Q1, _Q2, _Q3, _Q4]
