"""Batched-training benchmark: S networks trained as one stack vs one by one.

Run::

    python benchmarks/bench_batched.py                  # the full grid (a few minutes)
    python benchmarks/bench_batched.py --quick          # S = 1, 8 and width 64 only
    python benchmarks/bench_batched.py --device cuda    # torch contenders on the GPU
    python benchmarks/bench_batched.py --threads 2      # BLAS and torch threads

Workload (the trainability study's): tanh MLPs 784-w×30-10 (30 hidden layers of
width w ∈ {64, 300}), softmax output, log-likelihood cost, plain SGD at batch
B ∈ {32, 128}, on the first rows of Fashion-MNIST, each network with its own
mini-batch rows.  For S ∈ {1, 8, 32} networks, measured side by side in one run with
the same initial weights, rows, dtype (float64; float32 for torch on CUDA) and
threads (``--threads``, default 1, applied to NumPy's BLAS through threadpoolctl and
to torch through ``torch.set_num_threads``):

* ``np-1by1``  — ``Network.fit(..., telemetry=False, monitor_training=False,
  divergence=None)`` on each network in turn: the study's per-cell call (the fused
  NumPy step);
* ``np-stack`` — :func:`satsim.nn.batched.train_stack` (``np.matmul`` on stacks);
* ``torch-1by1`` — ``train_stack(backend="torch")`` on each network alone;
* ``torch-stack`` — ``train_stack(backend="torch")`` on all S at once (on CUDA with
  its captured step; ``--device cuda`` adds ``cuda-nograph``, the same eagerly).

Each cell of the table is seconds per network-step: (best time of ``steps`` steps −
best time of one step) / ((steps − 1) × S), best of ``--repeats`` each, so per-call
costs (input checks, stacking, moving data to the device, a CUDA graph's capture)
cancel and the steady state of a long run is what is compared.  The ratios are
one-by-one over stacked for each backend, and NumPy stacked over torch stacked:
above 1 means the second is faster.
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from satsim import data
from satsim.nn import Network
from satsim.nn.batched import train_stack

DEPTH, ETA = 30, 0.01


def networks(S, width, dtype=np.float64):
    """S freshly initialized study networks (σ_w² = 1, σ_b² = 0.05: critical tanh)."""
    from satsim import init

    w = init.VarianceScaling(scale=1.0, mode="fan_in", distribution="normal")
    b = init.get("normal", std=0.05 ** 0.5)
    return [Network([784, *[width] * DEPTH, 10], activation="tanh", output="softmax",
                    cost="log_likelihood", init=w, bias_init=b, dtype=dtype, rng=s)
            for s in range(S)]


def steps_for(width, batch, S, budget):
    """Steps that keep one measurement near ``budget`` flops (at least 3)."""
    flops = 6 * batch * (784 * width + (DEPTH - 1) * width * width + 10 * width) * S
    return max(3, int(budget / flops))


def timed(fn, make, steps, repeats):
    """Seconds per step of ``fn(make(), steps)``: the best time of ``steps`` steps minus
    the best time of one step, over ``steps - 1``, so that the per-call costs (input
    checks, stacking, moving data to the device, a CUDA graph's capture) cancel;
    ``make`` (fresh networks) is not timed."""
    best = {}
    for k in (1, steps):
        best[k] = np.inf
        for _ in range(repeats):
            nets = make()
            t = time.perf_counter()
            fn(nets, k)
            best[k] = min(best[k], time.perf_counter() - t)
    return max(best[steps] - best[1], 0.0) / (steps - 1)


def one_config(X, y, width, batch, S, steps, args, torch_ok):
    n = X.shape[0]
    rng = np.random.default_rng(0)
    idx = np.stack([rng.choice(n, size=(steps, batch)) for _ in range(S)])

    def make():
        return networks(S, width)

    def np_1by1(nets, k):
        for s, net in enumerate(nets):
            rows = idx[s, :k].ravel()
            net.fit(X[rows], y[rows], epochs=1, batch_size=batch, eta=ETA, telemetry=False,
                    monitor_training=False, divergence=None, rng=s)

    def stack(backend, cuda_graph=None, alone=False):
        def run(nets, k):
            groups = [[s] for s in range(S)] if alone else [list(range(S))]
            for g in groups:
                train_stack([nets[s] for s in g], X, y, batches=idx[g, :k], eta=ETA,
                            backend=backend, cuda_graph=cuda_graph,
                            device=args.device if backend == "torch" else None)
        return run

    def t(fn):
        return timed(fn, make, steps, args.repeats) / S  # per network-step

    out = {"np-1by1": t(np_1by1), "np-stack": t(stack("numpy"))}
    if torch_ok:
        out["torch-1by1"] = t(stack("torch", alone=True))
        out["torch-stack"] = t(stack("torch"))
        if args.device.startswith("cuda"):
            out["cuda-nograph"] = t(stack("torch", cuda_graph=False))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="S = 1, 8 and width 64 only")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, …)")
    parser.add_argument("--budget", type=float, default=2e9,
                        help="flops per measurement (sets the number of steps)")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    try:
        import torch

        torch.set_num_threads(args.threads)
        torch_ok = True
        print(f"torch {torch.__version__}, {args.threads} thread(s), device {args.device}")
    except ImportError:
        torch_ok = False
        print("torch not installed: torch contenders skipped (pip install torch==2.13.0)")
    ds = data.load("fashion-mnist")
    X, y = ds.train[0][:10_000], ds.train[1][:10_000]
    print(f"data: {ds.source}; tanh 784-w×{DEPTH}-10, softmax + log-likelihood, float64 "
          f"(float32 for torch on CUDA), {args.threads} BLAS thread(s)\n")
    widths, Ss = ((64,), (1, 8)) if args.quick else ((64, 300), (1, 8, 32))
    names = ["np-1by1", "np-stack", "torch-1by1", "torch-stack", "cuda-nograph"]
    head = (f"{'w':>4}{'B':>5}{'S':>4}{'steps':>6} |" + "".join(f"{k:>13}" for k in names)
            + " | 1by1/stack np  torch   np/torch stack")
    print("seconds per network-step (best of repeats)")
    print(head)
    with threadpool_limits(limits=args.threads):
        for width, batch, S in itertools.product(widths, (32, 128), Ss):
            steps = steps_for(width, batch, S, args.budget)
            r = one_config(X, y, width, batch, S, steps, args, torch_ok)
            cells = "".join(f"{r[k]:13.2e}" if k in r else f"{'-':>13}" for k in names)
            ratio_np = r["np-1by1"] / r["np-stack"]
            ratio_t = (f"{r['torch-1by1'] / r['torch-stack']:7.2f}" if torch_ok
                       else f"{'-':>7}")
            np_t = (f"{r['np-stack'] / r['torch-stack']:10.2f}" if torch_ok else f"{'-':>10}")
            print(f"{width:4d}{batch:5d}{S:4d}{steps:6d} |{cells} | {ratio_np:13.2f}"
                  f"{ratio_t}{np_t}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
