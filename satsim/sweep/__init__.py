"""Sweeps at scale: grids of cells, executors, and a SQLite result store that resumes.

Grids.  :func:`product`, :func:`zipped` and :func:`random_design` build a
:class:`Grid` of cells over named parameters.  Each cell has a stable ``key`` — the
first 16 hex digits of the SHA-256 of its parameters as canonical JSON — and its own
seed, ``SeedSequence(root_seed, spawn_key=key words)``, so a cell's result does not
depend on execution order, executor or worker count.

Executors.  ``"serial"`` runs the cells one after another in the calling process.
``"process"`` (the default) runs them on ``workers`` local worker processes
(default ``os.cpu_count()``), started with the ``spawn`` method, each with one BLAS
thread and each computing one cell at a time; the script that calls :func:`run`
therefore needs the usual ``if __name__ == "__main__":`` guard, and ``fn`` must be
importable by name in a fresh interpreter (``worker_setup`` can make it so).
``"dask://HOST:PORT"``, a ``distributed.Client`` or any
``concurrent.futures.Executor`` run the cells as futures.  Cells are submitted
largest-first when the grid knows their sizes.

Failures.  A cell whose function raises records its traceback and the sweep goes on;
it is retried up to ``retries`` times within the run, and again on a later run.  A
cell that kills its worker process (a segfault, ``os._exit``, the out-of-memory
killer's SIGKILL) costs one attempt too: the process executor knows which cell each
worker was running, replaces the dead worker, retries the cell within ``retries`` and
then records it ``failed`` with the reason (``"worker process died: killed by signal
SIGSEGV"``, ``"… exited with code 3"``); every other cell still runs.  With futures
executors, an exception raised by the future itself (Dask's ``KilledWorker``, a
cancelled future, a broken pool) is counted and retried the same way and recorded as
``"TypeName: message"``.  Process workers ignore Ctrl-C (the coordinator handles it)
and exit by themselves when the coordinator dies, even by ``kill -9``; on Ctrl-C or
any error the coordinator stops its workers before the exception propagates.

The store.  One SQLite database per output directory (``DIR/sweep.sqlite``, WAL
journal and ``synchronous=FULL`` while a sweep runs, switched back to a rollback
journal when it ends so that readers need no side files).  Each finished cell is
committed in its own transaction with its parameters, seed, result (JSON), status,
attempts, timings and versions.  Only the coordinating process writes — workers
return results — so a crash at any moment (even ``kill -9``) leaves the database
consistent, and re-running the same sweep skips the finished cells and retries the
failed ones.  A running sweep holds an exclusive lock on ``DIR/sweep.lock`` (which
records its PID); a second :func:`run` on the same directory stops at once with
"… is in use by PID N".  The operating system drops the lock when its process
ends, however it ends, so a lock is never stale.  (The lock is ``flock``; it is not
taken on platforms without :mod:`fcntl`.)  ``out=None`` keeps the store in memory:
nothing is written to disk and nothing resumes.

A store binds what makes its cells comparable: the root seed, the satsim version, the
cell function's code and the grid (the set of cell keys) of the first run.  Running
another grid in the same directory is refused unless ``extend=True``, which adds the
new cells to the bound grid.  The code is a digest of the cell function's source read
as a syntax tree (comments, docstrings and formatting do not count; a partial's
arguments and a batched function's grouping do): after an edit of the function's body
a rerun into the same directory is refused rather than mixing results of two versions
of the code.  Helpers the function calls are not read, and a function whose source
cannot be read (one typed at an interactive prompt) is not checked.

Batched cells.  Cells that can share one computation (networks of one architecture
trained together, say) are run by a *batched* function: ``batched(fn_many, by=…)``
wraps ``fn_many(params_list, rngs) -> results`` so that the serial executor hands it
every pending cell whose ``by`` parameters agree (at most ``max_size`` at a time),
each with its own generator, and commits each cell's result on its own.  A cell is
still seeded, stored and resumed by itself; only the computation is shared, so a
result may not depend on the batch it ran in (the function's contract, tested for
satsim's own).  If a batch raises, its cells are run again one at a time, so a
failure is recorded against the cell that causes it.  Futures executors (Dask, the
shared pool of ``satsim report``) get one task per batch as well; the ``"process"``
executor calls the wrapper cell by cell (a batch of one).

Reading.  :func:`status`, :func:`results`, :func:`overview` (every store in a
directory tree) and ``Store(DIR, create=False)`` open the database read-only: they
never change it, create no tables and, on a finished sweep, no files, so they work
on a read-only directory (a sweep interrupted there is read from a private copy) and
never disturb a running sweep.  A database with no sweep recorded yet (an empty
file) is an error for them, not something to create.  :func:`export` writes the
results CSV atomically.  ``satsim sweep status DIR`` prints done / failed / pending
counts.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import pickle
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from satsim import _registry
from satsim._namespace import public_dir
from satsim._validation import check_int
from satsim.sweep._executors import (
    _executor_kind,
    _futures_executor,
    _one_line,
    _run_batch,
    _run_cell,
    _run_futures,
    _run_processes,
)
from satsim.sweep._grid import (
    Batched,
    Grid,
    _name,
    batched,
    code_fingerprint,
    product,
    random_design,
    zipped,
)
from satsim.sweep._store import DB_NAME, Cell, Store, SweepError

__all__ = [
    "Batched",
    "Cell",
    "Grid",
    "Store",
    "SweepError",
    "SweepResult",
    "batched",
    "export",
    "overview",
    "product",
    "random_design",
    "results",
    "run",
    "status",
    "zipped",
]

__dir__ = public_dir(globals())




# --------------------------------------------------------------------------- run
@dataclasses.dataclass(frozen=True, kw_only=True)
class SweepResult:
    """What a call to :func:`run` did, and the store's current state.

    ``out`` is None for an in-memory sweep, whose cells' table is kept in ``table``.
    """

    out: Path | None
    ran: int
    skipped: int
    failed_keys: list[str]
    counts: dict[str, int]
    wall_time: float
    table: pd.DataFrame | None = dataclasses.field(default=None, repr=False, compare=False)

    def to_frame(self) -> pd.DataFrame:
        """The store's table of recorded cells (see :func:`results`)."""
        if self.table is not None:
            return self.table.copy()
        if self.out is None:
            raise SweepError("an in-memory sweep kept no table")
        return results(self.out)


