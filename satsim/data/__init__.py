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

import contextlib
import dataclasses
import hashlib
import http.client
import json
import logging
import math
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from satsim._atomic import atomic_writer
from satsim._namespace import public_dir
from satsim._validation import check_int, check_real
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

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
BUNDLED = Path(__file__).parents[1] / "_data" / "fashion-mnist-subset.npz"
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
SUBSET_SEED = 20261126
DEFAULT_TIMEOUT = 900.0  # s per file: the largest file (26 MB) still completes at ~30 kB/s
READ_TIMEOUT = 60.0  # s a single connect or read may wait for the server
_CHUNK = 1 << 16
_log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class _Entry:
    files: dict[str, str]  # file name → SHA-256 of the .gz as distributed
    content: dict[str, str]  # file name → SHA-256 of the decompressed payload
    mirrors: tuple[str, ...]
    classes: tuple[str, ...]
    licence: str


_REGISTRY: dict[str, _Entry] = {
    "mnist": _Entry(
        # SHA-256 of the canonical files, as published by the mirrors' users
        files={
            "train-images-idx3-ubyte.gz":
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz":
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz":
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz":
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
        content={},
        mirrors=("https://storage.googleapis.com/cvdf-datasets/mnist/",
                 "https://ossci-datasets.s3.amazonaws.com/mnist/"),
        classes=tuple(str(d) for d in range(10)),
        licence="MNIST: Y. LeCun, C. Cortes, C. J. C. Burges; CC BY-SA 3.0",
    ),
    "fashion-mnist": _Entry(
        # upstream .gz SHA-256 (their MD5s match Zalando's README)
        files={
            "train-images-idx3-ubyte.gz":
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte.gz":
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte.gz":
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte.gz":
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
        # decompressed payloads, computed from the Debian package's files (Debian
        # recompresses the .gz; the IDX content is what both distributions share)
        content={
            "train-images-idx3-ubyte.gz":
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte.gz":
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte.gz":
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte.gz":
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                 "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"),
        licence="Fashion-MNIST © Zalando SE, MIT licence",
    ),
}


def names() -> tuple[str, ...]:
    """Registered dataset names.

    Returns
    -------
    tuple of str
        The names :func:`load` and :func:`fetch` accept, built-ins (``"mnist"``,
        ``"fashion-mnist"``) first, then those added with :func:`register`.
    """
    return tuple(_REGISTRY)


def register(name: str, *, files: dict[str, str], mirrors: Sequence[str],
             content: dict[str, str] | None = None, classes: Sequence[str] | None = None,
             licence: str = "") -> None:
    """Register an MNIST-format dataset (e.g. EMNIST) with its files' SHA-256 sums.

    A name already registered is replaced.

    Parameters
    ----------
    name : str
        The dataset's name (non-empty), also its directory under ``$SATSIM_DATA`` and
        the cache directory.
    files : dict of str to str
        File name → SHA-256 hex digest of the ``.gz`` file as distributed; :func:`load`
        looks for the four IDX files ``train-images-idx3-ubyte.gz``,
        ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz`` and
        ``t10k-labels-idx1-ubyte.gz``.
    mirrors : sequence of str
        Base URLs :func:`fetch` tries in order.
    content : dict of str to str, optional
        File name → SHA-256 of the decompressed payload, which lets a recompressed copy
        verify.
    classes : sequence of str, optional
        Class names, one per label; default ``"0"`` … ``"9"``.
    licence : str, default ""
        The data's licence, for the record.

    Raises
    ------
    TypeError
        ``name`` is not a non-empty string.
    ValueError
        A value of ``files`` is not a 64-character hex digest.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"`name` must be a non-empty string; got name={name!r}")
    for fname, digest in files.items():
        if not (isinstance(digest, str) and len(digest) == 64):
            raise ValueError(f"`files[{fname!r}]` must be a SHA-256 hex digest; got {digest!r}")
    _REGISTRY[name] = _Entry(files=dict(files), content=dict(content or {}),
                             mirrors=tuple(mirrors),
                             classes=tuple(classes or (str(i) for i in range(10))),
                             licence=licence)


def _entry(name: str) -> _Entry:
    if name not in _REGISTRY:
        raise ValueError(f"`name` must be one of {', '.join(map(repr, _REGISTRY))}; "
                         f"got name={name!r}")
    return _REGISTRY[name]


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


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "satsim"


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


# --------------------------------------------------------------------------- fetch
def _file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _content_length(resp) -> int | None:
    try:
        n = int(resp.headers.get("Content-Length", ""))
    except ValueError:  # absent (chunked or read-to-close) or malformed: unknown length
        return None
    return n if n >= 0 else None


def _network_reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)  # str(URLError) wraps it in "<urlopen error ...>"
    return str(exc) or type(exc).__name__


def _download(url: str, target: Path, digest: str, progress: bool, *,
              timeout: float | None = DEFAULT_TIMEOUT,
              read_timeout: float = READ_TIMEOUT) -> None:
    """Stream ``url`` into ``target``, verifying its length and SHA-256 on the way.

    The file is written through :func:`satsim._atomic.atomic_writer`: every check
    runs inside the writer's block, so a failed check (or ``KeyboardInterrupt``)
    removes the temporary file and ``target`` is never replaced by a bad download.
    (The helper fits streaming: the body is written chunk by chunk into its file.)

    Parameters
    ----------
    url : str
    target : Path
    digest : str
        Registered SHA-256 of the file, hex.
    progress : bool
        Show a tqdm progress bar.
    timeout : float or None
        Overall deadline in seconds for this file, counted from the connect;
        ``None`` for none.  It is checked between reads of the body and each socket
        operation waits at most ``min(read_timeout, timeout)``, so the body is
        overrun by at most that much.  (The response headers are read by
        ``http.client``, bounded per read only.)
    read_timeout : float
        How long a single connect or socket read may wait.

    Raises
    ------
    DatasetError
        ``"<url>: <reason>"`` for anything this mirror got wrong: unreachable, an
        HTTP error, a stalled or too slow transfer, fewer bytes than the
        Content-Length, or a SHA-256 mismatch.  Local errors (e.g. a full disk)
        propagate unchanged: another mirror would not help.
    """
    deadline = math.inf if timeout is None else time.monotonic() + timeout
    # without the cap, a tight deadline could be overrun by a whole read_timeout
    per_read = read_timeout if timeout is None else min(read_timeout, timeout)

    def too_slow(received: int, total: int | None) -> DatasetError:
        of = f" of {total}" if total is not None else ""
        return DatasetError(f"{url}: not complete within the {timeout:g} s deadline "
                            f"({received}{of} bytes received); partial file discarded")

    try:
        resp = urllib.request.urlopen(url, timeout=per_read)
    except (OSError, http.client.HTTPException) as exc:  # URLError, HTTPError are OSErrors
        if isinstance(exc, urllib.error.HTTPError):
            exc.close()  # it holds the error response open
        if time.monotonic() >= deadline:
            raise too_slow(0, None) from None
        raise DatasetError(f"{url}: {_network_reason(exc)}") from None
    with resp, contextlib.ExitStack() as cleanup:
        with _signals_held():
            out = cleanup.enter_context(atomic_writer(target))
        # a signal held above is raised here, inside the ExitStack: the writer removes
        # its temporary file
        total = _content_length(resp)
        h = hashlib.sha256()
        received = 0
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, unit="B", unit_scale=True, desc=target.name)
        try:
            while True:
                if time.monotonic() >= deadline:
                    raise too_slow(received, total)
                try:
                    # read1, not read: read(n) blocks until n bytes arrive, so a server
                    # dripping bytes would never give the deadline check a turn
                    chunk = resp.read1(_CHUNK)
                except TimeoutError:
                    if time.monotonic() >= deadline:
                        raise too_slow(received, total) from None
                    raise DatasetError(f"{url}: no data for {per_read:g} s after {received} "
                                       "bytes (read timeout); partial file discarded") from None
                except (OSError, http.client.HTTPException) as exc:
                    raise DatasetError(f"{url}: connection lost after {received} bytes "
                                       f"({_network_reason(exc)}); partial file "
                                       "discarded") from None
                if not chunk:
                    break
                out.write(chunk)
                h.update(chunk)
                received += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        # http.client's read1 does not raise on a short body: a server closing early
        # just looks like the end of the file, so compare with what it announced
        if total is not None and received != total:
            raise DatasetError(f"{url}: truncated transfer, {received} of {total} bytes "
                               "(Content-Length); partial file discarded")
        if h.hexdigest() != digest:
            ctype = resp.headers.get("Content-Type", "")
            hint = (f"; the server sent {ctype.split(';')[0]}, an error page?"
                    if ctype.startswith("text/") else "")
            raise DatasetError(f"{url}: SHA-256 {h.hexdigest()} of {received} bytes does "
                               f"not match the registered {digest}{hint}; file discarded")


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Make SIGTERM raise ``KeyboardInterrupt("terminated")`` in the block.

    SIGTERM's default action kills the process without unwinding the stack, which
    would leave the temporary download behind; as an exception it runs the same
    cleanup as Ctrl-C, and the CLI reports it in one line.  Only the main thread may
    set signal handlers, so elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt("terminated")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        # None: the previous handler was not set from Python; the default is the
        # closest thing signal.signal can restore
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM in the block, then deliver them to the usual handlers.

    Between ``mkstemp`` returning and ``atomic_writer`` recording the temporary file's
    name there is a (tiny) window in which an interrupt would leave the file behind;
    the CLI test hit such a window under load.  Handlers only, not
    ``signal.pthread_sigmask``: the mask is per thread, and a signal delivered to
    another thread (tqdm's monitor) would still reach Python at once.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread gets Python signal handlers in the first place
        return
    held: list[int] = []
    saved = {}
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            saved[signum] = signal.signal(signum, lambda s, frame: held.append(s))
        yield
    finally:
        for signum, previous in saved.items():
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        for sig in held:  # also if the block failed: an interrupt outranks its error
            signal.raise_signal(sig)  # the restored handler raises, ignores or exits


def fetch(name: str, *, dest: str | os.PathLike | None = None,
          mirrors: Sequence[str] | None = None, progress: bool = True,
          timeout: float | None = DEFAULT_TIMEOUT) -> Path:
    """Download a registered dataset's files, verifying SHA-256; return the directory.

    Files already present with the right checksum are kept.  For each missing file
    the mirrors are tried in turn: a mirror that is unreachable, answers an HTTP
    error, stalls, exceeds the deadline, sends fewer bytes than its Content-Length
    or sends bytes with the wrong SHA-256 (an HTML error page served with status 200,
    say) is logged as a warning on the ``satsim.data`` logger with its URL and the
    reason, and the next mirror is tried.  A download is only moved into place once
    its checksum matches, so a bad or partial file is never kept.

    Parameters
    ----------
    name : str
        A registered dataset (see :func:`names`).
    dest : path, optional
        Target directory, created if needed.  Default: ``$SATSIM_DATA/<name>`` or
        the user cache directory (see the module docstring).
    mirrors : sequence of str, optional
        Base URLs to try in order, each joined with the file name.  Default: the
        registered mirrors.
    progress : bool, default True
        Show a progress bar per file.
    timeout : float or None, default 900
        Overall deadline in seconds per file and mirror, on top of the 60 s
        (``READ_TIMEOUT``) a single connect or read may wait: a server that
        drips bytes cannot hold a download for longer (it may overrun by one read,
        at most ``min(60, timeout)`` s).  The default lets the largest registered
        file (26 MB) finish at about 30 kB/s.  ``None``: no deadline.

    Returns
    -------
    Path
        The directory holding the verified files.

    Raises
    ------
    DatasetError
        If every mirror fails for some file; the message lists each mirror's URL
        and reason.
    KeyboardInterrupt
        On Ctrl-C, or on SIGTERM while downloading in the main thread (raised as
        ``KeyboardInterrupt("terminated")``; the previous SIGTERM handler is
        restored afterwards).  The temporary file is removed either way.
    """
    entry = _entry(name)
    if timeout is not None:
        timeout = check_real("timeout", timeout, low=0, low_inclusive=False)
    if isinstance(mirrors, str | bytes):
        # a lone string would be iterated character by character
        raise TypeError(f"`mirrors` must be a sequence of base URLs, not a string; "
                        f"got mirrors={mirrors!r}")
    mirrors = tuple(mirrors) if mirrors is not None else entry.mirrors
    if not mirrors:
        raise ValueError(f"`mirrors` must not be empty; got mirrors={mirrors!r}")
    if dest is None:
        root = Path(os.environ["SATSIM_DATA"]) if os.environ.get("SATSIM_DATA") else _cache_dir()
        dest = root / name
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with _sigterm_as_interrupt():
        for fname, digest in entry.files.items():
            target = dest / fname
            if target.is_file() and _file_sha256(target) == digest:
                continue
            failures = []
            for i, base in enumerate(mirrors):
                try:
                    _download(base.rstrip("/") + "/" + fname, target, digest, progress,
                              timeout=timeout)
                    break
                except DatasetError as exc:
                    failures.append(str(exc))
                    if i + 1 < len(mirrors):
                        _log.warning("%s; trying the next mirror", exc)
            else:
                raise DatasetError(f"could not download {fname} from any of {len(mirrors)} "
                                   "mirror(s): " + "; ".join(failures))
    return dest


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
