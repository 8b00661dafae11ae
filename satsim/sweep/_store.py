"""The SQLite result store of :mod:`satsim.sweep` (one database per sweep directory).

See :mod:`satsim.sweep` for what it guarantees: one transaction per cell, a directory
lock, the bound root seed, satsim version and grid, and read-only readers.
"""


from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, so no protection against two runs
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from satsim.sweep import Grid

#: extra PRAGMAs run on every writing store connection (tests use max_page_count to fill
#: the disk)
_PRAGMAS: list[str] = []

FORMAT = "satsim.sweep"
FORMAT_VERSION = 1
DB_NAME = "sweep.sqlite"
LOCK_NAME = "sweep.lock"


class SweepError(RuntimeError):
    """A sweep cannot start or its store cannot be used."""


@dataclasses.dataclass(frozen=True)
class Cell:
    """One point of a sweep: its parameters, stable key and optional size
    (:class:`satsim.sweep.Cell`; defined here, below the engine and the executors that
    both use it)."""

    params: dict
    key: str
    size: float | None = None

    def seed_sequence(self, root_seed: int) -> np.random.SeedSequence:
        words = (int(self.key[:8], 16), int(self.key[8:], 16))
        return np.random.SeedSequence(root_seed, spawn_key=words)


class _DirectoryLock:
    """An exclusive ``flock`` on ``DIR/sweep.lock`` holding the owner's PID.

    ``flock`` rather than a PID file alone: the kernel releases it when the process
    ends, however it ends (``kill -9`` included), so there is never a stale lock to
    clean up; the PID in the file is only there to name the holder in the error.  The
    descriptor is close-on-exec and never passed to workers, so a killed coordinator's
    lock is free at once even while its workers are still exiting.
    """

    def __init__(self, directory: Path):
        self.path = directory / LOCK_NAME
        self.fd: int | None = None
        if fcntl is None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SweepError(f"cannot create the lock file {str(self.path)!r}: "
                             f"{exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(fd)
            os.close(fd)
            raise SweepError(
                f"sweep directory {str(directory)!r} is in use by PID {holder} (another "
                f"satsim sweep holds {str(self.path)!r}); wait for it to finish or stop it, "
                "or use another directory") from None
        except OSError as exc:  # a filesystem without locks (some network mounts)
            os.close(fd)
            raise SweepError(f"cannot lock {str(self.path)!r}: {exc.strerror}; use a local "
                             "directory for the sweep") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd

    @staticmethod
    def _holder(fd: int) -> str:
        # the holder writes its PID just after taking the lock: give it a moment
        for _ in range(50):
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            if text:
                return text
            time.sleep(0.01)
        return "unknown"

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # the kernel drops the flock with the last descriptor
            self.fd = None


def _no_sweep(where: str, why: str) -> SweepError:
    return SweepError(f"no sweep recorded yet in {where} ({why})")


class Store:
    """The SQLite result store of one output directory.

    Parameters
    ----------
    directory : path or None
        The output directory; ``None`` keeps the store in memory (nothing on disk).
    create : bool, default True
        ``True`` opens the store for writing: the directory and the database are
        created if needed and the directory's lock is held until :meth:`close` (a
        second writer gets a :class:`SweepError` naming the holder's PID).  ``False``
        opens an existing store read-only: nothing is created or modified, and a
        missing, empty or table-less database is a :class:`SweepError`.
    """

    def __init__(self, directory: str | os.PathLike | None, *, create: bool = True):
        self.dir = None if directory is None else Path(directory)
        self.path = None if self.dir is None else self.dir / DB_NAME
        self.readonly = not create
        self._lock: _DirectoryLock | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._conn: sqlite3.Connection | None = None
        if self.path is None:
            if not create:
                raise SweepError("an in-memory store can only be created, not reopened")
            self._conn = sqlite3.connect(":memory:", isolation_level=None)
            self._create()
            return
        if create:
            self._open_for_writing()
        else:
            self._open_readonly()

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection (a closed store has none)."""
        if self._conn is None:
            raise SweepError(f"the store {self._where} is closed")
        return self._conn

    @property
    def _where(self) -> str:
        return "memory" if self.path is None else repr(str(self.path))

    # ------------------------------------------------------------------ writing
    def _open_for_writing(self) -> None:
        assert self.dir is not None and self.path is not None  # on disk (not user input)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SweepError(f"cannot create sweep directory {str(self.dir)!r}: "
                             f"{exc.strerror}") from None
        if not os.access(self.dir, os.W_OK):
            raise SweepError(f"sweep directory {str(self.dir)!r} is not writable")
        # the lock comes before the database exists: concurrent first runs would
        # otherwise race to create its tables
        self._lock = _DirectoryLock(self.dir)
        try:
            exists = self.path.exists() and self.path.stat().st_size > 0
            self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            for pragma in _PRAGMAS:
                self.conn.execute(pragma)
            if exists and self._tables():
                self._check()
            else:  # new, or created but killed before its first commit
                self._create()
        except BaseException as exc:
            raise self._failed_open(exc) from None

    def _tables(self) -> int:
        return self.conn.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]

    def _create(self) -> None:
        with self._tx():
            self.conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self.conn.execute("CREATE TABLE grid (key TEXT PRIMARY KEY, params TEXT NOT NULL, "
                              "size REAL)")
            self.conn.execute(
                "CREATE TABLE cells (key TEXT PRIMARY KEY, params TEXT NOT NULL, seed TEXT, "
                "status TEXT NOT NULL CHECK (status IN ('done', 'failed')), result TEXT, "
                "error TEXT, attempts INTEGER NOT NULL, started REAL, finished REAL, "
                "duration REAL, versions TEXT)")
            self.conn.executemany("INSERT INTO meta VALUES (?, ?)",
                                  [("format", FORMAT), ("format_version", str(FORMAT_VERSION))])

    # ------------------------------------------------------------------ reading
    def _open_readonly(self) -> None:
        assert self.dir is not None and self.path is not None  # on disk (not user input)
        where = repr(str(self.dir))
        if not self.path.is_file():
            raise SweepError(f"no sweep database in {where}")
        try:
            with open(self.path, "rb") as fh:
                header = fh.read(100)
        except OSError as exc:
            raise SweepError(f"cannot read {self._where}: {exc.strerror}") from None
        if not header:
            raise _no_sweep(where, f"{DB_NAME} is empty")
        if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
            raise SweepError(f"{self._where} is not a usable sweep database "
                             "(corrupted or foreign file)")
        wal = Path(f"{self.path}-wal")
        base = self.path.resolve().as_uri()
        try:
            if header[18] == 2 and not wal.exists():
                # a WAL-mode file with no -wal beside it holds every committed cell, and
                # opening it the normal way would create -wal and -shm files: a read
                # must not write, so read the file as it stands
                self._conn = self._connect(f"{base}?immutable=1")
            else:
                try:
                    self._conn = self._connect(f"{base}?mode=ro")
                except sqlite3.OperationalError:
                    # a read-only directory cannot hold the -shm file SQLite needs to read
                    # a WAL database; the cells committed in the -wal are read from a
                    # private copy, otherwise the file is read as it stands
                    if wal.exists() and wal.stat().st_size > 0:
                        self._tmp = tempfile.TemporaryDirectory(prefix="satsim-sweep-")
                        copy = Path(self._tmp.name) / DB_NAME
                        shutil.copyfile(self.path, copy)
                        shutil.copyfile(wal, f"{copy}-wal")
                        self._conn = self._connect(f"{copy.as_uri()}?mode=ro")
                    else:
                        self._conn = self._connect(f"{base}?immutable=1")
            if not self._tables():
                raise _no_sweep(where, f"{DB_NAME} has no tables")
            self._check()
        except BaseException as exc:
            raise self._failed_open(exc) from None

    def _failed_open(self, exc: BaseException) -> BaseException:
        """Close what an open attempt left and say why: a database error means a
        corrupted or foreign file, except a full disk (said so) and other operating
        errors (locked, read-only); anything else (SweepError, Ctrl-C) passes through."""
        self.close()
        if isinstance(exc, sqlite3.DatabaseError):
            code = getattr(exc, "sqlite_errorcode", None)
            if code == sqlite3.SQLITE_FULL or "disk is full" in str(exc):
                return SweepError(f"the disk is full: cannot write {self._where} ({exc}); "
                                  "free some space and rerun (committed cells are kept)")
            if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or not isinstance(
                    exc, sqlite3.OperationalError):
                return SweepError(f"{self._where} is not a usable sweep database "
                                  f"(corrupted or foreign file): {exc}")
            return SweepError(f"cannot open {self._where}: {exc}")
        return exc

    @staticmethod
    def _connect(uri: str) -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # open it now
        except BaseException:
            conn.close()
            raise
        return conn

    def _check(self) -> None:
        try:
            meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise SweepError(f"{self._where} is not a satsim sweep database "
                             f"(no meta table: {exc})") from None
        if meta.get("format") != FORMAT:
            raise SweepError(f"{self._where} is not a satsim sweep database "
                             f"(format {meta.get('format')!r})")
        if meta.get("format_version") != str(FORMAT_VERSION):
            raise SweepError(f"{self._where} has format version "
                             f"{meta.get('format_version')}; this satsim reads {FORMAT_VERSION}")
        check = self.conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise SweepError(f"{self._where} failed SQLite's integrity check: {check}")

    class _Tx:
        def __init__(self, conn):
            self.conn = conn

        def __enter__(self):
            self.conn.execute("BEGIN IMMEDIATE")

        def __exit__(self, exc_type, exc, tb):
            if exc_type is None:
                self.conn.execute("COMMIT")
            elif self.conn.in_transaction:  # SQLite may already have rolled back (disk full)
                self.conn.execute("ROLLBACK")
            return False

    def _tx(self):
        if self.readonly:
            raise SweepError(f"{self._where} was opened read-only")
        return Store._Tx(self.conn)

    def bind_seed(self, root_seed: int) -> None:
        """Record the root seed and satsim version on first use; refuse others later
        (cells are keyed by their parameters, so reusing them under another seed or
        other code would mix results)."""
        import satsim

        meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        if "root_seed" not in meta:
            with self._tx():
                self.conn.executemany("INSERT INTO meta VALUES (?, ?)",
                                      [("root_seed", str(root_seed)),
                                       ("satsim_version", satsim.__version__)])
            return
        if int(meta["root_seed"]) != root_seed:
            raise SweepError(f"{self._where} holds a sweep with root_seed="
                             f"{meta['root_seed']}; got root_seed={root_seed} "
                             "(use another directory)")
        if meta.get("satsim_version", satsim.__version__) != satsim.__version__:
            raise SweepError(f"{self._where} was written by satsim "
                             f"{meta['satsim_version']}; this is {satsim.__version__} "
                             "(use another directory)")

    def bind_code(self, fingerprint: str | None, name: str) -> None:
        """Record the cell function's code fingerprint on first use (``None``: its code
        could not be read, nothing is checked); refuse another one later: results of
        the old code would be mixed with the new code's as if they were one sweep."""
        if fingerprint is None:
            return
        meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        stored = meta.get("cell_code")
        if stored is None:  # a new store, or one written before satsim recorded it
            with self._tx():
                self.conn.execute("INSERT INTO meta VALUES ('cell_code', ?)", (fingerprint,))
            return
        if stored != fingerprint:
            raise SweepError(f"{self._where} holds cells computed by another version of the "
                             f"cell function {name} (its code changed since they were "
                             "stored); resuming would mix old and new results: use another "
                             "directory, or delete this one to recompute")

    def register(self, grid: Grid, *, extend: bool = False) -> None:
        """Bind ``grid`` to the store on first use; later grids must have the same cell
        keys, or ``extend=True`` adds their new cells to the bound grid."""
        bound = {k for (k,) in self.conn.execute("SELECT key FROM grid")}
        keys = {c.key for c in grid}
        if bound and keys != bound and not extend:
            new, gone = len(keys - bound), len(bound - keys)
            raise SweepError(
                f"{self._where} holds a sweep over a different grid: {new} of this grid's "
                f"{len(keys)} cells are not in the stored grid of {len(bound)} cells, and "
                f"{gone} stored cells are not in this grid.  Use another directory for "
                "another grid, or pass extend=True to add the new cells to this sweep")
        new_cells = [c for c in grid if c.key not in bound]
        if new_cells:
            with self._tx():
                self.conn.executemany(
                    "INSERT INTO grid VALUES (?, ?, ?)",
                    [(c.key, json.dumps(c.params, sort_keys=True), c.size) for c in new_cells])

    def finished(self) -> dict[str, str]:
        """key → status of every recorded cell."""
        return dict(self.conn.execute("SELECT key, status FROM cells").fetchall())

    def attempts(self, key: str) -> int:
        row = self.conn.execute("SELECT attempts FROM cells WHERE key = ?", (key,)).fetchone()
        return 0 if row is None else int(row[0])

    def record(self, cell: Cell, *, seed: str, status: str, result: Any, error: str | None,
               attempts: int, started: float, finished: float) -> None:
        """Commit one cell in its own transaction."""
        import scipy

        import satsim

        versions = json.dumps({"satsim": satsim.__version__, "numpy": np.__version__,
                               "scipy": scipy.__version__})
        payload = None if result is None else json.dumps(_canonical_result(result))
        try:
            with self._tx():
                self.conn.execute(
                    "INSERT OR REPLACE INTO cells VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (cell.key, json.dumps(cell.params, sort_keys=True), seed, status, payload,
                     error, attempts, started, finished, finished - started, versions))
        except sqlite3.Error as exc:
            raise SweepError(f"could not write cell {cell.key} to {self._where}: {exc}; "
                             "every earlier cell is committed") from None

    def counts(self) -> dict[str, int]:
        total = self.conn.execute("SELECT COUNT(*) FROM grid").fetchone()[0]
        by = dict(self.conn.execute("SELECT status, COUNT(*) FROM cells GROUP BY status"))
        done, failed = by.get("done", 0), by.get("failed", 0)
        return {"done": done, "failed": failed, "pending": max(total - done - failed, 0),
                "total": total}

    def last_activity(self) -> str | None:
        """ISO-8601 UTC time of the last committed cell, or None."""
        (last,) = self.conn.execute("SELECT MAX(finished) FROM cells").fetchone()
        if last is None:
            return None
        stamp = datetime.datetime.fromtimestamp(last, tz=datetime.UTC)
        return stamp.isoformat(timespec="seconds").replace("+00:00", "Z")

    def frame(self) -> pd.DataFrame:
        rows = self.conn.execute(
            "SELECT key, params, seed, status, result, error, attempts, duration FROM cells "
            "ORDER BY key").fetchall()
        out = []
        for key, params, seed, st, result, error, attempts, duration in rows:
            rec = {"key": key, **json.loads(params), "status": st, "attempts": attempts,
                   "duration": duration, "cell_seed": seed}
            if result is not None:
                payload = json.loads(result)
                if not isinstance(payload, dict):
                    payload = {"result": payload}
                # result fields never overwrite the bookkeeping or the parameters
                rec.update({(f"result_{k}" if k in rec else k): v for k, v in payload.items()})
            if error:
                rec["error"] = error.strip().splitlines()[-1]
            out.append(rec)
        if not out:
            return pd.DataFrame(columns=["key", "status", "attempts", "duration", "cell_seed"])
        return pd.DataFrame(out)

    def close(self) -> None:
        """Close the database and release the directory's lock (idempotent)."""
        if self._conn is not None:
            if not self.readonly and self.path is not None:
                # back to a rollback journal, so that readers of a finished sweep create
                # no -wal/-shm files; if a reader is connected this fails at once
                # (busy_timeout 0) and the database simply stays in WAL mode
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("PRAGMA busy_timeout = 0")
                    self.conn.execute("PRAGMA journal_mode=DELETE")
            self.conn.close()
            self._conn = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()



