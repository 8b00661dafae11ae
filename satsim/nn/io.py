"""Saving and loading networks: ``.npz`` arrays plus JSON metadata.

The file is a NumPy ``.npz`` archive holding ``W0, b0, W1, b1, …`` and a
``metadata`` entry: JSON with ``format`` ("satsim.nn"), ``format_version``,
``sizes``, ``activation`` (and its ``activation_params``), ``output``, ``cost``,
``init``, ``bias_init`` and ``dtype``.  A network with one activation per hidden layer
adds ``activations`` — one ``{"name": …, "params": {…}}`` per hidden layer — and is
written as format version 2, so that a satsim that reads only version 1 refuses it
instead of loading every layer with the first layer's activation; a network with one
activation is written as version 1, as before.  A data-dependent initialization (LSUV)
adds its ``init_report`` (:meth:`satsim.nn.LSUVResult.to_json`), restored on load.
The write is atomic (:func:`satsim._atomic.atomic_writer`: a temporary sibling,
flushed and fsynced, renamed over the target), so a crash never leaves a
half-written network.  :func:`load` validates everything before building the
network: a truncated, corrupted or mismatched file raises ``ValueError`` naming
the file and the problem.  Files are untrusted: nothing is allocated before its
size has been checked against the metadata and ``max_bytes`` (:data:`MAX_BYTES`),
and entries the metadata does not name are refused unread (see :func:`load`).
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from satsim._atomic import atomic_writer
from satsim._namespace import public_dir
from satsim._validation import check_int
from satsim.data._npz import NpzArchive, NpzError, NpzLimitError

if TYPE_CHECKING:
    from satsim.nn.network import Network

__all__ = ["FORMAT", "FORMAT_VERSION", "MAX_BYTES", "load", "save"]

__dir__ = public_dir(globals())

FORMAT = "satsim.nn"
#: the newest version written and read (2: per-layer activations); version-1 files load
FORMAT_VERSION = 2
_VERSIONS = (1, 2)
#: the most bytes of parameters :func:`load` reads from a file (256 MiB: a
#: 784-4096-4096-10 float64 network is 160 MB); ``load(path, max_bytes=...)`` raises it
MAX_BYTES = 256 * 2**20
_MAX_METADATA_BYTES = 1 << 20  # the JSON metadata (stored as UTF-32: 256k characters)
_MAX_METADATA_DEPTH = 32
_DTYPES = ("float32", "float64")
#: the class :func:`load` builds: satsim.nn.network registers Network here when it is
#: imported (importing satsim.nn.io imports satsim.nn, hence the network module, first),
#: so this module needs no import of the class it persists
_NETWORK: list[type] = []


def _register(cls: type) -> None:
    _NETWORK[:] = [cls]


def save(net: Network, path: str | os.PathLike) -> None:
    """Write ``net`` to ``path`` (``.npz`` with JSON metadata), atomically.

    Parameters
    ----------
    net : Network
        The network; its weights and biases are stored as ``W0, b0, W1, b1, …`` and its
        architecture, initializers and dtype as JSON (format version 1, or 2 with one
        activation per hidden layer; see the module docstring).
    path : str or os.PathLike
        The file to write (replaced if it exists; written as given, no ``.npz`` suffix
        is added).

    Raises
    ------
    TypeError
        An activation's parameters are not JSON values (a ``from_function``
        activation holds its function: register it and save a network built by name).
    OSError
        The file cannot be written.
    """
    from satsim.activations import Activation
    from satsim.activations import get as get_activation

    per_layer = not isinstance(net.activation, Activation)
    # the version-1 keys hold the first hidden layer's (linear: a network without any)
    first = (net.activation if isinstance(net.activation, Activation)
             else net.activations[0] if net.activations else get_activation("linear"))
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": 2 if per_layer else 1,
        "sizes": net.sizes,
        "activation": first.name,
        "activation_params": dict(vars(first)),
        "output": net.output.name,
        "cost": net.cost.name,
        "init": net.init.name,
        "init_repr": repr(net.init),
        "bias_init": None if net.bias_init is None else net.bias_init.name,
        "dtype": net.dtype.name,
    }
    if per_layer:
        meta["activations"] = [{"name": a.name, "params": dict(vars(a))}
                               for a in net.activations]
    if net.init_report is not None:
        meta["init_report"] = net.init_report.to_json()
    arrays: dict[str, np.ndarray] = {"metadata": np.array(json.dumps(meta))}
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        arrays[f"W{i}"] = W
        arrays[f"b{i}"] = b
    with atomic_writer(path) as fh:
        np.savez(fh, allow_pickle=False, **arrays)


def _fail(path: Path, what: str) -> NoReturn:
    raise ValueError(f"cannot load network from {str(path)!r}: {what}")


def _over_limit(path: Path, what: str, max_bytes: int) -> NoReturn:
    _fail(path, f"{what}, more than the max_bytes={max_bytes} limit (default "
                f"satsim.nn.io.MAX_BYTES={MAX_BYTES}; pass a larger max_bytes to load it)")


def _depth(obj: Any) -> int:
    """Nesting depth of decoded JSON, without recursion."""
    deepest, todo = 0, [(obj, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth <= _MAX_METADATA_DEPTH:  # deeper than that is an error anyway
                todo.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict)
                                                    else item))
    return deepest


def _metadata(path: Path, npz: NpzArchive) -> dict[str, Any]:
    """The checked JSON metadata: read first, and bounded, before any array."""
    if "metadata" not in npz.names:
        _fail(path, "no 'metadata' entry (not written by satsim)")
    shape, dt = npz.header("metadata")
    if shape != () or dt.kind != "U":
        _fail(path, f"'metadata' is an array of shape {shape} and dtype {dt}, not a JSON string")
    if dt.itemsize > _MAX_METADATA_BYTES:
        _fail(path, f"'metadata' is {dt.itemsize} bytes, more than the "
                    f"{_MAX_METADATA_BYTES}-byte limit for metadata")
    try:
        meta = json.loads(str(npz.read("metadata")[()]))
    except RecursionError:
        _fail(path, f"metadata is nested more than {_MAX_METADATA_DEPTH} levels deep")
    except ValueError as exc:  # JSONDecodeError, or an integer with too many digits
        _fail(path, f"metadata is not valid JSON: {exc}")
    if _depth(meta) > _MAX_METADATA_DEPTH:
        _fail(path, f"metadata is nested more than {_MAX_METADATA_DEPTH} levels deep")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        _fail(path, "metadata does not describe a satsim.nn network")
    version = meta.get("format_version")
    if isinstance(version, bool) or version not in _VERSIONS:
        _fail(path, f"format_version {version!r} is not supported "
                    f"(this satsim reads versions {', '.join(map(str, _VERSIONS))})")
    sizes = meta.get("sizes")
    if not (isinstance(sizes, list) and len(sizes) >= 2
            and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes)):
        _fail(path, f"bad 'sizes' in metadata: {_short(sizes)}")
    dtype = meta.get("dtype", "float64")
    if dtype not in _DTYPES:
        _fail(path, f"metadata dtype {_short(dtype)} is not one of "
                    f"{', '.join(map(repr, _DTYPES))}")
    for key in ("activation", "output", "cost"):
        if not isinstance(meta.get(key), str):
            _fail(path, f"metadata {key!r} must be a name (a string); got {_short(meta.get(key))}")
    _check_params(path, "activation_params", meta.get("activation_params", {}))
    if "activations" in meta or version == 2:
        layers = meta.get("activations")
        n_hidden = len(sizes) - 2
        if not (isinstance(layers, list) and len(layers) == n_hidden and all(
                isinstance(e, dict) and set(e) == {"name", "params"}
                and isinstance(e["name"], str) for e in layers)):
            _fail(path, f"metadata 'activations' must list one {{'name', 'params'}} per "
                        f"hidden layer ({n_hidden}); got {_short(layers)}")
        for i, entry in enumerate(layers):
            _check_params(path, f"activations[{i}] params", entry["params"])
    return meta


def _check_params(path: Path, what: str, params: Any) -> None:
    if not (isinstance(params, dict) and all(
            isinstance(v, int | float | str | bool) or v is None for v in params.values())):
        _fail(path, f"metadata {what!r} must map names to numbers; got {_short(params)}")


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, dict | list) or _depth(value) < 4 else "..."
    return text if len(text) <= 80 else text[:77] + "..."


def load(path: str | os.PathLike, *, max_bytes: int = MAX_BYTES) -> Network:
    """Read a network written by :func:`save`; every check runs before it is built.

    The file is untrusted: the metadata (at most 1 MiB of JSON, nested at most 32
    levels) is read and checked first; then the member names (exactly ``W0, b0,
    …`` for its sizes: anything else is refused unread), then each array's ``.npy``
    header (shape and dtype as the metadata says); only then are the arrays
    decompressed, in chunks.  The parameters together may take at most
    ``max_bytes`` (default :data:`MAX_BYTES`).

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save` (format version 1 or 2).
    max_bytes : int, default :data:`MAX_BYTES`
        The most bytes the parameters may take together.

    Returns
    -------
    Network
        The network with the file's weights, biases, activations, output, cost and
        dtype; ``init``/``bias_init`` are restored when they are registered names,
        ``init_report`` when the file has one, and ``metadata`` holds the file's JSON.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        ``"cannot load network from '<path>': <what is wrong>"``; also ``max_bytes``
        not a positive integer.
    """
    from satsim.activations import get as get_activation

    Network = _NETWORK[0]
    path = Path(path)
    max_bytes = check_int("max_bytes", max_bytes, minimum=1)
    if not path.exists():
        raise FileNotFoundError(f"no network file at {str(path)!r}")
    try:
        with NpzArchive(path, max_bytes=max_bytes + _MAX_METADATA_BYTES) as npz:
            meta = _metadata(path, npz)
            sizes: list[int] = meta["sizes"]
            dtype = np.dtype(meta.get("dtype", "float64"))
            n_layers = len(sizes) - 1
            need = sum((fan_in + 1) * fan_out for fan_in, fan_out in itertools.pairwise(sizes))
            if need * dtype.itemsize > max_bytes:
                _over_limit(path, f"metadata sizes {_short(sizes)} need "
                                  f"{need * dtype.itemsize} bytes of {dtype} parameters",
                            max_bytes)
            names = set(npz.names)
            for i in range(n_layers):
                if f"W{i}" not in names or f"b{i}" not in names:
                    _fail(path, f"layer {i} is missing (W{i}/b{i})")
            extra = names - {"metadata"} - {f"{p}{i}" for i in range(n_layers) for p in "Wb"}
            if extra:
                _fail(path, f"unexpected entries {sorted(extra)}")
            for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
                (w_shape, w_dtype), (b_shape, b_dtype) = npz.header(f"W{i}"), npz.header(f"b{i}")
                if w_shape != (fan_out, fan_in) or b_shape != (fan_out,):
                    _fail(path, f"layer {i} has shapes {w_shape}, {b_shape}; metadata says "
                                f"({fan_out}, {fan_in}), ({fan_out},)")
                if w_dtype != dtype or b_dtype != dtype:
                    _fail(path, f"layer {i} has dtype {w_dtype}/{b_dtype}; metadata says "
                                f"{dtype}")
            weights, biases = [], []
            for i in range(n_layers):
                W, b = npz.read(f"W{i}"), npz.read(f"b{i}")
                if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
                    _fail(path, f"layer {i} contains non-finite values")
                weights.append(W)
                biases.append(b)
    except NpzLimitError as exc:  # not reached: the parameters' total was checked above
        _fail(path, str(exc))
    except NpzError as exc:
        _fail(path, f"not a readable .npz archive (truncated or corrupted?): {exc}")
    try:
        activation: Any = get_activation(meta["activation"], **meta.get("activation_params", {}))
        if "activations" in meta:
            activation = [get_activation(e["name"], **e["params"]) for e in meta["activations"]]
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
    if "init_report" in meta:
        from satsim.nn.lsuv import LSUVResult

        try:
            net.init_report = LSUVResult.from_json(meta["init_report"])
        except ValueError as exc:
            _fail(path, f"bad 'init_report' in metadata: {exc}")
    net.metadata = meta
    net.weights = weights
    net.biases = biases
    return net
