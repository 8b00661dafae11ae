"""Training benchmark: one epoch of 784-30-10 (sigmoid, cross-entropy, L2) side by side.

Run::

    python benchmarks/bench_training.py            # 50,000 examples (Fashion-MNIST)
    python benchmarks/bench_training.py --quick    # 10,000 examples
    python benchmarks/bench_training.py --deep     # deep narrow tanh networks (issue 14)
    python benchmarks/bench_training.py --deep --quick
    python benchmarks/bench_training.py --monitoring   # cost of fit's defaults (issue 19)
    python benchmarks/bench_training.py --blas-scaling # one BLAS thread vs all cores

BLAS-scaling mode: the unmonitored ``Network.fit`` of 784-H-H-10 tanh (float32, one
epoch on the first 5,000 Fashion-MNIST rows) under one OpenBLAS thread and under as
many as the machine has cores, taking turns, for H = 100–2000 and batch 16/64/256:
the ratio all-cores/one says when a user should limit BLAS to one thread (README).

Monitoring mode (issue 19 §5): what ``Network.fit``'s defaults (telemetry, training-set
monitoring and the divergence check, with their ``"auto"`` sizes) cost against the
unmonitored fit (``telemetry=False, monitor_training=False``, no validation) and against
PyTorch CPU, on tanh MLPs 784-H-H-10 (H = 100, 300, 1000; 1 and 3 epochs) and
784-100×30-10 (1 epoch), softmax + log-likelihood, float32, batch 64, the first 5,000
Fashion-MNIST training rows, same initial weights.  Contenders, taking turns in each
round (best of ``--repeats``): ``unmonitored``, ``defaults`` (``fit`` as a user calls
it) and ``torch`` (a plain PyTorch SGD loop without monitoring, ``nn.Linear`` +
``nn.Tanh``, ``CrossEntropyLoss``), all with ``--threads`` threads (NumPy's BLAS under
``threadpoolctl``, ``torch.set_num_threads``).  Targets: defaults ≤ 1.15× unmonitored
and ≤ 1.0× torch.

Deep mode (the trainability study's workload): tanh MLPs 784-w-…-w-10 with ``depth``
hidden layers of width ``w``, softmax output and log-likelihood cost, plain SGD, on the
first rows of Fashion-MNIST (as many as keep one epoch near a fixed amount of work,
at least 8 batches).  Contenders, same initial weights, data, batch and dtype:

* ``satsim``   — ``Network.fit(..., telemetry=False, monitor_training=False,
  divergence=None)``, the call the trainability study makes;
* ``defaults`` — ``Network.fit`` with its defaults (telemetry, training-set and
  divergence evaluations at epochs 0 and 1): what a user pays for monitoring;
* ``numpy``    — a hand-vectorised NumPy epoch (preallocated buffers, ``out=``,
  in-place updates, the same maths);
* ``torch-1t`` / ``torch-2t`` — PyTorch CPU with ``torch.set_num_threads(1)`` / ``(2)``:
  ``nn.Linear`` + ``nn.Tanh`` layers, ``CrossEntropyLoss`` (mean over the batch), SGD.

Targets (issue 14 §3): satsim float32 no slower than torch (1 thread), and within 1.3×
of the hand-vectorised NumPy epoch.  ``--blas-threads N`` runs the NumPy contenders
under ``threadpoolctl.threadpool_limits(N)`` (the study uses 1).

Contenders, all on the same data, network, batch size and dtype, in one run:

* ``satsim``   — ``satsim.nn.Network.fit(..., telemetry=False, monitor_training=False)``;
* ``loop``     — the per-example textbook loop, the way Nielsen's network2.py trains:
  forward and backward on one 784×1 column at a time, gradients summed over the
  mini-batch (written here as the baseline; float64 as network2 uses);
* ``numpy``    — the best hand-vectorised NumPy epoch I could write (preallocated,
  no checks, in-place updates): the NumPy limit;
* ``torch``    — PyTorch CPU (``torch==2.13.0``; skipped if absent), one thread,
  ``nn.Linear`` layers with the same initial weights, summed BCE-with-logits over
  outputs averaged over the batch, SGD with weight decay λ/n on weights only.

Targets (issue 5): satsim float32 ≥ 8× the float64 loop; satsim float64 within 1.3×
of the hand-vectorised epoch; at batch 10 ≥ 3× faster than torch in the same dtype;
at batch 100 no slower than torch.  Each timing is the best of ``--repeats``
epochs; peak memory is the tracemalloc peak of the NumPy contenders' epoch.
"""

