"""Where the cells of :mod:`satsim.sweep` run: the process supervisor and futures executors.

See :mod:`satsim.sweep` for the failure semantics (crash attribution, retries, workers
that exit with their coordinator).
"""


from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import os
import pickle
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from satsim.sweep._store import Cell, SweepError, _canonical_result


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


def _run_batch(fn: Any, cells: list[Cell], root_seed: int) -> list[tuple]:
    """One batch of a :class:`satsim.sweep.Batched` function (worker side too):
    outcomes as :func:`_run_cell` gives them.  A batch that raises is rerun cell by
    cell, so the failure is charged to its own cell."""
    if len(cells) == 1:
        return [_run_cell(fn, cells[0].params, root_seed, cells[0].key)]
    started = time.time()
    try:
        rngs = [np.random.default_rng(c.seed_sequence(root_seed)) for c in cells]
        results = fn.fn_many([dict(c.params) for c in cells], rngs)
        if not isinstance(results, list | tuple) or len(results) != len(cells):
            raise TypeError(f"batched function {fn.fn_many!r} returned "
                            f"{type(results).__name__} for {len(cells)} cells")
        done = time.time()
        return [(c.key, "done", _canonical_result(r), None, started, done)
                for c, r in zip(cells, results, strict=True)]
    except Exception:
        return [_run_cell(fn, c.params, root_seed, c.key) for c in cells]


# ------------------------------------------------------------------ the process executor
# Why not concurrent.futures.ProcessPoolExecutor: when one of its workers dies (a
# segfault, os._exit, the OOM killer's SIGKILL) the pool declares itself broken, fails
# every pending future with BrokenProcessPool and cannot say which cell was running, so
# a single bad cell ends the sweep for good.  The supervisor below hands each worker
# exactly one cell at a time over its own pipe and waits on the pipes and the process
# sentinels together, so a dead worker names its cell: that cell is charged one attempt
# and the worker is replaced.  Workers come from the "spawn" context: a fresh
# interpreter (no inherited threads, locks or open store), unlike fork, and without the
# shared fork server (one more long-lived process to orphan), unlike forkserver.

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _exit_with_parent(parent: int) -> None:
    """Make this worker end when the coordinator ends, even by ``kill -9``."""
    if sys.platform.startswith("linux"):
        # immediate on Linux: the kernel sends SIGKILL when the thread that started this
        # worker exits — sweep.run blocks that thread until its workers are reaped, so
        # this fires only if the coordinator dies
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
    if os.getppid() != parent:  # the coordinator died before the line above
        os._exit(1)

    # everywhere else (macOS has no prctl): a watchdog thread that sees this worker
    # re-parented to init or a subreaper.  It needs the GIL, which a cell's long C loop
    # may hold for a while; the Linux signal above does not
    def watch() -> None:
        while True:
            time.sleep(0.2)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="satsim-parent-watchdog", daemon=True).start()


def _worker_main(conn, setup: Callable[[], Any] | None, parent: int) -> None:
    """Body of one process worker: set up, then run one cell per message until told to
    stop (``None``) or the pipe closes."""
    # Ctrl-C reaches the whole process group; the coordinator alone handles it.  SIGINT
    # was blocked while this process started (see _sigint_blocked): ignoring it first,
    # then unblocking, discards a Ctrl-C pressed during start-up
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _exit_with_parent(parent)
    try:
        _limit_blas()
        if setup is not None:
            setup()
    except Exception:
        conn.send(("setup_error", traceback.format_exc()))
        return
    conn.send(("ready", os.getpid()))
    fn = blob = None
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return  # the coordinator is gone
        if task is None:
            return
        new_blob, params, root_seed, key = task
        blob = new_blob if new_blob is not None else blob
        if fn is None:
            try:  # in the cell's attempt, so that an unimportable fn is a cell failure
                if blob is None:
                    raise RuntimeError("the coordinator sent no cell function")
                fn = pickle.loads(blob)
            except Exception:
                now = time.time()
                conn.send(("result", (key, "failed", None, traceback.format_exc(), now, now)))
                continue
        conn.send(("result", _run_cell(fn, params, root_seed, key)))


