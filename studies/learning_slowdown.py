"""Nielsen's single neuron, exactly.  One sigmoid neuron with input x = 1 must learn
to output y = 0, starting from w = 0.6, b = 0.9 (output 0.82) or w = b = 2.0 (output
0.98, badly saturated), by 300 steps of gradient descent.  With the quadratic cost
C = (a − y)²/2 the gradient carries σ'(z): from the saturated start learning crawls
for many steps.  With the cross-entropy cost σ'(z) cancels: ∂C/∂w = x(a − y), and the
saturated start learns fastest.  Both use η = 0.15 and the true gradient ∂C/∂z.

The book's animations.  Nielsen, *Neural Networks and Deep Learning*, ch. 3 ("The
cross-entropy cost function") shows this neuron in four browser widgets, whose code
is js/saturation1.js to js/saturation4.js of the book's site (github.com/mnielsen/
nnadl_site).  The quadratic-cost widgets step w and b along a²(1 − a) = ∂C/∂z with
η = 0.15: the true gradient, so the quadratic curves here are the book's.  For the
cross-entropy widgets the text says "I used η = 0.005 in the examples just given"
without saying what is stepped along; the widget code steps w and b along
derivative(a) = 1/(1 − a), which is ∂C/∂a for C = −ln(1 − a), not the
∂C/∂w = ∂C/∂b = a of the chapter's own equations (61)–(62) at x = 1, y = 0.
Since ∂C/∂a = (∂C/∂z)/σ'(z), the book's step is the true one divided by σ'(z):
largest exactly when the neuron is saturated.  (This is read from the widget code;
the text does not discuss it.)  The trajectories table therefore also holds the
book's update (``gradient = "book ∂C/∂a"``, η = 0.005), to set against the book's
figure, and the true gradient at the same η = 0.005, which separates the effect of
the rate from that of the direction.  ``curve`` names each of the four curves."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import special

from satsim.plotting import LinePlot
from satsim.study import Finding, StudyContext, StudyResult

TITLE = "The learning slowdown of one neuron (quadratic vs cross-entropy)"
ORDER = 60


@dataclasses.dataclass(frozen=True)
class Params:
    steps: int = 300
    eta: float = 0.15


FULL: dict = {}
TEST = {"steps": 300}


#: the book's learning rate for its cross-entropy widgets (ch. 3: "I used η = 0.005 in
#: the examples just given"; js/saturation3.js and saturation4.js: ``var eta = 0.005``)
BOOK_ETA = 0.005

#: update directions: the true gradient, or the book's cross-entropy widget's ∂C/∂a
GRADIENTS = {"true": "true ∂C/∂z", "book": "book ∂C/∂a"}


def trajectory(w: float, b: float, cost: str, steps: int, eta: float,
               gradient: str = "true") -> pd.DataFrame:
    """Gradient descent on one neuron (x = 1, y = 0); ``gradient="book"`` steps along
    ∂C/∂a = 1/(1 − a) as the book's cross-entropy widgets do (cross-entropy only)."""
    if gradient not in GRADIENTS or (gradient == "book" and cost != "cross_entropy"):
        raise ValueError(f"`gradient` must be 'true', or 'book' with the cross-entropy cost; "
                         f"got gradient={gradient!r} with cost={cost!r}")
    rows = []
    for step in range(steps + 1):
        a = float(special.expit(w + b))  # x = 1
        c = 0.5 * a * a if cost == "quadratic" else -np.log1p(-a)  # y = 0
        rows.append({"step": step, "w": w, "b": b, "output": a, "cost": c})
        if gradient == "book":
            delta = 1.0 / float(special.expit(-(w + b)))  # ∂C/∂a = 1/(1 − a), 1 − a = σ(−z)
        else:
            delta = a * a * (1 - a) if cost == "quadratic" else a  # ∂C/∂z
        w, b = w - eta * delta, b - eta * delta
    return pd.DataFrame(rows)


def curve_label(cost: str, gradient: str, eta: float) -> str:
    name = "quadratic" if cost == "quadratic" else "cross-entropy"
    step = ", book's ∂C/∂a step" if gradient == "book" else ""
    return f"{name}{step} (η = {eta:g})"


def cell(params: dict, rng) -> dict:
    """One start, cost and update (a satsim.sweep cell; deterministic, ``rng`` unused)."""
    w0, b0, cost, eta = params["w"], params["b"], params["cost"], params["eta"]
    gradient = params.get("gradient", "true")
    label = curve_label(cost, gradient, eta)
    frame = trajectory(w0, b0, cost, params["steps"], eta, gradient).assign(
        cost_function=cost, gradient=GRADIENTS[gradient], eta=eta, curve=label,
        start=f"w={w0}, b={b0}", series=f"{label}, w={w0}, b={b0}")
    return {"table": frame.to_dict("list")}


