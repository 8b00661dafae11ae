"""Gradient-moments benchmark: per-example gradient norms of a probe batch, side by side.

Run::

    python benchmarks/bench_gradients.py            # 200 and 1000 probe examples
    python benchmarks/bench_gradients.py --quick    # 200 probe examples
    python benchmarks/bench_gradients.py --threads 2

What :func:`satsim.gradients.gradient_moments` measures for each of its networks:
‖δ^l‖² and ‖∂C/∂W^l‖² = ‖δ^l‖²‖a^{l−1}‖² of every probe example at every
layer, with C = u·z^L (``cost="direction"``).
The networks are the function's defaults: ``[w] * (depth + 1) + [10]`` with tanh hidden
layers, a linear output, ``"nielsen"`` weights, standard normal biases, float64.
Contenders, on the same network, the same probe batch X (standard normal rows) and the
same directions u, in one run, taking turns (best of ``--repeats`` each):

* ``before``  — the per-example loop ``gradient_moments`` used until issue 19: one
  forward pass for the targets, then ``Network._backprop`` on a batch of one row per
  example and the norms of the gradient matrices (copied here to measure the speedup);
* ``now``     — ``satsim.gradients._signal._per_example_norms``, the call ``gradient_moments``
  makes per network: one batched forward and backward pass over the probe rows;
* ``torch``   — PyTorch CPU (``torch==2.13.0``; skipped if absent), ``nn.Linear`` +
  ``nn.Tanh`` with the same weights, float64: forward on the whole batch and
  ``(z_L * u).sum().backward()``, the batched backward (it forms the summed weight
  gradients, not per-example norms);
* ``torch-δ`` — the same per-example quantities in PyTorch: ``torch.autograd.grad`` of
  that cost with respect to every layer's z (no weight gradients) and the row norms.

NumPy's BLAS (``threadpoolctl``) and torch run with the same ``--threads`` (default 1).
Target (issue 19 §5): ``now`` within 1.5× of ``torch``.  The ratios are printed with the
agreement of the contenders' numbers (max relative difference), and, per architecture,
the share of a default ``gradient_moments`` call (100 probes, 10 networks) spent in the
measurement.  Ratios only: nothing here asserts an absolute time.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from satsim.gradients import _signal as gr  # the private parts timed below
from satsim.nn import Network


def network(depth: int, width: int, seed: int = 0) -> Network:
    """The network ``gradient_moments`` builds with its defaults (cost="direction")."""
    return Network([width] * (depth + 1) + [10], activation="tanh", output="linear",
                   cost="quadratic", init="nielsen", bias_init="standard_normal", rng=seed)


def backprop_example_before(net: Any, x: Any, y: Any) -> tuple[list, list]:
    """``satsim.gradients.backprop_example`` before issue 19 (Network._backprop, 1 row)."""
    x = np.asarray(x, dtype=net.dtype)
    y = np.asarray(y, dtype=net.dtype)
    if x.shape != (net.sizes[0],):
        raise ValueError(f"`x` must have shape ({net.sizes[0]},) (one input row); "
                         f"got an array of shape {x.shape}")
    if y.shape != (net.sizes[-1],):
        raise ValueError(f"`y` must have shape ({net.sizes[-1]},) (one target row); "
                         f"got an array of shape {y.shape}")
    gw, gb = net._backprop(x[None, :], y[None, :])
    return list(gw), list(gb)


def norms_before(net: Network, X: np.ndarray, U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The measurement loop of ``gradient_moments`` before issue 19, for one network."""
    n, n_layers = X.shape[0], len(net.weights)
    d_sq, w_sq = np.empty((n, n_layers)), np.empty((n, n_layers))
    Y = net.feedforward(X) - U  # quadratic cost, linear output: δ^L = z^L − y = u
    for i in range(n):
        gw, gb = backprop_example_before(net, X[i], Y[i])
        d_sq[i] = [float(g @ g) for g in gb]
        w_sq[i] = [float(np.sum(g * g)) for g in gw]
    return d_sq, w_sq


