"""Tests for satsim.nn.batched (stacked SGD of many networks) and the torch backend
(satsim.nn._torch, ``Network(backend="torch")``).

The contract (DESIGN §7): a network's result does not depend on how it was batched,
on the backend or on the device beyond floating-point rounding.  Each comparison
below trains the same initial weights on the same mini-batch rows of real
Fashion-MNIST along two routes and compares the parameters after hundreds of steps.

Tolerances.  In float64 two routes that compute the same sums in a different order
(a stacked vs a single matmul, BLAS's fused gemm vs NumPy's multiply-then-subtract,
torch's vs NumPy's tanh) differ by a few ulps per operation; over 300 steps of these
small, well-conditioned networks the measured worst difference is ~1e-14 relative to
the largest parameter, so ``rtol=1e-10`` with ``atol=1e-12`` (parameters are O(0.1)
to O(1)) leaves four orders of magnitude for other BLAS builds while any real
discrepancy — a missing factor, a wrong row, a wrong φ' — shows up at 1e-3 or more.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from satsim import data
from satsim.nn import Network
from satsim.nn.batched import StackResult, supported_activations, train_stack

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")


def _cuda() -> bool:
    if not HAS_TORCH:
        return False
    import torch

    return bool(torch.cuda.is_available())


needs_cuda = pytest.mark.skipif(not _cuda(), reason="no CUDA device (CI has none)")

# float64 routes that differ only in rounding (module docstring)
RTOL, ATOL = 1e-10, 1e-12
B, STEPS = 16, 300  # 300 steps of 16 rows: 4800 training rows, one pass


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """One torch thread while these tests run, restored after: the products here are
    small, and on a shared 2-core machine torch's OpenMP threads spin against the other
    processes (a 12-epoch fit measured 10 s with 2 threads, 0.4 s with 1)."""
    if not HAS_TORCH:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def fashion():
    ds = data.load("fashion-mnist")  # the installed IDX files, else the bundled subset
    (X, y), (Xv, yv) = ds.train, ds.validation
    return X[:B * STEPS], y[:B * STEPS], Xv[:500], yv[:500]


def _net(act="tanh", seed=0, sizes=(784, 32, 32, 32, 10), output="softmax",
         cost="log_likelihood", **kw):
    bias = "zeros" if act in ("relu", "leaky_relu") else "standard_normal"
    init = "he_normal" if act in ("relu", "leaky_relu") else "glorot_normal"
    return Network(list(sizes), activation=act, output=output, cost=cost, init=init,
                   bias_init=bias, rng=seed, **kw)


def _batches(S, n, steps=STEPS, batch=B, seed=1):
    """Each network's own rows (a permutation per network, as per-cell generators give)."""
    rngs = np.random.default_rng(seed).spawn(S)
    return np.stack([r.permutation(n)[: steps * batch].reshape(steps, batch) for r in rngs])


def _params(net):
    return [*net.weights, *net.biases]


def _assert_same(a, b, rtol=RTOL, atol=ATOL):
    for P, Q in zip(_params(a), _params(b), strict=True):
        np.testing.assert_allclose(P, Q, rtol=rtol, atol=atol)


def _reference_sgd(net, X, y, rows, eta):
    """The per-network loop: Network's own (unfused) backprop and update per step."""
    Y = net._onehot(y)
    for r in rows:
        gw, gb = net._backprop(X[r], Y[r])
        net._update(gw, gb, len(r), len(X), eta, 0.0, "l2", 0.0, None, None)


