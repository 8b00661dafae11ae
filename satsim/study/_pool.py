"""One pool of worker processes shared by every grid of a command (``satsim report``).

:func:`satsim.sweep.run`'s ``"process"`` executor starts its workers for one grid and
stops them at its end.  A report runs a dozen grids, many of a few seconds, and each
fresh worker first imports NumPy, SciPy, pandas and the study (1–2 s of CPU): per-grid
workers would spend a large part of a 2-core machine on start-ups.  :class:`CellPool`
is a :class:`concurrent.futures.Executor` whose workers start once (on the first cell)
and run the cells of every grid handed to it, first come first served; the sweep
engine drives it like any futures executor (its seeds, store, retries and progress are
unchanged, so results do not depend on it).

It keeps the process executor's guarantees (see :mod:`satsim.sweep._executors`): workers
come from the ``spawn`` context with one BLAS thread each, ignore Ctrl-C (the
coordinator handles it; SIGINT is blocked while a worker starts), end with the
coordinator even after ``kill -9``, and run one cell at a time, so a worker that dies
(segfault, ``os._exit``, the out-of-memory killer) fails exactly the future it was
running — :class:`WorkerDied`, which the sweep counts as one attempt of that cell and
retries — and is replaced.  Cells of user studies (``--studies DIR``) unpickle in the
workers because each task carries the user study packages known to the coordinator.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import os
import pickle
import signal
import socket
import sys
import threading
import traceback
from typing import Any

from satsim.study import _discovery
from satsim.sweep._executors import _death_reason, _exit_with_parent, _limit_blas, _sigint_blocked

__all__ = ["CellPool", "WorkerDied"]


class WorkerDied(RuntimeError):
    """The worker process running a task died (the message says how)."""


def _claim(future: cf.Future) -> bool:
    """Mark a queued future running; False if it was cancelled.  (A future put back in
    the queue after its worker died on hand-over is running already.)"""
    return future.running() or future.set_running_or_notify_cancel()


def _sendable(exc: BaseException) -> BaseException:
    try:
        pickle.dumps(exc)
        return exc
    except Exception:
        return RuntimeError("".join(traceback.format_exception_only(exc)).strip())


def _worker_main(conn, parent: int) -> None:
    """Body of one pool worker: run ``(packages, pickled (fn, args, kwargs))`` tasks
    until told to stop (``None``) or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # SIGINT was blocked until here
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _exit_with_parent(parent)
    _limit_blas()
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return  # the coordinator is gone
        if task is None:
            return
        packages, payload = task
        try:
            _discovery.register_user_packages(packages)
            fn, args, kwargs = pickle.loads(payload)
            message: tuple = ("ok", fn(*args, **kwargs))
        except Exception as exc:
            message = ("error", _sendable(exc))
        try:
            conn.send(message)
        except (EOFError, OSError):
            return
        except Exception as exc:  # an unpicklable result
            conn.send(("error", RuntimeError(f"the result could not be sent back: {exc}")))


class _Worker:
    def __init__(self, ctx):
        self.conn, self._child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(self._child, os.getpid()),
                                name="satsim-pool-worker")
        self.ready = False
        self.future: cf.Future | None = None

    def start(self) -> None:
        if os.name == "posix":
            from multiprocessing import resource_tracker

            # starting the tracker unblocks SIGINT in this thread: start it before blocking
            resource_tracker.ensure_running()
        with _sigint_blocked():
            self.proc.start()
        self._child.close()


