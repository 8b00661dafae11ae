"""`satsim analyze` on a NumPy network (:func:`analyze`; see :mod:`satsim.analyze`)."""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from satsim._results import Result, result
from satsim._validation import check_choice, check_int, check_real, check_rng
from satsim.analyze._common import (
    SCALES,
    _check_sizes,
    _rms_interval,
    _t_interval,
    check_budget,
    check_storable,
    numpy_estimate,
    store_name,
)
from satsim.analyze._report import _findings, _key_numbers, _overview, _study_results

__all__ = ["AnalysisResult", "analyze"]

@result
class AnalysisResult(Result):
    """Everything :func:`analyze` measured, predicted and concluded.

    Attributes
    ----------
    layers : DataFrame
        One row per scheme × inputs ("data" or "gaussian") × layer: ``z_rms`` with
        ``z_rms_ci_low/high``, ``z_rms_predicted``, ``saturated`` with CI,
        ``saturated_predicted``, ``weight_variance`` (realised, n·Var w).
    meanfield : DataFrame
        One row per scheme × hidden layer: σ_w², σ_b², q*, χ1, ξ_q, ξ_c, critical σ_w²,
        phase, trainable depth 6ξ_c.
    training : DataFrame
        One row per scheme × epoch: validation accuracy, mean and t interval over seeds
        (epoch 0 is before training; empty without data or with ``epochs=0``).
    training_saturation : DataFrame
        One row per scheme × epoch × hidden layer: saturated fraction, mean and t
        interval over seeds.
    findings : list of satsim.study.Finding
    overview : str
        Plain-language paragraph (the report opens with it).
    """

    _title = "Initialization analysis"

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    schemes: tuple[str, ...]
    params: dict
    layers: pd.DataFrame
    meanfield: pd.DataFrame
    training: pd.DataFrame
    training_saturation: pd.DataFrame
    densities: pd.DataFrame
    critical_line: pd.DataFrame
    findings: list
    overview: str
    provenance: dict

    def to_frame(self) -> pd.DataFrame:
        return self.layers

    def _summary_header(self) -> list[str]:
        return [self.overview, ""]

    def __repr__(self) -> str:
        passed = sum(f.passed is True for f in self.findings)
        return (f"AnalysisResult({'-'.join(map(str, self.sizes))} "
                f"{'/'.join(dict.fromkeys(self.activations))}, schemes={list(self.schemes)}, "
                f"findings {passed}/{len(self.findings)} passed)")

    def _repr_html_(self) -> str:
        import html

        rows = "".join(f"<tr><td>{html.escape(f.claim)}</td><td>{html.escape(str(f.observed))}"
                       f"</td><td>{f.verdict}</td></tr>" for f in self.findings)
        return (f"<p>{html.escape(self.overview)}</p><table><tr><th>claim</th><th>observed"
                f"</th><th>verdict</th></tr>{rows}</table>")

    def plot(self, ax: Any = None) -> Any:
        """The rms of z per layer, measured (band: CI) and predicted (dashed)."""
        study = self.study_results()[0]
        return study.figures[0].render(study.tables, fig=None if ax is None else ax.figure)

    def study_results(self) -> list:
        """The analysis as report sections (:class:`satsim.study.StudyResult`)."""
        return _study_results(self)

    def write_report(self, out: str | Path, *, pdf: bool = True) -> dict[str, Path]:
        """Write ``index.html``, ``satsim-report.pdf`` and the findings into ``out``."""
        from satsim.report import write_report

        sizes = "-".join(map(str, self.sizes))
        return write_report(self.study_results(), out, pdf=pdf,
                            title=f"satsim analysis: {sizes} "
                                  f"{'/'.join(dict.fromkeys(self.activations))}",
                            question=self.overview, key_numbers=_key_numbers(self))


# --------------------------------------------------------------------------- schemes
@dataclasses.dataclass(frozen=True)
class _Scheme:
    label: str
    init: Any  # an Initializer, or None for LSUV
    lsuv: bool