from __future__ import annotations

import argparse
import functools
import os
import time
import tracemalloc

import numpy as np
from scipy import special

from satsim import data
from satsim.nn import Network

ETA, LMBDA = 0.1, 5.0


def init_params(dtype, seed=0):
    net = Network([784, 30, 10], rng=seed, dtype=dtype)
    return [W.copy() for W in net.weights], [b.copy() for b in net.biases]


def epoch_satsim(X, y, batch, dtype, seed):
    net = Network([784, 30, 10], rng=seed, dtype=dtype)
    X = X.astype(dtype)  # data arrive in the network's dtype, as for the others
    t = time.perf_counter()
    net.fit(X, y, epochs=1, batch_size=batch, eta=ETA, lmbda=LMBDA, telemetry=False,
            monitor_training=False, rng=1)
    return time.perf_counter() - t


def fit_time(X, y, validation, epochs, monitored, dtype=np.float32):
    """Wall time of ``fit`` for ``epochs`` epochs at batch 10, validating every epoch;
    ``monitored``: the defaults (telemetry, training-set monitoring, divergence check)
    else all three off."""
    net = Network([784, 30, 10], rng=0, dtype=dtype)
    X = X.astype(dtype)
    kw = {} if monitored else {"telemetry": False, "monitor_training": False,
                               "divergence": None}
    t = time.perf_counter()
    net.fit(X, y, epochs=epochs, batch_size=10, eta=ETA, lmbda=LMBDA, validation=validation,
            rng=1, **kw)
    return time.perf_counter() - t


def per_epoch_monitoring(X, y, validation, repeats):
    """(one record's monitoring work / training epoch, one-epoch fit ratio).

    One record's work is what ``fit`` adds at epoch 0 and after each epoch with its
    defaults: the difference of two ``epochs=0`` fits (one record each, best of
    ``repeats``), with the defaults and with the monitoring off, both validating (the
    validation pass, which the user asked for, is on both sides).  (A difference of
    whole-fit times is too noisy on a shared machine.)  The one-epoch ratio also pays
    the epoch-0 record."""
    X32 = X.astype(np.float32)

    def zero(monitored):
        kw = {} if monitored else {"telemetry": False, "monitor_training": False,
                                   "divergence": None}
        net = Network([784, 30, 10], rng=0, dtype=np.float32)
        t = time.perf_counter()
        net.fit(X32, y, epochs=0, batch_size=10, eta=ETA, lmbda=LMBDA, validation=validation,
                rng=1, **kw)
        return time.perf_counter() - t

    t = round_robin({"off": lambda: zero(False), "on": lambda: zero(True)}, repeats)
    work = t["on"] - t["off"]
    epoch = min(fit_time(X, y, validation, 1, False) for _ in range(repeats))
    one = min(fit_time(X, y, validation, 1, True) for _ in range(repeats))
    return work / epoch, one / epoch


def epoch_loop(X, y, batch, dtype, seed):
    """network2.py's update_mini_batch/backprop, one column vector per example."""
    Ws, bs = init_params(dtype, seed)
    bs = [b.reshape(-1, 1) for b in bs]
    n = X.shape[0]
    Xc = X.astype(dtype)
    Y = np.eye(10, dtype=dtype)[y]
    perm = np.random.default_rng(1).permutation(n)
    t = time.perf_counter()
    for s in range(0, n, batch):
        nb = [np.zeros_like(b) for b in bs]
        nw = [np.zeros_like(W) for W in Ws]
        for i in perm[s: s + batch]:
            x = Xc[i].reshape(784, 1)
            yv = Y[i].reshape(10, 1)
            activation, acts, zs = x, [x], []
            for W, b in zip(Ws, bs, strict=True):
                z = W @ activation + b
                zs.append(z)
                activation = special.expit(z)
                acts.append(activation)
            delta = acts[-1] - yv  # cross-entropy
            dnb, dnw = [None, None], [None, None]
            dnb[-1], dnw[-1] = delta, delta @ acts[-2].T
            sp = special.expit(zs[-2]) * (1 - special.expit(zs[-2]))
            delta = (Ws[-1].T @ delta) * sp
            dnb[-2], dnw[-2] = delta, delta @ acts[-3].T
            nb = [a + d for a, d in zip(nb, dnb, strict=True)]
            nw = [a + d for a, d in zip(nw, dnw, strict=True)]
        m = min(batch, n - s)
        Ws = [(1 - ETA * LMBDA / n) * W - (ETA / m) * g for W, g in zip(Ws, nw, strict=True)]
        bs = [b - (ETA / m) * g for b, g in zip(bs, nb, strict=True)]
    return time.perf_counter() - t


