"""Reading ``.npz`` archives safely (shared by satsim.data and satsim.nn.io)."""

from __future__ import annotations

import os
import zipfile

import numpy as np

__all__ = ["NPZ_ERRORS", "read_arrays"]

#: what a bad archive can raise; callers turn these into their own clear errors
NPZ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile)


def read_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file, without pickles.

    The file is opened here rather than by ``np.load``, which leaks its handle when
    the archive is bad; a plain ``.npy`` file is refused.
    """
    with open(path, "rb") as fh:
        loaded = np.load(fh, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
        with loaded as data:
            return {k: data[k] for k in data.files}