def _schemes(inits: Any) -> list[_Scheme]:
    from satsim.init import as_initializer

    if isinstance(inits, str) or not isinstance(inits, Sequence):
        inits = [inits]
    if not inits:
        raise ValueError("`inits` must name at least one scheme")
    if len(inits) > 7:
        raise ValueError(f"`inits` may hold at most 7 schemes (one colour each in the "
                         f"figures); got {len(inits)}")
    out, seen = [], set()
    for i, value in enumerate(inits):
        if isinstance(value, str) and value.lower() == "lsuv":
            scheme = _Scheme("lsuv", None, True)
        else:
            obj = as_initializer(value, param=f"inits[{i}]")
            scheme = _Scheme(value if isinstance(value, str) else obj.name, obj, False)
        if scheme.label in seen:
            if isinstance(value, str):
                raise ValueError(f"`inits` names {scheme.label!r} twice")
            # two different objects with one name (Normal(0, .05), Normal(0, .1)): number
            # them, so each keeps its own rows, colour and training runs
            k = 2
            while f"{scheme.label}#{k}" in seen:
                k += 1
            scheme = dataclasses.replace(scheme, label=f"{scheme.label}#{k}")
        seen.add(scheme.label)
        out.append(scheme)
    return out


def _network(sizes: tuple[int, ...], acts: list, output: str, scheme: _Scheme, bias: Any,
             rng: np.random.Generator, calib: np.ndarray | None,
             device: str | None = None) -> Any:
    from satsim.nn import LSUV, Network

    cost = "log_likelihood" if output == "softmax" else "cross_entropy"
    init = scheme.init
    if scheme.lsuv:
        if calib is None:
            raise ValueError("`inits`: 'lsuv' calibrates on data rows; pass data=")
        init = LSUV(calib)
    backend = "numpy" if device is None else "torch"
    return Network(list(sizes), activation=acts, output=output, cost=cost, init=init,
                   bias_init=bias, rng=rng, backend=backend, device=device)


def _layer_acts(net: Any) -> list:
    return list(net._layer_acts)


# --------------------------------------------------------------------------- training
def _train_cell(params: dict, rng: np.random.Generator, *, schemes: dict, data: dict,
                bias: Any, activations: list, device: str | None = None) -> dict:
    """One (scheme, seed) training run: per-epoch validation accuracy and saturation.
    The activation and scheme objects travel with the cell function (the grid holds
    only their names), so a parameterised or user activation trains as measured."""
    scheme = schemes[params["scheme"]]
    X, y = data["X"], data["y"]
    Xv, yv = data["Xv"], data["yv"]
    net = _network(tuple(params["sizes"]), list(activations), params["output"],
                   scheme, bias, rng, data["calib"], device)
    hist = net.fit(X, y, epochs=params["epochs"], batch_size=params["batch_size"],
                   eta=params["eta"], validation=(Xv, yv), rng=rng)
    frame = hist.to_frame()
    keep = [c for c in ("epoch", "layer", "validation_accuracy", "saturated") if c in frame]
    return {"rows": frame[keep].to_dict("records")}


