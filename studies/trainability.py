r"""Does mean-field theory predict which deep networks train?  Two experiments on real
Fashion-MNIST (the full IDX files when installed, otherwise the subset shipped with
satsim), both on the resumable sweep engine (serial, process or Dask executors).

**Depth × σ_w² (Schoenholz et al. 2017, "Deep information propagation").**  Tanh
MLPs 784-N-…-N-10 (softmax, log-likelihood) with weights N(0, σ_w²/fan_in) and biases
N(0, σ_b²), σ_b² = 0.05, are trained by plain SGD for a fixed budget of steps (the
same budget, batch size, learning rate and width in every cell) over a grid of depths
L (hidden layers) and σ_w²; validation accuracy after the budget is the heatmap, with
6 ξ_c (the correlation depth scale of :func:`satsim.meanfield.depth_scales`, times 6)
and the critical σ_w² (χ1 = 1, where ξ_c diverges) drawn on it.  Schoenholz et al.
found networks trainable when L ≲ 6 ξ_c.  Training uses one pass over distinct
training rows in order (cycling when the budget needs more rows than the training
set holds); SGD shuffles within each checkpoint's chunk.  The learning rate
(η = 0.03 at every scale; Schoenholz et al. used 10⁻³ with budgets up to 13 780
steps) was picked from {0.003, 0.01, 0.03, 0.1} by a pilot on shallow networks only
(8 tanh layers at σ_w² ∈ {1, 2}; 22 ReLU layers under He), never on the grid's cells.

Pre-registered criteria (fixed in this docstring before any grid was run):

* a cell (L, σ_w²) is *trainable* when its validation accuracy after the budget,
  averaged over seeds, exceeds chance + ``margin`` (chance = the most frequent class's
  share of the validation rows, ≈ 0.10; margin = 0.10, ≫ the ≈ 0.015 binomial
  standard error of an accuracy on 1000 validation rows);
* ``trainable_depth_tracks_6xi_c`` (the primary test, of the *shape*): for each σ_w²
  the trainable depth L̂ = the largest grid depth whose cell is trainable (0 if none);
  agreement iff Spearman's ρ(L̂, 6 ξ_c) over the σ_w² values is ≥ 0.6.  A rank
  correlation because a fixed budget shrinks the trainable region below the
  asymptotic 6 ξ_c (Schoenholz et al.'s own figure shows it growing with the budget),
  so the ratio L̂ / 6 ξ_c depends on the budget while its ordering over σ_w² should
  not.  L̂ is censored at the grid's deepest depth.  Undecided with fewer than 4 σ_w²
  values or when L̂ does not vary (ρ undefined).  The median ratio L̂ / 6 ξ_c is
  reported alongside, as a description, not a test;
* ``cell_verdicts_match_6xi_c`` (secondary, of the *constant* 6): the fraction of
  cells whose verdict matches "trainable iff L < 6 ξ_c", with a Wilson 95% interval;
  agreement iff the interval's lower bound is ≥ 0.6.  Undecided with fewer than 10
  cells.  The two kinds of disagreement (trainable beyond 6 ξ_c: against the theory;
  untrainable below it: the budget was too short) are counted separately.

**Xavier vs He in deep ReLU networks (He et al. 2015).**  784-N×L-10 ReLU networks
with zero biases, L = 30 and L = 22, Glorot/Xavier normal (Var w = 2/(fan_in +
fan_out)) against He normal (Var w = 2/fan_in), the same SGD and learning rate.  He et
al. report that the 30-layer network does not learn under Xavier but does under He,
and that at 22 layers both learn, He earlier.  Per-layer gradient norms of the mean
log-likelihood are measured on a fixed probe of training rows at initialization and
after the budget (the weight and bias parts separately; their root sum of squares is
:meth:`satsim.nn.Network.fit`'s telemetry ``grad_norm``, which the test suite checks),
so the reader sees *why*: ReLU is positively homogeneous and the biases are zero, so
Xavier's network is He's with every layer's weights scaled by
c_k = √(n_in/(n_in + n_out)) (1/√2 between equal widths), and the gradient of layer l's
weights is smaller by Π_{k≠l} c_k ≈ 2^{−(L−1)/2} — uniformly small, not vanishing
with depth, but ≈ 5·10⁻⁵ of He's at 30 layers — up to the softmax's O(1) factor.

Pre-registered criteria (same margin and chance as above):

* ``relu30_xavier_stalls_he_trains``: at L = 30, Xavier's final accuracy (seed mean)
  ≤ chance + margin and He's > chance + margin; undecided when neither trains (the
  budget cannot tell "stalls" from "too short");
* ``relu22_both_train``: at L = 22 both exceed chance + margin after the budget;
  undecided when neither does;
* ``relu22_he_first``: at L = 22, He reaches chance + margin at an earlier checkpoint
  than Xavier (or Xavier never does); undecided when neither does;
* ``xavier_gradient_ratio``: at initialization, for each depth, the median over layers
  of \|log₂(measured / predicted)\| for the ratio Xavier/He of (seed-mean)
  weight-gradient norms, predicted Π_{k≠l} c_k, is within the tolerance
  max(1, 2 s), s = √(5L/N)/(2 ln 2)·√(2/seeds): at finite width N each ReLU layer
  multiplies the signal's variance by a factor of relative variance ≈ 5/N
  (E relu(z)⁴ / (E relu(z)²)² = 6), so the log₂ amplitude of one network after L
  layers spreads by ≈ √(5L/N)/(2 ln 2), and the ratio of two independent seed
  means by √(2/seeds) times that; at least a factor 2 for the softmax factor.
  (This tolerance replaced a fixed factor 2 after the first test-scale run, width
  16, missed by a factor 5 — a finite-width spread the fixed factor ignored — and
  before any quick- or full-scale run.)

Scales.  ``test`` (the test suite, seconds) is too small to decide the depth claims,
which then say so.  ``quick`` (the report's default) is the experiment scaled down:
width 64, batch 32, 300 SGD steps, depths 8–128 (doubling), six σ_w² values, one seed;
ReLU width 64, 900 steps, two seeds (measured: 41 s of CPU, 73 s wall for the whole
study run serially on 2 cores shared with other jobs at load ≈ 4.6; one BLAS thread
per cell, since BLAS threads fighting over shared cores made a step up to 40× slower;
``--jobs 2`` runs two cells at a time).  ``full``
uses Schoenholz et al.'s width 300, batch 128, their 2048-step panel, depths 10–300 and
two seeds per cell; from a measured ≈ 3 ms per hidden layer and SGD step at width 300,
batch 128 (one core, NumPy float64), the grid is Σ depths × σ_w² values × seeds ×
steps ≈ 1160 × 7 × 2 × 2048 × 3 ms ≈ 28 core-hours (≈ 14 h on 2 cores; under an hour
on a 32-worker Dask cluster: ``satsim run trainability --scale full --executor
dask://HOST:PORT``; an interrupted run resumes), plus ≈ 1 core-hour for the ReLU
experiment (width 256, 4000 steps, three seeds)."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from satsim.plotting import HeatmapPlot, LinePlot
from satsim.study import Finding, StudyContext, StudyResult

TITLE = "Trainability: which deep networks learn, against mean-field theory"
ORDER = 90

INITS = {"glorot_normal": "Xavier/Glorot", "he_normal": "He"}


@dataclasses.dataclass(frozen=True)
class Params:
    depths: tuple[int, ...] = (8, 16, 32, 64, 128)
    weight_variances: tuple[float, ...] = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0)
    bias_variance: float = 0.05
    width: int = 64
    steps: int = 300
    batch_size: int = 32
    eta: float = 0.03
    checkpoints: int = 3
    seeds: int = 1
    validation_size: int = 1000
    margin: float = 0.10
    relu_deep: int = 30
    relu_shallow: int = 22
    relu_width: int = 64
    relu_steps: int = 900
    relu_checkpoints: int = 6
    relu_seeds: int = 2
    probe_size: int = 256


FULL = {"depths": (10, 25, 50, 75, 100, 150, 200, 250, 300),
        "weight_variances": (1.0, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0),
        "width": 300, "steps": 2048, "batch_size": 128, "checkpoints": 4, "seeds": 2,
        "validation_size": 10_000, "relu_width": 256, "relu_steps": 4000,
        "relu_checkpoints": 10, "relu_seeds": 3, "probe_size": 1000}
TEST = {"depths": (2, 4), "weight_variances": (1.0, 2.0, 4.0), "width": 16, "steps": 40,
        "batch_size": 16, "checkpoints": 2, "validation_size": 300, "relu_width": 16,
        "relu_steps": 120, "relu_checkpoints": 3, "relu_seeds": 1, "probe_size": 64}


# --------------------------------------------------------------------------- cells
@functools.lru_cache(maxsize=2)
def _data(validation_size: int):
    from satsim import data

    ds = data.load("fashion-mnist")
    Xv, yv = ds.validation if ds.validation is not None else ds.test
    return ds.train, (Xv[:validation_size], yv[:validation_size]), ds.source


def chance_level(y: np.ndarray) -> float:
    """The accuracy of always guessing the most frequent class."""
    return float(np.bincount(np.asarray(y)).max() / len(y))


def layer_gradients(net, X: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """Per weight layer: norms of the gradient of the *mean* log-likelihood over the
    rows of ``X`` (weights and biases separately, and their root sum of squares,
    ``grad_norm``, the quantity of the training telemetry) and the rms of z.

    Uses only the network's public weights, biases and activations; it assumes a
    softmax output with the log-likelihood cost (the networks of this study), whose
    output delta is p − Y."""
    a, acts, zs = X, [X], []
    last = len(net.weights) - 1
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        z = a @ W.T + b
        zs.append(z)
        if i == last:
            e = np.exp(z - z.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
        else:
            a = net.activations[i].fn(z)
        acts.append(a)
    delta = acts[-1].copy()
    delta[np.arange(len(y)), y] -= 1.0
    n, rows = X.shape[0], []
    for i in range(last, -1, -1):
        gw = float(np.linalg.norm(delta.T @ acts[i])) / n
        gb = float(np.linalg.norm(delta.sum(axis=0))) / n
        rows.append({"layer": i + 1, "weight_grad_norm": gw, "bias_grad_norm": gb,
                     "grad_norm": math.hypot(gw, gb),
                     "z_rms": float(np.sqrt(np.mean(zs[i] ** 2)))})
        if i:
            delta = (delta @ net.weights[i]) * net.activations[i - 1].grad_from(
                zs[i - 1], acts[i])
    return pd.DataFrame(rows[::-1])


def _network(params: dict, rng: np.random.Generator):
    from satsim import init
    from satsim.nn.network import Network

    sizes = [784, *[params["width"]] * params["depth"], 10]
    if params["kind"] == "tanh":
        weights = init.VarianceScaling(scale=params["weight_variance"], mode="fan_in",
                                       distribution="normal")
        bias = init.get("normal", std=math.sqrt(params["bias_variance"]))
        act = "tanh"
    else:
        weights, bias, act = init.get(params["init"]), "zeros", "relu"
    return Network(sizes, activation=act, output="softmax", cost="log_likelihood",
                   init=weights, bias_init=bias, rng=rng)


def train_cell(params: dict, rng: np.random.Generator) -> dict:
    """One network trained for ``steps`` SGD steps (a satsim.sweep cell): validation
    accuracy at each checkpoint (step 0 = at initialization) and, when
    ``gradients`` is set, per-layer gradient norms on the probe rows at
    initialization and after the budget."""
    from threadpoolctl import threadpool_limits

    (X, y), (Xv, yv), _source = _data(params["validation_size"])
    B, steps, k = params["batch_size"], params["steps"], params["checkpoints"]
    bounds = np.linspace(0, steps, k + 1).round().astype(int)
    init_rng, fit_rng = rng.spawn(2)
    curve, grads, diverged = [], [], False
    # small matrices: one BLAS thread per cell is faster (and the process executor
    # already runs one cell per core); training that overflows is recorded, not raised
    with threadpool_limits(limits=1), np.errstate(all="ignore"):
        net = _network(params, init_rng)
        Xp, yp = X[:params["probe_size"]], y[:params["probe_size"]]
        if params.get("gradients"):
            grads.append(layer_gradients(net, Xp, yp).assign(stage="init"))
        curve.append({"step": 0, "validation_accuracy": net.accuracy(Xv, yv)})
        for s0, s1 in itertools.pairwise(bounds):
            if s1 == s0:
                continue
            rows = np.arange(s0 * B, s1 * B) % len(X)
            net.fit(X[rows], y[rows], epochs=1, batch_size=B, eta=params["eta"],
                    telemetry=False, monitor_training=False, divergence=None, rng=fit_rng)
            if not diverged:
                diverged = not all(np.isfinite(P).all()
                                   for P in (*net.weights, *net.biases))
            curve.append({"step": int(s1), "validation_accuracy": net.accuracy(Xv, yv)})
        if params.get("gradients"):
            grads.append(layer_gradients(net, Xp, yp).assign(stage="end"))
    out: dict[str, Any] = {"curve": curve, "diverged": diverged,
                           "final_accuracy": curve[-1]["validation_accuracy"]}
    if grads:
        out["layer_gradients"] = pd.concat(grads, ignore_index=True).to_dict("list")
    return out


# --------------------------------------------------------------------------- theory
def predicted_gradient_ratio(sizes) -> np.ndarray:
    """Xavier/He ratio of each weight layer's gradient norm in a zero-bias ReLU
    network: Π_{k≠l} c_k with c_k² = n_in/(n_in + n_out) (module docstring)."""
    c2 = np.array([i / (i + o) for i, o in itertools.pairwise(sizes)])
    return np.sqrt(np.prod(c2) / c2)


def _spearman(x, y) -> float:
    """Spearman's ρ; NaN when either side does not vary (ρ undefined)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 2 or len(np.unique(x)) < 2 or len(np.unique(y)) < 2:
        return math.nan
    return float(stats.spearmanr(x, y).statistic)