class CellPool(cf.Executor):
    """Up to ``workers`` worker processes, started when there is work, shared by every
    task submitted until :meth:`shutdown`.

    Parameters
    ----------
    workers : int
        Number of worker processes (each runs one task at a time, one BLAS thread).
    """

    def __init__(self, workers: int):
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ValueError(f"`workers` must be a positive integer; got workers={workers!r}")
        self.workers = workers
        self._lock = threading.Lock()
        self._queue: collections.deque[tuple[cf.Future, bytes, dict[str, str]]] = \
            collections.deque()
        self._closing = False  # no new tasks; finish the queued ones
        self._abort = False  # stop now: terminate the workers
        self._thread: threading.Thread | None = None
        # wakes the coordinator thread from its wait (a socket pair: waitable everywhere)
        self._wake_r: socket.socket | None
        self._wake_w: socket.socket | None
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_w.setblocking(False)
        self._woken = False  # a wake is pending: no need to write another
        self._start_deaths = 0
        self._broken: BaseException | None = None  # why the coordinator thread stopped

    # ------------------------------------------------------------------ caller side
    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        payload = pickle.dumps((fn, args, kwargs))  # fails here, in the caller, if it must
        packages = {name: str(module.__path__[0]) for name, module in list(sys.modules.items())
                    if name.startswith(_discovery._USER_PREFIX) and "." not in name
                    and getattr(module, "__path__", None)}
        future: cf.Future = cf.Future()
        with self._lock:
            if self._broken is not None:
                raise WorkerDied(f"the cell pool cannot run cells: {self._broken}")
            if self._closing:
                raise RuntimeError("cannot submit to a CellPool after shutdown")
            self._queue.append((future, payload, packages))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="satsim-cell-pool",
                                                daemon=True)
                self._thread.start()
        self._wake()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the workers: after the queued tasks (default), or at once with
        ``cancel_futures=True`` (queued tasks are cancelled, running ones abandoned
        and their workers terminated)."""
        with self._lock:
            self._closing = True
            if cancel_futures:
                self._abort = True
                # pending tasks are cancelled here; the thread fails any other one
                self._queue = collections.deque(item for item in self._queue
                                                if not item[0].cancel())
            thread = self._thread
        self._wake()
        if thread is None:
            self._close_wake()
        elif wait:
            thread.join()

    def _close_wake(self) -> None:
        with self._lock:
            ends, (self._wake_r, self._wake_w) = (self._wake_r, self._wake_w), (None, None)
        for end in ends:
            if end is not None:
                end.close()

    def _wake(self) -> None:
        with self._lock:  # never write to a socket closed meanwhile
            if self._wake_w is None or self._woken:
                return
            self._woken = True
            with contextlib.suppress(BlockingIOError):  # full: the thread is awake anyway
                self._wake_w.send(b"x")

    # ------------------------------------------------------------------ coordinator thread
    def _run(self) -> None:
        import multiprocessing as mp
        from multiprocessing.connection import wait

        ctx = mp.get_context("spawn")
        pool: list[_Worker] = []
        try:
            while True:
                with self._lock:
                    if self._abort:
                        break
                    busy = sum(w.future is not None for w in pool)
                    if self._closing and not self._queue and not busy:
                        break
                    wanted = min(self.workers, len(self._queue) + busy)
                while len(pool) < wanted:
                    w = _Worker(ctx)
                    pool.append(w)
                    w.start()
                for w in pool:
                    if w.ready and w.future is None:
                        self._give(w)
                wake = self._wake_r  # closed only by this thread, when it ends
                if wake is None:
                    break
                handles: list[Any] = [wake]
                for w in pool:
                    handles += [w.conn, w.proc.sentinel]
                ready = set(wait(handles))
                if wake in ready:
                    with self._lock:
                        self._woken = False
                        wake.recv(4096)
                for w in list(pool):
                    dead = w.proc.sentinel in ready
                    try:
                        while (w.conn in ready or dead) and w.conn.poll():
                            ready.discard(w.conn)
                            self._on_message(w, w.conn.recv())
                    except (EOFError, OSError):
                        dead = True
                    if dead:
                        pool.remove(w)  # first: _on_death closes it, and may raise
                        self._on_death(w)
        except BaseException as exc:  # never leave a caller waiting on a future
            with self._lock:
                self._broken = exc
            self._fail_all(pool, exc)
        finally:
            if self._abort:  # nobody should wait for what will never come
                self._fail_all(pool, RuntimeError("the cell pool was shut down"))
            self._stop(pool, graceful=not self._abort)
            self._close_wake()

    def _give(self, w: _Worker) -> None:
        with self._lock:
            while self._queue:
                future, payload, packages = self._queue.popleft()
                if _claim(future):
                    break
            else:
                return
        try:
            w.conn.send((packages, payload))
        except OSError:  # the worker just died: its sentinel says so; run this elsewhere
            with self._lock:
                self._queue.appendleft((future, payload, packages))
            return
        w.future = future

    def _on_message(self, w: _Worker, message: tuple) -> None:
        kind, value = message
        if kind == "ready":
            w.ready = True
            self._start_deaths = 0
            return
        future, w.future = w.future, None
        if future is None:
            return
        if kind == "ok":
            future.set_result(value)
        else:
            future.set_exception(value)

    def _on_death(self, w: _Worker) -> None:
        w.proc.join(10)
        if w.proc.exitcode is None:
            w.proc.kill()
            w.proc.join()
        reason = _death_reason(w.proc.exitcode)
        w.conn.close()
        w.proc.close()
        if w.future is not None:
            w.future.set_exception(WorkerDied(reason))
            w.future = None
        elif not w.ready:
            self._start_deaths += 1
            if self._start_deaths > 2:
                raise WorkerDied(f"worker processes die while starting ({reason})")

    def _fail_all(self, pool: list[_Worker], exc: BaseException) -> None:
        error = exc if isinstance(exc, Exception) else RuntimeError(
            f"the cell pool stopped: {exc!r}")
        with self._lock:
            self._closing = True
            queued = [item[0] for item in self._queue]
            self._queue.clear()
        for future in queued:
            if _claim(future):
                future.set_exception(error)
        for w in pool:
            if w.future is not None:
                w.future.set_exception(error)
                w.future = None

    @staticmethod
    def _stop(pool: list[_Worker], *, graceful: bool) -> None:
        pool = [w for w in pool if w.proc.pid is not None]  # started (start may fail)
        for w in pool:
            if w.proc.exitcode is not None:
                continue
            if graceful and w.ready:
                try:
                    w.conn.send(None)
                    continue
                except OSError:
                    pass
            w.proc.terminate()
        for w in pool:
            w.proc.join(5 if graceful else 2)
            if w.proc.exitcode is None:
                w.proc.kill()
                w.proc.join()
            w.conn.close()
            w.proc.close()