# --------------------------------------------------------------------------- equivalence
@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_stack_equals_each_alone_and_network_fit(fashion, act):
    X, y, Xv, yv = fashion
    S = 3
    idx = _batches(S, len(X))
    stack = [_net(act, seed=s) for s in range(S)]
    before = [net.accuracy(Xv, yv) for net in stack]
    res = train_stack(stack, X, y, batches=idx, eta=0.05, checkpoints=[0, 100, STEPS],
                      validation=(Xv, yv))
    assert [r.steps for r in res] == [(0, 100, STEPS)] * S
    # step 0 is the untrained network, measured as Network.accuracy measures it
    assert [r.validation_accuracy[0] for r in res] == before
    for s in range(S):
        alone = _net(act, seed=s)
        (r1,) = train_stack([alone], X, y, batches=idx[s : s + 1], eta=0.05,
                            checkpoints=[0, 100, STEPS], validation=(Xv, yv))
        _assert_same(stack[s], alone)  # bit-identical in practice (same per-slice gemm)
        assert r1.validation_accuracy == res[s].validation_accuracy
        # Network.fit over exactly these rows in this order: its shuffle is
        # rng.permutation(n) after the probe draw rng.choice(n, probe_size) (fit's code)
        rows = idx[s].ravel()
        fit = _net(act, seed=s)
        g = np.random.default_rng(99)
        g.choice(len(rows), size=min(1000, len(rows)), replace=False)
        inverse = np.empty(len(rows), np.intp)
        inverse[g.permutation(len(rows))] = np.arange(len(rows))
        # fit shuffles its X; giving it X[rows][inverse] makes its shuffled order `rows`
        fit.fit(X[rows][inverse], y[rows][inverse], epochs=1, batch_size=B, eta=0.05,
                telemetry=False, monitor_training=False, divergence=None,
                rng=np.random.default_rng(99))
        _assert_same(stack[s], fit)
        # predictions equal to rounding: at most one of 500 rows may sit on a tie
        assert abs(fit.accuracy(Xv, yv) - res[s].final_accuracy) <= 1 / len(yv)
        assert not res[s].diverged and res[s].diverged_at is None


COMBOS = [
    ("tanh", "softmax", "log_likelihood"),
    ("relu", "softmax", "quadratic"),
    ("sigmoid", "sigmoid", "cross_entropy"),
    ("leaky_relu", "sigmoid", "quadratic"),
    ("linear", "softmax", "quadratic"),
    ("relu", "tanh", "quadratic"),
    ("tanh", "relu", "quadratic"),
    ("sigmoid", "leaky_relu", "quadratic"),
    ("relu", "linear", "quadratic"),
]


@pytest.mark.parametrize("act, output, cost", COMBOS)
def test_every_supported_layer_and_cost_matches_the_per_network_loop(fashion, act, output,
                                                                    cost):
    # (linear hidden layers into a tanh output is left out: at this η that network's
    # training is unstable, so a 1-ulp difference between torch's and NumPy's tanh
    # grows ×10⁴ every 10 steps — rounding, but not comparable at any tolerance)
    X, y, _, _ = fashion
    steps, S = 60, 2
    idx = _batches(S, len(X), steps=steps)
    kw = dict(act=act, output=output, cost=cost, sizes=(784, 24, 24, 10))
    stack = [_net(seed=s, **kw) for s in range(S)]
    train_stack(stack, X, y, batches=idx, eta=0.05)
    for s in range(S):
        ref = _net(seed=s, **kw)
        _reference_sgd(ref, X, y, idx[s], 0.05)
        _assert_same(stack[s], ref)
    if HAS_TORCH:
        torched = [_net(seed=s, **kw) for s in range(S)]
        train_stack(torched, X, y, batches=idx, eta=0.05, backend="torch")
        for a, b in zip(stack, torched, strict=True):
            _assert_same(a, b)


@needs_torch
@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_torch_cpu_float64_equals_numpy(fashion, act):
    X, y, Xv, yv = fashion
    S = 3
    idx = _batches(S, len(X))
    a = [_net(act, seed=s) for s in range(S)]
    b = [_net(act, seed=s) for s in range(S)]
    ra = train_stack(a, X, y, batches=idx, eta=0.05, checkpoints=[0, 150, STEPS],
                     validation=(Xv, yv))
    rb = train_stack(b, X, y, batches=idx, eta=0.05, checkpoints=[0, 150, STEPS],
                     validation=(Xv, yv), backend="torch", device="cpu")
    for s in range(S):
        _assert_same(a[s], b[s])
        # accuracies agree to within one row of 500 (a rounding-level tie may flip)
        np.testing.assert_allclose(ra[s].validation_accuracy, rb[s].validation_accuracy,
                                   rtol=0, atol=1 / len(yv))
        assert b[s].weights[0].dtype == np.float64 and b[s].weights[0].flags.c_contiguous


