"""The seed argument.  A neuron with 1000 inputs, 500 of them equal to 1, computes
z = Σ w_j x_j + b.  With N(0, 1) weights and bias, Var z = 500 + 1 = 501 (std ≈ 22.4),
so z is very wide; with N(0, 1/n_in) weights, Var z = 500/1000 + 1 = 1.5 (std ≈ 1.22).

Every registered initializer is simulated on this input (bias N(0, 1)); the closed-form
std is compared with the Monte Carlo estimate and its kurtosis-aware confidence
interval.  For Nielsen's two initializations the distribution of z is shown against
the fitted normal, with QQ data and a normality battery valid for estimated
parameters (Lilliefors, Anderson–Darling, Monte Carlo Cramér–von Mises, Shapiro–Wilk,
Jarque–Bera, D'Agostino; Holm-adjusted)."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd

from satsim import fit, init, inputs
from satsim.montecarlo import simulate
from satsim.plotting import DensityPlot, IntervalPlot, QQPlot, SaturationHero
from satsim.study import Finding, StudyContext, StudyResult

TITLE = "How wide is z? The initialization argument, simulated"
ORDER = 10


@dataclasses.dataclass(frozen=True)
class Params:
    n_in: int = 1000
    active: int = 500
    n_samples: int = 50_000  # neurons per initializer
    keep: int = 20_000  # z values kept for fits and normality tests
    confidence_level: float = 0.999


FULL = {"n_samples": 1_000_000, "keep": 100_000}
TEST = {"n_samples": 4_000, "keep": 2_000}


def cell(params: dict, rng) -> dict:
    """One initializer on Nielsen's input (a satsim.sweep cell)."""
    name, keep = params["initializer"], params["keep"]
    x = inputs.nielsen(params["n_in"], params["active"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zero-variance weight laws
        res = simulate(name, x, n_samples=params["n_samples"], keep=keep, rng=rng)
    lo, hi = res.std_ci(params["confidence_level"])
    out = {"row": {"initializer": name, "predicted_std": res.theory_std,
                   "simulated_std": res.std, "ci_low": lo, "ci_high": hi,
                   "covered": bool(lo <= res.theory_std <= hi),
                   "frac_abs_z_gt_1": float(res.exceedance().estimate.iloc[0])}}
    if keep:
        h = res.histogram_frame()
        centre = 0.5 * (h.bin_left + h.bin_right)
        s = res.std
        normal = np.exp(-0.5 * ((centre - res.mean) / s) ** 2) / (s * math.sqrt(2 * math.pi))
        out["hist"] = pd.DataFrame({"initializer": name, "z": centre, "density": h.density,
                                    "fitted_normal": normal}).to_dict("list")
        fits = fit.fit_distribution(res.samples, candidates=("norm", "t", "logistic"))
        out["qq"] = fits.qq("norm").iloc[::10].assign(initializer=name).to_dict("list")
        # family-wise α = 0.001: a normal z fails this finding once in a thousand seeds
        battery = fit.normality(res.samples, alpha=0.001, rng=rng)
        out["normality"] = battery.to_frame().assign(initializer=name).to_dict("list")
        out["reject"] = battery.reject
        out["min_p"] = float(battery.p_adjusted.min())
    return out


def run(params: Params, ctx: StudyContext) -> StudyResult:
    from satsim import sweep

    grid = sweep.zipped(
        fixed={"n_in": params.n_in, "active": params.active, "n_samples": params.n_samples,
               "confidence_level": params.confidence_level},
        initializer=list(init.names()),
        keep=[params.keep if n in ("standard_normal", "nielsen") else 0 for n in init.names()])
    cells = ctx.run_grid(cell, grid)
    rows = [c["row"] for c in cells]
    # cells without kept samples have no hist/qq/normality entries (NaN in the table)
    hist_rows = [pd.DataFrame(c["hist"]) for c in cells if isinstance(c.get("hist"), dict)]
    qq_rows = [pd.DataFrame(c["qq"]) for c in cells if isinstance(c.get("qq"), dict)]
    norm_rows = [pd.DataFrame(c["normality"]) for c in cells
                 if isinstance(c.get("normality"), dict)]
    findings = [
        Finding(id=f"{c['initializer']}_is_normal",
                claim=f"z under {c['initializer']} weights is normal",
                expected="no test rejects (Holm, family-wise α = 0.001)",
                observed=f"min adjusted p = {c['min_p']:.3g}",
                method="normality battery on estimated parameters", passed=not c["reject"])
        for c in cells if isinstance(c.get("normality"), dict)]
    table = pd.DataFrame(rows)
    big = table.set_index("initializer").loc["standard_normal"]
    small = table.set_index("initializer").loc["nielsen"]
    findings[:0] = [
        Finding(id="std_standard_normal", claim="N(0,1) weights and bias: std of z is √501",
                expected=math.sqrt(501), observed=big.simulated_std,
                method=f"{params.confidence_level:.1%} kurtosis-aware CI "
                       f"[{big.ci_low:.4g}, {big.ci_high:.4g}]",
                passed=bool(big.covered)),
        Finding(id="std_nielsen", claim="N(0,1/n_in) weights: std of z is √1.5",
                expected=math.sqrt(1.5), observed=small.simulated_std,
                method=f"{params.confidence_level:.1%} kurtosis-aware CI "
                       f"[{small.ci_low:.4g}, {small.ci_high:.4g}]",
                passed=bool(small.covered)),
        Finding(id="all_initializers_match_theory",
                claim="every registered initializer: closed-form std inside the CI",
                expected=len(table), observed=int(table.covered.sum()),
                method=f"{params.confidence_level:.1%} kurtosis-aware CIs "
                       f"(≈{(1 - params.confidence_level) * len(table):.2f} misses expected)",
                passed=bool(table.covered.sum() >= len(table) - 1)),
    ]
    from satsim.saturation import predicted_fraction

    threshold = float(np.log(99.0))  # sigmoid output within 1% of 0 or 1
    hero = pd.DataFrame({"initializer": ["standard_normal", "nielsen"],
                         "theory_std": [float(big.predicted_std), float(small.predicted_std)]})
    hero["predicted_saturated"] = [predicted_fraction(s) for s in hero.theory_std]
    figures = [
        SaturationHero(
            id="hero", table="histograms", predictions="hero",
            title="Why the initialization matters: z against the sigmoid",
            caption="Top: σ(z) (solid) and σ′(z) (dashed). Below, on the same z axis, the "
                    "Monte Carlo density of z = w·x + b on Nielsen's input (500 of 1000 "
                    "inputs equal to 1, N(0, 1) bias) under N(0, 1) weights and under "
                    "N(0, 1/n_in) weights. Shaded: |z| > ln 99, where σ is within 1% of 0 or "
                    "1 and σ′(z) < 0.01; the predicted saturated fraction is written on each "
                    "row.",
            labels=("N(0, 1) weights: std √501 ≈ 22.4", "N(0, 1/n_in) weights: std √1.5 ≈ 1.22"),
            threshold=threshold, xlabel="z"),
        DensityPlot(id="hist", table="histograms", x="z", y="density", col="initializer",
                    ref="fitted_normal", title="Distribution of z = w·x + b",
                    caption="Monte Carlo density of z (filled) on a fixed grid of theory mean "
                            "± 8 theory std, one panel per initializer on its own scale, with "
                            "the fitted normal (black, dashed).",
                    xlabel="z", ylabel="density (1/unit z)", size=(6.8, 3.0)),
        QQPlot(id="qq", table="qq", x="theoretical", y="sample", col="initializer",
               title="QQ plot against the fitted normal",
               caption="Sample quantiles of z against the quantiles of the fitted normal "
                       "(Hazen plotting positions), one panel per initializer; points on "
                       "y = x (dotted) mean normal.",
               xlabel="normal quantile (z units)", ylabel="sample quantile (z units)",
               size=(6.8, 3.0)),
        IntervalPlot(id="std", table="initializers", category="initializer",
                     value="simulated_std", interval=("ci_low", "ci_high"),
                     marker="predicted_std", logx=True,
                     value_label=f"Monte Carlo ({params.confidence_level:.1%} CI)",
                     marker_label="closed form",
                     title="Predicted vs simulated std",
                     caption="One row per registered initializer: the Monte Carlo std of z "
                             f"with its {params.confidence_level:.1%} kurtosis-aware CI "
                             "(point and whisker) and the closed-form std (satsim.theory, "
                             "black bar); log scale.",
                     xlabel="std of z", size=(6.4, 4.6)),
    ]
    return StudyResult(
        name="z_distribution", title=TITLE, description=__doc__, params=dataclasses.asdict(params),
        tables={"initializers": table, "histograms": pd.concat(hist_rows, ignore_index=True),
                "qq": pd.concat(qq_rows, ignore_index=True),
                "normality": pd.concat(norm_rows, ignore_index=True), "hero": hero},
        figures=figures, findings=findings, display=["initializers", "normality"])


def main(argv=None):
    from satsim.study import main as study_main

    return study_main(__file__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
