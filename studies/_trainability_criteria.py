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


def _tests(a: np.ndarray, bar: float, alpha: float) -> tuple[np.ndarray, ...]:
    """The two one-sided t tests on the last axis of ``a`` (seeds), vectorised over
    the others: mean, sd, p(trainable), p(untrainable) and the verdict code
    (1 trainable, −1 untrainable, 0 undecided)."""
    n = a.shape[-1]
    mean = a.mean(axis=-1)
    if n < 2:
        nan = np.full(mean.shape, math.nan)
        return mean, nan, nan, nan, np.zeros(mean.shape, int)
    sd = a.std(axis=-1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (mean - bar) / (sd / math.sqrt(n))
    # seeds that agree exactly (sd = 0): the comparison of the mean with the bar decides
    t = np.where(sd == 0, np.sign(mean - bar) * np.inf, t)
    p_up, p_down = stats.t.sf(t, n - 1), stats.t.cdf(t, n - 1)
    p_up = np.where(np.isnan(t), 1.0, p_up)
    p_down = np.where(np.isnan(t), 1.0, p_down)
    code = np.where(p_up < alpha, 1, np.where(p_down < alpha, -1, 0))
    return mean, sd, p_up, p_down, code


_NAMES = {1: TRAINABLE, -1: UNTRAINABLE, 0: UNDECIDED}


def _cells(runs: pd.DataFrame, chance: float) -> tuple[list[tuple[float, int]], list[np.ndarray]]:
    keys, arrays = [], []
    for (w, d), g in runs.groupby(["weight_variance", "depth"], sort=True):
        a = g.accuracy.to_numpy(float)
        keys.append((float(w), int(d)))
        arrays.append(np.where(np.isfinite(a), a, chance))  # a diverged network: one class
    return keys, arrays


def cell_verdicts(runs: pd.DataFrame, *, chance: float, margin: float = 0.10,
                  alpha: float = 0.05) -> pd.DataFrame:
    """One row per (σ_w², L): seeds, mean and sd of accuracy, the two one-sided
    p-values and the verdict (module docstring)."""
    rows = []
    for (w, d), a in zip(*_cells(runs, chance), strict=True):
        mean, sd, p_up, p_down, code = _tests(a, chance + margin, alpha)
        rows.append({"weight_variance": w, "depth": d, "seeds": len(a),
                     "accuracy": float(mean), "accuracy_sd": float(sd),
                     "p_trainable": float(p_up), "p_untrainable": float(p_down),
                     "verdict": _NAMES[int(code)]})
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
    keys, arrays = _cells(runs, chance)
    ws = sorted({w for w, _ in keys})

    def median_ratio(codes: list[np.ndarray]) -> np.ndarray:
        """Median over σ_w² of L̂/6ξ_c (uncensored only) for each replicate (row)."""
        reps = codes[0].shape[0]
        ratios = np.full((reps, len(ws)), math.nan)
        for j, w in enumerate(ws):
            mine = [(d, c) for (ww, d), c in zip(keys, codes, strict=True) if ww == w]
            deepest = max(d for d, _ in mine)
            lhat = np.zeros(reps)
            for d, c in mine:
                lhat = np.where(c == 1, np.maximum(lhat, d), lhat)
            r = lhat / six_xi_c[w]
            ratios[:, j] = np.where(lhat == deepest, math.nan, r)  # censored: left out
        with np.errstate(all="ignore"):
            finite = np.isfinite(ratios).any(axis=1)
            out = np.full(reps, math.nan)
            out[finite] = np.nanmedian(ratios[finite], axis=1)
        return out

    bar = chance + margin
    est = float(median_ratio([_tests(a[None, :], bar, alpha)[4] for a in arrays])[0])
    seeds = min(len(a) for a in arrays)
    if not math.isfinite(est) or seeds < 2:
        why = "fewer than two seeds" if seeds < 2 else "every σ_w² is censored"
        return Verdict(None, f"undecided: {why} (median ratio {est:.3g})", {"ratio": est})
    # each cell's seeds resampled with replacement, n_boot replicates at once
    codes = [_tests(a[rng.integers(0, len(a), size=(n_boot, len(a)))], bar, alpha)[4]
             for a in arrays]
    b = median_ratio(codes)
    b = b[np.isfinite(b)]
    lo, hi = (float(np.quantile(b, 0.025)), float(np.quantile(b, 0.975))) if len(b) else (
        math.nan, math.nan)
    text = (f"median L̂ / 6ξ_c = {est:.3g}, bootstrap 95% CI [{lo:.3g}, {hi:.3g}] over seeds "
            f"({n_boot} resamples)")
    values = {"ratio": est, "ci_low": lo, "ci_high": hi}
    if not decide:
        return Verdict(None, "undecided at this budget (reported, not judged): " + text, values)
    return Verdict(bool(hi >= band[0] and lo <= band[1]), text, values)