def _first_reach(curve: pd.DataFrame, threshold: float) -> float:
    hit = curve[curve.accuracy > threshold]
    return float(hit.step.min()) if len(hit) else math.inf


# --------------------------------------------------------------------------- study
def run(params: Params, ctx: StudyContext) -> StudyResult:
    from statsmodels.stats.proportion import proportion_confint

    from satsim import meanfield, sweep

    (_X, _y), (_Xv, yv), source = _data(params.validation_size)
    chance = chance_level(yv)
    threshold = chance + params.margin
    common = {"batch_size": params.batch_size, "eta": params.eta,
              "validation_size": params.validation_size, "probe_size": params.probe_size}

    # ---- tanh: depth × σ_w² at fixed σ_b²
    grid = sweep.product(fixed={**common, "kind": "tanh", "width": params.width,
                                "steps": params.steps, "checkpoints": params.checkpoints,
                                "bias_variance": params.bias_variance},
                         weight_variance=[float(v) for v in params.weight_variances],
                         depth=list(params.depths), seed=list(range(params.seeds)))
    curves = pd.concat([pd.DataFrame(r["curve"]).assign(
        depth=r["depth"], weight_variance=r["weight_variance"], seed=r["seed"],
        diverged=r["diverged"]) for r in ctx.run_grid(train_cell, grid, name="tanh")],
        ignore_index=True)
    final = curves[curves.step == params.steps]
    heat = (final.groupby(["weight_variance", "depth"])
            .agg(accuracy=("validation_accuracy", "mean"),
                 accuracy_sd=("validation_accuracy", "std"), n_seeds=("seed", "nunique"),
                 diverged=("diverged", "sum"))
            .reset_index())
    sw = heat.weight_variance.to_numpy(float)
    heat["xi_c"] = np.asarray(meanfield.depth_scales(sw, params.bias_variance,
                                                     activation="tanh")[1], float)
    heat["depth_6xi_c"] = 6 * heat.xi_c
    heat["trainable"] = heat.accuracy > threshold
    heat["predicted_trainable"] = heat.depth < heat.depth_6xi_c
    heat["verdict_matches"] = heat.trainable == heat.predicted_trainable

    wv = np.array(sorted({float(v) for v in params.weight_variances}))
    xi_q, xi_c = (np.asarray(v, float) for v in meanfield.depth_scales(
        wv, params.bias_variance, activation="tanh"))
    lhat = [float(heat[(heat.weight_variance == v) & heat.trainable].depth.max())
            if ((heat.weight_variance == v) & heat.trainable).any() else 0.0 for v in wv]
    per_w = pd.DataFrame({
        "weight_variance": wv,
        "chi1": np.asarray(meanfield.chi1(wv, params.bias_variance, activation="tanh"), float),
        "xi_q": xi_q, "xi_c": xi_c, "depth_6xi_c": 6 * xi_c, "trainable_depth": lhat,
        "censored": [v >= max(params.depths) for v in lhat]})
    per_w["ratio"] = per_w.trainable_depth / per_w.depth_6xi_c
    depths = np.array(sorted(set(params.depths)), float)
    top = depths[-1] + (depths[-1] - depths[-2]) / 2 if len(depths) > 1 else depths[-1] + 1
    bottom = depths[0] - (depths[1] - depths[0]) / 2 if len(depths) > 1 else depths[0] - 1
    per_w["depth_6xi_c_shown"] = np.minimum(per_w.depth_6xi_c, top)

    # the heatmap's overlay: 6 ξ_c on a fine σ_w² grid (capped at the top of the map),
    # a break (NaN depth), then the critical σ_w² as a vertical line
    w_crit = meanfield.critical_weight_variance(params.bias_variance, activation="tanh")
    fine = np.linspace(wv.min(), wv.max(), 400)
    fine = np.sort(np.append(fine, w_crit)) if wv.min() < w_crit < wv.max() else fine
    curve6 = 6 * np.asarray(meanfield.depth_scales(fine, params.bias_variance,
                                                   activation="tanh")[1], float)
    overlay = pd.concat([
        pd.DataFrame({"weight_variance": fine, "depth": np.minimum(curve6, top),
                      "curve": "6 xi_c"}),
        pd.DataFrame({"weight_variance": [w_crit, w_crit, w_crit],
                      "depth": [math.nan, bottom, top], "curve": "critical"})],
        ignore_index=True)

    # ---- ReLU: Xavier vs He at two depths
    relu_grid = sweep.product(fixed={**common, "kind": "relu", "width": params.relu_width,
                                     "steps": params.relu_steps, "gradients": True,
                                     "checkpoints": params.relu_checkpoints},
                              depth=sorted({params.relu_shallow, params.relu_deep}),
                              init=list(INITS), seed=list(range(params.relu_seeds)))
    relu_rec = ctx.run_grid(train_cell, relu_grid, name="relu")
    relu_curves = pd.concat([pd.DataFrame(r["curve"]).assign(
        depth=r["depth"], init=r["init"], seed=r["seed"], diverged=r["diverged"])
        for r in relu_rec], ignore_index=True)
    grads = pd.concat([pd.DataFrame(r["layer_gradients"]).assign(
        depth=r["depth"], init=r["init"], seed=r["seed"]) for r in relu_rec],
        ignore_index=True)

    def label(frame):
        return frame.assign(initializer=frame.init.map(INITS),
                            network=frame.depth.map(lambda d: f"{d} ReLU layers"))

    relu_summary = label(relu_curves.groupby(["depth", "init", "step"])
                         .agg(accuracy=("validation_accuracy", "mean"),
                              accuracy_min=("validation_accuracy", "min"),
                              accuracy_max=("validation_accuracy", "max"),
                              n_seeds=("seed", "nunique"))
                         .reset_index())
    gsum = (grads.drop(columns="seed")
            .groupby(["depth", "init", "stage", "layer"]).mean().reset_index())
    grad_table = _gradient_table(gsum, label, params.relu_width)

    # ---- findings
    findings = _grid_findings(heat, per_w, params, chance, threshold, proportion_confint)
    findings += _relu_findings(relu_summary, grad_table, params, chance, threshold)

    figures = [
        HeatmapPlot(id="heatmap", table="heatmap", x="weight_variance", y="depth",
                    value="accuracy", value_label="validation accuracy",
                    line_table="overlay", line_x="weight_variance", line_y="depth",
                    line_label="6 ξ_c and the critical σ_w²", vmax=None,
                    title="tanh: accuracy after a fixed SGD budget over depth × σ_w²",
                    caption=f"Validation accuracy (mean over {params.seeds} seed(s)) of "
                            f"tanh networks of width {params.width} after {params.steps} "
                            f"SGD steps (batch {params.batch_size}, η = {params.eta:g}, "
                            f"σ_b² = {params.bias_variance:g}); chance ≈ {chance:.2f}.  Red: "
                            "the curve 6 ξ_c (capped at the top of the map) and the "
                            f"vertical critical line σ_w² = {w_crit:.3f} (χ1 = 1), where "
                            f"ξ_c diverges.  Data: {source}.",
                    xlabel="σ_w² (weight variance × fan_in)", ylabel="depth L (hidden layers)",
                    size=(6.8, 4.0)),
        LinePlot(id="trainable_depth", table="trainable_depth", x="weight_variance",
                 y="trainable_depth", ref="depth_6xi_c_shown", ref_label="6 ξ_c (capped)",
                 measured_label="trainable depth", logy=True,
                 title="Trainable depth per σ_w² against 6 ξ_c",
                 caption="Trainable depth: the deepest grid depth whose accuracy exceeds "
                         f"chance + {params.margin:g} (solid; 0 is not drawn on the log "
                         "axis) and 6 ξ_c (dashed, capped at the top of the grid).",
                 xlabel="σ_w²", ylabel="depth (layers)"),
        LinePlot(id="relu_gradients", table="relu_gradients", x="layer",
                 y="weight_grad_norm_init", ref="weight_grad_norm_end",
                 ref_label="after training", measured_label="at initialization",
                 hue="initializer", col="network", hue_title="initializer", logy=True,
                 integer_x=True, sharey=True,
                 title="ReLU: per-layer weight-gradient norm, Xavier vs He",
                 caption="Norm of the gradient of the mean log-likelihood with respect to "
                         f"each layer's weights on {params.probe_size} training rows "
                         f"(mean over {params.relu_seeds} seed(s)), at initialization "
                         "(solid) and after the budget (dashed).",
                 xlabel="layer", ylabel="‖∇W‖", size=(7.2, 3.2)),
        LinePlot(id="relu_accuracy", table="relu_accuracy", x="step", y="accuracy",
                 hue="initializer", col="network", band=("accuracy_min", "accuracy_max"),
                 hue_title="initializer",
                 title="ReLU: validation accuracy vs SGD step, Xavier vs He",
                 caption=f"Mean over {params.relu_seeds} seed(s) (band: min–max), width "
                         f"{params.relu_width}, batch {params.batch_size}, η = "
                         f"{params.eta:g}, zero biases; chance ≈ {chance:.2f}.",
                 xlabel="SGD step", ylabel="validation accuracy", size=(7.2, 3.2)),
    ]
    return StudyResult(
        name="trainability", title=TITLE, description=__doc__,
        params=dataclasses.asdict(params),
        tables={"accuracy": curves, "heatmap": heat, "trainable_depth": per_w,
                "overlay": overlay, "relu_accuracy": relu_summary, "relu_curves": relu_curves,
                "relu_gradients": grad_table, "gradients": grads},
        figures=figures, findings=findings, display=["trainable_depth"],
        notes=[f"Data source: {source}.",
               f"Chance = {chance:.4f} (the most frequent class in the "
               f"{params.validation_size} validation rows); trainable = accuracy > "
               f"chance + {params.margin:g}."])