def canonical(obj: Any) -> Any:
    """A JSON-able description of ``obj`` that is the same in every process and every run.

    Used to key a sweep store by the configuration that produced it (what a rerun must
    find again), so it never contains an object's ``repr`` or memory address: numbers,
    strings and containers as themselves; arrays by shape, dtype and SHA-256 of their
    bytes; dataclasses and plain objects by their type's import path and their
    attributes (not the caches satsim keeps on them); functions and classes by
    ``module:qualname``.  A lambda, a nested function or an object holding one has no
    such description: ``TypeError`` saying what to use instead.
    """
    if obj is None or isinstance(obj, str | bool | int | float):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        data = np.ascontiguousarray(obj)
        return {"array": list(data.shape), "dtype": str(data.dtype),
                "sha256": hashlib.sha256(data.tobytes()).hexdigest()}
    if isinstance(obj, list | tuple):
        return [canonical(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, functools.partial):
        return {"partial": canonical(obj.func), "args": canonical(list(obj.args)),
                "kwargs": canonical(dict(obj.keywords))}
    kind = type(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"type": f"{kind.__module__}:{kind.__qualname__}",
                **{f.name: canonical(getattr(obj, f.name)) for f in dataclasses.fields(obj)}}
    qual = getattr(obj, "__qualname__", None)
    if isinstance(qual, str) and callable(obj):
        if "<" in qual:  # <lambda>, <locals>: nothing another process could name
            raise TypeError(f"{qual!r} has no canonical description (a lambda or a nested "
                            "function); define it at the top level of a module, or "
                            "register it under a name, so that a rerun can find its "
                            "stored results")
        return f"{getattr(obj, '__module__', '?')}:{qual}"
    state = getattr(obj, "__dict__", None)
    if state is not None and "<" not in kind.__qualname__:
        return {"type": f"{kind.__module__}:{kind.__qualname__}",
                **{k: canonical(v) for k, v in sorted(state.items())
                   if not k.startswith("_satsim_")}}  # satsim's caches on the object
    raise TypeError(f"{kind.__qualname__} object has no canonical description (a name "
                    "and parameters); use a registered name, a module:attr path, a "
                    "dataclass or a top-level function so that a rerun can find its "
                    "stored results")


def config_digest(config: Any) -> str:
    """12 hex digits of the SHA-256 of :func:`canonical` ``(config)`` as sorted JSON: the
    name of the store that holds the runs of exactly this configuration."""
    text = json.dumps(canonical(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]

def _canonical_result(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_canonical_result(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _canonical_result(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical_result(v) for v in value]
    if isinstance(value, int | float | str | bool) or value is None:
        return value  # NaN/inf are written as JSON NaN/Infinity and read back as floats
    raise TypeError(f"a cell must return JSON values (numbers, strings, lists, dicts); "
                    f"got {type(value).__name__}")