# --------------------------------------------------------------------------- analysis
def analyze(
    sizes: Any,
    inits: Any = ("he_normal", "glorot_uniform"),
    *,
    activation: Any = "tanh",
    output: str = "softmax",
    bias_init: Any = "zeros",
    data: Any = "fashion-mnist",
    scale: str = "quick",
    epochs: int | None = None,
    seeds: int | None = None,
    criterion: str | None = None,
    epsilon: float = 0.01,
    margin: float = 0.02,
    std_margin: float = 0.05,
    confidence_level: float = 0.95,
    device: str | None = None,
    force: bool = False,
    out: str | Path | None = None,
    executor: Any = "serial",
    workers: int | None = None,
    progress: Any = False,
    rng: Any = None,
) -> AnalysisResult:
    r"""Compare initialization schemes on one architecture (see the module docstring).

    Parameters
    ----------
    sizes : sequence of int or "784,300,100,10"
        Layer widths, input first.
    inits : scheme or sequence of schemes
        Initializers (names, ``module:attr``, registered names, objects, functions
        ``f(shape, rng)``) or ``"lsuv"`` (Mishkin & Matas 2016, calibrated on data rows).
    activation : name, Activation or sequence (one per hidden layer), default "tanh"
    output : {"softmax", "sigmoid"}, default "softmax"
        Output layer (softmax trains with the log-likelihood cost, sigmoid with
        cross-entropy); its z is measured, its saturation is not (softmax is not
        elementwise).
    bias_init : initializer or None, default "zeros"
    data : "fashion-mnist", "mnist", a path (IDX directory, ``.npz``) or None
        Real inputs for the init-time measurements, LSUV and training; None: Gaussian
        inputs only and no training.
    scale : {"test", "quick", "full"}, default "quick"
        Work sizes (:data:`SCALES`); ``epochs``/``seeds`` override theirs.
    epochs : int, optional
        Training epochs per run (≥ 0; 0 measures at initialization only); default the
        scale's.
    seeds : int, optional
        Training runs (independent seeds) per scheme (≥ 1); default the scale's.
    criterion : str, optional
        Saturation criterion (:meth:`satsim.activations.Activation.saturation_bounds`);
        default the activation's own.
    epsilon : float, default 0.01
        ε of the ``"output"`` criterion (fraction of the output range).
    margin, std_margin : float, default 0.02, 0.05
        Agreement margins of the findings (absolute for fractions, relative for rms).
    confidence_level : float, default 0.95
        Level of the reported intervals, in (0, 1).
    out : path, optional
        Directory for the resumable training sweep (``out/sweeps/training``).
    device : str, optional
        Train on this PyTorch device (``"cpu"``, ``"cuda"``, ``"cuda:1"`` …) with
        :mod:`satsim.nn`'s torch backend (optional extra ``satsim[torch]``); default
        None: the NumPy engine.  The measurements at initialization are NumPy's either
        way.
    force : bool, default False
        Run even when the estimated peak memory or run time is above
        :data:`satsim.analyze.MEMORY_LIMIT` / :data:`satsim.analyze.TIME_LIMIT` (the
        estimate is made before anything large is allocated: the stacked
        pre-activations and the weights for memory, the multiply-adds of the
        measurements and of training at 5·10⁹ per second for time).
    executor, workers, progress
        As in :func:`satsim.sweep.run`.
    rng : seed or Generator, optional
        Seeds the probe rows, the networks and the training runs (independent streams
        from ``rng.spawn``).

    Returns
    -------
    AnalysisResult
        The init-time measurements, the training curves (when there is data and
        ``epochs > 0``) and the findings, per scheme.

    Raises
    ------
    ValueError
        An invalid argument (the message names it), an activation count that is not one
        or one per hidden layer, ``"lsuv"`` without ``data``, ``sizes`` that do not match
        the data's input size or number of classes, or an estimated memory or run time
        above the limits without ``force=True``.
    """
    from satsim.init import as_initializer
    from satsim.study import Finding

    t0 = time.perf_counter()
    sizes = _check_sizes(sizes)
    schemes = _schemes(inits)
    check_choice("output", output, ("softmax", "sigmoid"))
    check_choice("scale", scale, SCALES)
    work = dict(SCALES[scale])
    if epochs is not None:
        work["epochs"] = check_int("epochs", epochs, minimum=0)
    if seeds is not None:
        work["seeds"] = check_int("seeds", seeds, minimum=1)
    margin = check_real("margin", margin, low=0.0)
    std_margin = check_real("std_margin", std_margin, low=0.0)
    level = check_real("confidence_level", confidence_level, low=0.0, high=1.0,
                       low_inclusive=False, high_inclusive=False)
    bias = None if bias_init is None else as_initializer(bias_init, param="bias_init")
    rng = check_rng(rng)
    if device is not None:
        from satsim.nn import _torch

        device = str(_torch.resolve_device(device))  # before any work: one clear error
    n_hidden = len(sizes) - 2
    acts_in = list(activation) if isinstance(activation, Sequence) and not isinstance(
        activation, str) else [activation] * max(n_hidden, 0)
    if len(acts_in) != n_hidden:
        raise ValueError(f"`activation` must be one activation or one per hidden layer "
                         f"({n_hidden}); got {len(acts_in)}")
    if any(s.lsuv for s in schemes) and data is None:
        raise ValueError("`inits`: 'lsuv' calibrates on data rows; pass data=")
    from satsim.activations import as_activation

    single = isinstance(activation, str) or not isinstance(activation, Sequence)
    for i, act in enumerate(acts_in[:1] if single else acts_in):  # before loading data
        as_activation(act, param="activation" if single else f"activation[{i}]")
    if out is not None:  # a scheme that cannot name its store fails now, not after work
        check_storable({"inits": {s.label: s.init for s in schemes},
                        "bias_init": {"bias": bias}})
    check_budget(*numpy_estimate(sizes, work, n_schemes=len(schemes),
                                 n_kinds=1 if data is None else 2,
                                 train=data is not None and work["epochs"] > 0,
                                 workers=workers or 1 if executor != "serial" else 1),
                 force=force)

    ds = _load_data(data, sizes)
    probe_rng, train_rng = rng.spawn(2)
    inputs, calib = _probe_inputs(ds, sizes, work, probe_rng)
    rows: list[dict] = []
    dens_rows: list[dict] = []
    mf_rows: list[dict] = []
    phis: list = []
    for scheme in schemes:
        phis = _measure_scheme(scheme, sizes, acts_in, output, bias, inputs, calib, work,
                               probe_rng, level=level, epsilon=epsilon, criterion=criterion,
                               rows=rows, dens_rows=dens_rows, mf_rows=mf_rows)
    act_names = [getattr(p, "name", "softmax") for p in phis]
    layers = pd.DataFrame(rows)
    mf = pd.DataFrame(mf_rows, columns=None if mf_rows else [
        "scheme", "layer", "activation", "sigma_w2", "sigma_b2", "q_star", "chi1", "xi_q",
        "xi_c", "critical_sigma_w2", "phase", "trainable_depth"])
    first = as_activation(acts_in[0], param="activation[0]") if n_hidden else None
    crit = _critical_line(act_names[0] if n_hidden else "tanh", first, mf)
    training = training_sat = pd.DataFrame()
    if ds is not None and work["epochs"] > 0:
        training, training_sat = _train(
            ds, schemes, sizes, phis, act_names, output, bias, work, calib, train_rng,
            scale=scale, level=level, device=device, out=out, executor=executor,
            workers=workers, progress=progress)

    findings = _findings(layers, training, mf, margin, std_margin, n_classes=len(
        np.unique(ds.train[1])) if ds is not None else None, Finding=Finding)
    res_params = {"sizes": list(sizes), "inits": [s.label for s in schemes],
                  "activation": act_names[:n_hidden], "output": output,
                  "bias_init": None if bias is None else bias.name,
                  "data": None if ds is None else ds.source, "scale": scale, **work,
                  "device": device, "criterion": criterion, "epsilon": epsilon, "margin": margin,
                  "std_margin": std_margin}
    from satsim.study import environment

    prov = {**environment(), "scale": scale, "wall_time_s": time.perf_counter() - t0,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    res = AnalysisResult(sizes=sizes, activations=tuple(act_names), params=res_params,
                         schemes=tuple(s.label for s in schemes), layers=layers, meanfield=mf,
                         training=training, training_saturation=training_sat,
                         densities=pd.DataFrame(dens_rows),
                         critical_line=crit, findings=findings, overview="", provenance=prov)
    return dataclasses.replace(res, overview=_overview(res))


def _load_data(data: Any, sizes: tuple[int, ...]) -> Any:
    """The dataset named by ``data`` (None: none), checked against the input and output
    sizes."""
    from satsim import data as datasets

    if data is None:
        return None
    if isinstance(data, str) and data in ("fashion-mnist", "mnist"):
        ds = datasets.load(data)
    else:
        ds = datasets.load("fashion-mnist", source=data)
    if ds.train[0].shape[1] != sizes[0]:
        raise ValueError(f"`sizes[0]` must be the data's input size "
                         f"{ds.train[0].shape[1]}; got sizes[0]={sizes[0]}")
    n_classes = int(np.max(ds.train[1])) + 1
    if sizes[-1] != n_classes:
        raise ValueError(f"`sizes[-1]` must be the number of classes {n_classes}; got "
                         f"sizes[-1]={sizes[-1]}")
    return ds


def _probe_inputs(ds: Any, sizes: tuple[int, ...], work: dict, probe_rng: np.random.Generator
                  ) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The init-time inputs — data rows (when there is data) and Gaussian rows of the
    same mean square — and LSUV's calibration rows (the last ``lsuv_rows`` of the
    training set)."""
    inputs: dict[str, np.ndarray] = {}
    scale2 = 1.0
    if ds is not None:
        Xtr = ds.train[0]
        pick = probe_rng.choice(Xtr.shape[0], size=min(work["n_probe"], Xtr.shape[0]),
                                replace=False)
        inputs["data"] = np.asarray(Xtr[pick], dtype=np.float64)
        scale2 = float(np.mean(np.sum(inputs["data"] ** 2, axis=1))) / sizes[0]
    inputs["gaussian"] = probe_rng.standard_normal((work["n_probe"], sizes[0])) * math.sqrt(
        scale2)
    calib = None
    if ds is not None:
        calib = np.asarray(ds.train[0][-work["lsuv_rows"]:], dtype=np.float64)
    return inputs, calib


def _measure_scheme(scheme: _Scheme, sizes: tuple[int, ...], acts_in: list, output: str,
                    bias: Any, inputs: dict[str, np.ndarray], calib: np.ndarray | None,
                    work: dict, probe_rng: np.random.Generator, *, level: float,
                    epsilon: float, criterion: str | None, rows: list, dens_rows: list,
                    mf_rows: list) -> list:
    """One scheme at initialization: ``networks`` networks drawn, every layer's z rms
    and saturated fraction on each kind of input against ``layer_moments``' prediction
    (appended to ``rows``, histograms to ``dens_rows``), the mean-field phase of every
    hidden layer that follows a hidden layer (``mf_rows``); returns the layers'
    activations."""
    from satsim import meanfield, saturation
    from satsim.init import Normal

    n_hidden = len(sizes) - 2
    zs: dict[str, list[list[np.ndarray]]] = {k: [] for k in inputs}
    wvars = []
    phis: list = []
    for net_rng in probe_rng.spawn(work["networks"]):
        net = _network(sizes, acts_in, output, scheme, bias, net_rng, calib)
        phis = _layer_acts(net)
        wvars.append([float(np.var(W)) for W in net.weights])
        for kind, X in inputs.items():
            layer_z, _ = net._forward(X.astype(net.dtype), keep=True)
            zs[kind].append(layer_z)
    act_names = [getattr(p, "name", "softmax") for p in phis]
    real_var = np.mean(wvars, axis=0)
    weights: Any = ([Normal(0.0, math.sqrt(v)) for v in real_var] if scheme.lsuv
                    else scheme.init)
    for kind, X in inputs.items():
        pred = meanfield.layer_moments(list(sizes), weights, acts_in, output=output,
                                       bias=bias, X=X, epsilon=epsilon,
                                       criterion=criterion).to_frame()
        for li in range(len(sizes) - 1):
            z = np.concatenate([nz[li] for nz in zs[kind]], axis=1)
            rms, lo, hi = _rms_interval(z, level)
            row = {"scheme": scheme.label, "inputs": kind, "layer": li + 1,
                   "fan_in": sizes[li], "fan_out": sizes[li + 1],
                   "activation": act_names[li], "weight_variance": real_var[li] * sizes[li],
                   "z_rms": rms, "z_rms_ci_low": lo, "z_rms_ci_high": hi,
                   "z_rms_predicted": float(pred.z_std.iloc[li]),
                   "saturated": math.nan, "saturated_ci_low": math.nan,
                   "saturated_ci_high": math.nan,
                   "saturated_predicted": float(pred.saturated_predicted.iloc[li])}
            if li < n_hidden or output == "sigmoid":
                frac = saturation.fraction(z, activation=phis[li], epsilon=epsilon,
                                           criterion=criterion, confidence_level=level)
                row.update(saturated=frac.estimate, saturated_ci_low=frac.ci_low,
                           saturated_ci_high=frac.ci_high, criterion=frac.criterion)
            rows.append(row)
            if kind == ("data" if "data" in inputs else "gaussian"):
                dens_rows.extend(_density(z, rms_pred=row["z_rms_predicted"],
                                          scheme=scheme.label, layer=li + 1))
    for li in range(1, n_hidden + 1):
        fan_in, fan_out = sizes[li], sizes[li + 1] if li + 1 < len(sizes) else sizes[li]
        sw = real_var[li] * fan_in if scheme.lsuv else weights.variance(fan_in,
                                                                        fan_out) * fan_in
        sb = 0.0 if bias is None else bias.variance(fan_in, fan_out)
        mf_rows.append(_phase_row(scheme.label, li + 1, phis[li - 1], sw, sb))
    return phis


def _train(ds: Any, schemes: list[_Scheme], sizes: tuple[int, ...], phis: list,
           act_names: list[str], output: str, bias: Any, work: dict,
           calib: np.ndarray | None, train_rng: np.random.Generator, *, scale: str,
           level: float, device: str | None, out: Any, executor: Any, workers: Any,
           progress: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every scheme × seed trained as one cell of a resumable sweep; accuracy and
    saturation per epoch with t intervals over seeds."""
    from satsim import sweep as engine

    n_hidden = len(sizes) - 2
    Xtr, ytr = ds.train
    Xv, yv = ds.validation if ds.validation is not None else ds.test
    payload = {"X": np.asarray(Xtr[: work["n_train"]]), "y": np.asarray(ytr[: work["n_train"]]),
               "Xv": np.asarray(Xv[: work["n_validation"]]),
               "yv": np.asarray(yv[: work["n_validation"]]), "calib": calib}
    cell = functools.partial(_train_cell, schemes={s.label: s for s in schemes},
                             data=payload, bias=bias, activations=phis[:n_hidden],
                             device=device)
    root = int(train_rng.integers(2**63))
    grid = engine.product(
        fixed={"sizes": list(sizes), "activations": list(act_names[:n_hidden]),
               "output": output, "epochs": work["epochs"],
               "batch_size": work["batch_size"], "eta": work["eta"]},
        scheme=[s.label for s in schemes], seed=list(range(work["seeds"])))
    # the cells' seeds come from the root seed and the grid; the store is named by a
    # canonical description of everything that defines a run (data, bias, work sizes,
    # the schemes' and activations' types and parameters, the device, the root seed;
    # never a repr), so a rerun finds it and a changed configuration gets its own
    # instead of silently reusing old cells
    store = None if out is None else Path(out) / "sweeps" / "training-{}-{}".format(
        scale, store_name({
            "data": ds.source, "bias": bias, "work": work, "sizes": list(sizes),
            "output": output, "schemes": [(s.label, s.init, s.lsuv) for s in schemes],
            "activations": list(phis), "device": device, "root": root},
            {"inits": {s.label: s.init for s in schemes}, "bias_init": {"bias": bias},
             "activation": {getattr(p, "name", str(i)): p for i, p in enumerate(phis)}}))
    table = engine.run(cell, grid, out=store, root_seed=root,
                       executor=executor, workers=workers, progress=progress).to_frame()
    failed = table[table.status != "done"]
    if len(failed):
        raise RuntimeError(f"{len(failed)} training run(s) failed: {failed.error.iloc[0]}")
    recs = [dict(r, scheme=t.scheme, seed=t.seed) for t in table.itertuples()
            for r in t.rows]
    return _training_summary(pd.DataFrame(recs), level)