@pytest.mark.parametrize("backend", ["numpy", pytest.param("torch", marks=needs_torch)])
def test_a_diverging_member_does_not_touch_the_others(fashion, backend):
    X, y, Xv, yv = fashion
    S, steps = 3, 50
    idx = _batches(S, len(X), steps=steps)
    cps = [0, 10, steps]
    healthy = [_net("relu", seed=s) for s in range(S)]
    rh = train_stack(healthy, X, y, batches=idx, eta=0.05, checkpoints=cps,
                     validation=(Xv, yv), backend=backend)
    stack = [_net("relu", seed=s) for s in range(S)]
    # member 1's weights ×1e30: z reaches 1e120 in the first step, inf soon after
    stack[1].weights = [W * 1e30 for W in stack[1].weights]
    res = train_stack(stack, X, y, batches=idx, eta=0.05, checkpoints=cps,
                      validation=(Xv, yv), backend=backend)
    assert [r.diverged for r in res] == [False, True, False]
    assert [r.diverged for r in rh] == [False, False, False]
    assert res[1].diverged_at in (10, steps)
    assert not all(np.isfinite(P).all() for P in _params(stack[1]))
    for s in (0, 2):
        # the same stack shape, so the same kernels: nothing of member 1 enters another
        # slice, and the others are equal, not merely close, to the healthy run
        for P, Q in zip(_params(stack[s]), _params(healthy[s]), strict=True):
            np.testing.assert_array_equal(P, Q)
        assert res[s].validation_accuracy == rh[s].validation_accuracy
        assert np.all(np.isfinite(res[s].validation_accuracy))
        alone = _net("relu", seed=s)
        train_stack([alone], X, y, batches=idx[s : s + 1], eta=0.05, backend=backend)
        _assert_same(stack[s], alone)  # and what it would have been alone, to rounding


def test_results_curve_frame_and_no_validation(fashion):
    X, y, _, _ = fashion
    idx = _batches(2, len(X), steps=20)
    res = train_stack([_net(seed=0), _net(seed=1)], X, y, batches=idx, eta=0.05)
    r = res[0]
    assert isinstance(r, StackResult)
    assert r.steps == (0, 20) and np.isnan(r.validation_accuracy).all()
    assert r.curve == [{"step": 0, "validation_accuracy": r.validation_accuracy[0]},
                       {"step": 20, "validation_accuracy": r.validation_accuracy[1]}]
    frame = r.to_frame()
    assert list(frame.columns) == ["step", "validation_accuracy", "diverged"]
    assert "Stacked SGD run" in str(r)
    assert set(supported_activations()) >= {"tanh", "relu", "sigmoid", "linear", "leaky_relu"}


def test_zero_steps_leave_the_networks_as_they_were(fashion):
    X, y, Xv, yv = fashion
    net, ref = _net(seed=4), _net(seed=4)
    (r,) = train_stack([net], X, y, batches=np.zeros((1, 0, B), int), eta=0.1,
                       validation=(Xv, yv))
    assert r.steps == (0,) and r.validation_accuracy == (ref.accuracy(Xv, yv),)
    for P, Q in zip(_params(net), _params(ref), strict=True):
        np.testing.assert_array_equal(P, Q)


def test_trained_networks_work_with_the_study_gradient_code(fashion):
    from studies.trainability import layer_gradients

    X, y, _, _ = fashion
    stack = [_net(seed=s) for s in range(2)]
    train_stack(stack, X, y, batches=_batches(2, len(X), steps=30), eta=0.05)
    frame = layer_gradients(stack[0], X[:200], y[:200])
    assert len(frame) == 4 and np.isfinite(frame.grad_norm).all()
    # and Network.fit carries on from the written-back parameters (its fused path)
    stack[1].fit(X[:160], y[:160], epochs=1, batch_size=B, eta=0.05, telemetry=False,
                 monitor_training=False, rng=0)