def _check_progress(progress: Any) -> Callable[[int, int], Any] | bool:
    if progress is None or isinstance(progress, bool):
        return bool(progress)
    if callable(progress):
        return progress
    raise TypeError(f"`progress` must be True, False or a callable progress(finished, "
                    f"total); got progress={progress!r}")


def _check_picklable(name: str, value: Any) -> None:
    """One line naming what cannot travel to a worker: for a ``functools.partial`` the
    function and the argument that fails, never the arguments' (possibly huge) reprs."""
    try:
        pickle.dumps(value)
    except Exception as exc:
        what = f"{value!r:.80}"
        if isinstance(value, functools.partial):
            func = value.func
            what = (f"functools.partial of {getattr(func, '__module__', '?')}."
                    f"{getattr(func, '__qualname__', type(func).__name__)}")
            parts = [(f"argument {i + 1}", a) for i, a in enumerate(value.args)]
            parts += [(f"keyword {k!r}", v) for k, v in value.keywords.items()]
            for label, part in parts:
                try:
                    pickle.dumps(part)
                except Exception:
                    what += f" (its {label} cannot be pickled)"
                    break
        raise TypeError(f"`{name}` must be picklable for the process executor (a "
                        f"module-level function, or functools.partial of one); got "
                        f"{what}: {_one_line(exc)[:200]}") from None


