"""Readers of MNIST-format files that never trust the file (IDX, Nielsen's pickle, npz).

Every reader validates headers, shapes, dtypes and declared sizes against
:data:`MAX_BYTES` (or the ``max_bytes`` it is given) before allocating, streams
decompression with a size cap, and raises :class:`DatasetError` naming the file.
The public names are re-exported by :mod:`satsim.data`.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import math
import os
import pickle
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, NoReturn

import numpy as np

from satsim._validation import check_int
from satsim.data._npz import NpzArchive, NpzError, NpzLimitError

#: the most bytes a reader takes from one file: an IDX payload, a decompressed pickle,
#: the arrays read from an .npz (256 MiB: 5x MNIST's largest IDX file, 47 MB, and above
#: Nielsen's 220 MB pickle); every reader and load() take ``max_bytes`` to raise it
MAX_BYTES = 256 * 2**20
#: the most opcodes the pickle reader executes (Nielsen's pickle needs a few hundred)
MAX_PICKLE_OPS = 100_000


class DatasetError(ValueError):
    """A data file is missing, malformed or fails its checksum."""


# Every reader treats its file as untrusted: headers, shapes, dtypes and declared sizes
# are checked against ``max_bytes`` before anything is allocated, decompression is
# streamed and stops at the declared size, and every failure is a DatasetError that
# names the file.
_IDX_TYPES: dict[int, Any] = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4",
                              0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"
_READ_CHUNK = 1 << 20  # bytes decompressed per read into an array's buffer


def _where(path: Path) -> str:
    return repr(str(path))


_LIMIT_HINT = (f"(default satsim.data.MAX_BYTES={MAX_BYTES}; pass a larger max_bytes to "
               "read it)")


def _over_limit(what: str, max_bytes: int) -> str:
    return f"{what}, more than the max_bytes={max_bytes} limit {_LIMIT_HINT}"


@contextlib.contextmanager
def _decompressed(path: Path) -> Iterator[tuple[IO[bytes], int | None]]:
    """The file's bytes, gunzipped on the fly if it starts with the gzip magic.

    Yields ``(stream, size)``: ``size`` is the file size for a raw file and None for
    gzip (unknown until decompressed).  gzip errors raised while the block reads
    (corrupt data, a truncated stream, a bad CRC, trailing garbage) become a
    DatasetError naming the file.
    """
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise DatasetError(f"{_where(path)}: file not found") from None
    except OSError as exc:  # a directory, no permission, ...
        raise DatasetError(f"{_where(path)}: cannot be read ({exc.strerror or exc})") from None
    with fh:
        if fh.read(2) != _GZIP_MAGIC:
            fh.seek(0)
            yield fh, os.fstat(fh.fileno()).st_size
            return
        fh.seek(0)
        try:
            with gzip.GzipFile(fileobj=fh, mode="rb") as gz:
                yield gz, None  # type: ignore[misc]
        except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
            raise _gzip_error(path, exc) from None


def _gzip_error(path: Path, exc: BaseException) -> DatasetError:
    return DatasetError(f"{_where(path)}: corrupt or truncated gzip data ({exc})")


def _read_exactly(fh: IO[bytes], n: int) -> bytes:
    """Up to ``n`` bytes (fewer only at the end of the stream); ``n`` is small here."""
    parts, got = [], 0
    while got < n:
        part = fh.read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _read_into(fh: IO[bytes], buf: np.ndarray) -> int:
    """Fill the uint8 buffer from the stream in chunks; the number of bytes read."""
    view = buf.data
    got = 0
    while got < len(view):
        n = fh.readinto(view[got: got + _READ_CHUNK])  # type: ignore[attr-defined]
        if not n:
            break
        got += n
    return got


def _read_idx(path: Path, max_bytes: int, *, digest: bool = False
              ) -> tuple[np.ndarray, str | None]:
    """The IDX array, and the SHA-256 of the decompressed file if ``digest``."""
    with _decompressed(path) as (fh, size):
        head = _read_exactly(fh, 4)
        if len(head) < 4 or head[0] != 0 or head[1] != 0:
            raise DatasetError(f"{_where(path)}: not an IDX file (bad magic number "
                               f"{head.hex() if head else 'empty'})")
        code, ndim = head[2], head[3]
        if code not in _IDX_TYPES:
            raise DatasetError(f"{_where(path)}: unknown IDX type code 0x{code:02x}")
        dims = _read_exactly(fh, 4 * ndim)
        if ndim == 0 or len(dims) < 4 * ndim:
            raise DatasetError(f"{_where(path)}: truncated IDX header")
        shape = tuple(int.from_bytes(dims[4 * i: 4 * i + 4], "big") for i in range(ndim))
        dtype = np.dtype(_IDX_TYPES[code])
        expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
        if expected > max_bytes:
            raise DatasetError(f"{_where(path)}: " + _over_limit(
                f"header declares shape {shape} of {dtype}, {expected} bytes", max_bytes))
        needs = f"header {shape} needs {expected}"
        if size is not None and size - 4 - 4 * ndim != expected:
            raise DatasetError(f"{_where(path)}: payload has {size - 4 - 4 * ndim} bytes, "
                               f"{needs} (truncated or corrupted)")
        buf = np.empty(expected, dtype=np.uint8)
        got = _read_into(fh, buf)
        if got != expected:
            raise DatasetError(f"{_where(path)}: payload has {got} bytes, {needs} "
                               "(truncated or corrupted)")
        # one more byte: a stream longer than declared is corrupt (and reading to the
        # end of the gzip member checks its CRC)
        if fh.read(1):
            raise DatasetError(f"{_where(path)}: payload is longer than the {expected} "
                               f"bytes its header {shape} declares (corrupted)")
    sha = None
    if digest:
        h = hashlib.sha256(head)
        h.update(dims)
        h.update(buf.data)
        sha = h.hexdigest()
    return buf.view(dtype).reshape(shape), sha


def read_idx(path: str | os.PathLike, *, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Read an IDX file (gzip or raw) into an array, validating its header first.

    Parameters
    ----------
    path : str or os.PathLike
        The IDX file, raw or gzip-compressed (recognised by its magic bytes).
    max_bytes : int, default :data:`MAX_BYTES`
        The largest payload (shape × item size) accepted.  It is checked against
        the header before anything is allocated; decompression is streamed and
        stops at the declared size.

    Returns
    -------
    numpy.ndarray
        The array with the header's shape and dtype (uint8 for MNIST's images and
        labels; big-endian types keep their byte order).

    Raises
    ------
    DatasetError
        Bad magic number, unknown type code, a header declaring more than
        ``max_bytes``, a payload shorter or longer than the dimension sizes say
        (truncated or corrupted), or corrupt gzip data.  The message names the file.
    ValueError
        ``max_bytes`` is not a positive integer.
    """
    max_bytes = check_int("max_bytes", max_bytes, minimum=1)
    return _read_idx(Path(path), max_bytes)[0]