def norms_now(net: Network, X: np.ndarray, U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return gr._per_example_norms(net, X, lambda z, a, rows: U[rows])


def torch_model(net: Network) -> Any:
    import torch

    layers: list[Any] = []
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        lin = torch.nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i < len(net.weights) - 1:
            layers.append(torch.nn.Tanh())
    return torch.nn.Sequential(*layers)


def torch_backward(model: Any, X: Any, U: Any) -> None:
    """The batched backward: forward on all rows, C = Σ_r u_r·z^L_r, ``backward()``."""
    model.zero_grad(set_to_none=True)
    (model(X) * U).sum().backward()


def torch_deltas(model: Any, X: Any, U: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-example ‖δ^l‖² and ‖∂C/∂W^l‖² = ‖δ^l‖²‖a^{l−1}‖² from autograd w.r.t. z."""
    import torch

    zs, a_sq, a = [], [], X
    for m in model:
        if isinstance(m, torch.nn.Linear):
            a_sq.append((a.detach() * a.detach()).sum(1))
            a = m(a)
            zs.append(a)
        else:
            a = m(a)
    deltas = torch.autograd.grad((a * U).sum(), zs)
    d_sq = torch.stack([(d * d).sum(1) for d in deltas], 1)
    return d_sq.detach().numpy(), (d_sq * torch.stack(a_sq, 1)).detach().numpy()


def clock(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def round_robin(runs: dict[str, Any], repeats: int) -> dict[str, float]:
    """Best of ``repeats`` per contender, the contenders taking turns in each round, so a
    change of load on the machine falls on all of them alike."""
    t = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for k, fn in runs.items():
            t[k] = min(t[k], clock(fn))
    return t


def max_rel(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> float:
    return max(float(np.max(np.abs(x - y) / np.abs(y))) for x, y in zip(a, b, strict=True))


def measurement_share(depth: int, width: int) -> tuple[float, float]:
    """(seconds of a default gradient_moments call, fraction in _per_example_norms)."""
    inner, spent = gr._per_example_norms, [0.0]

    def timed(*args: Any) -> Any:
        t = time.perf_counter()
        out = inner(*args)
        spent[0] += time.perf_counter() - t
        return out

    gr._per_example_norms = timed  # type: ignore[assignment]
    try:
        total = clock(lambda: gr.gradient_moments([width] * (depth + 1) + [10], rng=0))
    finally:
        gr._per_example_norms = inner  # type: ignore[assignment]
    return total, spent[0] / total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 probe examples only")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads of NumPy and torch.set_num_threads (default 1)")
    args = parser.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(args.threads)
        have_torch = True
    except ImportError:
        have_torch = False
        print("torch not installed: PyTorch comparison skipped (pip install torch==2.13.0)")
    with threadpool_limits(args.threads):
        blas = ", ".join(f"{i['internal_api']} {i['num_threads']} threads"
                         for i in threadpool_info() if i["user_api"] == "blas")
        print(f"gradient_moments defaults: tanh [w]*(depth+1)+[10], linear output, nielsen "
              f"weights, N(0,1) biases, float64, C = u·z^L; numpy BLAS: {blas}; torch "
              f"{torch.__version__ if have_torch else '-'} ({args.threads} threads); best of "
              f"{args.repeats}", flush=True)
        probes = (200,) if args.quick else (200, 1000)
        rows = []
        for depth in (10, 30):
            for width in (100, 500):
                net = network(depth, width)
                for n in probes:
                    rng = np.random.default_rng(1)
                    X, U = rng.standard_normal((n, width)), rng.standard_normal((n, 10))
                    runs = {"before": lambda a=(net, X, U): norms_before(*a),
                            "now": lambda a=(net, X, U): norms_now(*a)}
                    # agreement on the first 50 rows (the loop is slow)
                    agree = {"before": max_rel(norms_before(net, X[:50], U[:50]),
                                               norms_now(net, X[:50], U[:50]))}
                    if have_torch:
                        model = torch_model(net)
                        Xt, Ut = torch.from_numpy(X), torch.from_numpy(U)
                        runs["torch"] = lambda m=model, a=Xt, u=Ut: torch_backward(m, a, u)
                        runs["torch-δ"] = lambda m=model, a=Xt, u=Ut: torch_deltas(m, a, u)
                        agree["torch-δ"] = max_rel(torch_deltas(model, Xt, Ut),
                                                   norms_now(net, X, U))
                    t = round_robin(runs, args.repeats)
                    rows.append((depth, width, n, t, agree))
                    print(f"  depth {depth} width {width} probes {n}: "
                          + ", ".join(f"{k} {v:.4f} s" for k, v in t.items())
                          + "; max rel. difference from now: "
                          + ", ".join(f"{k} {v:.1e}" for k, v in agree.items()), flush=True)
        print(f"\n{'depth':>5}{'width':>6}{'probes':>7}{'now s':>9}{'before/now':>11}"
              f"{'now/torch':>10}{'now/torch-δ':>12}")
        for depth, width, n, t, _ in rows:
            tor = f"{t['now'] / t['torch']:10.2f}" if "torch" in t else f"{'-':>10}"
            tdl = f"{t['now'] / t['torch-δ']:12.2f}" if "torch-δ" in t else f"{'-':>12}"
            print(f"{depth:5d}{width:6d}{n:7d}{t['now']:9.4f}{t['before'] / t['now']:11.1f}"
                  f"{tor}{tdl}")
        print("\ngradient_moments with its defaults (100 probes, 10 networks, float64):")
        for depth in (10, 30):
            for width in (100, 500):
                total, share = measurement_share(depth, width)
                print(f"  depth {depth} width {width}: {total:.2f} s, of which the batched "
                      f"measurement {100 * share:.0f}% (the rest: drawing the networks and "
                      f"the mean-field prediction per input)", flush=True)
    print("\nSummary")
    for depth, width, n, t, _ in rows:
        if "torch" in t:
            v = t["now"] / t["torch"]
            print(f"  {f'now / torch batched backward, d{depth} w{width} n{n}':58}{v:8.2f}  "
                  f"target <= 1.5   {'PASS' if v <= 1.5 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