def epoch_numpy(X, y, batch, dtype, seed):
    """Hand-vectorised: row batches, preallocated buffers, in-place updates."""
    (W1, W2), (b1, b2) = init_params(dtype, seed)
    n = X.shape[0]
    Y = np.eye(10, dtype=dtype)[y]
    Xd = X.astype(dtype)
    decay = dtype(1 - ETA * LMBDA / n)
    t = time.perf_counter()
    perm = np.random.default_rng(1).permutation(n)  # each epoch reshuffles (inside timing)
    Xs, Ys = Xd[perm], Y[perm]
    for s in range(0, n, batch):
        xb, yb = Xs[s: s + batch], Ys[s: s + batch]
        step = dtype(ETA / xb.shape[0])
        a1 = special.expit(xb @ W1.T + b1)
        d2 = special.expit(a1 @ W2.T + b2)
        d2 -= yb
        d1 = d2 @ W2
        d1 *= a1 * (1 - a1)
        W2 *= decay
        W2 -= step * (d2.T @ a1)
        b2 -= step * d2.sum(0)
        W1 *= decay
        W1 -= step * (d1.T @ xb)
        b1 -= step * d1.sum(0)
    return time.perf_counter() - t


def epoch_torch(X, y, batch, dtype, seed):
    import torch

    torch.set_num_threads(1)
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    (W1, W2), (b1, b2) = init_params(dtype, seed)
    model = torch.nn.Sequential(torch.nn.Linear(784, 30), torch.nn.Sigmoid(),
                                torch.nn.Linear(30, 10)).to(tdtype)
    with torch.no_grad():
        for layer, W, b in ((model[0], W1, b1), (model[2], W2, b2)):
            layer.weight.copy_(torch.from_numpy(W))
            layer.bias.copy_(torch.from_numpy(b))
    n = X.shape[0]
    opt = torch.optim.SGD([
        {"params": [model[0].weight, model[2].weight], "weight_decay": LMBDA / n},
        {"params": [model[0].bias, model[2].bias], "weight_decay": 0.0},
    ], lr=ETA)
    Xd = torch.from_numpy(X.astype(dtype))
    Yd = torch.from_numpy(np.eye(10, dtype=dtype)[y])
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="sum")
    t = time.perf_counter()
    perm = torch.from_numpy(np.random.default_rng(1).permutation(n))
    Xt, Yt = Xd[perm], Yd[perm]
    for s in range(0, n, batch):
        xb, yb = Xt[s: s + batch], Yt[s: s + batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb) / xb.shape[0]
        loss.backward()
        opt.step()
    return time.perf_counter() - t


def best(fn, repeats, *args):
    return min(fn(*args) for _ in range(repeats))


