r"""The trainability study's pre-registered criteria, as functions of a grid of results.

Kept apart from the study so that each criterion can be shown *failing* on synthetic
grids where the prediction is false (``tests/test_trainability.py``): everything
trains to the same depth, the deepest networks are off the critical line, networks
train far beyond 6ξ_c.  Every function takes tidy frames and returns numbers and a
verdict; none reads files or trains anything.

The data: one row per trained network, columns ``weight_variance`` (σ_w²), ``depth``
(hidden layers L), ``seed`` and ``accuracy`` (validation accuracy after the budget),
and per σ_w² the prediction ``six_xi_c`` = 6 ξ_c.  ``chance`` is the accuracy of
always guessing the most frequent validation class.

Verdicts per cell (σ_w², L), from the seeds' accuracies a_1 … a_S with mean ā and
standard deviation s:

* *trainable* when the one-sided t test of H0: μ ≤ chance + margin rejects at α
  (t = (ā − chance − margin)/(s/√S) beyond the t_{S−1} quantile);
* *untrainable* when the one-sided test of H0: μ ≥ chance + margin rejects at α;
* *undecided* otherwise (also with fewer than two seeds).

When the seeds agree exactly (s = 0) the comparison of ā with chance + margin decides.
Cells are seeds of independent networks; the test treats the seeds as the sample, so
its level does not depend on the validation set's size.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["Verdict", "cell_verdicts", "critical_trains_deepest", "depth_ratio",
           "none_trainable_beyond", "trainable_depths"]

TRAINABLE, UNTRAINABLE, UNDECIDED = "trainable", "untrainable", "undecided"


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A criterion's outcome: ``passed`` is True, False or None (undecided), with the
    observed value in words and the numbers behind it."""

    passed: bool | None
    observed: str
    values: Mapping[str, float]


def cell_verdicts(runs: pd.DataFrame, *, chance: float, margin: float = 0.10,
                  alpha: float = 0.05) -> pd.DataFrame:
    """One row per (σ_w², L): seeds, mean and sd of accuracy, the two one-sided
    p-values and the verdict (module docstring)."""
    rows = []
    bar = chance + margin
    for (w, d), g in runs.groupby(["weight_variance", "depth"], sort=True):
        a = g.accuracy.to_numpy(float)
        a = np.where(np.isfinite(a), a, chance)  # a diverged network predicts one class
        n, mean = len(a), float(a.mean())
        sd = float(a.std(ddof=1)) if n > 1 else math.nan
        if n < 2:
            p_up = p_down = math.nan
            verdict = UNDECIDED
        elif sd == 0.0:
            p_up, p_down = (0.0, 1.0) if mean > bar else ((1.0, 0.0) if mean < bar
                                                          else (1.0, 1.0))
            verdict = TRAINABLE if mean > bar else (UNTRAINABLE if mean < bar else UNDECIDED)
        else:
            t = (mean - bar) / (sd / math.sqrt(n))
            p_up, p_down = float(stats.t.sf(t, n - 1)), float(stats.t.cdf(t, n - 1))
            verdict = TRAINABLE if p_up < alpha else (UNTRAINABLE if p_down < alpha
                                                      else UNDECIDED)
        rows.append({"weight_variance": float(w), "depth": int(d), "seeds": n,
                     "accuracy": mean, "accuracy_sd": sd, "p_trainable": p_up,
                     "p_untrainable": p_down, "verdict": verdict})
    return pd.DataFrame(rows)


def trainable_depths(verdicts: pd.DataFrame, six_xi_c: Mapping[float, float]) -> pd.DataFrame:
    """Per σ_w²: L̂ = the deepest grid depth whose cell is *trainable* (0 if none), whether
    it is censored (the deepest depth tried at that σ_w²), and L̂ / 6ξ_c."""
    rows = []
    for w, g in verdicts.groupby("weight_variance", sort=True):
        ok = g[g.verdict == TRAINABLE]
        lhat = int(ok.depth.max()) if len(ok) else 0
        pred = float(six_xi_c[float(w)])
        rows.append({"weight_variance": float(w), "trainable_depth": lhat,
                     "deepest_tried": int(g.depth.max()),
                     "censored": bool(lhat == int(g.depth.max())),
                     "six_xi_c": pred, "ratio": lhat / pred if pred > 0 else math.nan})
    return pd.DataFrame(rows)


