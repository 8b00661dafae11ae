"""Mean-field phase diagram benchmark: the current implementation, the one it replaced and
a per-point scalar baseline, measured side by side in one run.

Run::

    python benchmarks/bench_meanfield.py            # 100 x 100 tanh grid
    python benchmarks/bench_meanfield.py --n 50     # smaller grid

Reported
  * time of ``phase_diagram`` without (q*, χ1) and with (q*, χ1, c*, ξ_c) the
    correlation map, for the previous implementation (``satsim/meanfield.py`` at commit
    ``PREVIOUS``, read with ``git show``; skipped if git or the commit is unavailable)
    and the current one, and their ratio (old / new);
  * the scalar baseline one would write without satsim — for each grid point
    ``scipy.optimize.brentq`` on the length map with ``scipy.integrate.quad`` for every
    Gaussian integral, then χ1 by ``quad`` — timed on sampled points and extrapolated;
  * agreement with that independent computation: q* and χ1 on the sampled points, and
    c*, ξ_c on a few chaotic points (nested ``quad`` for the 2-D integrals, ``brentq``
    for c*), for both implementations;
  * grid/point consistency: the sigmoid at (σ_w², σ_b²) = (150, 0.05) inside a 9 x 9 grid
    against the point functions, for both implementations.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np
from scipy import integrate, optimize, stats

from satsim import activations, meanfield

#: the last commit of the previous implementation (48-node Gauss–Hermite on grids)
PREVIOUS = "10152c0"
ROOT = Path(__file__).resolve().parents[1]


def load_previous() -> ModuleType | None:
    try:
        source = subprocess.run(["git", "show", f"{PREVIOUS}:satsim/meanfield.py"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    spec = importlib.util.spec_from_loader("satsim_meanfield_previous", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    exec(compile(source, f"{PREVIOUS}:satsim/meanfield.py", "exec"), module.__dict__)
    return module


def _expect(f, q):
    s = math.sqrt(q)

    def g(z):
        return f(s * z) * stats.norm.pdf(z)
    return sum(integrate.quad(g, a, b, epsabs=1e-13, epsrel=1e-11, limit=200)[0]
               for a, b in [(-12.0, 0.0), (0.0, 12.0)])


def _expect2(f, g, q, c):
    """E f(u1) g(u2) by nested quad: outer over u1, inner over u2 | u1 (breakpoint at 0)."""
    s = math.sqrt(q)
    sd = math.sqrt((1 - c) * (1 + c))

    def inner(u1):
        m, sig = c * u1, s * sd
        lo, hi = m - 12 * sig, m + 12 * sig
        pts = [0.0] if lo < 0 < hi else None
        return integrate.quad(lambda y: g(y) * stats.norm.pdf(y, m, sig), lo, hi, points=pts,
                              epsabs=1e-14, epsrel=1e-12, limit=200)[0]

    return integrate.quad(lambda u: f(u) * inner(u) * stats.norm.pdf(u, 0, s), -12 * s, 12 * s,
                          points=[0.0], epsabs=1e-14, epsrel=1e-12, limit=200)[0]


def scalar_point(act, sw, sb):
    def G(q):
        return sw * _expect(lambda u: float(act.fn(u)) ** 2, q) + sb - q

    hi = 1.0
    while G(hi) > 0:
        hi *= 2
    # the stable fixed point reached from q0 = 1: q = 0 is a root when σ_b² = 0, but
    # unstable in the chaotic phase, so bracket away from it
    lo = 1e-12
    q = optimize.brentq(G, lo, hi, xtol=1e-15) if G(lo) > 0 else 0.0
    chi = sw * _expect(lambda u: float(act.grad(u)) ** 2, q)
    return q, chi


def scalar_correlation(act, sw, sb, q):
    def fn(u):
        return float(act.fn(u))

    def grad(u):
        return float(act.grad(u))

    def h(c):
        return (sw * _expect2(fn, fn, q, c) + sb) / q - c

    cstar = optimize.brentq(h, 1e-9, 1 - 1e-9, xtol=1e-13) if h(1e-9) > 0 else 0.0
    xi_c = -1 / math.log(sw * _expect2(grad, grad, q, cstar))
    return cstar, xi_c


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="grid size per axis (default 100)")
    parser.add_argument("--sample", type=int, default=25, help="points for the scalar baseline")
    parser.add_argument("--corr-sample", type=int, default=3,
                        help="chaotic points for the nested-quad c*, xi_c check")
    args = parser.parse_args(argv)
    act = activations.get("tanh")
    w = np.linspace(0.1, 4.0, args.n)
    b = np.linspace(0.0, 0.5, args.n)
    previous = load_previous()
    impls = {"new": meanfield} if previous is None else {"old": previous, "new": meanfield}

    times: dict[str, dict[str, float]] = {}
    grids = {}
    for name, mod in impls.items():  # each side once, in the same process and run
        _, t_fast = timed(mod.phase_diagram, w, b, activation=act, correlation=False)
        grids[name], t_full = timed(mod.phase_diagram, w, b, activation=act, correlation=True)
        times[name] = {"fast": t_fast, "full": t_full}

    rng = np.random.default_rng(0)
    idx = rng.choice(args.n * args.n, size=args.sample, replace=False)
    t0 = time.perf_counter()
    worst = {name: [0.0, 0.0] for name in impls}
    for k in idx:
        i, j = divmod(int(k), args.n)
        q, chi = scalar_point(act, w[j], b[i])
        for name, res in grids.items():
            worst[name][0] = max(worst[name][0], abs(q - res.q_star[i, j]) / max(q, 1e-9))
            worst[name][1] = max(worst[name][1], abs(chi - res.chi1[i, j]) / chi)
    t_scalar = (time.perf_counter() - t0) / args.sample * args.n * args.n

    print(f"tanh phase diagram, {args.n} x {args.n} grid")
    for name in impls:
        print(f"  {name}: q*, chi1 {times[name]['fast']:7.2f} s   "
              f"q*, chi1, c*, xi_c {times[name]['full']:7.2f} s")
    if previous is None:
        print(f"  (previous implementation {PREVIOUS} not available: no old/new ratio)")
    else:
        print(f"  speed-up old/new: q*, chi1 {times['old']['fast'] / times['new']['fast']:5.2f}x"
              f"   with c*, xi_c {times['old']['full'] / times['new']['full']:5.2f}x")
    print(f"  scalar quad+brentq (extrapolated) {t_scalar:8.1f} s = "
          f"{t_scalar / times['new']['fast']:.0f}x the new q*, chi1")
    for name in impls:
        print(f"  {name}: max rel. diff from scalar on {args.sample} points: "
              f"q* {worst[name][0]:.1e}, chi1 {worst[name][1]:.1e}")

    chaotic = np.flatnonzero((grids["new"].chi1 > 1).ravel())
    picks = rng.choice(chaotic, size=min(args.corr_sample, chaotic.size), replace=False)
    for k in picks:
        i, j = divmod(int(k), args.n)
        q = float(grids["new"].q_star[i, j])
        cstar, xi_c = scalar_correlation(act, w[j], b[i], q)
        line = f"  (σ_w², σ_b²) = ({w[j]:.3f}, {b[i]:.3f}): nested quad c* {cstar:.10f}"
        for name, res in grids.items():
            line += (f" | {name} Δc* {res.c_star[i, j] - cstar:+.1e},"
                     f" rel Δξ_c {res.xi_c[i, j] / xi_c - 1:+.1e}")
        print(line)

    sig_w, sig_b = np.linspace(140, 160, 9), np.linspace(0, 0.1, 9)
    for name, mod in impls.items():
        grid = mod.phase_diagram(sig_w, sig_b, activation="sigmoid")
        c_pt = mod.correlation_fixed_point(150.0, 0.05, activation="sigmoid")
        xi_pt = mod.depth_scales(150.0, 0.05, activation="sigmoid")[1]
        print(f"  {name}: sigmoid (150, 0.05) in a 9 x 9 grid: c* {grid.c_star[4, 4]:.9f}"
              f" (point {c_pt:.9f}), xi_c {grid.xi_c[4, 4]:.6f} (point {xi_pt:.6f})")
    print(f"  chaotic points: {chaotic.size} / {args.n * args.n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
