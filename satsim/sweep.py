"""Sweeps at scale: grids of cells, executors, and a SQLite result store that resumes.

Grids.  :func:`product`, :func:`zipped` and :func:`random_design` build a
:class:`Grid` of cells over named parameters.  Each cell has a stable ``key`` — the
first 16 hex digits of the SHA-256 of its parameters as canonical JSON — and its own
seed, ``SeedSequence(root_seed, spawn_key=key words)``, so a cell's result does not
depend on execution order, executor or worker count.

Executors.  Anything with the ``concurrent.futures.Executor`` interface:
``"serial"`` (in process), ``"process"`` (default: a local process pool, one BLAS
thread per worker), ``"dask://HOST:PORT"`` or a ``distributed.Client`` (through
``client.get_executor()``).  Cells are submitted largest-first when the grid knows
their sizes.  A failing cell records its traceback and the sweep goes on; it is
retried up to ``retries`` times within the run, and again on a later run.

The store.  One SQLite database per output directory (``DIR/sweep.sqlite``, WAL
journal, ``synchronous=FULL``).  The grid is recorded when a sweep starts; each
finished cell is committed in its own transaction with its parameters, seed,
result (JSON), status, attempts, timings and versions.  Only the coordinating
process writes — workers return results — so a crash at any moment (even
``kill -9``) leaves the database consistent, and re-running the same sweep skips
the finished cells and retries the failed ones.  ``satsim sweep status DIR`` prints
done / failed / pending counts; :func:`results` exports a tidy DataFrame.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import itertools
import json
import math
import os
import sqlite3
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from satsim._validation import check_int, check_rng

__all__ = [
    "Cell",
    "Grid",
    "Store",
    "SweepError",
    "SweepResult",
    "product",
    "random_design",
    "results",
    "run",
    "status",
    "zipped",
]

#: extra PRAGMAs run on every store connection (tests use max_page_count to fill the disk)
_PRAGMAS: list[str] = []

FORMAT = "satsim.sweep"
FORMAT_VERSION = 1
DB_NAME = "sweep.sqlite"


class SweepError(RuntimeError):
    """A sweep cannot start or its store cannot be used."""


def _canonical(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"sweep parameters must be finite; got {value!r}")
        return float(repr(value))
    if isinstance(value, tuple | list):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, bool | int | str) or value is None:
        return value
    raise TypeError(f"sweep parameters must be JSON values (numbers, strings, lists); "
                    f"got {type(value).__name__}")


def _key(params: Mapping[str, Any]) -> str:
    text = json.dumps(_canonical(dict(params)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class Cell:
    """One point of a sweep: its parameters, stable key and optional size."""

    params: dict
    key: str
    size: float | None = None

    def seed_sequence(self, root_seed: int) -> np.random.SeedSequence:
        words = (int(self.key[:8], 16), int(self.key[8:], 16))
        return np.random.SeedSequence(root_seed, spawn_key=words)


class Grid:
    """An ordered collection of cells with distinct keys."""

    def __init__(self, cells: Iterable[Cell]):
        self.cells: list[Cell] = []
        seen = set()
        for c in cells:
            if c.key not in seen:
                seen.add(c.key)
                self.cells.append(c)

    def __len__(self) -> int:
        return len(self.cells)

    def __iter__(self):
        return iter(self.cells)

    def __add__(self, other: Grid) -> Grid:
        return Grid([*self.cells, *other.cells])

    def with_sizes(self, size: Callable[[dict], float]) -> Grid:
        """Attach a cost estimate per cell (submitted largest-first)."""
        return Grid(dataclasses.replace(c, size=float(size(c.params))) for c in self.cells)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"key": c.key, **c.params} for c in self.cells])


#: columns the store adds to every record: grids may not use them as parameter names
RESERVED = ("key", "status", "attempts", "duration", "cell_seed", "error")


def _cells(rows: Iterable[dict], fixed: Mapping[str, Any]) -> Grid:
    out = []
    for row in rows:
        params = {**fixed, **row}
        clash = sorted(set(params) & set(RESERVED))
        if clash:
            raise ValueError(f"sweep parameter name(s) {clash} are reserved for the store's "
                             f"own columns {RESERVED}")
        for name, value in params.items():
            try:
                _canonical(value)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"`{name}`: {exc}; got {name}={value!r}") from None
        out.append(Cell(params=_canonical(params), key=_key(params)))
    return Grid(out)


def _axes(axes: Mapping[str, Any]) -> dict[str, list]:
    if not axes:
        raise ValueError("a grid needs at least one named parameter")
    out = {}
    for name, values in axes.items():
        if isinstance(values, str) or not isinstance(values, Iterable):
            raise TypeError(f"`{name}` must be a sequence of values; got {name}={values!r}")
        out[name] = list(values)
        if not out[name]:
            raise ValueError(f"`{name}` must not be empty")
    return out


def product(fixed: Mapping[str, Any] | None = None, **axes: Iterable) -> Grid:
    """Full factorial design: every combination of the axes' values."""
    ax = _axes(axes)
    names = list(ax)
    rows = (dict(zip(names, combo, strict=True)) for combo in itertools.product(*ax.values()))
    return _cells(rows, fixed or {})