def peak_bytes(fn, *args):
    tracemalloc.start()
    fn(*args)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 examples")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--deep", action="store_true",
                        help="deep narrow tanh networks vs torch and hand-vectorised numpy")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="BLAS threads of the NumPy contenders (default: the library's)")
    parser.add_argument("--monitoring", action="store_true",
                        help="cost of fit's default monitoring vs unmonitored and torch")
    parser.add_argument("--blas-scaling", action="store_true",
                        help="unmonitored fit under 1 BLAS thread vs all cores")
    parser.add_argument("--threads", type=int, default=1,
                        help="--monitoring: threads of every contender (default 1)")
    args = parser.parse_args(argv)
    if args.blas_scaling:
        return main_blas_scaling(args)
    if args.monitoring:
        return main_monitoring(args)
    if args.deep:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(args.blas_threads):
            return main_deep(args)
    ds = data.load("fashion-mnist")
    X, y = ds.train
    if args.quick:
        X, y = X[:10_000], y[:10_000]
    print(f"data: {ds.source}; {X.shape[0]} examples; 784-30-10 sigmoid + cross-entropy, "
          f"L2 λ={LMBDA}, η={ETA}; best of {args.repeats}")
    try:
        import torch

        have_torch = True
        print(f"torch {torch.__version__}, 1 thread")
    except ImportError:
        have_torch = False
        print("torch not installed: PyTorch comparison skipped (pip install torch==2.13.0)")

    loop64 = best(epoch_loop, 1, X, y, 10, np.float64, 0)
    print(f"\nper-example loop, float64, batch 10: {loop64:.2f} s/epoch (network2.py style)")
    rows = []
    for dtype in (np.float32, np.float64):
        for batch in (10, 100):
            sat = best(epoch_satsim, args.repeats, X, y, batch, dtype, 0)
            hand = best(epoch_numpy, args.repeats, X, y, batch, dtype, 0)
            tor = best(epoch_torch, args.repeats, X, y, batch, dtype, 0) if have_torch else None
            rows.append((np.dtype(dtype).name, batch, sat, hand, tor))
    print(f"\n{'dtype':8}{'batch':>6}{'satsim s':>10}{'numpy s':>10}{'torch s':>10}"
          f"{'loop64/sat':>12}{'sat/numpy':>11}{'torch/sat':>11}")
    for name, batch, sat, hand, tor in rows:
        tor_s = f"{tor:10.3f}" if tor else f"{'-':>10}"
        ratio = f"{tor / sat:11.2f}" if tor else f"{'-':>11}"
        print(f"{name:8}{batch:6d}{sat:10.3f}{hand:10.3f}{tor_s}{loop64 / sat:12.1f}"
              f"{sat / hand:11.2f}{ratio}")
    peak_sat = peak_bytes(epoch_satsim, X, y, 10, np.float32, 0)
    peak_hand = peak_bytes(epoch_numpy, X, y, 10, np.float32, 0)
    x32 = X.astype(np.float32).nbytes / 2**20
    print(f"\npeak traced memory of one epoch (float32, batch 10): satsim "
          f"{peak_sat / 2**20:.1f} MiB, hand-vectorised {peak_hand / 2**20:.1f} MiB "
          f"(both include X in float32, {x32:.1f} MiB; the hand-vectorised epoch also its "
          f"shuffled copy, satsim gathers each mini-batch)")

    def get(dt, b):
        return next(r for r in rows if r[0] == dt and r[1] == b)

    # differences of fit times are noisy on a shared machine: at least 5 repeats
    over, one = per_epoch_monitoring(X, y, ds.validation, max(5, args.repeats))
    print(f"\nmonitoring with fit's defaults (float32, batch 10, validation every epoch): "
          f"one record's work {100 * over:.1f}% of a training epoch; a 1-epoch fit "
          f"{one:.2f}x the unmonitored one (epoch 0 is recorded too)")

    # (label, value, target, passes)
    checks = [
        ("satsim float32 (batch 10) vs float64 per-example loop",
         loop64 / get("float32", 10)[2], ">= 8", lambda v: v >= 8),
        ("one record's monitoring work / epoch (defaults, float32)", over, "<= 0.05",
         lambda v: v <= 0.05),
    ]
    for b in (10, 100):
        ratio = get("float64", b)[2] / get("float64", b)[3]
        checks.append((f"satsim / hand-vectorised, float64, batch {b}", ratio, "<= 1.3",
                       lambda v: v <= 1.3))
    if have_torch:
        for dt in ("float32", "float64"):
            checks.append((f"torch / satsim, batch 10, {dt}", get(dt, 10)[4] / get(dt, 10)[2],
                           ">= 3", lambda v: v >= 3))
            checks.append((f"torch / satsim, batch 100, {dt}",
                           get(dt, 100)[4] / get(dt, 100)[2], ">= 1", lambda v: v >= 1))
    print("\nSummary")
    for label, value, target, passes in checks:
        print(f"  {label:58}{value:8.2f}  target {target:7} {'PASS' if passes(value) else 'FAIL'}")
    return 0


# ------------------------------------------------------------------ deep narrow (issue 14)
DEEP_ETA = 0.01


