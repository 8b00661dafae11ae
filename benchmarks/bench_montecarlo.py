r"""Monte Carlo engine benchmark: ratios measured side by side in one run.

Run as a plain script (it is a report, never a timed test)::

    python benchmarks/bench_montecarlo.py            # full scale (about 15-20 minutes)
    python benchmarks/bench_montecarlo.py --quick    # 10**6 z's, 10**7-sample memory run
    python benchmarks/bench_montecarlo.py --check    # exit 1 if a target is missed

DESIGN.md section 7: the limit of :func:`satsim.simulate` is the bit generator's
normal-fill rate, so throughput is reported as a *fraction of that rate measured in
the same run with the same bit generator*, and peak memory must not grow with the
number of samples.  Absolute times are printed only as context; every claim is a
ratio of two measurements taken side by side.

Measurements
------------
1. **z throughput / raw fill rate** (target >= 0.90).  ``simulate("nielsen",
   nielsen(1000, 500), n_samples=N, workers=1)`` needs ``N * n_in`` standard
   normals.  The reference fills the same number of normals with
   ``np.random.default_rng`` (PCG64, the bit generator ``simulate`` uses for an int
   seed) into one preallocated, reused float64 buffer of the block shape
   ``simulate`` uses (``BLOCK_ELEMENTS // n_in`` rows of ``n_in``), via
   ``rng.standard_normal(out=buf)``.  Ratio = normals/s achieved by ``simulate``
   (counting ``n_in`` normals per z) / normals/s of the raw fill.
2. **workers=2 speed-up** over workers=1 for the same call (target >= 1.8 on an
   idle 2-core machine), with the raw fill's own 2-thread scaling (two threads, each
   with its own generator and buffer, filling half of the normals) printed as the
   ceiling.
3. **Peak memory** (target: the peak-RSS increment for 10**8 samples exceeds the
   one for 10**6 by at most 1 MiB; 99e6 more z's are 792 MB of float64).  Each run
   is a fresh interpreter; the increment is
   ``ru_maxrss`` after the run minus ``ru_maxrss`` after the imports.  These runs
   use ``n_in = 10``: with ``n_in = 1000``, 10**8 samples are 10**11 normals, i.e.
   15-20 minutes at a typical ~10 ns per normal, whereas the block (hence the
   memory bound) is the same ``BLOCK_ELEMENTS`` floats either way.  Anything that
   grew with the sample count would grow ~100x here, so the 1 MiB tolerance only
   absorbs allocator noise (a few hundred KiB).  The small run must still give
   every worker a task (10**6 samples = 77 blocks = 3 tasks of 32 blocks), or
   with workers=2 it would hold one block buffer instead of two and the ratio would
   compare unlike runs; ``--quick`` therefore keeps 10**6 and shrinks the large
   run to 10**7.  The children are started through ``/bin/sh`` (see
   :func:`memory_run`).

Timing sides are interleaved (fill, simulate w=1, simulate w=2, 2-thread fill; the
order is reversed every other round) and the best of ``--repeats`` rounds is kept
for each, so machine noise hits both sides of every ratio alike.

Sanity checks (not performance targets): every simulate run with the same seed must
give bit-identical mean and variance whatever ``workers`` is, and the memory runs
must report the right ``n``.  If one fails, the summary is still printed and then
an ``AssertionError`` is raised.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

import satsim
from satsim.montecarlo import BLOCK_ELEMENTS

WEIGHTS = "nielsen"
N_IN = 1000
ACTIVE = 500
MEM_N_IN = 10

TARGET_FILL_FRACTION = 0.90
TARGET_SPEEDUP = 1.8
#: growth of the peak-RSS increment from the small to the large run; anything that
#: scaled with n_samples (even 1 byte per 100 samples) would exceed it
TARGET_MEM_GROWTH_MIB = 1.0

MIB = 1024.0 * 1024.0

# Child process for the memory runs: imports, baseline peak RSS, one simulate call,
# peak RSS again.  ru_maxrss is in KiB on Linux and in bytes on macOS.
_MEM_CHILD = r"""
import json, resource, sys, time
import numpy as np
import satsim

