"""What both analyses share: the work sizes per scale and the parsing of sizes and
shapes given as ``"784,300,10"``."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from satsim._moments import t_quantile
from satsim._validation import check_int
from satsim.sweep._store import canonical, config_digest

#: sizes of the work at each scale (``networks`` initialized networks per scheme for the
#: init-time measurements; ``seeds`` training runs per scheme)
SCALES: dict[str, dict[str, Any]] = {
    "test": {"n_probe": 200, "networks": 2, "n_train": 1000, "n_validation": 500,
             "epochs": 1, "seeds": 2, "batch_size": 32, "eta": 0.05, "lsuv_rows": 200},
    "quick": {"n_probe": 1000, "networks": 3, "n_train": 10_000, "n_validation": 2000,
              "epochs": 2, "seeds": 3, "batch_size": 32, "eta": 0.05, "lsuv_rows": 500},
    "full": {"n_probe": 5000, "networks": 10, "n_train": 50_000, "n_validation": 10_000,
             "epochs": 10, "seeds": 5, "batch_size": 32, "eta": 0.05, "lsuv_rows": 1000},
}


# --------------------------------------------------------------------------- helpers
def _ints(value: Any, param: str) -> list[Any]:
    """A comma-separated string (``"784,300,10"``) or an int as a list; other values as
    given.  Items that are strings become ints, or a one-line error naming ``param[i]``:
    an empty item (``"784,,10"``) or one with inner spaces (``"784 30 10"``) is an error,
    never silently dropped or joined."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    elif isinstance(value, int):
        value = [value]
    if not isinstance(value, Sequence):
        return value
    out = []
    for i, v in enumerate(value):
        try:
            out.append(int(v, 10) if isinstance(v, str) else v)
        except ValueError:
            what = "is empty" if v == "" else f"is not an integer ({v!r})"
            raise ValueError(f"`{param}[{i}]` {what}: give positive integers separated by "
                             f"commas, like 784,300,10; got {param}={','.join(map(str, value))!r}"
                             ) from None
    return out


def _check_sizes(sizes: Any) -> tuple[int, ...]:
    """``sizes`` as ``layer_moments`` validates it, also from ``"784,300,100,10"``."""
    from satsim.meanfield._propagation import _check_sizes as check

    return tuple(check(_ints(sizes, "sizes")))


def _check_input_shape(value: Any) -> tuple[int, ...]:
    """``"1,28,28"``, ``"784"``, an int or a sequence of positive ints."""
    items = _ints(value, "input_shape")
    if not isinstance(items, Sequence) or isinstance(items, str) or not items:
        raise ValueError(f"`input_shape` must be positive integers like 1,28,28; got "
                         f"input_shape={value!r}")
    return tuple(check_int(f"input_shape[{i}]", v, minimum=1) for i, v in enumerate(items))


def _rms_interval(z: np.ndarray, level: float) -> tuple[float, float, float]:
    """rms of z (inputs × units) with the two-way cluster-robust interval of E z²."""
    from satsim.saturation import _two_way_variance

    sq = z.astype(np.float64) ** 2
    n_rows, m = sq.shape
    mean = float(sq.mean())
    v_probe, v_unit, v_both = _two_way_variance(sq, np.arange(n_rows), n_rows)
    var = max(v_probe + v_unit - v_both, v_probe, v_unit)
    t = t_quantile(level, min(n_rows, m) - 1)
    half = t * math.sqrt(var)
    return math.sqrt(mean), math.sqrt(max(mean - half, 0.0)), math.sqrt(mean + half)


def _t_interval(values: np.ndarray, level: float) -> tuple[float, float, float]:
    """Mean and Student-t interval over i.i.d. values (seeds): satsim.gradients' rule."""
    from satsim.gradients._signal import _t_interval as t_interval

    mean, lo, hi = t_interval(np.asarray(values, dtype=np.float64), level)
    return float(mean), float(lo), float(hi)




def check_storable(named: dict[str, dict[str, Any]]) -> None:
    """Every object in ``named`` (``{"inits": {label: scheme}, …}``) has a canonical
    description (:func:`satsim.sweep._store.canonical`), so that a store can be named by it;
    otherwise one ``TypeError`` naming its parameter and label.  Called before any work
    when results are stored."""
    for param, objs in named.items():
        for label, obj in objs.items():
            try:
                canonical(obj)
            except TypeError as exc:
                raise TypeError(f"`{param}`: {label!r} cannot name a stored run: {exc}"
                                ) from None


def store_name(config: dict, named: dict[str, dict[str, Any]]) -> str:
    """The digest that names the store of ``config``'s runs (:func:`satsim.sweep._store.
    config_digest`), after :func:`check_storable` of ``named``."""
    check_storable(named)
    return config_digest(config)