def deep_network(depth, width, dtype, seed=0):
    from satsim import init

    return Network([784, *[width] * depth, 10], activation="tanh", output="softmax",
                   cost="log_likelihood", init=init.VarianceScaling(1.0, "fan_in", "normal"),
                   bias_init=init.get("normal", std=0.1), dtype=dtype, rng=seed)


def deep_satsim(X, y, depth, width, batch, dtype, defaults=False):
    net = deep_network(depth, width, dtype)
    kw = {} if defaults else {"telemetry": False, "monitor_training": False,
                              "divergence": None}
    t = time.perf_counter()
    net.fit(X, y, epochs=1, batch_size=batch, eta=DEEP_ETA, rng=1, **kw)
    return time.perf_counter() - t


def deep_numpy(X, y, depth, width, batch, dtype):
    """Hand-vectorised: preallocated per-layer buffers, ``out=`` everywhere, in place."""
    net = deep_network(depth, width, dtype)
    Ws, bs = net.weights, net.biases
    n, L = X.shape[0], len(Ws)
    Y = np.eye(10, dtype=dtype)[y]
    Z = [np.empty((batch, W.shape[0]), dtype) for W in Ws]    # z, then tanh(z) in place
    D = [np.empty((batch, W.shape[1]), dtype) for W in Ws]    # δ of the layer below
    T = [np.empty((batch, W.shape[1]), dtype) for W in Ws]    # 1 − a²
    G = [np.empty_like(W) for W in Ws]
    gb = [np.empty_like(b) for b in bs]
    t = time.perf_counter()
    perm = np.random.default_rng(1).permutation(n)
    Xs, Ys = X[perm], Y[perm]
    for s in range(0, n, batch):
        xb, yb = Xs[s: s + batch], Ys[s: s + batch]
        m = xb.shape[0]
        step = dtype(DEEP_ETA / m)
        acts, a = [xb], xb
        for i in range(L):
            z = Z[i][:m]
            np.matmul(a, Ws[i].T, out=z)
            z += bs[i]
            if i < L - 1:
                np.tanh(z, out=z)
                acts.append(z)
            a = z
        z -= z.max(axis=1, keepdims=True)  # softmax in place; δ = a − y
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        z -= yb
        delta = z
        for i in range(L - 1, -1, -1):
            if i:
                d = D[i][:m]
                np.matmul(delta, Ws[i], out=d)
            np.matmul(delta.T, acts[i], out=G[i])
            np.sum(delta, axis=0, out=gb[i])
            G[i] *= step
            Ws[i] -= G[i]
            gb[i] *= step
            bs[i] -= gb[i]
            if i:
                tt = T[i][:m]
                np.multiply(acts[i], acts[i], out=tt)
                np.subtract(1, tt, out=tt)
                d *= tt
                delta = d
    return time.perf_counter() - t


def deep_torch(X, y, depth, width, batch, dtype, threads, epochs=1):
    import torch

    torch.set_num_threads(threads)
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    net = deep_network(depth, width, dtype)
    layers = []
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        lin = torch.nn.Linear(W.shape[1], W.shape[0]).to(tdtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i < len(net.weights) - 1:
            layers.append(torch.nn.Tanh())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=DEEP_ETA)
    loss_fn = torch.nn.CrossEntropyLoss()  # mean over the batch: the same η/m step
    n = X.shape[0]
    Xd, yd = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    t = time.perf_counter()
    gen = np.random.default_rng(1)
    for _ in range(epochs):
        perm = torch.from_numpy(gen.permutation(n))
        Xt, yt = Xd[perm], yd[perm]
        for s in range(0, n, batch):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(Xt[s: s + batch]), yt[s: s + batch]).backward()
            opt.step()
    return time.perf_counter() - t


def round_robin(runs, repeats):
    """Best of ``repeats`` per contender, the contenders taking turns in each round, so a
    change of load on the machine falls on all of them alike."""
    t = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for k, fn in runs.items():
            t[k] = min(t[k], fn())
    return t