@contextlib.contextmanager
def _sigint_blocked():
    """Block SIGINT in this thread while a worker starts: the worker inherits the mask
    through fork and exec, so a Ctrl-C cannot hit it before it ignores SIGINT; here the
    signal stays pending and is delivered right after."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _death_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = str(-exitcode)
        hint = " (the out-of-memory killer sends SIGKILL)" if name == "SIGKILL" else ""
        return f"worker process died: killed by signal {name}{hint}"
    return f"worker process died: exited with code {exitcode}"


class _Worker:
    """One worker process, its pipe, and the cell it is running (``key``)."""

    def __init__(self, ctx, setup):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, setup, os.getpid()),
                                name="satsim-sweep-worker")
        self._child = child
        self.ready = False
        self.fn_sent = False
        self.key: str | None = None
        self.started = 0.0

    def start(self) -> None:
        if os.name == "posix":
            from multiprocessing import resource_tracker

            # spawn starts multiprocessing's resource tracker on first use, and starting
            # it *unblocks* SIGINT in this thread: have it running before blocking
            resource_tracker.ensure_running()
        with _sigint_blocked():
            self.proc.start()
        self._child.close()  # the worker's end lives in the worker now

    def give(self, key: str, params: dict, blob: bytes, root_seed: int) -> bool:
        """Send one cell; False if the worker has just died (its sentinel will say so)."""
        try:
            self.conn.send((None if self.fn_sent else blob, params, root_seed, key))
        except OSError:
            return False
        self.fn_sent = True
        self.key, self.started = key, time.time()
        return True

    def alive(self) -> bool:
        return self.proc.pid is not None and self.proc.exitcode is None


def _stop_workers(pool: list[_Worker], *, graceful: bool) -> None:
    """Stop and reap every worker: asked politely after a normal end, terminated at
    once after an error or Ctrl-C; killed if they do not go."""
    started = [w for w in pool if w.proc.pid is not None]
    for w in started:
        if not w.alive():
            continue
        if graceful and w.ready:
            try:
                w.conn.send(None)
                continue
            except OSError:
                pass
        w.proc.terminate()  # includes workers still starting: no need to wait for them
    for w in started:
        w.proc.join(5 if graceful else 2)
        if w.proc.exitcode is None:
            w.proc.kill()
            w.proc.join()
    for w in pool:
        w.conn.close()
        w._child.close()
        if w.proc.pid is not None:
            w.proc.close()


def _run_processes(todo: list[Cell], *, fn: Callable, root_seed: int, retries: int,
                   size: int, setup: Callable[[], Any] | None, attempts: dict[str, int],
                   finish: Callable) -> None:
    """Coordinator loop of the process executor (see the comment above)."""
    import multiprocessing as mp
    from multiprocessing.connection import wait

    ctx = mp.get_context("spawn")
    blob = pickle.dumps(fn)
    by_key = {c.key: c for c in todo}
    waiting = collections.deque(by_key)
    tries = dict.fromkeys(by_key, 0)
    pool: list[_Worker] = []
    start_deaths = 0

    def spawn() -> None:
        w = _Worker(ctx, setup)
        pool.append(w)  # before start: whatever happens next, cleanup sees it
        w.start()

    def give(w: _Worker) -> None:
        if w.ready and w.key is None and waiting:
            key = waiting.popleft()
            if not w.give(key, by_key[key].params, blob, root_seed):
                waiting.appendleft(key)  # not charged: the cell never reached the worker

    def charge(key: str) -> bool:
        """Count an attempt; True if the cell should run again."""
        tries[key] += 1
        attempts[key] += 1
        return tries[key] <= retries

    def on_message(w: _Worker, msg: tuple, *, dead: bool) -> None:
        if msg[0] == "ready":
            w.ready = True
        elif msg[0] == "setup_error":
            raise SweepError(f"`worker_setup` failed in a worker process:\n{msg[1]}")
        else:
            outcome = msg[1]
            key = outcome[0]
            w.key = None
            again = charge(key) and outcome[1] == "failed"
            if again:
                waiting.append(key)
            if not dead:
                give(w)  # the next cell runs while this one is committed
            if not again:
                finish(*outcome)

    def on_death(w: _Worker) -> None:
        nonlocal start_deaths
        w.proc.join(10)  # its pipe is closed or its sentinel fired: it is ending
        if w.proc.exitcode is None:
            w.proc.kill()
            w.proc.join()
        reason = _death_reason(w.proc.exitcode)
        pool.remove(w)
        w.conn.close()
        w.proc.close()
        if w.key is not None:
            if charge(w.key):
                waiting.append(w.key)
            else:
                finish(w.key, "failed", None, reason, w.started, time.time())
        elif not w.ready:
            start_deaths += 1
            if start_deaths > 2:
                raise SweepError(f"worker processes die while starting ({reason}); check "
                                 "that the script calling sweep.run guards it with `if "
                                 "__name__ == '__main__':` and that `worker_setup` works "
                                 "in a fresh Python process")

    ok = False
    try:
        for _ in range(min(size, len(waiting))):
            spawn()
        while waiting or any(w.key is not None for w in pool):
            if waiting and not pool:  # every worker died with work left: start one
                spawn()
            for w in pool:
                give(w)
            handles = {w.conn: w for w in pool} | {w.proc.sentinel: w for w in pool}
            ready = set(wait(list(handles)))
            for w in list(pool):
                dead = w.proc.sentinel in ready
                try:
                    # read what the worker sent before dying, too
                    while (w.conn in ready or dead) and w.conn.poll():
                        ready.discard(w.conn)
                        on_message(w, w.conn.recv(), dead=dead)
                except (EOFError, OSError):
                    dead = True  # pipe closed: the process is ending
                if dead:
                    on_death(w)
                    if waiting and len(pool) < size:
                        spawn()
        ok = True
    finally:
        _stop_workers(pool, graceful=ok)


# ------------------------------------------------------------------ futures executors
def _executor_kind(executor: Any) -> str:
    if isinstance(executor, cf.Executor) or hasattr(executor, "get_executor"):
        return "futures"
    if executor in ("serial", "process"):
        return executor
    if isinstance(executor, str) and executor.startswith("dask://"):
        return "dask"
    raise SweepError(f"`executor` must be 'serial', 'process', 'dask://HOST:PORT', a "
                     f"concurrent.futures.Executor or a distributed.Client; got {executor!r}")


def _futures_executor(executor: Any) -> tuple[cf.Executor, bool]:
    """(executor, owned): an executor we create is ours to shut down."""
    if isinstance(executor, cf.Executor):
        return executor, False
    if hasattr(executor, "get_executor"):  # a distributed.Client
        # pure=False: a retried cell is a new task, not the failed one's cached result
        return executor.get_executor(pure=False), False
    try:
        from distributed import Client
    except ImportError:
        raise SweepError("the dask executor needs `pip install satsim[dask]`") from None
    return _OwnedDask(Client(executor[len("dask://"):], timeout=30)), True


class _OwnedDask(cf.Executor):
    def __init__(self, client):
        self.client = client
        self.inner = client.get_executor(pure=False)

    def submit(self, fn, /, *args, **kwargs):
        return self.inner.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, **kwargs):
        self.inner.shutdown(wait=wait)
        self.client.close()


def _one_line(exc: BaseException) -> str:
    message = " ".join(str(exc).split())  # one line: the store shows an error's last line
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _run_futures(todo: list[Cell], ex: cf.Executor, *, fn: Callable, root_seed: int,
                 retries: int, attempts: dict[str, int], finish: Callable,
                 groups: list[list[Cell]] | None = None) -> None:
    """Run the cells as futures.  A future that fails by itself (the worker was killed,
    the future was cancelled, the pool is broken) is one attempt of its cell, retried
    like a cell that raised, then recorded as ``"TypeName: message"``.  With ``groups``
    (a batched function), each group is one future; a cell of a group whose future
    failed, or that failed in it, is retried alone."""
    import asyncio

    by_key = {c.key: c for c in todo}
    tries = dict.fromkeys(by_key, 0)
    futures: dict[cf.Future, tuple[str, float]] = {}
    batches: dict[cf.Future, tuple[list[str], float]] = {}
    # futures report to a queue: waiting on every pending future again after each
    # completion would cost O(cells) per cell
    done_queue: queue.SimpleQueue[cf.Future] = queue.SimpleQueue()

    def submit(key: str) -> None:
        try:
            fut = ex.submit(_run_cell, fn, by_key[key].params, root_seed, key)
        except Exception as exc:  # e.g. a broken pool refuses new work: that attempt failed
            fut = cf.Future()
            fut.set_exception(exc)
        futures[fut] = (key, time.time())
        fut.add_done_callback(done_queue.put)

    def submit_group(keys: list[str]) -> None:
        try:
            fut = ex.submit(_run_batch, fn, [by_key[k] for k in keys], root_seed)
        except Exception as exc:
            fut = cf.Future()
            fut.set_exception(exc)
        batches[fut] = (keys, time.time())
        fut.add_done_callback(done_queue.put)

    def settle(key: str, outcome: tuple) -> None:
        tries[key] += 1
        attempts[key] += 1
        if outcome[1] == "failed" and tries[key] <= retries:
            submit(key)
        else:
            finish(*outcome)

    try:
        if groups is None:
            for c in todo:
                submit(c.key)
        else:
            for g in groups:
                if len(g) == 1:
                    submit(g[0].key)
                else:
                    submit_group([c.key for c in g])
        while futures or batches:
            try:
                fut = done_queue.get(timeout=0.5)  # a timeout keeps Ctrl-C responsive
            except queue.Empty:
                continue
            if fut in batches:
                keys, submitted = batches.pop(fut)
                try:
                    outcomes = fut.result()
                except (Exception, asyncio.CancelledError) as exc:
                    outcomes = [(k, "failed", None, _one_line(exc), submitted, time.time())
                                for k in keys]
                for key, outcome in zip(keys, outcomes, strict=True):
                    settle(key, outcome)
                continue
            key, submitted = futures.pop(fut)
            try:
                outcome = fut.result()
            except (Exception, asyncio.CancelledError) as exc:
                outcome = (key, "failed", None, _one_line(exc), submitted, time.time())
            settle(key, outcome)
    finally:
        for fut in [*futures, *batches]:  # after an error: do not leave our cells running
            fut.cancel()


