"""Sweep engine benchmark: process speed-up, per-cell executor overhead, store cost.

Run::

    python benchmarks/bench_sweep.py           # ~1 minute
    python benchmarks/bench_sweep.py --quick

Measured side by side in one run:

1. 20 equal cells of ~0.2 s of NumPy work: serial vs 2 process workers (target
   speed-up ≥ 1.8 on an idle 2-core machine).  The process executor starts fresh
   ``spawn`` workers for every run (a new interpreter importing satsim, ~1–3 s), so
   the speed-up compares the cells' span — first cell started to last cell finished,
   from the store's records — and the start-up is printed on its own, with the
   wall-time ratio that includes it.
2. Per-cell overhead of the process executor, of ``concurrent.futures``'
   ProcessPoolExecutor passed as an executor (for reference: the pool the process
   executor replaced) and of the Dask executor (LocalCluster, 2 workers): wall time
   per cell between the first and the last commit of 2N cells that do nothing, read
   from the ``progress`` callback, so that start-up does not enter (target ≤ 5 ms).
   Each cell includes the coordinator's store commit.
3. The store's cost per committed cell (``Store.record``, WAL, synchronous=FULL).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing as mp
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from satsim import sweep


def busy(params, rng):
    end = time.perf_counter() + params["seconds"]
    x = np.zeros(1000)
    while time.perf_counter() < end:
        x += rng.standard_normal(1000)
    return {"norm": float(np.linalg.norm(x))}


def noop(params, rng):
    return {"i": params["i"]}


def timed(fn, grid, executor, **kw):
    """(wall time, span of the cells, commit times) of one sweep in a fresh directory."""
    d = Path(tempfile.mkdtemp())
    commits = []
    try:
        t = time.perf_counter()
        sweep.run(fn, grid, out=d, executor=executor,
                  progress=lambda done, total: commits.append(time.perf_counter()), **kw)
        wall = time.perf_counter() - t
        with sweep.Store(d, create=False) as store:
            first, last = store.conn.execute(
                "SELECT MIN(started), MAX(finished) FROM cells").fetchone()
        return wall, last - first, commits[1:]  # commits[0]: the (0, total) call
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    n_busy, n_noop = (10, 200) if args.quick else (20, 400)

    grid = sweep.product(i=list(range(n_busy)), seconds=[0.2])
    serial_wall, serial, _ = timed(busy, grid, "serial")
    cold, proc, _ = timed(busy, grid, "process", workers=2)
    print(f"{n_busy} cells x 0.2 s: serial {serial:.2f} s, 2 processes {proc:.2f} s "
          f"({cold:.2f} s wall time, of which {cold - proc:.2f} s worker start-up and "
          "store set-up)")

    def overhead(executor, **kw):
        commits = timed(noop, sweep.product(i=list(range(n_noop))), executor, **kw)[2]
        return (commits[-1] - commits[0]) / (len(commits) - 1)

    over_proc = overhead("process", workers=2)
    with cf.ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as pool:
        over_pool = overhead(pool)
    over_dask = None
    try:
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                          dashboard_address=None) as lc, Client(lc) as client:
            over_dask = overhead(client)
    except ImportError:
        print("distributed not installed: Dask overhead skipped")

    d = Path(tempfile.mkdtemp())
    store = sweep.Store(d)
    cells = sweep.product(i=list(range(500)))
    store.register(cells)
    t = time.perf_counter()
    for c in cells:
        store.record(c, seed="0", status="done", result={"x": 1.0}, error=None, attempts=1,
                     started=0.0, finished=0.0)
    per_write = (time.perf_counter() - t) / len(cells)
    store.close()
    shutil.rmtree(d, ignore_errors=True)

    print("\nSummary")
    rows = [("speed-up, 2 processes / serial", serial / proc, ">= 1.8", serial / proc >= 1.8),
            ("speed-up in wall time, start-up included", serial_wall / cold, "context",
             True),
            ("per-cell overhead, process executor (ms)", over_proc * 1e3, "<= 5",
             over_proc * 1e3 <= 5),
            ("per-cell overhead, ProcessPoolExecutor (ms)", over_pool * 1e3, "context",
             True)]
    if over_dask is not None:
        rows.append(("per-cell overhead, Dask executor (ms)", over_dask * 1e3, "<= 5",
                     over_dask * 1e3 <= 5))
    rows.append(("store commit per cell (ms)", per_write * 1e3, "context", True))
    for label, value, target, ok in rows:
        print(f"  {label:44}{value:9.3f}  target {target:8} {'PASS' if ok else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