def critical_trains_deepest(depths: pd.DataFrame, critical: float) -> Verdict:
    """The σ_w² nearest the critical line trains deepest: its L̂ is ≥ every other
    σ_w²'s and > the L̂ at both ends of the σ_w² grid (a flat profile fails).

    Undecided with fewer than three σ_w² values, or when an end ties with it at the
    deepest depth tried (the grid did not reach deep enough to tell them apart)."""
    d = depths.sort_values("weight_variance").reset_index(drop=True)
    if len(d) < 3:
        return Verdict(None, f"undecided: only {len(d)} σ_w² values", {})
    i = int(np.argmin(np.abs(d.weight_variance.to_numpy() - critical)))
    lc = int(d.trainable_depth[i])
    ends = [int(d.trainable_depth.iloc[0]), int(d.trainable_depth.iloc[-1])]
    others = int(d.trainable_depth.drop(index=i).max())
    values = {"critical_weight_variance": float(d.weight_variance[i]),
              "trainable_depth_at_critical": lc, "deepest_elsewhere": others}
    profile = ", ".join(f"{w:g}: {int(v)}" for w, v in zip(d.weight_variance,
                                                           d.trainable_depth, strict=True))
    text = (f"L̂ at σ_w² = {d.weight_variance[i]:g} (nearest the critical {critical:.3g}) "
            f"is {lc}; elsewhere at most {others}; L̂ per σ_w² = {{{profile}}}")
    if others > lc:
        return Verdict(False, text, values)  # deeper somewhere off the critical line
    if lc > max(ends):
        return Verdict(True, text, values)
    if bool(d.censored[i]):
        return Verdict(None, "undecided: an end of the σ_w² grid ties with it at the "
                       "deepest depth tried; " + text, values)
    return Verdict(False, text, values)  # flat: an end trains as deep


def none_trainable_beyond(verdicts: pd.DataFrame, six_xi_c: Mapping[float, float], *,
                          factor: float) -> Verdict:
    """No cell deeper than ``factor`` × 6ξ_c is trainable (the constant's upper side).

    Undecided when the grid has no cell beyond ``factor`` × 6ξ_c (nothing was tested)."""
    limit = verdicts.weight_variance.map(lambda w: factor * six_xi_c[float(w)])
    beyond = verdicts[verdicts.depth > limit]
    values = {"cells_beyond": float(len(beyond)),
              "trainable_beyond": float((beyond.verdict == TRAINABLE).sum())}
    if not len(beyond):
        return Verdict(None, f"undecided: no cell deeper than {factor:g} × 6ξ_c", values)
    bad = beyond[beyond.verdict == TRAINABLE]
    cells = ", ".join(f"(σ_w² {w:g}, L {int(d_)})" for w, d_ in zip(bad.weight_variance,
                                                                    bad.depth, strict=True))
    text = (f"{len(bad)} of {len(beyond)} cells deeper than {factor:g} × 6ξ_c are trainable"
            + (f": {cells}" if len(bad) else ""))
    return Verdict(not len(bad), text, values)


def depth_ratio(runs: pd.DataFrame, six_xi_c: Mapping[float, float], *, chance: float,
                margin: float = 0.10, alpha: float = 0.05, band: tuple[float, float] = (0.5, 2.0),
                n_boot: int = 1000, rng: np.random.Generator | int | None = None,
                decide: bool = True) -> Verdict:
    """The constant: the median over σ_w² of L̂ / 6ξ_c, with a bootstrap 95% interval
    over seeds (each cell's seeds resampled with replacement, verdicts and L̂
    recomputed), against ``band``.

    σ_w² values whose L̂ is censored are left out of the median (their ratio is only a
    lower bound).  Passes when the interval meets ``band``, fails when it lies wholly
    outside; undecided when ``decide`` is False (a budget too short to test the
    asymptotic constant: the ratio is reported, not judged), with fewer than two seeds,
    or when every σ_w² is censored.
    """
    rng = np.random.default_rng(rng)

    def median_ratio(frame: pd.DataFrame) -> float:
        d = trainable_depths(cell_verdicts(frame, chance=chance, margin=margin, alpha=alpha),
                             six_xi_c)
        r = d.ratio[~d.censored]
        return float(np.median(r)) if len(r) else math.nan

    est = median_ratio(runs)
    seeds = runs.groupby(["weight_variance", "depth"]).seed.nunique().min()
    if not math.isfinite(est) or seeds < 2:
        why = "fewer than two seeds" if seeds < 2 else "every σ_w² is censored"
        return Verdict(None, f"undecided: {why} (median ratio {est:.3g})", {"ratio": est})
    groups = [g.accuracy.to_numpy(float) for _, g in runs.groupby(
        ["weight_variance", "depth"], sort=True)]
    keys = list(runs.groupby(["weight_variance", "depth"], sort=True).groups)
    boot = []
    for _ in range(n_boot):
        rows = [{"weight_variance": w, "depth": d, "seed": j, "accuracy": v}
                for (w, d), a in zip(keys, groups, strict=True)
                for j, v in enumerate(rng.choice(a, size=len(a), replace=True))]
        boot.append(median_ratio(pd.DataFrame(rows)))
    b = np.asarray(boot, float)
    b = b[np.isfinite(b)]
    lo, hi = (float(np.quantile(b, 0.025)), float(np.quantile(b, 0.975))) if len(b) else (
        math.nan, math.nan)
    text = (f"median L̂ / 6ξ_c = {est:.3g}, bootstrap 95% CI [{lo:.3g}, {hi:.3g}] over seeds "
            f"({n_boot} resamples)")
    values = {"ratio": est, "ci_low": lo, "ci_high": hi}
    if not decide:
        return Verdict(None, "undecided at this budget (reported, not judged): " + text, values)
    return Verdict(bool(hi >= band[0] and lo <= band[1]), text, values)