def _density(z: np.ndarray, *, rms_pred: float, scheme: str, layer: int) -> list[dict]:
    flat = z.ravel()
    lim = float(np.quantile(np.abs(flat), 0.999)) or 1.0
    counts, edges = np.histogram(flat, bins=60, range=(-lim, lim), density=True)
    mids = 0.5 * (edges[1:] + edges[:-1])
    ref = stats.norm.pdf(mids, scale=rms_pred) if rms_pred > 0 else np.zeros_like(mids)
    return [{"scheme": scheme, "layer": f"layer {layer}", "z": float(m), "density": float(c),
             "predicted_density": float(r)} for m, c, r in zip(mids, counts, ref, strict=True)]


def _phase_row(scheme: str, layer: int, act: Any, sw: float, sb: float) -> dict:
    from satsim import meanfield

    row = {"scheme": scheme, "layer": layer, "activation": act.name, "sigma_w2": sw,
           "sigma_b2": sb}
    try:
        q = float(meanfield.fixed_point(sw, sb, activation=act))
        chi = float(meanfield.chi1(sw, sb, activation=act))
        xi_q, xi_c = (float(v) for v in meanfield.depth_scales(sw, sb, activation=act))
    except (ValueError, ArithmeticError):
        q = chi = xi_q = xi_c = math.nan
    try:
        crit = float(meanfield.critical_weight_variance(sb, activation=act))
    except ValueError:
        crit = math.nan
    phase = ("critical" if math.isfinite(chi) and abs(chi - 1) < 1e-3 else
             "ordered" if chi < 1 else "chaotic" if chi > 1 else "undetermined")
    row.update(q_star=q, chi1=chi, xi_q=xi_q, xi_c=xi_c, critical_sigma_w2=crit, phase=phase,
               trainable_depth=6 * xi_c if math.isfinite(xi_c) else math.inf)
    return row