class _Capped:
    """The decompressed pickle stream, refusing to deliver more than ``2 * max_bytes``.

    Twice: a protocol-2 pickle written by Python 3 stores bytes as UTF-8 text, up
    to two stream bytes per data byte.  ``made`` counts the bytes the unpickler's
    ``_codecs.encode`` turns that text into, at most ``max_bytes``.  gzip errors
    become DatasetErrors here, so that they are not mistaken for pickle errors.
    """

    def __init__(self, fh: IO[bytes], max_bytes: int, path: Path) -> None:
        self._fh = fh
        self.max_bytes = max_bytes
        self.limit = 2 * max_bytes
        self.used = 0
        self.made = 0
        self._path = path

    def charge(self, n: int) -> None:
        if self.used + n > self.limit:
            raise DatasetError(
                f"{_where(self._path)}: the decompressed pickle needs at least "
                f"{self.used + n} bytes, more than twice the max_bytes={self.max_bytes} "
                f"limit {_LIMIT_HINT}")
        self.used += n

    def make(self, n: int) -> None:
        if self.made + n > self.max_bytes:
            raise DatasetError(f"{_where(self._path)}: " + _over_limit(
                f"the pickle's byte strings take at least {self.made + n} bytes",
                self.max_bytes))
        self.made += n

    def _read(self, read: Callable[[int], bytes], n: int) -> bytes:
        try:
            return read(n)
        except (OSError, EOFError, zlib.error) as exc:
            raise _gzip_error(self._path, exc) from None

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            data = self._read(self._fh.read, self.limit - self.used + 1)
            self.charge(len(data))
            return data
        self.charge(n)  # before reading: a huge length field never reaches read()
        data = self._read(self._fh.read, n)
        self.used -= n - len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        line = self._read(self._fh.readline, self.limit - self.used + 1)
        self.charge(len(line))
        return line