def _with_registrations(fn: Any) -> Any:
    """``fn`` carrying the names registered with ``satsim.init.register`` /
    ``satsim.activations.register`` in this process, so that they resolve in the
    workers (fresh interpreters) too; an unpicklable registration is one TypeError."""
    snap = _registry.snapshot()
    if not snap:
        return fn
    for what, (_owner, entries) in snap.items():
        for name, entry in entries.items():
            try:
                pickle.dumps(entry)
            except Exception as exc:
                raise TypeError(
                    f"registered {what} {name!r} must be picklable to reach the "
                    f"workers (register a module-level function or class, not a "
                    f"lambda or a local function) ({_one_line(exc)})") from None
    if isinstance(fn, Batched):
        return dataclasses.replace(fn, fn_many=_registry.WithRegistrations(fn.fn_many, snap))
    return _registry.WithRegistrations(fn, snap)


def _run_serial(fn: Any, todo: list[Cell], root_seed: int, retries: int,
                attempts: dict[str, int], finish: Callable[..., None]) -> None:
    """Run the cells in this process, each committed (``finish``) before the next
    starts; a :class:`Batched` function runs a batch at a time, a cell of a batch that
    failed is retried on its own."""
    if isinstance(fn, Batched):
        for group in fn.groups(todo):
            outcomes = _run_batch(fn, group, root_seed)
            for cell, outcome in zip(group, outcomes, strict=True):
                attempts[cell.key] += 1
                if outcome[1] != "done" and retries:
                    for _ in range(retries):
                        outcome = _run_cell(fn, cell.params, root_seed, cell.key)
                        attempts[cell.key] += 1
                        if outcome[1] == "done":
                            break
                finish(*outcome)
        return
    for cell in todo:
        for attempt in range(retries + 1):
            outcome = _run_cell(fn, cell.params, root_seed, cell.key)
            attempts[cell.key] += 1
            if outcome[1] == "done" or attempt == retries:
                break
        finish(*outcome)


