"""Reading ``.npz`` archives of untrusted origin (shared by satsim.data and satsim.nn.io).

``np.load`` trusts the file: it reads every member a caller touches in full, lets a
``.npy`` header declare any shape (a 1 kB member can ask for terabytes) and lets
``zipfile`` read a central directory of any size.  :class:`NpzArchive` reads one
member at a time and checks, before it allocates anything:

* the zip structure: every single read ``zipfile`` makes of the archive (its end
  record, central directory, local headers) is at most :data:`MAX_DIRECTORY_BYTES`,
  which bounds the number of entries it can list; members are stored or deflated
  (what ``np.savez`` writes), not encrypted, named once;
* the ``.npy`` header: version 1 or 2, at most 10,000 bytes (NumPy's own limit), a
  plain dtype (booleans, numbers, strings: no objects, no structured or subarray
  types), a shape of non-negative integers, and a declared size (shape × item size)
  that fits what is left of the archive's byte budget ``max_bytes``;
* the member's stored size against the header (header + declared data, exactly).

Data are then decompressed in chunks of :data:`_CHUNK` bytes straight into the
array's buffer, so reading a member costs its declared size and nothing more.
Every failure is an :class:`NpzError` (``NpzLimitError`` when ``max_bytes`` is the
reason) without the file name, which callers add in their own error type.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from types import TracebackType
from typing import IO, Any

import numpy as np

__all__ = ["MAX_DIRECTORY_BYTES", "NpzArchive", "NpzError", "NpzLimitError"]

#: the most bytes zipfile may read from the archive in one go (its central directory
#: is read in one read: 1 MiB lists at most ~20,000 members)
MAX_DIRECTORY_BYTES = 1 << 20
_CHUNK = 1 << 18  # bytes decompressed per read into an array's buffer
_MAX_HEADER = 10_000  # np.lib.format's default max_header_size
_KINDS = "biufcUS"  # bool, int, uint, float, complex, str, bytes


class NpzError(ValueError):
    """The archive is malformed, truncated, or not an .npz of plain arrays."""


class NpzLimitError(NpzError):
    """A member declares more than what is left of the ``max_bytes`` budget."""


class _BoundedReads:
    """A file object whose every ``read`` is at most ``limit`` bytes (else NpzError).

    ``zipfile`` sizes its reads from the archive's own records; this is where a
    crafted record asking for gigabytes is stopped, before the read allocates.
    """

    def __init__(self, fh: IO[bytes], limit: int) -> None:
        self._fh = fh
        self._limit = limit
        self._size = os.fstat(fh.fileno()).st_size

    def read(self, n: int | None = -1) -> bytes:
        want = self._size - self._fh.tell() if n is None or n < 0 else n
        if want > self._limit:
            raise NpzError(f"the zip structure asks to read {want} bytes at once, more "
                           f"than the {self._limit}-byte limit (a central directory that "
                           "large lists tens of thousands of entries)")
        return self._fh.read(want)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._fh.seek(offset, whence)

    def tell(self) -> int:
        return self._fh.tell()

    def seekable(self) -> bool:
        return True

    def close(self) -> None:  # the caller closes the real file
        pass


class NpzArchive:
    """An ``.npz`` file opened for checked reads; use as a context manager.

    Parameters
    ----------
    path : path
    max_bytes : int
        Budget for the arrays read from this archive, in bytes, summed over every
        :meth:`read`; a member whose header declares more than what is left is
        refused before anything is allocated.

    Attributes
    ----------
    names : tuple of str
        Member names, ``.npy`` removed (as ``np.load`` shows them).

    Raises
    ------
    FileNotFoundError
        No such file (left to the caller to word).
    NpzError
        Anything else that is wrong with the archive.
    """

    def __init__(self, path: str | os.PathLike, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._left = max_bytes
        self._fh = open(path, "rb")  # noqa: SIM115 -- closed by close()/__exit__
        try:
            if self._fh.read(6) == b"\x93NUMPY":
                raise NpzError("a single .npy array, not an .npz archive")
            self._fh.seek(0)
            try:
                self._zip = zipfile.ZipFile(_BoundedReads(self._fh, MAX_DIRECTORY_BYTES))
            except NpzError:
                raise
            except Exception as exc:  # BadZipFile mostly; zipfile parses untrusted bytes
                raise NpzError(f"not a zip archive ({exc})") from None
            self._members: dict[str, zipfile.ZipInfo] = {}
            for info in self._zip.infolist():
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                if name in self._members:
                    raise NpzError(f"member {name!r} appears more than once")
                self._members[name] = info
        except BaseException:
            self._fh.close()
            raise
        self.names = tuple(self._members)

    def __enter__(self) -> NpzArchive:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()
        self._fh.close()

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = self._members.get(name)
        if info is None:
            raise NpzError(f"no member {name!r}")
        if not info.filename.endswith(".npy"):
            raise NpzError(f"member {info.filename!r} is not a .npy array")
        if info.flag_bits & 0x1:
            raise NpzError(f"member {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise NpzError(f"member {name!r} uses zip compression method "
                           f"{info.compress_type}; .npz archives are stored or deflated")
        return info

    def _open_header(self, name: str, *, charge: bool
                     ) -> tuple[IO[bytes], tuple[int, ...], bool, np.dtype]:
        info = self._info(name)
        try:
            fp = self._zip.open(info)
        except Exception as exc:  # a bad local header, an overlapping entry, ...
            raise NpzError(f"member {name!r}: unreadable ({exc})") from None
        try:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(
                    fp, max_header_size=_MAX_HEADER)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(
                    fp, max_header_size=_MAX_HEADER)
            else:
                raise NpzError(f"member {name!r} has .npy format version {version}; "
                               "versions 1.0 and 2.0 are read")
            if dtype.hasobject:
                raise NpzError(f"member {name!r} holds Python objects (dtype {dtype}); "
                               "only plain arrays are read")
            if dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in _KINDS:
                raise NpzError(f"member {name!r} has dtype {dtype}; only booleans, numbers "
                               "and strings are read")
            if any(d < 0 for d in shape):
                raise NpzError(f"member {name!r} has a negative dimension in shape {shape}")
            declared = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
            if charge and declared > self._left:
                spent = self.max_bytes - self._left
                already = f", {spent} already read" if spent else ""
                raise NpzLimitError(
                    f"member {name!r} declares shape {shape} of {dtype} ({declared} bytes), "
                    f"more than the max_bytes={self.max_bytes} limit{already}")
            if info.file_size != fp.tell() + declared:
                raise NpzError(f"member {name!r} stores {info.file_size - fp.tell()} data "
                               f"bytes but its header (shape {shape}, dtype {dtype}) declares "
                               f"{declared} (truncated or corrupted)")
        except BaseException as exc:
            fp.close()
            if isinstance(exc, NpzError) or not isinstance(exc, Exception):
                raise
            # numpy's header parser and zipfile's decompression, on untrusted bytes
            raise NpzError(f"member {name!r}: bad .npy header ({exc})") from None
        return fp, shape, fortran, dtype

    def header(self, name: str) -> tuple[tuple[int, ...], np.dtype]:
        """``(shape, dtype)`` of member ``name``, read from its header only.

        The checks of :meth:`read` apply except the budget, which only :meth:`read`
        charges (so a caller can compare the header with what it expects first).
        """
        fp, shape, _, dtype = self._open_header(name, charge=False)
        fp.close()
        return shape, dtype

    def read(self, name: str) -> np.ndarray:
        """Member ``name`` as an array (writable), charged to the ``max_bytes`` budget."""
        fp, shape, fortran, dtype = self._open_header(name, charge=True)
        with fp:
            declared = math.prod(shape) * dtype.itemsize  # within the budget: checked
            self._left -= declared
            if declared == 0:
                return np.empty(shape, dtype=dtype)
            buf = np.empty(declared, dtype=np.uint8)
            view = buf.data
            got = 0
            try:
                while got < declared:
                    n = fp.readinto(view[got: got + _CHUNK])  # type: ignore[attr-defined]
                    if not n:
                        raise NpzError(f"member {name!r} ends after {got} of its {declared} "
                                       "data bytes (truncated)")
                    got += n
                if fp.read(1):
                    raise NpzError(f"member {name!r} has more data than its header declares")
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
                raise NpzError(f"member {name!r}: corrupt data ({exc})") from None
        array: Any = buf.view(dtype).reshape(shape, order="F" if fortran else "C")
        return array