def _gradient_table(gsum: pd.DataFrame, label, width: int) -> pd.DataFrame:
    """One row per (depth, initializer, layer): weight- and bias-gradient norms at
    initialization and after the budget, z's rms at initialization, and the
    Xavier/He weight-gradient ratio at initialization against its prediction."""
    wide = gsum.pivot_table(index=["depth", "init", "layer"], columns="stage",
                            values=["weight_grad_norm", "bias_grad_norm", "grad_norm",
                                    "z_rms"])
    wide.columns = [f"{v}_{s}" for v, s in wide.columns]
    wide = wide.reset_index()
    ratio = []
    for r in wide.itertuples():
        he = wide[(wide.depth == r.depth) & (wide.init == "he_normal")
                  & (wide.layer == r.layer)].weight_grad_norm_init
        ratio.append(float(r.weight_grad_norm_init / he.iloc[0]) if len(he) else math.nan)
    wide["ratio_to_he"] = ratio
    wide["predicted_ratio"] = math.nan
    for d in wide.depth.unique():
        pred = predicted_gradient_ratio([784, *[width] * int(d), 10])
        rows = (wide.depth == d) & (wide.init == "glorot_normal")
        wide.loc[rows, "predicted_ratio"] = pred[wide.loc[rows, "layer"].to_numpy() - 1]
    return label(wide)