# --------------------------------------------------------------------------- budget
#: what an analysis may need before it refuses to start without ``force=True``
#: (``--force``): peak memory in bytes and wall time in seconds
MEMORY_LIMIT = 4 * 2**30
TIME_LIMIT = 2 * 3600.0
#: multiply-adds per second assumed for the NumPy estimate: a float64 BLAS on this
#: kind of machine does 25–50e9 in large products and ~13e9 in satsim's training loop
#: (784-30-10, batch 10); 5e9 keeps the estimate on the safe side for small batches
MACS_PER_SECOND = 5e9


def _human_bytes(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def _human_seconds(s: float) -> str:
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 60:.0f} min" if s >= 60 else f"{s:.0f} s"


def check_budget(memory: float, seconds: float, detail: str, *, force: bool) -> None:
    """Refuse (``ValueError``, one line) an analysis estimated above :data:`MEMORY_LIMIT`
    or :data:`TIME_LIMIT`, before anything large is allocated, unless ``force``."""
    if force:
        return
    over = []
    if memory > MEMORY_LIMIT:
        over.append(f"about {_human_bytes(memory)} of memory (limit "
                    f"{_human_bytes(MEMORY_LIMIT)})")
    if seconds > TIME_LIMIT:
        over.append(f"about {_human_seconds(seconds)} (limit {_human_seconds(TIME_LIMIT)})")
    if over:
        raise ValueError(f"this analysis would need {' and '.join(over)}: {detail}; make it "
                         "smaller, or pass force=True (--force) to run it anyway")


def numpy_estimate(sizes: Sequence[int], work: dict, *, n_schemes: int, n_kinds: int,
                   train: bool, workers: int) -> tuple[float, float, str]:
    """Peak bytes, seconds and a description of :func:`satsim.analyze.analyze`'s work.

    Memory: the stacked pre-activations of the init-time measurement (``networks`` ×
    ``n_probe`` rows × every layer's width × input kinds, float64) plus, per worker, one
    network's weights three times over (weights, gradients, the update).  Time: the
    multiply-adds of those forward passes and of training (forward + backward ≈ 3× a
    forward, per row, epoch, seed and scheme) at ``MACS_PER_SECOND``."""
    params = sum(a * b for a, b in itertools.pairwise(sizes))
    units = sum(sizes[1:])
    z_bytes = 8.0 * work["networks"] * work["n_probe"] * units * n_kinds
    memory = z_bytes + 24.0 * params * max(workers, 1)
    macs = n_schemes * work["networks"] * n_kinds * work["n_probe"] * params
    if train:
        rows = work["n_train"] * 3 + work["n_validation"]
        macs += n_schemes * work["seeds"] * work["epochs"] * rows * params
    detail = (f"{params:,} weights, {n_schemes} scheme(s) × {work['seeds'] if train else 0} "
              f"seed(s) × {work['epochs'] if train else 0} epoch(s) of "
              f"{work['n_train']:,} rows")
    return memory, macs / MACS_PER_SECOND, detail


def input_bytes(shape: tuple[int, ...], work: dict, *, train: bool) -> float:
    """Bytes of :func:`satsim.analyze.analyze_torch`'s inputs: the probe rows (float64
    when Gaussian) and, when it trains, the training and validation rows (float32)."""
    rows = work["n_train"] + work["n_validation"] if train else 0
    return (8.0 * work["n_probe"] + 4.0 * rows) * math.prod(shape)


def torch_estimate(build: Any, shape: tuple[int, ...], work: dict, *, n_schemes: int,
                   train: bool, device: Any) -> tuple[float, float, str]:
    """Peak bytes, seconds and a description of :func:`satsim.analyze.analyze_torch`'s
    work, from one model built and one SGD step on ``batch_size`` zero inputs timed on
    ``device`` (the second of two: the first pays one-off costs).

    Memory: the probe rows (float64 when Gaussian), the training and validation rows as
    tensors (float32) and the model's parameters three times over (weights, gradients,
    the update).  Time: the timed step × steps per epoch × epochs × seeds × schemes,
    plus the per-epoch evaluations (one forward ≈ a third of a step per row)."""
    import time

    import torch

    per_row = math.prod(shape)
    memory = input_bytes(shape, work, train=train)
    model = build().to(device)
    n_params = sum(p.numel() for p in model.parameters())
    memory += 12.0 * n_params
    seconds = 0.0
    if train:
        x = torch.zeros((work["batch_size"], *shape), device=device)
        times = []
        for _ in range(2):
            t = time.perf_counter()
            out = model(x)
            out.float().sum().backward()
            if str(device).startswith("cuda"):
                torch.cuda.synchronize(device)
            times.append(time.perf_counter() - t)
        steps = math.ceil(work["n_train"] / work["batch_size"])
        evals = (work["n_validation"] + work["n_probe"]) / work["batch_size"] / 3
        seconds = times[-1] * (steps + evals) * work["epochs"] * work["seeds"] * n_schemes
    detail = (f"{n_params:,} parameters, inputs of {per_row:,} values, {n_schemes} "
              f"scheme(s) × {work['seeds'] if train else 0} seed(s) × "
              f"{work['epochs'] if train else 0} epoch(s) of {work['n_train']:,} rows")
    return memory, seconds, detail