def main_deep(args) -> int:
    from threadpoolctl import threadpool_info

    ds = data.load("fashion-mnist")
    X, y = ds.train
    depths, work = ((10, 30), 1e9) if args.quick else ((30, 100), 6e9)
    try:
        import torch

        have_torch = True
    except ImportError:
        have_torch = False
        print("torch not installed: PyTorch comparison skipped (pip install torch==2.13.0)")
    blas = ", ".join(f"{i['internal_api']} {i['num_threads']} threads" for i in threadpool_info()
                     if i["user_api"] == "blas")
    print(f"data: {ds.source}; tanh 784-w×depth-10, softmax + log-likelihood, SGD η={DEEP_ETA}; "
          f"numpy BLAS: {blas}; torch {torch.__version__ if have_torch else '-'}; "
          f"best of {args.repeats}")
    rows = []
    for depth in depths:
        for width in (100, 300):
            for batch in (32, 128):
                # rows: about `work` multiply-adds per epoch (3 per weight per example)
                n = int(np.clip(work / (3 * depth * width * width), 8 * batch, X.shape[0]))
                n -= n % batch
                Xn, yn = X[:n], y[:n]
                for dtype in (np.float32, np.float64):
                    Xd = Xn.astype(dtype)
                    args_ = (Xd, yn, depth, width, batch, dtype)
                    runs = {"satsim": lambda a=args_: deep_satsim(*a),
                            "numpy": lambda a=args_: deep_numpy(*a)}
                    if dtype == np.float32:
                        runs["defaults"] = lambda a=args_: deep_satsim(*a, defaults=True)
                        if have_torch:
                            for k in (1, 2):
                                runs[f"torch-{k}t"] = lambda a=args_, k=k: deep_torch(*a, k)
                    t = round_robin(runs, args.repeats)
                    rows.append((np.dtype(dtype).name, depth, width, batch, n, t))
                    print(f"  {rows[-1][0]} depth {depth} width {width} batch {batch} rows {n}: "
                          + ", ".join(f"{k} {v:.3f} s" for k, v in t.items()), flush=True)

    def ratio(t, k):
        return f"{t['satsim'] / t[k]:9.2f}" if k in t else f"{'-':>9}"

    print(f"\n{'dtype':8}{'depth':>6}{'width':>6}{'batch':>6}{'rows':>6}{'satsim s':>10}"
          f"{'sat/numpy':>10}{'sat/t-1t':>9}{'sat/t-2t':>9}{'defaults/sat':>13}")
    for name, depth, width, batch, n, t in rows:
        dflt = f"{t['defaults'] / t['satsim']:13.2f}" if "defaults" in t else f"{'-':>13}"
        print(f"{name:8}{depth:6d}{width:6d}{batch:6d}{n:6d}{t['satsim']:10.3f}"
              f"{ratio(t, 'numpy'):>10}{ratio(t, 'torch-1t')}{ratio(t, 'torch-2t')}{dflt}")
    checks = []
    for name, depth, width, batch, _n, t in rows:
        cfg = f"{name} d{depth} w{width} b{batch}"
        checks.append((f"satsim / hand-vectorised numpy, {cfg}", t["satsim"] / t["numpy"],
                       "<= 1.3", t["satsim"] / t["numpy"] <= 1.3))
        if "torch-1t" in t:
            v = t["satsim"] / t["torch-1t"]
            checks.append((f"satsim / torch 1 thread, {cfg}", v, "<= 1", v <= 1))
    print("\nSummary")
    for label, value, target, ok in checks:
        print(f"  {label:58}{value:8.2f}  target {target:7} {'PASS' if ok else 'FAIL'}")
    return 0


# ------------------------------------------------------------------ monitoring (issue 19)
MON_ROWS, MON_BATCH = 5000, 64
MON_CONFIGS = [(2, 100, 1), (2, 300, 1), (2, 1000, 1), (2, 100, 3), (2, 300, 3), (2, 1000, 3),
               (30, 100, 1)]


def mon_satsim(X, y, depth, width, epochs, defaults):
    net = deep_network(depth, width, np.float32)
    kw = {} if defaults else {"telemetry": False, "monitor_training": False}
    t = time.perf_counter()
    net.fit(X, y, epochs=epochs, batch_size=MON_BATCH, eta=DEEP_ETA, rng=1, **kw)
    return time.perf_counter() - t