class _Callable:
    """What the pickle's GLOBAL names resolve to: a checked stand-in for the real one.

    Slots and a refusing ``__setstate__``: a BUILD opcode aimed at it cannot set
    attributes (as it could on a function object, altering it for the process).
    """

    __slots__ = ("_fn", "name")

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        self.name = name
        self._fn = fn

    def __call__(self, *args: Any) -> Any:
        return self._fn(*args)

    def __setstate__(self, state: Any) -> None:
        raise pickle.UnpicklingError(f"refusing to set state on {self.name}")


class _Dtype:
    """A NumPy dtype under construction (``numpy.dtype(str, align, copy)`` + BUILD)."""

    __slots__ = ("dtype",)

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype

    def __setstate__(self, state: Any) -> None:
        # (version, byte order, subarray, names, fields, elsize, alignment, flags[, meta])
        if not (isinstance(state, tuple) and len(state) in (8, 9)
                and state[2] is None and state[3] is None and state[4] is None):
            raise pickle.UnpicklingError("unexpected dtype state (only plain numeric "
                                         "dtypes are accepted)")
        order = state[1].decode("latin1") if isinstance(state[1], bytes) else state[1]
        if order not in ("<", ">", "|", "="):
            raise pickle.UnpicklingError(f"unexpected dtype byte order {order!r}")
        if order in ("<", ">"):
            self.dtype = self.dtype.newbyteorder("<" if order == "<" else ">")


class _Array:
    """A NumPy array under construction (``_reconstruct`` + BUILD, or ``_frombuffer``)."""

    __slots__ = ("_max_bytes", "array")

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self.array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        # ndarray.__reduce__'s state: ([version,] shape, dtype, is_fortran, data)
        if not (isinstance(state, tuple) and len(state) in (4, 5)):
            raise pickle.UnpicklingError("unexpected ndarray state")
        shape, dtype, fortran, data = state[-4:]
        if not isinstance(fortran, bool):
            raise pickle.UnpicklingError("unexpected ndarray state (Fortran flag)")
        self.array = _build_array(data, dtype, shape, "F" if fortran else "C",
                                  self._max_bytes)


def _build_array(data: Any, dtype: Any, shape: Any, order: str, max_bytes: int) -> np.ndarray:
    """An array viewing ``data`` (no copy), after every check the pickle could fail."""
    if not isinstance(dtype, _Dtype):
        raise pickle.UnpicklingError("array dtype is not a numpy.dtype")
    if not (isinstance(shape, tuple) and len(shape) <= 32
            and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                    for d in shape)):
        raise pickle.UnpicklingError("array shape must be a tuple of non-negative integers")
    declared = math.prod(shape) * dtype.dtype.itemsize
    if declared > max_bytes:
        raise _PickleLimit(f"an array declares shape {shape} of {dtype.dtype}, "
                           f"{declared} bytes")
    if isinstance(data, str):  # Python 2 str data, read as text
        data = data.encode("latin1")
    if not isinstance(data, bytes | bytearray):
        raise pickle.UnpicklingError("array data must be bytes (object arrays are refused)")
    if len(data) != declared:
        raise pickle.UnpicklingError(f"array data has {len(data)} bytes; shape {shape} of "
                                     f"{dtype.dtype} needs {declared}")
    return np.frombuffer(data, dtype=dtype.dtype).reshape(shape, order=order)  # type: ignore[call-overload]


class _PickleLimit(Exception):
    """A declared size beyond ``max_bytes`` (reported by the reader as such)."""


# Opcodes the reader does not execute: persistent ids, the class-instantiating ones,
# the copyreg extension registry and out-of-band buffers (none occur in an array pickle)
_REFUSED_OPCODES = frozenset(
    op[0] for op in (pickle.PERSID, pickle.BINPERSID, pickle.INST, pickle.OBJ, pickle.NEWOBJ,
                     pickle.NEWOBJ_EX, pickle.EXT1, pickle.EXT2, pickle.EXT4,
                     pickle.NEXT_BUFFER, pickle.READONLY_BUFFER))