def hwm():  # VmHWM of this mm (bytes), an independent cross-check; None if no /proc
    try:
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None

n_samples, n_in, workers, seed = (int(a) for a in sys.argv[1:5])
inputs = satsim.inputs.nielsen(n_in, n_in // 2)
unit = 1 if sys.platform == "darwin" else 1024
base, hwm_base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit, hwm()
t0 = time.perf_counter()
res = satsim.simulate("nielsen", inputs, n_samples=n_samples, rng=seed, workers=workers)
seconds = time.perf_counter() - t0
peak, hwm_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit, hwm()
print(json.dumps({"base": base, "peak": peak, "hwm_base": hwm_base, "hwm_peak": hwm_peak,
                  "n": res.n, "seconds": seconds}))
"""


def block_rows(n_in: int) -> int:
    """Rows per block, as :func:`satsim.simulate` computes it."""
    return max(1, BLOCK_ELEMENTS // n_in)


def fill_rows(rng: np.random.Generator, buf: np.ndarray, total_rows: int) -> None:
    """Fill ``total_rows * buf.shape[1]`` standard normals into ``buf``, block by block."""
    rows = buf.shape[0]
    done = 0
    while done < total_rows:
        m = min(rows, total_rows - done)
        rng.standard_normal(out=buf[:m])
        done += m


def time_fill(n_samples: int, n_in: int, seed: int) -> float:
    """Seconds to fill ``n_samples * n_in`` normals on one thread (buffer preallocated)."""
    rng = np.random.default_rng(seed)
    buf = np.empty((block_rows(n_in), n_in))
    t0 = time.perf_counter()
    fill_rows(rng, buf, n_samples)
    return time.perf_counter() - t0


def time_fill_threads(n_samples: int, n_in: int, seed: int, threads: int = 2) -> float:
    """Wall seconds for ``threads`` threads, each with its own PCG64 generator and
    buffer, to fill ``n_samples * n_in`` normals between them."""
    children = np.random.SeedSequence(seed).spawn(threads)
    rngs = [np.random.default_rng(s) for s in children]
    bufs = [np.empty((block_rows(n_in), n_in)) for _ in range(threads)]
    shares = [n_samples // threads + (i < n_samples % threads) for i in range(threads)]
    workers = [
        threading.Thread(target=fill_rows, args=(rngs[i], bufs[i], shares[i]))
        for i in range(threads)
    ]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - t0


def time_simulate(n_samples: int, workers: int, seed: int):
    """Seconds for the benchmarked :func:`satsim.simulate` call, and its result."""
    inputs = satsim.inputs.nielsen(N_IN, ACTIVE)
    t0 = time.perf_counter()
    res = satsim.simulate(WEIGHTS, inputs, n_samples=n_samples, rng=seed, workers=workers)
    return time.perf_counter() - t0, res


def memory_run(n_samples: int, n_in: int, workers: int, seed: int) -> dict:
    """Peak-RSS figures of one simulate call in a fresh interpreter."""
    # Not a direct subprocess.run([python, ...]): CPython starts children with vfork, and
    # Linux then carries the *parent's* peak RSS into the child's ru_maxrss (the
    # signal struct's maxrss is updated from the old mm at execve), which would mask
    # the child's own, smaller peak.  A shell that forks the interpreter (rather than
    # exec'ing it, hence the "; exit") gives the child a fresh ru_maxrss.
    cmd = [sys.executable, "-c", _MEM_CHILD, str(n_samples), str(n_in), str(workers), str(seed)]
    proc = subprocess.run(
        ["/bin/sh", "-c", '"$@"; exit $?', "sh", *cmd],
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["increment"] = out["peak"] - out["base"]
    return out


def loadavg() -> str:
    try:
        return "load average {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg())
    except OSError:
        return "load average unavailable"


def fmt_seconds(t: float) -> str:
    return f"{t:9.3f} s"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true",
                        help="10**6 z's, and memory runs of 10**6 vs 10**7 samples")
    parser.add_argument("--n-samples", type=int, default=None,
                        help="z's per simulate call (default 10**7; 10**6 with --quick)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved rounds; the best of each side is kept (default 3)")
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--check", action="store_true",
                        help="exit with status 1 if any target is missed")
    args = parser.parse_args(argv)

    n_samples = args.n_samples or (10**6 if args.quick else 10**7)
    mem_small, mem_large = (10**6, 10**7) if args.quick else (10**6, 10**8)
    if n_samples < 2 or args.repeats < 1:
        parser.error("--n-samples must be >= 2 and --repeats >= 1")
    cores = os.cpu_count() or 1
    normals = n_samples * N_IN
    seed = args.seed

    print("satsim Monte Carlo benchmark (DESIGN.md section 7)")
    print(f"  python {sys.version.split()[0]}, numpy {np.__version__}, "
          f"satsim {satsim.__version__}, {cores} CPU(s)")
    print(f"  start: {loadavg()}")
    print(f"  simulate({WEIGHTS!r}, nielsen({N_IN}, {ACTIVE}), n_samples={n_samples:.0e}); "
          f"block = {block_rows(N_IN)} rows x {N_IN} (BLOCK_ELEMENTS = {BLOCK_ELEMENTS}); "
          f"{normals:.2e} normals per run")
    print(f"  best of {args.repeats} interleaved rounds")
    print()

    # Warm-up: first-call costs (threadpoolctl's library scan, lazy imports, page faults).
    time_fill(2 * block_rows(N_IN), N_IN, seed)
    time_simulate(2 * block_rows(N_IN), 1, seed)
    time_simulate(2 * block_rows(N_IN), 2, seed)

    sides: dict[str, Callable[[], float]] = {}
    results: dict[int, list] = {1: [], 2: []}

    def sim(workers: int) -> Callable[[], float]:
        def run() -> float:
            t, res = time_simulate(n_samples, workers, seed)
            results[workers].append(res)
            return t
        return run

    sides["fill, 1 thread"] = lambda: time_fill(n_samples, N_IN, seed)
    sides["simulate, workers=1"] = sim(1)
    sides["simulate, workers=2"] = sim(2)
    sides["fill, 2 threads"] = lambda: time_fill_threads(n_samples, N_IN, seed)
    times: dict[str, list[float]] = {name: [] for name in sides}
    order = list(sides)
    for r in range(args.repeats):
        for name in order if r % 2 == 0 else order[::-1]:
            c0 = time.process_time()
            t = sides[name]()
            cpu = time.process_time() - c0
            times[name].append(t)
            # cpu/wall ~ threads actually running: < 1 (or < 2 for the 2-thread sides)
            # means the run was starved by other load on the machine.
            print(f"  round {r + 1}: {name:<20} {fmt_seconds(t)}   cpu/wall {cpu / t:4.2f}",
                  flush=True)
    best = {name: min(ts) for name, ts in times.items()}
    print()
    print("Best times (context only; the claims are the ratios below)")
    for name, t in best.items():
        print(f"  {name:<20} {fmt_seconds(t)}   {normals / t / 1e6:8.1f} M normals/s   "
              f"{n_samples / t / 1e6:7.3f} M z/s")

    fill_fraction = best["fill, 1 thread"] / best["simulate, workers=1"]
    speedup = best["simulate, workers=1"] / best["simulate, workers=2"]
    fill_scaling = best["fill, 1 thread"] / best["fill, 2 threads"]
    fill_fraction_w2 = best["fill, 2 threads"] / best["simulate, workers=2"]

    # Determinism: every run used the same seed, so all must agree bit for bit.
    ref = results[1][0]
    deterministic = all(
        res.mean == ref.mean and res.var == ref.var and res.n == n_samples
        for res in results[1] + results[2]
    )
    print()
    print(f"  workers=1 mean/var = {ref.mean!r} / {ref.var!r}")
    print(f"  workers=2 mean/var = {results[2][0].mean!r} / {results[2][0].var!r}")

    # Memory: fresh interpreters, n_in = 10 (see the module docstring).
    print()
    print(f"Peak RSS, n_in = {MEM_N_IN} (block = {block_rows(MEM_N_IN)} rows), fresh process each")
    mem: dict[tuple[int, int], dict] = {}
    for workers in (1, 2):
        for n in (mem_small, mem_large):
            m = memory_run(n, MEM_N_IN, workers, seed)
            mem[n, workers] = m
            hwm = ("" if m["hwm_base"] is None else
                   f" [VmHWM incr. {(m['hwm_peak'] - m['hwm_base']) / MIB:.2f}]")
            print(f"  n_samples={n:.0e} workers={workers}: baseline {m['base'] / MIB:6.1f} MiB, "
                  f"peak {m['peak'] / MIB:6.1f} MiB, increment {m['increment'] / MIB:5.2f} MiB"
                  f"{hwm}, n={m['n']} ({m['seconds']:.1f} s)", flush=True)
    mem_ratio = {
        w: mem[mem_large, w]["increment"] / max(mem[mem_small, w]["increment"], 1)
        for w in (1, 2)
    }
    n_ok = all(m["n"] == n for (n, _), m in mem.items())
    per_task = block_rows(MEM_N_IN) * getattr(satsim.montecarlo, "_BLOCKS_PER_CHUNK", 32)
    if -(-mem_small // per_task) < 2:
        print(f"  note: {mem_small:.0e} samples is a single task, so workers=2 ran on one "
              f"thread there; its memory ratio compares unlike runs")

    print()
    print(f"  end: {loadavg()}")
    print()

    # rows: metric, measured, target, passed (None = context only, no target)
    rows: list[tuple[str, str, str, bool | None]] = [
        ("z throughput / raw fill rate (w=1)", f"{fill_fraction:.3f}",
         f">= {TARGET_FILL_FRACTION:.2f}", fill_fraction >= TARGET_FILL_FRACTION),
        ("speed-up workers=2 / workers=1", f"{speedup:.3f}",
         f">= {TARGET_SPEEDUP:.2f}" if cores >= 2 else "n/a (1 CPU)",
         speedup >= TARGET_SPEEDUP if cores >= 2 else None),
        ("  ceiling: raw fill 2-thread scaling", f"{fill_scaling:.3f}", "context", None),
        ("  z throughput / raw fill rate (w=2)", f"{fill_fraction_w2:.3f}", "context", None),
    ]
    for w in (1, 2):
        inc_s = mem[mem_small, w]["increment"] / MIB
        inc_l = mem[mem_large, w]["increment"] / MIB
        rows.append((
            f"peak RSS growth {mem_small:.0e} -> {mem_large:.0e} (w={w})",
            f"{inc_l - inc_s:+.2f} MiB (x{mem_ratio[w]:.2f})",
            f"<= {TARGET_MEM_GROWTH_MIB:.1f} MiB",
            inc_l - inc_s <= TARGET_MEM_GROWTH_MIB,
        ))
    rows.append(("sanity: w=1 and w=2 mean/var bit-identical", "yes" if deterministic else "NO",
                 "identical", deterministic))
    rows.append(("sanity: memory runs report the right n", "yes" if n_ok else "NO", "exact", n_ok))

    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    widths = [max(w, len(h)) for w, h in zip(widths, ("metric", "measured", "target"), strict=True)]
    header = f"{'metric':<{widths[0]}}  {'measured':>{widths[1]}}  {'target':<{widths[2]}}  result"
    print("Summary")
    print(header)
    print("-" * len(header))
    for metric, measured, target, passed in rows:
        verdict = "-" if passed is None else ("PASS" if passed else "FAIL")
        print(f"{metric:<{widths[0]}}  {measured:>{widths[1]}}  {target:<{widths[2]}}  {verdict}")

    if not (deterministic and n_ok):
        raise AssertionError("sanity check failed: see the summary above")
    failed = any(passed is False for *_, passed in rows)
    return 1 if (args.check and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