def run(
    fn: Callable[[dict, np.random.Generator], Any],
    grid: Grid,
    *,
    out: str | os.PathLike | None,
    root_seed: int = 0,
    executor: Any = "process",
    workers: int | None = None,
    retries: int = 1,
    progress: bool | Callable[[int, int], Any] = False,
    worker_setup: Callable[[], Any] | None = None,
    extend: bool = False,
) -> SweepResult:
    """Run ``fn(params, rng)`` for every cell of ``grid`` not yet done in ``out``.

    Parameters
    ----------
    fn : callable
        ``fn(params: dict, rng: numpy.random.Generator)`` returning JSON values (a
        dict of numbers, strings and lists is typical).  It must be picklable — a
        module-level function — for the process and Dask executors.  ``rng`` is the
        cell's own generator, seeded from ``(root_seed, cell key)`` only.
    grid : Grid
        The cells.  The first run binds the grid to the store; see ``extend``.
    out : path or None
        The output directory holding the store (``out/sweep.sqlite``, locked by
        ``out/sweep.lock`` during the run).  ``None`` keeps the store in memory:
        nothing is written to disk, nothing resumes, and the cells' table is in the
        result's :meth:`SweepResult.to_frame`.
    root_seed : int, default 0
        Bound to the store on first use.
    executor : {"process", "serial"}, "dask://HOST:PORT", distributed.Client or \
concurrent.futures.Executor, default "process"
        Where cells run (see the module documentation).
    workers : int, optional
        Number of worker processes of the process executor (default
        ``os.cpu_count()``; never more than the cells to run).  Other executors
        ignore it.
    retries : int, default 1
        Extra attempts per cell within this run, for a cell that raises and for one
        that kills its worker or whose future fails.  A cell that still fails is
        recorded ``failed`` with its traceback or reason, and runs again on the next
        call.
    progress : bool or callable, default False
        ``True`` shows a tqdm bar; a callable is called as ``progress(finished,
        total)`` — once with ``(0, total)`` before the first cell, then after each
        committed cell — where ``total`` is the number of cells this run has to do.
    worker_setup : callable, optional
        Called once in each process worker before its first cell (e.g. to make a
        user's study modules importable there); must be picklable.  A setup that
        raises is a :class:`SweepError` carrying its traceback.  Only the process
        executor starts workers, so other executors do not call it.
    extend : bool, default False
        ``True`` allows a ``grid`` that differs from the grid bound to the store: its
        new cells are added to the bound grid (and counted by :func:`status`).

    Returns
    -------
    SweepResult
        Cells run and skipped, keys still failed, the store's counts, wall time.

    Raises
    ------
    SweepError
        The directory is in use by another run (the message names its PID), is not
        writable, holds a foreign or corrupted database, or a sweep with another root
        seed, satsim version, cell-function code or grid; a cell could not be
        committed (disk full: every earlier cell is saved); process workers cannot
        start.
    KeyboardInterrupt
        Propagated after the workers are stopped; committed cells stay saved.
    """
    if not callable(fn):
        raise TypeError(f"`fn` must be callable; got fn={fn!r}")
    if not isinstance(grid, Grid):
        raise TypeError(f"`grid` must be a satsim.sweep.Grid; got {type(grid).__name__}")
    root_seed = check_int("root_seed", root_seed, minimum=0)
    retries = check_int("retries", retries, minimum=0)
    if workers is not None:
        workers = check_int("workers", workers, minimum=1)
    progress = _check_progress(progress)
    if worker_setup is not None and not callable(worker_setup):
        raise TypeError(f"`worker_setup` must be a callable or None; got "
                        f"worker_setup={worker_setup!r}")
    if not isinstance(extend, bool):
        raise TypeError(f"`extend` must be True or False; got extend={extend!r}")
    kind = _executor_kind(executor)
    fingerprint = code_fingerprint(fn)  # of the user's function, before any wrapping
    if kind == "process":
        _check_picklable("fn", fn)
        if worker_setup is not None:
            _check_picklable("worker_setup", worker_setup)
    if kind != "serial":
        fn = _with_registrations(fn)
    store = Store(out)
    start = time.perf_counter()
    table = None
    try:
        store.bind_seed(root_seed)
        store.bind_code(fingerprint, _name(fn))
        store.register(grid, extend=extend)
        done = store.finished()
        todo = [c for c in grid if done.get(c.key) != "done"]
        skipped = len(grid) - len(todo)
        if any(c.size is not None for c in todo):
            todo.sort(key=lambda c: -(c.size or 0.0))
        by_key = {c.key: c for c in todo}
        attempts = {c.key: store.attempts(c.key) for c in todo}
        failed: list[str] = []
        committed = 0
        bar = None
        if progress is True:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(todo), unit="cell", desc="sweep")
        elif callable(progress):
            progress(0, len(todo))

        def finish(key, st, result, error, t0, t1):
            nonlocal committed
            store.record(by_key[key], seed=f"{root_seed}:{key}", status=st, result=result,
                         error=error, attempts=attempts[key], started=t0, finished=t1)
            if st == "failed":
                failed.append(key)
            committed += 1
            if bar is not None:
                bar.update()
            elif callable(progress):
                progress(committed, len(todo))

        ex, owned, ok = None, False, False
        try:
            if kind == "serial":
                _run_serial(fn, todo, root_seed, retries, attempts, finish)
            elif kind == "process":
                if todo:
                    _run_processes(todo, fn=fn, root_seed=root_seed, retries=retries,
                                   size=workers or os.cpu_count() or 1, setup=worker_setup,
                                   attempts=attempts, finish=finish)
            else:
                ex, owned = _futures_executor(executor)
                _run_futures(todo, ex, fn=fn, root_seed=root_seed, retries=retries,
                             attempts=attempts, finish=finish,
                             groups=fn.groups(todo) if isinstance(fn, Batched) else None)
            ok = True
        finally:
            if bar is not None:
                bar.close()
            if owned and ex is not None:
                # on an error, do not wait for cells whose results would be thrown away
                ex.shutdown(wait=True, cancel_futures=not ok)
        counts = store.counts()
        if out is None:
            table = store.frame()
    finally:
        store.close()
    return SweepResult(out=None if out is None else Path(out), ran=len(todo),
                       skipped=skipped, failed_keys=failed, counts=counts,
                       wall_time=time.perf_counter() - start, table=table)


