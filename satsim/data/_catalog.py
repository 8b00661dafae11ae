"""The dataset catalogue: registered datasets, their files and SHA-256 sums, where
they are looked for (see :mod:`satsim.data`)."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
BUNDLED = Path(__file__).parents[1] / "_data" / "fashion-mnist-subset.npz"
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
SUBSET_SEED = 20261126
DEFAULT_TIMEOUT = 900.0  # s per file: the largest file (26 MB) still completes at ~30 kB/s
READ_TIMEOUT = 60.0  # s a single connect or read may wait for the server
_CHUNK = 1 << 16
_log = logging.getLogger("satsim.data")


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


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "satsim"


def _file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