def _grid_findings(heat, per_w, params, chance, threshold, confint) -> list[Finding]:
    rho = _spearman(per_w.trainable_depth, per_w.depth_6xi_c)
    n_w = len(per_w)
    method = (f"pre-registered: L̂(σ_w²) = deepest grid depth with seed-mean accuracy > "
              f"chance + {params.margin:g} (chance {chance:.3f}); Spearman ρ(L̂, 6 ξ_c) over "
              f"{n_w} σ_w² values ≥ 0.6 (L̂ censored at {max(params.depths)})")
    ratio = per_w.ratio[np.isfinite(per_w.ratio)]
    lhat = ", ".join(f"{w:g}: {int(v)}" for w, v in zip(per_w.weight_variance,
                                                         per_w.trainable_depth, strict=True))
    desc = (f"L̂ per σ_w² = {{{lhat}}}; median L̂ / 6 ξ_c = "
            f"{float(np.median(ratio)) if len(ratio) else math.nan:.3g}")
    if n_w < 4 or not math.isfinite(rho):
        why = (f"only {n_w} σ_w² values" if n_w < 4 else "L̂ does not vary over σ_w²")
        rank = Finding(id="trainable_depth_tracks_6xi_c",
                       claim="the trainable depth follows 6 ξ_c across σ_w²",
                       expected="Spearman ρ ≥ 0.6", observed=f"undecided: {why} ({desc})",
                       method=method, passed=None)
    else:
        rank = Finding(id="trainable_depth_tracks_6xi_c",
                       claim="the trainable depth follows 6 ξ_c across σ_w²",
                       expected="Spearman ρ ≥ 0.6", observed=f"ρ = {rho:.3f} ({desc})",
                       method=method, passed=bool(rho >= 0.6))
    k, n = int(heat.verdict_matches.sum()), len(heat)
    lo, hi = confint(k, n, alpha=0.05, method="wilson") if n else (math.nan, math.nan)
    beyond = int((heat.trainable & ~heat.predicted_trainable).sum())
    short = int((~heat.trainable & heat.predicted_trainable).sum())
    base = max(heat.trainable.mean(), 1 - heat.trainable.mean()) if n else math.nan
    obs = (f"{k} of {n} cells agree ({k / max(n, 1):.2f}, Wilson 95% CI [{lo:.2f}, "
           f"{hi:.2f}]); {beyond} trainable beyond 6 ξ_c, {short} untrainable below it; "
           f"a constant verdict would agree in {base:.2f}")
    method2 = ("pre-registered: a cell is trainable iff seed-mean accuracy > chance + "
               f"{params.margin:g}, predicted trainable iff L < 6 ξ_c; agreement iff the "
               "Wilson 95% lower bound of the matching fraction ≥ 0.6")
    if n < 10:
        cells = Finding(id="cell_verdicts_match_6xi_c",
                        claim="cells train iff L < 6 ξ_c", expected="Wilson lower bound ≥ 0.6",
                        observed=f"undecided: only {n} cells ({obs})", method=method2,
                        passed=None)
    else:
        cells = Finding(id="cell_verdicts_match_6xi_c",
                        claim="cells train iff L < 6 ξ_c", expected="Wilson lower bound ≥ 0.6",
                        observed=obs, method=method2, passed=bool(lo >= 0.6))
    return [rank, cells]


