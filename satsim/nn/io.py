"""Saving and loading networks: ``.npz`` arrays plus JSON metadata.

The file is a NumPy ``.npz`` archive holding ``W0, b0, W1, b1, …`` and a
``metadata`` entry: JSON with ``format`` ("satsim.nn"), ``format_version``,
``sizes``, ``activation``, ``output``, ``cost``, ``init``, ``bias_init`` and ``dtype``.
The write is atomic (:func:`satsim._atomic.atomic_writer`: a temporary sibling,
flushed and fsynced, renamed over the target), so a crash never leaves a
half-written network.  :func:`load` validates everything before building the
network: a truncated, corrupted or mismatched file raises ``ValueError`` naming
the file and the problem.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import numpy as np

from satsim._atomic import atomic_writer
from satsim._namespace import public_dir
from satsim._npz import NPZ_ERRORS, read_arrays

if TYPE_CHECKING:
    from satsim.nn.network import Network

__all__ = ["FORMAT", "FORMAT_VERSION", "load", "save"]

__dir__ = public_dir(globals())

FORMAT = "satsim.nn"
FORMAT_VERSION = 1


def save(net: Network, path: str | os.PathLike) -> None:
    """Write ``net`` to ``path`` (``.npz`` with JSON metadata), atomically."""
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sizes": net.sizes,
        "activation": net.activation.name,
        "activation_params": dict(vars(net.activation)),
        "output": net.output.name,
        "cost": net.cost.name,
        "init": net.init.name,
        "init_repr": repr(net.init),
        "bias_init": None if net.bias_init is None else net.bias_init.name,
        "dtype": net.dtype.name,
    }
    arrays: dict[str, np.ndarray] = {"metadata": np.array(json.dumps(meta))}
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        arrays[f"W{i}"] = W
        arrays[f"b{i}"] = b
    with atomic_writer(path) as fh:
        np.savez(fh, allow_pickle=False, **arrays)


def _fail(path: Path, what: str) -> NoReturn:
    raise ValueError(f"cannot load network from {str(path)!r}: {what}")


def load(path: str | os.PathLike) -> Network:
    """Read a network written by :func:`save`; every check runs before it is built."""
    from satsim.activations import get as get_activation
    from satsim.nn.network import Network

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no network file at {str(path)!r}")
    try:
        arrays = read_arrays(path)
    except NPZ_ERRORS as exc:
        _fail(path, f"not a readable .npz archive (truncated or corrupted?): {exc}")
    if "metadata" not in arrays:
        _fail(path, "no 'metadata' entry (not written by satsim)")
    try:
        meta = json.loads(str(arrays["metadata"]))
    except json.JSONDecodeError as exc:
        _fail(path, f"metadata is not valid JSON: {exc}")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        _fail(path, "metadata does not describe a satsim.nn network")
    if meta.get("format_version") != FORMAT_VERSION:
        _fail(path, f"format_version {meta.get('format_version')!r} is not supported "
                    f"(this satsim reads version {FORMAT_VERSION})")
    sizes = meta.get("sizes")
    if not (isinstance(sizes, list) and len(sizes) >= 2
            and all(isinstance(s, int) and s > 0 for s in sizes)):
        _fail(path, f"bad 'sizes' in metadata: {sizes!r}")
    dtype = np.dtype(meta.get("dtype", "float64"))
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        W, b = arrays.get(f"W{i}"), arrays.get(f"b{i}")
        if W is None or b is None:
            _fail(path, f"layer {i} is missing (W{i}/b{i})")
        if W.shape != (fan_out, fan_in) or b.shape != (fan_out,):
            _fail(path, f"layer {i} has shapes {W.shape}, {b.shape}; metadata says "
                        f"({fan_out}, {fan_in}), ({fan_out},)")
        if W.dtype != dtype or b.dtype != dtype:
            _fail(path, f"layer {i} has dtype {W.dtype}/{b.dtype}; metadata says {dtype}")
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
            _fail(path, f"layer {i} contains non-finite values")
    extra = set(arrays) - {"metadata"} - {f"{p}{i}" for i in range(len(sizes) - 1) for p in "Wb"}
    if extra:
        _fail(path, f"unexpected entries {sorted(extra)}")
    try:
        activation = get_activation(meta["activation"], **meta.get("activation_params", {}))
        # the weights are replaced below: build with a trivial initializer, then record
        # the original one (a registered preset by name; anything else by its repr)
        net = Network(sizes, activation=activation, output=meta["output"], cost=meta["cost"],
                      init="zeros", bias_init=None, dtype=dtype, rng=0)
    except (KeyError, TypeError, ValueError) as exc:
        _fail(path, f"metadata does not describe a valid network: {exc}")
    from satsim import init as init_module

    if meta.get("init") in init_module.names():
        net.init = init_module.get(meta["init"])
    if meta.get("bias_init") in init_module.names():
        net.bias_init = init_module.get(meta["bias_init"])
    net.metadata = meta
    net.weights = [arrays[f"W{i}"].copy() for i in range(len(sizes) - 1)]
    net.biases = [arrays[f"b{i}"].copy() for i in range(len(sizes) - 1)]
    return net