class _Dispatch(dict):
    def __missing__(self, code: int) -> NoReturn:
        raise pickle.UnpicklingError(f"pickle opcode {bytes([code])!r} is not accepted")


def _counted(op: Callable[[Any], None]) -> Callable[[Any], None]:
    def run(self: _ArrayUnpickler) -> None:
        self.ops_left -= 1
        if self.ops_left < 0:
            raise pickle.UnpicklingError(
                f"more than {MAX_PICKLE_OPS} pickle opcodes (an array pickle needs a few "
                "hundred)")
        op(self)
    return run


class _ArrayUnpickler(pickle._Unpickler):
    """Unpickler for Nielsen's mnist.pkl.gz: NumPy arrays, tuples and lists only.

    Built on the pure-Python unpickler, whose memo is a dict: the C unpickler sizes
    its memo array from the pickle's own index (``LONG_BINPUT 0xFFFFFFFF`` asks for
    64 GiB).  Each opcode is counted (at most :data:`MAX_PICKLE_OPS`), so a pickle
    cannot build more than that many objects, and the names it may call are
    checked stand-ins: ``numpy.ndarray`` itself may not be called (it allocates a
    shape of the pickle's choosing); ``_reconstruct`` must be NumPy's own empty
    placeholder; dtypes are plain booleans or numbers; array data must be bytes of
    exactly the declared size, viewed without a copy.
    """

    dispatch = _Dispatch({code: _counted(op) for code, op in pickle._Unpickler.dispatch.items()
                          if code not in _REFUSED_OPCODES})

    def __init__(self, stream: _Capped) -> None:
        # encoding="bytes": Python 2 str (array data, dtype codes) arrive as bytes
        super().__init__(stream, encoding="bytes")
        self.stream = stream
        self.ops_left = MAX_PICKLE_OPS

    def find_class(self, module: str, name: str) -> _Callable:
        calls: dict[tuple[str, str], Callable[..., Any]] = {
            ("numpy.core.multiarray", "_reconstruct"): self._reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): self._reconstruct,
            ("numpy.core.numeric", "_frombuffer"): self._frombuffer,
            ("numpy._core.numeric", "_frombuffer"): self._frombuffer,
            ("numpy", "ndarray"): self._ndarray,
            ("numpy", "dtype"): self._dtype,
            ("_codecs", "encode"): self._encode,  # bytes in a protocol-2 pickle
        }
        fn = calls.get((module, name))
        if fn is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only NumPy arrays)")
        return _Callable(f"{module}.{name}", fn)

    @staticmethod
    def _ndarray(*args: Any) -> NoReturn:
        raise pickle.UnpicklingError("refusing to call numpy.ndarray(...) (it allocates a "
                                     "shape the pickle chooses; arrays are rebuilt from data)")

    def _reconstruct(self, subtype: Any, shape: Any, typecode: Any) -> _Array:
        # what ndarray.__reduce__ writes: _reconstruct(ndarray, (0,), b'b'), then BUILD
        if not (isinstance(subtype, _Callable) and subtype.name == "numpy.ndarray"
                and shape == (0,) and typecode in (b"b", "b")):
            raise pickle.UnpicklingError("refusing _reconstruct with arguments other than "
                                         "NumPy's own (ndarray, (0,), b'b')")
        return _Array(self.stream.max_bytes)

    def _frombuffer(self, buf: Any, dtype: Any, shape: Any, order: Any,
                    axis_order: Any = None) -> _Array:
        if order not in ("C", "F") or axis_order is not None:
            raise pickle.UnpicklingError(f"refusing _frombuffer with order {order!r:.40}")
        out = _Array(self.stream.max_bytes)
        out.array = _build_array(buf, dtype, shape, order, self.stream.max_bytes)
        return out

    @staticmethod
    def _dtype(obj: Any, align: Any = False, copy: Any = False) -> _Dtype:
        code = obj.decode("latin1") if isinstance(obj, bytes) else obj
        dtype = None
        if isinstance(code, str) and len(code) <= 4:
            with contextlib.suppress(TypeError, ValueError):
                dtype = np.dtype(code)
        if dtype is None or dtype.kind not in "biuf":
            raise pickle.UnpicklingError(f"refusing dtype {obj!r:.40} (only booleans and "
                                         "numbers)")
        return _Dtype(dtype)

    def _encode(self, obj: Any, encoding: Any = "utf-8") -> bytes:
        if not (isinstance(obj, str) and encoding in ("latin1", "latin-1")):
            raise pickle.UnpicklingError("refusing _codecs.encode other than str to latin1")
        self.stream.make(len(obj))
        return obj.encode("latin1")


