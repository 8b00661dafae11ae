"""Nielsen's single neuron, exactly.  One sigmoid neuron with input x = 1 must learn
to output y = 0, starting from w = 0.6, b = 0.9 (output 0.82) or w = b = 2.0 (output
0.98, badly saturated), by 300 steps of gradient descent.  With the quadratic cost
C = (a − y)²/2 the gradient carries σ'(z): from the saturated start learning crawls
for many steps.  With the cross-entropy cost σ'(z) cancels: ∂C/∂w = x(a − y), and the
saturated start learns fastest.  Both use η = 0.15 and the true gradient ∂C/∂z.

Note on the book: the animation for cross-entropy uses η = 0.005 and steps along
∂C/∂a rather than ∂C/∂z, so its curve is not the true gradient's; this study uses
the true gradient for both costs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import special

from satsim.study import FigureSpec, Finding, StudyContext, StudyResult

TITLE = "The learning slowdown of one neuron (quadratic vs cross-entropy)"
ORDER = 60


@dataclasses.dataclass(frozen=True)
class Params:
    steps: int = 300
    eta: float = 0.15


FULL: dict = {}
TEST = {"steps": 300}


def trajectory(w: float, b: float, cost: str, steps: int, eta: float) -> pd.DataFrame:
    rows = []
    for step in range(steps + 1):
        a = float(special.expit(w + b))  # x = 1
        c = 0.5 * a * a if cost == "quadratic" else -np.log1p(-a)  # y = 0
        rows.append({"step": step, "w": w, "b": b, "output": a, "cost": c})
        delta = a * a * (1 - a) if cost == "quadratic" else a  # ∂C/∂z
        w, b = w - eta * delta, b - eta * delta
    return pd.DataFrame(rows)


def cell(params: dict, rng) -> dict:
    """One start and cost (a satsim.sweep cell; deterministic, ``rng`` is unused)."""
    w0, b0, cost = params["w"], params["b"], params["cost"]
    frame = trajectory(w0, b0, cost, params["steps"], params["eta"]).assign(
        cost_function=cost, start=f"w={w0}, b={b0}", series=f"{cost}, w={w0}, b={b0}")
    return {"table": frame.to_dict("list")}


def run(params: Params, ctx: StudyContext) -> StudyResult:
    from satsim import sweep

    starts = sweep.zipped(w=[0.6, 2.0], b=[0.9, 2.0])
    grid = sweep.Grid(sweep.product(fixed={**start.params, "steps": params.steps,
                                           "eta": params.eta},
                                    cost=["quadratic", "cross_entropy"]).cells[i]
                      for start in starts for i in range(2))
    table = pd.concat([pd.DataFrame(c["table"]) for c in ctx.run_grid(cell, grid)],
                      ignore_index=True)

    def out(cost, start, step):
        sel = table[(table.cost_function == cost) & (table.start == start) & (table.step == step)]
        return float(sel.output.iloc[0])

    s = "w=2.0, b=2.0"
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
    ]
    figures = [
        FigureSpec(id="output", kind="line", table="trajectories", x="step", y="output",
                   hue="series", title="Output of the neuron while learning y = 0",
                   caption="Gradient descent with η = 0.15 and the true gradient. The quadratic "
                           "cost stalls from the saturated start (σ'(z) ≈ 0.02 at z = 4).",
                   xlabel="step", ylabel="output a = σ(w + b)", options={"marker": ""}),
        FigureSpec(id="cost", kind="line", table="trajectories", x="step", y="cost",
                   hue="series", title="Cost while learning",
                   caption="Quadratic cost (a²/2) and cross-entropy (−ln(1 − a)) per step.",
                   xlabel="step", ylabel="cost", options={"marker": "", "logy": True}),
    ]
    return StudyResult(name="learning_slowdown", title=TITLE, description=__doc__, params=dataclasses.asdict(params),
                       tables={"trajectories": table}, figures=figures, findings=findings,
                       notes=["Nielsen's cross-entropy animation (η = 0.005) steps along "
                              "∂C/∂a, not the true gradient; its curve is not reproduced."])


def main(argv=None):
    from satsim.study import main as study_main

    return study_main(__file__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