def test_float32_networks_train_in_float32(fashion):
    X, y, _, _ = fashion
    idx = _batches(2, len(X), steps=40)
    a = [_net(seed=s, dtype=np.float32) for s in range(2)]
    train_stack(a, X, y, batches=idx, eta=0.05)
    assert all(W.dtype == np.float32 for net in a for W in _params(net))
    b = [_net(seed=s) for s in range(2)]
    train_stack(b, X, y, batches=idx, eta=0.05)
    for n32, n64 in zip(a, b, strict=True):
        # float32 rounding (ε ≈ 6e-8) grown over 40 steps; a real bug is ≥ 1e-2
        _assert_same(n32, n64, rtol=1e-3, atol=1e-4)


# --------------------------------------------------------------------------- bad input
def _bad_cases():
    X = np.zeros((10, 4))
    y = np.zeros(10, int)
    idx = np.zeros((2, 3, 2), int)

    def nets(**kw):
        return [Network([4, 3, 2], activation=kw.get("act", "tanh"), output="softmax",
                        cost="log_likelihood", rng=s) for s in range(2)]

    n = nets()
    odd = [n[0], Network([4, 5, 2], activation="tanh", output="softmax",
                         cost="log_likelihood", rng=1)]
    other_act = [n[0], Network([4, 3, 2], activation="relu", output="softmax",
                               cost="log_likelihood", rng=1)]
    elu = [Network([4, 3, 2], activation="elu", output="softmax", cost="log_likelihood",
                   rng=s) for s in range(2)]
    return [
        ("empty", dict(networks=[]), TypeError, "`networks` must be a non-empty sequence"),
        ("one net", dict(networks=n[0]), TypeError, "`networks` must be a non-empty sequence"),
        ("not a net", dict(networks=[n[0], "x"]), TypeError, r"`networks\[1\]` must be"),
        ("sizes differ", dict(networks=odd), ValueError, r"networks\[1\] has sizes=\[4, 5, 2\]"),
        ("activation differs", dict(networks=other_act), ValueError, r"networks\[1\] has activations"),
        ("same net twice", dict(networks=[n[0], n[0]]), ValueError, "same Network object"),
        ("unsupported act", dict(networks=elu), ValueError, "'elu' is not supported.*'tanh'"),
        ("batches 2-D", dict(batches=np.zeros((3, 2), int)), ValueError, r"`batches` must be an \(S, steps, batch_size\)"),
        ("batches S", dict(batches=np.zeros((3, 3, 2), int)), ValueError, r"one entry per network \(2\)"),
        ("batches float", dict(batches=np.zeros((2, 3, 2))), TypeError, "integer row indices"),
        ("batches range", dict(batches=idx + 10), ValueError, r"row indices in \[0, 9\]"),
        ("batches negative", dict(batches=idx - 1), ValueError, r"row indices in \[0, 9\]"),
        ("batches empty rows", dict(batches=np.zeros((2, 3, 0), int)), ValueError, "batch_size >= 1"),
        ("batches ragged", dict(batches=[np.zeros((3, 2), int), np.zeros((2, 2), int)]), ValueError, "all the same shape"),
        ("eta zero", dict(eta=0.0), ValueError, "`eta`"),
        ("checkpoints order", dict(checkpoints=[2, 1]), ValueError, r"increasing steps in \[0, 3\]"),
        ("checkpoints range", dict(checkpoints=[0, 4]), ValueError, r"increasing steps in \[0, 3\]"),
        ("checkpoints float", dict(checkpoints=[0, 1.5]), ValueError, "integer steps"),
        ("checkpoints str", dict(checkpoints="0,3"), TypeError, "`checkpoints` must be a sequence"),
        ("validation", dict(validation=X), TypeError, "`validation` must be a pair"),
        ("validation shape", dict(validation=(X[:, :3], y)), ValueError, r"`validation X` must have shape"),
        ("X shape", dict(X=np.zeros((10, 5))), ValueError, r"`X` must have shape \(n, 4\)"),
        ("labels", dict(y=np.full(10, 7)), ValueError, r"`y` must lie in \[0, 1\]"),
        ("backend", dict(backend="jax"), ValueError, "`backend` must be one of 'numpy', 'torch'"),
        ("numpy device", dict(device="cuda"), ValueError, "`device` needs backend='torch'"),
        ("numpy graph", dict(cuda_graph=True), ValueError, "`cuda_graph=True` needs"),
        ("graph type", dict(cuda_graph="yes"), TypeError, "`cuda_graph` must be None, True or False"),
        ("dtype", dict(dtype=np.int32), ValueError, "`dtype` must be None, float32 or float64"),
    ], dict(networks=n, X=X, y=y, batches=idx, eta=0.1)


