"""Mean-field phase diagram benchmark: vectorised quadrature vs a per-point scalar baseline.

Run::

    python benchmarks/bench_meanfield.py            # 100 x 100 tanh grid
    python benchmarks/bench_meanfield.py --n 50     # smaller grid

Both sides are measured in the same run.  The baseline is what one would write
without satsim: for each grid point, ``scipy.optimize.brentq`` on the length map with
``scipy.integrate.quad`` for every Gaussian integral, then χ1 by ``quad``.  It is
timed on a random sample of grid points and its per-point cost extrapolated to
the grid; the claim is the ratio (baseline / vectorised) and the agreement of the
two (max relative difference of q* and χ1 on the sampled points).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import integrate, optimize, stats

from satsim import activations, meanfield


def _expect(f, q):
    s = math.sqrt(q)
    def g(z):
        return f(s * z) * stats.norm.pdf(z)
    return sum(integrate.quad(g, a, b, epsabs=1e-13, epsrel=1e-11, limit=200)[0]
               for a, b in [(-12.0, 0.0), (0.0, 12.0)])


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="grid size per axis (default 100)")
    parser.add_argument("--sample", type=int, default=25, help="points for the scalar baseline")
    args = parser.parse_args(argv)
    act = activations.get("tanh")
    w = np.linspace(0.1, 4.0, args.n)
    b = np.linspace(0.0, 0.5, args.n)

    t0 = time.perf_counter()
    fast = meanfield.phase_diagram(w, b, activation=act, correlation=False)
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    full = meanfield.phase_diagram(w, b, activation=act, correlation=True)
    t_full = time.perf_counter() - t0

    rng = np.random.default_rng(0)
    idx = rng.choice(args.n * args.n, size=args.sample, replace=False)
    t0 = time.perf_counter()
    worst_q = worst_chi = 0.0
    for k in idx:
        i, j = divmod(int(k), args.n)
        q, chi = scalar_point(act, w[j], b[i])
        worst_q = max(worst_q, abs(q - fast.q_star[i, j]) / max(q, 1e-9))
        worst_chi = max(worst_chi, abs(chi - fast.chi1[i, j]) / chi)
    t_scalar = (time.perf_counter() - t0) / args.sample * args.n * args.n

    print(f"tanh phase diagram, {args.n} x {args.n} grid")
    print(f"  vectorised q*, chi1            : {t_fast:8.2f} s")
    print(f"  vectorised q*, chi1, c*, xi_c  : {t_full:8.2f} s")
    print(f"  scalar quad+brentq (extrapol.) : {t_scalar:8.2f} s")
    print(f"  speed-up (scalar / vectorised q*, chi1): {t_scalar / t_fast:8.1f}x")
    print(f"  agreement on {args.sample} sampled points: max rel. diff q* {worst_q:.1e}, "
          f"chi1 {worst_chi:.1e}")
    chaotic = int((full.chi1 > 1).sum())
    print(f"  chaotic points: {chaotic} / {args.n * args.n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
