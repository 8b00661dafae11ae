r"""Real datasets in MNIST format: readers, a registry, search, fetch, a bundled subset.

Readers (all validate what they read and name the file in every error):

* :func:`read_idx` — IDX files, gzip-compressed or raw (MNIST, Fashion-MNIST and
  EMNIST share the format): magic number, dimension sizes, payload length;
* :func:`read_nielsen_pickle` — Nielsen's ``mnist.pkl.gz`` (loaded with an
  unpickler that only rebuilds NumPy arrays, never arbitrary objects);
* :func:`read_npz` — ``.npz`` with ``x_train, y_train, x_test, y_test`` (Keras'
  ``mnist.npz`` layout) and optionally ``x_val, y_val``.

Untrusted files.  A file may be damaged or crafted, so no reader allocates what a
file merely asks for: headers, shapes, dtypes and declared sizes are checked
first, against :data:`MAX_BYTES` (256 MiB per file — five times MNIST's largest
IDX file, above Nielsen's 220 MB pickle; every reader and :func:`load` take
``max_bytes=`` to raise it), and decompression is streamed and stops at the
declared size (an IDX payload), at twice ``max_bytes`` (a pickle stream) or is never
started (``.npz`` members that are not needed, or whose header is out of bounds).
The pickle reader runs at most :data:`MAX_PICKLE_OPS` opcodes on the pure-Python
unpickler and calls nothing but checked stand-ins for NumPy's array
reconstruction.  Every failure is a :class:`DatasetError` naming the file; a limit
breach says which limit and how to raise it.  ``load`` turns pixels into float64,
so its result takes 8 bytes per uint8 pixel read.

Registry and search.  :func:`load` looks for a registered dataset's four IDX files
in ``$SATSIM_DATA/<name>/``, the user cache directory
(``$XDG_CACHE_HOME/satsim/<name>/``, default ``~/.cache/satsim/<name>/``), and for
``fashion-mnist`` the Debian/Ubuntu package location
``/usr/share/datasets/fashion-mnist/`` (``apt install dataset-fashion-mnist``).  If
none is found, ``fashion-mnist`` falls back to the subset bundled with satsim.  The
returned :class:`Dataset` says which source it used.

Checksums.  The registry holds the SHA-256 of the canonical ``.gz`` files (what
:func:`fetch` downloads and verifies) and, for Fashion-MNIST, of the
*decompressed* IDX payloads.  ``load(verify=True)`` (the default) accepts an IDX
file found on disk if it is the canonical ``.gz`` or, where a content digest is
registered, if its decompressed content matches (the Debian package recompresses
the files, so its ``.gz`` bytes differ from upstream).  A file that is neither —
for MNIST, which has no content digests, any copy that is not the canonical
``.gz`` — is refused with a DatasetError that says so; ``verify=False`` loads it,
and ``Dataset.source`` then reads "(not verified: verify=False)".  ``.npz`` and
pickle sources have no registered checksum: their ``source`` says "not verified".

Splits.  ``split="nielsen"`` (default): the first 50,000 training images train,
the last 10,000 validate, and the 10,000 test images test — Nielsen's split.
``split="standard"``: 60,000 train, no validation, 10,000 test.  Images are
returned as float64 in [0, 1], shape (n, 784); labels as int64 in [0, 9].

The bundled subset (``satsim/_data/fashion-mnist-subset.npz``): a stratified
sample of Fashion-MNIST — 1,000 training, 200 validation (both from the training
file) and 200 test images per class — built reproducibly by
``python -m satsim.data build-subset`` from the full files (seed 20261126).
Fashion-MNIST is © Zalando SE, released under the MIT licence
(https://github.com/zalandoresearch/fashion-mnist); the licence text ships next
to the subset.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from satsim._atomic import atomic_writer
from satsim._namespace import public_dir
from satsim._validation import check_int
from satsim.data._catalog import (
    _REGISTRY,
    BUNDLED,
    DEBIAN_FASHION,
    FILES,
    SUBSET_SEED,
    _cache_dir,
    _Entry,
    _entry,
    _file_sha256,
    names,
    register,
)
from satsim.data._fetch import (
    fetch,
)
from satsim.data._readers import (
    MAX_BYTES,
    MAX_PICKLE_OPS,
    DatasetError,
    _check_split,
    _read_idx,
    _where,
    read_idx,
    read_nielsen_pickle,
    read_npz,
)

__all__ = [
    "MAX_BYTES",
    "MAX_PICKLE_OPS",
    "Dataset",
    "DatasetError",
    "build_subset",
    "fetch",
    "load",
    "load_bundled",
    "main",
    "names",
    "read_idx",
    "read_nielsen_pickle",
    "read_npz",
    "register",
]

__dir__ = public_dir(globals())



# --------------------------------------------------------------------------- load
@dataclasses.dataclass(frozen=True, repr=False)
class Dataset:
    """A loaded dataset: ``train``, ``validation`` (or None) and ``test``, each ``(X, y)``
    with X float64 in [0, 1] of shape (n, 784) and y int64; ``source`` says where it
    came from."""

    name: str
    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray] | None
    test: tuple[np.ndarray, np.ndarray]
    source: str
    classes: tuple[str, ...]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={v[0].shape[0]}" for k, v in
                          (("train", self.train), ("validation", self.validation),
                           ("test", self.test)) if v is not None)
        return f"Dataset(name={self.name!r}, {sizes}, source={self.source!r})"




def _candidates(name: str) -> list[Path]:
    dirs = []
    if os.environ.get("SATSIM_DATA"):
        dirs.append(Path(os.environ["SATSIM_DATA"]) / name)
    dirs.append(_cache_dir() / name)
    if name == "fashion-mnist":
        dirs.append(DEBIAN_FASHION)
    return dirs


def _has_files(d: Path) -> bool:
    return all((d / f).is_file() for f in FILES)


def _split(name, Xtr, ytr, Xte, yte, split, source, classes):
    if split == "nielsen":
        if Xtr.shape[0] <= 50_000:
            raise DatasetError(f"{source}: split='nielsen' needs the full training file "
                               f"(more than 50,000 images; found {Xtr.shape[0]}); "
                               "use split='standard'")
        train, val = (Xtr[:50_000], ytr[:50_000]), (Xtr[50_000:], ytr[50_000:])
    else:
        train, val = (Xtr, ytr), None
    return Dataset(name=name, train=train, validation=val, test=(Xte, yte), source=source,
                   classes=classes)


def _verified_idx(name: str, path: Path, entry: _Entry, max_bytes: int) -> np.ndarray:
    """Read one of a registered dataset's IDX files, checking it is the registered file.

    Either the file's own SHA-256 is the registered one for the canonical ``.gz``
    (what :func:`fetch` downloads), or, for a recompressed or decompressed copy such
    as Debian's, the SHA-256 of its decompressed content is the registered content
    digest (computed while reading, in the same pass).  Without a content digest a
    copy that is not the canonical ``.gz`` cannot be verified, and is refused before
    it is parsed.
    """
    fname = path.name
    canonical = entry.files.get(fname)
    content = entry.content.get(fname)
    if (canonical is not None and path.is_file() and path.stat().st_size <= max_bytes
            and _file_sha256(path) == canonical):
        return _read_idx(path, max_bytes)[0]
    unverified = (f"run `satsim data fetch {name}` to replace it, or pass verify=False "
                  "to load it unverified")
    if content is None:
        known = ("it is not the registered .gz file (SHA-256 mismatch) and no content "
                 "checksum is registered" if canonical is not None
                 else "no checksum is registered for it")
        raise DatasetError(f"{_where(path)}: cannot verify this {name} file: {known}; "
                           + unverified)
    array, digest = _read_idx(path, max_bytes, digest=True)
    if digest != content:
        raise DatasetError(f"{_where(path)}: content SHA-256 does not match the registered "
                           f"{name} file; " + unverified)
    return array


def _load_idx_dir(name: str, d: Path, entry: _Entry, verify: bool, max_bytes: int):
    if verify:
        Xtr, ytr, Xte, yte = (_verified_idx(name, d / f, entry, max_bytes) for f in FILES)
    else:
        Xtr, ytr, Xte, yte = (_read_idx(d / f, max_bytes)[0] for f in FILES)
    parts = []
    for label, X, y in (("train", Xtr, ytr), ("test", Xte, yte)):
        parts.append(_check_split(d, label, X, y, len(entry.classes)))
    return parts


def _idx_source(d: Path, verify: bool) -> str:
    return f"IDX files in {d} " + ("(SHA-256 verified)" if verify
                                   else "(not verified: verify=False)")


_UNVERIFIED = "(not verified: no registered checksum)"


def load_bundled() -> Dataset:
    """The Fashion-MNIST subset shipped with satsim (stratified; see the module docs).

    Returns
    -------
    Dataset
        1,000 training, 200 validation and 200 test images per class (10,000, 2,000
        and 2,000), X float64 in [0, 1] of shape (n, 784); ``source`` names the
        bundled file.

    Raises
    ------
    DatasetError
        The bundled file is missing or damaged.
    """
    train, val, test = read_npz(BUNDLED)
    return Dataset(name="fashion-mnist", train=train, validation=val, test=test,
                   source=f"bundled subset {BUNDLED.name}",
                   classes=_REGISTRY["fashion-mnist"].classes)


def load(name: str, *, source: str | os.PathLike | None = None, split: str = "nielsen",
         verify: bool = True, max_bytes: int = MAX_BYTES) -> Dataset:
    """Load a registered dataset.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist", ...}
        A registered dataset (see :func:`names`).
    source : path or "bundled", optional
        A directory with the four IDX files, an ``.npz`` file, Nielsen's
        ``mnist.pkl.gz``, or ``"bundled"`` for the shipped Fashion-MNIST subset.
        Default: search (see the module docstring), falling back to the bundled
        subset for fashion-mnist.
    split : {"nielsen", "standard"}, default "nielsen"
        How IDX files are split: Nielsen's 50,000/10,000/10,000 or the standard
        60,000/none/10,000 (see the module docstring).  ``.npz``, pickle and bundled
        sources keep the split they were saved with.
    verify : bool, default True
        Check that each IDX file is the registered one: its SHA-256 is that of the
        canonical ``.gz``, or its decompressed content's SHA-256 is the registered
        content digest (Fashion-MNIST has them, so Debian's recompressed files
        verify).  A file that cannot be verified (e.g. an MNIST file that is not the
        canonical ``.gz``: MNIST has no content digests) is refused with a
        DatasetError.  ``.npz`` and pickle sources have no registered checksum and
        are never verified; ``Dataset.source`` says so, as it does for IDX files
        read with ``verify=False``.
    max_bytes : int, default :data:`MAX_BYTES`
        The most bytes taken from any one file (see :func:`read_idx`,
        :func:`read_nielsen_pickle`, :func:`read_npz`).

    Returns
    -------
    Dataset
        ``train``, ``validation`` (None for ``split="standard"``) and ``test`` as
        ``(X, y)`` pairs — X float64 in [0, 1] of shape (n, 784), y int64 labels — and
        ``source``, which says where the data came from and whether it was verified.

    Raises
    ------
    DatasetError
        No data found, a file fails verification, a source that is not a directory
        with the four files, an ``.npz`` or a ``.pkl.gz``, ``split="nielsen"`` with at
        most 50,000 training images, or a file that is malformed or larger than
        ``max_bytes``; the message names the file.
    ValueError
        An unregistered ``name``, an unknown ``split``, ``source="bundled"`` for a
        dataset other than fashion-mnist, or ``max_bytes`` not a positive integer.
    """
    entry = _entry(name)
    if split not in ("nielsen", "standard"):
        raise ValueError(f"`split` must be one of 'nielsen', 'standard'; got split={split!r}")
    max_bytes = check_int("max_bytes", max_bytes, minimum=1)
    if source == "bundled":
        if name != "fashion-mnist":
            raise ValueError("only 'fashion-mnist' has a bundled subset")
        return load_bundled()
    if source is not None:
        p = Path(source)
        if p.is_dir():
            if not _has_files(p):
                raise DatasetError(f"{str(p)!r}: expected the files {', '.join(FILES)}")
            (Xtr, ytr), (Xte, yte) = _load_idx_dir(name, p, entry, verify, max_bytes)
            return _split(name, Xtr, ytr, Xte, yte, split, _idx_source(p, verify),
                          entry.classes)
        if p.name.endswith(".pkl.gz"):
            train, val, test = read_nielsen_pickle(p, max_bytes=max_bytes)
            return Dataset(name=name, train=train, validation=val, test=test,
                           source=f"Nielsen pickle {p} {_UNVERIFIED}", classes=entry.classes)
        if p.suffix == ".npz":
            train, val, test = read_npz(p, max_bytes=max_bytes)
            return Dataset(name=name, train=train, validation=val, test=test,
                           source=f"npz {p} {_UNVERIFIED}", classes=entry.classes)
        raise DatasetError(f"{str(p)!r}: not a directory, .npz or .pkl.gz")
    for d in _candidates(name):
        if _has_files(d):
            (Xtr, ytr), (Xte, yte) = _load_idx_dir(name, d, entry, verify, max_bytes)
            return _split(name, Xtr, ytr, Xte, yte, split, _idx_source(d, verify),
                          entry.classes)
    if name == "fashion-mnist" and BUNDLED.is_file():
        return load_bundled()
    looked = ", ".join(str(d) for d in _candidates(name))
    raise DatasetError(f"{name}: no data found (looked in {looked}); run `satsim data fetch "
                       f"{name}` or set $SATSIM_DATA")






# --------------------------------------------------------------------------- subset
def build_subset(source: str | os.PathLike, out: str | os.PathLike = BUNDLED, *,
                 train_per_class: int = 1000, validation_per_class: int = 200,
                 test_per_class: int = 200, seed: int = SUBSET_SEED) -> Path:
    """Build the stratified Fashion-MNIST subset from the four full IDX files.

    Training and validation images are drawn without overlap from the training file,
    test images from the test file, ``*_per_class`` of each class, with
    ``numpy.random.default_rng(seed)``; images stay uint8.  Metadata (sources,
    checksums, seed, licence) is stored in the archive.

    Parameters
    ----------
    source : str or os.PathLike
        Directory holding the four Fashion-MNIST IDX files.
    out : str or os.PathLike, default the bundled file
        The ``.npz`` to write (atomically; parent directories are created).
    train_per_class, validation_per_class, test_per_class : int, default 1000, 200, 200
        Images drawn per class (0–9) for each part; a class with fewer images gives
        what it has.
    seed : int, default 20261126
        Seed of the draw (``SUBSET_SEED``).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    DatasetError
        A source file is missing, malformed or larger than :data:`MAX_BYTES`.
    """
    src = Path(source)
    read = {f: _read_idx(src / f, MAX_BYTES, digest=True) for f in FILES}
    Xtr, ytr, Xte, yte = (read[f][0] for f in FILES)
    rng = np.random.default_rng(seed)
    tr_idx, va_idx, te_idx = [], [], []
    for c in range(10):
        pool = rng.permutation(np.flatnonzero(ytr == c))
        tr_idx.append(pool[:train_per_class])
        va_idx.append(pool[train_per_class: train_per_class + validation_per_class])
        te_idx.append(rng.permutation(np.flatnonzero(yte == c))[:test_per_class])
    tr, va, te = (np.sort(np.concatenate(i)) for i in (tr_idx, va_idx, te_idx))
    meta = {
        "dataset": "fashion-mnist",
        "licence": "MIT (Fashion-MNIST, Copyright (c) 2017 Zalando SE)",
        "seed": seed,
        "per_class": {"train": train_per_class, "validation": validation_per_class,
                      "test": test_per_class},
        "source_content_sha256": {f: read[f][1] for f in FILES},
        "train_indices_from": FILES[0], "test_indices_from": FILES[2],
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(out) as fh:
        np.savez_compressed(
            fh, x_train=Xtr[tr].reshape(len(tr), -1), y_train=ytr[tr].astype(np.uint8),
            x_val=Xtr[va].reshape(len(va), -1), y_val=ytr[va].astype(np.uint8),
            x_test=Xte[te].reshape(len(te), -1), y_test=yte[te].astype(np.uint8),
            train_index=tr.astype(np.int32), val_index=va.astype(np.int32),
            test_index=te.astype(np.int32), metadata=np.array(json.dumps(meta)))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m satsim.data build-subset [--source DIR] [--out PATH]``.

    Rebuilds the bundled subset with :func:`build_subset` and prints the path and size
    written.  ``--source`` defaults to the Debian package's directory, ``--out`` to the
    bundled file.

    Parameters
    ----------
    argv : sequence of str, optional
        The command-line arguments (without the program name); default ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    SystemExit
        From argparse, on bad arguments or ``--help``.
    DatasetError
        As :func:`build_subset`.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m satsim.data")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build-subset", help="rebuild the bundled Fashion-MNIST subset")
    b.add_argument("--source", default=str(DEBIAN_FASHION))
    b.add_argument("--out", default=str(BUNDLED))
    args = parser.parse_args(argv)
    path = build_subset(args.source, args.out)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