CASES, BASE = _bad_cases()


@pytest.mark.parametrize("case, kwargs, exc, match", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case, kwargs, exc, match):
    call = {**BASE, **kwargs}
    with pytest.raises(exc, match=match):
        train_stack(call.pop("networks"), call.pop("X"), call.pop("y"), **call)


@needs_torch
@pytest.mark.parametrize("kwargs, match", [
    (dict(device="cuda"), "CUDA is not available"),
    (dict(device="nonsense"), "`device` must be a torch device"),
    (dict(device="cpu", cuda_graph=True), "`cuda_graph=True` needs a CUDA device"),
])
def test_bad_torch_input(kwargs, match):
    if kwargs.get("device") == "cuda" and _cuda():
        pytest.skip("this machine has CUDA")
    call = dict(BASE)
    with pytest.raises(ValueError, match=match) as info:
        train_stack(call.pop("networks"), call.pop("X"), call.pop("y"), backend="torch",
                    **call, **kwargs)
    assert "\n" not in str(info.value)  # one line (the CLI prints it as is)


def test_importing_satsim_does_not_import_torch():
    code = ("import sys, satsim, satsim.nn, satsim.nn.batched, satsim.nn.network;"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- Network backend
FIT = dict(epochs=3, batch_size=25, eta=0.1, lmbda=2.0, monitor_size=300, probe_size=200)


@needs_torch
@pytest.mark.parametrize("act, output, cost, reg", [
    ("tanh", "softmax", "log_likelihood", "l2"),
    ("relu", "softmax", "log_likelihood", "l1"),
    ("sigmoid", "sigmoid", "cross_entropy", "l2"),
])
def test_torch_backend_fit_equals_numpy_fit(fashion, act, output, cost, reg):
    X, y, Xv, yv = fashion
    X, y = X[:1010], y[:1010]  # 1010 = 40 × 25 + 10: the last mini-batch is short
    kw = dict(act=act, output=output, cost=cost, sizes=(784, 30, 30, 10))
    a = _net(seed=5, **kw)
    b = _net(seed=5, backend="torch", device="cpu", **kw)
    assert b.backend == "torch" and b.device == "cpu" and "backend='torch'" in repr(b)
    ha = a.fit(X, y, validation=(Xv, yv), regularization=reg, rng=3, **FIT)
    hb = b.fit(X, y, validation=(Xv, yv), regularization=reg, rng=3, **FIT)
    _assert_same(a, b)
    ea, eb = ha.epochs_frame().drop(columns="wall_time"), hb.epochs_frame().drop(
        columns="wall_time")
    assert list(ea.columns) == list(eb.columns) and len(ea) == FIT["epochs"] + 1
    # History numbers are functions of the parameters: equal to the same rounding
    np.testing.assert_allclose(eb.to_numpy(float), ea.to_numpy(float), rtol=RTOL, atol=ATOL)
    la, lb = ha.to_frame().drop(columns="wall_time"), hb.to_frame().drop(columns="wall_time")
    num = la.select_dtypes("number").columns
    np.testing.assert_allclose(lb[num].to_numpy(float), la[num].to_numpy(float),
                               rtol=1e-8, atol=1e-10)  # percentiles and CIs of the same z
    assert all(W.dtype == np.float64 and isinstance(W, np.ndarray) for W in _params(b))


@needs_torch
def test_torch_backend_keeps_schedules_and_divergence(fashion):
    X, y, Xv, yv = fashion
    net = _net(seed=2, backend="torch", sizes=(784, 20, 10))
    h = net.fit(X[:500], y[:500], epochs=12, batch_size=20, eta=0.05, validation=(Xv, yv),
                schedule=1, telemetry=False, rng=1)
    ref = _net(seed=2, sizes=(784, 20, 10))
    g = ref.fit(X[:500], y[:500], epochs=12, batch_size=20, eta=0.05, validation=(Xv, yv),
                schedule=1, telemetry=False, rng=1)
    assert list(h.epochs_frame().eta) == list(g.epochs_frame().eta)
    assert h.stopped_early == g.stopped_early and h.stop_reason == g.stop_reason
    from satsim._warnings import TrainingDivergenceWarning

    big = _net(seed=2, backend="torch", sizes=(784, 20, 10))
    with pytest.warns(TrainingDivergenceWarning):
        hist = big.fit(X[:500], y[:500], epochs=3, batch_size=20, eta=1e4, rng=1,
                       telemetry=False)
    assert hist.stopped_early


@needs_torch
@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(momentum=0.9), ValueError, "`momentum` is not supported with backend='torch'"),
    (dict(dropout=0.5), ValueError, "`dropout` is not supported with backend='torch'"),
])
def test_torch_backend_refuses_what_it_does_not_implement(kwargs, exc, match):
    net = _net(backend="torch", sizes=(4, 3, 2))
    with pytest.raises(exc, match=match):
        net.fit(np.zeros((4, 4)), np.zeros(4, int), epochs=1, batch_size=2, eta=0.1, **kwargs)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(backend="jax"), ValueError, "`backend` must be one of 'numpy', 'torch'"),
    (dict(device="cuda"), ValueError, "`device` needs backend='torch'"),
    pytest.param(dict(backend="torch", activation="elu"), ValueError,
                 "'elu' is not supported.*supported: 'tanh'", marks=needs_torch),
    pytest.param(dict(backend="torch", device="bogus"), ValueError,
                 "`device` must be a torch device", marks=needs_torch),
])
def test_bad_backend_construction(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Network([4, 3, 2], **kwargs)


@needs_torch
@pytest.mark.skipif(_cuda(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_one_line():
    with pytest.raises(ValueError, match="CUDA is not available") as info:
        Network([4, 3, 2], backend="torch", device="cuda")
    assert "\n" not in str(info.value)


@needs_torch
def test_torch_network_save_load_roundtrip(fashion, tmp_path):
    X, y, Xv, _ = fashion
    net = _net(seed=1, backend="torch", sizes=(784, 20, 20, 10))
    net.fit(X[:300], y[:300], epochs=1, batch_size=20, eta=0.1, telemetry=False, rng=0)
    net.save(tmp_path / "net.npz")
    plain = Network.load(tmp_path / "net.npz")
    back = Network.load(tmp_path / "net.npz", backend="torch", device="cpu")
    assert plain.backend == "numpy" and back.backend == "torch"
    for other in (plain, back):
        for P, Q in zip(_params(net), _params(other), strict=True):
            np.testing.assert_array_equal(P, Q)
        np.testing.assert_array_equal(other.predict(Xv), net.predict(Xv))
    # and the loaded one trains on, exactly as the original does
    for m in (net, back):
        m.fit(X[:300], y[:300], epochs=1, batch_size=20, eta=0.1, telemetry=False, rng=1)
    _assert_same(net, back, rtol=0, atol=0)


# --------------------------------------------------------------------------- CUDA (GPU runs)
@needs_cuda
@pytest.mark.parametrize("graph", [False, True])
def test_cuda_float64_equals_numpy(fashion, graph):
    X, y, _, _ = fashion
    S = 3
    idx = _batches(S, len(X))
    a = [_net("tanh", seed=s) for s in range(S)]
    b = [_net("tanh", seed=s) for s in range(S)]
    train_stack(a, X, y, batches=idx, eta=0.05)
    train_stack(b, X, y, batches=idx, eta=0.05, backend="torch", device="cuda",
                dtype=np.float64, cuda_graph=graph)
    for s in range(S):
        _assert_same(a[s], b[s])


@needs_cuda
def test_cuda_graph_replay_equals_eager_and_float32_default(fashion):
    X, y, Xv, yv = fashion
    S = 4
    idx = _batches(S, len(X))
    eager = [_net("relu", seed=s) for s in range(S)]
    graph = [_net("relu", seed=s) for s in range(S)]
    cps = [0, 100, 200, STEPS]
    re = train_stack(eager, X, y, batches=idx, eta=0.05, checkpoints=cps,
                     validation=(Xv, yv), backend="torch", device="cuda", cuda_graph=False)
    rg = train_stack(graph, X, y, batches=idx, eta=0.05, checkpoints=cps,
                     validation=(Xv, yv), backend="torch", device="cuda")
    # the replayed graph runs the eager step's kernels on the same data; cuBLAS may
    # still pick another algorithm under capture, so float32 rounding (ε ≈ 6e-8) grown
    # over 300 steps is allowed — a wrong replay (stale indices, a skipped update)
    # differs at 1e-2
    for a, b in zip(eager, graph, strict=True):
        _assert_same(a, b, rtol=1e-4, atol=1e-5)
    for r1, r2 in zip(re, rg, strict=True):
        np.testing.assert_allclose(r1.validation_accuracy, r2.validation_accuracy,
                                   atol=2 / len(yv))
    ref = [_net("relu", seed=s) for s in range(S)]
    rn = train_stack(ref, X, y, batches=idx, eta=0.05, checkpoints=cps, validation=(Xv, yv))
    for a, b in zip(ref, graph, strict=True):
        # float32 on CUDA (the default there) vs NumPy float64: ε₃₂ grown over 300
        # steps; the accuracies agree to a few rows
        _assert_same(a, b, rtol=1e-2, atol=1e-3)
    for r1, r2 in zip(rn, rg, strict=True):
        np.testing.assert_allclose(r1.validation_accuracy, r2.validation_accuracy, atol=0.02)


@needs_cuda
def test_cuda_network_fit_equals_numpy(fashion):
    X, y, Xv, yv = fashion
    a = _net(seed=5, sizes=(784, 30, 30, 10))
    b = _net(seed=5, sizes=(784, 30, 30, 10), backend="torch", device="cuda")
    ha = a.fit(X[:1010], y[:1010], validation=(Xv, yv), rng=3, **FIT)
    hb = b.fit(X[:1010], y[:1010], validation=(Xv, yv), rng=3, **FIT)
    _assert_same(a, b)
    np.testing.assert_allclose(hb.epochs_frame().validation_cost,
                               ha.epochs_frame().validation_cost, rtol=RTOL)


def test_stack_equivalence_is_independent_of_the_grouping(fashion):
    """Any split of the same networks into stacks gives the same numbers."""
    X, y, _, _ = fashion
    S, steps = 4, 40
    idx = _batches(S, len(X), steps=steps)
    whole = [_net(seed=s) for s in range(S)]
    train_stack(whole, X, y, batches=idx, eta=0.05)
    for split in ([0, 1], [2, 3]), ([0], [1, 2, 3]), ([3, 1], [0, 2]):
        for group in split:
            nets = [_net(seed=s) for s in group]
            train_stack(nets, X, y, batches=idx[group], eta=0.05)
            for s, net in zip(group, nets, strict=True):
                _assert_same(whole[s], net)
