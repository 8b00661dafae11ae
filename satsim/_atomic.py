"""One atomic write for the whole package (DESIGN.md §2: one helper per concern).

A file is written to a temporary sibling (same directory, so the final rename never
crosses a filesystem), flushed and fsynced, given mode 0644 and moved over the target
with :func:`os.replace`.  Whatever happens before the rename — an exception, a full
disk, ``KeyboardInterrupt`` — the temporary file is removed and the target keeps its
old content: readers see the old file or the new one, never a mix or an empty file.
(``kill -9`` can leave a hidden ``.NAME.*.tmp`` sibling behind; it is never read.)

:func:`replace_directory` does the same for a directory built aside (a study's
``result.json`` with its tables), so that a saved result is replaced as one unit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_write", "atomic_writer", "replace_directory"]


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, *, mode: int = 0o644) -> Iterator[IO[bytes]]:
    """Context manager yielding a binary file whose content replaces ``path`` on exit."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    tmp = None
    try:  # cleanup is armed before the temp file exists (a signal may land in between)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike, data: bytes | str, *, mode: int = 0o644) -> Path:
    """Write ``data`` (``str`` is encoded as UTF-8) to ``path`` atomically."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_writer(path, mode=mode) as fh:
        fh.write(payload)
    return Path(path)


def replace_directory(built: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Move the directory ``built`` to ``target``, replacing an existing ``target``.

    ``built`` must be a sibling of ``target``.  The old directory is first renamed
    aside, then ``built`` is renamed into place, then the old one is deleted: at every
    instant ``target`` is either the complete old directory, absent (for the moment
    between two renames; a reader treats that as "not saved"), or the complete new one.
    """
    built, target = Path(built), Path(target)
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
        old.rmdir()
        os.replace(target, old)
    try:
        os.replace(built, target)
    except BaseException:
        if old is not None and not target.exists():
            os.replace(old, target)  # put the old result back
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target