def run(params: Params, ctx: StudyContext) -> StudyResult:
    from satsim import sweep

    starts = sweep.zipped(w=[0.6, 2.0], b=[0.9, 2.0])
    cells = []
    for start in starts:
        # the study's curves: both costs, true gradient, η = params.eta
        cells += sweep.product(fixed={**start.params, "steps": params.steps,
                                      "eta": params.eta, "gradient": "true"},
                               cost=["quadratic", "cross_entropy"]).cells
        # the book's cross-entropy widget and the true gradient at the book's η
        cells += sweep.product(fixed={**start.params, "steps": params.steps,
                                      "cost": "cross_entropy", "eta": BOOK_ETA},
                               gradient=["book", "true"]).cells
    grid = sweep.Grid(cells)
    table = pd.concat([pd.DataFrame(c["table"]) for c in ctx.run_grid(cell, grid)],
                      ignore_index=True)

    def out(cost, start, step, gradient="true", eta=params.eta):
        sel = table[(table.cost_function == cost) & (table.start == start)
                    & (table.step == step) & (table.gradient == GRADIENTS[gradient])
                    & (table.eta == eta)]
        return float(sel.output.iloc[0])

    s = "w=2.0, b=2.0"
    last = params.steps
    book_20 = out("cross_entropy", s, 20, "book", BOOK_ETA)
    book_end = out("cross_entropy", s, last, "book", BOOK_ETA)
    true_end = out("cross_entropy", s, last, "true", BOOK_ETA)
    findings = [
        Finding(id="quadratic_slow_from_saturation",
                claim="quadratic cost, saturated start: output still > 0.9 after 20 steps",
                expected="> 0.9", observed=out("quadratic", s, 20), method="exact iteration",
                passed=out("quadratic", s, 20) > 0.9),
        Finding(id="cross_entropy_fast_from_saturation",
                claim="cross-entropy, saturated start: output < 0.5 after 20 steps",
                expected="< 0.5", observed=out("cross_entropy", s, 20), method="exact iteration",
                passed=out("cross_entropy", s, 20) < 0.5),
        Finding(id="cross_entropy_beats_quadratic",
                claim="after 300 steps cross-entropy's output is lower from both starts",
                expected="yes", observed=bool(all(
                    out("cross_entropy", st, params.steps) < out("quadratic", st, params.steps)
                    for st in ("w=0.6, b=0.9", s))), method="exact iteration",
                passed=all(out("cross_entropy", st, params.steps) < out("quadratic", st,
                                                                         params.steps)
                           for st in ("w=0.6, b=0.9", s))),
        Finding(id="book_widget_fast_from_saturation",
                claim="the book's cross-entropy widget (∂C/∂a step, η = 0.005), saturated "
                      "start: output < 0.9 after 20 steps (\"This time the neuron learned "
                      "quickly\", ch. 3)",
                expected="< 0.9", observed=book_20,
                method="exact iteration of the update in js/saturation4.js",
                passed=book_20 < 0.9),
        Finding(id="book_speed_is_the_dC_da_step",
                claim=f"at the book's η = {BOOK_ETA:g} the true gradient leaves the saturated "
                      f"neuron's output > 0.5 after {last} steps, while the book's ∂C/∂a step "
                      "brings it < 0.1: the widget's speed comes from dividing by σ'(z)",
                expected="true > 0.5, book < 0.1",
                observed=f"true {true_end:.3g}, book {book_end:.3g}",
                method="exact iteration, both updates at η = 0.005",
                passed=true_end > 0.5 and book_end < 0.1),
    ]
    figures = [
        LinePlot(id="output", table="trajectories", x="step", y="output", hue="curve",
                 col="start", hue_title="update", marker="", integer_x=True,
                 title="Output of the neuron while learning y = 0",
                 caption="Gradient descent with the true gradient ∂C/∂z at η = 0.15 for both "
                         "costs, and, for cross-entropy, the book's widget update (steps along "
                         "∂C/∂a, η = 0.005) next to the true gradient at that η; one panel "
                         "per start. The quadratic cost stalls from the saturated start "
                         "(σ'(z) ≈ 0.02 at z = 4).",
                 xlabel="step", ylabel="output a = σ(w + b)", size=(7.2, 3.2)),
        LinePlot(id="cost", table="trajectories", x="step", y="cost", hue="curve",
                 col="start", hue_title="update", marker="", integer_x=True, logy=True,
                 title="Cost while learning",
                 caption="Quadratic cost (a²/2) and cross-entropy (−ln(1 − a)) per step for "
                         "the same curves, one panel per start.", xlabel="step",
                 ylabel="cost", size=(7.2, 3.2)),
    ]
    return StudyResult(name="learning_slowdown", title=TITLE, description=__doc__, params=dataclasses.asdict(params),
                       tables={"trajectories": table}, figures=figures, findings=findings,
                       notes=["The quadratic curves are the book's widgets exactly (true "
                              "gradient, η = 0.15).  The book's cross-entropy widgets step "
                              "along ∂C/∂a = 1/(1 − a) with η = 0.005 (js/saturation3.js, "
                              "saturation4.js of github.com/mnielsen/nnadl_site): the rows "
                              "with gradient = 'book ∂C/∂a'; compare them with the book's "
                              "figure.  The text gives η = 0.005 but not the direction."])


def main(argv=None):
    from satsim.study import main as study_main

    return study_main(__file__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