def _critical_line(name: str, act: Any, mf: pd.DataFrame) -> pd.DataFrame:
    from satsim import meanfield

    if act is None:
        return pd.DataFrame(columns=["series", "sigma_b2", "sigma_w2"])
    top = max(0.3, float(mf.sigma_b2.max()) * 1.5) if len(mf) else 0.3
    sbs = np.linspace(0.0, top, 16)
    try:
        sws = np.asarray(meanfield.critical_line(sbs, activation=act), dtype=float)
    except ValueError:
        sws = np.full_like(sbs, np.nan)
    line = pd.DataFrame({"series": f"critical line χ1 = 1 ({name})", "sigma_b2": sbs,
                         "sigma_w2": sws})
    # one point per scheme: its first hidden-to-hidden layer (the table has them all)
    first = mf.drop_duplicates("scheme")
    points = first.assign(series=first.scheme + " (layer " + first.layer.astype(str) + ")")[
        ["series", "sigma_b2", "sigma_w2"]]
    return pd.concat([line, points], ignore_index=True)


def _training_summary(recs: pd.DataFrame, level: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accuracy per scheme × epoch, saturation per scheme × epoch × hidden layer), each
    the mean over seeds with its t interval."""
    out, sat_rows = [], []
    acc = recs.drop_duplicates(["scheme", "seed", "epoch"])
    for (scheme, epoch), g in acc.groupby(["scheme", "epoch"], sort=False):
        mean, lo, hi = _t_interval(g.validation_accuracy.to_numpy(), level)
        out.append({"scheme": scheme, "epoch": int(epoch), "accuracy": mean,
                    "accuracy_ci_low": max(lo, 0.0), "accuracy_ci_high": min(hi, 1.0),
                    "n_seeds": len(g)})
    if "layer" in recs and "saturated" in recs:
        hidden = recs[np.isfinite(recs.saturated.astype(float))]
        for (scheme, epoch, layer), g in hidden.groupby(["scheme", "epoch", "layer"],
                                                        sort=False):
            mean, lo, hi = _t_interval(g.saturated.to_numpy(), level)
            sat_rows.append({"scheme": scheme, "epoch": int(epoch), "layer": f"layer {int(layer)}",
                             "saturated": mean, "saturated_ci_low": max(lo, 0.0),
                             "saturated_ci_high": min(hi, 1.0), "n_seeds": len(g)})
    return pd.DataFrame(out), pd.DataFrame(sat_rows)


