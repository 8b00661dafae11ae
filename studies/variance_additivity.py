"""Why may we write the variance of a sum as the sum of the variances?  Bienaymé's
identity holds for uncorrelated summands; this study checks it with satsim's own test
on independent components from several families, on the products w_j·x_j of the
initialization argument with each kind of randomness (over weights for a fixed input,
over inputs for fixed weights, over both), and on dependent counterexamples where it
must fail and the covariance decomposition must say why.

The test (satsim's default, ``method="asymptotic"``) compares the ratio
R = Var(Σ X)/Σ Var(X) with 1 on the log scale, with a standard error estimated from the
draws themselves, so it needs no normality.  Under independence the ratio's noise
involves no fourth moment at all (Var R ≈ 2(1 − Σσ⁴/σ_S⁴)/n, only variances); what the
estimated standard error buys is validity for components that are uncorrelated but
dependent, and away from R = 1.  The chi-square ("normal theory") interval is wrong
for another reason than tails: it treats Σ Var(X) as known although it comes from the
same draws, which makes it conservative for a few components (size ≈ 0.003–0.015 for
two, 0.02–0.03 for four, whatever the tails) and liberal (0.11–0.16) for uncorrelated but
dependent ones.  For strongly skewed components at moderate n (lognormal(σ = 1.5),
exponential or Poisson(0.3) at n = 200) the default test is liberal and says so with a
warning; the permutation test (``method="permutation"``) is exact there.

The test itself is then audited: over independent replications (spawned streams) its
empirical size under the null is compared with α = 0.05 by a binomial test, and its
power against a pair whose correlation inflates Var(S) by 5% is measured at the
documented default of 4000 draws.

Reading the cases table.  ``reject`` is the test of R = 1 at α; ``equivalent`` is the
equivalence test (TOST): the 90% interval lies within ±10% of 1.  Both can be "yes"
together: the difference is detectable but smaller than 10% (``verdict`` "differs,
within ±10%").  For an independent case that is one of the false rejections the test
makes with probability α (the grading below allows for them); for a dependent case it
is a real but small covariance, as for the +5% pair.  ``top_pair_ratio_contribution``
is the largest pair's part of R − 1 (the parts of all pairs add up to R − 1): near 0 on
independent data, large where one pair carries the covariance.  It replaces the share
of the covariance term, which divides by a term that is itself noise around 0 on
independent data and so could reach 14."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import stats

from satsim import components, identities, inputs
from satsim.plotting import BarPlot
from satsim.study import Finding, StudyContext, StudyResult

TITLE = "Variances of independent sums add (and when they do not)"
ORDER = 20


@dataclasses.dataclass(frozen=True)
class Params:
    n_draws: int = 4000
    k: int = 4
    replications: int = 200
    alpha: float = 0.05


FULL = {"replications": 1000, "n_draws": 4000}
TEST = {"replications": 60}


def _families(p):
    law = {
        "normal": stats.norm(), "uniform": stats.uniform(), "bernoulli(0.1)": stats.bernoulli(0.1),
        "t(5)": stats.t(5), "lognormal(0.5)": stats.lognorm(0.5),
    }
    cases = {f"independent {k}": (lambda rng, d=d: components.independent(d, p.n_draws, k=p.k,
                                                                            rng=rng))
             for k, d in law.items()}
    x = inputs.Uniform(50, 0.0, 1.0)
    for over in ("weights", "inputs", "both"):
        cases[f"w·x over {over}"] = (lambda rng, o=over: components.products(
            "he_normal", x, p.n_draws, over=o, rng=rng))
    counter = {
        "shared component": lambda rng: components.shared_component(p.n_draws, p.k, rng=rng),
        "correlated pair (+5%)": lambda rng: components.correlated_pair(p.n_draws, rng=rng),
        "reused weight": lambda rng: components.reused_weight("nielsen", inputs.Uniform(10),
                                                              p.n_draws, rng=rng),
    }
    return cases, counter


MARGIN = 0.1  # equivalence margin of the cases table: "the variances agree within ±10%"

#: definitions of the table columns, shown with the report
NOTES = [
    "cases — ratio: Var(Σ X)/Σ Var(X) on the sample, with its 95% interval ci_low–ci_high "
    "(asymptotic test); p_value, reject: test of ratio = 1 at level α (`alpha`, 0.05 by "
    f"default); equivalent: TOST, the 1 − 2α interval inside 1 ± {MARGIN:g}; verdict: holds (not rejected, equivalent), "
    f"differs within ±{MARGIN:g} (rejected and equivalent: a detectable but small "
    "difference; on an independent case one of the α false rejections), fails (rejected, "
    "not equivalent), inconclusive (neither).",
    "cases — covariance_term: Var(Σ X) − Σ Var(X) = 2 Σ_{i<j} Cov(X_i, X_j) on the sample; "
    "top_pair: the pair with the largest \\|2 Cov\\|; top_pair_ratio_contribution: that pair's "
    "2 Cov/Σ Var(X), its part of ratio − 1 (the parts of all pairs add up to ratio − 1), "
    "noise of order 1/√n on independent data.",
    "calibration — size: rejection rate under the null family over `replications` spawned "
    "streams, with its Wilson interval and the binomial-test p-value of size = 0.05; power: "
    "rejection rate against a pair whose correlation inflates Var(S) by 5%.",
]


def _verdict(reject: bool, equivalent: bool | None, p_value: float) -> str:
    if p_value != p_value:  # NaN: no decision
        return "no decision"
    if reject:
        return f"differs within ±{MARGIN:g}" if equivalent else "fails"
    return "holds" if equivalent else "inconclusive"


def calibration_cell(cell_params: dict, rng) -> dict:
    """Size and power of the test for one null family (a satsim.sweep cell)."""
    p = Params(n_draws=cell_params["n_draws"], k=cell_params["k"],
               replications=cell_params["replications"])
    cases, _ = _families(p)
    cal = identities.calibrate(
        null=cases[cell_params["family"]],
        alternative=lambda r: components.correlated_pair(p.n_draws, rng=r),
        replications=p.replications, rng=rng)
    return {"row": {"null_family": cell_params["family"], "size": cal.size,
                    "size_ci_low": cal.size_ci_low, "size_ci_high": cal.size_ci_high,
                    "size_p_value": cal.size_p_value, "power": cal.power,
                    "power_ci_low": cal.power_ci_low, "power_ci_high": cal.power_ci_high,
                    "replications": cal.replications}}


def run(params: Params, ctx: StudyContext) -> StudyResult:
    cases, counter = _families(params)
    rows = []
    streams = ctx.rng.spawn(len(cases) + len(counter) + 2)
    for (label, make), stream in zip({**cases, **counter}.items(), streams, strict=False):
        res = identities.check_sum_variance(make(stream), alpha=params.alpha, margin=MARGIN)
        top = res.pairs_frame().head(1)
        rows.append({"case": label, "dependent": label in counter, "ratio": res.ratio,
                     "ci_low": res.ci_low, "ci_high": res.ci_high, "p_value": res.p_value,
                     "reject": res.reject, "equivalent": res.equivalent,
                     "verdict": _verdict(res.reject, res.equivalent, res.p_value),
                     "covariance_term": res.covariance_term,
                     "top_pair": f"{top.name_i.iloc[0]}, {top.name_j.iloc[0]}"
                     if len(top) else "",
                     "top_pair_ratio_contribution": float(top.ratio_contribution.iloc[0])
                     if len(top) else np.nan})
    table = pd.DataFrame(rows)
    indep = table[~table.dependent]
    strong = table[table.case.isin(["shared component", "reused weight"])]
    # a correct test rejects each true identity with probability α; grade the count of
    # rejections against Binomial(cases, α): ≥ the 99.5% quantile + 1 fails (requiring
    # zero rejections would fail ~1 seed in 3 by design; extreme p-values are where an
    # asymptotic test is least accurate, so the count is the robust summary)
    rejected = int(indep.reject.sum())
    allowed = int(stats.binom.ppf(0.995, len(indep), params.alpha))
    from satsim import sweep

    grid = sweep.product(fixed={"n_draws": params.n_draws, "k": params.k,
                                "replications": params.replications},
                         family=["independent normal", "independent t(5)", "w·x over both"])
    cal_rows = [c["row"] for c in ctx.run_grid(calibration_cell, grid)]
    calib = pd.DataFrame(cal_rows)
    findings = [
        Finding(id="independent_not_rejected", claim="uncorrelated cases: the identity holds",
                expected=f"≤ {allowed} of {len(indep)} rejected", observed=rejected,
                method=f"asymptotic ratio test at α = {params.alpha}; count vs "
                       f"Binomial({len(indep)}, {params.alpha}) 99.5% quantile",
                passed=rejected <= allowed),
        Finding(id="counterexamples_rejected",
                claim="strongly dependent cases (shared component, reused weight) fail",
                expected=len(strong), observed=int(strong.reject.sum()),
                method=f"asymptotic ratio test, α = {params.alpha} (power ≈ 1 here; the "
                       "+5% pair's power is measured by the calibration below)",
                passed=bool(strong.reject.all())),
        Finding(id="size_is_nominal", claim="the test's size is α = 0.05",
                expected=0.05, observed=float(calib["size"].mean()),
                method=f"binomial tests over {params.replications} replications "
                       f"(min p = {calib.size_p_value.min():.3g} > 0.001)",
                passed=bool((calib.size_p_value > 1e-3).all())),
        Finding(id="power_against_5pct", claim="power against a 5% inflation at n = 4000",
                expected="≥ 0.8 (theory ≈ 0.88)", observed=float(calib.power.mean()),
                method="Wilson CIs over replications",
                passed=bool(params.n_draws < 4000 or (calib.power >= 0.8).all())),
    ]
    table["kind"] = np.where(table.dependent, "dependent", "independent")
    figures = [
        BarPlot(id="ratios", table="cases", category="case", value="ratio", hue="kind",
                hue_title="components", errors=("ci_low", "ci_high"), reference=1.0,
                title="Var(Σ X) / Σ Var(X) per case",
                caption="Ratio with its 95% CI per case; the dotted line at 1 is where the "
                        "variances add. Dependent cases carry a covariance term.",
                xlabel="variance ratio", ylabel="", size=(6.6, 4.2)),
    ]
    return StudyResult(name="variance_additivity", title=TITLE, description=__doc__, params=dataclasses.asdict(params),
                       tables={"cases": table, "calibration": calib}, figures=figures,
                       findings=findings, display=["cases", "calibration"], notes=NOTES)


def main(argv=None):
    from satsim.study import main as study_main

    return study_main(__file__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