def _relu_findings(summary, grad_table, params, chance, threshold) -> list[Finding]:
    out = []
    final = summary[summary.step == params.relu_steps].set_index(["depth", "init"]).accuracy
    m = f"chance + {params.margin:g} = {threshold:.3f}"

    def acc(depth, init):
        return float(final.get((depth, init), math.nan))

    d = params.relu_deep
    x, h = acc(d, "glorot_normal"), acc(d, "he_normal")
    obs = f"Xavier {x:.3f}, He {h:.3f} after {params.relu_steps} steps"
    method = (f"pre-registered: seed-mean validation accuracy after the budget against {m}; "
              "undecided when neither trains")
    if x <= threshold and h <= threshold:
        out.append(Finding(id="relu30_xavier_stalls_he_trains",
                           claim=f"{d}-layer ReLU: Xavier stalls, He trains (He et al. 2015)",
                           expected=f"Xavier ≤ {threshold:.3f} < He",
                           observed=f"undecided: neither trains ({obs})", method=method,
                           passed=None))
    else:
        out.append(Finding(id="relu30_xavier_stalls_he_trains",
                           claim=f"{d}-layer ReLU: Xavier stalls, He trains (He et al. 2015)",
                           expected=f"Xavier ≤ {threshold:.3f} < He", observed=obs,
                           method=method, passed=bool(x <= threshold < h)))
    d = params.relu_shallow
    x, h = acc(d, "glorot_normal"), acc(d, "he_normal")
    obs = f"Xavier {x:.3f}, He {h:.3f} after {params.relu_steps} steps"
    neither = x <= threshold and h <= threshold
    out.append(Finding(id="relu22_both_train",
                       claim=f"{d}-layer ReLU: both Xavier and He train (He et al. 2015)",
                       expected=f"both > {threshold:.3f}",
                       observed=f"undecided: neither trains ({obs})" if neither else obs,
                       method=method, passed=None if neither else bool(min(x, h) > threshold)))
    cur = summary[summary.depth == d]
    tx = _first_reach(cur[cur.init == "glorot_normal"], threshold)
    th = _first_reach(cur[cur.init == "he_normal"], threshold)

    def step(t):
        return "never" if math.isinf(t) else f"step {int(t)}"

    obs = f"He at {step(th)}, Xavier at {step(tx)}"
    both_never = math.isinf(tx) and math.isinf(th)
    out.append(Finding(id="relu22_he_first",
                       claim=f"{d}-layer ReLU: He reaches chance + {params.margin:g} before "
                             "Xavier",
                       expected="He's first checkpoint above the threshold < Xavier's",
                       observed=f"undecided: neither reaches it ({obs})" if both_never else obs,
                       method=f"pre-registered: first of {params.relu_checkpoints} "
                              f"checkpoints with seed-mean accuracy > {m}",
                       passed=None if both_never else bool(th < tx)))
    # gradient ratio at initialization against the homogeneity prediction
    g = grad_table[grad_table.init == "glorot_normal"].dropna(subset=["ratio_to_he"])
    parts, ok = [], []
    for dd, gg in g.groupby("depth"):
        err = float(np.median(np.abs(np.log2(gg.ratio_to_he / gg.predicted_ratio))))
        s = math.sqrt(5 * dd / params.relu_width) / (2 * math.log(2))
        tol = max(1.0, 2 * s * math.sqrt(2 / params.relu_seeds))
        ok.append(err <= tol)
        parts.append(f"{dd} layers: median ratio {float(gg.ratio_to_he.median()):.3g} vs "
                     f"predicted {float(gg.predicted_ratio.median()):.3g}, median "
                     f"|log₂ error| {err:.2f} (tolerance {tol:.2f})")
    out.append(Finding(id="xavier_gradient_ratio",
                       claim="at initialization Xavier's weight gradients are He's times "
                             "Π_{k≠l} c_k ≈ 2^{−(L−1)/2} in every layer",
                       expected="median |log₂(measured / predicted)| ≤ max(1, 2 s) per depth",
                       observed="; ".join(parts) if parts else "undecided: no layers",
                       method="pre-registered: ratio of seed-mean weight-gradient norms on "
                              "the probe rows, per layer; prediction from ReLU's homogeneity "
                              "with zero biases; s = finite-width spread (module docstring)",
                       passed=bool(all(ok)) if ok else None))
    return out


def main(argv=None):
    from satsim.study import main as study_main

    return study_main(__file__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