def zipped(fixed: Mapping[str, Any] | None = None, **axes: Iterable) -> Grid:
    """Axes of equal length zipped together (one cell per position)."""
    ax = _axes(axes)
    lengths = {len(v) for v in ax.values()}
    if len(lengths) != 1:
        raise ValueError(f"zipped axes must have equal lengths; got "
                         f"{ {k: len(v) for k, v in ax.items()} }")
    rows = (dict(zip(ax, combo, strict=True)) for combo in zip(*ax.values(), strict=True))
    return _cells(rows, fixed or {})


def random_design(n: int, *, rng: Any = None, fixed: Mapping[str, Any] | None = None,
                  **samplers: Callable[[np.random.Generator], Any]) -> Grid:
    """``n`` cells with each parameter drawn by ``sampler(rng)`` (e.g.
    ``lambda g: float(g.uniform(0.5, 4))``)."""
    n = check_int("n", n, minimum=1)
    rng = check_rng(rng)
    for name, s in samplers.items():
        if not callable(s):
            raise TypeError(f"`{name}` must be a callable taking a Generator; got {s!r}")
    rows = ({name: s(rng) for name, s in samplers.items()} for _ in range(n))
    return _cells(rows, fixed or {})


# --------------------------------------------------------------------------- store
class Store:
    """The SQLite result store of one output directory."""

    def __init__(self, directory: str | os.PathLike, *, create: bool = True):
        self.dir = Path(directory)
        self.path = self.dir / DB_NAME
        if create:
            try:
                self.dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SweepError(f"cannot create sweep directory {str(self.dir)!r}: "
                                 f"{exc.strerror}") from None
            if not os.access(self.dir, os.W_OK):
                raise SweepError(f"sweep directory {str(self.dir)!r} is not writable")
        elif not self.path.is_file():
            raise SweepError(f"no sweep database in {str(self.dir)!r}")
        exists = self.path.exists() and self.path.stat().st_size > 0
        try:
            self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            for pragma in _PRAGMAS:
                self.conn.execute(pragma)
            tables = self.conn.execute(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
            if exists and tables:
                self._check()
            else:  # new, or created but killed before its first commit
                self._create()
        except sqlite3.DatabaseError as exc:
            raise SweepError(f"{str(self.path)!r} is not a usable sweep database "
                             f"(corrupted or foreign file): {exc}") from None

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

    def _check(self) -> None:
        try:
            meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise SweepError(f"{str(self.path)!r} is not a satsim sweep database "
                             f"(no meta table: {exc})") from None
        if meta.get("format") != FORMAT:
            raise SweepError(f"{str(self.path)!r} is not a satsim sweep database "
                             f"(format {meta.get('format')!r})")
        if meta.get("format_version") != str(FORMAT_VERSION):
            raise SweepError(f"{str(self.path)!r} has format version "
                             f"{meta.get('format_version')}; this satsim reads {FORMAT_VERSION}")
        check = self.conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise SweepError(f"{str(self.path)!r} failed SQLite's integrity check: {check}")

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
            raise SweepError(f"{str(self.path)!r} holds a sweep with root_seed="
                             f"{meta['root_seed']}; got root_seed={root_seed} "
                             "(use another directory)")
        if meta.get("satsim_version", satsim.__version__) != satsim.__version__:
            raise SweepError(f"{str(self.path)!r} was written by satsim "
                             f"{meta['satsim_version']}; this is {satsim.__version__} "
                             "(use another directory)")

    def register(self, grid: Grid) -> None:
        """Record the grid's cells (idempotent)."""
        with self._tx():
            self.conn.executemany(
                "INSERT OR IGNORE INTO grid VALUES (?, ?, ?)",
                [(c.key, json.dumps(c.params, sort_keys=True), c.size) for c in grid])

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
            raise SweepError(f"could not write cell {cell.key} to {str(self.path)!r}: {exc}; "
                             "every earlier cell is committed") from None

    def counts(self) -> dict[str, int]:
        total = self.conn.execute("SELECT COUNT(*) FROM grid").fetchone()[0]
        by = dict(self.conn.execute("SELECT status, COUNT(*) FROM cells GROUP BY status"))
        done, failed = by.get("done", 0), by.get("failed", 0)
        return {"done": done, "failed": failed, "pending": max(total - done - failed, 0),
                "total": total}

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
        return pd.DataFrame(out)

    def close(self) -> None:
        self.conn.close()


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


# --------------------------------------------------------------------------- execution
def _limit_blas() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def _run_cell(fn: Callable, params: dict, root_seed: int, key: str):
    """Worker side: run one cell; never raises (the coordinator records failures)."""
    cell = Cell(params=params, key=key)
    started = time.time()
    try:
        rng = np.random.default_rng(cell.seed_sequence(root_seed))
        result = fn(dict(params), rng)
        return key, "done", _canonical_result(result), None, started, time.time()
    except Exception:  # the traceback is the record; Ctrl-C and exits propagate
        return key, "failed", None, traceback.format_exc(), started, time.time()


@dataclasses.dataclass(frozen=True, kw_only=True)
class SweepResult:
    """What a call to :func:`run` did, and the store's current state."""

    out: Path
    ran: int
    skipped: int
    failed_keys: list[str]
    counts: dict[str, int]
    wall_time: float

    def to_frame(self) -> pd.DataFrame:
        return results(self.out)


def _make_executor(executor: Any, workers: int | None):
    if isinstance(executor, cf.Executor):
        return executor, False
    if hasattr(executor, "get_executor"):  # a distributed.Client
        return executor.get_executor(), False
    if executor == "serial":
        return _SerialExecutor(), True
    if executor == "process":
        import multiprocessing as mp

        ctx = mp.get_context("forkserver")
        return cf.ProcessPoolExecutor(max_workers=workers or os.cpu_count(), mp_context=ctx,
                                      initializer=_limit_blas), True
    if isinstance(executor, str) and executor.startswith("dask://"):
        try:
            from distributed import Client
        except ImportError:
            raise SweepError("the dask executor needs `pip install satsim[dask]`") from None
        client = Client(executor[len("dask://"):], timeout=30)
        return _OwnedDask(client), True
    raise SweepError(f"`executor` must be 'serial', 'process', 'dask://HOST:PORT', a "
                     f"concurrent.futures.Executor or a distributed.Client; got {executor!r}")


class _SerialExecutor(cf.Executor):
    def submit(self, fn, /, *args, **kwargs):
        fut = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            fut.set_exception(exc)
        return fut


class _OwnedDask(cf.Executor):
    def __init__(self, client):
        self.client = client
        self.inner = client.get_executor()

    def submit(self, fn, /, *args, **kwargs):
        return self.inner.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, **kwargs):
        self.inner.shutdown(wait=wait)
        self.client.close()


