"""The trainability criteria must be able to fail: synthetic grids where the
prediction is false fail them, and a grid where it holds passes."""

import numpy as np
import pandas as pd
import pytest
from satsim.studies import _trainability_criteria as C

# 6ξ_c of tanh at σ_b² = 0.05 (satsim.meanfield.depth_scales; rounded: the criteria
# only compare depths with it) and the critical σ_w² (χ1 = 1)
SIX_XI = {1.0: 21.8, 1.5: 94.7, 1.75: 2557.0, 2.0: 151.3, 2.5: 70.8, 3.0: 54.3, 4.0: 41.9}
CRITICAL = 1.761
DEPTHS = (10, 25, 50, 75, 100, 150, 200, 250, 300)
CHANCE = 0.10


def grid(trainable_depth, *, seeds=3, noise=0.02, rng=0, depths=DEPTHS):
    """Accuracy 0.80 (± noise) where L ≤ trainable_depth(σ_w²), chance (± noise) beyond."""
    rng = np.random.default_rng(rng)
    rows = []
    for w in SIX_XI:
        for d in depths:
            ok = d <= trainable_depth(w)
            for s in range(seeds):
                acc = (0.80 if ok else CHANCE) + noise * rng.standard_normal()
                rows.append({"weight_variance": w, "depth": d, "seed": s, "accuracy": acc})
    return pd.DataFrame(rows)


def verdicts(runs):
    v = C.cell_verdicts(runs, chance=CHANCE)
    return v, C.trainable_depths(v, SIX_XI)


def test_prediction_true_passes():
    runs = grid(lambda w: SIX_XI[w])  # trains exactly up to 6ξ_c
    v, d = verdicts(runs)
    assert C.critical_trains_deepest(d, CRITICAL).passed is True
    assert C.none_trainable_beyond(v, SIX_XI, factor=1.5).passed is True
    r = C.depth_ratio(runs, SIX_XI, chance=CHANCE, n_boot=50, rng=1)
    assert r.passed is True and 0.5 <= r.values["ratio"] <= 1.0


def test_everything_trains_to_the_same_depth_fails():
    runs = grid(lambda w: 75)
    _, d = verdicts(runs)
    out = C.critical_trains_deepest(d, CRITICAL)
    assert out.passed is False, out.observed


def test_deepest_off_the_critical_line_fails():
    runs = grid(lambda w: 300 if w == 3.0 else min(SIX_XI[w], 100))
    _, d = verdicts(runs)
    assert C.critical_trains_deepest(d, CRITICAL).passed is False


def test_trainable_far_beyond_six_xi_fails():
    runs = grid(lambda w: 300 if w == 1.75 else 4 * SIX_XI[w])  # the shape holds, the constant does not
    v, d = verdicts(runs)
    assert C.critical_trains_deepest(d, CRITICAL).passed is True
    assert C.none_trainable_beyond(v, SIX_XI, factor=1.5).passed is False
    r = C.depth_ratio(runs, SIX_XI, chance=CHANCE, n_boot=50, rng=1)
    assert r.passed is False and r.values["ci_low"] > 2


def test_trainable_far_short_of_six_xi_fails_the_constant():
    runs = grid(lambda w: 300 if w == 1.75 else SIX_XI[w] / 5)
    r = C.depth_ratio(runs, SIX_XI, chance=CHANCE, n_boot=50, rng=1)
    assert r.passed is False and r.values["ci_high"] < 0.5
    assert C.depth_ratio(runs, SIX_XI, chance=CHANCE, n_boot=20, rng=1,
                         decide=False).passed is None  # a short budget reports only


def test_verdicts_need_replicates_and_test_against_chance():
    one = grid(lambda w: SIX_XI[w], seeds=1)
    v, _ = verdicts(one)
    assert (v.verdict == "undecided").all()  # one run cannot be tested
    # a cell barely above chance + margin with spread seeds is undecided, not trainable
    runs = pd.DataFrame({"weight_variance": 1.0, "depth": 10, "seed": [0, 1, 2],
                         "accuracy": [0.15, 0.25, 0.24]})
    assert C.cell_verdicts(runs, chance=CHANCE).verdict.item() == "undecided"
    runs["accuracy"] = [0.80, 0.81, 0.79]
    assert C.cell_verdicts(runs, chance=CHANCE).verdict.item() == "trainable"
    runs["accuracy"] = [0.10, 0.11, np.nan]  # a diverged seed counts as chance
    assert C.cell_verdicts(runs, chance=CHANCE).verdict.item() == "untrainable"


def test_verdict_level_is_alpha_under_the_null():
    """Calibration: seeds drawn with mean exactly chance + margin are called trainable
    in ≈ α of cells (binomial test), so a cell is not trainable by luck."""
    from scipy import stats

    rng = np.random.default_rng(7)
    n = 2000
    rows = [{"weight_variance": 1.0, "depth": i, "seed": s,
             "accuracy": CHANCE + 0.10 + 0.05 * rng.standard_normal()}
            for i in range(n) for s in range(3)]
    v = C.cell_verdicts(pd.DataFrame(rows), chance=CHANCE)
    k = int((v.verdict == "trainable").sum())
    # two-sided binomial test of the rate against α = 0.05 at level 0.001
    assert stats.binomtest(k, n, 0.05).pvalue > 0.001, k / n


@pytest.mark.parametrize("n_w", [1, 2])
def test_too_few_weight_variances_is_undecided(n_w):
    runs = grid(lambda w: SIX_XI[w])
    keep = list(SIX_XI)[:n_w]
    _, d = verdicts(runs[runs.weight_variance.isin(keep)])
    assert C.critical_trains_deepest(d, CRITICAL).passed is None


def test_a_grid_too_shallow_to_tell_is_undecided():
    runs = grid(lambda w: 1000, depths=(10, 25))
    v, d = verdicts(runs)
    assert C.critical_trains_deepest(d, CRITICAL).passed is None
    out = C.none_trainable_beyond(v[v.weight_variance == 1.75], SIX_XI, factor=1.5)
    assert out.passed is None


def test_a_tie_at_the_deepest_depth_tried_is_undecided_not_failed():
    # σ_w² = 1 and the critical value both train at the deepest depth tried (4): the grid
    # cannot tell them apart; a tie below the ceiling is a flat profile and fails
    d = pd.DataFrame({"weight_variance": [1.0, 1.75, 4.0], "trainable_depth": [4, 4, 2],
                      "deepest_tried": [4, 4, 4], "censored": [True, True, False]})
    assert C.critical_trains_deepest(d, CRITICAL).passed is None
    d["deepest_tried"] = 8
    d["censored"] = False
    assert C.critical_trains_deepest(d, CRITICAL).passed is False