# --------------------------------------------------------------------------- reading
def status(out: str | os.PathLike) -> dict[str, int]:
    """done / failed / pending / total counts of the sweep stored in ``out``.

    Read-only: the store is never modified (this works on a read-only directory and
    while a sweep runs).  A missing database, or one with no sweep recorded yet (an
    empty file), is a :class:`SweepError`.

    Parameters
    ----------
    out : str or os.PathLike
        The sweep's directory, as given to :func:`run`.

    Returns
    -------
    dict
        ``{"done": int, "failed": int, "pending": int, "total": int}``.
    """
    with Store(out, create=False) as store:
        return store.counts()


def results(out: str | os.PathLike) -> pd.DataFrame:
    """Tidy table of every recorded cell: key, parameters, status, result fields
    (read-only, like :func:`status`).

    Parameters
    ----------
    out : str or os.PathLike
        The sweep's directory, as given to :func:`run`.

    Returns
    -------
    pandas.DataFrame
        One row per recorded cell.
    """
    with Store(out, create=False) as store:
        return store.frame()


def export(out: str | os.PathLike, path: str | os.PathLike | None = None) -> Path:
    """Write :func:`results` of the sweep in ``out`` as CSV.

    Parameters
    ----------
    out : path
        The sweep's output directory (read-only, like :func:`status`).
    path : path, optional
        The CSV file; default ``out/results.csv``.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    SweepError
        No sweep in ``out``, or the file cannot be written.  The file is written
        atomically (a temporary sibling renamed over the target), so after a failed
        write — a full disk, a file-size limit — neither a partial file nor a
        temporary file is left, and an older file at ``path`` keeps its content.
    """
    from satsim._atomic import atomic_write

    target = Path(out) / "results.csv" if path is None else Path(path)
    text = results(out).to_csv(index=False)
    try:
        return atomic_write(target, text)
    except OSError as exc:
        raise SweepError(f"could not write {str(target)!r}: {exc.strerror or exc}; no "
                         "partial file was left (an earlier file there is unchanged)") from exc


def overview(root: str | os.PathLike) -> pd.DataFrame:
    """One row per sweep store (``sweep.sqlite``) at or below ``root``.

    Read-only, like :func:`status`; a store that cannot be read gets a row with its
    reason instead of stopping the others.

    Parameters
    ----------
    root : path
        A sweep directory, or any directory above sweep directories (such as the
        output directory of ``satsim run``).

    Returns
    -------
    pandas.DataFrame
        Columns ``store`` (the store's directory relative to ``root``, ``"."`` for
        ``root`` itself; rows sorted by it), ``done``, ``failed``, ``pending``,
        ``total`` (nullable integers), ``last_activity`` (ISO-8601 UTC time of the
        last committed cell, e.g. ``"2026-05-09T07:35:25Z"``, or None) and ``error``
        (None, or why the store cannot be read; its counts are then missing).

    Raises
    ------
    SweepError
        No sweep database in or below ``root``.
    """
    root = Path(root)
    found = []
    if root.is_dir():
        for here, subdirs, files in os.walk(root):
            subdirs.sort()
            if DB_NAME in files:
                found.append(Path(here))
    if not found:
        raise SweepError(f"no sweep database in or below {str(root)!r}")
    rows = []
    for directory in found:
        rel = directory.relative_to(root).as_posix()
        row: dict[str, Any] = {"store": rel, "done": None, "failed": None, "pending": None,
                               "total": None, "last_activity": None, "error": None}
        try:
            with Store(directory, create=False) as store:
                row.update(store.counts(), last_activity=store.last_activity())
        except SweepError as exc:
            row["error"] = str(exc)
        rows.append(row)
    frame = pd.DataFrame(rows).sort_values("store", kind="stable").reset_index(drop=True)
    for col in ("done", "failed", "pending", "total"):
        frame[col] = frame[col].astype("Int64")
    return frame
