r"""``satsim analyze --torch``: a user's PyTorch model at initialization and in training.

:func:`analyze_torch` takes a callable that builds the user's ``nn.Module`` (or its
``module:attr`` name) and the schemes to compare, and for each scheme

1. **at initialization** — builds the model, applies the scheme with
   :func:`satsim.torch.init_` (no scheme: the model as built) and measures every layer
   on ``n_probe`` data rows with :func:`satsim.torch.layer_statistics` (z, saturation
   and their predictions from the realised weight variances);
2. **in training** — trains it with plain SGD (``eta``, ``batch_size``) and the
   cross-entropy of the model's outputs as logits, ``seeds`` times, on real data
   (Fashion-MNIST by default), on ``device``; before training and after every epoch it
   records the validation accuracy and, on the probe rows, every layer's saturated
   fraction and the squared Frobenius norm of the loss gradient with respect to the
   layer's weight, :math:`\|\partial L/\partial W\|_F^2` (one backward pass of the mean
   cross-entropy over the probe rows, the model in training mode).  Each run is one
   cell of :mod:`satsim.sweep` (seeded on its own, stored and resumed under ``out``);
   intervals are t intervals over seeds.

Findings: every scheme's accuracy after the last epoch against chance (a t interval
over seeds; undecided while it contains chance).  The result renders with the same
report renderer as :func:`satsim.analyze.analyze` and exports CSV and JSON.

Determinism: the cell's generator draws the scheme's weights (``init_``), seeds
PyTorch (``torch.manual_seed``, for anything the model draws itself: dropout, layers
the scheme leaves alone) and shuffles the rows; the same seed on the same device and
PyTorch version gives the same numbers, and a rerun with the same ``out`` reuses the
stored cells.  The store's key is a canonical description of the configuration (the
builder's import path, the schemes' names and parameters, the data, the work sizes,
the device), never an object's ``repr``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from satsim._results import Result, result
from satsim._validation import check_int, check_rng

__all__ = ["TorchAnalysisResult", "analyze_torch"]


@result
class TorchAnalysisResult(Result):
    """What :func:`analyze_torch` measured at initialization and in training.

    Attributes
    ----------
    model : str
        The builder's import path (``module:attr``) or name.
    input_shape : tuple of int
    schemes : tuple of str
        One label per scheme ("as built": the model's own initialization).
    params : dict
        The work sizes and options.
    layers : DataFrame
        :func:`satsim.torch.layer_statistics`' rows for every scheme (column
        ``scheme``), plus ``layer_index`` (1, 2, … in forward order).
    training : DataFrame
        One row per scheme × epoch (0: before training): validation ``accuracy``, mean
        and t interval over seeds.
    training_layers : DataFrame
        One row per scheme × epoch × layer: ``saturated`` and ``grad_sq``
        (:math:`\\|\\partial L/\\partial W\\|_F^2` on the probe rows), means over seeds
        with t intervals.
    runs : DataFrame
        The per-seed records behind both.
    findings : list of satsim.study.Finding
    overview : str
    provenance : dict
    """

    _title = "PyTorch model analysis"

    model: str
    input_shape: tuple[int, ...]
    schemes: tuple[str, ...]
    params: dict
    layers: pd.DataFrame
    training: pd.DataFrame
    training_layers: pd.DataFrame
    runs: pd.DataFrame
    findings: list
    overview: str
    provenance: dict

    def to_frame(self) -> pd.DataFrame:
        return self.layers

    def _summary_header(self) -> list[str]:
        return [self.overview, ""]

    def __repr__(self) -> str:
        passed = sum(f.passed is True for f in self.findings)
        return (f"TorchAnalysisResult({self.model}, schemes={list(self.schemes)}, "
                f"findings {passed}/{len(self.findings)} passed)")

    def study_results(self) -> list:
        """The analysis as report sections (:class:`satsim.study.StudyResult`)."""
        return _study_results(self)

    def write_report(self, out: str | Path, *, pdf: bool = True) -> dict[str, Path]:
        """Write ``index.html``, ``satsim-report.pdf``, the findings (JSON, CSV) and the
        tables (``layers.csv``, ``training.csv``, ``training_layers.csv``) into ``out``."""
        from satsim._atomic import atomic_write
        from satsim.report import write_report

        paths = write_report(self.study_results(), out, pdf=pdf,
                             title=f"satsim analysis: {self.model}",
                             question=self.overview, key_numbers=_key_numbers(self))
        for name in ("layers", "training", "training_layers"):
            frame = getattr(self, name)
            path = Path(out) / f"{name}.csv"
            atomic_write(path, frame.to_csv(index=False))
            paths[name] = path
        return paths


# --------------------------------------------------------------------------- helpers
def _t_interval(values: np.ndarray, level: float) -> tuple[float, float, float]:
    from satsim.analyze._common import _t_interval as t_interval

    return t_interval(values, level)


def _label(scheme: Any) -> str:
    if scheme is None:
        return "as built"
    return scheme if isinstance(scheme, str) else getattr(scheme, "name", None) or str(scheme)


def _resolve_build(build: Any) -> Any:
    from satsim._registry import load_attr

    fn = load_attr(build, "build") if isinstance(build, str) else build
    if not callable(fn):
        raise TypeError(f"`build` must be a callable returning an nn.Module (or its "
                        f"'module:attr' path); got build={build!r:.80}")
    return fn


def _layer_weights(model: Any) -> list[tuple[str, Any]]:
    import satsim.torch as st

    # a MultiheadAttention's q/k/v rows are thirds of one stacked parameter: no .grad
    # of their own, so no training-time gradient row (its out_proj is a Linear)
    return [(name, m.weight) for name, m in st._named_layers(model)
            if not isinstance(m, st.nn.MultiheadAttention)]


def _epoch_record(model: Any, probe: Any, probe_y: Any, Xv: Any, yv: Any,
                  *, epoch: int, layer_kw: dict) -> list[dict]:
    """Validation accuracy and, per layer, saturation and ‖∂L/∂W‖² on the probe."""
    import torch

    import satsim.torch as st

    was_training = model.training
    model.eval()
    with torch.no_grad():
        correct = 0
        for i in range(0, len(Xv), 1024):
            correct += int((model(Xv[i:i + 1024]).argmax(dim=1) == yv[i:i + 1024]).sum())
    acc = correct / len(Xv)
    stats = st.layer_statistics(model, probe, **layer_kw).to_frame()
    model.train()
    model.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(model(probe), probe_y).backward()
    grads = {name: (math.nan if w.grad is None else float((w.grad.double() ** 2).sum()))
             for name, w in _layer_weights(model)}
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return [{"epoch": epoch, "layer": r.layer, "validation_accuracy": acc,
             "saturated": float(r.saturated), "grad_sq": grads.get(r.layer, math.nan)}
            for r in stats.itertuples()]


def _train_cell(params: dict, rng: np.random.Generator, *, build: Any, schemes: dict,
                data: dict, device: str | None, layer_kw: dict) -> dict:
    """One (scheme, seed) run: the model built, initialized, trained with SGD."""
    import torch

    import satsim.torch as st
    from satsim.nn import _torch

    dev = _torch.resolve_device(device)
    torch.manual_seed(int(rng.integers(2**63)))
    model = _resolve_build(build)()
    scheme = schemes[params["scheme"]]
    if scheme is not None:
        st.init_(model, scheme, rng=rng)
    model.to(dev)
    ref = next(p for p in model.parameters() if p.is_floating_point())

    def tensor(a: np.ndarray, *, labels: bool = False) -> Any:
        return torch.as_tensor(a, dtype=torch.long if labels else ref.dtype, device=dev)

    shape = tuple(params["input_shape"])
    X = tensor(data["X"].reshape(-1, *shape))
    y = tensor(data["y"], labels=True)
    Xv = tensor(data["Xv"].reshape(-1, *shape))
    yv = tensor(data["yv"], labels=True)
    probe = tensor(data["probe"].reshape(-1, *shape))
    probe_y = tensor(data["probe_y"], labels=True)
    opt = torch.optim.SGD(model.parameters(), lr=params["eta"])
    rows = _epoch_record(model, probe, probe_y, Xv, yv, epoch=0, layer_kw=layer_kw)
    batch = params["batch_size"]
    model.train()
    for epoch in range(1, params["epochs"] + 1):
        order = torch.as_tensor(rng.permutation(len(X)), device=dev)
        for i in range(0, len(X), batch):
            idx = order[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
            if not torch.isfinite(loss):
                raise FloatingPointError(f"the loss became {float(loss)} in epoch {epoch}")
            loss.backward()
            opt.step()
        rows += _epoch_record(model, probe, probe_y, Xv, yv, epoch=epoch, layer_kw=layer_kw)
    return {"rows": rows}


def _summaries(runs: pd.DataFrame, level: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    acc_rows, layer_rows = [], []
    acc = runs.drop_duplicates(["scheme", "seed", "epoch"])
    for (scheme, epoch), g in acc.groupby(["scheme", "epoch"], sort=False):
        mean, lo, hi = _t_interval(g.validation_accuracy.to_numpy(), level)
        acc_rows.append({"scheme": scheme, "epoch": int(epoch), "accuracy": mean,
                         "accuracy_ci_low": max(lo, 0.0), "accuracy_ci_high": min(hi, 1.0),
                         "n_seeds": len(g)})
    for (scheme, epoch, layer), g in runs.groupby(["scheme", "epoch", "layer"], sort=False):
        row: dict[str, Any] = {"scheme": scheme, "epoch": int(epoch), "layer": layer,
                               "layer_index": int(g.layer_index.iloc[0])}
        for col, clip in (("saturated", (0.0, 1.0)), ("grad_sq", (0.0, math.inf))):
            values = g[col].to_numpy(dtype=float)
            if np.all(np.isnan(values)):
                mean = lo = hi = math.nan
            else:
                mean, lo, hi = _t_interval(values, level)
                lo, hi = max(lo, clip[0]), min(hi, clip[1])
            row.update({col: mean, f"{col}_ci_low": lo, f"{col}_ci_high": hi})
        row["n_seeds"] = len(g)
        layer_rows.append(row)
    return pd.DataFrame(acc_rows), pd.DataFrame(layer_rows)


def _findings(training: pd.DataFrame, n_classes: int) -> list:
    from satsim.study import Finding

    out: list[Any] = []
    if not len(training):
        return out
    chance = 1 / n_classes
    for r in training[training.epoch == training.epoch.max()].itertuples():
        verdict = (None if not math.isfinite(r.accuracy_ci_low) else True
                   if r.accuracy_ci_low > chance else False
                   if r.accuracy_ci_high < chance else None)
        out.append(Finding(
            id=f"trains_{r.scheme}",
            claim=f"{r.scheme} learns above chance ({100 * chance:.3g}%) in {r.epoch} "
                  f"epoch(s): {100 * r.accuracy:.3g}% [{100 * r.accuracy_ci_low:.3g}, "
                  f"{100 * r.accuracy_ci_high:.3g}]",
            expected=f"> {chance:.3g}", observed=r.accuracy,
            method=f"t interval over {r.n_seeds} seeds against chance (undecided while it "
                   "contains chance)", passed=verdict))
    return out


# --------------------------------------------------------------------------- analysis
def _at_init(fn: Any, schemes: dict, probe: np.ndarray, shape: tuple[int, ...], dev: Any,
             probe_rng: np.random.Generator, confidence_level: float, layer_kw: dict
             ) -> pd.DataFrame:
    """Every scheme's model built, initialized and measured on the probe rows
    (:func:`satsim.torch.layer_statistics`), with ``scheme`` and ``layer_index``."""
    import satsim.torch as st

    frames = []
    for label, scheme in schemes.items():
        model = fn()
        if scheme is not None:
            st.init_(model, scheme, rng=probe_rng)
        model.to(dev)
        x = st._as_batch(probe.reshape(-1, *shape), model)
        frame = st.layer_statistics(model, x, confidence_level=confidence_level,
                                    **layer_kw).to_frame()
        frames.append(frame.assign(scheme=label, layer_index=np.arange(1, len(frame) + 1)))
    return pd.concat(frames, ignore_index=True)


def _train_runs(ds: Any, build: Any, fn: Any, model_name: str, schemes: dict,
                probe: np.ndarray, probe_y: np.ndarray, shape: tuple[int, ...], dev: Any,
                work: dict, layer_kw: dict, train_rng: np.random.Generator, *, scale: str,
                out: Any, executor: Any, workers: Any, progress: Any) -> pd.DataFrame:
    """Every scheme × seed trained as one cell of a resumable sweep: the per-seed
    records (accuracy per epoch; saturation and gradient norm per layer and epoch)."""
    from satsim import sweep
    from satsim.analyze._common import store_name

    Xtr, ytr = ds.train
    Xv, yv = ds.validation if ds.validation is not None else ds.test
    payload = {"X": np.asarray(Xtr[: work["n_train"]], dtype=np.float32),
               "y": np.asarray(ytr[: work["n_train"]]),
               "Xv": np.asarray(Xv[: work["n_validation"]], dtype=np.float32),
               "yv": np.asarray(yv[: work["n_validation"]]),
               "probe": probe, "probe_y": probe_y}
    root = int(train_rng.integers(2**63))
    cell = functools.partial(_train_cell, build=build, schemes=schemes, data=payload,
                             device=str(dev), layer_kw=layer_kw)
    grid = sweep.product(
        fixed={"input_shape": list(shape), "epochs": work["epochs"],
               "batch_size": work["batch_size"], "eta": work["eta"]},
        scheme=list(schemes), seed=list(range(work["seeds"])))
    # the cells' seeds come from the root seed and the grid; the store is named by
    # everything that defines a run, so a rerun finds it and a changed configuration
    # gets its own (a lambda has no such name: only then is `out` refused)
    store = None if out is None else Path(out) / "sweeps" / "torch-{}-{}".format(
        scale, store_name({"model": build if isinstance(build, str) else fn,
                           "input_shape": list(shape), "data": ds.source,
                           "work": work, "device": str(dev), "layer_kw": layer_kw,
                           "root": root, "schemes": schemes},
                          {"build": {model_name: fn}, "inits": schemes}))
    table = sweep.run(cell, grid, out=store, root_seed=root, executor=executor,
                      workers=workers, progress=progress).to_frame()
    failed = table[table.status != "done"]
    if len(failed):
        raise RuntimeError(f"{len(failed)} training run(s) failed: {failed.error.iloc[0]}")
    return pd.DataFrame([dict(r, scheme=t.scheme, seed=t.seed)
                         for t in table.itertuples() for r in t.rows])


def analyze_torch(build: Any, input_shape: Any, inits: Any = (), *,
                  data: Any = "fashion-mnist", scale: str = "quick", epochs: int | None = None,
                  seeds: int | None = None, n_probe: int | None = None, activation: Any = None,
                  criterion: str | None = None, epsilon: float = 0.01,
                  confidence_level: float = 0.95, device: str | None = None,
                  force: bool = False,
                  out: str | Path | None = None, executor: Any = "serial",
                  workers: int | None = None, progress: Any = False,
                  rng: Any = None) -> TorchAnalysisResult:
    """Measure a PyTorch model under each scheme at initialization, then train it.

    See the module docstring for what is measured and how.

    Parameters
    ----------
    build : callable or str
        Returns a fresh ``torch.nn.Module`` on each call (or its ``"module:attr"``
        path).  Its output must be one row of class scores (logits) per input.
    input_shape : sequence of int or "1,28,28"
        One input's shape; the data rows are reshaped to it.
    inits : scheme or sequence of schemes, optional
        Initializers for :func:`satsim.torch.init_`; none: the model as built.
    data : "fashion-mnist", "mnist", a path, or None
        None: Gaussian probe inputs and no training.
    scale : {"test", "quick", "full"}, default "quick"
        Work sizes (:data:`satsim.analyze.SCALES`: probe rows, training and validation
        rows, epochs, seeds, batch size, learning rate); ``epochs``, ``seeds`` and
        ``n_probe`` override theirs.
    epochs : int, optional
        Training epochs (at least 0; 0 measures at initialization only).  Default: the
        scale's.
    seeds : int, optional
        Training runs per scheme, each from its own seed (at least 1); the intervals
        are over them.  Default: the scale's.
    n_probe : int, optional
        Probe rows the layers are measured on (at least 2; capped at the dataset's
        training rows).  Default: the scale's.
    activation : str, Activation, dict or list, optional
        The activation of layers whose forward pass does not show one, passed to
        :func:`satsim.torch.layer_statistics` (see there).
    criterion : str, optional
        Saturation criterion, passed to :func:`satsim.torch.layer_statistics`; default
        each activation's own.
    epsilon : float, default 0.01
        Parameter of the ``"output"`` criterion, passed to
        :func:`satsim.torch.layer_statistics`.
    confidence_level : float, default 0.95
        Of the t intervals over seeds.
    device : str, optional
        Torch device for training and measurement (default: the CPU).
    force : bool, default False
        Run even when the estimate (the inputs' size, checked before anything is
        allocated, then one SGD step of the model timed on ``device``)
        is above :data:`satsim.analyze.MEMORY_LIMIT` or :data:`satsim.analyze.TIME_LIMIT`.
    out : path, optional
        Where the training cells are stored (rerunning with the same ``out`` resumes).
    executor : str, distributed.Client or concurrent.futures.Executor, default "serial"
        Where the training runs execute, as in :func:`satsim.sweep.run`.
    workers : int, optional
        Worker processes of the process executor, as in :func:`satsim.sweep.run`.
    progress : bool or callable, default False
        Progress of the training runs, as in :func:`satsim.sweep.run` (``True``: a bar;
        a callable: ``progress(finished, total)``).
    rng : None, int, SeedSequence, BitGenerator or numpy.random.Generator, optional
        Source of randomness: two independent streams are spawned from it, one for the
        probe rows and the initializations measured, one for the training runs' root
        seed.  ``None`` (the default) seeds from the OS.

    Returns
    -------
    TorchAnalysisResult
        The per-layer statistics at initialization for every scheme, the validation
        accuracy and per-layer saturation and gradient norms over training (empty
        tables when nothing is trained), the findings, an overview and the run's
        parameters and provenance.

    Raises
    ------
    ValueError
        If ``scale`` is unknown, ``input_shape`` is not positive integers or does not
        hold one data row, ``epochs``/``seeds``/``n_probe`` is out of range, or
        (without ``force``) the estimated memory or time is above the limits.
    TypeError
        If ``build`` is not callable (nor names a callable), an integer argument is not
        an integer, ``rng`` is of an unaccepted kind, or (with ``out``) a scheme cannot
        name a stored run.
    RuntimeError
        If a training run fails.
    """
    from satsim import data as datasets
    from satsim.analyze._common import (
        SCALES,
        _check_input_shape,
        check_budget,
        check_storable,
        input_bytes,
        torch_estimate,
    )
    from satsim.nn import _torch
    from satsim.study import environment

    t0 = time.perf_counter()
    if scale not in SCALES:
        raise ValueError(f"`scale` must be one of {sorted(SCALES)}; got scale={scale!r}")
    work = dict(SCALES[scale])
    if epochs is not None:
        work["epochs"] = check_int("epochs", epochs, minimum=0)
    if seeds is not None:
        work["seeds"] = check_int("seeds", seeds, minimum=1)
    if n_probe is not None:
        work["n_probe"] = check_int("n_probe", n_probe, minimum=2)
    shape = _check_input_shape(input_shape)
    rng = check_rng(rng)
    dev = _torch.resolve_device(device)
    fn = _resolve_build(build)
    model_name = build if isinstance(build, str) else (
        f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', type(fn).__name__)}")
    schemes_in = list(inits) if not isinstance(inits, str) else [inits]
    schemes: dict[str, Any] = {}
    for scheme in schemes_in or [None]:
        base = label = _label(scheme)
        k = 2
        while label in schemes:  # same-named schemes keep separate rows
            label, k = f"{base}#{k}", k + 1
        schemes[label] = scheme
    train = data is not None and work["epochs"] > 0
    if out is not None and train:  # a scheme that cannot name its store fails now
        check_storable({"build": {model_name: fn}, "inits": schemes})
    # the inputs' size first (nothing built or allocated yet), then the model's cost
    check_budget(input_bytes(shape, work, train=train), 0.0,
                 f"inputs of {math.prod(shape):,} values per row", force=force)
    probe_rng, train_rng = rng.spawn(2)
    ds = None
    if data is None:
        probe = probe_rng.standard_normal((work["n_probe"], math.prod(shape)))
        probe_y = probe_rng.integers(0, 10, work["n_probe"])
    else:
        ds = (datasets.load(data) if data in ("fashion-mnist", "mnist")
              else datasets.load("fashion-mnist", source=data))
        Xtr, ytr = ds.train
        if math.prod(shape) != Xtr.shape[1]:
            raise ValueError(f"`input_shape` {shape} must hold the data's {Xtr.shape[1]} "
                             f"values per input; got input_shape={input_shape!r}")
        pick = probe_rng.choice(Xtr.shape[0], size=min(work["n_probe"], Xtr.shape[0]),
                                replace=False)
        probe, probe_y = np.asarray(Xtr[pick], dtype=np.float32), np.asarray(ytr[pick])
    check_budget(*torch_estimate(fn, shape, work, n_schemes=len(schemes), train=train,
                                 device=dev), force=force)
    layer_kw = {"activation": activation, "criterion": criterion, "epsilon": epsilon}

    layers = _at_init(fn, schemes, probe, shape, dev, probe_rng, confidence_level, layer_kw)
    training = training_layers = runs = pd.DataFrame()
    n_classes = 10
    if ds is not None and work["epochs"] > 0:
        n_classes = int(np.max(ds.train[1])) + 1
        runs = _train_runs(
            ds, build, fn, model_name, schemes, probe, probe_y, shape, dev, work, layer_kw,
            train_rng, scale=scale, out=out, executor=executor, workers=workers,
            progress=progress)
        first = layers[layers.scheme == next(iter(schemes))]
        runs["layer_index"] = runs.layer.map(dict(zip(first.layer, first.layer_index,
                                                      strict=True)))
        training, training_layers = _summaries(runs, confidence_level)

    findings = _findings(training, n_classes)
    params = {"model": model_name, "input_shape": list(shape), "inits": list(schemes),
              "data": None if ds is None else ds.source, "scale": scale, **work,
              "device": str(dev), "criterion": criterion, "epsilon": epsilon}
    prov = {**environment(), "scale": scale, "device": str(dev),
            "wall_time_s": time.perf_counter() - t0,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    res = TorchAnalysisResult(
        model=str(model_name), input_shape=shape, schemes=tuple(schemes), params=params,
        layers=layers, training=training, training_layers=training_layers, runs=runs,
        findings=findings, overview="", provenance=prov)
    return dataclasses.replace(res, overview=_overview(res))


# --------------------------------------------------------------------------- report
def _overview(res: TorchAnalysisResult) -> str:
    parts = [f"Model {res.model} (input {'×'.join(map(str, res.input_shape))}), schemes "
             f"{', '.join(res.schemes)}."]
    for scheme in res.schemes:
        lay = res.layers[(res.layers.scheme == scheme) & np.isfinite(res.layers.saturated)]
        text = f"{scheme}:"
        if len(lay):
            r = lay.loc[lay.saturated.idxmax()]
            text += (f" at most {100 * r.saturated:.3g}% of units saturated at init (layer "
                     f"{r.layer}, {r.activation})")
        else:
            text += " no layer with a known activation to measure saturation on"
        if len(res.training):
            tr = res.training[res.training.scheme == scheme]
            if len(tr):
                r = tr.iloc[-1]
                text += (f"; validation accuracy after {int(r.epoch)} epoch(s) "
                         f"{100 * r.accuracy:.3g}% [{100 * r.accuracy_ci_low:.3g}, "
                         f"{100 * r.accuracy_ci_high:.3g}] over {int(r.n_seeds)} seeds")
        parts.append(text + ".")
    if res.findings:
        passed = sum(f.passed is True for f in res.findings)
        parts.append(f"{passed} of {len(res.findings)} findings pass.")
    return " ".join(parts)


def _key_numbers(res: TorchAnalysisResult) -> list:
    from satsim.report.model import KeyNumber, fmt

    out = []
    for scheme in res.schemes:
        lay = res.layers[(res.layers.scheme == scheme) & np.isfinite(res.layers.saturated)]
        if len(lay):
            r = lay.loc[lay.saturated.idxmax()]
            out.append(KeyNumber(
                quantity=f"most saturated layer at init, {scheme}",
                value=f"{fmt(100 * r.saturated, 3)}% (layer {r.layer})",
                detail=f"{r.activation}, {r.criterion} criterion; predicted "
                       f"{fmt(100 * r.saturated_predicted, 3)}%; CI "
                       f"[{fmt(100 * r.saturated_ci_low, 3)}%, "
                       f"{fmt(100 * r.saturated_ci_high, 3)}%]",
                study="torch_init"))
        if len(res.training):
            tr = res.training[res.training.scheme == scheme]
            if len(tr):
                r = tr.iloc[-1]
                out.append(KeyNumber(quantity=f"validation accuracy, {scheme}",
                                     value=f"{fmt(100 * r.accuracy, 3)}%",
                                     detail=f"after {int(r.epoch)} epoch(s), {int(r.n_seeds)} "
                                            "seeds", study="torch_training"))
    return out


def _study_results(res: TorchAnalysisResult) -> list:
    from satsim.plotting import LinePlot
    from satsim.study import StudyResult

    prov = dict(res.provenance)
    keep = ["scheme", "layer_index", "layer", "kind", "fan_in", "fan_out", "activation",
            "weight_var", "z_std", "z_std_ci_low", "z_std_ci_high", "z_std_predicted",
            "saturated", "saturated_ci_low", "saturated_ci_high", "saturated_predicted"]
    layers = res.layers[[c for c in keep if c in res.layers]]
    figs: list[Any] = [
        LinePlot(id="z_std", table="layers", title="Standard deviation of z per layer",
                 caption="Measured (band: 95% two-way CI over inputs and units) and predicted "
                         "from the realised weight variances and the layer's actual input "
                         "(dashed).", x="layer_index", y="z_std", hue="scheme",
                 band=("z_std_ci_low", "z_std_ci_high"), ref="z_std_predicted",
                 integer_x=True, xlabel="layer (forward order)", ylabel="std of z", logy=True)]
    sat = layers[np.isfinite(layers.saturated)].reset_index(drop=True)
    tables = {"layers": layers}
    if len(sat):
        tables["layers_saturated"] = sat
        figs.append(LinePlot(
            id="saturated", table="layers_saturated", title="Saturated fraction per layer",
            caption="At initialization (band: 95% CI), against its prediction (dashed).",
            x="layer_index", y="saturated", hue="scheme",
            band=("saturated_ci_low", "saturated_ci_high"), ref="saturated_predicted",
            integer_x=True, xlabel="layer (forward order)", ylabel="saturated fraction"))
    out = [StudyResult(
        name="torch_init", title="At initialization: z and saturation per layer",
        description="Each scheme is applied to a freshly built model with "
                    "satsim.torch.init_ and every Linear/Conv layer is measured on the probe "
                    "rows with satsim.torch.layer_statistics.",
        params=res.params, tables=tables, figures=figs, findings=[], display=["layers"],
        provenance=prov)]
    if len(res.training):
        tl = res.training_layers
        t_figs: list[Any] = [LinePlot(
            id="accuracy", table="training", title="Validation accuracy",
            caption="Mean over seeds with its 95% t interval.", x="epoch", y="accuracy",
            hue="scheme", band=("accuracy_ci_low", "accuracy_ci_high"), integer_x=True,
            xlabel="epoch", ylabel="validation accuracy")]
        t_tables = {"training": res.training, "training_layers": tl}
        sat_t = tl[np.isfinite(tl.saturated)].reset_index(drop=True)
        if len(sat_t):
            t_tables["training_saturation"] = sat_t
            t_figs.append(LinePlot(
                id="training_saturation", table="training_saturation",
                title="Saturated fraction during training",
                caption="Mean over seeds with its 95% t interval, per layer.", x="epoch",
                y="saturated", hue="scheme", col="layer", integer_x=True,
                band=("saturated_ci_low", "saturated_ci_high"), xlabel="epoch",
                ylabel="saturated fraction"))
        t_figs.append(LinePlot(
            id="grad_sq", table="training_layers", title="Gradient norm per layer",
            caption="‖∂L/∂W‖² of the mean cross-entropy over the probe rows, mean over seeds "
                    "with its 95% t interval.", x="epoch", y="grad_sq", hue="scheme",
            col="layer", integer_x=True, band=("grad_sq_ci_low", "grad_sq_ci_high"),
            logy=True, xlabel="epoch", ylabel="‖∂L/∂W‖²"))
        out.append(StudyResult(
            name="torch_training", title="Training on real data",
            description="Plain SGD on the cross-entropy of the model's logits, every scheme "
                        "on the same data and seeds.",
            params=res.params, tables=t_tables, figures=t_figs, findings=res.findings,
            display=["training", "training_layers"], provenance=prov))
    return out