def run(
    fn: Callable[[dict, np.random.Generator], Any],
    grid: Grid,
    *,
    out: str | os.PathLike,
    root_seed: int = 0,
    executor: Any = "process",
    workers: int | None = None,
    retries: int = 1,
    progress: bool = False,
) -> SweepResult:
    """Run ``fn(params, rng)`` for every cell of ``grid`` not yet done in ``out``.

    ``fn`` must be picklable (a module-level function) for process and Dask
    executors and return JSON values (a dict of numbers/strings/lists is typical).
    Failed cells are retried up to ``retries`` times in this run; cells that still
    fail are recorded with their traceback and retried by the next run.
    """
    if not callable(fn):
        raise TypeError(f"`fn` must be callable; got fn={fn!r}")
    if not isinstance(grid, Grid):
        raise TypeError(f"`grid` must be a satsim.sweep.Grid; got {type(grid).__name__}")
    root_seed = check_int("root_seed", root_seed, minimum=0)
    retries = check_int("retries", retries, minimum=0)
    if workers is not None:
        workers = check_int("workers", workers, minimum=1)
    store = Store(out)
    start = time.perf_counter()
    try:
        store.bind_seed(root_seed)
        store.register(grid)
        done = store.finished()
        todo = [c for c in grid if done.get(c.key) != "done"]
        skipped = len(grid) - len(todo)
        if any(c.size is not None for c in todo):
            todo.sort(key=lambda c: -(c.size or 0.0))
        ex, owned = _make_executor(executor, workers)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(todo), unit="cell", desc="sweep")
        by_key = {c.key: c for c in todo}
        attempts = {c.key: store.attempts(c.key) for c in todo}
        failed: list[str] = []

        def finish(key, st, result, error, t0, t1):
            store.record(by_key[key], seed=f"{root_seed}:{key}", status=st, result=result,
                         error=error, attempts=attempts[key], started=t0, finished=t1)
            if st == "failed":
                failed.append(key)
            if bar is not None:
                bar.update()

        ok = False
        try:
            if isinstance(ex, _SerialExecutor):
                # one cell at a time, each committed before the next starts
                for cell in todo:
                    for attempt in range(retries + 1):
                        outcome = _run_cell(fn, cell.params, root_seed, cell.key)
                        attempts[cell.key] += 1
                        if outcome[1] == "done" or attempt == retries:
                            break
                    finish(*outcome)
            else:
                tries = dict.fromkeys(by_key, 0)
                pending = {ex.submit(_run_cell, fn, c.params, root_seed, c.key) for c in todo}
                while pending:
                    finished, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                    for fut in finished:
                        try:
                            outcome = fut.result()
                        except cf.BrokenExecutor as exc:
                            raise SweepError(f"a worker died ({exc}); every finished cell is "
                                             "saved: run the sweep again to resume") from None
                        key = outcome[0]
                        tries[key] += 1
                        attempts[key] += 1
                        if outcome[1] == "failed" and tries[key] <= retries:
                            pending.add(ex.submit(_run_cell, fn, by_key[key].params,
                                                  root_seed, key))
                            continue
                        finish(*outcome)
            ok = True
        finally:
            if bar is not None:
                bar.close()
            if owned:
                # on an error, do not wait for cells whose results would be thrown away
                ex.shutdown(wait=True, cancel_futures=not ok)
        counts = store.counts()
    finally:
        store.close()
    return SweepResult(out=Path(out), ran=len(todo), skipped=skipped, failed_keys=failed,
                       counts=counts, wall_time=time.perf_counter() - start)


def status(out: str | os.PathLike) -> dict[str, int]:
    """done / failed / pending / total counts of the sweep stored in ``out``."""
    store = Store(out, create=False)
    try:
        return store.counts()
    finally:
        store.close()


def results(out: str | os.PathLike) -> pd.DataFrame:
    """Tidy table of every recorded cell: key, parameters, status, result fields."""
    store = Store(out, create=False)
    try:
        return store.frame()
    finally:
        store.close()