def main_monitoring(args) -> int:
    from threadpoolctl import threadpool_limits

    from satsim.nn._monitor import _auto_sizes

    ds = data.load("fashion-mnist")
    X, y = ds.train
    X, y = X[:MON_ROWS].astype(np.float32), y[:MON_ROWS]
    try:
        import torch

        have_torch = True
    except ImportError:
        have_torch = False
        print("torch not installed: PyTorch comparison skipped (pip install torch==2.13.0)")
    configs = MON_CONFIGS[:1] + MON_CONFIGS[-1:] if args.quick else MON_CONFIGS
    print(f"data: {ds.source}, first {MON_ROWS} rows; tanh 784-H×depth-10, softmax + "
          f"log-likelihood, float32, batch {MON_BATCH}, SGD η={DEEP_ETA}; {args.threads} "
          f"thread(s) for every contender; torch {torch.__version__ if have_torch else '-'}; "
          f"best of {args.repeats}, contenders taking turns")
    rows = []
    with threadpool_limits(args.threads):
        for depth, width, epochs in configs:
            a = (X, y, depth, width, epochs)
            runs = {"unmonitored": lambda a=a: mon_satsim(*a, False),
                    "defaults": lambda a=a: mon_satsim(*a, True)}
            if have_torch:
                runs["torch"] = lambda a=a: deep_torch(X, y, a[2], a[3], MON_BATCH, np.float32,
                                                       args.threads, epochs=a[4])
            t = round_robin(runs, args.repeats)
            m, p = _auto_sizes([784, *[width] * depth, 10], MON_ROWS)
            rows.append((depth, width, epochs, m, p, t))
            print(f"  depth {depth} width {width} epochs {epochs} (monitor {m} rows, probe "
                  f"{p} rows): " + ", ".join(f"{k} {v:.3f} s" for k, v in t.items()), flush=True)
    print(f"\n{'depth':>5}{'width':>6}{'epochs':>7}{'monitor':>8}{'probe':>6}{'unmon s':>9}"
          f"{'dflt s':>8}{'torch s':>8}{'dflt/unmon':>11}{'dflt/torch':>11}{'unmon/torch':>12}")
    checks = []
    for depth, width, epochs, m, p, t in rows:
        ratio = t["defaults"] / t["unmonitored"]
        vs = t["defaults"] / t["torch"] if "torch" in t else None
        un = t["unmonitored"] / t["torch"] if "torch" in t else None
        ts = f"{t['torch']:8.3f}" if "torch" in t else f"{'-':>8}"
        print(f"{depth:5d}{width:6d}{epochs:7d}{m:8d}{p:6d}{t['unmonitored']:9.3f}"
              f"{t['defaults']:8.3f}{ts}{ratio:11.2f}"
              + (f"{vs:11.2f}{un:12.2f}" if vs is not None else f"{'-':>11}{'-':>12}"))
        cfg = f"784-{width}x{depth}-10, {epochs} epoch(s)"
        checks.append((f"defaults / unmonitored, {cfg}", ratio, "<= 1.15", ratio <= 1.15))
        if vs is not None:
            checks.append((f"defaults / torch, {cfg}", vs, "<= 1.0", vs <= 1.0))
    print("\nSummary")
    for label, value, target, ok in checks:
        print(f"  {label:58}{value:8.2f}  target {target:7} {'PASS' if ok else 'FAIL'}")
    return 0


def main_blas_scaling(args) -> int:
    from threadpoolctl import threadpool_limits

    X, y = data.load("fashion-mnist").train
    X, y = X[:MON_ROWS].astype(np.float32), y[:MON_ROWS]
    cores = os.cpu_count() or 1
    print(f"unmonitored fit, 784-H-H-10 tanh, float32, 1 epoch of {MON_ROWS} rows; "
          f"1 vs {cores} BLAS threads, best of {args.repeats}, taking turns")

    def fit_under(threads, width, batch):
        net = deep_network(2, width, np.float32)
        with threadpool_limits(threads):
            t = time.perf_counter()
            net.fit(X, y, epochs=1, batch_size=batch, eta=DEEP_ETA, rng=1,
                    telemetry=False, monitor_training=False)
            return time.perf_counter() - t

    print(f"{'batch':>6}{'H':>6}{'1 thread s':>12}{f'{cores} threads s':>14}{'ratio':>8}")
    for batch in (16, 64, 256):
        for width in (100, 300, 500, 1000, 2000):
            t = round_robin({k: functools.partial(fit_under, k, width, batch)
                             for k in dict.fromkeys((1, cores))}, args.repeats)
            print(f"{batch:6d}{width:6d}{t[1]:12.3f}{t[cores]:14.3f}"
                  f"{t[cores] / t[1]:8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