def _shape_of(obj: Any) -> str:
    """A short description of a pickled object (never its repr: it may be huge)."""
    if isinstance(obj, _Array):
        return "an array" if obj.array is not None else "an unfinished array"
    if isinstance(obj, tuple | list):
        return f"a {type(obj).__name__} of {len(obj)}"
    return f"a {type(obj).__name__}"


def _pickle_arrays(path: Path, obj: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (images, labels) arrays of the three parts, or a DatasetError saying why not."""
    if not (isinstance(obj, tuple | list) and len(obj) == 3):
        raise DatasetError(f"{_where(path)}: expected a (train, validation, test) tuple of "
                           f"(images, labels) pairs; got {_shape_of(obj)}")
    parts = []
    for part, item in zip(("train", "validation", "test"), obj, strict=True):
        if not (isinstance(item, tuple | list) and len(item) == 2
                and all(isinstance(a, _Array) and a.array is not None for a in item)):
            raise DatasetError(f"{_where(path)}: the {part} part must be an (images, labels) "
                               f"pair of NumPy arrays; got {_shape_of(item)}"
                               + (f" holding {', '.join(_shape_of(a) for a in item)}"
                                  if isinstance(item, tuple | list) and len(item) <= 3 else ""))
        parts.append((item[0].array, item[1].array))
    return parts


def read_nielsen_pickle(path: str | os.PathLike, *, max_bytes: int = MAX_BYTES):
    """Read Nielsen's ``mnist.pkl.gz``: ``(train, validation, test)``, each ``(X, y)``.

    The pickle is read by a restricted unpickler that rebuilds NumPy arrays and
    nothing else (see the module docstring): no arbitrary objects, no callables
    beyond NumPy's array reconstruction, at most :data:`MAX_PICKLE_OPS` opcodes.
    No array may declare more than ``max_bytes`` (default :data:`MAX_BYTES`), the
    decompressed stream may be at most twice that (Python 3's protocol 2 writes
    bytes as UTF-8 text), and the byte strings decoded from such text at most
    ``max_bytes`` together.  Nielsen's file is 220 MB decompressed (its largest
    array 157 MB); re-saved by Python 3 with protocol 2 it is 293 MB.

    Parameters
    ----------
    path : str or os.PathLike
        The pickle, gzip-compressed or raw.
    max_bytes : int, default :data:`MAX_BYTES`
        The largest array accepted (and the cap on decoded byte strings; twice it on
        the decompressed stream).

    Returns
    -------
    tuple of three (X, y) pairs
        ``(train, validation, test)``; each X is float64 of shape ``(n, 784)`` with
        values in [0, 1] (uint8 pixels divided by 255), each y int64 labels in 0..9.

    Raises
    ------
    DatasetError
        Naming the file: not gzip/pickle data, something other than arrays, a
        size beyond ``max_bytes``, or not ``((X, y), (X, y), (X, y))`` with 784-pixel
        images, one integer label in 0..9 per image and pixels in [0, 1] or uint8.
    ValueError
        ``max_bytes`` is not a positive integer.
    """
    path = Path(path)
    max_bytes = check_int("max_bytes", max_bytes, minimum=1)
    with _decompressed(path) as (fh, _):
        try:
            obj = _ArrayUnpickler(_Capped(fh, max_bytes, path)).load()
        except DatasetError:  # limits and gzip errors, already worded
            raise
        except _PickleLimit as exc:
            raise DatasetError(f"{_where(path)}: " + _over_limit(str(exc), max_bytes)) from None
        except Exception as exc:
            # whatever a malformed opcode stream makes the pure-Python unpickler raise
            # (UnpicklingError, EOFError, IndexError on an empty stack, TypeError from
            # REDUCE on a non-callable, BufferError, struct.error, ...): the file is bad
            raise DatasetError(f"{_where(path)}: not a readable mnist.pkl.gz "
                               f"({type(exc).__name__}: {exc})") from None
    return tuple(_check_split(path, part, X, y)
                 for part, (X, y) in zip(("train", "validation", "test"),
                                          _pickle_arrays(path, obj), strict=True))


def _check_split(path, name, X, y, n_classes=10):
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 3:
        X = X.reshape(X.shape[0], -1)
    if X.ndim != 2 or X.shape[1] != 784:
        raise DatasetError(f"{str(path)!r}: {name} images have shape {X.shape}, expected (n, 784)")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise DatasetError(f"{str(path)!r}: {name} has {X.shape[0]} images but labels of "
                           f"shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise DatasetError(f"{str(path)!r}: {name} labels have dtype {y.dtype}, expected integers")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise DatasetError(f"{str(path)!r}: {name} labels outside [0, {n_classes - 1}] "
                           f"(found {y.min()}..{y.max()})")
    if np.issubdtype(X.dtype, np.floating):
        if not np.all(np.isfinite(X)):
            raise DatasetError(f"{str(path)!r}: {name} images contain NaN or inf")
        if X.size and (X.min() < 0 or X.max() > 1):
            raise DatasetError(f"{str(path)!r}: float {name} images must lie in [0, 1]")
        Xf = X.astype(np.float64)
    elif X.dtype == np.uint8:
        Xf = X / 255.0
    else:
        raise DatasetError(f"{str(path)!r}: {name} images have dtype {X.dtype}, "
                           "expected uint8 or float in [0, 1]")
    return Xf, y.astype(np.int64)


_NPZ_SPLITS = (("train", "x_train", "y_train"), ("validation", "x_val", "y_val"),
               ("test", "x_test", "y_test"))


def read_npz(path: str | os.PathLike, *, max_bytes: int = MAX_BYTES):
    """Read ``x_train, y_train, x_test, y_test`` (and ``x_val, y_val``) from an .npz.

    Only those members are read (others, such as the bundled subset's indices, are
    skipped unread), each checked by its ``.npy`` header before it is decompressed:
    plain numeric dtypes, and at most ``max_bytes`` for the six together (default
    :data:`MAX_BYTES`).  See :mod:`satsim.data._npz`.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` archive.
    max_bytes : int, default :data:`MAX_BYTES`
        The most bytes the arrays read may declare together.

    Returns
    -------
    tuple
        ``(train, validation, test)``, each an ``(X, y)`` pair — X float64 of shape
        ``(n, 784)`` in [0, 1], y int64 labels in 0..9 — and ``validation`` None when
        the archive has no ``x_val``/``y_val``.

    Raises
    ------
    DatasetError
        Naming the file: not a readable .npz, missing arrays, ``x_val`` without
        ``y_val`` (or the reverse), a declared size beyond ``max_bytes``, or arrays
        that are not MNIST-format images and labels.
    ValueError
        ``max_bytes`` is not a positive integer.
    """
    path = Path(path)
    max_bytes = check_int("max_bytes", max_bytes, minimum=1)
    try:
        with NpzArchive(path, max_bytes=max_bytes) as npz:
            if ("x_val" in npz.names) != ("y_val" in npz.names):
                raise DatasetError(f"{_where(path)}: x_val and y_val must come together")
            missing = {"x_train", "y_train", "x_test", "y_test"} - set(npz.names)
            if missing:
                raise DatasetError(f"{_where(path)}: missing arrays {sorted(missing)}")
            arrays = {key: npz.read(key) for _, *keys in _NPZ_SPLITS for key in keys
                      if key in npz.names}
    except FileNotFoundError:
        raise DatasetError(f"{_where(path)}: file not found") from None
    except NpzLimitError as exc:
        raise DatasetError(f"{_where(path)}: {exc} {_LIMIT_HINT}") from None
    except NpzError as exc:
        raise DatasetError(f"{_where(path)}: not a readable .npz ({exc})") from None
    train = _check_split(path, "train", arrays["x_train"], arrays["y_train"])
    test = _check_split(path, "test", arrays["x_test"], arrays["y_test"])
    val = None
    if "x_val" in arrays:
        val = _check_split(path, "validation", arrays["x_val"], arrays["y_val"])
    return train, val, test


